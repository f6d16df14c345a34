#include "Regenerator.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "latentplay/resampler.hpp"

namespace latentplay {

Regenerator::Regenerator(ParameterSource parameters)
    : juce::Thread("LatentPlay regenerate"),
      parameters_(parameters),
      next_variation_seed_(static_cast<std::uint64_t>(juce::Time::getHighResolutionTicks())) {
  startThread();
}

Regenerator::~Regenerator() {
  signalThreadShouldExit();
  wake_.post();
  stopThread(10000);
  delete published_.exchange(nullptr);
  while (OneShot* shot = takeKeyShot()) delete shot;
  while (OneShot* shot = takeVariation()) delete shot;
  freeRetired();
}

void Regenerator::setEngine(std::shared_ptr<const Engine> engine) {
  {
    std::lock_guard<std::mutex> lock(engine_mutex_);
    has_engine_.store(engine != nullptr);
    engine_ = std::move(engine);
    engine_serial_.fetch_add(1);
    audio_start_.reset();
    audio_serial_.store(0);
  }
  wake_.post();
}

void Regenerator::setAudioStart(std::shared_ptr<const AudioStart> start) {
  {
    std::lock_guard<std::mutex> lock(engine_mutex_);
    audio_serial_.store(start != nullptr ? ++audio_serials_made_ : 0);
    audio_start_ = std::move(start);
  }
  wake_.post();
}

std::shared_ptr<const AudioStart> Regenerator::audioStart() const {
  std::lock_guard<std::mutex> lock(engine_mutex_);
  return audio_start_;
}

std::shared_ptr<const Engine> Regenerator::engine() const {
  std::lock_guard<std::mutex> lock(engine_mutex_);
  return engine_;
}

std::pair<std::shared_ptr<const Engine>, std::uint64_t> Regenerator::engineWithSerial() const {
  std::lock_guard<std::mutex> lock(engine_mutex_);
  return {engine_, engine_serial_.load()};
}

RenderKey Regenerator::wantedKey() const {
  RenderKey key;
  key.engine_serial = engine_serial_.load();
  key.sample = static_cast<int>(std::lround(parameters_.sample->load()));
  for (int k = 0; k < kNumControls; ++k) key.controls[k] = parameters_.controls[k]->load();
  key.mix = parameters_.mix->load();
  key.detail = parameters_.detail->load();
  key.rate = host_rate_.load();
  key.audio_serial = audio_serial_.load();
  return key;
}

PitchMode Regenerator::pitchMode() const {
  return static_cast<PitchMode>(juce::jlimit(0, 2, static_cast<int>(std::lround(parameters_.pitch_mode->load()))));
}

int Regenerator::rootNote() const { return static_cast<int>(std::lround(parameters_.root_note->load())); }

RenderKey Regenerator::wantedKey(int note) const {
  RenderKey key = wantedKey();
  const PitchMode mode = pitchMode();
  if (mode == PitchMode::off) return key;
  key.note = note;
  key.pitch_mode = mode;
  key.root_note = rootNote();
  return key;
}

RenderKey Regenerator::variedKey(int note, std::uint64_t seed) const {
  RenderKey key = wantedKey(note);
  key.variation = variationAmount();
  key.variation_seed = key.variation > 0.0f ? seed : 0;
  return key;
}

OneShot* Regenerator::takeVariation() {
  const auto scope = variations_fifo_.read(1);
  if (scope.blockSize1 + scope.blockSize2 == 0) return nullptr;
  OneShot* shot = variations_[static_cast<size_t>(scope.blockSize1 > 0 ? scope.startIndex1 : scope.startIndex2)];
  wake_.post();  // the worker renders the next
  return shot;
}

bool Regenerator::renderNextVariation(const std::shared_ptr<const Engine>& engine, std::uint64_t serial) {
  if (variationAmount() <= 0.0f || variations_fifo_.getFreeSpace() == 0) return false;
  const RenderKey wanted = variedKey(variation_note_.load(), next_variation_seed_++);
  if (wanted.engine_serial != serial) return false;
  if (auto shot = renderShot(engine, wanted, true)) {
    const auto scope = variations_fifo_.write(1);
    variations_[static_cast<size_t>(scope.blockSize1 > 0 ? scope.startIndex1 : scope.startIndex2)] = shot.release();
    return true;
  }
  return false;  // failed (the status says why): not retried until something changes
}

OneShot* Regenerator::takeKeyShot() {
  const auto scope = key_shots_fifo_.read(1);
  if (scope.blockSize1 + scope.blockSize2 == 0) return nullptr;
  OneShot* shot = key_shots_[static_cast<size_t>(scope.blockSize1 > 0 ? scope.startIndex1 : scope.startIndex2)];
  wake_.post();  // there is room again for the worker to publish
  return shot;
}

void Regenerator::requestKey(int note) {
  const auto scope = key_requests_fifo_.write(1);
  if (scope.blockSize1 + scope.blockSize2 == 0) return;  // full: asked often enough already
  key_requests_[static_cast<size_t>(scope.blockSize1 > 0 ? scope.startIndex1 : scope.startIndex2)] = note;
  wake_.post();
}

void Regenerator::takeKeyRequests() {
  const auto scope = key_requests_fifo_.read(key_requests_fifo_.getNumReady());
  auto take = [this](int start, int count) {
    for (int i = start; i < start + count; ++i) {
      const int note = key_requests_[static_cast<size_t>(i)];
      recent_keys_.erase(std::remove(recent_keys_.begin(), recent_keys_.end(), note), recent_keys_.end());
      recent_keys_.insert(recent_keys_.begin(), note);
    }
  };
  take(scope.startIndex1, scope.blockSize1);
  take(scope.startIndex2, scope.blockSize2);
  if (recent_keys_.size() > static_cast<size_t>(kKeyCacheSize)) recent_keys_.resize(kKeyCacheSize);
}

bool Regenerator::renderNextKey(const std::shared_ptr<const Engine>& engine, std::uint64_t serial) {
  if (pitchMode() == PitchMode::off || key_shots_fifo_.getFreeSpace() == 0) return false;
  for (const int note : recent_keys_) {
    const RenderKey wanted = wantedKey(note);
    if (wanted.engine_serial != serial) return false;
    const auto index = static_cast<size_t>(note);
    if (key_tried_[index] && key_rendered_[index] == wanted) continue;
    key_tried_[index] = true;
    key_rendered_[index] = wanted;
    cancelled_ = false;
    if (auto shot = renderShot(engine, wanted, true)) {
      const auto scope = key_shots_fifo_.write(1);
      key_shots_[static_cast<size_t>(scope.blockSize1 > 0 ? scope.startIndex1 : scope.startIndex2)] = shot.release();
    }
    if (cancelled_) key_tried_[index] = false;
    return true;
  }
  return false;
}

bool Regenerator::retire(OneShot* shot) {
  if (shot == nullptr) return true;
  const auto scope = retired_fifo_.write(1);
  if (scope.blockSize1 + scope.blockSize2 == 0) return false;  // full: the caller keeps it for now
  retired_[static_cast<size_t>(scope.blockSize1 > 0 ? scope.startIndex1 : scope.startIndex2)] = shot;
  wake_.post();  // the worker frees it
  return true;
}

void Regenerator::freeRetired() {
  const auto scope = retired_fifo_.read(retired_fifo_.getNumReady());
  for (int i = 0; i < scope.blockSize1; ++i) delete retired_[static_cast<size_t>(scope.startIndex1 + i)];
  for (int i = 0; i < scope.blockSize2; ++i) delete retired_[static_cast<size_t>(scope.startIndex2 + i)];
}

OneShot* Regenerator::renderNow(const RenderKey& key) {
  const auto [current, serial] = engineWithSerial();
  if (current == nullptr || key.engine_serial != serial) return nullptr;
  return renderShot(current, key, false).release();
}

void Regenerator::waitUntilReady(int timeout_ms) {
  const RenderKey wanted = wantedKey();
  if (!hasEngine()) return;
  std::unique_lock<std::mutex> lock(tried_mutex_);
  tried_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    return last_tried_.engine_serial == wanted.engine_serial && last_tried_.rate == wanted.rate;
  });
}

