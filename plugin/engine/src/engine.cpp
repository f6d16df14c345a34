#include "latentplay/engine.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "latentplay/errors.hpp"
#include "latentplay/resampler.hpp"

namespace latentplay {

namespace {
constexpr int kWarmUpDecodes = 3;

double median_neighbour_distance(const std::vector<Sample>& samples) {
  if (samples.size() < 2) return 0.0;
  std::vector<double> nearest(samples.size(), std::numeric_limits<double>::infinity());
  for (size_t i = 0; i < samples.size(); ++i)
    for (size_t j = i + 1; j < samples.size(); ++j) {
      const double distance = (samples[i].latent - samples[j].latent).norm();
      nearest[i] = std::min(nearest[i], distance);
      nearest[j] = std::min(nearest[j], distance);
    }
  std::sort(nearest.begin(), nearest.end());
  const size_t middle = nearest.size() / 2;
  return nearest.size() % 2 == 1 ? nearest[middle] : 0.5 * (nearest[middle - 1] + nearest[middle]);
}

// A unit vector in `dimensions`, uniformly distributed over directions, from `seed`: Gaussian
// coordinates by Box-Muller over mt19937_64's raw output (std::normal_distribution differs
// between standard libraries; this does not).
Eigen::VectorXd random_direction(int dimensions, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  auto uniform = [&] { return (static_cast<double>(generator() >> 11) + 0.5) * 0x1.0p-53; };  // (0, 1)
  Eigen::VectorXd direction(dimensions);
  for (int i = 0; i < dimensions; ++i)
    direction[i] = std::sqrt(-2.0 * std::log(uniform())) * std::cos(2.0 * M_PI * uniform());
  return direction / direction.norm();
}

}  // namespace

Engine::Engine(const std::string& bundle_folder)
    : bundle_(load_bundle(bundle_folder)),
      projector_(bundle_.control_matrix(), bundle_.intercepts(), bundle_.spans()),
      model_(std::make_unique<TorchModel>(bundle_.decoder_path, bundle_.encoder_path, bundle_.latent_dim,
                                          bundle_.length)),
      originals_(read_originals(bundle_)),
      neighbour_distance_(median_neighbour_distance(bundle_.samples)),
      sample_starts_(bundle_.samples.size()) {
  // A decoder that loads but cannot decode is a broken bundle: find out now. And warm up: the
  // TorchScript executor profiles its first runs and builds an optimised plan after them (cold
  // runs took 0.17-0.36 s on this project's CPU, warm ones 2-6 ms); with one warm-up run only,
  // the first note after a bundle load waited that long.
  try {
    for (int run = 0; run < kWarmUpDecodes; ++run) decode(bundle_.samples.front().latent);
  } catch (const UsageError& error) {
    throw BundleError(bundle_.decoder_path + ": " + error.what());
  }
}

void Engine::check_latent(const Eigen::VectorXd& latent) const {
  if (latent.size() != bundle_.latent_dim)
    throw UsageError("latent has " + std::to_string(latent.size()) + " values, the bundle's latent_dim is " +
                     std::to_string(bundle_.latent_dim));
  if (!latent.allFinite()) throw UsageError("latent contains a non-finite value");
}

const Eigen::VectorXd& Engine::sample_latent(int sample_index) const {
  if (sample_index < 0 || sample_index >= static_cast<int>(bundle_.samples.size()))
    throw UsageError("sample index " + std::to_string(sample_index) + " out of range (the bundle has " +
                     std::to_string(bundle_.samples.size()) + " samples)");
  return bundle_.samples[sample_index].latent;
}

Eigen::VectorXd Engine::own_controls(const Eigen::VectorXd& latent) const {
  check_latent(latent);
  return projector_.values(latent);
}

Eigen::VectorXd Engine::own_positions(const Eigen::VectorXd& latent) const {
  Eigen::VectorXd positions = own_controls(latent);
  for (int k = 0; k < kNumControls; ++k)
    positions[k] = std::clamp(bundle_.controls[k].positionOf(positions[k]), 0.0, 1.0);
  return positions;
}

Eigen::VectorXd Engine::move(const Eigen::VectorXd& latent, const ControlTargets& targets) const {
  Eigen::VectorXd wanted = own_controls(latent);
  for (int k = 0; k < kNumControls; ++k) {
    if (!targets[k]) continue;
    if (!std::isfinite(*targets[k])) throw UsageError(std::string(kControlNames[k]) + ": target is not finite");
    wanted[k] = *targets[k];
  }
  return projector_.project(latent, wanted);
}

std::vector<float> Engine::decode(const Eigen::VectorXd& latent) const {
  check_latent(latent);
  const std::vector<float> input(latent.data(), latent.data() + latent.size());  // double -> float32
  std::lock_guard<std::mutex> lock(inference_mutex_);
  return model_->decode(input);
}

std::vector<std::vector<float>> Engine::decode_batch(const std::vector<Eigen::VectorXd>& latents) const {
  const size_t dim = static_cast<size_t>(bundle_.latent_dim);
  std::vector<float> input;
  input.reserve(latents.size() * dim);
  for (const Eigen::VectorXd& latent : latents) {
    check_latent(latent);
    for (Eigen::Index i = 0; i < latent.size(); ++i) input.push_back(static_cast<float>(latent[i]));  // -> float32
  }
  std::vector<float> output;
  {
    std::lock_guard<std::mutex> lock(inference_mutex_);
    output = model_->decode_batch(input, static_cast<int>(latents.size()));
  }
  const auto length = static_cast<std::ptrdiff_t>(bundle_.length);
  std::vector<std::vector<float>> audio(latents.size());
  for (size_t i = 0; i < latents.size(); ++i)
    audio[i].assign(output.begin() + static_cast<std::ptrdiff_t>(i) * length,
                    output.begin() + static_cast<std::ptrdiff_t>(i + 1) * length);
  return audio;
}

Eigen::VectorXd Engine::encode(const std::vector<float>& audio) const {
  std::vector<float> latent;
  {
    std::lock_guard<std::mutex> lock(inference_mutex_);
    latent = model_->encode(audio);
  }
  return Eigen::Map<const Eigen::VectorXf>(latent.data(), latent.size()).cast<double>();
}

namespace {

void add_residual(std::vector<float>& audio, const std::vector<float>& residual, double detail) {
  if (!std::isfinite(detail)) throw UsageError("detail is not finite");
  if (detail == 0.0) return;
  for (size_t i = 0; i < audio.size() && i < residual.size(); ++i) audio[i] += static_cast<float>(detail) * residual[i];
}

}  // namespace

AudioStart Engine::start_from_audio(const RawAudio& audio) const {
  AudioStart start;
  start.original = prepare_one_shot(audio, bundle_);
  start.latent = encode(start.original);
  if (!start.latent.allFinite()) throw UnusableAudio("the encoder produced a non-finite latent point");
  const std::vector<float> reconstruction = decode(start.latent);
  start.residual = start.original;
  for (size_t i = 0; i < start.residual.size(); ++i) start.residual[i] -= reconstruction[i];
  return start;
}

AudioStart Engine::start_from_latent(const Eigen::VectorXd& latent) const {
  AudioStart start;
  start.latent = latent;
  start.original = decode(latent);  // checks the latent's size and values
  start.residual.assign(start.original.size(), 0.0f);
  return start;
}

Eigen::VectorXd Engine::vary(const Eigen::VectorXd& latent, const Variation& variation) const {
  if (!std::isfinite(variation.amount) || variation.amount < 0) throw UsageError("variation must be a finite amount >= 0");
  if (variation.amount == 0.0) return latent;
  return latent + variation.amount * neighbour_distance_ * random_direction(static_cast<int>(latent.size()), variation.seed);
}

std::vector<float> Engine::regenerate(const AudioStart& start, const ControlTargets& targets, double output_rate,
                                      double detail, const Variation& variation) const {
  std::vector<float> audio = decode(vary(move(start.latent, targets), variation));
  add_residual(audio, start.residual, detail);
  return to_rate(std::move(audio), output_rate);
}

std::vector<std::vector<float>> Engine::regenerate_batch(const AudioStart& start,
                                                         const std::vector<ControlTargets>& targets,
                                                         double output_rate, double detail,
                                                         const std::vector<Variation>& variations) const {
  const size_t count = std::max(targets.size(), variations.size());
  auto fits = [count](size_t size) { return size == count || size == 1; };
  if (targets.empty() || !fits(targets.size()) || (!variations.empty() && !fits(variations.size())))
    throw UsageError("regenerate_batch: " + std::to_string(targets.size()) + " target sets and " +
                     std::to_string(variations.size()) + " variations (expected N and N, or 1 of either, or no variations)");
  if (!std::isfinite(detail)) throw UsageError("detail is not finite");
  std::vector<Eigen::VectorXd> latents;
  latents.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const ControlTargets& wanted = targets[targets.size() == 1 ? 0 : i];
    const Variation variation = variations.empty() ? Variation{} : variations[variations.size() == 1 ? 0 : i];
    latents.push_back(vary(move(start.latent, wanted), variation));
  }
  std::vector<std::vector<float>> audio = decode_batch(latents);
  for (std::vector<float>& one_shot : audio) {
    add_residual(one_shot, start.residual, detail);
    one_shot = to_rate(std::move(one_shot), output_rate);
  }
  return audio;
}

