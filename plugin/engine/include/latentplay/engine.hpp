// The engine facade: one loaded bundle, its projector and its model. Used by the JUCE plugin and,
// through pybind11, by Python (latentplay._engine), so tests run the code that ships.
//
// Threads: metadata (bundle()) is immutable and may be read from any thread at any time.
// regenerate()/decode()/encode() run inference: call them from one worker thread (they
// serialise on an internal mutex), never from the audio thread.
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "latentplay/bundle.hpp"
#include "latentplay/model.hpp"
#include "latentplay/projector.hpp"

namespace latentplay {

// One optional target per control, in kControlNames order; empty = keep the start's own value.
using ControlTargets = std::array<std::optional<double>, kNumControls>;

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
  Eigen::VectorXd encode(const std::vector<float>& audio) const;

  // project + decode + resample to `output_rate` (0 = the model rate).
  std::vector<float> regenerate(int sample_index, const ControlTargets& targets, double output_rate) const;
  std::vector<float> regenerate(const Eigen::VectorXd& latent, const ControlTargets& targets,
                                double output_rate) const;

  const Eigen::VectorXd& sample_latent(int sample_index) const;

 private:
  void check_latent(const Eigen::VectorXd& latent) const;

  Bundle bundle_;
  Projector projector_;
  std::unique_ptr<TorchModel> model_;
  mutable std::mutex inference_mutex_;
};

}  // namespace latentplay
