// latentplay-stress-host: hosts the built VST3 in REAL-TIME mode (isNonRealtime() false, as a
// DAW plays live) and hammers it: random changes of every parameter from the audio thread, as
// host automation arrives, bundle switches through the state and editor open/close from the
// message thread, notes throughout. The audio thread is paced in real time.
//
//   latentplay-stress-host PLUGIN.vst3 BUNDLE_A BUNDLE_B [--changes N] [--seconds S] [--seed K]
//                          [--rate R] [--block B] [--editor]
//
// Prints one JSON object: blocks, parameter changes, state switches, editor cycles, non-finite
// samples, and for every note the milliseconds from its note-on to its first audible sample
// ("silent_ms"; -1 when it never sounded), with the milliseconds since the last bundle switch.
// Exit status 0 unless the plugin could not be loaded. A crash is a crash of this process.
#include <juce_audio_processors/juce_audio_processors.h>
#include <juce_gui_basics/juce_gui_basics.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

namespace {

constexpr double kNoteEverySeconds = 0.7;  // longer than a one-shot two semitones down: one note at a time
constexpr int kMaxTranspose = 2;      // notes within root ± this (key tracking may be switched on)

struct Options {
  juce::String plugin, bundle_a, bundle_b;
  int changes = 10000;
  double seconds = 20.0;
  int seed = 1;
  double rate = 48000.0;
  int block = 256;
  bool editor = false;
};

struct NoteRecord {
  juce::int64 at = 0;              // sample index of the note-on
  juce::int64 first_sound = -1;     // first audible sample at or after it
  juce::int64 since_switch = -1;    // samples since the last bundle switch, -1 = none yet
};

std::unique_ptr<juce::AudioPluginInstance> loadPlugin(juce::AudioPluginFormatManager& formats,
                                                      const Options& options, const juce::String& bundle) {
  setenv("LATENTPLAY_BUNDLE", bundle.toRawUTF8(), 1);  // the instance's default bundle
  juce::OwnedArray<juce::PluginDescription> types;
  juce::VST3PluginFormat vst3;
  vst3.findAllTypesForFile(types, options.plugin);
  if (types.isEmpty()) return nullptr;
  juce::String error;
  auto instance = formats.createPluginInstance(*types[0], options.rate, options.block, error);
  if (instance == nullptr) std::cerr << "cannot load " << options.plugin << ": " << error << "\n";
  return instance;
}

juce::MemoryBlock stateOf(juce::AudioPluginInstance& instance) {
  juce::MemoryBlock state;
  instance.getStateInformation(state);
  return state;
}

Options parse(int argc, char** argv) {
  Options options;
  if (argc < 4) {
    std::cerr << "usage: latentplay-stress-host PLUGIN.vst3 BUNDLE_A BUNDLE_B [--changes N] [--seconds S] "
                 "[--seed K] [--rate R] [--block B] [--editor]\n";
    std::exit(2);
  }
  options.plugin = argv[1];
  options.bundle_a = argv[2];
  options.bundle_b = argv[3];
  for (int i = 4; i < argc; ++i) {
    const juce::String flag = argv[i];
    const juce::String value = i + 1 < argc ? juce::String(argv[i + 1]) : juce::String();
    if (flag == "--editor") {
      options.editor = true;
      continue;
    }
    ++i;
    if (flag == "--changes") options.changes = value.getIntValue();
    else if (flag == "--seconds") options.seconds = value.getDoubleValue();
    else if (flag == "--seed") options.seed = value.getIntValue();
    else if (flag == "--rate") options.rate = value.getDoubleValue();
    else if (flag == "--block") options.block = value.getIntValue();
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  juce::ScopedJuceInitialiser_GUI gui;
  if (options.editor && juce::Desktop::getInstance().getDisplays().getPrimaryDisplay() == nullptr) {
    std::cerr << "--editor needs a display: none at DISPLAY=" << juce::SystemStats::getEnvironmentVariable("DISPLAY", "")
              << "\n";
    return 3;
  }
  juce::AudioPluginFormatManager formats;
  formats.addDefaultFormats();

  // The two states to switch between: one instance per bundle, each saving its own.
  juce::MemoryBlock state_a, state_b;
  {
    auto other = loadPlugin(formats, options, options.bundle_b);
    if (other == nullptr) return 1;
    state_b = stateOf(*other);
  }
  auto plugin = loadPlugin(formats, options, options.bundle_a);
  if (plugin == nullptr) return 1;
  state_a = stateOf(*plugin);
  plugin->setNonRealtime(false);
  plugin->setPlayConfigDetails(0, 2, options.rate, options.block);
  plugin->prepareToPlay(options.rate, options.block);

  // Every parameter of the plugin, except the host's own Bypass (a bypassed instrument is silent
  // by request, which would hide the silences this looks for).
  juce::Array<juce::AudioProcessorParameter*> parameters;
  for (auto* parameter : plugin->getParameters())
    if (parameter != plugin->getBypassParameter() && parameter->getName(64) != "Bypass") parameters.add(parameter);
  const juce::int64 total_blocks = static_cast<juce::int64>(options.seconds * options.rate / options.block);
  const double changes_per_block = static_cast<double>(options.changes) / static_cast<double>(total_blocks);
  const auto block_duration = std::chrono::duration<double>(options.block / options.rate);

  std::atomic<juce::int64> last_switch_sample{-1};
  std::atomic<bool> audio_done{false};
  std::atomic<juce::int64> played_samples{0};
  int changes_made = 0;
  juce::int64 non_finite = 0;
  std::vector<NoteRecord> notes;
  notes.reserve(static_cast<size_t>(options.seconds / kNoteEverySeconds) + 2);

  std::thread audio([&] {
    juce::Random random(options.seed);
    juce::AudioBuffer<float> buffer(2, options.block);
    juce::MidiBuffer midi;
    const auto note_every = static_cast<juce::int64>(kNoteEverySeconds * options.rate);
    double owed_changes = 0.0;
    auto deadline = std::chrono::steady_clock::now();
    for (juce::int64 block = 0; block < total_blocks; ++block) {
      const juce::int64 start = block * options.block;
      owed_changes += changes_per_block;
      for (; owed_changes >= 1.0; owed_changes -= 1.0, ++changes_made) {  // host automation
        auto* parameter = parameters[random.nextInt(parameters.size())];
        // Output Gain at its lowest is "off" (silence asked for): kept just above it.
        const bool is_gain = parameter->getName(64) == "Output Gain";
        parameter->setValue(is_gain ? 0.01f + 0.99f * random.nextFloat() : random.nextFloat());
      }
      midi.clear();
      // The first note at the very first sample: prepareToPlay must leave a one-shot ready.
      const juce::int64 next_note = static_cast<juce::int64>(notes.size()) * note_every;
      if (next_note >= start && next_note < start + options.block) {
        const int offset = static_cast<int>(next_note - start);
        midi.addEvent(juce::MidiMessage::noteOn(1, 60 + random.nextInt({-kMaxTranspose, kMaxTranspose + 1}),
                                                static_cast<juce::uint8>(random.nextInt({1, 128}))),
                      offset);
        const juce::int64 switched = last_switch_sample.load();
        notes.push_back({next_note, -1, switched < 0 ? -1 : next_note - switched});
      }
      buffer.clear();
      plugin->processBlock(buffer, midi);
      for (int channel = 0; channel < 2; ++channel) {
        const float* samples = buffer.getReadPointer(channel);
        for (int i = 0; i < options.block; ++i) {
          if (!std::isfinite(samples[i])) {
            ++non_finite;
            continue;
          }
          if (!notes.empty() && notes.back().first_sound < 0 && start + i >= notes.back().at &&
              samples[i] != 0.0f)  // the plugin's silence is exact zeros
            notes.back().first_sound = start + i;
        }
      }
      played_samples.store(start + options.block);
      deadline += std::chrono::duration_cast<std::chrono::steady_clock::duration>(block_duration);
      std::this_thread::sleep_until(deadline);
    }
    audio_done.store(true);
  });

  // The message thread: bundle switches through the state, the editor opened and closed.
  int switches = 0, editor_cycles = 0;
  // The editor in a window with a title bar, as hosts show it (a bare peer on a display without a
  // window manager asks for atoms that do not exist).
  juce::DocumentWindow window("LatentPlay", juce::Colours::black, juce::DocumentWindow::allButtons);
  std::unique_ptr<juce::AudioProcessorEditor> editor;
  auto next_switch = std::chrono::steady_clock::now() + std::chrono::milliseconds(1300);
  while (!audio_done.load()) {
    juce::MessageManager::getInstance()->runDispatchLoopUntil(150);
    if (options.editor) {
      if (editor != nullptr) {
        window.setVisible(false);
        window.clearContentComponent();
        editor.reset();
        ++editor_cycles;
      } else {
        editor.reset(plugin->createEditorIfNeeded());
        if (editor != nullptr) {
          window.setContentNonOwned(editor.get(), true);
          window.setVisible(true);
        }
      }
    }
    if (std::chrono::steady_clock::now() >= next_switch) {
      const juce::MemoryBlock& state = switches % 2 == 0 ? state_b : state_a;
      last_switch_sample.store(played_samples.load());
      plugin->setStateInformation(state.getData(), static_cast<int>(state.getSize()));
      ++switches;
      next_switch += std::chrono::milliseconds(2300);
    }
  }
  audio.join();
  window.clearContentComponent();
  editor.reset();
  plugin->releaseResources();

  std::cout << "{\"blocks\": " << total_blocks << ", \"rate\": " << options.rate << ", \"block\": " << options.block
            << ", \"parameters\": " << parameters.size() << ", \"parameter_changes\": " << changes_made << ", \"state_switches\": " << switches
            << ", \"editor_cycles\": " << editor_cycles << ", \"non_finite_samples\": " << non_finite
            << ", \"notes\": [";
  for (size_t i = 0; i < notes.size(); ++i) {
    const NoteRecord& note = notes[i];
    const double silent_ms = note.first_sound < 0 ? -1.0 : 1000.0 * static_cast<double>(note.first_sound - note.at) / options.rate;
    const double since_ms = note.since_switch < 0 ? -1.0 : 1000.0 * static_cast<double>(note.since_switch) / options.rate;
    std::cout << (i ? ", " : "") << "{\"at_s\": " << static_cast<double>(note.at) / options.rate
              << ", \"silent_ms\": " << silent_ms << ", \"ms_since_switch\": " << since_ms << "}";
  }
  std::cout << "]}" << std::endl;
  plugin.reset();
  return 0;
}
