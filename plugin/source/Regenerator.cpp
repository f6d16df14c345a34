#include "Regenerator.h"

#include <cmath>
#include <stdexcept>

namespace latentplay {

Regenerator::Regenerator(ParameterSource parameters)
    : juce::Thread("LatentPlay regenerate"), parameters_(parameters) {
  startThread();
}

Regenerator::~Regenerator() {
  signalThreadShouldExit();
  wake_.post();
  stopThread(10000);
  delete published_.exchange(nullptr);
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
  return renderShot(current, key).release();
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

std::vector<float> Regenerator::render(const Engine& engine, const AudioStart* audio, const RenderKey& key) {
  const Bundle& bundle = engine.bundle();
  ControlTargets targets;
  for (int k = 0; k < kNumControls; ++k) targets[k] = bundle.controls[k].valueAt(key.controls[k]);
  // A loaded file's prepared audio, or the bundle sample's, is the original.
  const AudioStart& start = audio != nullptr ? *audio : engine.sample_start(key.sample);
  std::vector<float> wet = engine.regenerate(start, targets, key.rate, key.detail);
  if (key.mix >= 1.0f) return wet;
  RenderKey dry_key = key;  // the dry side depends on the start and the rate only
  dry_key.controls = {};
  dry_key.mix = 0.0f;
  dry_key.detail = 0.0f;
  if (dry_key != dry_key_) {
    dry_ = engine.dry(start, key.rate);
    dry_key_ = dry_key;
  }
  for (size_t i = 0; i < wet.size() && i < dry_.size(); ++i) wet[i] = key.mix * wet[i] + (1.0f - key.mix) * dry_[i];
  return wet;
}

std::unique_ptr<OneShot> Regenerator::renderShot(const std::shared_ptr<const Engine>& engine, const RenderKey& key) {
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
      shot->audio = render(*engine, audio.get(), clamped);
    }
    for (const float value : shot->audio)  // what reaches the voices is always finite
      if (!std::isfinite(value)) throw std::runtime_error("the decoder produced non-finite samples (NaN or Inf)");
    const juce::ScopedLock lock(error_lock_);
    latest_audio_ = shot->audio;
    last_error_.clear();
    return shot;
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
      if (auto shot = renderShot(current, requested)) delete published_.exchange(shot.release());
      last_rendered_ = requested;
      rendered_any_ = true;
      {
        const std::lock_guard<std::mutex> lock(tried_mutex_);
        last_tried_ = requested;
      }
      tried_.notify_all();
      continue;  // look again at once: values may have moved while it rendered
    }
    wake_.wait();
  }
}

}  // namespace latentplay
