"""Hosting the built LatentPlay VST3 in pedalboard: what `latentplay render` runs, so that what
you hear is what a DAW's offline bounce gives.

Automation is rendered in chunks, one per note: before each note the automated controls are set
to their ramp value at that note's time, then the plugin renders up to the next note without a
reset, so ringing notes carry on across chunks. Offline, each note plays the one-shot of the
values in force at that note, so the result is deterministic.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentplay.bundle import CONTROL_NAMES, SAMPLE_PARAMETER_STEPS
from latentplay.midi import Note

REPOSITORY = Path(__file__).resolve().parents[2]
BUILT_VST3 = REPOSITORY / "build" / "python" / "plugin" / "LatentPlay_artefacts" / "Release" / "VST3" / "LatentPlay.vst3"
VST3_NAME = "LatentPlay.vst3"
# Where Linux hosts look for VST3s (Steinberg's list), after the user's own ~/.vst3.
SYSTEM_VST3_FOLDERS = (Path("/usr/local/lib/vst3"), Path("/usr/lib/vst3"))
DEFAULT_BUNDLE = REPOSITORY / "presets" / "demo.latentplay"
TAIL_S = 0.6  # rendered after the last note: one one-shot and some room


@dataclass(frozen=True)
class Automation:
    """A linear ramp of one parameter from `start` to `end` over [from_fraction, to_fraction] of
    the clip; outside that window the parameter keeps its base value (default, preset or --set),
    so that several controls can be automated in turn."""

    parameter: str
    start: float
    end: float
    from_fraction: float = 0.0
    to_fraction: float = 1.0

    def value_at(self, fraction: float, base: float) -> float:
        if not self.from_fraction <= fraction <= self.to_fraction:
            return base
        progress = (fraction - self.from_fraction) / (self.to_fraction - self.from_fraction)
        return self.start + progress * (self.end - self.start)

    @classmethod
    def parse(cls, text: str, ranges: dict[str, tuple[float, float]]) -> "Automation":
        """``NAME=FROM:TO`` or ``NAME=FROM:TO@START:END`` (START/END: fractions of the clip);
        FROM and TO may be ``min`` or ``max``: the ends of the parameter's range in `ranges`."""
        def value(word: str, name: str) -> float:
            if word in ("min", "max"):
                if name not in ranges:
                    raise ValueError(f"--automate {text!r}: unknown parameter {name!r}")
                return ranges[name][0 if word == "min" else 1]
            return float(word)

        try:
            name, ramp = text.split("=", 1)
            name = name.strip()
            values, _, window = ramp.partition("@")
            start, end = (value(v.strip(), name) for v in values.split(":"))
            from_fraction, to_fraction = (float(v) for v in window.split(":")) if window else (0.0, 1.0)
        except ValueError:
            raise ValueError(f"--automate {text!r}: expected NAME=FROM:TO or NAME=FROM:TO@START:END") from None
        if not 0 <= from_fraction < to_fraction <= 1:
            raise ValueError(f"--automate {text!r}: the window must satisfy 0 <= START < END <= 1")
        return cls(name, start, end, from_fraction, to_fraction)


