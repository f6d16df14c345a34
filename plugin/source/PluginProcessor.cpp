#include "PluginProcessor.h"

#include "PluginEditor.h"
#include "latentplay/errors.hpp"
#include "latentplay/naming.hpp"

namespace latentplay {

namespace {

juce::String formatNumber(double value, const char* unit) {
  return juce::String(value, 2) + (unit[0] ? juce::String(" ") + unit : juce::String());
}

// An integer parameter that hosts see as stepped (JUCE reports an AudioParameterInt to VST3
// hosts as continuous unless it says it is discrete).
class SteppedIntParameter : public juce::AudioParameterInt {
 public:
  using juce::AudioParameterInt::AudioParameterInt;
  bool isDiscrete() const override { return true; }
};

// The five controls' positions where a fresh instance starts: the first sample's own values.
std::array<float, kNumControls> startingPositions(const Engine* engine) {
  std::array<float, kNumControls> positions;
  positions.fill(0.5f);
  if (engine == nullptr) return positions;
  const Eigen::VectorXd own = engine->own_positions(engine->bundle().samples.front().latent);
  for (int k = 0; k < kNumControls; ++k) positions[static_cast<size_t>(k)] = static_cast<float>(own[k]);
  return positions;
}

}  // namespace

float LatentPlayProcessor::controlValue(int k) const {
  return parameters.getRawParameterValue(ids::controls[static_cast<size_t>(k)].getParamID())->load();
}

juce::AudioProcessorValueTreeState::ParameterLayout LatentPlayProcessor::createLayout() {
  juce::AudioProcessorValueTreeState::ParameterLayout layout;
  // The five controls are stored as positions 0..1 in the loaded bundle's ranges (which differ
  // between bundles); hosts see them in real units through the text functions.
  const std::array<float, kNumControls> defaults = startingPositions(initial_.engine.get());
  for (int k = 0; k < kNumControls; ++k) {
    auto to_text = [this, k](float position, int) -> juce::String {
      if (!ranges_.known.load()) return juce::String(position, 3);
      const float low = ranges_.minimum[k].load(), high = ranges_.maximum[k].load();
      return formatNumber(low + position * (high - low), kControlUnits[static_cast<size_t>(k)]);
    };
    auto from_text = [this, k](const juce::String& text) -> float {
      const double value = text.retainCharacters("0123456789.-eE").getDoubleValue();
      if (!ranges_.known.load()) return juce::jlimit(0.0f, 1.0f, static_cast<float>(value));
      const double low = ranges_.minimum[k].load(), high = ranges_.maximum[k].load();
      return juce::jlimit(0.0f, 1.0f, static_cast<float>((value - low) / (high - low)));
    };
    layout.add(std::make_unique<juce::AudioParameterFloat>(
        ids::controls[static_cast<size_t>(k)], kControlLabels[static_cast<size_t>(k)],
        juce::NormalisableRange<float>(0.0f, 1.0f), defaults[static_cast<size_t>(k)],
        juce::AudioParameterFloatAttributes().withStringFromValueFunction(to_text).withValueFromStringFunction(
            from_text)));
  }
  auto sample_name = [this](int index, int) -> juce::String {
    const auto current = regenerator_ ? regenerator_->engine() : nullptr;
    if (current == nullptr) return juce::String(index);
    const auto& samples = current->bundle().samples;
    const auto& path = samples[static_cast<size_t>(juce::jlimit(0, static_cast<int>(samples.size()) - 1, index))].path;
    return juce::File::createFileWithoutCheckingPath("/" + juce::String(path)).getFileNameWithoutExtension();
  };
  layout.add(std::make_unique<SteppedIntParameter>(ids::sample, "Sample", 0, kSampleParameterSteps, 0,
                                                        juce::AudioParameterIntAttributes().withStringFromValueFunction(
                                                            sample_name)));
  layout.add(std::make_unique<juce::AudioParameterFloat>(ids::mix, "Mix", juce::NormalisableRange<float>(0.0f, 1.0f),
                                                          1.0f));
  // Detail adds the sample's own residual (original − reconstruction) to the regenerated one-shot:
  // the click and the room the model does not reproduce. 0 = the model alone (as before).
  layout.add(std::make_unique<juce::AudioParameterFloat>(ids::detail, "Detail",
                                                          juce::NormalisableRange<float>(0.0f, 1.0f), 0.0f));
  layout.add(std::make_unique<juce::AudioParameterFloat>(
      ids::output_gain, "Output Gain", juce::NormalisableRange<float>(-48.0f, 12.0f), 0.0f,
      juce::AudioParameterFloatAttributes().withStringFromValueFunction(
          [](float value, int) { return juce::String(value, 1) + " dB"; })));
  layout.add(std::make_unique<juce::AudioParameterFloat>(
      ids::velocity_sensitivity, "Velocity Sensitivity", juce::NormalisableRange<float>(0.0f, 1.0f), 1.0f));
  // Per-note variation: every note plays a fresh point near the current one; 1 = the typical
  // distance between neighbouring training samples. 0 = every note the same one-shot.
  layout.add(std::make_unique<juce::AudioParameterFloat>(ids::variation, "Variation",
                                                          juce::NormalisableRange<float>(0.0f, 1.0f), 0.0f));
  // Key tracking. Resample: a key plays the one-shot faster or slower (shorter or longer), band-
  // limited; Neural: a key sets the Frequency control (Root Note = its current value, equal
  // temperament, within the control's range; beyond it the rest is resampled), so the envelope stays.
  layout.add(std::make_unique<juce::AudioParameterChoice>(ids::pitch_mode, "Pitch Mode",
                                                           juce::StringArray{"Off", "Resample", "Neural"}, 0));
  layout.add(std::make_unique<SteppedIntParameter>(ids::root_note, "Root Note", 0, 127, 60));
  layout.add(std::make_unique<juce::AudioParameterBool>(ids::choke, "Choke", false));
  return layout;
}

LatentPlayProcessor::LatentPlayProcessor()
    : juce::AudioProcessor(BusesProperties().withOutput("Output", juce::AudioChannelSet::stereo(), true)),
      initial_(openBundle(defaultBundle())),
      parameters(*this, nullptr, "PARAMETERS", createLayout()) {
  ParameterSource source;
  for (int k = 0; k < kNumControls; ++k)
    source.controls[static_cast<size_t>(k)] =
        parameters.getRawParameterValue(ids::controls[static_cast<size_t>(k)].getParamID());
  source.sample = parameters.getRawParameterValue(ids::sample.getParamID());
  source.mix = mix_ = parameters.getRawParameterValue(ids::mix.getParamID());
  source.detail = parameters.getRawParameterValue(ids::detail.getParamID());
  gain_db_ = parameters.getRawParameterValue(ids::output_gain.getParamID());
  velocity_sensitivity_ = parameters.getRawParameterValue(ids::velocity_sensitivity.getParamID());
  choke_ = parameters.getRawParameterValue(ids::choke.getParamID());
  source.pitch_mode = parameters.getRawParameterValue(ids::pitch_mode.getParamID());
  source.root_note = parameters.getRawParameterValue(ids::root_note.getParamID());
  source.variation = parameters.getRawParameterValue(ids::variation.getParamID());
  regenerator_ = std::make_unique<Regenerator>(source);
  for (const auto& id : ids::controls) parameters.addParameterListener(id.getParamID(), this);
  parameters.addParameterListener(ids::sample.getParamID(), this);
  parameters.addParameterListener(ids::mix.getParamID(), this);
  parameters.addParameterListener(ids::detail.getParamID(), this);
  parameters.addParameterListener(ids::pitch_mode.getParamID(), this);
  parameters.addParameterListener(ids::root_note.getParamID(), this);
  parameters.addParameterListener(ids::variation.getParamID(), this);
  set_intra_op_threads(1);  // a plugin shares the machine with the host and other plugins

  // The parameters already start at the first sample's own values (their defaults).
  if (initial_.engine != nullptr)
    useBundle(std::move(initial_.engine), defaultBundle());
  else if (defaultBundle().exists())
    setStatus("Bundle not loaded (silent): " + initial_.error);
  else
    setStatus("No bundle loaded: choose a .latentplay folder (silent until then)");
  initial_ = {};
}

LatentPlayProcessor::~LatentPlayProcessor() {
  for (const auto& id : ids::controls) parameters.removeParameterListener(id.getParamID(), this);
  parameters.removeParameterListener(ids::sample.getParamID(), this);
  parameters.removeParameterListener(ids::mix.getParamID(), this);
  parameters.removeParameterListener(ids::detail.getParamID(), this);
  parameters.removeParameterListener(ids::pitch_mode.getParamID(), this);
  parameters.removeParameterListener(ids::root_note.getParamID(), this);
  parameters.removeParameterListener(ids::variation.getParamID(), this);
  regenerator_.reset();  // stops the worker before the one-shots go
  voices_.stopAll();
  delete current_;
  for (OneShot* shot : by_note_) delete shot;
  for (int i = 0; i < draining_count_; ++i) delete draining_[static_cast<size_t>(i)];
}

// Any thread (hosts automate from the audio thread): only a lock-free wake-up.
void LatentPlayProcessor::parameterChanged(const juce::String&, float) { regenerator_->requestRender(); }

juce::File LatentPlayProcessor::resourcesFolder() {
  // Inside a plugin, currentExecutableFile is the plugin's own binary:
  //   VST3: LatentPlay.vst3/Contents/x86_64-linux/LatentPlay.so -> LatentPlay.vst3/Contents/Resources/
  //   LV2:  LatentPlay.lv2/libLatentPlay.so -> LatentPlay.lv2/Resources/ (an LV2 bundle is the
  //         folder holding manifest.ttl, whatever it is named)
  const juce::File binary = juce::File::getSpecialLocation(juce::File::currentExecutableFile);
  if (binary.getSiblingFile("manifest.ttl").existsAsFile()) return binary.getSiblingFile("Resources");
  return binary.getParentDirectory().getSiblingFile("Resources");
}

juce::File LatentPlayProcessor::defaultBundle() {
  const juce::String from_environment = juce::SystemStats::getEnvironmentVariable("LATENTPLAY_BUNDLE", {});
  if (from_environment.isNotEmpty()) return juce::File(from_environment);
  return resourcesFolder().getChildFile("default.latentplay");
}

juce::Array<juce::File> LatentPlayProcessor::factoryPresets() const {
  juce::Array<juce::File> presets =
      resourcesFolder().getChildFile("presets").findChildFiles(juce::File::findFiles, false, "*.json");
  presets.sort();
  return presets;
}

void LatentPlayProcessor::applyPreset(const juce::var& values) {
  const auto current = regenerator_->engine();
  if (current == nullptr || !values.isObject()) return;
  if (values.hasProperty("sample")) selectSample(static_cast<int>(values["sample"]));
  const Bundle& bundle = current->bundle();
  for (const auto& property : values.getDynamicObject()->getProperties()) {
    const juce::String id = property.name.toString();
    if (id == "sample") continue;
    auto* parameter = parameters.getParameter(id);
    if (parameter == nullptr) continue;  // unknown names are ignored, as old presets may hold some
    const float value = static_cast<float>(static_cast<double>(property.value));
    float position = parameter->convertTo0to1(value);
    for (int k = 0; k < kNumControls; ++k)
      if (id == ids::controls[static_cast<size_t>(k)].getParamID())
        position = static_cast<float>(bundle.controls[k].positionOf(value));
    parameter->setValueNotifyingHost(juce::jlimit(0.0f, 1.0f, position));
  }
}

void LatentPlayProcessor::setStatus(const juce::String& text) {
  const juce::ScopedLock lock(status_lock_);
  status_ = text;
}

juce::String LatentPlayProcessor::getStatus() const {
  const juce::String error = regenerator_->lastError();
  juce::String status;
  {
    const juce::ScopedLock lock(status_lock_);
    status = status_;
  }
  if (error.isNotEmpty()) status += " | last regeneration failed (that note was silent): " + error;
  if (silenced_non_finite_.load()) status += " | non-finite output (NaN/Inf) was silenced";
  return status;
}

juce::File LatentPlayProcessor::bundleFolder() const {
  const juce::ScopedLock lock(status_lock_);
  return bundle_folder_;
}

OpenedBundle LatentPlayProcessor::openBundle(const juce::File& folder) {
  if (!folder.isDirectory()) return {nullptr, folder.getFullPathName() + ": no such bundle folder"};
  try {
    return {std::make_shared<const Engine>(folder.getFullPathName().toStdString()), {}};
  } catch (const std::exception& error) {  // BundleError, or anything libtorch throws
    return {nullptr, error.what()};
  }
}

void LatentPlayProcessor::useBundle(std::shared_ptr<const Engine> engine, const juce::File& folder) {
  const Bundle& bundle = engine->bundle();
  for (int k = 0; k < kNumControls; ++k) {
    ranges_.minimum[static_cast<size_t>(k)].store(static_cast<float>(bundle.controls[k].minimum));
    ranges_.maximum[static_cast<size_t>(k)].store(static_cast<float>(bundle.controls[k].maximum));
  }
  ranges_.known.store(true);
  {
    const juce::ScopedLock lock(status_lock_);
    bundle_folder_ = folder;
    bundle_model_id_ = bundle.model_id;
    unloaded_saved_bundle_ = juce::File();
    unloaded_reason_.clear();
  }
  setStatus("Loaded " + folder.getFileName() + ": " + juce::String(bundle.samples.size()) + " samples, latent " +
            juce::String(bundle.latent_dim) + ", model " + juce::String(bundle.model_id).substring(0, 12));
  regenerator_->setEngine(std::move(engine));
}

bool LatentPlayProcessor::loadBundle(const juce::File& folder, bool snap_controls) {
  OpenedBundle opened = openBundle(folder);
  if (opened.engine == nullptr) {
    regenerator_->setEngine(nullptr);  // the audio thread fades out what plays and drops the one-shot
    ranges_.known.store(false);
    {
      const juce::ScopedLock lock(status_lock_);
      bundle_folder_ = folder;
      bundle_model_id_.clear();
      unloaded_saved_bundle_ = juce::File();
      unloaded_reason_.clear();
    }
    setStatus("Bundle not loaded (silent): " + opened.error);
    return false;
  }
  useBundle(std::move(opened.engine), folder);
  if (snap_controls) selectSample(static_cast<int>(parameters.getRawParameterValue(ids::sample.getParamID())->load()));
  updateHostDisplay(ChangeDetails().withParameterInfoChanged(true));
  return true;
}

void LatentPlayProcessor::selectSample(int index) {
  const auto current = regenerator_->engine();
  if (current == nullptr) return;
  const Bundle& bundle = current->bundle();
  index = juce::jlimit(0, static_cast<int>(bundle.samples.size()) - 1, index);
  regenerator_->setAudioStart(nullptr);  // a bundle sample again, not a loaded file
  const Eigen::VectorXd own = current->own_positions(bundle.samples[static_cast<size_t>(index)].latent);
  auto* sample = parameters.getParameter(ids::sample.getParamID());
  sample->setValueNotifyingHost(sample->convertTo0to1(static_cast<float>(index)));
  for (int k = 0; k < kNumControls; ++k)
    parameters.getParameter(ids::controls[static_cast<size_t>(k)].getParamID())
        ->setValueNotifyingHost(static_cast<float>(own[k]));
}

Eigen::VectorXd LatentPlayProcessor::currentLatent() const {
  const auto current = regenerator_->engine();
  if (current == nullptr) return {};
  const Bundle& bundle = current->bundle();
  const int index = juce::jlimit(0, static_cast<int>(bundle.samples.size()) - 1,
                                 static_cast<int>(parameters.getRawParameterValue(ids::sample.getParamID())->load()));
  ControlTargets targets;
  for (int k = 0; k < kNumControls; ++k) targets[k] = bundle.controls[k].valueAt(controlValue(k));
  const auto audio = regenerator_->audioStart();
  if (audio != nullptr && audio->latent.size() == bundle.latent_dim) return current->move(audio->latent, targets);
  return current->move(bundle.samples[static_cast<size_t>(index)].latent, targets);
}

std::vector<float> LatentPlayProcessor::currentWaveform() const { return regenerator_->latestAudio(); }

juce::String LatentPlayProcessor::oneShotFileName() const {
  const auto current = regenerator_->engine();
  if (current == nullptr) return "LatentPlay.wav";
  const Bundle& bundle = current->bundle();
  std::array<double, kNumControls> values{};
  for (int k = 0; k < kNumControls; ++k) values[static_cast<size_t>(k)] = bundle.controls[k].valueAt(controlValue(k));
  const juce::File loaded = audioFile();
  const int index = juce::jlimit(0, static_cast<int>(bundle.samples.size()) - 1,
                                 static_cast<int>(parameters.getRawParameterValue(ids::sample.getParamID())->load()));
  const std::string start = loaded != juce::File() ? loaded.getFileName().toStdString()
                                                   : bundle.samples[static_cast<size_t>(index)].path;
  return one_shot_file_name(start, values);
}

juce::String LatentPlayProcessor::writeOneShot(const juce::File& file) {
  const RenderKey wanted = regenerator_->wantedKey();
  if (!regenerator_->hasEngine()) return "no bundle loaded: nothing to export";
  const std::unique_ptr<OneShot> shot(regenerator_->renderNow(wanted));
  if (shot == nullptr) return "the one-shot could not be rendered: " + regenerator_->lastError();
  if (!file.getParentDirectory().createDirectory()) return file.getParentDirectory().getFullPathName() + ": cannot create";
  file.deleteFile();
  juce::WavAudioFormat wav;
  std::unique_ptr<juce::OutputStream> stream = file.createOutputStream();
  if (stream == nullptr) return file.getFullPathName() + ": cannot write";
  // 32 bits: JUCE writes IEEE float, so the file holds exactly the samples a note plays.
  std::unique_ptr<juce::AudioFormatWriter> writer(wav.createWriterFor(stream.get(), wanted.rate, 1, 32, {}, 0));
  if (writer == nullptr) return file.getFullPathName() + ": cannot write a WAV at " + juce::String(wanted.rate) + " Hz";
  stream.release();  // the writer owns it now
  const float* channels[] = {shot->audio.data()};
  if (!writer->writeFromFloatArrays(channels, 1, static_cast<int>(shot->audio.size())))
    return file.getFullPathName() + ": writing failed";
  return {};
}

juce::File LatentPlayProcessor::writeOneShotForDrag() {
  // A folder per drag: the DAW may read the file after the drag ends, so it is not overwritten.
  const juce::File folder = juce::File::getSpecialLocation(juce::File::tempDirectory)
                                .getChildFile("LatentPlay")
                                .getNonexistentChildFile("drag", "", false);
  const juce::File file = folder.getChildFile(oneShotFileName());
  return writeOneShot(file).isEmpty() ? file : juce::File();
}

void LatentPlayProcessor::prepareToPlay(double sample_rate, int) {
  voices_.setSampleRate(sample_rate);
  samples_since_reset_ = 0;  // hosts never call this while processBlock runs
  regenerator_->setHostRate(sample_rate);
  // Hosts may block here: have the one-shot at this rate ready, or the first notes of a live
  // performance would find none (a warm render takes milliseconds).
  regenerator_->waitUntilReady(kReadyTimeoutMs);
}

bool LatentPlayProcessor::isBusesLayoutSupported(const BusesLayout& layouts) const {
  const auto output = layouts.getMainOutputChannelSet();
  return output == juce::AudioChannelSet::stereo() || output == juce::AudioChannelSet::mono();
}

// Audio thread: `shot` takes `slot` (current_ or a key's); the old one drains (voices still play
// it) or goes back to the worker. Callers make sure draining_ has room.
void LatentPlayProcessor::adopt(OneShot*& slot, OneShot* shot) {
  if (shot == nullptr) return;
  letGo(slot);
  slot = shot;
}

// Audio thread: key one-shots the worker finished, each into its key's place.
void LatentPlayProcessor::takeKeyShots() {
  while (draining_count_ < static_cast<int>(draining_.size()) - 2) {
    OneShot* shot = regenerator_->takeKeyShot();
    if (shot == nullptr) return;
    if (shot->key.engine_serial != regenerator_->engineSerial())
      letGo(shot);  // made by a bundle no longer in force
    else
      adopt(by_note_[static_cast<size_t>(shot->key.note)], shot);
  }
}

// Audio thread: a one-shot no longer current goes back to the worker, or waits in draining_
// while voices play it (or the retire queue is full).
void LatentPlayProcessor::letGo(OneShot* shot) {
  if (shot != nullptr && (shot->active_voices > 0 || !regenerator_->retire(shot)))
    draining_[static_cast<size_t>(draining_count_++)] = shot;
}

// Audio thread: a one-shot of a bundle no longer in force is never played again; without a
// bundle, what still sounds fades out at once (the status says "silent").
void LatentPlayProcessor::dropStale() {
  // draining_ has room: a one-shot is taken only with two places free, and dropping one leaves
  // current_ empty until the next is taken.
  const std::uint64_t serial = regenerator_->engineSerial();
  auto drop = [&](OneShot*& slot) {
    if (slot == nullptr || slot->key.engine_serial == serial) return;
    jassert(draining_count_ < static_cast<int>(draining_.size()));
    letGo(slot);
    slot = nullptr;
  };
  drop(current_);
  for (OneShot*& shot : by_note_) drop(shot);
  if (!regenerator_->hasEngine()) {
    voices_.fadeOutAll();
    pending_count_ = 0;
  }
}

// Audio thread: notes that came while no one-shot existed start now, late by at most one
// regeneration, rather than never.
void LatentPlayProcessor::startPendingNotes() {
  if (current_ == nullptr) return;
  for (int i = 0; i < pending_count_; ++i)
    startNote(pending_notes_[static_cast<size_t>(i)].note, pending_notes_[static_cast<size_t>(i)].velocity,
              samples_since_reset_);
  pending_count_ = 0;
}

void LatentPlayProcessor::retireIdle() {
  int kept = 0;
  for (int i = 0; i < draining_count_; ++i) {
    OneShot* shot = draining_[static_cast<size_t>(i)];
    if (shot->active_voices > 0 || !regenerator_->retire(shot)) draining_[static_cast<size_t>(kept++)] = shot;
  }
  draining_count_ = kept;
}

bool LatentPlayProcessor::renderOffline(OneShot*& slot, const RenderKey& wanted) {
  if (slot != nullptr && slot->key == wanted) return true;
  OneShot* rendered = regenerator_->renderNow(wanted);
  if (rendered == nullptr) return false;  // no bundle, or the render failed (the status says why)
  retireIdle();
  if (draining_count_ >= static_cast<int>(draining_.size()) - 1) {
    // Cannot happen with the voice count bounded; offline, the audio thread may free memory.
    voices_.stopAll();
    for (int i = 0; i < draining_count_; ++i) delete draining_[static_cast<size_t>(i)];
    draining_count_ = 0;
  }
  adopt(slot, rendered);
  return true;
}

// A key's own one-shot when there is one (perhaps of values changed a moment ago, as the root
// one-shot may be), else, in real time, the nearest key's (or the root one-shot) played faster
// or slower until the worker delivers it. Offline, the key's own, rendered now.
std::pair<OneShot*, double> LatentPlayProcessor::shotForNote(int note) {
  const PitchMode mode = regenerator_->pitchMode();
  if (mode == PitchMode::off) return {current_, 1.0};
  OneShot*& own = by_note_[static_cast<size_t>(note)];
  const RenderKey wanted = regenerator_->wantedKey(note);
  if (isNonRealtime()) return {renderOffline(own, wanted) ? own : nullptr, 1.0};
  if (own == nullptr || own->key != wanted) regenerator_->requestKey(note);
  if (own != nullptr) return {own, 1.0};
  int nearest = -1;
  for (int other = 0; other < kNumMidiKeys; ++other)
    if (by_note_[static_cast<size_t>(other)] != nullptr && (nearest < 0 || std::abs(other - note) < std::abs(nearest - note)))
      nearest = other;
  if (nearest >= 0) return {by_note_[static_cast<size_t>(nearest)], std::pow(2.0, (note - nearest) / 12.0)};
  return {current_, std::pow(2.0, (note - regenerator_->rootNote()) / 12.0)};
}

namespace {

// A note's variation seed offline: its time and key, mixed (splitmix64's finaliser) so that
// neighbouring times give unrelated directions.
std::uint64_t noteSeed(std::int64_t position, int note) {
  std::uint64_t z = static_cast<std::uint64_t>(position) * 131u + static_cast<std::uint64_t>(note) + 0x9e3779b97f4a7c15u;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return (z ^ (z >> 31)) | 1u;  // never 0 (0 = unvaried)
}

}  // namespace

OneShot* LatentPlayProcessor::variedShot(int note, std::int64_t position) {
  if (regenerator_->variationAmount() <= 0.0f) return nullptr;
  if (isNonRealtime()) {
    OneShot* shot = nullptr;
    return renderOffline(shot, regenerator_->variedKey(note, noteSeed(position, note))) ? shot : nullptr;
  }
  const RenderKey wanted = regenerator_->variedKey(note, 0);
  // Varied one-shots of values no longer in force (or of another key) are handed back.
  while (draining_count_ < static_cast<int>(draining_.size()) - 2) {
    OneShot* shot = regenerator_->takeVariation();
    if (shot == nullptr) break;
    if (wanted.sameButSeed(shot->key)) return shot;
    letGo(shot);
  }
  regenerator_->requestVariations(wanted.note);
  return nullptr;  // none ready: this note plays unvaried
}

void LatentPlayProcessor::startNote(int note, float velocity, std::int64_t position) {
  // Offline: the note plays the one-shot of the values in force now.
  if (isNonRealtime() && !renderOffline(current_, regenerator_->wantedKey())) return;
  if (current_ == nullptr) {  // real time, the bundle's first one-shot not made yet: play it when it comes
    if (regenerator_->hasEngine() && pending_count_ < static_cast<int>(pending_notes_.size()))
      pending_notes_[static_cast<size_t>(pending_count_++)] = {note, velocity};
    return;
  }
  const float sensitivity = velocity_sensitivity_->load();
  const float velocity_gain = (1.0f - sensitivity) + sensitivity * velocity;
  if (OneShot* varied = variedShot(note, position)) {  // its own, played once
    voices_.start(varied, velocity_gain, 1.0, choke_->load() > 0.5f);
    letGo(varied);
    return;
  }
  const auto [shot, speed] = shotForNote(note);
  if (shot == nullptr) return;
  voices_.start(shot, velocity_gain, speed, choke_->load() > 0.5f);
}

std::int64_t LatentPlayProcessor::blockStart() const {
  if (auto* head = getPlayHead())
    if (const auto position = head->getPosition())
      if (const auto samples = position->getTimeInSamples()) return *samples;
  return samples_since_reset_;
}

// Audio thread: a non-finite sample never reaches the host.
void LatentPlayProcessor::sanitise(juce::AudioBuffer<float>& buffer) {
  for (int channel = 0; channel < buffer.getNumChannels(); ++channel) {
    const float* samples = buffer.getReadPointer(channel);
    for (int i = 0; i < buffer.getNumSamples(); ++i) {
      if (!std::isfinite(samples[i])) {
        buffer.clear();
        voices_.stopAll();
        silenced_non_finite_.store(true);
        return;
      }
    }
  }
}

void LatentPlayProcessor::processBlock(juce::AudioBuffer<float>& buffer, juce::MidiBuffer& midi) {
  juce::ScopedNoDenormals no_denormals;
  buffer.clear();
  if (reset_requested_.exchange(false)) {  // a reset means no tails: renders start clean
    voices_.stopAll();
    pending_count_ = 0;
    samples_since_reset_ = 0;
  }
  retireIdle();
  dropStale();
  // Room is kept for the current one-shot and one offline render; a fresh one-shot waits (the
  // worker may replace it) until voices release the ones they play.
  if (draining_count_ < static_cast<int>(draining_.size()) - 2) {
    OneShot* fresh = regenerator_->takeFresh();
    if (fresh != nullptr && fresh->key.engine_serial != regenerator_->engineSerial()) {
      letGo(fresh);  // made by a bundle no longer in force
      fresh = nullptr;
    }
    adopt(current_, fresh);
  }
  takeKeyShots();
  startPendingNotes();
  const float output_gain = juce::Decibels::decibelsToGain(gain_db_->load(), -48.0f);
  const int length = buffer.getNumSamples();
  const std::int64_t block_start = blockStart();
  int position = 0;
  for (const auto event : midi) {
    const int at = juce::jlimit(0, length, event.samplePosition);
    voices_.render(buffer, position, at - position, output_gain);
    position = at;
    // Read from the raw bytes: building a juce::MidiMessage would allocate for a long SysEx.
    if (event.numBytes < 3) continue;
    const int kind = event.data[0] & 0xf0;
    if (kind == 0x90 && event.data[2] > 0)
      startNote(event.data[1], static_cast<float>(event.data[2]) / 127.0f, block_start + at);
    else if (kind == 0xb0 && (event.data[1] == 120 || event.data[1] == 123)) {  // all sound / all notes off
      voices_.stopAll();
      pending_count_ = 0;
    }
  }
  if (audition_requested_.exchange(false)) startNote(60, 1.0f, block_start);
  voices_.render(buffer, position, length - position, output_gain);
  sanitise(buffer);
  retireIdle();
  samples_since_reset_ += length;
}

// The state, version 2:
//   <LatentPlay version="2" bundle="/abs/folder" | bundle_in_plugin="default.latentplay"
//               model_id="…" [bundle_error="why the saved bundle is not the one playing"]>
//     <controls sample="pack/kick.wav" sample_index="3" pc1="…" pc2="…" frequency="…" …/>  (units)
//     <PARAMETERS …/>   (every parameter as the host sees it: the controls as 0..1 positions)
//   </LatentPlay>
// Version 1 had no version, no controls element: its positions are restored as they are.
// A bundle inside the plugin's own folder is stored relative to it (the plugin may move).
void LatentPlayProcessor::getStateInformation(juce::MemoryBlock& data) {
  juce::XmlElement root("LatentPlay");
  root.setAttribute("version", kStateVersion);
  {
    const juce::ScopedLock lock(status_lock_);
    const bool kept = unloaded_saved_bundle_ != juce::File();
    writeBundlePath(root, kept ? unloaded_saved_bundle_ : bundle_folder_);
    root.setAttribute("model_id", kept ? unloaded_saved_model_id_ : bundle_model_id_);
    if (kept) root.setAttribute("bundle_error", unloaded_reason_);
  }
  writeControls(root);
  writeAudioStart(root);
  if (auto xml = parameters.copyState().createXml()) root.addChildElement(xml.release());
  copyXmlToBinary(root, data);
}

// <audio path="/abs/kick.wav" latent="z0 z1 …"/>: the file, and its latent point for when it is gone.
void LatentPlayProcessor::writeAudioStart(juce::XmlElement& root) const {
  {
    const juce::ScopedLock lock(status_lock_);  // for hosts and tests without an editor: why a file was refused
    if (audio_refused_path_.isNotEmpty()) {
      auto* refused = root.createNewChildElement("audio_refused");
      refused->setAttribute("path", audio_refused_path_);
      refused->setAttribute("reason", audio_refused_reason_);
    }
  }
  const auto start = regenerator_->audioStart();
  if (start == nullptr) return;
  auto* audio = root.createNewChildElement("audio");
  audio->setAttribute("path", audioFile().getFullPathName());
  juce::StringArray values;
  for (Eigen::Index i = 0; i < start->latent.size(); ++i) values.add(juce::String(start->latent[i], 9));
  audio->setAttribute("latent", values.joinIntoString(" "));
}

void LatentPlayProcessor::restoreAudioStart(const juce::XmlElement* audio) {
  if (audio == nullptr) {
    regenerator_->setAudioStart(nullptr);
    const juce::ScopedLock lock(status_lock_);
    audio_file_ = juce::File();
    return;
  }
  const juce::File file(audio->getStringAttribute("path"));
  const juce::String why = loadAudioFile(file, false);
  if (why.isEmpty()) return;
  const auto current = regenerator_->engine();
  juce::StringArray values;
  values.addTokens(audio->getStringAttribute("latent"), " ", "");
  values.removeEmptyStrings();
  if (current == nullptr || values.size() != current->bundle().latent_dim) {
    setStatus(getStatus() + " | the saved audio start is not usable with this bundle");
    return;
  }
  Eigen::VectorXd latent(values.size());
  for (int i = 0; i < values.size(); ++i) latent[i] = values[i].getDoubleValue();
  try {
    regenerator_->setAudioStart(std::make_shared<const AudioStart>(current->start_from_latent(latent)));
    {
      const juce::ScopedLock lock(status_lock_);
      audio_file_ = file;
    }
    setStatus("Playing the saved point of " + file.getFileName() + ": the file is gone (" + why +
              "), so Mix and Detail have no original");
  } catch (const std::exception& error) {
    setStatus(getStatus() + " | the saved audio start is not usable: " + error.what());
  }
}

juce::File LatentPlayProcessor::audioFile() const {
  const juce::ScopedLock lock(status_lock_);
  return regenerator_->audioStart() != nullptr ? audio_file_ : juce::File();
}

namespace {

// A whole audio file as the engine takes it (interleaved float frames), or why it cannot be.
juce::String readAudioFile(const juce::File& file, RawAudio& audio) {
  if (!file.existsAsFile()) return "not found";
  juce::AudioFormatManager formats;
  formats.registerBasicFormats();  // WAV and AIFF (this build has no FLAC or Ogg codecs)
  const std::unique_ptr<juce::AudioFormatReader> reader(formats.createReaderFor(file));
  if (reader == nullptr) return "not an audio file this plugin reads (WAV or AIFF)";
  const int channels = static_cast<int>(reader->numChannels);
  const auto frames = reader->lengthInSamples;
  if (frames > static_cast<juce::int64>(reader->sampleRate * 600)) return "longer than 10 minutes";
  juce::AudioBuffer<float> buffer(juce::jmax(1, channels), static_cast<int>(frames));
  if (frames > 0 && !reader->read(&buffer, 0, static_cast<int>(frames), 0, true, true)) return "could not be read";
  audio.channels = juce::jmax(1, channels);
  audio.sample_rate = reader->sampleRate;
  audio.interleaved.resize(static_cast<size_t>(frames) * static_cast<size_t>(audio.channels));
  for (int frame = 0; frame < static_cast<int>(frames); ++frame)
    for (int channel = 0; channel < audio.channels; ++channel)
      audio.interleaved[static_cast<size_t>(frame * audio.channels + channel)] = buffer.getSample(channel, frame);
  return {};
}

}  // namespace

juce::String LatentPlayProcessor::loadAudioFile(const juce::File& file, bool snap_controls) {
  const auto current = regenerator_->engine();
  juce::String why;
  std::shared_ptr<const AudioStart> start;
  RawAudio audio;
  if (current == nullptr) {
    why = "no bundle is loaded";
  } else if ((why = readAudioFile(file, audio)).isEmpty()) {
    try {
      start = std::make_shared<const AudioStart>(current->start_from_audio(audio));
    } catch (const std::exception& error) {  // UnusableAudio: empty, silent, non-finite
      why = error.what();
    }
  }
  if (why.isNotEmpty()) {
    {
      const juce::ScopedLock lock(status_lock_);
      audio_refused_path_ = file.getFullPathName();
      audio_refused_reason_ = why;
    }
    setStatus(file.getFileName() + " not loaded: " + why + " (the sound is unchanged)");
    return why;
  }
  {
    const juce::ScopedLock lock(status_lock_);
    audio_file_ = file;
    audio_refused_path_.clear();
    audio_refused_reason_.clear();
  }
  regenerator_->setAudioStart(start);
  if (snap_controls) {
    const Eigen::VectorXd own = current->own_positions(start->latent);
    for (int k = 0; k < kNumControls; ++k)
      parameters.getParameter(ids::controls[static_cast<size_t>(k)].getParamID())
          ->setValueNotifyingHost(static_cast<float>(own[k]));
  }
  setStatus("Playing " + file.getFileName() + " (encoded by the bundle's encoder): the five controls steer it");
  return {};
}

void LatentPlayProcessor::writeBundlePath(juce::XmlElement& root, const juce::File& folder) {
  if (folder.isAChildOf(resourcesFolder()))
    root.setAttribute("bundle_in_plugin", folder.getRelativePathFrom(resourcesFolder()));
  else
    root.setAttribute("bundle", folder == juce::File() ? juce::String() : folder.getFullPathName());
}

juce::File LatentPlayProcessor::resolveBundlePath(const juce::XmlElement& root) {
  const juce::String relative = root.getStringAttribute("bundle_in_plugin");
  if (relative.isNotEmpty()) return resourcesFolder().getChildFile(relative);
  const juce::String absolute = root.getStringAttribute("bundle");
  return absolute.isNotEmpty() ? juce::File(absolute) : juce::File();
}

void LatentPlayProcessor::writeControls(juce::XmlElement& root) const {
  const auto current = regenerator_->engine();
  if (current == nullptr) return;
  const Bundle& bundle = current->bundle();
  const int index = juce::jlimit(0, static_cast<int>(bundle.samples.size()) - 1,
                                 static_cast<int>(parameters.getRawParameterValue(ids::sample.getParamID())->load()));
  auto* controls = root.createNewChildElement("controls");
  controls->setAttribute("sample", juce::String(bundle.samples[static_cast<size_t>(index)].path));
  controls->setAttribute("sample_index", index);
  for (int k = 0; k < kNumControls; ++k)
    controls->setAttribute(ids::controls[static_cast<size_t>(k)].getParamID(),
                           bundle.controls[k].valueAt(controlValue(k)));
}

// Message thread: the saved controls, in their units, set in the loaded bundle's ranges (used
// when the bundle is not the one the state was saved with). Returns a note of what was clamped.
juce::String LatentPlayProcessor::restoreControls(const juce::XmlElement& controls) {
  const auto current = regenerator_->engine();
  if (current == nullptr) return {};
  const Bundle& bundle = current->bundle();
  int index = controls.getIntAttribute("sample_index", 0);
  const std::string path = controls.getStringAttribute("sample").toStdString();
  for (size_t i = 0; i < bundle.samples.size(); ++i)
    if (bundle.samples[i].path == path) index = static_cast<int>(i);
  auto* sample = parameters.getParameter(ids::sample.getParamID());
  sample->setValueNotifyingHost(sample->convertTo0to1(static_cast<float>(
      juce::jlimit(0, static_cast<int>(bundle.samples.size()) - 1, index))));
  juce::StringArray clamped;
  for (int k = 0; k < kNumControls; ++k) {
    const juce::String id = ids::controls[static_cast<size_t>(k)].getParamID();
    if (!controls.hasAttribute(id)) continue;
    const double position = bundle.controls[k].positionOf(controls.getDoubleAttribute(id));
    if (position < 0.0 || position > 1.0) clamped.add(kControlLabels[static_cast<size_t>(k)]);
    parameters.getParameter(id)->setValueNotifyingHost(juce::jlimit(0.0f, 1.0f, static_cast<float>(position)));
  }
  return clamped.isEmpty() ? juce::String()
                           : " (" + clamped.joinIntoString(", ") + " outside this bundle's range, clamped)";
}

void LatentPlayProcessor::fallBackToDefault(const juce::String& why) {
  // Without a usable default, loadBundle still runs: it is what silences the bundle playing now.
  const bool playing_default = bundleFolder() == defaultBundle() && regenerator_->hasEngine();
  const bool fallback = playing_default || loadBundle(defaultBundle(), false);
  setStatus(why + (fallback ? "; playing the default bundle instead" : "; silent until a bundle is chosen"));
}

void LatentPlayProcessor::setStateInformation(const void* data, int size) {
  const std::unique_ptr<juce::XmlElement> root = getXmlFromBinary(data, size);
  if (root == nullptr || !root->hasTagName("LatentPlay")) {
    setStatus("State not restored: not a LatentPlay state");
    return;
  }
  if (root->getIntAttribute("version", 1) > kStateVersion) {
    setStatus("State not restored: saved by a newer LatentPlay (state version " + root->getStringAttribute("version") + ")");
    return;
  }
  if (auto* saved = root->getChildByName(parameters.state.getType())) {
    parameters.replaceState(juce::ValueTree::fromXml(*saved));
    restoreKeyTracking(*saved);
  }
  restoreBundle(*root);
  restoreAudioStart(root->getChildByName("audio"));
}

// States saved before Pitch Mode had a Key Tracking switch: on meant what Resample does now.
void LatentPlayProcessor::restoreKeyTracking(const juce::XmlElement& saved_parameters) {
  bool has_pitch_mode = false, key_tracking_on = false;
  for (const auto* parameter : saved_parameters.getChildIterator()) {
    const juce::String id = parameter->getStringAttribute("id");
    has_pitch_mode |= id == ids::pitch_mode.getParamID();
    key_tracking_on |= id == "key_tracking" && parameter->getDoubleAttribute("value") > 0.5;
  }
  if (has_pitch_mode || !key_tracking_on) return;
  auto* pitch_mode = parameters.getParameter(ids::pitch_mode.getParamID());
  pitch_mode->setValueNotifyingHost(pitch_mode->convertTo0to1(static_cast<float>(PitchMode::resample)));
}

void LatentPlayProcessor::restoreBundle(const juce::XmlElement& root_element) {
  const juce::XmlElement* root = &root_element;
  const juce::File saved_folder = resolveBundlePath(*root);
  const juce::String saved_id = root->getStringAttribute("model_id");
  if (saved_folder == juce::File()) return;
  if (saved_folder == bundleFolder() && saved_id.isNotEmpty() && saved_id == bundle_model_id_ &&
      regenerator_->hasEngine())
    return;  // the bundle already playing: nothing to reload, nothing for the host to re-read
  const auto* controls = root->getChildByName("controls");
  OpenedBundle opened = openBundle(saved_folder);
  if (opened.engine == nullptr) {  // missing or broken: the same fall-back, the reason kept
    fallBackToDefault("The saved bundle could not be loaded (" + opened.error + ")");
    if (controls != nullptr) restoreControls(*controls);  // in their units, into the default's ranges
    const juce::ScopedLock lock(status_lock_);
    unloaded_saved_bundle_ = saved_folder;
    unloaded_saved_model_id_ = saved_id;
    unloaded_reason_ = opened.error;
    return;
  }
  useBundle(std::move(opened.engine), saved_folder);
  updateHostDisplay(ChangeDetails().withParameterInfoChanged(true));
  if (saved_id.isNotEmpty() && saved_id != bundle_model_id_) {
    const juce::String clamped = controls != nullptr ? restoreControls(*controls) : juce::String();
    setStatus(getStatus() + " | this bundle changed since the state was saved (model " + saved_id.substring(0, 12) +
              " then); the controls were " +
              (controls != nullptr ? "set in their units" + clamped : juce::String("kept as positions (old state)")));
  }
}

}  // namespace latentplay

juce::AudioProcessor* JUCE_CALLTYPE createPluginFilter() { return new latentplay::LatentPlayProcessor(); }
