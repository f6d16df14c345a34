// See prep.hpp. Step for step python/latentplay/audio.py: prepare_one_shot and check_usable.
#include "latentplay/prep.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "latentplay/resampler.hpp"

namespace latentplay {

namespace {

std::vector<double> mono_mix(const RawAudio& audio) {
  const size_t channels = static_cast<size_t>(std::max(1, audio.channels));
  std::vector<double> mono(audio.interleaved.size() / channels, 0.0);
  for (size_t frame = 0; frame < mono.size(); ++frame) {
    double sum = 0.0;
    for (size_t channel = 0; channel < channels; ++channel) sum += audio.interleaved[frame * channels + channel];
    mono[frame] = sum / static_cast<double>(channels);
  }
  return mono;
}

double peak_of(const std::vector<double>& audio, size_t from = 0) {
  double peak = 0.0;
  for (size_t i = from; i < audio.size(); ++i) peak = std::max(peak, std::abs(audio[i]));
  return peak;
}

void check_usable(const std::vector<double>& mono, double silence_threshold_dbfs) {
  if (mono.empty()) throw UnusableAudio("empty (0 samples)");
  for (const double value : mono)
    if (!std::isfinite(value)) throw UnusableAudio("contains NaN or infinite samples");
  if (peak_of(mono) < std::pow(10.0, silence_threshold_dbfs / 20.0)) {
    char text[64];
    std::snprintf(text, sizeof text, "silent (peak below %.0f dBFS)", silence_threshold_dbfs);
    throw UnusableAudio(text);
  }
}

size_t onset_index(const std::vector<double>& audio, double threshold_db) {
  const double threshold = peak_of(audio) * std::pow(10.0, threshold_db / 20.0);
  for (size_t i = 0; i < audio.size(); ++i)
    if (std::abs(audio[i]) >= threshold) return i;
  return 0;
}

}  // namespace

std::vector<float> prepare_one_shot(const RawAudio& audio, const Bundle& bundle) {
  if (!(audio.sample_rate > 0)) throw UnusableAudio("no sample rate");
  const std::vector<double> mono = mono_mix(audio);
  check_usable(mono, bundle.prep.silence_threshold_dbfs);
  const std::vector<double> at_model_rate = resample(mono, audio.sample_rate, bundle.sample_rate);
  const size_t onset = onset_index(at_model_rate, bundle.prep.onset_threshold_db);
  const double peak = peak_of(at_model_rate, onset);
  const size_t length = static_cast<size_t>(bundle.length);
  std::vector<double> fitted(length, 0.0);  // cropped or zero-padded at the end
  for (size_t i = 0; i < length && onset + i < at_model_rate.size(); ++i) fitted[i] = at_model_rate[onset + i] / peak;
  // Linear fade from 1 to 0 over the last fade_out of the one-shot, as numpy.linspace(1, 0, n)
  // computes it (k · step + 1, the last exactly 0); Python's round() rounds halves to even.
  const size_t fade_length =
      static_cast<size_t>(std::nearbyint(static_cast<double>(length) * bundle.prep.fade_out));
  const double step = fade_length > 1 ? -1.0 / static_cast<double>(fade_length - 1) : 0.0;
  for (size_t k = 0; k < fade_length; ++k) {
    const double gain = (k + 1 == fade_length && fade_length > 1) ? 0.0 : static_cast<double>(k) * step + 1.0;
    fitted[length - fade_length + k] *= gain;
  }
  return std::vector<float>(fitted.begin(), fitted.end());
}

}  // namespace latentplay