std::vector<float> Regenerator::latestAudio() const {
  const juce::ScopedLock lock(error_lock_);
  return latest_audio_;
}

juce::String Regenerator::lastError() const {
  const juce::ScopedLock lock(error_lock_);
  return last_error_;
}

namespace {

// What a control state's one-shot depends on: the key without its note's pitch and its rate.
RenderKey stateKeyOf(const RenderKey& key) {
  RenderKey state = key;
  state.rate = 0.0;
  state.note = -1;
  state.pitch_mode = PitchMode::off;
  state.root_note = 0;
  return state;
}

}  // namespace

void Regenerator::blendDry(const Engine& engine, const AudioStart& start, const RenderKey& key,
                           std::vector<float>& wet) {
  if (key.mix >= 1.0f) return;
  RenderKey dry_key = stateKeyOf(key);  // the dry side depends on the start only (and the bundle)
  dry_key.controls = {};
  dry_key.mix = dry_key.detail = dry_key.variation = 0.0f;
  dry_key.variation_seed = 0;
  if (dry_key != dry_key_) {
    dry_ = engine.dry(start, 0.0);
    dry_key_ = dry_key;
  }
  for (size_t i = 0; i < wet.size() && i < dry_.size(); ++i) wet[i] = key.mix * wet[i] + (1.0f - key.mix) * dry_[i];
}

