"""Key tracking (the Pitch Mode parameter), in the real plugin.

Resample plays the one-shot faster or slower, band-limited (the worker resamples each key's
one-shot with libsoxr): a test tone loaded as the starting point (any WAV) and played fully dry
(Mix 0) an octave up at the model rate (22.05 kHz), where anything above 5.5 kHz would fold back
into the band. Neural sets the Frequency control from the key instead (Root Note = the control's
value), so the one-shot keeps its length where resampling shortens it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from latentplay.audio import write_wav
from latentplay.features import measure_features
from latentplay.host import load_audio_file
from latentplay.plugin_state import plugin_state, with_plugin_state

RATE = 22050
ROOT_NOTE = 60
DEMO = Path(__file__).resolve().parents[2] / "presets" / "demo.latentplay"


def tone(path, frequency: float, seconds: float = 0.5) -> None:
    t = np.arange(int(RATE * seconds)) / RATE
    write_wav(path, (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32), RATE)


def play(plugin, key: int, rate: int, seconds: float = 0.8) -> np.ndarray:
    """One note, offline (pedalboard renders non-real-time: the key's one-shot is made at once)."""
    return plugin([(bytes([0x90, key, 127]), 0.0)], duration=seconds, sample_rate=rate, num_channels=2,
                  buffer_size=512, reset=True)[0]


def octave_up(load_plugin, bundle, path) -> np.ndarray:
    plugin = load_plugin(bundle)
    load_audio_file(plugin, path, bundle)
    plugin.mix, plugin.pitch_mode, plugin.root_note = 0.0, "Resample", ROOT_NOTE
    return play(plugin, ROOT_NOTE + 12, RATE, seconds=0.4)


def level_db(audio: np.ndarray, frequency: float) -> float:
    """Level of the strongest component within ±100 Hz of `frequency` relative to the strongest
    overall, Blackman-Harris window."""
    from scipy.signal import get_window

    segment = audio[200:200 + 2048]
    spectrum = np.abs(np.fft.rfft(segment * get_window("blackmanharris", len(segment)), 16384))
    bins = np.fft.rfftfreq(16384, 1 / RATE)
    near = np.abs(bins - frequency) <= 100
    return 20 * np.log10(spectrum[near].max() / spectrum.max() + 1e-30)


def test_an_octave_up_by_resampling_does_not_alias(load_plugin, smoke_export, tmp_path):
    bundle = smoke_export[2]
    path = tmp_path / "8k.wav"
    tone(path, 8000.0)  # an octave up: 16 kHz, above the 11.025 kHz Nyquist frequency
    output = octave_up(load_plugin, bundle, path)
    passing = tmp_path / "2k.wav"
    tone(passing, 2000.0)
    reference = octave_up(load_plugin, bundle, passing)  # 4 kHz: in the band, must be kept
    # What is left of the 8 kHz tone, relative to the level of a tone that passes:
    aliased = 20 * np.log10(np.abs(output[200:2248]).max() / np.abs(reference[200:2248]).max() + 1e-30)
    # Before: linear interpolation at speed 2 (every other sample) folded it to 6050 Hz at full level.
    before = np.sin(2 * np.pi * 8000.0 * np.arange(4410) / RATE)[::2]
    before_db = 20 * np.log10(np.abs(before[200:1200]).max())
    print(f"an 8 kHz tone an octave up at 22.05 kHz: {aliased:.1f} dB left (linear interpolation: {before_db:.1f} dB)")
    assert before_db > -6
    assert aliased < -60
    assert abs(level_db(reference, 4000.0)) < 1.0  # the in-band tone is the strongest component


def sounding(audio: np.ndarray) -> np.ndarray:
    """The note without the silence after it (which would shift the frequency measurement's window)."""
    return audio[:int(np.flatnonzero(np.abs(audio) > 0)[-1] + 1)]


def test_neural_key_tracking_plays_in_tune_and_keeps_the_release_better_than_resampling(load_plugin):
    """Two octaves of keys on the demo bundle's default sample, Neural against Resample: the
    measured pitch follows equal temperament from the root's; the release stays as close to the
    root's as resampling's, or closer (neural chooses, by measurement, how much of the interval
    the model plays and how much is resampled)."""
    rate = 48000
    plugin = load_plugin(DEMO)
    plugin.root_note = ROOT_NOTE
    keys = list(range(ROOT_NOTE - 5, ROOT_NOTE + 20, 2))  # 35 Hz .. 140 Hz asked of a 46 Hz kick
    plugin.pitch_mode = "Off"
    root = sounding(play(plugin, ROOT_NOTE, rate))
    root_features = measure_features(root, rate)
    measured = {}
    for mode in ("Neural", "Resample"):
        plugin.pitch_mode = mode
        measured[mode] = [measure_features(sounding(play(plugin, key, rate)), rate) for key in keys]
        within = sum(abs(f.release_ms / root_features.release_ms - 1) <= 0.2 for f in measured[mode])
        print(f"{mode} key: pitch Hz / release ms:",
              ", ".join(f"{key}: {f.frequency_hz:.0f}/{f.release_ms:.0f}" for key, f in zip(keys, measured[mode])),
              f"(root {root_features.frequency_hz:.1f} Hz / {root_features.release_ms:.0f} ms; "
              f"release within 20 % on {within} of {len(keys)} keys)")
    for key, neural, resampled in zip(keys, measured["Neural"], measured["Resample"]):
        in_tune = root_features.frequency_hz * 2 ** ((key - ROOT_NOTE) / 12)
        assert abs(12 * np.log2(neural.frequency_hz / in_tune)) <= 0.6, key  # semitones
        release_miss = abs(np.log(neural.release_ms / root_features.release_ms))
        assert release_miss <= abs(np.log(resampled.release_ms / root_features.release_ms)) + 0.05, key
    misses = {mode: np.median([abs(np.log(f.release_ms / root_features.release_ms)) for f in rows])
              for mode, rows in measured.items()}
    assert misses["Neural"] < 0.5 * misses["Resample"]
    # Offline renders are deterministic: the same key twice, bit for bit.
    plugin.pitch_mode = "Neural"
    assert np.array_equal(play(plugin, ROOT_NOTE + 7, rate), play(plugin, ROOT_NOTE + 7, rate))


def test_pitch_mode_off_plays_every_key_as_the_root(load_plugin):
    plugin = load_plugin(DEMO)
    plugin.pitch_mode = "Off"
    assert np.array_equal(play(plugin, ROOT_NOTE - 12, 48000), play(plugin, ROOT_NOTE + 7, 48000))


def test_a_state_saved_with_key_tracking_on_restores_as_resample(load_plugin, smoke_export):
    """Before Pitch Mode, a Key Tracking switch resampled: a project saved with it on keeps
    sounding as it did."""
    plugin = load_plugin(smoke_export[2])
    state = plugin_state(plugin.raw_state)
    saved = state.find("PARAMETERS")
    for parameter in saved.findall("PARAM"):
        if parameter.get("id") == "pitch_mode":
            saved.remove(parameter)
    ET.SubElement(saved, "PARAM", id="key_tracking", value="1.0")
    old_state = with_plugin_state(plugin.raw_state, state)
    restored = load_plugin(smoke_export[2])
    assert restored.pitch_mode == "Off"
    restored.raw_state = old_state
    assert restored.pitch_mode == "Resample"
