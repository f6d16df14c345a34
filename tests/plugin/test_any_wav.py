"""Any audio file as the starting point (issue "Your own sound", item 4).

The C++ engine prepares audio in the Python loader's steps (tested equal on real recorded kicks
at 44.1/48/96 kHz, 16/24-bit, mono/stereo), encodes it with encoder.ts, and the plugin plays it:
loaded through the state (hosts and tests without an editor; the editor's button and drag-and-drop
call the same function), encoded to the latent point Python's encoder gives, steerable, with the
prepared file as the original for Mix and Detail. Bad files leave the sound as it was.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr

from latentplay import _engine
from latentplay.audio import load_one_shot, write_wav
from latentplay.bundle import load_bundle
from latentplay.host import load_audio_file
from latentplay.render import ReferenceRenderer

from latentplay.plugin_state import plugin_state, with_plugin_state

RATE = 48000
ROOT = Path(__file__).resolve().parents[2]
HYDROGEN_KICKS = sorted(glob.glob("/usr/share/hydrogen/data/drumkits/*/*[Kk]ick*.wav"))


@pytest.fixture(scope="module")
def real_kicks():
    if not HYDROGEN_KICKS:
        pytest.skip("no Hydrogen drum kits: apt-get install hydrogen-drumkits hydrogen-data (scripts/setup.sh does)")
    return [HYDROGEN_KICKS[i] for i in np.linspace(0, len(HYDROGEN_KICKS) - 1, 3).round().astype(int)]


@pytest.fixture(scope="module")
def engine(smoke_export):
    return _engine.Engine(str(smoke_export[2]))


def as_file(source: str, folder, rate: int, subtype: str, channels: int):
    """A real recorded kick written at `rate`, `subtype`, `channels` (what a producer's pack holds)."""
    audio, source_rate = soundfile.read(source, dtype="float64", always_2d=True)
    audio = soxr.resample(audio, source_rate, rate, quality="HQ") if rate != source_rate else audio
    audio = np.repeat(audio[:, :1], 2, axis=1) * [1.0, 0.7] if channels == 2 else audio[:, :1]
    path = folder / f"kick-{rate}-{subtype}-{channels}.wav"
    soundfile.write(str(path), np.clip(audio, -1, 1), rate, subtype=subtype)
    return path


@pytest.mark.parametrize("rate", [44100, 48000, 96000])
@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24"])
@pytest.mark.parametrize("channels", [1, 2])
def test_the_engine_prepares_audio_as_the_python_loader(engine, smoke_export, real_kicks, tmp_path, rate, subtype,
                                                        channels):
    prep = load_bundle(smoke_export[2]).prep_config()
    for source in real_kicks:
        path = as_file(source, tmp_path, rate, subtype, channels)
        python, _ = load_one_shot(path, prep)
        frames, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        ours = engine.prepare(frames, file_rate)
        assert ours.shape == python.shape
        assert np.max(np.abs(ours - python)) < 1e-5, source


@pytest.mark.parametrize("frames, reason", [
    (np.zeros((0, 1)), "empty (0 samples)"),
    (np.zeros((4410, 2)), "silent (peak below -90 dBFS)"),
    (np.array([[0.5], [np.nan], [0.1]]), "contains NaN or infinite samples"),
])
def test_unusable_audio_gets_the_python_loader_reason(engine, frames, reason):
    with pytest.raises(_engine.UnusableAudio, match=reason.replace("(", r"\(").replace(")", r"\)")):
        engine.prepare(frames.astype(np.float32), 44100)


def note(plugin, **settings) -> np.ndarray:
    for name, value in settings.items():
        setattr(plugin, name, value)
    return plugin([(bytes([0x90, 60, 127]), 0.0)], duration=0.5, sample_rate=RATE, num_channels=2,
                  buffer_size=512, reset=False)[0]


def test_a_wav_loaded_through_the_state_is_encoded_as_python_does_and_plays(load_plugin, smoke_export, engine,
                                                                            real_kicks, tmp_path):
    path = as_file(real_kicks[0], tmp_path, 48000, "PCM_24", 2)
    plugin = load_plugin(smoke_export[2])
    load_audio_file(plugin, path)
    saved = plugin_state(plugin.raw_state).find("audio")
    assert saved is not None and saved.get("path") == str(path)
    latent = np.array([float(v) for v in saved.get("latent").split()])
    python_latent = ReferenceRenderer(smoke_export[2]).encode_file(path)
    assert np.max(np.abs(latent - python_latent)) <= 1e-5
    start = engine.start_from_audio(soundfile.read(str(path), dtype="float32", always_2d=True)[0], 48000)
    # Mix fully dry plays the prepared file (the original of a loaded file), at the host rate
    assert np.max(np.abs(note(plugin, mix=0.0)[:14400] - engine.dry(start, RATE))) < 1e-6
    # fully wet at the state's control positions: the engine's regeneration from the file's point
    wet = note(plugin, mix=1.0, detail=0.0)
    targets = engine.targets_at({n: plugin.parameters[n].raw_value for n in ("pc1", "pc2", "frequency", "attack",
                                                                             "release")})
    assert np.max(np.abs(wet[:14400] - engine.regenerate(start, targets, RATE, 0.0))) < 1e-6
    assert np.max(np.abs(wet)) > 0.01


@pytest.mark.parametrize("kind", ["not audio", "empty", "silent", "non-finite", "missing"])
def test_a_bad_file_is_refused_with_its_reason_and_the_sound_unchanged(load_plugin, smoke_export, tmp_path, kind):
    path = tmp_path / f"{kind.replace(' ', '-')}.wav"
    reason = {"not audio": "not an audio file", "empty": "empty (0 samples)", "silent": "silent",
              "non-finite": "contains NaN or infinite samples", "missing": "not found"}[kind]
    if kind == "not audio":
        path.write_text("these are words, not samples")
    elif kind == "empty":
        soundfile.write(str(path), np.zeros(0), 44100, subtype="PCM_16")
    elif kind == "silent":
        write_wav(path, np.zeros(4410, dtype=np.float32), 44100)
    elif kind == "non-finite":
        write_wav(path, np.array([0.5, np.inf, 0.1] * 100, dtype=np.float32), 44100)
    plugin = load_plugin(smoke_export[2])
    before = note(plugin)
    with pytest.raises(ValueError, match=re.escape(reason)):
        load_audio_file(plugin, path)
    state = plugin_state(plugin.raw_state)
    refused = state.find("audio_refused")
    assert refused is not None and refused.get("path") == str(path) and reason in refused.get("reason")
    assert state.find("audio") is None  # nothing loaded, no stored point to fall back to
    assert np.array_equal(note(plugin), before)


def test_a_saved_point_plays_when_its_file_is_gone(load_plugin, smoke_export, engine, real_kicks, tmp_path):
    path = as_file(real_kicks[1], tmp_path, 44100, "PCM_16", 1)
    plugin = load_plugin(smoke_export[2])
    load_audio_file(plugin, path)
    saved = plugin_state(plugin.raw_state)
    path.unlink()
    restored = load_plugin(smoke_export[2])
    restored.raw_state = with_plugin_state(restored.raw_state, saved)
    audio = plugin_state(restored.raw_state).find("audio")
    assert audio is not None and audio.get("latent") == saved.find("audio").get("latent")
    latent = np.array([float(v) for v in audio.get("latent").split()])
    targets = engine.targets_at({n: restored.parameters[n].raw_value for n in ("pc1", "pc2", "frequency", "attack",
                                                                               "release")})
    expected = engine.regenerate(latent, targets, RATE)
    assert np.max(np.abs(note(restored, mix=1.0)[:len(expected)] - expected)) < 1e-6


def test_render_and_regen_start_from_a_wav(smoke_export, engine, real_kicks, tmp_path):
    from latentplay.cli import main

    path = as_file(real_kicks[2], tmp_path, 48000, "PCM_16", 2)
    groove = ROOT / "presets" / "demo-groove.mid"
    outputs = {}
    for name, extra in (("sample", []), ("wav", ["--wav", str(path)])):
        out = tmp_path / f"{name}.wav"
        assert main(["render", "--midi", str(groove), "--bundle", str(smoke_export[2]), "--out", str(out),
                     *extra]) == 0
        outputs[name] = soundfile.read(str(out), dtype="float32")[0]
    assert np.max(np.abs(outputs["wav"])) > 0.01 and not np.allclose(outputs["wav"], outputs["sample"], atol=1e-3)
    regen = tmp_path / "regen.wav"
    assert main(["regen", str(smoke_export[2]), "--wav", str(path), "--detail", "1", "--out", str(regen)]) == 0
    start = engine.start_from_audio(soundfile.read(str(path), dtype="float32", always_2d=True)[0], 48000)
    # at its own values with Detail 1: the prepared file itself
    assert np.max(np.abs(soundfile.read(str(regen), dtype="float32")[0] - start.original)) < 1e-6
