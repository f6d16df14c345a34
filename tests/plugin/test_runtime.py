"""Runtime hardening of the built VST3, hosted by pedalboard (offline rendering): a failed
bundle never plays, a failing render silences one note, the worker sleeps when idle, cut voices
fade, and the state is versioned, in units, and restores without reloading what is loaded.

pedalboard re-creates an instrument for every call unless reset=False (and restores the state
into the new instance): tests about one instance living on render with reset=False."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from latentplay import _engine
from latentplay.bundle import CONTROL_NAMES, DECODER_NAME, load_bundle
from tests.export.malformed import MALFORMED, _replace_file, make_copy
from latentplay.plugin_state import plugin_state, with_plugin_state
from tests.plugin.test_pedalboard import at, expected_one_shot, note, render

ROOT = Path(__file__).resolve().parents[2]
DEMO_BUNDLE = ROOT / "presets" / "demo.latentplay"
FADE_MS = 5.0  # Voices::kFadeMs


def tamper(bundle: Path) -> Path:
    """The malformed corpus' "decoder tampered": the decoder no longer matches its sha256."""
    mutate = next(mutate for name, mutate, _ in MALFORMED if name == "decoder tampered")
    mutate(bundle)
    return bundle


def copy_to(bundle: Path, where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    return make_copy(bundle, where)


# --- 1. a bundle that fails to load -----------------------------------------------------------

def test_a_bundle_failing_mid_session_is_never_played(load_plugin, smoke_export, tmp_path):
    default = copy_to(smoke_export[2], tmp_path / "default")
    other = copy_to(smoke_export[2], tmp_path / "other")
    broken = tamper(copy_to(smoke_export[2], tmp_path / "broken"))
    plugin = load_plugin(default)
    playing_other = plugin_state(plugin.raw_state)
    playing_other.set("bundle", str(other))
    plugin.raw_state = with_plugin_state(plugin.raw_state, playing_other)
    assert np.abs(render(plugin, [note(60, 127, 0.0)], reset=False)).max() > 0.05  # the other bundle plays
    shutil.rmtree(default)  # nothing to fall back to
    naming_broken = plugin_state(plugin.raw_state)
    naming_broken.set("bundle", str(broken))
    plugin.raw_state = with_plugin_state(plugin.raw_state, naming_broken)
    # The last one-shot of the other bundle is still in memory: it must not play.
    assert np.all(render(plugin, [note(60, 127, 0.0)], reset=False) == 0)
    saved = plugin_state(plugin.raw_state)
    assert saved.get("bundle") == str(broken)  # saving again loses nothing
    assert "sha256" in saved.get("bundle_error") and DECODER_NAME in saved.get("bundle_error")


def test_a_broken_saved_bundle_falls_back_like_a_missing_one(load_plugin, smoke_export, tmp_path):
    saved_with = copy_to(smoke_export[2], tmp_path / "saved")
    state = load_plugin(saved_with).raw_state
    tamper(saved_with)
    restored = load_plugin(None)
    restored.raw_state = state
    played = render(restored, [note(60, 127, 0.0)])
    default = load_plugin(None)  # the shipped default bundle, at the restored parameter values
    for name, parameter in restored.parameters.items():
        default.parameters[name].raw_value = parameter.raw_value
    assert np.abs(played).max() > 0.05 and np.array_equal(played, render(default, [note(60, 127, 0.0)]))
    kept = plugin_state(restored.raw_state)
    assert kept.get("bundle") == str(saved_with) and "sha256" in kept.get("bundle_error")
    assert kept.get("model_id") == load_bundle(smoke_export[2]).model_id  # what it was saved with


# --- 2. and 5. a render that fails: that note is silent, nothing non-finite reaches the host ----

class NanWhenMoved(torch.nn.Module):
    """The real decoder, except that any latent away from the first sample's own point decodes
    to NaN: a model that fails for some control values and not others."""

    def __init__(self, decoder: torch.jit.ScriptModule, own: torch.Tensor) -> None:
        super().__init__()
        self.decoder = decoder
        self.register_buffer("own", own)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        audio = self.decoder(latent)
        moved = (latent - self.own).abs().amax(dim=1) > 1e-4
        poison = torch.where(moved, torch.full_like(moved, float("nan"), dtype=audio.dtype),
                             torch.zeros_like(moved, dtype=audio.dtype))
        return audio + poison.reshape([-1] + [1] * (audio.dim() - 1))


@pytest.fixture(scope="module")
def nan_bundle(smoke_export, tmp_path_factory) -> Path:
    bundle = copy_to(smoke_export[2], tmp_path_factory.mktemp("nan-bundle"))
    own = torch.tensor(load_bundle(bundle).samples[0].latent, dtype=torch.float32)
    wrapped = torch.jit.script(NanWhenMoved(torch.jit.load(str(bundle / DECODER_NAME)), own))
    content = tmp_path_factory.mktemp("nan-decoder") / DECODER_NAME
    wrapped.save(str(content))
    _replace_file(DECODER_NAME, content.read_bytes(), update_hash=True)(bundle)  # hashes and model_id follow
    return bundle


def test_a_failing_render_silences_that_note_only(load_plugin, nan_bundle):
    plugin = load_plugin(nan_bundle)
    assert np.abs(render(plugin, [note(60, 127, 0.0)])).max() > 0.05  # own values: z' = z decodes
    own_position = plugin.parameters["frequency"].raw_value
    plugin.parameters["frequency"].raw_value = 1.0
    failed = render(plugin, [note(60, 127, 0.0)])
    assert np.all(failed == 0)  # the NaN one-shot never reaches a voice, and no stale one plays
    plugin.parameters["frequency"].raw_value = own_position  # back to the sample's own values
    assert np.abs(render(plugin, [note(60, 127, 0.0)])).max() > 0.05


# --- 3. the worker sleeps --------------------------------------------------------------------

def worker_wake_ups() -> int:
    """Voluntary context switches of every LatentPlay worker thread in this process."""
    total = 0
    for task in Path("/proc/self/task").iterdir():
        if (task / "comm").read_text().strip().startswith("LatentPlay rege"):
            status = (task / "status").read_text()
            total += int(status.split("voluntary_ctxt_switches:")[1].split()[0])
    return total


def test_an_idle_instance_does_not_wake(load_plugin, smoke_export):
    plugin = load_plugin(smoke_export[2])
    render(plugin, [note(60, 127, 0.0)])
    time.sleep(0.2)  # let any render in flight finish
    before = worker_wake_ups()
    time.sleep(1.0)
    assert worker_wake_ups() - before <= 2  # polling every 2 ms was ~500 a second per instance


# --- 4. cut voices fade ------------------------------------------------------------------------

def fade_ramp(rate: int) -> np.ndarray:
    length = int(FADE_MS * 1e-3 * rate)
    return np.arange(length, 0, -1, dtype=np.float64) / length


def test_choke_fades_the_previous_note_out_within_5_ms(load_plugin, smoke_export, engine):
    plugin = load_plugin(smoke_export[2])
    plugin.choke = True
    rate, second = 48000, 2000
    output = render(plugin, [note(60, 127, 0.0), note(60, 127, at(second, rate))], rate)[0].astype(np.float64)
    one_shot = expected_one_shot(engine, plugin, rate).astype(np.float64)
    ramp = fade_ramp(rate)
    expected = np.zeros(len(output) - second)
    expected[:len(one_shot)] = one_shot
    expected[:len(ramp)] += one_shot[second:second + len(ramp)] * ramp
    assert np.max(np.abs(output[second:] - expected)) < 1e-5
    # The cut adds no step larger than the kick's own steepest one.
    assert np.max(np.abs(np.diff(output[second - 1:second + len(ramp) + 2]))) <= np.max(np.abs(np.diff(one_shot)))


def test_the_stolen_voice_fades_out(load_plugin, smoke_export, engine):
    plugin = load_plugin(smoke_export[2])
    rate, spacing, voices = 48000, 100, 32  # Voices::kMaxVoices
    notes = [note(60, 127, at(k * spacing, rate)) for k in range(voices + 1)]
    output = render(plugin, notes, rate, seconds=0.5)[0].astype(np.float64)
    one_shot = expected_one_shot(engine, plugin, rate).astype(np.float64)
    expected = np.zeros_like(output)
    for k in range(1, voices + 1):
        end = min(len(output), k * spacing + len(one_shot))
        expected[k * spacing:end] += one_shot[:end - k * spacing]
    stolen_at, ramp = voices * spacing, fade_ramp(rate)
    expected[:stolen_at] += one_shot[:stolen_at]
    expected[stolen_at:stolen_at + len(ramp)] += one_shot[stolen_at:stolen_at + len(ramp)] * ramp
    assert np.max(np.abs(output - expected)) < 1e-4


# --- 6. state ----------------------------------------------------------------------------------

def test_the_state_holds_its_version_the_controls_in_units_and_the_sample_path(load_plugin, smoke_export):
    plugin = load_plugin(smoke_export[2])
    plugin.parameters["sample"].raw_value = 3 / 4095
    plugin.frequency = plugin.parameters["frequency"].range[0] + 7.0
    state = plugin_state(plugin.raw_state)
    bundle = load_bundle(smoke_export[2])
    assert state.get("version") == "2" and state.get("model_id") == bundle.model_id
    assert state.get("bundle") == str(smoke_export[2])
    controls = state.find("controls")
    assert controls.get("sample") == bundle.samples[3].path and controls.get("sample_index") == "3"
    for name in CONTROL_NAMES:
        assert float(controls.get(name)) == pytest.approx(getattr(plugin, name), abs=0.01)


def test_restoring_the_loaded_bundles_state_does_not_reload_it(load_plugin, smoke_export, tmp_path):
    bundle = copy_to(smoke_export[2], tmp_path)
    plugin = load_plugin(bundle)
    plugin.frequency = plugin.parameters["frequency"].range[0] + 7.0
    before = render(plugin, [note(60, 127, 0.0)], reset=False)
    state = plugin.raw_state
    shutil.rmtree(bundle)  # a reload would now fail and fall back
    plugin.raw_state = state
    assert np.array_equal(render(plugin, [note(60, 127, 0.0)], reset=False), before)
    assert plugin_state(plugin.raw_state).get("bundle_error") is None


def test_a_retrained_bundle_takes_the_controls_in_their_units(load_plugin, smoke_export, tmp_path):
    saved_with = copy_to(smoke_export[2], tmp_path / "a")
    plugin = load_plugin(saved_with)
    demo = load_bundle(DEMO_BUNDLE)
    demo_range = {c.name: (c.minimum, c.maximum) for c in demo.controls}
    low = max(plugin.parameters["frequency"].range[0], demo_range["frequency"][0])
    high = min(plugin.parameters["frequency"].range[1], demo_range["frequency"][1])
    assert low < high, "the two bundles' frequency ranges must overlap for this test"
    plugin.frequency = (low + high) / 2
    asked_frequency = plugin.frequency
    plugin.parameters["release"].raw_value = 1.0
    asked_release = plugin.release
    state = plugin.raw_state
    shutil.rmtree(saved_with)
    shutil.copytree(DEMO_BUNDLE, saved_with)  # retrained: the same folder, another model
    restored = load_plugin(None)
    restored.raw_state = state
    assert restored.frequency == pytest.approx(asked_frequency, abs=0.02)  # in Hz, not as a position
    expected_release = min(asked_release, demo_range["release"][1])  # clamped into the new range
    assert restored.release == pytest.approx(max(expected_release, demo_range["release"][0]), abs=0.02)


def test_a_version_1_state_restores_its_positions(load_plugin, smoke_export):
    plugin = load_plugin(smoke_export[2])
    plugin.parameters["pc1"].raw_value = 0.25
    old = plugin_state(plugin.raw_state)
    del old.attrib["version"]
    old.remove(old.find("controls"))
    restored = load_plugin(None)
    restored.raw_state = with_plugin_state(plugin.raw_state, old)
    assert restored.parameters["pc1"].raw_value == pytest.approx(0.25, abs=1e-6)
    assert np.array_equal(render(restored, [note(60, 127, 0.0)]), render(plugin, [note(60, 127, 0.0)]))


def test_the_bundle_inside_the_plugin_is_stored_relative_to_it(load_plugin):
    state = plugin_state(load_plugin(None).raw_state)
    assert state.get("bundle_in_plugin") == "default.latentplay" and state.get("bundle") is None


@pytest.mark.parametrize("shipped", [True, False], ids=["shipped bundle", "smoke bundle"])
def test_parameter_defaults_are_where_a_fresh_instance_starts(load_plugin, smoke_export, shipped):
    plugin = load_plugin(None if shipped else smoke_export[2])
    for name, parameter in plugin.parameters.items():
        assert parameter.raw_value == pytest.approx(parameter.default_raw_value, abs=1e-6), name


def test_integer_parameters_are_stepped(load_plugin, smoke_export):
    plugin = load_plugin(smoke_export[2])
    assert plugin.parameters["sample"].num_steps == 4096
    assert plugin.parameters["root_note"].num_steps == 128


@pytest.fixture(scope="module")
def engine(smoke_export):
    return _engine.Engine(str(smoke_export[2]))
