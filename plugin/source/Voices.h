// Polyphonic one-shot playback on the audio thread: no allocation, no locks.
#pragma once

#include <juce_audio_basics/juce_audio_basics.h>

#include <array>

#include "Regenerator.h"

namespace latentplay {

class Voices {
 public:
  static constexpr int kMaxVoices = 32;  // the oldest voice is stolen beyond this

  // Starts `shot` now (the next rendered sample). gain: velocity scaling; rate: playback speed
  // (1 = as generated; key tracking gives 2^(semitones/12)). choke stops every other voice.
  void start(OneShot* shot, float gain, double rate, bool choke);
  // Adds every active voice into [start, start + count) of both channels, times output_gain.
  void render(juce::AudioBuffer<float>& buffer, int start, int count, float output_gain);
  void stopAll();
  int activeCount() const;

 private:
  struct Voice {
    OneShot* shot = nullptr;
    double position = 0.0;
    double rate = 1.0;
    float gain = 0.0f;
    std::uint64_t order = 0;
  };
  void stop(Voice& voice);

  std::array<Voice, kMaxVoices> voices_{};
  std::uint64_t next_order_ = 0;
};

}  // namespace latentplay
