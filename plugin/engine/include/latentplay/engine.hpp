// The engine facade: one loaded bundle, its projector and its model. Used by the JUCE plugin and,
// through pybind11, by Python (latentplay._engine), so tests run the code that ships.
//
// Threads: metadata (bundle()) is immutable and may be read from any thread at any time.
// regenerate()/decode()/encode() run inference: call them from one worker thread (they
// serialise on an internal mutex), never from the audio thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "latentplay/bundle.hpp"
#include "latentplay/model.hpp"
#include "latentplay/prep.hpp"
#include "latentplay/projector.hpp"

namespace latentplay {

// One optional target per control, in kControlNames order; empty = keep the start's own value.
using ControlTargets = std::array<std::optional<double>, kNumControls>;

// Per-note variation: a point near the one the controls ask for, `amount` times the typical
// distance between neighbouring training samples away, in a direction drawn from `seed` (the
// same seed gives the same point on every platform). amount 0 = no variation.
struct Variation {
  double amount = 0.0;
  std::uint64_t seed = 0;
};

// A starting point from any audio (a WAV dropped on the plugin): the prepared one-shot is its
// "original" for Mix and Detail, as a bundle sample's is.
struct AudioStart {
  Eigen::VectorXd latent;          // the encoder's output for `original`
  std::vector<float> original;     // prepared (model rate, model length)
  std::vector<float> residual;     // original − D(latent)
};

class Engine {
 public:
  // Loads and checks the bundle, loads the model and runs one warm-up decode so that the first
  // note is not slow. Throws BundleError.
  explicit Engine(const std::string& bundle_folder);

  const Bundle& bundle() const { return bundle_; }
  const Projector& projector() const { return projector_; }

  // The start's own control values (where z' = z).
  Eigen::VectorXd own_controls(const Eigen::VectorXd& latent) const;
  // The same as positions 0..1 in each control's range (clamped): what the plugin's parameters
  // hold when a sample is selected.
  Eigen::VectorXd own_positions(const Eigen::VectorXd& latent) const;
  // z' for the given targets (others at their own values).
  Eigen::VectorXd move(const Eigen::VectorXd& latent, const ControlTargets& targets) const;

  std::vector<float> decode(const Eigen::VectorXd& latent) const;
  // Several latent points in ONE decoder call (batch = latents.size()); item i equals
  // decode(latents[i]) within float rounding.
  std::vector<std::vector<float>> decode_batch(const std::vector<Eigen::VectorXd>& latents) const;
  Eigen::VectorXd encode(const std::vector<float>& audio) const;

  // project + decode + resample to `output_rate` (0 = the model rate). With `detail` (0..1) the
  // start's own residual is added before resampling: D(z') + detail · (x − D(z)), x its original
  // one-shot; at the start's own values with detail 1 that is x itself.
  std::vector<float> regenerate(const AudioStart& start, const ControlTargets& targets, double output_rate,
                                double detail, const Variation& variation = {}) const;
  // regenerate() for several target sets and variations from one start, all decoded in ONE
  // decoder call: item i is regenerate(start, targets[i], output_rate, detail, variations[i])
  // (within float rounding). `targets` and `variations` have the same size N, or one of them
  // has size 1 and is shared by all N items; `variations` empty = no variation. The plugin's
  // worker uses it for the keys of a key-tracked sample and for its ring of variations.
  std::vector<std::vector<float>> regenerate_batch(const AudioStart& start, const std::vector<ControlTargets>& targets,
                                                   double output_rate, double detail,
                                                   const std::vector<Variation>& variations = {}) const;
  // z moved by a variation (above); z itself for amount 0.
  Eigen::VectorXd vary(const Eigen::VectorXd& latent, const Variation& variation) const;
  // The median over the bundle's samples of the distance to the nearest other sample's latent
  // point: what Variation 1 moves (0 for a one-sample bundle).
  double neighbour_distance() const { return neighbour_distance_; }
  // The dry side of Mix: the start's original (prepared audio) at `output_rate` (0 = the model rate).
  std::vector<float> dry(const AudioStart& start, double output_rate) const;

  // A bundle sample as a starting point, made on first use and kept: its original is the stored
  // one-shot when the bundle holds audio, else its reconstruction D(z) (Detail then adds nothing).
  const AudioStart& sample_start(int sample_index) const;
  // The same two operations from a sample (its sample_start).
  std::vector<float> regenerate(int sample_index, const ControlTargets& targets, double output_rate,
                                double detail = 0.0) const;
  std::vector<float> dry(int sample_index, double output_rate) const;
  // From a bare latent point (no original, no residual).
  std::vector<float> regenerate(const Eigen::VectorXd& latent, const ControlTargets& targets,
                                double output_rate) const;

  // Any audio as a starting point: prepared as the bundle says (prep.hpp), encoded, its
  // reconstruction decoded. Throws UnusableAudio (with the reason) for audio that cannot be one.
  AudioStart start_from_audio(const RawAudio& audio) const;
  // A starting point from a stored latent point whose audio is gone: its "original" is its own
  // reconstruction (Mix blends the model with itself; Detail adds nothing).
  AudioStart start_from_latent(const Eigen::VectorXd& latent) const;
  bool has_originals() const { return !originals_.empty(); }
  // The original one-shot as prepared (model rate); empty without originals.
  std::vector<float> original(int sample_index) const;

  const Eigen::VectorXd& sample_latent(int sample_index) const;

 private:
  void check_latent(const Eigen::VectorXd& latent) const;
  std::vector<float> to_rate(std::vector<float> audio, double output_rate) const;

  Bundle bundle_;
  Projector projector_;
  std::unique_ptr<TorchModel> model_;
  mutable std::mutex inference_mutex_;
  std::vector<float> originals_;  // samples × length, or empty
  double neighbour_distance_ = 0.0;
  mutable std::mutex sample_starts_mutex_;
  mutable std::vector<std::unique_ptr<const AudioStart>> sample_starts_;  // per sample, made on first use
};

}  // namespace latentplay
