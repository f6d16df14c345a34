#include <catch2/catch.hpp>
#include <cmath>

#include "latentplay/resampler.hpp"

using latentplay::resample;

namespace {

std::vector<float> sine(double frequency, double rate, size_t length) {
  std::vector<float> out(length);
  for (size_t i = 0; i < length; ++i) out[i] = static_cast<float>(0.5 * std::sin(2 * M_PI * frequency * i / rate));
  return out;
}

double rms(const std::vector<float>& x, size_t from, size_t to) {
  double sum = 0;
  for (size_t i = from; i < to; ++i) sum += double(x[i]) * x[i];
  return std::sqrt(sum / (to - from));
}

}  // namespace

TEST_CASE("output length follows the rate ratio", "[resampler]") {
  const std::vector<float> input(6615, 0.0f);
  for (double rate : {44100.0, 48000.0, 88200.0, 96000.0, 192000.0, 37800.0}) {
    REQUIRE(resample(input, 22050, rate).size() == static_cast<size_t>(std::llround(6615 * rate / 22050)));
  }
}

TEST_CASE("a pass-band sine keeps its level", "[resampler]") {
  const auto output = resample(sine(1000, 22050, 6615), 22050, 48000);
  REQUIRE(rms(output, 2000, 12000) == Approx(0.5 / std::sqrt(2.0)).epsilon(1e-3));
}

TEST_CASE("equal rates return the input unchanged", "[resampler]") {
  const auto input = sine(440, 48000, 1000);
  REQUIRE(resample(input, 48000, 48000) == input);
}

TEST_CASE("bad rates are refused", "[resampler]") {
  REQUIRE_THROWS_AS(resample(std::vector<float>(10), 0, 48000), std::invalid_argument);
  REQUIRE_THROWS_AS(resample(std::vector<float>(10), 22050, -1), std::invalid_argument);
}
