// Band-limited reading of a one-shot at any speed, for key tracking by resampling (the audio
// thread: no allocation; the kernel table is built once when the plugin library loads).
//
// A Kaiser-windowed sinc (kZeroCrossings each side, beta kKaiserBeta), tabulated at kTablePhases
// points per sample and read with linear interpolation. Played faster than recorded (speed > 1)
// the kernel is stretched by the speed, so that its cut-off falls to the output's Nyquist
// frequency / speed and what would fold back above it is removed first; played slower, it is a
// plain interpolator. Cost per output sample: 2 · kZeroCrossings · clamp(speed, 1, kMaxStretch)
// taps (a note's total stays about 2 · kZeroCrossings taps per sample of its one-shot).
#pragma once

#include <vector>

namespace latentplay {

class BandLimited {
 public:
  static constexpr int kZeroCrossings = 16;
  static constexpr int kTablePhases = 512;
  static constexpr double kKaiserBeta = 10.0;  // sidelobes near -100 dB
  // The kernel stretches at most this much (3 octaves up): beyond, the cost per sample stays at
  // 2 · 16 · 8 taps and what lies above the cut-off is only partly removed.
  static constexpr double kMaxStretch = 8.0;

  // The one-shot's value at fractional `position`, read at `speed` (samples outside are zero).
  static float read(const std::vector<float>& audio, double position, double speed);
};

}  // namespace latentplay
