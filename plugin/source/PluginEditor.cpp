#include "PluginEditor.h"

namespace latentplay {

namespace {

const juce::Colour kBackground{0xff16181d}, kPanel{0xff20232a}, kText{0xffe6e6e6}, kAccent{0xffffb347};

juce::Colour packColour(int index) {
  static const juce::uint32 palette[] = {0xff4e9af1, 0xfff28e2b, 0xff59a14f, 0xffe15759,
                                         0xffb07aa1, 0xff76b7b2, 0xffedc948, 0xffff9da7};
  return juce::Colour(palette[index % 8]);
}

// The colour group of a sample: its pack, or with a single pack its first sub-pack level
// (as `latentplay plot` does), so that the procedural pack's styles are told apart.
juce::String groupOf(const Bundle& bundle, const Sample& sample) {
  if (bundle.packs.size() > 1 || sample.subpack.empty()) return sample.pack;
  return juce::String(sample.subpack).upToFirstOccurrenceOf("/", false, false);
}

}  // namespace

void LatentMap::refresh() {
  points_.clear();
  pack_of_.clear();
  packs_.clear();
  has_current_ = false;
  const auto engine = processor_.engine();
  if (engine != nullptr) {
    const Bundle& bundle = engine->bundle();
    for (const Sample& sample : bundle.samples) {
      const Eigen::VectorXd values = engine->own_controls(sample.latent);
      points_.push_back({values[0], values[1]});
      const juce::String group = groupOf(bundle, sample);
      packs_.addIfNotAlreadyThere(group);
      pack_of_.push_back(packs_.indexOf(group));
    }
    const Eigen::VectorXd z = processor_.currentLatent();
    if (z.size() > 0) {
      const Eigen::VectorXd values = engine->own_controls(z);
      current_ = {values[0], values[1]};
      has_current_ = true;
    }
    const Control& pc1 = bundle.controls[0];
    const Control& pc2 = bundle.controls[1];
    bounds_ = {pc1.minimum, pc2.minimum, pc1.span(), pc2.span()};
  }
  repaint();
}

juce::Point<float> LatentMap::toScreen(double pc1, double pc2) const {
  const auto area = getLocalBounds().toFloat().reduced(14.0f);
  const double x = (pc1 - bounds_.getX()) / bounds_.getWidth();
  const double y = (pc2 - bounds_.getY()) / bounds_.getHeight();
  return {area.getX() + static_cast<float>(x) * area.getWidth(), area.getBottom() - static_cast<float>(y) * area.getHeight()};
}

void LatentMap::paint(juce::Graphics& g) {
  g.fillAll(kPanel);
  g.setColour(kText.withAlpha(0.6f));
  g.setFont(12.0f);
  g.drawText("Latent map (PC1 / PC2)", getLocalBounds().reduced(6), juce::Justification::topLeft);
  if (points_.empty()) {
    g.drawText("no bundle", getLocalBounds(), juce::Justification::centred);
    return;
  }
  for (size_t i = 0; i < points_.size(); ++i) {
    g.setColour(packColour(pack_of_[i]).withAlpha(0.85f));
    const auto p = toScreen(points_[i].x, points_[i].y);
    g.fillEllipse(p.x - 3.0f, p.y - 3.0f, 6.0f, 6.0f);
  }
  for (int i = 0; i < packs_.size(); ++i) {  // legend
    g.setColour(packColour(i));
    g.fillRect(10, 24 + 15 * i, 9, 9);
    g.setColour(kText);
    g.drawText(packs_[i], 24, 20 + 15 * i, 160, 16, juce::Justification::left);
  }
  if (has_current_) {
    const auto p = toScreen(current_.x, current_.y);
    g.setColour(kAccent);
    g.drawEllipse(p.x - 8.0f, p.y - 8.0f, 16.0f, 16.0f, 2.5f);
    g.drawLine(p.x - 12.0f, p.y, p.x + 12.0f, p.y, 1.5f);
    g.drawLine(p.x, p.y - 12.0f, p.x, p.y + 12.0f, 1.5f);
  }
}

void LatentMap::mouseDown(const juce::MouseEvent& event) {
  int nearest = -1;
  float best = std::numeric_limits<float>::max();
  for (size_t i = 0; i < points_.size(); ++i) {
    const float distance = toScreen(points_[i].x, points_[i].y).getDistanceFrom(event.position);
    if (distance < best) {
      best = distance;
      nearest = static_cast<int>(i);
    }
  }
  if (nearest >= 0) processor_.selectSample(nearest);
}

void WaveformView::paint(juce::Graphics& g) {
  g.fillAll(kPanel);
  g.setColour(kText.withAlpha(0.6f));
  g.setFont(12.0f);
  g.drawText("Current one-shot (drag it out as a WAV)", getLocalBounds().reduced(6), juce::Justification::topLeft);
  if (audio_.empty()) return;
  const auto area = getLocalBounds().toFloat().reduced(6.0f, 18.0f);
  juce::Path path;
  const int columns = juce::jmax(1, static_cast<int>(area.getWidth()));
  for (int column = 0; column < columns; ++column) {
    const size_t from = audio_.size() * static_cast<size_t>(column) / static_cast<size_t>(columns);
    const size_t to = juce::jmax(from + 1, audio_.size() * static_cast<size_t>(column + 1) / static_cast<size_t>(columns));
    float low = 0.0f, high = 0.0f;
    for (size_t i = from; i < to && i < audio_.size(); ++i) {
      low = juce::jmin(low, audio_[i]);
      high = juce::jmax(high, audio_[i]);
    }
    const float x = area.getX() + static_cast<float>(column);
    path.addLineSegment({x, area.getCentreY() - high * area.getHeight() / 2.0f, x,
                         area.getCentreY() - low * area.getHeight() / 2.0f}, 1.0f);
  }
  g.setColour(kAccent);
  g.fillPath(path);
}

void WaveformView::mouseDrag(const juce::MouseEvent& event) {
  if (dragging_ || event.getDistanceFromDragStart() < 8) return;
  dragging_ = true;
  const juce::File file = processor_.writeOneShotForDrag();
  if (file != juce::File()) juce::DragAndDropContainer::performExternalDragDropOfFiles({file.getFullPathName()}, false, this);
}

LatentPlayEditor::LatentPlayEditor(LatentPlayProcessor& processor)
    : juce::AudioProcessorEditor(processor), processor_(processor), map_(processor), waveform_(processor) {
  for (int k = 0; k < kNumControls; ++k) {
    auto& slider = control_sliders_[static_cast<size_t>(k)];
    const bool principal = juce::String(kControlKinds[static_cast<size_t>(k)]) == "pca";
    slider.setSliderStyle(principal ? juce::Slider::RotaryHorizontalVerticalDrag : juce::Slider::LinearHorizontal);
    slider.setTextBoxStyle(juce::Slider::TextBoxBelow, false, 110, 20);
    addAndMakeVisible(slider);
    attachments_.push_back(std::make_unique<SliderAttachment>(processor.parameters,
                                                              ids::controls[static_cast<size_t>(k)].getParamID(), slider));
    auto& label = control_labels_[static_cast<size_t>(k)];
    label.setText(kControlLabels[static_cast<size_t>(k)], juce::dontSendNotification);
    label.setJustificationType(juce::Justification::centredLeft);
    addAndMakeVisible(label);
  }
  for (auto [slider, label, id, text] :
       {std::tuple{&mix_slider_, &mix_label_, ids::mix, "Mix"},
        std::tuple{&detail_slider_, &detail_label_, ids::detail, "Detail (the sample's own click and room)"},
        std::tuple{&gain_slider_, &gain_label_, ids::output_gain, "Output gain"},
        std::tuple{&variation_slider_, &variation_label_, ids::variation, "Variation (every note a fresh point nearby)"}}) {
    slider->setSliderStyle(juce::Slider::LinearHorizontal);
    slider->setTextBoxStyle(juce::Slider::TextBoxRight, false, 80, 20);
    addAndMakeVisible(*slider);
    attachments_.push_back(std::make_unique<SliderAttachment>(processor.parameters, id.getParamID(), *slider));
    label->setText(text, juce::dontSendNotification);
    addAndMakeVisible(*label);
  }
  status_.setColour(juce::Label::textColourId, kText);
  addAndMakeVisible(status_);
  choose_button_.onClick = [this] { chooseBundle(); };
  load_sample_button_.onClick = [this] { chooseSampleFile(); };
  audition_button_.onClick = [this] { processor_.audition(); };
  export_button_.onClick = [this] { chooseExportFile(); };
  addAndMakeVisible(export_button_);
  addAndMakeVisible(choose_button_);
  addAndMakeVisible(load_sample_button_);
  addAndMakeVisible(audition_button_);
  pack_box_.setTextWhenNothingSelected("Pack");
  sample_box_.setTextWhenNothingSelected("Sample");
  pack_box_.onChange = [this] {  // jump to the first sample of the chosen pack
    const auto engine = processor_.engine();
    if (engine == nullptr) return;
    const auto& samples = engine->bundle().samples;
    for (size_t i = 0; i < samples.size(); ++i)
      if (juce::String(samples[i].pack) == pack_box_.getText()) {
        processor_.selectSample(static_cast<int>(i));
        break;
      }
  };
  sample_box_.onChange = [this] {
    if (sample_box_.getSelectedId() > 0) processor_.selectSample(sample_box_.getSelectedId() - 1);
  };
  addAndMakeVisible(pack_box_);
  addAndMakeVisible(sample_box_);
  // The parameter's choices (Off, Resample, Neural) in its order: the attachment maps item i + 1 to choice i.
  pitch_mode_box_.addItemList(processor.parameters.getParameter(ids::pitch_mode.getParamID())->getAllValueStrings(), 1);
  pitch_mode_box_.setTooltip("Pitch Mode: how the MIDI key changes the one-shot");
  pitch_mode_attachment_ = std::make_unique<juce::AudioProcessorValueTreeState::ComboBoxAttachment>(
      processor.parameters, ids::pitch_mode.getParamID(), pitch_mode_box_);
  addAndMakeVisible(pitch_mode_box_);
  presets_ = processor.factoryPresets();
  preset_box_.setTextWhenNothingSelected("Preset");
  for (int i = 0; i < presets_.size(); ++i) {
    const juce::var preset = juce::JSON::parse(presets_[i]);
    preset_box_.addItem(preset.getProperty("name", presets_[i].getFileNameWithoutExtension()).toString(), i + 1);
  }
  preset_box_.onChange = [this] {
    const int index = preset_box_.getSelectedId() - 1;
    if (index >= 0 && index < presets_.size())
      processor_.applyPreset(juce::JSON::parse(presets_[index]).getProperty("parameters", {}));
  };
  addAndMakeVisible(preset_box_);
  addAndMakeVisible(map_);
  addAndMakeVisible(waveform_);
  setResizable(true, true);
  setResizeLimits(640, 440, 1800, 1200);
  setSize(900, 600);
  refreshBundleLists();
  startTimerHz(20);
}

LatentPlayEditor::~LatentPlayEditor() { stopTimer(); }

void LatentPlayEditor::refreshBundleLists() {
  pack_box_.clear(juce::dontSendNotification);
  sample_box_.clear(juce::dontSendNotification);
  shown_engine_serial_ = processor_.engineSerial();  // first: a swap in between shows up next tick
  const auto engine = processor_.engine();
  if (engine != nullptr) {
    int id = 1;
    for (const auto& pack : engine->bundle().packs) pack_box_.addItem(pack, id++);
    id = 1;
    for (const auto& sample : engine->bundle().samples) sample_box_.addItem(sample.path, id++);
  }
  // What the dry side of Mix is depends on the bundle: say which.
  mix_label_.setText(engine != nullptr && !engine->has_originals()
                         ? "Mix (reconstruction - regenerated; this bundle holds no audio)"
                         : "Mix (original - regenerated)",
                     juce::dontSendNotification);
  map_.refresh();
}

void LatentPlayEditor::timerCallback() {
  if (processor_.engineSerial() != shown_engine_serial_) refreshBundleLists();
  status_.setText(processor_.getStatus(), juce::dontSendNotification);
  const int sample = static_cast<int>(processor_.parameters.getRawParameterValue(ids::sample.getParamID())->load());
  if (sample_box_.getSelectedId() != sample + 1) sample_box_.setSelectedId(sample + 1, juce::dontSendNotification);
  map_.refresh();
  waveform_.setAudio(processor_.currentWaveform());
}

void LatentPlayEditor::chooseBundle() {
  chooser_ = std::make_unique<juce::FileChooser>("Choose a LatentPlay bundle (.latentplay folder)",
                                                 processor_.bundleFolder(), "*");
  chooser_->launchAsync(juce::FileBrowserComponent::openMode | juce::FileBrowserComponent::canSelectDirectories,
                        [this](const juce::FileChooser& chooser) {
                          const juce::File folder = chooser.getResult();
                          if (folder != juce::File()) processor_.loadBundle(folder, true);
                          refreshBundleLists();
                        });
}

void LatentPlayEditor::chooseSampleFile() {
  chooser_ = std::make_unique<juce::FileChooser>("Choose any one-shot (WAV or AIFF)", processor_.audioFile(),
                                                 "*.wav;*.wave;*.aif;*.aiff");
  chooser_->launchAsync(juce::FileBrowserComponent::openMode | juce::FileBrowserComponent::canSelectFiles,
                        [this](const juce::FileChooser& chooser) {
                          const juce::File file = chooser.getResult();
                          if (file != juce::File()) processor_.loadAudioFile(file, true);
                        });
}

void LatentPlayEditor::chooseExportFile() {
  const juce::File suggested = juce::File::getSpecialLocation(juce::File::userHomeDirectory)
                                   .getChildFile(processor_.oneShotFileName());
  chooser_ = std::make_unique<juce::FileChooser>("Export the current one-shot as a WAV", suggested, "*.wav");
  chooser_->launchAsync(juce::FileBrowserComponent::saveMode | juce::FileBrowserComponent::canSelectFiles |
                            juce::FileBrowserComponent::warnAboutOverwriting,
                        [this](const juce::FileChooser& chooser) {
                          const juce::File file = chooser.getResult();
                          if (file == juce::File()) return;
                          const juce::String error = processor_.writeOneShot(file);
                          if (error.isNotEmpty())
                            juce::AlertWindow::showMessageBoxAsync(juce::MessageBoxIconType::WarningIcon,
                                                                   "LatentPlay: export failed", error);
                        });
}

void LatentPlayEditor::filesDropped(const juce::StringArray& files, int, int) {
  processor_.loadAudioFile(juce::File(files[0]), true);
}

void LatentPlayEditor::paint(juce::Graphics& g) {
  g.fillAll(kBackground);
  g.setColour(kAccent);
  g.setFont(juce::Font(20.0f, juce::Font::bold));
  g.drawText("LatentPlay", 12, 8, 200, 28, juce::Justification::left);
}

void LatentPlayEditor::resized() {
  auto area = getLocalBounds().reduced(10);
  auto top = area.removeFromTop(30);
  top.removeFromLeft(130);
  choose_button_.setBounds(top.removeFromLeft(90));
  top.removeFromLeft(4);
  load_sample_button_.setBounds(top.removeFromLeft(110));
  top.removeFromLeft(8);
  audition_button_.setBounds(top.removeFromRight(90));
  top.removeFromRight(4);
  export_button_.setBounds(top.removeFromRight(100));
  status_.setBounds(top.reduced(4, 0));
  area.removeFromTop(6);
  auto selectors = area.removeFromTop(26);
  pitch_mode_box_.setBounds(selectors.removeFromRight(110).reduced(2, 0));
  const int third = selectors.getWidth() / 4;
  preset_box_.setBounds(selectors.removeFromLeft(third).reduced(2, 0));
  pack_box_.setBounds(selectors.removeFromLeft(third).reduced(2, 0));
  sample_box_.setBounds(selectors.reduced(2, 0));
  area.removeFromTop(8);
  auto left = area.removeFromLeft(area.getWidth() * 5 / 11);
  auto knobs = left.removeFromTop(130);
  for (int k = 0; k < 2; ++k) {
    auto column = knobs.removeFromLeft(left.getWidth() / 2);
    control_labels_[static_cast<size_t>(k)].setBounds(column.removeFromTop(18));
    control_sliders_[static_cast<size_t>(k)].setBounds(column);
  }
  for (int k = 2; k < kNumControls; ++k) {
    control_labels_[static_cast<size_t>(k)].setBounds(left.removeFromTop(18));
    control_sliders_[static_cast<size_t>(k)].setBounds(left.removeFromTop(46));
  }
  left.removeFromTop(6);
  mix_label_.setBounds(left.removeFromTop(18));
  mix_slider_.setBounds(left.removeFromTop(26));
  detail_label_.setBounds(left.removeFromTop(18));
  detail_slider_.setBounds(left.removeFromTop(26));
  gain_label_.setBounds(left.removeFromTop(18));
  gain_slider_.setBounds(left.removeFromTop(26));
  variation_label_.setBounds(left.removeFromTop(18));
  variation_slider_.setBounds(left.removeFromTop(26));
  area.removeFromLeft(10);
  waveform_.setBounds(area.removeFromBottom(juce::jmax(90, area.getHeight() / 4)));
  area.removeFromBottom(8);
  map_.setBounds(area);
}

}  // namespace latentplay

namespace latentplay {
juce::AudioProcessorEditor* LatentPlayProcessor::createEditor() { return new LatentPlayEditor(*this); }
}  // namespace latentplay
