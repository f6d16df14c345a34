// Band-limited sample-rate conversion with libsoxr, the same library and quality ("HQ") that the
// Python side uses through the soxr package.
#pragma once

#include <vector>

namespace latentplay {

// Whole-buffer conversion from `from_rate` to `to_rate` (any positive rates). Returns the input
// unchanged when the rates are equal. Output length: round(input length · to_rate / from_rate).
std::vector<float> resample(const std::vector<float>& input, double from_rate, double to_rate);
// The same in double precision (preparing a one-shot, as Python's float64 soxr call does).
std::vector<double> resample(const std::vector<double>& input, double from_rate, double to_rate);

}  // namespace latentplay
