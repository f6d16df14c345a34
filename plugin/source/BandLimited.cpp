#include "BandLimited.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace latentplay {

namespace {

constexpr int kTableSize = BandLimited::kZeroCrossings * BandLimited::kTablePhases + 2;

double besselI0(double x) {  // the series converges fast for the betas used here
  double sum = 1.0, term = 1.0;
  for (int k = 1; k < 50; ++k) {
    term *= (x / (2.0 * k)) * (x / (2.0 * k));
    sum += term;
  }
  return sum;
}

// One side of the symmetric kernel, k(t) for t = i / kTablePhases, 0 <= t <= kZeroCrossings.
std::array<float, kTableSize> makeKernel() {
  std::array<float, kTableSize> table{};
  const double pi = 3.14159265358979323846;
  for (int i = 0; i < kTableSize; ++i) {
    const double t = static_cast<double>(i) / BandLimited::kTablePhases;
    if (t >= BandLimited::kZeroCrossings) continue;
    const double sinc = t == 0.0 ? 1.0 : std::sin(pi * t) / (pi * t);
    const double ratio = t / BandLimited::kZeroCrossings;
    const double window = besselI0(BandLimited::kKaiserBeta * std::sqrt(1.0 - ratio * ratio)) /
                          besselI0(BandLimited::kKaiserBeta);
    table[static_cast<size_t>(i)] = static_cast<float>(sinc * window);
  }
  return table;
}

const std::array<float, kTableSize> kKernel = makeKernel();  // at library load, never on the audio thread

float kernelAt(double t) {
  const double where = std::abs(t) * BandLimited::kTablePhases;
  const auto index = static_cast<size_t>(where);
  if (index + 1 >= kKernel.size()) return 0.0f;
  const float fraction = static_cast<float>(where - static_cast<double>(index));
  return kKernel[index] + fraction * (kKernel[index + 1] - kKernel[index]);
}

}  // namespace

float BandLimited::read(const std::vector<float>& audio, double position, double speed) {
  // the cut-off, relative to the source's Nyquist frequency
  const double scale = 1.0 / std::clamp(speed, 1.0, kMaxStretch);
  const double reach = kZeroCrossings / scale;
  const long first = std::max(0L, static_cast<long>(std::ceil(position - reach)));
  const long last = std::min(static_cast<long>(audio.size()) - 1, static_cast<long>(std::floor(position + reach)));
  double sum = 0.0;
  for (long n = first; n <= last; ++n)
    sum += static_cast<double>(audio[static_cast<size_t>(n)]) * kernelAt((position - static_cast<double>(n)) * scale);
  return static_cast<float>(sum * scale);
}

}  // namespace latentplay
