"""Key tracking by resampling is band-limited: a note played an octave up does not alias.

A test tone is loaded into the real plugin as its starting point (any WAV) and played fully dry
(Mix 0), so that the one-shot is the tone itself; the host runs at the model rate
(22.05 kHz), where an octave up folds anything above 5.5 kHz back into the band.
"""

from __future__ import annotations

import numpy as np

from latentplay.audio import write_wav
from latentplay.host import load_audio_file

RATE = 22050
ROOT_NOTE = 60


def tone(path, frequency: float, seconds: float = 0.5) -> None:
    t = np.arange(int(RATE * seconds)) / RATE
    write_wav(path, (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32), RATE)


def octave_up(load_plugin, bundle, path) -> np.ndarray:
    plugin = load_plugin(bundle)
    load_audio_file(plugin, path, bundle)
    plugin.mix, plugin.key_tracking, plugin.root_note = 0.0, True, ROOT_NOTE
    return plugin([(bytes([0x90, ROOT_NOTE + 12, 127]), 0.0)], duration=0.4, sample_rate=RATE, num_channels=2,
                  buffer_size=512, reset=False)[0]


def level_db(audio: np.ndarray, frequency: float) -> float:
    """Level of the strongest component within ±100 Hz of `frequency`, Blackman-Harris window."""
    from scipy.signal import get_window

    segment = audio[200:200 + 2048]
    spectrum = np.abs(np.fft.rfft(segment * get_window("blackmanharris", len(segment)), 16384))
    bins = np.fft.rfftfreq(16384, 1 / RATE)
    near = np.abs(bins - frequency) <= 100
    return 20 * np.log10(spectrum[near].max() / spectrum.max() + 1e-30) if frequency else 0.0


def linear_octave_up(one_shot: np.ndarray) -> np.ndarray:
    """What the plugin did before: linear interpolation at speed 2 (= every other sample)."""
    return one_shot[::2]


def test_an_octave_up_does_not_alias(load_plugin, smoke_export, tmp_path):
    bundle = smoke_export[2]
    path = tmp_path / "8k.wav"
    tone(path, 8000.0)  # played an octave up: 16 kHz, above the 11.025 kHz Nyquist frequency
    output = octave_up(load_plugin, bundle, path)
    passing = tmp_path / "2k.wav"
    tone(passing, 2000.0)
    reference = octave_up(load_plugin, bundle, passing)  # 4 kHz: in the band, must be kept
    reference_peak = np.abs(reference[200:2248]).max()
    alias = RATE - 16000.0  # where linear interpolation folds it: 6050 Hz
    spectrum_peak = np.abs(output[200:2248]).max() / reference_peak
    # The 8 kHz tone's alias, relative to the level of a tone that passes:
    aliased = 20 * np.log10(spectrum_peak + 1e-30)
    before = np.sin(2 * np.pi * 8000.0 * np.arange(4410) / RATE)
    before_db = 20 * np.log10(np.abs(linear_octave_up(before)[200:1200]).max() / 1.0)
    print(f"octave up of an 8 kHz tone at 22.05 kHz: alias at {alias:.0f} Hz {aliased:.1f} dB "
          f"(linear interpolation: {before_db:.1f} dB)")
    assert before_db > -6  # the old way folds it back at full level
    assert aliased < -60
    assert abs(level_db(reference, 4000.0)) < 1.0  # the in-band tone is the strongest component