std::vector<float> Engine::dry(const AudioStart& start, double output_rate) const {
  return to_rate(start.original, output_rate);
}

std::vector<float> Engine::regenerate(const Eigen::VectorXd& latent, const ControlTargets& targets,
                                      double output_rate) const {
  return to_rate(decode(move(latent, targets)), output_rate);
}

const AudioStart& Engine::sample_start(int sample_index) const {
  const Eigen::VectorXd& latent = sample_latent(sample_index);  // checks the index
  std::lock_guard<std::mutex> lock(sample_starts_mutex_);
  auto& cached = sample_starts_[static_cast<size_t>(sample_index)];
  if (cached == nullptr) {
    AudioStart start = start_from_latent(latent);  // original = D(z), no residual
    if (has_originals()) {
      const std::vector<float> reconstruction = std::move(start.original);
      start.original = original(sample_index);
      for (size_t i = 0; i < start.residual.size(); ++i) start.residual[i] = start.original[i] - reconstruction[i];
    }
    cached = std::make_unique<const AudioStart>(std::move(start));
  }
  return *cached;
}

std::vector<float> Engine::regenerate(int sample_index, const ControlTargets& targets, double output_rate,
                                      double detail) const {
  return regenerate(sample_start(sample_index), targets, output_rate, detail);
}

std::vector<float> Engine::dry(int sample_index, double output_rate) const {
  return dry(sample_start(sample_index), output_rate);
}

std::vector<float> Engine::original(int sample_index) const {
  sample_latent(sample_index);  // checks the index
  if (!has_originals()) return {};
  const auto start = originals_.begin() + static_cast<std::ptrdiff_t>(sample_index) * bundle_.length;
  return std::vector<float>(start, start + bundle_.length);
}

std::vector<float> Engine::to_rate(std::vector<float> audio, double output_rate) const {
  if (output_rate == 0 || output_rate == bundle_.sample_rate) return audio;
  return resample(audio, bundle_.sample_rate, output_rate);
}

}  // namespace latentplay
