#include "PluginProcessor.h"

#include "PluginEditor.h"
#include "latentplay/errors.hpp"

namespace latentplay {

namespace {

const std::array<const char*, kNumControls> kControlLabels = {"PC1", "PC2", "Frequency", "Attack", "Release"};

juce::String formatNumber(double value, const char* unit) {
  return juce::String(value, 2) + (unit[0] ? juce::String(" ") + unit : juce::String());
}

}  // namespace

float LatentPlayProcessor::controlValue(int k) const {
  return parameters.getRawParameterValue(ids::controls[static_cast<size_t>(k)].getParamID())->load();
}

juce::AudioProcessorValueTreeState::ParameterLayout LatentPlayProcessor::createLayout() {
  juce::AudioProcessorValueTreeState::ParameterLayout layout;
  // The five controls are stored as positions 0..1 in the loaded bundle's ranges (which differ
  // between bundles); hosts see them in real units through the text functions.
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
        juce::NormalisableRange<float>(0.0f, 1.0f), 0.5f,
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
  layout.add(std::make_unique<juce::AudioParameterInt>(ids::sample, "Sample", 0, kMaxSamples - 1, 0,
                                                        juce::AudioParameterIntAttributes().withStringFromValueFunction(
                                                            sample_name)));
  layout.add(std::make_unique<juce::AudioParameterFloat>(ids::mix, "Mix", juce::NormalisableRange<float>(0.0f, 1.0f),
                                                          1.0f));
  layout.add(std::make_unique<juce::AudioParameterFloat>(
      ids::output_gain, "Output Gain", juce::NormalisableRange<float>(-48.0f, 12.0f), 0.0f,
      juce::AudioParameterFloatAttributes().withStringFromValueFunction(
          [](float value, int) { return juce::String(value, 1) + " dB"; })));
  layout.add(std::make_unique<juce::AudioParameterFloat>(
      ids::velocity_sensitivity, "Velocity Sensitivity", juce::NormalisableRange<float>(0.0f, 1.0f), 1.0f));
  layout.add(std::make_unique<juce::AudioParameterBool>(ids::key_tracking, "Key Tracking", false));
  layout.add(std::make_unique<juce::AudioParameterInt>(ids::root_note, "Root Note", 0, 127, 60));
  layout.add(std::make_unique<juce::AudioParameterBool>(ids::choke, "Choke", false));
  return layout;
}

LatentPlayProcessor::LatentPlayProcessor()
    : juce::AudioProcessor(BusesProperties().withOutput("Output", juce::AudioChannelSet::stereo(), true)),
      parameters(*this, nullptr, "PARAMETERS", createLayout()) {
  ParameterSource source;
  for (int k = 0; k < kNumControls; ++k)
    source.controls[static_cast<size_t>(k)] =
        parameters.getRawParameterValue(ids::controls[static_cast<size_t>(k)].getParamID());
  source.sample = parameters.getRawParameterValue(ids::sample.getParamID());
  source.mix = mix_ = parameters.getRawParameterValue(ids::mix.getParamID());
  gain_db_ = parameters.getRawParameterValue(ids::output_gain.getParamID());
  velocity_sensitivity_ = parameters.getRawParameterValue(ids::velocity_sensitivity.getParamID());
  key_tracking_ = parameters.getRawParameterValue(ids::key_tracking.getParamID());
  root_note_ = parameters.getRawParameterValue(ids::root_note.getParamID());
  choke_ = parameters.getRawParameterValue(ids::choke.getParamID());
  regenerator_ = std::make_unique<Regenerator>(source);
  set_intra_op_threads(1);  // a plugin shares the machine with the host and other plugins

  const juce::File folder = defaultBundle();
  if (folder.isDirectory())
    loadBundle(folder, true);
  else
    setStatus("No bundle loaded: choose a .latentplay folder (silent until then)");
}

LatentPlayProcessor::~LatentPlayProcessor() {
  regenerator_.reset();  // stops the worker before the one-shots go
  voices_.stopAll();
  delete current_;
  for (int i = 0; i < draining_count_; ++i) delete draining_[static_cast<size_t>(i)];
}

juce::File LatentPlayProcessor::resourcesFolder() const {
  // Inside a plugin, currentExecutableFile is the plugin's own binary:
  // LatentPlay.vst3/Contents/x86_64-linux/LatentPlay.so -> LatentPlay.vst3/Contents/Resources/
  const juce::File binary = juce::File::getSpecialLocation(juce::File::currentExecutableFile);
  return binary.getParentDirectory().getSiblingFile("Resources");
}

juce::File LatentPlayProcessor::defaultBundle() const {
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
  const juce::ScopedLock lock(status_lock_);
  return error.isEmpty() ? status_ : status_ + " | last regeneration failed: " + error;
}

juce::File LatentPlayProcessor::bundleFolder() const {
  const juce::ScopedLock lock(status_lock_);
  return bundle_folder_;
}

bool LatentPlayProcessor::loadBundle(const juce::File& folder, bool snap_controls) {
  std::shared_ptr<const Engine> loaded;
  try {
    loaded = std::make_shared<const Engine>(folder.getFullPathName().toStdString());
  } catch (const std::exception& error) {  // BundleError, or anything libtorch throws
    regenerator_->setEngine(nullptr);
    ranges_.known.store(false);
    {
      const juce::ScopedLock lock(status_lock_);
      bundle_folder_ = folder;
      bundle_model_id_.clear();
    }
    setStatus("Bundle not loaded (silent): " + juce::String(error.what()));
    return false;
  }
  for (int k = 0; k < kNumControls; ++k) {
    ranges_.minimum[static_cast<size_t>(k)].store(static_cast<float>(loaded->bundle().controls[k].minimum));
    ranges_.maximum[static_cast<size_t>(k)].store(static_cast<float>(loaded->bundle().controls[k].maximum));
  }
  ranges_.known.store(true);
  regenerator_->setEngine(loaded);
  {
    const juce::ScopedLock lock(status_lock_);
    bundle_folder_ = folder;
    bundle_model_id_ = loaded->bundle().model_id;
  }
  setStatus("Loaded " + folder.getFileName() + ": " + juce::String(loaded->bundle().samples.size()) +
            " samples, latent " + juce::String(loaded->bundle().latent_dim) + ", model " +
            juce::String(loaded->bundle().model_id).substring(0, 12));
  if (snap_controls) selectSample(static_cast<int>(parameters.getRawParameterValue(ids::sample.getParamID())->load()));
  updateHostDisplay(ChangeDetails().withParameterInfoChanged(true));
  return true;
}

void LatentPlayProcessor::selectSample(int index) {
  const auto current = regenerator_->engine();
  if (current == nullptr) return;
  const Bundle& bundle = current->bundle();
  index = juce::jlimit(0, static_cast<int>(bundle.samples.size()) - 1, index);
  const Eigen::VectorXd own = current->own_controls(bundle.samples[static_cast<size_t>(index)].latent);
  auto* sample = parameters.getParameter(ids::sample.getParamID());
  sample->setValueNotifyingHost(sample->convertTo0to1(static_cast<float>(index)));
  for (int k = 0; k < kNumControls; ++k) {
    const float position = static_cast<float>(bundle.controls[k].positionOf(own[k]));
    parameters.getParameter(ids::controls[static_cast<size_t>(k)].getParamID())
        ->setValueNotifyingHost(juce::jlimit(0.0f, 1.0f, position));
  }
}

Eigen::VectorXd LatentPlayProcessor::currentLatent() const {
  const auto current = regenerator_->engine();
  if (current == nullptr) return {};
  const Bundle& bundle = current->bundle();
  const int index = juce::jlimit(0, static_cast<int>(bundle.samples.size()) - 1,
                                 static_cast<int>(parameters.getRawParameterValue(ids::sample.getParamID())->load()));
  ControlTargets targets;
  for (int k = 0; k < kNumControls; ++k) targets[k] = bundle.controls[k].valueAt(controlValue(k));
  return current->move(bundle.samples[static_cast<size_t>(index)].latent, targets);
}

std::vector<float> LatentPlayProcessor::currentWaveform() const { return regenerator_->latestAudio(); }

void LatentPlayProcessor::prepareToPlay(double sample_rate, int) { regenerator_->setHostRate(sample_rate); }

bool LatentPlayProcessor::isBusesLayoutSupported(const BusesLayout& layouts) const {
  const auto output = layouts.getMainOutputChannelSet();
  return output == juce::AudioChannelSet::stereo() || output == juce::AudioChannelSet::mono();
}

void LatentPlayProcessor::adopt(OneShot* shot) {
  if (shot == nullptr) return;
  if (current_ != nullptr) {
    if (current_->active_voices > 0 || !regenerator_->retire(current_)) {
      if (draining_count_ < static_cast<int>(draining_.size()))
        draining_[static_cast<size_t>(draining_count_++)] = current_;
      else
        voices_.stopAll();  // cannot happen with 32 voices; never leak or free under a voice
    }
  }
  current_ = shot;
}

void LatentPlayProcessor::retireIdle() {
  int kept = 0;
  for (int i = 0; i < draining_count_; ++i) {
    OneShot* shot = draining_[static_cast<size_t>(i)];
    if (shot->active_voices > 0 || !regenerator_->retire(shot)) draining_[static_cast<size_t>(kept++)] = shot;
  }
  draining_count_ = kept;
}

void LatentPlayProcessor::startNote(const juce::MidiMessage& message) {
  if (isNonRealtime()) {  // offline: the note must play the one-shot of the values in force now
    const RenderKey wanted = regenerator_->wantedKey();
    if (current_ == nullptr || current_->key != wanted) adopt(regenerator_->waitFor(wanted, kOfflineWaitMs));
  }
  const float sensitivity = velocity_sensitivity_->load();
  const float velocity_gain = (1.0f - sensitivity) + sensitivity * message.getFloatVelocity();
  const double rate = key_tracking_->load() > 0.5f
                          ? std::pow(2.0, (message.getNoteNumber() - std::lround(root_note_->load())) / 12.0)
                          : 1.0;
  voices_.start(current_, velocity_gain, rate, choke_->load() > 0.5f);
}

void LatentPlayProcessor::processBlock(juce::AudioBuffer<float>& buffer, juce::MidiBuffer& midi) {
  juce::ScopedNoDenormals no_denormals;
  buffer.clear();
  if (reset_requested_.exchange(false)) voices_.stopAll();
  adopt(regenerator_->takeFresh());
  const float output_gain = juce::Decibels::decibelsToGain(gain_db_->load(), -48.0f);
  const int length = buffer.getNumSamples();
  int position = 0;
  for (const auto event : midi) {
    const int at = juce::jlimit(0, length, event.samplePosition);
    voices_.render(buffer, position, at - position, output_gain);
    position = at;
    const juce::MidiMessage message = event.getMessage();
    if (message.isNoteOn())
      startNote(message);
    else if (message.isAllNotesOff() || message.isAllSoundOff())
      voices_.stopAll();
  }
  if (audition_requested_.exchange(false)) startNote(juce::MidiMessage::noteOn(1, 60, 1.0f));
  voices_.render(buffer, position, length - position, output_gain);
  retireIdle();
}

void LatentPlayProcessor::getStateInformation(juce::MemoryBlock& data) {
  juce::ValueTree state = parameters.copyState();
  juce::XmlElement root("LatentPlay");
  {
    const juce::ScopedLock lock(status_lock_);
    root.setAttribute("bundle", bundle_folder_.getFullPathName());
    root.setAttribute("model_id", bundle_model_id_);
  }
  if (auto xml = state.createXml()) root.addChildElement(xml.release());
  copyXmlToBinary(root, data);
}

void LatentPlayProcessor::setStateInformation(const void* data, int size) {
  const std::unique_ptr<juce::XmlElement> root = getXmlFromBinary(data, size);
  if (root == nullptr || !root->hasTagName("LatentPlay")) {
    setStatus("State not restored: not a LatentPlay state");
    return;
  }
  if (auto* saved = root->getChildByName(parameters.state.getType()))
    parameters.replaceState(juce::ValueTree::fromXml(*saved));
  const juce::File saved_folder(root->getStringAttribute("bundle"));
  const juce::String saved_id = root->getStringAttribute("model_id");
  if (saved_folder.getFullPathName().isEmpty()) return;
  if (!saved_folder.isDirectory()) {
    const bool fallback = defaultBundle().isDirectory() && loadBundle(defaultBundle(), false);
    setStatus("The saved bundle " + saved_folder.getFullPathName() + " is missing" +
              (fallback ? "; playing the default bundle instead" : "; silent until a bundle is chosen"));
    return;
  }
  if (loadBundle(saved_folder, false) && saved_id.isNotEmpty() && saved_id != bundle_model_id_)
    setStatus(getStatus() + " | this bundle changed since the state was saved (model " + saved_id.substring(0, 12) +
              " then); the controls may sound different");
}

}  // namespace latentplay

juce::AudioProcessor* JUCE_CALLTYPE createPluginFilter() { return new latentplay::LatentPlayProcessor(); }
