#include "Regenerator.h"

#include <cmath>

namespace latentplay {

namespace {
constexpr int kPollMs = 2;
}

Regenerator::Regenerator(ParameterSource parameters)
    : juce::Thread("LatentPlay regenerate"), parameters_(parameters) {
  startThread();
}

Regenerator::~Regenerator() {
  stopThread(10000);
  delete published_.exchange(nullptr);
  freeRetired();
}

void Regenerator::setEngine(std::shared_ptr<const Engine> engine) {
  std::lock_guard<std::mutex> lock(engine_mutex_);
  engine_ = std::move(engine);
  engine_serial_.fetch_add(1);
}

std::shared_ptr<const Engine> Regenerator::engine() const {
  std::lock_guard<std::mutex> lock(engine_mutex_);
  return engine_;
}

RenderKey Regenerator::wantedKey() const {
  RenderKey key;
  key.engine_serial = engine_serial_.load();
  key.sample = static_cast<int>(std::lround(parameters_.sample->load()));
  for (int k = 0; k < kNumControls; ++k) key.controls[k] = parameters_.controls[k]->load();
  key.mix = parameters_.mix->load();
  key.rate = host_rate_.load();
  return key;
}

bool Regenerator::retire(OneShot* shot) {
  if (shot == nullptr) return true;
  const auto scope = retired_fifo_.write(1);
  if (scope.blockSize1 + scope.blockSize2 == 0) return false;  // full: the caller keeps it for now
  retired_[static_cast<size_t>(scope.blockSize1 > 0 ? scope.startIndex1 : scope.startIndex2)] = shot;
  return true;
}

void Regenerator::freeRetired() {
  const auto scope = retired_fifo_.read(retired_fifo_.getNumReady());
  for (int i = 0; i < scope.blockSize1; ++i) delete retired_[static_cast<size_t>(scope.startIndex1 + i)];
  for (int i = 0; i < scope.blockSize2; ++i) delete retired_[static_cast<size_t>(scope.startIndex2 + i)];
}

OneShot* Regenerator::waitFor(const RenderKey& key, int timeout_ms) {
  const auto deadline = juce::Time::getMillisecondCounter() + static_cast<juce::uint32>(timeout_ms);
  while (juce::Time::getMillisecondCounter() < deadline) {
    if (OneShot* fresh = takeFresh()) {
      if (fresh->key == key) return fresh;
      if (!retire(fresh)) delete fresh;  // offline: the audio thread may free memory
    }
    if (engine() == nullptr) return nullptr;
    juce::Thread::sleep(1);
  }
  return nullptr;
}

std::vector<float> Regenerator::latestAudio() const {
  const juce::ScopedLock lock(error_lock_);
  return latest_audio_;
}

juce::String Regenerator::lastError() const {
  const juce::ScopedLock lock(error_lock_);
  return last_error_;
}

std::vector<float> Regenerator::render(const Engine& engine, const RenderKey& key) {
  const Bundle& bundle = engine.bundle();
  ControlTargets targets;
  for (int k = 0; k < kNumControls; ++k) targets[k] = bundle.controls[k].valueAt(key.controls[k]);
  std::vector<float> wet = engine.regenerate(key.sample, targets, key.rate);
  if (key.mix >= 1.0f) return wet;
  RenderKey dry_key = key;
  dry_key.controls = {};
  dry_key.mix = 0.0f;
  if (dry_key != dry_key_) {  // the sample's own one-shot (z' = z), cached per sample and rate
    dry_ = engine.regenerate(key.sample, ControlTargets{}, key.rate);
    dry_key_ = dry_key;
  }
  for (size_t i = 0; i < wet.size() && i < dry_.size(); ++i) wet[i] = key.mix * wet[i] + (1.0f - key.mix) * dry_[i];
  return wet;
}

void Regenerator::run() {
  while (!threadShouldExit()) {
    freeRetired();
    const std::shared_ptr<const Engine> current = engine();
    const RenderKey requested = wantedKey();  // read once: the audio thread compares against it
    if (current != nullptr && (!rendered_any_ || requested != last_rendered_)) {
      RenderKey clamped = requested;
      clamped.sample = juce::jlimit(0, static_cast<int>(current->bundle().samples.size()) - 1, requested.sample);
      try {
        auto shot = std::make_unique<OneShot>();
        shot->key = requested;
        shot->audio = render(*current, clamped);
        {
          const juce::ScopedLock lock(error_lock_);
          latest_audio_ = shot->audio;
          last_error_.clear();
        }
        delete published_.exchange(shot.release());  // an unseen older one is simply replaced
      } catch (const std::exception& error) {
        const juce::ScopedLock lock(error_lock_);
        last_error_ = error.what();
      }
      last_rendered_ = requested;  // a failing request is not retried in a loop
      rendered_any_ = true;
    }
    wait(kPollMs);
  }
}

}  // namespace latentplay
