// The regeneration worker: the only thread that runs inference.
//
// Threads and their rules (see also PluginProcessor.h):
//   message thread  sets the engine (loadBundle), reads metadata;
//   worker thread   ("LatentPlay regenerate") sleeps until woken (a parameter, the bundle or the
//                   host rate changed, a note asked for its key, or a one-shot was retired),
//                   renders project + decode + resample when the wanted render key changed
//                   (bursts coalesce: the latest values win), publishes the finished OneShot,
//                   frees retired ones. With key tracking on it then renders a one-shot per key
//                   for the keys played most recently (kKeyCacheSize, newest first), after the
//                   root one-shot, and again whenever the values change;
//   audio thread    never allocates, locks or runs inference: it takes the root one-shot with
//                   one atomic exchange and key one-shots from a lock-free FIFO, asks for keys
//                   through another, and hands old ones back through a third. Only in offline
//                   rendering does it call renderNow() (allocates, may wait).
#pragma once

#include <juce_core/juce_core.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "WakeSignal.h"
#include "latentplay/engine.hpp"
#include "latentplay/pitch.hpp"

namespace latentplay {

// How a MIDI key changes the one-shot (the Pitch Mode parameter, in its order).
enum class PitchMode { off = 0, resample = 1, neural = 2 };
constexpr int kNumMidiKeys = 128;
constexpr int kKeyCacheSize = 32;  // keys kept rendered per control state: the most recently played
constexpr int kVariationRing = 8;  // varied one-shots rendered ahead, so that no varied note waits

// Everything a one-shot depends on; two equal keys give bit-identical audio.
struct RenderKey {
  std::uint64_t engine_serial = 0;  // which loaded bundle
  int sample = 0;
  std::array<float, kNumControls> controls{};  // normalised 0..1 positions in the controls' ranges
  float mix = 1.0f;
  float detail = 0.0f;  // how much of the sample's own residual (original − reconstruction) is added
  double rate = 0.0;
  std::uint64_t audio_serial = 0;  // a loaded audio file as the start (Regenerator::setAudioStart); 0: `sample`
  // The MIDI key this one-shot is for, with the pitch mode and root note; -1: the root one-shot
  // (what every key plays with key tracking off; mode and root are then off and 0).
  int note = -1;
  PitchMode pitch_mode = PitchMode::off;
  int root_note = 0;
  // Per-note variation (Engine::vary): 0 for the plain one-shot of these values.
  float variation = 0.0f;
  std::uint64_t variation_seed = 0;
  bool operator==(const RenderKey& other) const {
    return engine_serial == other.engine_serial && sample == other.sample && controls == other.controls &&
           mix == other.mix && detail == other.detail && rate == other.rate && audio_serial == other.audio_serial &&
           note == other.note && pitch_mode == other.pitch_mode && root_note == other.root_note &&
           variation == other.variation && variation_seed == other.variation_seed;
  }
  // The same one-shot but for the variation's seed: a varied one-shot a note may play.
  bool sameButSeed(const RenderKey& other) const {
    RenderKey seedless = other;
    seedless.variation_seed = variation_seed;
    return *this == seedless;
  }
  bool operator!=(const RenderKey& other) const { return !(*this == other); }
};

struct OneShot {
  RenderKey key;
  std::vector<float> audio;  // mono, at key.rate
  int active_voices = 0;     // audio thread only
};

// Where the worker reads the current parameter values (the processor's atomics).
struct ParameterSource {
  std::array<std::atomic<float>*, kNumControls> controls{};
  std::atomic<float>* sample = nullptr;
  std::atomic<float>* mix = nullptr;
  std::atomic<float>* detail = nullptr;
  std::atomic<float>* pitch_mode = nullptr;  // PitchMode as its index
  std::atomic<float>* root_note = nullptr;
  std::atomic<float>* variation = nullptr;
};

class Regenerator : private juce::Thread {
 public:
  explicit Regenerator(ParameterSource parameters);
  ~Regenerator() override;

