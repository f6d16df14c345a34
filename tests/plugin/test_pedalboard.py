"""The built VST3 in pedalboard: parameters, notes, controls, rates, block sizes, state, and bad
bundles — each compared with the C++ engine through its Python module (the same code)."""

from __future__ import annotations

import numpy as np
import pytest

from latentplay import _engine
from latentplay.bundle import CONTROL_NAMES, CONTROLS as CONTROL_SPECS, SAMPLE_PARAMETER_STEPS
from tests.export.malformed import MALFORMED, make_copy

NOTE_ON, NOTE_OFF = 0x90, 0x80


def note(pitch: int, velocity: int, seconds: float) -> tuple[bytes, float]:
    return bytes([NOTE_ON, pitch, velocity]), seconds


def at(sample: int, rate: int) -> float:
    """The time of a sample index, safe from rounding (pedalboard floors time × rate)."""
    return (sample + 0.25) / rate


def render(plugin, midi, rate=48000, seconds=0.8, block=512, reset=True):
    """reset=True: pedalboard re-creates an instrument for every call and restores its state
    into the new instance; reset=False: the same instance plays on."""
    return plugin(midi, duration=seconds, sample_rate=rate, num_channels=2, buffer_size=block, reset=reset)


def expected_one_shot(engine, plugin, rate: float) -> np.ndarray:
    """What the engine makes for the plugin's current parameter values (the plugin stores each
    control as a float32 position in the bundle's range)."""
    targets = {}
    for name, control in zip(CONTROL_NAMES, engine.controls):
        low, high = control["range"]
        targets[name] = low + float(np.float32(plugin.parameters[name].raw_value)) * (high - low)
    sample = int(round(plugin.parameters["sample"].raw_value * SAMPLE_PARAMETER_STEPS))
    return engine.regenerate(sample, targets, rate)


@pytest.fixture(scope="module")
def engine(smoke_export):
    return _engine.Engine(str(smoke_export[2]))


def test_loads_as_an_instrument_with_the_specified_parameters(load_plugin, smoke_export, engine):
    plugin = load_plugin(smoke_export[2])
    assert plugin.is_instrument
    names = set(plugin.parameters)
    assert {*CONTROL_NAMES, "sample", "mix", "detail", "output_gain", "velocity_sensitivity", "variation", "pitch_mode",
            "root_note", "choke"} <= names
    assert len(names - {"bypass"}) == 14  # no ~2000 emulated MIDI CC parameters
    for name, control in zip(CONTROL_NAMES, engine.controls):
        low, high = plugin.parameters[name].range[:2]
        assert low == pytest.approx(control["range"][0], abs=0.01)
        assert high == pytest.approx(control["range"][1], abs=0.01)
    for control in CONTROL_SPECS:  # names (pedalboard snake-cases the label) and units: the contract's
        assert plugin.parameters[control.name].name == control.label
        assert control.unit in str(plugin.parameters[control.name])
    assert plugin.output_gain == 0.0


@pytest.mark.parametrize("velocity", [127, 64])
def test_a_note_plays_the_engine_one_shot_at_its_exact_sample(load_plugin, smoke_export, engine, velocity):
    plugin = load_plugin(smoke_export[2])
    rate, start = 48000, 12345
    output = render(plugin, [note(60, velocity, at(start, rate))], rate)
    expected = expected_one_shot(engine, plugin, rate) * (velocity / 127)
    assert np.all(output[:, :start] == 0)
    assert np.max(np.abs(output[0, start:start + len(expected)] - expected)) < 1e-6
    assert np.array_equal(output[0], output[1])


def test_output_gain_scales_the_note(load_plugin, smoke_export, engine):
    plugin = load_plugin(smoke_export[2])
    plugin.output_gain = -6.0
    output = render(plugin, [note(60, 127, 0.1)])
    expected = expected_one_shot(engine, plugin, 48000) * 10 ** (plugin.output_gain / 20)
    start = int(0.1 * 48000)
    assert np.max(np.abs(output[0, start:start + len(expected)] - expected)) < 1e-5


@pytest.mark.parametrize("control", CONTROL_NAMES)
def test_each_control_changes_the_output_as_the_engine_does(load_plugin, smoke_export, engine, control):
    plugin = load_plugin(smoke_export[2])
    before = render(plugin, [note(60, 127, 0.0)])
    parameter = plugin.parameters[control]
    parameter.raw_value = 0.9 if parameter.raw_value < 0.5 else 0.1
    after = render(plugin, [note(60, 127, 0.0)])
    expected = expected_one_shot(engine, plugin, 48000)
    assert np.max(np.abs(after - before)) > 1e-3
    assert np.max(np.abs(after[0, :len(expected)] - expected)) < 1e-6


