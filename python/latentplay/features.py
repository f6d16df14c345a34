"""Per one-shot audio features in physical units: frequency, attack, release.

These three numbers become plugin controls, so each one is a fixed, documented
measurement that is finite for every finite input and moves monotonically
with what it measures.  The input is a mono one-shot, normally as the loader
produces it (22050 Hz, 0.3 s, trimmed to its onset, peak-normalised, linear
fade over the last 10 %), but any length and sample rate work.  All levels
below are relative to the envelope's maximum.

Envelope (``amplitude_envelope``)
    Magnitude of the analytic signal (``scipy.signal.hilbert``) of the sound
    extended backwards by its odd mirror image, smoothed by a centred moving
    average of ENVELOPE_SMOOTHING_MS.  A kick's body is a 35-120 Hz sine, so
    a plain ``|x|`` follower would trace the waveform's phase; the analytic
    magnitude of a sine is its amplitude.  The mirror matters because the
    one-shot starts at its onset: the analytic magnitude of a low sine that
    starts abruptly overshoots by ~40 % for half a period, which would put
    the envelope maximum ~9 ms late on a 45 Hz body, whatever the real
    attack.  Continued as -x(-t), a sound starting near a zero crossing stays
    continuous and the overshoot disappears.  The short smoothing only tames
    the roughness of clicks and noise.

Peak time
    The FIRST sample where the envelope comes within PEAK_WITHIN_DB of its
    maximum.  A kick's envelope is nearly flat at the top (a 240 ms decay
    falls 0.08 dB per ms), so the exact position of the maximum wanders by
    milliseconds with tiny ripple; the point where the rise reaches the top
    does not.

attack_ms
    From the onset, the first sample where the envelope reaches
    ATTACK_ONSET_DB, to the peak time.  For a linear rise of T ms this reads
    about 0.91 T (it runs from 3 % to 94 % of the rise).  Attacks of about
    0.3 ms or less read as 0 on a low body: the analytic envelope of a 50 Hz
    sine resolves no finer.

release_ms
    From the peak time to the LAST sample where the envelope is at or above
    RELEASE_LEVEL_DB.  Taking the last crossing makes it robust to ripple in
    the tail.  For an exponential decay this is the time to fall by 20 dB.

frequency_hz
    Dominant frequency of the body once its pitch glide has settled.  The
    analysis window starts FREQUENCY_WINDOW_OFFSET_MS after the peak time,
    moved earlier if needed so that at least FREQUENCY_MIN_WINDOW_MS remain
    (the whole sound when it is shorter), and runs to the end.  It is
    Hann-windowed and zero-padded to the next power of two at least
    FFT_ZERO_PAD_FACTOR times its length; the magnitude maximum inside
    FREQUENCY_BAND_HZ is refined by a parabola through the log magnitudes of
    its bin and the two neighbours, then clipped to the band.

Silent input (all zeros, or empty) gives frequency FREQUENCY_BAND_HZ[0],
attack 0 ms and release 0 ms.  Non-finite samples raise ValueError.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft, signal
from scipy.ndimage import uniform_filter1d

from latentplay.bundle import CONTROL_UNITS
from latentplay.schema import contract

FEATURE_NAMES = ("frequency", "attack", "release")
FEATURE_UNITS = tuple(CONTROL_UNITS[name] for name in FEATURE_NAMES)

# The measurement's settings are part of the bundle contract (bundle_schema.json,
# x-latentplay.features), read by the engine's features.cpp too. Why these values:
_SETTINGS = contract()["x-latentplay"]["features"]
# Longer smoothing blurs sub-millisecond attacks into one another (at 1 ms,
# 0.3 and 0.6 ms attacks both read 0); the mirrored body needs none.
ENVELOPE_SMOOTHING_MS = _SETTINGS["envelope_smoothing_ms"]
# Wide enough to step over ripple at the top, narrow enough to sit at the end
# of the rise.
PEAK_WITHIN_DB = _SETTINGS["peak_within_db"]
ATTACK_ONSET_DB = _SETTINGS["attack_onset_db"]
RELEASE_LEVEL_DB = _SETTINGS["release_level_db"]
# Kick pitch glides (time constants up to ~20 ms) have settled by then.
FREQUENCY_WINDOW_OFFSET_MS = _SETTINGS["frequency_window_offset_ms"]
# Resolves a 25 Hz body (1.5 periods) even when the peak comes late.
FREQUENCY_MIN_WINDOW_MS = _SETTINGS["frequency_min_window_ms"]
# Kick bodies are 35-120 Hz; the band keeps DC rumble and the top out.
FREQUENCY_BAND_HZ = tuple(_SETTINGS["frequency_band_hz"])
FFT_ZERO_PAD_FACTOR = _SETTINGS["fft_zero_pad_factor"]


@dataclass(frozen=True)
class Features:
    """The features of one one-shot, in FEATURE_UNITS."""

    frequency_hz: float
    attack_ms: float
    release_ms: float

    def as_array(self) -> np.ndarray:
        """float32 [frequency_hz, attack_ms, release_ms], in FEATURE_NAMES order."""
        return np.array([self.frequency_hz, self.attack_ms, self.release_ms], dtype=np.float32)


def physical_bounds(name: str, duration_ms: float) -> tuple[float, float]:
    """The values a feature can take on a one-shot of ``duration_ms``: frequency within
    FREQUENCY_BAND_HZ, attack and release between 0 and the one-shot's length. A control range
    outside these promises sounds that cannot exist (an attack longer than the one-shot)."""
    if name == "frequency":
        return FREQUENCY_BAND_HZ
    if name in ("attack", "release"):
        return 0.0, float(duration_ms)
    raise ValueError(f"unknown feature {name!r}; expected one of {FEATURE_NAMES}")


def measure_features(audio: np.ndarray, sample_rate: int) -> Features:
    """Measure frequency, attack and release of a mono one-shot (see module docs)."""
    audio = _checked_mono(audio)
    envelope = amplitude_envelope(audio, sample_rate)
    if envelope.size == 0 or envelope.max() <= 0.0:
        return Features(frequency_hz=FREQUENCY_BAND_HZ[0], attack_ms=0.0, release_ms=0.0)
    peak_index = _peak_index(envelope)
    return Features(
        frequency_hz=_dominant_frequency(audio, sample_rate, peak_index),
        attack_ms=_attack_ms(envelope, sample_rate, peak_index),
        release_ms=_release_ms(envelope, sample_rate, peak_index),
    )


def measure_all(one_shots: np.ndarray, sample_rate: int) -> np.ndarray:
    """(N, length) one-shots -> (N, 3) features in physical units, in FEATURE_NAMES order."""
    return np.stack([measure_features(one_shot, sample_rate).as_array() for one_shot in one_shots])


def amplitude_envelope(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Smoothed analytic-signal magnitude, one value per sample (see module docs)."""
    audio = _checked_mono(audio)
    if audio.size == 0:
        return np.zeros(0)
    # Odd extension: -x(-t) before the onset keeps a sound that starts near a
    # zero crossing continuous, so the Hilbert transform does not overshoot.
    mirrored = np.concatenate([-audio[:0:-1], audio])
    # Zero-pad to twice the length so the FFT-based Hilbert transform does not
    # wrap the end of the sound onto its mirrored start.
    padded_length = fft.next_fast_len(2 * mirrored.size)
    magnitude = np.abs(signal.hilbert(mirrored, N=padded_length))[: mirrored.size]
    width = max(round(ENVELOPE_SMOOTHING_MS / 1000.0 * sample_rate), 1)
    smoothed = uniform_filter1d(magnitude, size=width, mode="nearest")
    return smoothed[audio.size - 1 :]


