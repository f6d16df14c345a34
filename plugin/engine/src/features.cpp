#include "latentplay/features.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "latentplay/contract.hpp"
#include "latentplay/errors.hpp"

namespace latentplay {

namespace {

double db_to_ratio(double db) { return std::pow(10.0, db / 20.0); }

// Python's round(): half to even (the default floating-point rounding mode).
long round_half_even(double value) { return std::lrint(value); }

// scipy.fft.next_fast_len for complex transforms: the smallest 11-smooth number >= target.
int64_t next_fast_len(int64_t target) {
  for (int64_t n = std::max<int64_t>(target, 1);; ++n) {
    int64_t rest = n;
    for (const int64_t prime : {2, 3, 5, 7, 11})
      while (rest % prime == 0) rest /= prime;
    if (rest == 1) return n;
  }
}

torch::Tensor as_tensor(const std::vector<double>& values) {
  return torch::from_blob(const_cast<double*>(values.data()), {static_cast<int64_t>(values.size())}, torch::kFloat64)
      .clone();
}

// scipy.signal.hilbert(x, N): the analytic signal's magnitude, first x.size() values.
std::vector<double> analytic_magnitude(const std::vector<double>& x, int64_t padded_length) {
  const torch::Tensor spectrum = torch::fft::fft(as_tensor(x), padded_length);
  torch::Tensor weights = torch::zeros({padded_length}, torch::kFloat64);
  weights[0] = 1.0;
  if (padded_length % 2 == 0) {
    weights[padded_length / 2] = 1.0;
    weights.slice(0, 1, padded_length / 2).fill_(2.0);
  } else {
    weights.slice(0, 1, (padded_length + 1) / 2).fill_(2.0);
  }
  const torch::Tensor magnitude = torch::fft::ifft(spectrum * weights).abs().contiguous();
  const double* data = magnitude.data_ptr<double>();
  return std::vector<double>(data, data + x.size());
}

// scipy.ndimage.uniform_filter1d(values, size, mode="nearest"): the mean of values[i - size/2 ..
// i - size/2 + size - 1], edges extended.
std::vector<double> moving_average(const std::vector<double>& values, long size) {
  const long n = static_cast<long>(values.size());
  std::vector<double> prefix(values.size() + 1, 0.0);
  auto at = [&](long i) { return values[static_cast<size_t>(std::clamp(i, 0L, n - 1))]; };
  std::vector<double> out(values.size());
  const long first = -(size / 2);
  double sum = 0.0;
  for (long j = first; j < first + size; ++j) sum += at(j);
  for (long i = 0; i < n; ++i) {
    out[static_cast<size_t>(i)] = sum / static_cast<double>(size);
    sum += at(i + first + size) - at(i + first);
  }
  return out;
}

double samples_to_ms(long samples, double sample_rate) { return 1000.0 * static_cast<double>(samples) / sample_rate; }

double parabolic_offset(const std::vector<double>& magnitude, size_t index) {
  if (index == 0 || index + 1 >= magnitude.size()) return 0.0;
  const double left = magnitude[index - 1], centre = magnitude[index], right = magnitude[index + 1];
  if (std::min({left, centre, right}) <= 0.0) return 0.0;
  const double l = std::log(left), c = std::log(centre), r = std::log(right);
  const double curvature = l - 2.0 * c + r;
  if (curvature >= 0.0) return 0.0;  // not a strict maximum
  return std::clamp(0.5 * (l - r) / curvature, -0.5, 0.5);
}

double dominant_frequency(const std::vector<float>& audio, double sample_rate, long peak_index) {
  const long n = static_cast<long>(audio.size());
  const long offset = round_half_even(kFrequencyWindowOffsetMs / 1000.0 * sample_rate);
  const long min_length = round_half_even(kFrequencyMinWindowMs / 1000.0 * sample_rate);
  const long start = std::max(std::min(peak_index + offset, n - min_length), 0L);
  const long length = n - start;
  std::vector<double> window(static_cast<size_t>(length));
  for (long i = 0; i < length; ++i) {  // numpy's hanning: 0.5 - 0.5 cos(2 pi i / (M - 1)), [1] for M = 1
    const double hann = length == 1 ? 1.0 : 0.5 - 0.5 * std::cos(2.0 * M_PI * static_cast<double>(i) / static_cast<double>(length - 1));
    window[static_cast<size_t>(i)] = static_cast<double>(audio[static_cast<size_t>(start + i)]) * hann;
  }
  const int64_t fft_size = int64_t{1} << static_cast<int>(std::ceil(std::log2(static_cast<double>(kFftZeroPadFactor * length))));
  // A complex transform of the real window, half kept: MKL's complex FFT of this size takes about
  // half the time of its real one here (3.5 against 7.9 ms at 131072 points).
  const torch::Tensor spectrum =
      torch::fft::fft(as_tensor(window).to(torch::kComplexDouble), fft_size).slice(0, 0, fft_size / 2 + 1).abs().contiguous();
  const double* data = spectrum.data_ptr<double>();
  const std::vector<double> magnitude(data, data + spectrum.numel());
  const double bin_hz = sample_rate / static_cast<double>(fft_size);
  const long first_bin = static_cast<long>(std::ceil(kFrequencyBandLowHz / bin_hz));
  const long last_bin = std::min(static_cast<long>(std::floor(kFrequencyBandHighHz / bin_hz)),
                                 static_cast<long>(magnitude.size()) - 1);
  if (last_bin < first_bin) return kFrequencyBandLowHz;
  long best = first_bin;
  for (long bin = first_bin; bin <= last_bin; ++bin)
    if (magnitude[static_cast<size_t>(bin)] > magnitude[static_cast<size_t>(best)]) best = bin;
  if (magnitude[static_cast<size_t>(best)] <= 0.0) return kFrequencyBandLowHz;
  const double refined = static_cast<double>(best) + parabolic_offset(magnitude, static_cast<size_t>(best));
  return std::clamp(refined * bin_hz, kFrequencyBandLowHz, kFrequencyBandHighHz);
}

}  // namespace

std::vector<double> amplitude_envelope(const std::vector<float>& audio, double sample_rate) {
  for (const float value : audio)
    if (!std::isfinite(value)) throw UsageError("audio contains NaN or infinite samples");
  if (audio.empty()) return {};
  // Odd extension -x(-t) before the onset, then the analytic magnitude (see latentplay.features).
  const size_t n = audio.size();
  std::vector<double> mirrored(2 * n - 1);
  for (size_t i = 0; i + 1 < n; ++i) mirrored[i] = -static_cast<double>(audio[n - 1 - i]);
  for (size_t i = 0; i < n; ++i) mirrored[n - 1 + i] = audio[i];
  const std::vector<double> magnitude =
      analytic_magnitude(mirrored, next_fast_len(2 * static_cast<int64_t>(mirrored.size())));
  const long width = std::max(round_half_even(kEnvelopeSmoothingMs / 1000.0 * sample_rate), 1L);
  const std::vector<double> smoothed = moving_average(magnitude, width);
  return std::vector<double>(smoothed.begin() + static_cast<std::ptrdiff_t>(n - 1), smoothed.end());
}

Features measure_features(const std::vector<float>& audio, double sample_rate) {
  const std::vector<double> envelope = amplitude_envelope(audio, sample_rate);
  const double maximum = envelope.empty() ? 0.0 : *std::max_element(envelope.begin(), envelope.end());
  if (maximum <= 0.0) return {kFrequencyBandLowHz, 0.0, 0.0};
  auto first_at_or_above = [&](double level) {
    return static_cast<long>(std::find_if(envelope.begin(), envelope.end(), [&](double v) { return v >= level; }) -
                             envelope.begin());
  };
  const long peak = first_at_or_above(maximum * db_to_ratio(-kPeakWithinDb));
  const long onset = first_at_or_above(maximum * db_to_ratio(kAttackOnsetDb));
  long last_above = static_cast<long>(envelope.size()) - 1;
  const double release_level = maximum * db_to_ratio(kReleaseLevelDb);
  while (last_above > 0 && envelope[static_cast<size_t>(last_above)] < release_level) --last_above;
  Features features;
  features.frequency_hz = dominant_frequency(audio, sample_rate, peak);
  features.attack_ms = samples_to_ms(peak - onset, sample_rate);
  features.release_ms = samples_to_ms(last_above - peak, sample_rate);
  return features;
}

}  // namespace latentplay
