"""`latentplay render` and `latentplay expand` on the shipped demo bundle, and what ships inside
the VST3 (the demo bundle as default, the factory presets)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from latentplay import _engine, host
from latentplay.cli import main
from latentplay.midi import read_notes

ROOT = Path(__file__).resolve().parents[2]
DEMO_BUNDLE = ROOT / "presets" / "demo.latentplay"
GROOVE = ROOT / "presets" / "demo-groove.mid"
PRESETS = sorted((ROOT / "presets" / "factory").glob("*.json"))
RATE = 48000


def render_cli(tmp_path: Path, name: str, *options: str) -> np.ndarray:
    out = tmp_path / f"{name}.wav"
    assert main(["render", "--midi", str(GROOVE), "--bundle", str(DEMO_BUNDLE), "--sr", str(RATE),
                 "--out", str(out), *options]) == 0
    audio, rate = soundfile.read(str(out), dtype="float32", always_2d=True)
    assert rate == RATE
    return audio.T


def test_render_is_deterministic_and_its_notes_are_the_engine_one_shots(tmp_path):
    first = render_cli(tmp_path, "a")
    assert np.array_equal(first, render_cli(tmp_path, "b"))
    engine = _engine.Engine(str(DEMO_BUNDLE))
    plugin = host.load_instrument(host.BUILT_VST3, DEMO_BUNDLE)  # the same defaults as the render
    targets = {}
    for name, control in zip(host.CONTROL_NAMES, engine.controls):
        low, high = control["range"]
        targets[name] = low + float(np.float32(plugin.parameters[name].raw_value)) * (high - low)
    one_shot = engine.regenerate(0, targets, RATE)
    expected = np.zeros(first.shape[1], dtype=np.float64)
    for note in read_notes(GROOVE):  # overlapping notes add up (the pickups ring into the beat)
        start = int(round(note.time_s * RATE))
        part = one_shot[:len(expected) - start] * (note.velocity / 127)
        expected[start:start + len(part)] += part
    assert np.max(np.abs(first[0] - expected)) < 1e-5


def test_automation_moves_the_sound_and_draws_the_path(tmp_path):
    plain = render_cli(tmp_path, "plain")
    automated = render_cli(tmp_path, "automated", "--automate", "frequency=min:max", "--plot",
                           str(tmp_path / "render.png"))
    assert np.max(np.abs(plain - automated)) > 1e-2
    assert (tmp_path / "render.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("preset", PRESETS[:3], ids=lambda p: p.stem)
def test_a_preset_equals_its_parameters_set_by_hand(tmp_path, preset):
    via_preset = render_cli(tmp_path, "preset", "--preset", str(preset))
    parameters = json.loads(preset.read_text())["parameters"]
    by_hand = render_cli(tmp_path, "hand", *[f"--set={name}={value}" for name, value in parameters.items()])
    assert np.array_equal(via_preset, by_hand)


def test_factory_presets_sound_different():
    assert len(PRESETS) >= 8
    one_shots = []
    for preset in PRESETS:
        plugin = host.load_instrument(host.BUILT_VST3, DEMO_BUNDLE)
        host.apply_preset(plugin, DEMO_BUNDLE, host.load_preset(preset))
        audio = plugin([(bytes([0x90, 60, 127]), 0.0)], duration=0.35, sample_rate=RATE, num_channels=2)
        one_shots.append(audio[0])
    for i in range(len(one_shots)):
        for j in range(i + 1, len(one_shots)):
            assert np.sqrt(np.mean((one_shots[i] - one_shots[j]) ** 2)) > 0.01, (PRESETS[i].stem, PRESETS[j].stem)


def test_a_fresh_instance_plays_the_shipped_demo_bundle(load_plugin):
    plugin = load_plugin(None)  # no LATENTPLAY_BUNDLE: Contents/Resources/default.latentplay
    audio = plugin([(bytes([0x90, 60, 127]), 0.0)], duration=0.4, sample_rate=RATE, num_channels=2)
    assert np.abs(audio).max() > 0.1
    shipped = host.BUILT_VST3 / "Contents" / "Resources"
    assert (shipped / "default.latentplay" / "latentplay.json").is_file()
    assert len(list((shipped / "presets").glob("*.json"))) == len(PRESETS)


def test_expand_writes_variations_and_a_manifest(tmp_path):
    out = tmp_path / "expanded"
    assert main(["expand", str(DEMO_BUNDLE), "--out", str(out), "--count", "2",
                 "--grid", "frequency=45:90:4", "--random", "2"]) == 0
    rows = list(csv.DictReader(open(out / "manifest.csv")))
    assert len(rows) == 2 * (4 + 2) and json.loads((out / "manifest.json").read_text()) == [
        {key: (value if key in ("sample", "file") else float(value)) for key, value in row.items()} for row in rows]
    for row in rows:
        assert (out / row["file"]).is_file()
        assert f"frequency{float(row['asked_frequency']):+.2f}Hz" in row["file"]
        assert float(row["measured_frequency"]) > 0


def test_expanded_frequency_moves_the_way_its_control_asked(tmp_path):
    out = tmp_path / "expanded"
    assert main(["expand", str(DEMO_BUNDLE), "--out", str(out), "--count", "4", "--grid", "frequency=45:90:4"]) == 0
    rows = list(csv.DictReader(open(out / "manifest.csv")))
    for sample in {row["sample"] for row in rows}:
        measured = [float(row["measured_frequency"]) for row in rows if row["sample"] == sample]
        assert all(later > earlier for earlier, later in zip(measured, measured[1:])), (sample, measured)
