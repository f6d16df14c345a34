// Any audio -> the encoder's input, in the steps and order of python/latentplay/audio.py
// (prepare_one_shot) and with the bundle's `prep` settings: mono (channel mean), resampled to the
// model rate (soxr HQ, double precision), trimmed to the onset, peak-normalised, cropped or
// zero-padded to the model length, faded out linearly. tests/engine/test_prep.py checks it
// against the Python loader on real drum one-shots.
#pragma once

#include <string>
#include <vector>

#include "latentplay/bundle.hpp"

namespace latentplay {

// A file's decoded audio, before preparation.
struct RawAudio {
  std::vector<float> interleaved;  // frames × channels
  int channels = 1;
  double sample_rate = 0;
};

// Why audio cannot become a one-shot: the same reasons, in the same words, as Python's
// latentplay.audio.UnusableAudio ("empty (0 samples)", "contains NaN or infinite samples",
// "silent (peak below -90 dBFS)").
class UnusableAudio : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The prepared one-shot (bundle.length samples at bundle.sample_rate). Throws UnusableAudio.
std::vector<float> prepare_one_shot(const RawAudio& audio, const Bundle& bundle);

}  // namespace latentplay