def _checked_mono(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim != 1:
        raise ValueError(f"expected mono 1-D audio, got shape {audio.shape}")
    if not np.all(np.isfinite(audio)):
        raise ValueError("audio contains NaN or infinite samples")
    return audio


def _peak_index(envelope: np.ndarray) -> int:
    near_top = envelope >= envelope.max() * _db_to_ratio(-PEAK_WITHIN_DB)
    return int(np.argmax(near_top))


def _attack_ms(envelope: np.ndarray, sample_rate: int, peak_index: int) -> float:
    reached_onset = envelope >= envelope.max() * _db_to_ratio(ATTACK_ONSET_DB)
    onset_index = int(np.argmax(reached_onset))
    return _samples_to_ms(peak_index - onset_index, sample_rate)


def _release_ms(envelope: np.ndarray, sample_rate: int, peak_index: int) -> float:
    above_release_level = envelope >= envelope.max() * _db_to_ratio(RELEASE_LEVEL_DB)
    last_above_index = int(np.flatnonzero(above_release_level)[-1])
    return _samples_to_ms(last_above_index - peak_index, sample_rate)


def _dominant_frequency(audio: np.ndarray, sample_rate: int, peak_index: int) -> float:
    low_hz, high_hz = FREQUENCY_BAND_HZ
    window = _frequency_window(audio, sample_rate, peak_index)
    fft_size = 1 << int(np.ceil(np.log2(FFT_ZERO_PAD_FACTOR * window.size)))
    magnitude = np.abs(fft.rfft(window * np.hanning(window.size), n=fft_size))
    bin_hz = sample_rate / fft_size
    first_bin = int(np.ceil(low_hz / bin_hz))
    last_bin = min(int(np.floor(high_hz / bin_hz)), magnitude.size - 1)
    band = magnitude[first_bin : last_bin + 1]
    if band.size == 0 or band.max() <= 0.0:
        return low_hz
    best_bin = first_bin + int(np.argmax(band))
    refined_bin = best_bin + _parabolic_offset(magnitude, best_bin)
    return float(np.clip(refined_bin * bin_hz, low_hz, high_hz))


def _frequency_window(audio: np.ndarray, sample_rate: int, peak_index: int) -> np.ndarray:
    offset = round(FREQUENCY_WINDOW_OFFSET_MS / 1000.0 * sample_rate)
    min_length = round(FREQUENCY_MIN_WINDOW_MS / 1000.0 * sample_rate)
    start = max(min(peak_index + offset, audio.size - min_length), 0)
    return audio[start:]


def _parabolic_offset(magnitude: np.ndarray, index: int) -> float:
    """Sub-bin offset of a peak from a parabola through three log magnitudes."""
    if index <= 0 or index >= magnitude.size - 1:
        return 0.0
    neighbours = magnitude[index - 1 : index + 2]
    if neighbours.min() <= 0.0:
        return 0.0
    left, centre, right = np.log(neighbours)
    curvature = left - 2.0 * centre + right
    if curvature >= 0.0:  # not a strict maximum, e.g. a flat plateau
        return 0.0
    return float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))


def _db_to_ratio(db: float) -> float:
    return 10.0 ** (db / 20.0)


def _samples_to_ms(samples: int, sample_rate: int) -> float:
    return 1000.0 * samples / sample_rate
