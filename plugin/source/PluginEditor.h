// The editor (message thread only): bundle chooser and status, pack and sample selectors, the
// five controls in their units, mix and gain, the current one-shot's waveform, and the latent
// map (training samples by pack, the current point z' moving as the controls change; a click
// selects the nearest sample).
#pragma once

#include <juce_audio_utils/juce_audio_utils.h>

#include "PluginProcessor.h"

namespace latentplay {

class LatentMap : public juce::Component {
 public:
  explicit LatentMap(LatentPlayProcessor& processor) : processor_(processor) {}
  void paint(juce::Graphics& g) override;
  void mouseDown(const juce::MouseEvent& event) override;
  void refresh();  // re-read the bundle's points and the current z'

 private:
  juce::Point<float> toScreen(double pc1, double pc2) const;
  LatentPlayProcessor& processor_;
  std::vector<juce::Point<double>> points_;  // every sample's (PC1, PC2)
  std::vector<int> pack_of_;
  juce::StringArray packs_;
  juce::Point<double> current_;
  bool has_current_ = false;
  juce::Rectangle<double> bounds_;
};

// The current one-shot's waveform; drag it out (into a DAW's track or a folder) to get it as a WAV.
class WaveformView : public juce::Component {
 public:
  explicit WaveformView(LatentPlayProcessor& processor) : processor_(processor) {}
  void setAudio(std::vector<float> audio) {
    audio_ = std::move(audio);
    repaint();
  }
  void paint(juce::Graphics& g) override;
  void mouseDrag(const juce::MouseEvent& event) override;
  void mouseUp(const juce::MouseEvent&) override { dragging_ = false; }

 private:
  LatentPlayProcessor& processor_;
  std::vector<float> audio_;
  bool dragging_ = false;  // one external drag per mouse gesture
};

class LatentPlayEditor : public juce::AudioProcessorEditor, public juce::FileDragAndDropTarget, private juce::Timer {
 public:
  explicit LatentPlayEditor(LatentPlayProcessor& processor);
  ~LatentPlayEditor() override;
  void paint(juce::Graphics& g) override;
  void resized() override;
  // Any audio file dropped on the editor becomes the starting point (LatentPlayProcessor::loadAudioFile).
  bool isInterestedInFileDrag(const juce::StringArray& files) override { return files.size() == 1; }
  void filesDropped(const juce::StringArray& files, int, int) override;

 private:
  void timerCallback() override;
  void chooseBundle();
  void chooseSampleFile();
  void chooseExportFile();
  void refreshBundleLists();

  using SliderAttachment = juce::AudioProcessorValueTreeState::SliderAttachment;
  LatentPlayProcessor& processor_;
  juce::TextButton choose_button_{"Bundle..."}, load_sample_button_{"Load sample..."}, audition_button_{"Audition"},
      export_button_{"Export WAV..."};
  juce::Label status_;
  juce::ComboBox pack_box_, sample_box_, preset_box_;
  juce::Array<juce::File> presets_;
  std::array<juce::Slider, kNumControls> control_sliders_;
  std::array<juce::Label, kNumControls> control_labels_;
  juce::Slider mix_slider_, detail_slider_, gain_slider_, variation_slider_;
  juce::Label mix_label_, detail_label_, gain_label_, variation_label_;
  std::vector<std::unique_ptr<SliderAttachment>> attachments_;
  juce::ComboBox pitch_mode_box_;
  std::unique_ptr<juce::AudioProcessorValueTreeState::ComboBoxAttachment> pitch_mode_attachment_;
  LatentMap map_;
  WaveformView waveform_;
  std::unique_ptr<juce::FileChooser> chooser_;
  std::uint64_t shown_engine_serial_ = 0;  // the bundle the lists show (processor's engineSerial)
};

}  // namespace latentplay
