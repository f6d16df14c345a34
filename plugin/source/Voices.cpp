#include "Voices.h"

#include <cmath>

namespace latentplay {

void Voices::setSampleRate(double rate) {
  fade_samples_ = juce::jmax(1, static_cast<int>(std::floor(kFadeMs * 0.001 * rate)));
}

void Voices::stop(Voice& voice) {
  if (voice.shot != nullptr) --voice.shot->active_voices;
  voice.shot = nullptr;
  voice.fade_left = -1;
}

void Voices::fadeOut(Voice& voice) {
  if (voice.shot != nullptr && voice.fade_left < 0) voice.fade_left = fade_samples_;
}

void Voices::fadeOutAll() {
  for (Voice& voice : voices_) fadeOut(voice);
}

void Voices::stopAll() {
  for (Voice& voice : voices_) stop(voice);
}

int Voices::activeCount() const {
  int count = 0;
  for (const Voice& voice : voices_) count += voice.shot != nullptr;
  return count;
}

Voices::Voice& Voices::freeSlot() {
  Voice* oldest_sounding = nullptr;
  Voice* quietest_fading = nullptr;
  int sounding = 0;
  for (Voice& voice : voices_) {
    if (voice.shot == nullptr) continue;
    if (voice.fade_left >= 0) {
      if (quietest_fading == nullptr || voice.fade_left < quietest_fading->fade_left) quietest_fading = &voice;
    } else {
      ++sounding;
      if (oldest_sounding == nullptr || voice.order < oldest_sounding->order) oldest_sounding = &voice;
    }
  }
  if (sounding >= kMaxVoices) fadeOut(*oldest_sounding);  // steal the oldest, with a fade
  for (Voice& voice : voices_)
    if (voice.shot == nullptr) return voice;
  // Every slot is busy: more than kMaxVoices notes within one fade. Cut the nearest to silence.
  Voice& cut = quietest_fading != nullptr ? *quietest_fading : *oldest_sounding;
  stop(cut);
  return cut;
}

void Voices::start(OneShot* shot, float gain, double rate, bool choke) {
  if (shot == nullptr || shot->audio.empty()) return;
  if (choke) fadeOutAll();
  Voice& chosen = freeSlot();
  chosen.shot = shot;
  ++shot->active_voices;
  chosen.position = 0.0;
  chosen.rate = rate;
  chosen.gain = gain;
  chosen.order = next_order_++;
  chosen.fade_left = -1;
}

void Voices::render(juce::AudioBuffer<float>& buffer, int start, int count, float output_gain) {
  const float fade_step = 1.0f / static_cast<float>(fade_samples_);
  for (Voice& voice : voices_) {
    if (voice.shot == nullptr) continue;
    const std::vector<float>& audio = voice.shot->audio;
    const double length = static_cast<double>(audio.size());
    const float gain = voice.gain * output_gain;
    for (int i = start; i < start + count; ++i) {
      if (voice.position >= length || voice.fade_left == 0) {
        stop(voice);
        break;
      }
      float value;
      if (voice.rate == 1.0) {
        value = audio[static_cast<size_t>(voice.position)];
      } else {  // a neighbouring key's one-shot, for now: linear interpolation between samples
        const auto index = static_cast<size_t>(voice.position);
        const float fraction = static_cast<float>(voice.position - static_cast<double>(index));
        const float next = index + 1 < audio.size() ? audio[index + 1] : 0.0f;
        value = audio[index] + fraction * (next - audio[index]);
      }
      if (voice.fade_left > 0) value *= static_cast<float>(voice.fade_left--) * fade_step;
      for (int channel = 0; channel < buffer.getNumChannels(); ++channel)
        buffer.addSample(channel, i, value * gain);
      voice.position += voice.rate;
    }
  }
}

}  // namespace latentplay
