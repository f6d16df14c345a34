// latentplay._engine: the C++ engine in Python (numpy in, numpy out, engine errors as Python
// ValueError subclasses with the engine's messages). Inference releases the GIL.
#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <filesystem>
#include <optional>

#include "latentplay/engine.hpp"
#include "latentplay/errors.hpp"
#include "latentplay/features.hpp"
#include "latentplay/naming.hpp"
#include "latentplay/pitch.hpp"
#include "latentplay/resampler.hpp"

namespace py = pybind11;
using namespace latentplay;

namespace {

ControlTargets to_targets(const py::dict& controls) {
  ControlTargets targets;
  for (const auto& item : controls) {
    const std::string name = py::cast<std::string>(item.first);
    bool known = false;
    for (int k = 0; k < kNumControls; ++k) {
      if (name == kControlNames[k]) {
        targets[k] = py::cast<double>(item.second);
        known = true;
      }
    }
    if (!known) {
      std::string expected;
      for (const char* control : kControlNames) expected += (expected.empty() ? "" : ", ") + std::string(control);
      throw UsageError("unknown control \"" + name + "\"; expected " + expected);
    }
  }
  return targets;
}

// What the plugin's worker makes once per control state for Neural keys (Regenerator::stateShot).
RootShot root_shot(const Engine& engine, const AudioStart& start, const ControlTargets& targets, double detail,
                   const Variation& variation) {
  RootShot root;
  root.audio = engine.regenerate(start, targets, 0.0, detail, variation);
  root.features = measure_features(root.audio, engine.bundle().sample_rate);
  return root;
}

py::dict to_dict(const Eigen::VectorXd& values) {
  py::dict result;
  for (int k = 0; k < kNumControls; ++k) result[kControlNames[k]] = values[k];
  return result;
}

py::array_t<float> to_array(std::vector<float>&& audio) {
  auto* owner = new std::vector<float>(std::move(audio));
  py::capsule free_when_done(owner, [](void* pointer) { delete static_cast<std::vector<float>*>(pointer); });
  return py::array_t<float>(owner->size(), owner->data(), free_when_done);
}

// A bundle sample given by name (relative path, file stem) or index.
int sample_index_of(const Engine& engine, const py::object& sample) {
  if (py::isinstance<py::str>(sample)) {
    const int index = engine.bundle().find_sample(py::cast<std::string>(sample));
    if (index < 0) throw UsageError("no sample named \"" + py::cast<std::string>(sample) + "\"");
    return index;
  }
  const int index = py::cast<int>(sample);
  engine.sample_latent(index);  // checks the range
  return index;
}

RawAudio raw_audio(const py::array_t<float, py::array::c_style | py::array::forcecast>& frames, double rate) {
  if (frames.ndim() != 1 && frames.ndim() != 2) throw UsageError("frames: expected (frames,) or (frames, channels)");
  RawAudio audio;
  audio.channels = frames.ndim() == 2 ? static_cast<int>(frames.shape(1)) : 1;
  audio.interleaved.assign(frames.data(), frames.data() + frames.size());
  audio.sample_rate = rate;
  return audio;
}

bool is_sample(const py::object& start) { return py::isinstance<py::str>(start) || py::isinstance<py::int_>(start); }

Eigen::VectorXd starting_point(const Engine& engine, const py::object& start) {
  if (is_sample(start)) return engine.sample_latent(sample_index_of(engine, start));
  return py::cast<Eigen::VectorXd>(start);
}

py::list controls_of(const Bundle& bundle) {
  py::list controls;
  for (const Control& c : bundle.controls) {
    py::dict entry;
    entry["name"] = c.name;
    entry["label"] = c.label;
    entry["unit"] = c.unit;
    entry["kind"] = c.kind;
    entry["range"] = py::make_tuple(c.minimum, c.maximum);
    entry["weights"] = c.weights;
    entry["intercept"] = c.intercept;
    controls.append(entry);
  }
  return controls;
}

py::list samples_of(const Bundle& bundle) {
  py::list samples;
  for (const Sample& s : bundle.samples) {
    py::dict entry;
    entry["path"] = s.path;
    entry["pack"] = s.pack;
    entry["subpack"] = s.subpack;
    entry["latent"] = s.latent;
    entry["features"] = py::dict(py::arg("frequency") = s.frequency, py::arg("attack") = s.attack,
                                 py::arg("release") = s.release);
    samples.append(entry);
  }
  return samples;
}

}  // namespace

