// Polyphonic one-shot playback on the audio thread: no allocation, no locks.
//
// A voice plays to the end of its one-shot, or is faded out over kFadeMs when it is choked,
// stolen, or its bundle failed to load, so that cutting a kick never clicks: the fade's own step
// (peak / fade length) stays below the slope of the kicks themselves. stopAll() cuts at once:
// for a host's reset (a render must start clean), All Sound/Notes Off, non-finite output, teardown.
#pragma once

#include <juce_audio_basics/juce_audio_basics.h>

#include <array>

#include "Regenerator.h"

namespace latentplay {

class Voices {
 public:
  static constexpr int kMaxVoices = 32;          // sounding notes; the oldest is stolen beyond this
  static constexpr int kSlots = 2 * kMaxVoices;  // sounding + fading out
  static constexpr double kFadeMs = 5.0;         // linear fade of a choked or stolen voice

  // The host rate sets the fade's length in samples (prepareToPlay, before rendering).
  void setSampleRate(double rate);
  // Starts `shot` now (the next rendered sample). gain: velocity scaling; rate: playback speed
  // (1 = as rendered; with key tracking, a key whose own one-shot is not rendered yet plays a
  // neighbour's at 2^(semitones/12), linearly interpolated, until its own arrives). choke fades
  // every other voice.
  void start(OneShot* shot, float gain, double rate, bool choke);
  // Adds every active voice into [start, start + count) of both channels, times output_gain.
  void render(juce::AudioBuffer<float>& buffer, int start, int count, float output_gain);
  void fadeOutAll();
  void stopAll();
  int activeCount() const;  // sounding or fading

 private:
  struct Voice {
    OneShot* shot = nullptr;
    double position = 0.0;
    double rate = 1.0;
    float gain = 0.0f;
    std::uint64_t order = 0;
    int fade_left = -1;  // samples left in its fade-out; -1 while it sounds normally
  };
  void fadeOut(Voice& voice);
  void stop(Voice& voice);
  Voice& freeSlot();

  std::array<Voice, kSlots> voices_{};
  std::uint64_t next_order_ = 0;
  int fade_samples_ = 221;  // kFadeMs at 44.1 kHz until setSampleRate
};

}  // namespace latentplay