def parse_settings(items: list[str]) -> dict[str, float]:
    """``NAME=VALUE`` pairs (values in the parameter's own units)."""
    settings = {}
    for item in items:
        name, separator, value = item.partition("=")
        try:
            settings[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--set {item!r}: expected NAME=NUMBER") from None
        if not separator:
            raise ValueError(f"--set {item!r}: expected NAME=NUMBER")
    return settings


def load_preset(path: Path) -> dict[str, float]:
    """A factory or user preset: JSON ``{"name": ..., "parameters": {NAME: VALUE, ...}}``."""
    try:
        preset = json.loads(Path(path).read_text())
        return {str(name): float(value) for name, value in preset["parameters"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{path}: not a LatentPlay preset ({error})") from None


def plugin_candidates(explicit: Path | None, variable: str, bundle_name: str, installed_folders: tuple[Path, ...],
                      built: Path) -> list[tuple[str, Path]]:
    """Where a plugin bundle is looked for, in order: the path given, $VARIABLE, the installed
    locations, the build folder of a source checkout."""
    candidates = [("given", Path(explicit))] if explicit else []
    if os.environ.get(variable):
        candidates.append((f"${variable}", Path(os.environ[variable])))
    candidates += [("installed", folder / bundle_name) for folder in installed_folders]
    candidates.append(("build folder", built))
    return candidates


def vst3_candidates(explicit: Path | None = None) -> list[tuple[str, Path]]:
    return plugin_candidates(explicit, "LATENTPLAY_VST3", VST3_NAME, (Path.home() / ".vst3", *SYSTEM_VST3_FOLDERS),
                             BUILT_VST3)


def find_vst3(explicit: Path | None = None) -> Path:
    """The LatentPlay.vst3 to host: the first of vst3_candidates() that exists. A path given
    explicitly must exist (it is never silently replaced by another plugin)."""
    if explicit is not None and not Path(explicit).is_dir():
        raise FileNotFoundError(f"{explicit}: no VST3 bundle there")
    for _, path in vst3_candidates(explicit):
        if path.is_dir():
            return path
    looked = "; ".join(f"{where}: {path}" for where, path in vst3_candidates(explicit))
    raise FileNotFoundError(f"LatentPlay.vst3 not found (looked in {looked}). Build it with scripts/setup.sh, "
                            "install it with `cmake --build build/python --target install_vst3`, or set $LATENTPLAY_VST3")


BUILT_LV2 = BUILT_VST3.parent.parent / "LV2" / "LatentPlay.lv2"
LV2_NAME = "LatentPlay.lv2"
# The plugin's LV2 URI, as the build gives it to the plugin (plugin/CMakeLists.txt reads it there).
LV2_URI = json.loads((REPOSITORY / "plugin" / "identity.json").read_text())["lv2_uri"]
# Where LV2 hosts look (lilv's default LV2_PATH on Linux), after the user's own ~/.lv2.
SYSTEM_LV2_FOLDERS = (Path("/usr/local/lib/lv2"), Path("/usr/lib/lv2"))


def lv2_candidates(explicit: Path | None = None) -> list[tuple[str, Path]]:
    return plugin_candidates(explicit, "LATENTPLAY_LV2", LV2_NAME, (Path.home() / ".lv2", *SYSTEM_LV2_FOLDERS),
                             BUILT_LV2)


def find_lv2(explicit: Path | None = None) -> Path:
    """The LatentPlay.lv2 bundle (the folder holding manifest.ttl): the first of lv2_candidates()
    that is one. A path given explicitly must be one."""
    if explicit is not None and not (Path(explicit) / "manifest.ttl").is_file():
        raise FileNotFoundError(f"{explicit}: no LV2 bundle there (no manifest.ttl)")
    for _, path in lv2_candidates(explicit):
        if (path / "manifest.ttl").is_file():
            return path
    looked = "; ".join(f"{where}: {path}" for where, path in lv2_candidates(explicit))
    raise FileNotFoundError(f"LatentPlay.lv2 not found (looked in {looked}). Build it with scripts/setup.sh "
                            "(or `cmake --build build/python --target LatentPlay_LV2`), or set $LATENTPLAY_LV2")


def load_instrument(vst3: Path | None = None, bundle: Path = DEFAULT_BUNDLE):
    """A fresh plugin instance playing `bundle` (passed through LATENTPLAY_BUNDLE); the plugin is
    ``vst3`` or else found by find_vst3()."""
    import pedalboard

    vst3 = find_vst3(vst3)
    if not Path(bundle).is_dir():
        raise FileNotFoundError(f"{bundle}: no model bundle")
    previous = os.environ.get("LATENTPLAY_BUNDLE")
    os.environ["LATENTPLAY_BUNDLE"] = str(Path(bundle).resolve())  # read once, at construction
    try:
        return pedalboard.load_plugin(str(vst3))
    finally:
        if previous is None:
            del os.environ["LATENTPLAY_BUNDLE"]
        else:
            os.environ["LATENTPLAY_BUNDLE"] = previous


def snap_to_sample(plugin, bundle: Path, index: int) -> None:
    """Select a sample and set the five controls to its own values (as the editor does), so that
    the sample sounds as itself until a control is changed."""
    from latentplay import _engine

    engine = _engine.Engine(str(bundle))
    plugin.parameters["sample"].raw_value = index / SAMPLE_PARAMETER_STEPS
    for name, position in engine.own_positions(engine.samples[index]["latent"]).items():
        plugin.parameters[name].raw_value = position


def load_audio_file(plugin, path: Path, bundle: Path | None = None) -> None:
    """Any audio file as the plugin's starting point, through its state (as a host without the
    editor does): the plugin prepares and encodes it. With ``bundle`` (the one the plugin plays)
    the five controls are then set to the file's own values, as the editor's drop does, so that
    it sounds as itself. Raises ValueError with the plugin's reason when it refuses the file (the
    sound is then unchanged)."""
    import xml.etree.ElementTree as ET

    from latentplay.plugin_state import plugin_state, with_plugin_state

    state = plugin_state(plugin.raw_state)
    for old in state.findall("audio") + state.findall("audio_refused"):
        state.remove(old)
    ET.SubElement(state, "audio", path=str(Path(path).resolve()), latent="")
    plugin.raw_state = with_plugin_state(plugin.raw_state, state)
    refused = plugin_state(plugin.raw_state).find("audio_refused")
    if refused is not None:
        raise ValueError(f"{path}: {refused.get('reason')}")
    if bundle is not None:
        from latentplay import _engine

        for name, position in _engine.Engine(str(bundle)).own_positions(loaded_latent(plugin)).items():
            plugin.parameters[name].raw_value = position


def loaded_latent(plugin) -> np.ndarray:
    """The latent point of the audio file the plugin plays from (its state's <audio>)."""
    from latentplay.plugin_state import plugin_state

    audio = plugin_state(plugin.raw_state).find("audio")
    if audio is None:
        raise ValueError("the plugin plays a bundle sample, not a loaded file")
    return np.array([float(value) for value in audio.get("latent").split()])


def apply_preset(plugin, bundle: Path, settings: dict[str, float]) -> None:
    """Settings as a preset means them: a sample (if any) with its own control values first, then
    every other value given."""
    if "sample" in settings:
        snap_to_sample(plugin, bundle, int(settings["sample"]))
    apply_settings(plugin, {name: value for name, value in settings.items() if name != "sample"})


def parameter_ranges(plugin) -> dict[str, tuple[float, float]]:
    """(min, max) of every numeric parameter, in its units (for ``min``/``max`` in automations)."""
    ranges = {}
    for name, parameter in plugin.parameters.items():
        low, high = parameter.range[:2]
        if low is not None and high is not None:
            ranges[name] = (float(low), float(high))
    return ranges


def apply_settings(plugin, settings: dict[str, float]) -> None:
    """Set parameters by name in their own units (pedalboard's snake_case names)."""
    for name, value in settings.items():
        if name == "sample":  # an index, not a display text
            plugin.parameters["sample"].raw_value = value / SAMPLE_PARAMETER_STEPS
        elif name in plugin.parameters:
            setattr(plugin, name, value)
        else:
            known = ", ".join(sorted(set(plugin.parameters) - {"bypass"}))
            raise ValueError(f"unknown parameter {name!r}; the plugin has: {known}")


def render_notes(plugin, notes: list[Note], automations: list[Automation],
                 sample_rate: int) -> tuple[np.ndarray, list[dict[str, float]]]:
    """Render `notes` with the plugin's current settings and `automations`; returns the stereo
    audio and, per note, the raw (0..1) positions of the five controls in force at that note."""
    base = {a.parameter: float(getattr(plugin, a.parameter)) for a in automations}
    duration = notes[-1].time_s + TAIL_S
    starts = [int(round(note.time_s * sample_rate)) for note in notes] + [int(round(duration * sample_rate))]
    chunks = [render_chunk(plugin, [], starts[0], sample_rate, reset=True)]
    in_force = []
    for note, start, end in zip(notes, starts, starts[1:]):
        apply_settings(plugin, {a.parameter: a.value_at(note.time_s / duration, base[a.parameter])
                                for a in automations})
        in_force.append({name: plugin.parameters[name].raw_value for name in CONTROL_NAMES})
        midi = [(bytes([0x90, note.pitch, note.velocity]), 0.0)]
        chunks.append(render_chunk(plugin, midi, end - start, sample_rate, reset=False))
    return np.concatenate(chunks, axis=1), in_force


def render_chunk(plugin, midi: list, samples: int, sample_rate: int, reset: bool) -> np.ndarray:
    if samples <= 0:
        return np.zeros((2, 0), dtype=np.float32)
    # pedalboard floors duration x rate: ask for half a sample more to get exactly `samples`
    audio = plugin(midi, duration=(samples + 0.5) / sample_rate, sample_rate=sample_rate, num_channels=2,
                   reset=reset)
    return audio[:, :samples]


def latent_path(bundle: Path, in_force: list[dict[str, float]], start: int | np.ndarray) -> np.ndarray:
    """(notes, 2): the PC1/PC2 coordinates of the latent point each note played, from a bundle
    sample (its index) or a loaded file's latent point."""
    from latentplay import _engine

    engine = _engine.Engine(str(bundle))
    latent = engine.samples[start]["latent"] if isinstance(start, (int, np.integer)) else start
    points = []
    for positions in in_force:
        moved = engine.own_controls(engine.move(latent, engine.targets_at(positions)))
        points.append((moved["pc1"], moved["pc2"]))
    return np.array(points)


def plot_render(audio: np.ndarray, sample_rate: int, bundle_path: Path, path_points: np.ndarray, out: Path) -> Path:
    """Waveform and spectrogram of a render, and the latent map with the path the notes took."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from latentplay.bundle import load_bundle
    from latentplay.plot import draw_latent_map, save_figure

    figure = plt.figure(figsize=(13, 7))
    grid = figure.add_gridspec(2, 2, width_ratios=(3, 2))
    time = np.arange(audio.shape[1]) / sample_rate
    wave = figure.add_subplot(grid[0, 0])
    wave.plot(time, audio[0], linewidth=0.5)
    wave.set_xlim(0, time[-1])
    wave.set_title("Render (left channel)")
    spectrum = figure.add_subplot(grid[1, 0], sharex=wave)
    with np.errstate(divide="ignore"):  # digital silence between notes is -inf dB: drawn as the floor
        spectrum.specgram(audio[0], NFFT=1024, Fs=sample_rate, noverlap=768, cmap="magma", vmin=-120, vmax=-20)
    spectrum.set_facecolor("black")
    spectrum.set_ylim(0, 4000)
    spectrum.set_xlabel("time (s)")
    spectrum.set_ylabel("Hz")
    latent = figure.add_subplot(grid[:, 1])
    draw_latent_map(latent, load_bundle(bundle_path))
    latent.plot(path_points[:, 0], path_points[:, 1], "-o", color="black", markersize=3, linewidth=1,
                label="played (per note)")
    latent.legend(fontsize=8)
    return save_figure(figure, out, dpi=90)