const RootShot& Regenerator::stateShot(const Engine& engine, const AudioStart& start, const RenderKey& key,
                                       const ControlTargets& targets, bool measured) {
  RenderKey state = stateKeyOf(key);
  state.mix = 1.0f;  // Mix is blended in after
  if (state != state_key_ || state_shot_.audio.empty()) {
    state_shot_.audio = engine.regenerate(start, targets, 0.0, key.detail, Variation{key.variation, key.variation_seed});
    state_key_ = state;
    state_measured_ = false;
  }
  if (measured && !state_measured_) {
    state_shot_.features = measure_features(state_shot_.audio, engine.bundle().sample_rate);
    state_measured_ = true;
  }
  return state_shot_;
}

const std::vector<float>& Regenerator::modelRateShot(const Engine& engine, const AudioStart& start, const RenderKey& key,
                                                     const ControlTargets& targets) {
  const RenderKey state = stateKeyOf(key);
  if (state == model_rate_key_ && !model_rate_shot_.empty()) return model_rate_shot_;
  model_rate_shot_ = stateShot(engine, start, key, targets, false).audio;
  blendDry(engine, start, key, model_rate_shot_);
  model_rate_key_ = state;
  return model_rate_shot_;
}

std::vector<float> Regenerator::render(const Engine& engine, const AudioStart* audio, const RenderKey& key,
                                       bool may_give_way) {
  const Bundle& bundle = engine.bundle();
  ControlTargets targets;
  for (int k = 0; k < kNumControls; ++k) targets[k] = bundle.controls[k].valueAt(key.controls[k]);
  // A loaded file's prepared audio, or the bundle sample's, is the original.
  const AudioStart& start = audio != nullptr ? *audio : engine.sample_start(key.sample);
  const double model_rate = bundle.sample_rate;
  const double output_rate = key.rate == 0.0 ? model_rate : key.rate;
  const bool keyed = key.note >= 0 && key.pitch_mode != PitchMode::off;
  const double semitones = keyed ? key.note - key.root_note : 0.0;
  if (keyed && key.pitch_mode == PitchMode::neural && semitones != 0.0) {
    // The model re-pitches it (pitch.hpp); what it cannot reach is resampled (`speed`).
    // On the worker, a new bundle or new values for the root one-shot stop the search: notes wait
    // for the root one-shot, never for a key's.
    std::function<bool()> keep_going;
    if (may_give_way)
      keep_going = [this, key] { return engine_serial_.load() == key.engine_serial && wantedKey() == last_rendered_; };
    const RootShot& root = stateShot(engine, start, key, targets, true);
    Repitched repitched = repitch(engine, start, targets, root, semitones, key.detail,
                                  Variation{key.variation, key.variation_seed}, keep_going);
    blendDry(engine, start, key, repitched.audio);
    return resample(repitched.audio, model_rate * repitched.speed, output_rate);
  }
  const std::vector<float>& shot = modelRateShot(engine, start, key, targets);
  // Played `speed` times faster = the model-rate audio taken as recorded at model_rate · speed.
  const double speed = keyed ? std::pow(2.0, semitones / 12.0) : 1.0;
  if (speed == 1.0 && output_rate == model_rate) return shot;
  return resample(shot, model_rate * speed, output_rate);
}

