// Frequency, attack and release of a one-shot, measured as latentplay.features measures them
// (its module docs are the definition; the settings are the contract's x-latentplay.features).
// The engine uses them where it steers by measurement (neural key tracking); the tests check
// they equal the Python measurement.
#pragma once

#include <vector>

namespace latentplay {

struct Features {
  double frequency_hz = 0.0;
  double attack_ms = 0.0;
  double release_ms = 0.0;
};

// Any length and rate; throws UsageError for non-finite samples. Silence: the band's lowest
// frequency, attack and release 0.
Features measure_features(const std::vector<float>& audio, double sample_rate);

// The smoothed analytic-signal magnitude, one value per sample (latentplay.features.amplitude_envelope).
std::vector<double> amplitude_envelope(const std::vector<float>& audio, double sample_rate);

}  // namespace latentplay
