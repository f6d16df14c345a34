// The LatentPlay instrument's processor.
//
// Where work happens:
//   message thread  construction, bundle loading (load + validate + warm-up), state, editor;
//   worker thread   Regenerator: every inference (project + decode + resample), woken when a
//                   parameter, the bundle or the host rate changes, or a note asks for its key;
//   audio thread    processBlock: MIDI -> voices over the current one-shot. It never allocates,
//                   locks or runs inference — except in offline rendering (isNonRealtime), where
//                   a note whose one-shot is not ready renders it on the spot, so that bounces
//                   are exact and deterministic.
//
// What the producer hears always matches the status: one-shots of a bundle that is no longer in
// force are dropped, voices fade out when the bundle fails to load, and a non-finite sample never
// reaches the host (the block is silenced and the status says so).
#pragma once

#include <juce_audio_processors/juce_audio_processors.h>

#include <array>
#include <atomic>
#include <memory>

#include "Regenerator.h"
#include "Voices.h"

namespace latentplay {

namespace ids {
// The five controls' IDs are their names in the bundle contract (latentplay/contract.hpp).
inline const std::array<juce::ParameterID, kNumControls> controls = [] {
  std::array<juce::ParameterID, kNumControls> made;
  for (size_t k = 0; k < made.size(); ++k) made[k] = juce::ParameterID{kControlNames[k], 1};
  return made;
}();
inline const juce::ParameterID sample{"sample", 1}, mix{"mix", 1}, detail{"detail", 1}, output_gain{"output_gain", 1},
    velocity_sensitivity{"velocity_sensitivity", 1}, variation{"variation", 1}, pitch_mode{"pitch_mode", 1}, root_note{"root_note", 1},
    choke{"choke", 1};
}  // namespace ids

constexpr int kReadyTimeoutMs = 2000;  // longest prepareToPlay waits for the first one-shot
constexpr int kStateVersion = 2;   // 1: positions only; 2: + the controls in their units, the sample's path

// A bundle opened for use, or why it could not be.
struct OpenedBundle {
  std::shared_ptr<const Engine> engine;
  juce::String error;
};

// The loaded bundle's control ranges, for the parameters' text (any thread).
struct ControlRanges {
  std::array<std::atomic<float>, kNumControls> minimum{}, maximum{};
  std::atomic<bool> known{false};
};

class LatentPlayProcessor : public juce::AudioProcessor, private juce::AudioProcessorValueTreeState::Listener {
  // Declared before `parameters`, as members are built in declaration order: the parameters'
  // text functions read the ranges, and their defaults come from the default bundle (opened
  // first), so that a parameter's default is where a fresh instance starts.
  ControlRanges ranges_;
  std::unique_ptr<Regenerator> regenerator_;
  OpenedBundle initial_;

 public:
  LatentPlayProcessor();
  ~LatentPlayProcessor() override;

  void prepareToPlay(double sample_rate, int block_size) override;
  void releaseResources() override {}
  // Silences every voice before the next block (hosts call it when the transport jumps; it may
  // come from another thread, so the audio thread does the work).
  void reset() override { reset_requested_.store(true); }
  bool isBusesLayoutSupported(const BusesLayout& layouts) const override;
  void processBlock(juce::AudioBuffer<float>& buffer, juce::MidiBuffer& midi) override;

  juce::AudioProcessorEditor* createEditor() override;
  bool hasEditor() const override { return true; }
  const juce::String getName() const override { return "LatentPlay"; }
  bool acceptsMidi() const override { return true; }
  bool producesMidi() const override { return false; }
  bool isMidiEffect() const override { return false; }
  double getTailLengthSeconds() const override { return 0.5; }
  int getNumPrograms() override { return 1; }
  int getCurrentProgram() override { return 0; }
  void setCurrentProgram(int) override {}
  const juce::String getProgramName(int) override { return "Default"; }
  void changeProgramName(int, const juce::String&) override {}
  void getStateInformation(juce::MemoryBlock& data) override;
  void setStateInformation(const void* data, int size) override;

  // Message thread. Loads and checks a bundle; on failure the plugin stays loaded and silent (at
  // once: playing voices fade out) and getStatus() says why. snap_controls: set the five controls
  // to the chosen sample's own values.
  bool loadBundle(const juce::File& folder, bool snap_controls);
  // Message thread: select a sample and set the five controls to its own values (z' = z). Also
  // leaves a loaded audio file.
  void selectSample(int index);
  // Message thread: any audio file (WAV, AIFF) as the starting point, prepared and encoded by the
  // engine as the Python loader does; its prepared audio is the original for Mix and Detail.
  // snap_controls: set the five controls to its own values. Returns "" or why it was refused
  // (the sound is then unchanged; the status says so).
  juce::String loadAudioFile(const juce::File& file, bool snap_controls);
  juce::File audioFile() const;  // the loaded audio file, or File() when playing a bundle sample
  // Message thread: a preset's {parameter id: value in its units}; a "sample" first snaps the
  // controls to that sample's own values, then the other given values apply (as the CLI does).
  void applyPreset(const juce::var& parameters_in_units);
  // The factory presets shipped in LatentPlay.vst3/Contents/Resources/presets/*.json.
  juce::Array<juce::File> factoryPresets() const;
  // Message thread: plays the current one-shot once (the editor's audition button).
  void audition() { audition_requested_.store(true); }