@pytest.mark.parametrize("rate", [44100, 48000, 96000])
@pytest.mark.parametrize("block", [32, 128, 1000, 4096])
def test_rates_and_block_sizes_agree_with_the_engine(load_plugin, smoke_export, engine, rate, block):
    plugin = load_plugin(smoke_export[2])
    start = 777
    output = render(plugin, [note(60, 100, at(start, rate))], rate, seconds=0.5, block=block)
    expected = expected_one_shot(engine, plugin, rate) * (100 / 127)
    assert np.all(output[:, :start] == 0)
    assert np.max(np.abs(output[0, start:start + len(expected)] - expected)) < 1e-6


def test_polyphony_overlapping_notes_add_up(load_plugin, smoke_export, engine):
    plugin = load_plugin(smoke_export[2])
    rate = 48000
    output = render(plugin, [note(60, 127, 0.0), note(62, 127, 0.05)], rate)
    one = expected_one_shot(engine, plugin, rate)
    expected = np.zeros(output.shape[1], dtype=np.float32)
    expected[:len(one)] += one
    offset = int(0.05 * rate)
    expected[offset:offset + len(one)] += one[:len(expected) - offset]
    assert np.max(np.abs(output[0] - expected)) < 1e-5


def test_state_round_trips(load_plugin, smoke_export):
    plugin = load_plugin(smoke_export[2])
    plugin.frequency = plugin.parameters["frequency"].range[0] + 5.0
    plugin.mix = 0.5
    plugin.output_gain = -3.0
    state = plugin.raw_state
    midi = [note(60, 127, 0.01)]
    restored = load_plugin(None)  # plays the shipped default bundle until the state names the other
    assert not np.array_equal(render(restored, midi), render(plugin, midi))
    restored.raw_state = state
    assert restored.frequency == pytest.approx(plugin.frequency, abs=0.05)
    assert restored.mix == pytest.approx(0.5, abs=1e-3) and restored.output_gain == pytest.approx(-3.0, abs=0.1)
    assert np.array_equal(render(restored, midi), render(plugin, midi))


def test_missing_bundle_gives_silence(load_plugin, tmp_path):
    plugin = load_plugin(tmp_path / "nowhere.latentplay")
    assert np.all(render(plugin, [note(60, 127, 0.0)]) == 0)


@pytest.mark.parametrize("case", [MALFORMED[2], MALFORMED[14]], ids=["nan in weights", "decoder tampered"])
def test_broken_bundle_gives_silence(load_plugin, smoke_export, tmp_path, case):
    bundle = make_copy(smoke_export[2], tmp_path)
    case[1](bundle)
    plugin = load_plugin(bundle)
    assert np.all(render(plugin, [note(60, 127, 0.0)]) == 0)


def test_mix_zero_plays_the_sample_itself(load_plugin, smoke_export, engine):
    plugin = load_plugin(smoke_export[2])
    plugin.parameters["frequency"].raw_value = 0.95  # far from the sample's own value
    plugin.mix = 0.0
    output = render(plugin, [note(60, 127, 0.0)])
    own = engine.dry(0, 48000)  # the original one-shot the bundle holds, at the host rate
    assert engine.has_originals
    assert np.max(np.abs(output[0, :len(own)] - own)) < 1e-6


def test_key_tracking_by_resampling_plays_the_band_limited_one_shot_faster(load_plugin, smoke_export, engine):
    plugin = load_plugin(smoke_export[2])
    plugin.pitch_mode = "Resample"
    output = render(plugin, [note(72, 127, 0.0)])  # an octave above the root note 60
    model_rate = engine.sample_rate
    # Played twice as fast = the model-rate one-shot taken as recorded at twice its rate.
    one_shot = _engine.resample(expected_one_shot(engine, plugin, 0), 2 * model_rate, 48000)
    played = np.flatnonzero(np.abs(output[0]) > 0)
    assert abs(played[-1] + 1 - len(one_shot)) <= 2  # half as long as at the root
    assert np.max(np.abs(output[0, :len(one_shot)] - one_shot)) < 1e-5


def test_state_pointing_to_a_moved_bundle_falls_back_to_the_default(load_plugin, smoke_export, tmp_path):
    moved = tmp_path / "moved.latentplay"
    import shutil

    shutil.copytree(smoke_export[2], moved)
    plugin = load_plugin(moved)
    state = plugin.raw_state
    shutil.rmtree(moved)
    restored = load_plugin(None)
    restored.raw_state = state  # the bundle is gone: no crash; the shipped default bundle plays
    audio = render(restored, [note(60, 127, 0.0)])
    assert np.all(np.isfinite(audio)) and np.abs(audio).max() > 0.05
