#include "latentplay/resampler.hpp"

#include <soxr.h>

#include <cmath>
#include <string>

#include "latentplay/errors.hpp"

namespace latentplay {

namespace {

template <typename Sample>
std::vector<Sample> resample_with(const std::vector<Sample>& input, double from_rate, double to_rate,
                                  soxr_datatype_t type) {
  if (!(from_rate > 0) || !(to_rate > 0)) throw UsageError("resample: rates must be > 0");
  if (from_rate == to_rate || input.empty()) return input;
  const size_t output_length = static_cast<size_t>(std::llround(input.size() * to_rate / from_rate));
  std::vector<Sample> output(output_length);
  const soxr_io_spec_t io = soxr_io_spec(type, type);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);  // python-soxr's "HQ"
  size_t done = 0;
  soxr_error_t error = soxr_oneshot(from_rate, to_rate, 1, input.data(), input.size(), nullptr, output.data(),
                                    output.size(), &done, &io, &quality, nullptr);
  if (error) throw UsageError(std::string("resample: libsoxr: ") + error);
  output.resize(done);
  return output;
}

}  // namespace

std::vector<float> resample(const std::vector<float>& input, double from_rate, double to_rate) {
  return resample_with(input, from_rate, to_rate, SOXR_FLOAT32_I);
}

std::vector<double> resample(const std::vector<double>& input, double from_rate, double to_rate) {
  return resample_with(input, from_rate, to_rate, SOXR_FLOAT64_I);
}

}  // namespace latentplay