  // The status line: what is loaded, or why the plugin is silent, and any failure since.
  juce::String getStatus() const;
  std::shared_ptr<const Engine> engine() const { return regenerator_->engine(); }
  // Changes whenever a bundle is loaded or fails to load (a new engine may reuse an old address).
  std::uint64_t engineSerial() const { return regenerator_->engineSerial(); }
  juce::File bundleFolder() const;
  // The latent point the current parameter values ask for (message thread; for the latent map).
  Eigen::VectorXd currentLatent() const;
  // A copy of the newest one-shot the worker made (message thread; for the waveform view).
  std::vector<float> currentWaveform() const;
  // Message thread: the current one-shot (what a note plays now at the current values, unvaried,
  // at the host rate), rendered now and written to `file` as a 32-bit float WAV, bit-exact (the
  // editor's Export WAV...). Returns "" or why it could not.
  juce::String writeOneShot(const juce::File& file);
  // Its file name, as `latentplay expand` names its files: the start's name and the control values.
  juce::String oneShotFileName() const;
  // Message thread: the current one-shot written into a folder of its own under the temporary
  // folder, for dragging out of the editor into a DAW or a file manager. File() on failure.
  juce::File writeOneShotForDrag();

  juce::AudioProcessorValueTreeState parameters;

 private:
  juce::AudioProcessorValueTreeState::ParameterLayout createLayout();
  static juce::File defaultBundle();
  static juce::File resourcesFolder();
  static OpenedBundle openBundle(const juce::File& folder);
  void useBundle(std::shared_ptr<const Engine> engine, const juce::File& folder);
  void fallBackToDefault(const juce::String& why);
  void setStatus(const juce::String& text);
  void parameterChanged(const juce::String& id, float value) override;
  void adopt(OneShot*& slot, OneShot* shot);
  void letGo(OneShot* shot);
  void dropStale();
  void startPendingNotes();
  void retireIdle();
  // velocity 0..1; position: the note's time in samples (the host's timeline when it says, else
  // since the last reset), which seeds its variation in offline renders.
  void startNote(int note, float velocity, std::int64_t position);
  // Audio thread: with Variation on, a varied one-shot for this note (the ring's in real time, one
  // rendered now offline), which the caller lets go once its voice started; nullptr: play unvaried.
  OneShot* variedShot(int note, std::int64_t position);
  // Audio thread: where this block starts on the host's timeline, in samples.
  std::int64_t blockStart() const;
  // Audio thread: the one-shot a note of `note` plays and how much faster (key tracking).
  std::pair<OneShot*, double> shotForNote(int note);
  // Audio thread, offline only: makes `slot` the one-shot of `wanted` now (renders it unless it
  // is already). False when the render failed.
  bool renderOffline(OneShot*& slot, const RenderKey& wanted);
  void takeKeyShots();
  void sanitise(juce::AudioBuffer<float>& buffer);
  float controlValue(int k) const;
  // State (message thread).
  static void writeBundlePath(juce::XmlElement& root, const juce::File& folder);
  static juce::File resolveBundlePath(const juce::XmlElement& root);
  void writeControls(juce::XmlElement& root) const;
  juce::String restoreControls(const juce::XmlElement& controls);
  void restoreBundle(const juce::XmlElement& root);
  void restoreKeyTracking(const juce::XmlElement& saved_parameters);
  void writeAudioStart(juce::XmlElement& root) const;
  void restoreAudioStart(const juce::XmlElement* audio);

  Voices voices_;
  OneShot* current_ = nullptr;  // audio thread
  // Audio thread, key tracking on: each MIDI key's own one-shot (rendered by the worker).
  std::array<OneShot*, kNumMidiKeys> by_note_{};
  // Audio thread: one-shots replaced while voices still play them, or waiting for room in the
  // worker's retire queue. A fresh one-shot is taken only while there is room here; a new bundle
  // may drop every one-shot held at once.
  std::array<OneShot*, Voices::kSlots + kNumMidiKeys + 3> draining_{};
  int draining_count_ = 0;
  struct PendingNote {
    int note = 0;
    float velocity = 0.0f;
  };
  std::array<PendingNote, 16> pending_notes_{};  // audio thread: notes waiting for a new bundle's first one-shot
  int pending_count_ = 0;
  std::int64_t samples_since_reset_ = 0;  // audio thread: the timeline when the host gives none
  std::atomic<bool> audition_requested_{false};
  std::atomic<bool> reset_requested_{false};
  std::atomic<bool> silenced_non_finite_{false};  // set by the audio thread, shown in the status

  mutable juce::CriticalSection status_lock_;  // message thread and worker, never the audio thread
  juce::String status_;
  juce::File bundle_folder_;
  juce::String bundle_model_id_;
  // A saved bundle that could not be loaded (missing or broken): kept in the state, so that
  // saving again loses nothing, until the producer chooses another bundle.
  juce::File unloaded_saved_bundle_;
  juce::File audio_file_;  // under status_lock_: the file behind the regenerator's audio start
  juce::String audio_refused_path_, audio_refused_reason_;  // under status_lock_: the last file refused
  juce::String unloaded_saved_model_id_, unloaded_reason_;

  std::atomic<float>* mix_ = nullptr;
  std::atomic<float>* gain_db_ = nullptr;
  std::atomic<float>* velocity_sensitivity_ = nullptr;

  std::atomic<float>* choke_ = nullptr;

  JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR(LatentPlayProcessor)
};

}  // namespace latentplay