  // Message thread. nullptr = no usable bundle (silence). A new bundle also clears the audio start
  // (its latent point belongs to the previous model).
  void setEngine(std::shared_ptr<const Engine> engine);
  // Message thread: start from a loaded audio file instead of the Sample parameter's sample
  // (nullptr: back to the sample). Made by the current engine's start_from_audio.
  void setAudioStart(std::shared_ptr<const AudioStart> start);
  std::shared_ptr<const AudioStart> audioStart() const;
  std::shared_ptr<const Engine> engine() const;
  std::pair<std::shared_ptr<const Engine>, std::uint64_t> engineWithSerial() const;

  // Any thread, lock-free.
  void setHostRate(double rate) {
    host_rate_.store(rate);
    wake_.post();
  }
  // Any thread, lock-free: something the one-shot depends on changed.
  void requestRender() { wake_.post(); }
  RenderKey wantedKey() const;
  // The wanted key of MIDI key `note`'s one-shot under the current pitch mode (the root one-shot's
  // with key tracking off).
  RenderKey wantedKey(int note) const;
  PitchMode pitchMode() const;
  int rootNote() const;
  float variationAmount() const { return parameters_.variation->load(); }
  // wantedKey(note) varied by the current Variation with `seed`.
  RenderKey variedKey(int note, std::uint64_t seed) const;
  // Any thread, lock-free: which bundle is in force (one-shots of another are stale) and whether
  // there is one at all.
  std::uint64_t engineSerial() const { return engine_serial_.load(); }
  bool hasEngine() const { return has_engine_.load(); }

  // Audio thread, lock-free: the newest finished one-shot, or nullptr.
  OneShot* takeFresh() { return published_.exchange(nullptr); }
  // Audio thread, lock-free: the next finished one-shot of a MIDI key (key.note), or nullptr.
  OneShot* takeKeyShot();
  // Audio thread, lock-free: a note of this key was played and its one-shot is missing or stale.
  void requestKey(int note);
  // Audio thread, lock-free: the next varied one-shot of the ring, or nullptr. It may be of
  // values no longer in force: the caller checks its key.
  OneShot* takeVariation();
  // Audio thread, lock-free: fill the ring with varied one-shots of this key (the one played last).
  void requestVariations(int note) {
    variation_note_.store(note);
    wake_.post();
  }
  // Audio thread, lock-free: give a one-shot no voice plays any more back to the worker.
  bool retire(OneShot* shot);

  // Not the audio thread (prepareToPlay): waits, up to timeout_ms, until the worker has tried the
  // one-shot of the current bundle at the current host rate (made it, or failed), so that a note
  // in the first block after it plays, also in real time.
  void waitUntilReady(int timeout_ms);

  // Offline rendering only (the audio thread may block and allocate): renders the one-shot for
  // `key` now, on the calling thread. nullptr without a bundle or when rendering fails (the
  // reason is in lastError()). The caller owns the result and retires it like any other.
  OneShot* renderNow(const RenderKey& key);

  juce::String lastError() const;
  // A copy of the newest rendered one-shot (message thread, for the editor's waveform).
  std::vector<float> latestAudio() const;