std::unique_ptr<OneShot> Regenerator::renderShot(const std::shared_ptr<const Engine>& engine, const RenderKey& key,
                                                 bool may_give_way) {
  RenderKey clamped = key;
  clamped.sample = juce::jlimit(0, static_cast<int>(engine->bundle().samples.size()) - 1, key.sample);
  std::shared_ptr<const AudioStart> audio;
  if (key.audio_serial != 0) {
    std::lock_guard<std::mutex> lock(engine_mutex_);
    if (audio_serial_.load() == key.audio_serial) audio = audio_start_;
  }
  try {
    if (key.audio_serial != 0 && audio == nullptr) throw std::runtime_error("the loaded audio was replaced");
    auto shot = std::make_unique<OneShot>();
    shot->key = key;
    {
      std::lock_guard<std::mutex> lock(render_mutex_);
      shot->audio = render(*engine, audio.get(), clamped, may_give_way);
    }
    for (const float value : shot->audio)  // what reaches the voices is always finite
      if (!std::isfinite(value)) throw std::runtime_error("the decoder produced non-finite samples (NaN or Inf)");
    const juce::ScopedLock lock(error_lock_);
    if (key.note < 0 && key.variation_seed == 0) latest_audio_ = shot->audio;  // the editor shows the root one-shot
    last_error_.clear();
    return shot;
  } catch (const Cancelled&) {
    cancelled_ = true;  // not a failure: tried again when nothing more urgent waits
    return nullptr;
  } catch (const std::exception& error) {
    const juce::ScopedLock lock(error_lock_);
    last_error_ = error.what();
    return nullptr;
  }
}

void Regenerator::run() {
  while (!threadShouldExit()) {
    freeRetired();
    // The engine and its serial read together: a one-shot is labelled with the bundle that made it.
    const auto [current, serial] = engineWithSerial();
    const RenderKey requested = wantedKey();  // read once: the audio thread compares against it
    if (current != nullptr && requested.engine_serial == serial && (!rendered_any_ || requested != last_rendered_)) {
      // An unseen older one-shot is simply replaced; a failed render is not retried until
      // something changes.
      if (auto shot = renderShot(current, requested, true)) delete published_.exchange(shot.release());
      last_rendered_ = requested;
      rendered_any_ = true;
      {
        const std::lock_guard<std::mutex> lock(tried_mutex_);
        last_tried_ = requested;
      }
      tried_.notify_all();
      continue;  // look again at once: values may have moved while it rendered
    }
    takeKeyRequests();
    // Then the variation ring (a varied note would otherwise play unvaried), then other keys;
    // after each, the root one-shot first again.
    if (current != nullptr && (renderNextVariation(current, serial) || renderNextKey(current, serial))) continue;
    wake_.wait();
  }
}

}  // namespace latentplay
