// latentplay-export-check: drives the plugin's own export code (the processor of the shared code,
// linked in: the same functions the editor's "Export WAV..." button and waveform drag call),
// for tests/plugin/test_export_wav.py.
//
//   latentplay-export-check OUT_FOLDER [SAMPLE_INDEX] [--rate R] [--set PARAMETER=POSITION ...]
//
// Plays the bundle in $LATENTPLAY_BUNDLE (else the shipped default) at rate R (48000), selects
// the sample, sets parameters to 0..1 positions, then writes the current one-shot with
// writeOneShot (into OUT_FOLDER, named by oneShotFileName) and with writeOneShotForDrag. Prints
// one JSON object: the two files, the rate, the sample, the five controls in their units and the
// status. Exit status 1 when either write failed.
#include <juce_audio_utils/juce_audio_utils.h>

#include <iostream>

#include "../source/PluginProcessor.h"

int main(int argc, char** argv) {
  juce::ScopedJuceInitialiser_GUI gui;
  if (argc < 2) {
    std::cerr << "usage: latentplay-export-check OUT_FOLDER [SAMPLE_INDEX] [--rate R] [--set ID=POSITION ...]\n";
    return 2;
  }
  const juce::File out(juce::File::getCurrentWorkingDirectory().getChildFile(argv[1]));
  int sample = 0;
  double rate = 48000.0;
  juce::StringArray settings;
  for (int i = 2; i < argc; ++i) {
    const juce::String argument(argv[i]);
    if (argument == "--rate" && i + 1 < argc)
      rate = juce::String(argv[++i]).getDoubleValue();
    else if (argument == "--set" && i + 1 < argc)
      settings.add(argv[++i]);
    else
      sample = argument.getIntValue();
  }
  latentplay::LatentPlayProcessor processor;
  processor.selectSample(sample);
  for (const auto& setting : settings) {
    auto* parameter = processor.parameters.getParameter(setting.upToFirstOccurrenceOf("=", false, false));
    if (parameter == nullptr) {
      std::cerr << "no parameter " << setting << "\n";
      return 2;
    }
    parameter->setValueNotifyingHost(setting.fromFirstOccurrenceOf("=", false, false).getFloatValue());
  }
  processor.prepareToPlay(rate, 512);

  const juce::File exported = out.getChildFile(processor.oneShotFileName());
  const juce::String export_error = processor.writeOneShot(exported);
  const juce::File dragged = processor.writeOneShotForDrag();

  auto report = std::make_unique<juce::DynamicObject>();
  report->setProperty("export", export_error.isEmpty() ? exported.getFullPathName() : juce::String());
  report->setProperty("export_error", export_error);
  report->setProperty("drag", dragged.getFullPathName());
  report->setProperty("rate", rate);
  report->setProperty("sample", sample);
  auto controls = std::make_unique<juce::DynamicObject>();
  if (const auto engine = processor.engine()) {
    for (int k = 0; k < latentplay::kNumControls; ++k) {
      const auto* position = processor.parameters.getRawParameterValue(latentplay::kControlNames[static_cast<size_t>(k)]);
      controls->setProperty(latentplay::kControlNames[static_cast<size_t>(k)],
                            engine->bundle().controls[k].valueAt(position->load()));
    }
  }
  report->setProperty("controls", juce::var(controls.release()));
  report->setProperty("status", processor.getStatus());
  std::cout << juce::JSON::toString(juce::var(report.release()), true) << std::endl;
  return export_error.isEmpty() && dragged != juce::File() ? 0 : 1;
}