 private:
  void run() override;
  void freeRetired();
  // The one-shot for `key` with the given engine (worker, or the audio thread offline), or
  // nullptr with lastError() set. Serialised on render_mutex_ (the caches). `may_give_way`: a
  // key's Neural search stops (and is retried later) when the root one-shot's values or the bundle
  // change; the worker's renders may, an offline render must finish.
  std::unique_ptr<OneShot> renderShot(const std::shared_ptr<const Engine>& engine, const RenderKey& key,
                                      bool may_give_way);
  std::vector<float> render(const Engine& engine, const AudioStart* audio, const RenderKey& key, bool may_give_way);
  // Mix: `wet` (model rate) blended with the start's dry side (cached per start).
  void blendDry(const Engine& engine, const AudioStart& start, const RenderKey& key, std::vector<float>& wet);
  // The start regenerated at the key's values, before any key's pitch (cached per control state:
  // every key of one state shares it). `measured`: its features too (Neural mode's root).
  const RootShot& stateShot(const Engine& engine, const AudioStart& start, const RenderKey& key,
                            const ControlTargets& targets, bool measured);
  // stateShot blended with its dry side by Mix (cached likewise: Resample mode's keys share it).
  const std::vector<float>& modelRateShot(const Engine& engine, const AudioStart& start, const RenderKey& key,
                                          const ControlTargets& targets);
  // Worker: the audio thread's key requests into recent_keys_ (most recent first).
  void takeKeyRequests();
  // Worker: renders and publishes the most recent key whose one-shot is missing or stale; false
  // when there is none (or no room to publish: the audio thread wakes the worker when it takes).
  bool renderNextKey(const std::shared_ptr<const Engine>& engine, std::uint64_t serial);
  // Worker: one more varied one-shot into the ring, while Variation is on and the ring has room.
  bool renderNextVariation(const std::shared_ptr<const Engine>& engine, std::uint64_t serial);

  ParameterSource parameters_;
  std::atomic<double> host_rate_{44100.0};
  std::atomic<std::uint64_t> engine_serial_{0};
  std::atomic<bool> has_engine_{false};
  WakeSignal wake_;

  mutable std::mutex engine_mutex_;  // message thread <-> worker, never the audio thread
  std::shared_ptr<const Engine> engine_;
  std::shared_ptr<const AudioStart> audio_start_;  // under engine_mutex_
  std::atomic<std::uint64_t> audio_serial_{0};     // 0 while there is none
  std::uint64_t audio_serials_made_ = 0;           // message thread

  std::atomic<OneShot*> published_{nullptr};
  // Sized so that the audio thread can hand back every one-shot it holds at once (a new bundle
  // drops the root one-shot and every key's).
  static constexpr int kRetiredCapacity = 256;
  juce::AbstractFifo retired_fifo_{kRetiredCapacity};
  std::array<OneShot*, kRetiredCapacity> retired_{};
  juce::AbstractFifo key_shots_fifo_{64};  // worker -> audio thread
  std::array<OneShot*, 64> key_shots_{};
  juce::AbstractFifo key_requests_fifo_{kNumMidiKeys};  // audio thread -> worker
  std::array<int, kNumMidiKeys> key_requests_{};
  std::vector<int> recent_keys_;  // worker: most recently requested first, at most kKeyCacheSize
  std::array<RenderKey, kNumMidiKeys> key_rendered_{};  // worker: the last key tried per MIDI key
  std::array<bool, kNumMidiKeys> key_tried_{};
  juce::AbstractFifo variations_fifo_{kVariationRing};  // worker -> audio thread
  std::array<OneShot*, kVariationRing> variations_{};
  std::atomic<int> variation_note_{-1};  // the key the ring is for
  std::uint64_t next_variation_seed_;    // worker: real-time variations are fresh, not reproducible

  std::mutex render_mutex_;  // worker <-> the audio thread in offline rendering only
  // The dry side of Mix for the current start (a bundle sample or a loaded file): its original, or
  // its reconstruction in a bundle without audio (Engine::dry); under render_mutex_.
  RenderKey dry_key_;
  std::vector<float> dry_;
  // stateShot's and modelRateShot's caches, under render_mutex_ (keys without note, pitch mode,
  // root note and rate).
  RenderKey state_key_;
  RootShot state_shot_;
  bool state_measured_ = false;
  RenderKey model_rate_key_;
  std::vector<float> model_rate_shot_;
  RenderKey last_rendered_;  // worker only
  bool cancelled_ = false;   // worker: the last render gave way to a more urgent one
  bool rendered_any_ = false;
  std::mutex tried_mutex_;  // worker -> waitUntilReady
  std::condition_variable tried_;
  RenderKey last_tried_;

  mutable juce::CriticalSection error_lock_;  // worker <-> message thread
  juce::String last_error_;
  std::vector<float> latest_audio_;
};

}  // namespace latentplay
