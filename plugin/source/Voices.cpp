#include "Voices.h"

namespace latentplay {

void Voices::stop(Voice& voice) {
  if (voice.shot != nullptr) --voice.shot->active_voices;
  voice.shot = nullptr;
}

void Voices::stopAll() {
  for (Voice& voice : voices_) stop(voice);
}

int Voices::activeCount() const {
  int count = 0;
  for (const Voice& voice : voices_) count += voice.shot != nullptr;
  return count;
}

void Voices::start(OneShot* shot, float gain, double rate, bool choke) {
  if (shot == nullptr || shot->audio.empty()) return;
  if (choke) stopAll();
  Voice* chosen = &voices_[0];
  for (Voice& voice : voices_) {
    if (voice.shot == nullptr) {
      chosen = &voice;
      break;
    }
    if (voice.order < chosen->order) chosen = &voice;  // steal the oldest
  }
  stop(*chosen);
  chosen->shot = shot;
  ++shot->active_voices;
  chosen->position = 0.0;
  chosen->rate = rate;
  chosen->gain = gain;
  chosen->order = next_order_++;
}

void Voices::render(juce::AudioBuffer<float>& buffer, int start, int count, float output_gain) {
  for (Voice& voice : voices_) {
    if (voice.shot == nullptr) continue;
    const std::vector<float>& audio = voice.shot->audio;
    const double length = static_cast<double>(audio.size());
    const float gain = voice.gain * output_gain;
    for (int i = start; i < start + count; ++i) {
      if (voice.position >= length) {
        stop(voice);
        break;
      }
      float value;
      if (voice.rate == 1.0) {
        value = audio[static_cast<size_t>(voice.position)];
      } else {  // key tracking: linear interpolation between neighbours
        const auto index = static_cast<size_t>(voice.position);
        const float fraction = static_cast<float>(voice.position - static_cast<double>(index));
        const float next = index + 1 < audio.size() ? audio[index + 1] : 0.0f;
        value = audio[index] + fraction * (next - audio[index]);
      }
      for (int channel = 0; channel < buffer.getNumChannels(); ++channel)
        buffer.addSample(channel, i, value * gain);
      voice.position += voice.rate;
    }
  }
}

}  // namespace latentplay
