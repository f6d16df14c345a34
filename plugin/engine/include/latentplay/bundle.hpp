// The model bundle as the engine reads it: docs/bundle.md is the spec, and the Python reader
// (python/latentplay/bundle.py) applies the same rules. A Bundle is immutable once loaded, so any
// thread may read it while another decodes.
#pragma once

#include <Eigen/Dense>
#include <array>
#include <string>
#include <vector>

#include "latentplay/contract.hpp"  // generated from the contract: controls, versions

namespace latentplay {

struct Control {
  std::string name, label, unit, kind;
  double minimum = 0, maximum = 0;
  Eigen::VectorXd weights;  // value = weights · z + intercept
  double intercept = 0;
  double span() const { return maximum - minimum; }
  // The plugin's parameters, its presets and render automation hold positions 0..1 in the
  // control's range; the projector takes values in the control's units.
  double valueAt(double position) const { return minimum + position * span(); }
  double positionOf(double value) const { return (value - minimum) / span(); }
};

struct Sample {
  std::string path, pack, subpack;
  Eigen::VectorXd latent;
  double frequency = 0, attack = 0, release = 0;  // measured features (Hz, ms, ms)
};

// How any audio becomes the encoder's input (the sidecar's "prep"; latentplay.audio).
struct Prep {
  double silence_threshold_dbfs = 0;  // audio whose peak is below this is refused as silent
  double onset_threshold_db = 0;      // the one-shot starts at the first sample this far below the peak (dB)
  double fade_out = 0;                // fraction of the length faded out linearly at the end
};

struct Bundle {
  std::string folder;
  int stored_schema_version = 0;  // the file's own; the reader upgraded it to kSchemaVersion
  std::string model_id;  // sha256 of decoder.ts
  std::string decoder_path, encoder_path;
  std::string originals_path;  // "" when the bundle holds no audio (exported with --no-audio)
  int sample_rate = 0;
  int length = 0;
  int latent_dim = 0;
  Prep prep;
  std::array<Control, kNumControls> controls;
  Eigen::VectorXd pca_mean;
  std::vector<std::string> packs;
  std::vector<Sample> samples;

  // (A, c, spans) in control order.
  Eigen::MatrixXd control_matrix() const;
  Eigen::VectorXd intercepts() const;
  Eigen::VectorXd spans() const;
  // Index of a sample by relative path, file stem or decimal index; -1 when none matches.
  int find_sample(const std::string& name) const;
};

// Reads and checks NAME.latentplay/: sidecar JSON, upgraded from an older schema version, checked
// against the contract (schema and cross-field rules, plugin/engine/src/schema.cpp), files and
// their sha256. Throws BundleError("<file>: <field>: <problem>").
Bundle load_bundle(const std::string& folder);

// Every training one-shot as prepared (samples × length, model rate), or empty when the bundle
// holds no audio. Throws BundleError when the file cannot be read.
std::vector<float> read_originals(const Bundle& bundle);

// Lower-case hex sha256 of a file's bytes. Throws BundleError when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace latentplay