PYBIND11_MODULE(_engine, m) {
  m.doc() = "LatentPlay's C++ engine (libtorch + Eigen + libsoxr), the code the plugin runs.";
  py::register_exception<BundleError>(m, "BundleError", PyExc_ValueError);
  py::register_exception<UsageError>(m, "UsageError", PyExc_ValueError);
  py::register_exception<UnusableAudio>(m, "UnusableAudio", PyExc_ValueError);

  py::class_<AudioStart>(m, "AudioStart", "A starting point made from any audio (Engine.start_from_audio).")
      .def_property_readonly("latent", [](const AudioStart& s) { return s.latent; })
      .def_property_readonly("original", [](const AudioStart& s) { return to_array(std::vector<float>(s.original)); })
      .def_property_readonly("residual", [](const AudioStart& s) { return to_array(std::vector<float>(s.residual)); });

  py::class_<RootShot>(m, "RootShot", "The root one-shot of Neural key tracking (Engine.root_shot).")
      .def_property_readonly("audio", [](const RootShot& r) { return to_array(std::vector<float>(r.audio)); })
      .def_property_readonly("frequency", [](const RootShot& r) { return r.features.frequency_hz; })
      .def_property_readonly("release", [](const RootShot& r) { return r.features.release_ms; });

  m.attr("PITCH_CANDIDATES") = kPitchCandidates;  // decodes per Neural key (pitch.hpp)
  m.attr("PITCH_SEARCH_SEMITONES") = kPitchSearchSemitones;  // a Neural search's reach from the root
  m.def("check_bundle", [](const std::string& folder) { load_bundle(folder); },
        "Read and check a bundle folder (sidecar rules, files, hashes) without loading the model.");
  m.def(
      "contract",
      [] {
        py::list controls;
        for (int k = 0; k < kNumControls; ++k)
          controls.append(py::dict(py::arg("name") = kControlNames[k], py::arg("label") = kControlLabels[k],
                                   py::arg("unit") = kControlUnits[k], py::arg("kind") = kControlKinds[k]));
        return py::dict(py::arg("controls") = controls, py::arg("schema_version") = kSchemaVersion,
                        py::arg("oldest_schema_version") = kOldestSchemaVersion,
                        py::arg("sample_parameter_steps") = kSampleParameterSteps,
                        py::arg("schema") = std::string(kBundleContractJson));
      },
      "What the engine was built with from the bundle contract (latentplay/contract.hpp).");
  m.def("sha256_file", &sha256_file);
  m.def("set_intra_op_threads", &set_intra_op_threads, py::arg("threads"));
  m.def("intra_op_threads", &intra_op_threads);
  m.def(
      "measure_features",
      [](py::array_t<float, py::array::c_style | py::array::forcecast> audio, double rate) {
        const std::vector<float> input(audio.data(), audio.data() + audio.size());
        const Features features = measure_features(input, rate);
        py::dict out;
        out["frequency"] = features.frequency_hz;
        out["attack"] = features.attack_ms;
        out["release"] = features.release_ms;
        return out;
      },
      py::arg("audio"), py::arg("rate"),
      "Frequency (Hz), attack and release (ms) as the engine measures them (= latentplay.features).");
  m.def(
      "one_shot_file_name",
      [](const std::string& start_name, const py::dict& controls) {
        std::array<double, kNumControls> values{};
        for (int k = 0; k < kNumControls; ++k)
          values[static_cast<size_t>(k)] = controls[kControlNames[static_cast<size_t>(k)]].cast<double>();
        return one_shot_file_name(start_name, values);
      },
      py::arg("start_name"), py::arg("controls"),
      "The file name of a one-shot from `start_name` at the five control values ({name: value}).");
  m.def("resample",
        [](py::array_t<float, py::array::c_style | py::array::forcecast> audio, double from_rate, double to_rate) {
          std::vector<float> input(audio.data(), audio.data() + audio.size());
          std::vector<float> output;
          {
            py::gil_scoped_release release;
            output = resample(input, from_rate, to_rate);
          }
          return to_array(std::move(output));
        },
        py::arg("audio"), py::arg("from_rate"), py::arg("to_rate"));

  py::class_<Projector>(m, "Projector")
      .def(py::init<const Eigen::MatrixXd&, const Eigen::VectorXd&, const Eigen::VectorXd&>(), py::arg("weights"),
           py::arg("intercepts"), py::arg("spans"))
      .def("values", &Projector::values, py::arg("latent"))
      .def("project", &Projector::project, py::arg("latent"), py::arg("targets"));

  py::class_<Engine>(m, "Engine")
      .def(py::init([](const std::string& folder) {
             py::gil_scoped_release release;
             return std::make_unique<Engine>(folder);
           }),
           py::arg("bundle"))
      .def_property_readonly("model_id", [](const Engine& e) { return e.bundle().model_id; })
      .def_property_readonly("sample_rate", [](const Engine& e) { return e.bundle().sample_rate; })
      .def_property_readonly("length", [](const Engine& e) { return e.bundle().length; })
      .def_property_readonly("latent_dim", [](const Engine& e) { return e.bundle().latent_dim; })
      .def_property_readonly("packs", [](const Engine& e) { return e.bundle().packs; })
      .def_property_readonly("controls", [](const Engine& e) { return controls_of(e.bundle()); })
      .def_property_readonly("samples", [](const Engine& e) { return samples_of(e.bundle()); })
      .def("find_sample", [](const Engine& e, const std::string& name) { return e.bundle().find_sample(name); })
      .def("own_controls", [](const Engine& e, const Eigen::VectorXd& z) { return to_dict(e.own_controls(z)); },
           py::arg("latent"))
      .def("own_positions", [](const Engine& e, const Eigen::VectorXd& z) { return to_dict(e.own_positions(z)); },
           py::arg("latent"), "The start's own control values as positions 0..1 (clamped), as the plugin sets them.")
      .def("targets_at",
           [](const Engine& e, const py::dict& positions) {
             // positions travel as the plugin's float parameters do, so the values match its own
             const ControlTargets given = to_targets(positions);
             py::dict values;
             for (int k = 0; k < kNumControls; ++k)
               if (given[k]) values[kControlNames[k]] = e.bundle().controls[k].valueAt(static_cast<float>(*given[k]));
             return values;
           },
           py::arg("positions"), "Control values at positions 0..1 of each control's range.")
      .def("move", [](const Engine& e, const Eigen::VectorXd& z, const py::dict& c) { return e.move(z, to_targets(c)); },
           py::arg("latent"), py::arg("controls") = py::dict())
      .def("decode",
           [](const Engine& e, const Eigen::VectorXd& z) {
             std::vector<float> audio;
             {
               py::gil_scoped_release release;
               audio = e.decode(z);
             }
             return to_array(std::move(audio));
           },
           py::arg("latent"))
      .def("encode",
           [](const Engine& e, py::array_t<float, py::array::c_style | py::array::forcecast> audio) {
             std::vector<float> input(audio.data(), audio.data() + audio.size());
             py::gil_scoped_release release;
             return e.encode(input);
           },
           py::arg("audio"))
      .def("prepare",
           [](const Engine& e, const py::array_t<float, py::array::c_style | py::array::forcecast>& frames,
              double rate) { return to_array(prepare_one_shot(raw_audio(frames, rate), e.bundle())); },
           py::arg("frames"), py::arg("rate"),
           "Audio (frames, or frames × channels) at `rate` -> the encoder's input, as the plugin prepares a "
           "dropped file. Raises UnusableAudio with the reason.")
      .def("start_from_audio",
           [](const Engine& e, const py::array_t<float, py::array::c_style | py::array::forcecast>& frames,
              double rate) {
             const RawAudio audio = raw_audio(frames, rate);
             py::gil_scoped_release release;
             return e.start_from_audio(audio);
           },
           py::arg("frames"), py::arg("rate"), "prepare + encode + the residual: a starting point for regenerate/dry.")
      .def("regenerate",
           [](const Engine& e, const AudioStart& start, const py::dict& controls, double rate, double detail,
              double variation, std::uint64_t seed) {
             const ControlTargets targets = to_targets(controls);
             std::vector<float> audio;
             {
               py::gil_scoped_release release;
               audio = e.regenerate(start, targets, rate, detail, Variation{variation, seed});
             }
             return to_array(std::move(audio));
           },
           py::arg("start"), py::arg("controls") = py::dict(), py::arg("rate") = 0.0, py::arg("detail") = 0.0,
           py::arg("variation") = 0.0, py::arg("seed") = 0)
      .def("regenerate_batch",
           [](const Engine& e, const AudioStart& start, const std::vector<py::dict>& controls, double rate,
              double detail, const std::vector<std::pair<double, std::uint64_t>>& variations) {
             std::vector<ControlTargets> targets;
             for (const py::dict& c : controls) targets.push_back(to_targets(c));
             std::vector<Variation> varied;
             for (const auto& [amount, seed] : variations) varied.push_back(Variation{amount, seed});
             std::vector<std::vector<float>> audio;
             {
               py::gil_scoped_release release;
               audio = e.regenerate_batch(start, targets, rate, detail, varied);
             }
             py::array_t<float> result({audio.size(), audio.empty() ? size_t{0} : audio.front().size()});
             for (size_t i = 0; i < audio.size(); ++i)
               std::copy(audio[i].begin(), audio[i].end(), result.mutable_data(static_cast<py::ssize_t>(i)));
             return result;
           },
           py::arg("start"), py::arg("controls"), py::arg("rate") = 0.0, py::arg("detail") = 0.0,
           py::arg("variations") = std::vector<std::pair<double, std::uint64_t>>{},
           "regenerate for N control dicts and N (amount, seed) variations (or 1 of either, shared; no "
           "variations = none) from one start, decoded in ONE decoder call: an (N, samples) array.")
      .def("decode_batch",
           [](const Engine& e, const std::vector<Eigen::VectorXd>& latents) {
             std::vector<std::vector<float>> audio;
             {
               py::gil_scoped_release release;
               audio = e.decode_batch(latents);
             }
             py::array_t<float> result({latents.size(), static_cast<size_t>(e.bundle().length)});
             for (size_t i = 0; i < audio.size(); ++i)
               std::copy(audio[i].begin(), audio[i].end(), result.mutable_data(static_cast<py::ssize_t>(i)));
             return result;
           },
           py::arg("latents"), "Latent points (N, latent_dim) -> (N, length) in one decoder call.")
      .def("vary", [](const Engine& e, const Eigen::VectorXd& z, double amount, std::uint64_t seed) {
             return e.vary(z, Variation{amount, seed});
           }, py::arg("latent"), py::arg("amount"), py::arg("seed"),
           "z moved `amount` neighbour distances in a direction drawn from `seed` (per-note variation).")
      .def_property_readonly("neighbour_distance", &Engine::neighbour_distance,
                             "median distance from each sample's latent point to its nearest other's")
      .def("sample_start", [](const Engine& e, const py::object& sample) { return e.sample_start(sample_index_of(e, sample)); },
           py::arg("sample"), "A bundle sample as a starting point (its latent, original and residual).")
      .def("root_shot",
           [](const Engine& e, const AudioStart& start, const py::dict& controls, double detail, double variation,
              std::uint64_t seed) {
             const ControlTargets targets = to_targets(controls);
             py::gil_scoped_release release;
             return root_shot(e, start, targets, detail, Variation{variation, seed});
           },
           py::arg("start"), py::arg("controls"), py::arg("detail") = 0.0, py::arg("variation") = 0.0,
           py::arg("seed") = 0,
           "The root one-shot Neural keys are re-pitched from (pitch.hpp: made once per control state, as the "
           "plugin's worker does), for repitch(root=...).")
      .def("repitch",
           [](const Engine& e, const AudioStart& start, const py::dict& controls, double semitones, double detail,
              double variation, std::uint64_t seed, std::optional<RootShot> root) {
             const ControlTargets targets = to_targets(controls);
             const bool shared = root.has_value();
             Repitched repitched;
             {
               py::gil_scoped_release release;
               if (!shared) root = root_shot(e, start, targets, detail, Variation{variation, seed});
               repitched = repitch(e, start, targets, *root, semitones, detail, Variation{variation, seed});
             }
             py::dict out;
             out["audio"] = to_array(std::move(repitched.audio));
             out["speed"] = repitched.speed;
             out["frequency"] = repitched.measured.frequency_hz;
             out["release"] = repitched.measured.release_ms;
             out["root_frequency"] = root->features.frequency_hz;
             out["root_release"] = root->features.release_ms;
             out["decodes"] = repitched.decodes + (shared ? 0 : 1);  // the root's too when made here
             return out;
           },
           py::arg("start"), py::arg("controls"), py::arg("semitones"), py::arg("detail") = 0.0,
           py::arg("variation") = 0.0, py::arg("seed") = 0, py::arg("root") = py::none(),
           "Neural key tracking (pitch.hpp): the model-rate one-shot for `semitones` from the root at `controls` "
           "(all five), the speed to play it at, and what was measured. `root`: root_shot() of the same values, "
           "shared by every key (made here when not given).")
      .def("dry", [](const Engine& e, const AudioStart& start, double rate) { return to_array(e.dry(start, rate)); },
           py::arg("start"), py::arg("rate") = 0.0)
      .def("regenerate",
           [](const Engine& e, const py::object& start, const py::dict& controls, double rate, double detail) {
             const ControlTargets targets = to_targets(controls);
             const bool from_sample = is_sample(start);
             if (!from_sample && detail != 0.0)
               throw UsageError("detail needs a bundle sample to start from (its own original and reconstruction)");
             const int index = from_sample ? sample_index_of(e, start) : -1;
             const Eigen::VectorXd latent = from_sample ? Eigen::VectorXd() : starting_point(e, start);
             std::vector<float> audio;
             {
               py::gil_scoped_release release;
               audio = from_sample ? e.regenerate(index, targets, rate, detail) : e.regenerate(latent, targets, rate);
             }
             return to_array(std::move(audio));
           },
           py::arg("start"), py::arg("controls") = py::dict(), py::arg("rate") = 0.0, py::arg("detail") = 0.0,
           "A one-shot from a sample (index or name) or a latent point, steered by controls "
           "({name: value}), resampled to `rate` (0 = the model rate); `detail` (0..1) adds the sample's "
           "own residual, original − reconstruction.")
      .def("dry",
           [](const Engine& e, const py::object& sample, double rate) {
             const int index = sample_index_of(e, sample);
             std::vector<float> audio;
             {
               py::gil_scoped_release release;
               audio = e.dry(index, rate);
             }
             return to_array(std::move(audio));
           },
           py::arg("sample"), py::arg("rate") = 0.0,
           "The dry side of Mix: the sample's original when the bundle holds it, else its reconstruction.")
      .def_property_readonly("has_originals", &Engine::has_originals)
      .def("original",
           [](const Engine& e, const py::object& sample) { return to_array(e.original(sample_index_of(e, sample))); },
           py::arg("sample"), "The original one-shot as prepared (model rate); empty without originals.");
}
