"""Deterministic procedural kick generator: the embedded default data set.

A kick is rendered from a :class:`KickParams` in physical units and a seed
(the seed only drives the noise layers: click, high end and reverb impulse
response).  Signal chain::

    body  = envelope(t) * sin(phase(t))          swept sine
    dry   = saturate(body, drive) + sub * body   the sub layer stays clean
          + click * click_burst + high_end * decaying_noise
    room  = highpass(dry) convolved with a decaying noise impulse response
    out   = (1 - wet) * dry + wet * room
    out   = fade_tail(out), then peak-normalised to OUTPUT_PEAK

The body is the only tonal layer and the sub layer is an unsaturated copy of
it, so on clean kicks (``drive == 1``) the sound has exactly one partial whose
amplitude follows the designed envelope and whose frequency settles on
``f0_hz``; the room only hears what lies above the body.  That is what makes
``f0_hz``, ``attack_ms`` and ``decay_ms`` usable as ground truth for
:mod:`latentplay.features`.

:func:`write_pack` writes a pack of styled sub-packs plus a ``manifest.json``
holding every generating parameter of every file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

SYNTH_SAMPLE_RATE = 44100
"""Sample rate of the written files (the loader resamples to the model rate)."""

OUTPUT_PEAK = 0.9
"""Absolute peak of every rendered kick."""

PACK_NAME = "synth-kicks"
"""First-level folder of the written pack; the styles are its sub-packs."""

MANIFEST_NAME = "manifest.json"

WAV_SUBTYPE = "PCM_24"

CLICK_MS = 1.5
"""Length of the Hann-windowed click burst."""

CLICK_HIGHPASS_HZ = 2000.0
"""The click is high-passed noise, so it adds a top transient, not low end."""

HIGH_END_HIGHPASS_HZ = 5000.0
HIGH_END_DECAY_MS = 25.0
"""The high-end noise falls by 20 dB every HIGH_END_DECAY_MS."""

REVERB_DECAY_DB = 60.0
"""The reverb impulse response falls by this much over ``reverb_ms`` (RT60)."""

REVERB_HIGHPASS_HZ = 200.0
"""The reverb send is high-passed here, as in a mix: the room colours the
glide, click and top and leaves the body's fundamental dry.  A full-band noise
room moves the tail's dominant frequency to its own resonances near f0 (up to
25 % away on short kicks), so f0 would no longer be the kick's frequency."""

HIGHPASS_ORDER = 4

TAIL_FADE_MS = 10.0
"""Linear fade at the end of the render, so truncating a tail never clicks."""


@dataclass(frozen=True)
class KickParams:
    """Every generating parameter of one kick, in physical units.

    f0_hz:       final body frequency, the one the pitch glide settles on.
    attack_ms:   linear rise of the body amplitude from 0 to its peak.
    decay_ms:    after the rise, the body amplitude falls exponentially by
                 20 dB every ``decay_ms`` (the ``release`` feature's level).
    sweep_ratio: start frequency / f0_hz (1 = no pitch glide).
    sweep_ms:    time constant of the exponential glide:
                 f(t) = f0 * (1 + (sweep_ratio - 1) * exp(-t / sweep_ms)).
    sub:         level of a clean copy of the body added after the drive,
                 relative to the driven body (0 = no sub layer).  It keeps a
                 round fundamental under a dirty body and raises the low end
                 against the click and high-end layers.
    click:       peak level of the high-passed click burst, relative to the
                 body's peak of 1 (before the sub layer is added).
    high_end:    peak level of the decaying high-passed noise, same scale.
    drive:       tanh saturation of the body, y = tanh(g x) / tanh(g) with
                 g = drive - 1, so 1 = clean/round and larger is dirtier.
    wet:         reverb mix, 0 = dry, 1 = room only (the room is fed the dry
                 sound high-passed at REVERB_HIGHPASS_HZ).
    reverb_ms:   time for the reverb impulse response to fall by 60 dB.
    """

    f0_hz: float
    attack_ms: float
    decay_ms: float
    sweep_ratio: float
    sweep_ms: float
    sub: float
    click: float
    high_end: float
    drive: float
    wet: float
    reverb_ms: float

    def __post_init__(self) -> None:
        checks = {
            "f0_hz > 0": self.f0_hz > 0,
            "attack_ms >= 0": self.attack_ms >= 0,
            "decay_ms > 0": self.decay_ms > 0,
            "sweep_ratio >= 1": self.sweep_ratio >= 1,
            "sweep_ms > 0": self.sweep_ms > 0,
            "sub >= 0": self.sub >= 0,
            "click >= 0": self.click >= 0,
            "high_end >= 0": self.high_end >= 0,
            "drive >= 1": self.drive >= 1,
            "0 <= wet <= 1": 0 <= self.wet <= 1,
            "reverb_ms > 0": self.reverb_ms > 0,
        }
        failed = [rule for rule, ok in checks.items() if not ok]
        if failed:
            raise ValueError(f"invalid KickParams ({', '.join(failed)}): {self}")


# Each style maps every KickParams field to a (low, high) range sampled
# uniformly; low == high pins the value.  attack + decay stays <= 255 ms so the
# body reaches -20 dB before the model's 0.3 s crop starts its 30 ms fade.
STYLES: dict[str, dict[str, tuple[float, float]]] = {
    # Deep, round, long sub tail with a gentle glide.
    "808-boom": {
        "f0_hz": (38.0, 55.0),
        "attack_ms": (1.0, 8.0),
        "decay_ms": (160.0, 240.0),
        "sweep_ratio": (1.5, 2.5),
        "sweep_ms": (8.0, 20.0),
        "sub": (0.6, 1.0),
        "click": (0.0, 0.1),
        "high_end": (0.0, 0.05),
        "drive": (1.0, 1.2),
        "wet": (0.0, 0.0),
        "reverb_ms": (200.0, 200.0),
    },
    # Fast deep glide (punch), medium tail, some click and top.
    "punchy-club": {
        "f0_hz": (45.0, 65.0),
        "attack_ms": (0.5, 4.0),
        "decay_ms": (90.0, 160.0),
        "sweep_ratio": (3.0, 5.0),
        "sweep_ms": (4.0, 12.0),
        "sub": (0.2, 0.5),
        "click": (0.1, 0.4),
        "high_end": (0.05, 0.2),
        "drive": (1.0, 1.8),
        "wet": (0.0, 0.08),
        "reverb_ms": (150.0, 250.0),
    },
    # No sub, high body, short transient dominated by the click.
    "clicky-short": {
        "f0_hz": (70.0, 110.0),
        "attack_ms": (0.3, 1.5),
        "decay_ms": (30.0, 70.0),
        "sweep_ratio": (2.0, 4.0),
        "sweep_ms": (2.0, 6.0),
        "sub": (0.0, 0.0),
        "click": (0.5, 1.0),
        "high_end": (0.1, 0.4),
        "drive": (1.0, 1.3),
        "wet": (0.0, 0.0),
        "reverb_ms": (100.0, 100.0),
    },
    # Saturated, dirty body.
    "distorted": {
        "f0_hz": (40.0, 75.0),
        "attack_ms": (0.5, 5.0),
        "decay_ms": (80.0, 200.0),
        "sweep_ratio": (2.0, 4.0),
        "sweep_ms": (4.0, 15.0),
        "sub": (0.0, 0.4),
        "click": (0.0, 0.3),
        "high_end": (0.0, 0.2),
        "drive": (3.0, 10.0),
        "wet": (0.0, 0.1),
        "reverb_ms": (150.0, 250.0),
    },
    # Soft attack in a short room.
    "roomy": {
        "f0_hz": (45.0, 90.0),
        "attack_ms": (3.0, 15.0),
        "decay_ms": (60.0, 150.0),
        "sweep_ratio": (1.2, 3.0),
        "sweep_ms": (5.0, 20.0),
        "sub": (0.0, 0.5),
        "click": (0.05, 0.3),
        "high_end": (0.02, 0.15),
        "drive": (1.0, 1.3),
        "wet": (0.2, 0.45),
        "reverb_ms": (200.0, 500.0),
    },
}


def sample_params(style: str, rng: np.random.Generator) -> KickParams:
    """Draw one KickParams uniformly from the ranges of ``style``."""
    if style not in STYLES:
        raise KeyError(f"unknown style {style!r}; known: {sorted(STYLES)}")
    ranges = STYLES[style]
    # Draw in KickParams field order so a given rng state always maps to the
    # same kick, whatever order the style dict lists its ranges in.
    values = {}
    for field in fields(KickParams):
        low, high = ranges[field.name]
        values[field.name] = float(rng.uniform(low, high))
    return KickParams(**values)


def render_kick(
    params: KickParams,
    sample_rate: int = SYNTH_SAMPLE_RATE,
    duration_s: float = 0.5,
    seed: int = 0,
) -> np.ndarray:
    """Render one kick: float64 mono, peak-normalised to OUTPUT_PEAK.

    ``seed`` drives the click, high-end and reverb noise; the same
    (params, sample_rate, duration_s, seed) always gives the same samples.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(round(duration_s * sample_rate)) / sample_rate
    body = _body_envelope(t, params) * np.sin(_body_phase(t, params))
    dry = _saturate(body, params.drive) + params.sub * body
    dry = dry + params.click * _click_burst(rng, t.size, sample_rate)
    dry = dry + params.high_end * _high_end_noise(rng, t, sample_rate)
    impulse_response = _reverb_impulse_response(rng, params.reverb_ms, sample_rate)
    reverb_send = _highpass(dry, REVERB_HIGHPASS_HZ, sample_rate)
    reverb = signal.fftconvolve(reverb_send, impulse_response)[: t.size]
    mixed = (1.0 - params.wet) * dry + params.wet * reverb
    return _normalise_peak(_fade_tail(mixed, sample_rate), OUTPUT_PEAK)


def write_pack(out_dir: Path, n: int = 160, seed: int = 0) -> Path:
    """Write ``n`` kicks spread evenly over the styles; return the manifest path.

    Layout: ``out_dir/synth-kicks/<style>/<style>_NNN.wav`` (44.1 kHz, 24-bit,
    mono) and ``out_dir/manifest.json``.  The manifest is a dict with the pack
    name, sample rate, seed and ``files``: one entry per file holding its
    ``path`` (relative to ``out_dir``, POSIX separators), ``style``, the
    render ``seed`` (``seed * n + index``) and every field of its KickParams.
    The same (n, seed) always writes byte-identical files.
    """
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    style_names = list(STYLES)
    written_per_style = dict.fromkeys(style_names, 0)
    entries = []
    for index in range(n):
        # Round-robin keeps the styles within one file of each other.
        style = style_names[index % len(style_names)]
        params = sample_params(style, rng)
        render_seed = seed * n + index
        relative_path = f"{PACK_NAME}/{style}/{style}_{written_per_style[style]:03d}.wav"
        written_per_style[style] += 1
        audio = render_kick(params, seed=render_seed)
        wav_path = out_dir / relative_path
        wav_path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(wav_path, audio, SYNTH_SAMPLE_RATE, subtype=WAV_SUBTYPE)
        entries.append({"path": relative_path, "style": style, "seed": render_seed, **asdict(params)})
    manifest = {"pack": PACK_NAME, "sample_rate": SYNTH_SAMPLE_RATE, "seed": seed, "files": entries}
    manifest_path = out_dir / MANIFEST_NAME
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest_path


def _body_envelope(t: np.ndarray, params: KickParams) -> np.ndarray:
    """Linear rise over attack_ms, then -20 dB per decay_ms."""
    attack_s = params.attack_ms / 1000.0
    rise = np.clip(t / attack_s, 0.0, 1.0) if attack_s > 0 else np.ones_like(t)
    time_since_peak = np.maximum(t - attack_s, 0.0)
    fall = 10.0 ** (-time_since_peak / (params.decay_ms / 1000.0))
    return rise * fall


def _body_phase(t: np.ndarray, params: KickParams) -> np.ndarray:
    """Phase of the exponential glide from sweep_ratio * f0 down to f0.

    Closed-form integral of f(t) = f0 * (1 + (ratio - 1) * exp(-t / tau)).
    """
    tau_s = params.sweep_ms / 1000.0
    glide = (params.sweep_ratio - 1.0) * tau_s * (1.0 - np.exp(-t / tau_s))
    return 2.0 * np.pi * params.f0_hz * (t + glide)


def _saturate(x: np.ndarray, drive: float) -> np.ndarray:
    """tanh saturation that keeps a peak of 1 at 1 and is the identity at drive 1."""
    gain = drive - 1.0
    if gain == 0.0:
        return x
    return np.tanh(gain * x) / np.tanh(gain)


def _click_burst(rng: np.random.Generator, length: int, sample_rate: int) -> np.ndarray:
    """High-passed noise under a CLICK_MS Hann window at t = 0, peak 1."""
    burst_length = max(round(CLICK_MS / 1000.0 * sample_rate), 3)  # a Hann window of 3 is non-zero
    noise = _highpass(rng.standard_normal(burst_length), CLICK_HIGHPASS_HZ, sample_rate)
    # Window after filtering, so the burst really ends after CLICK_MS.
    burst = _normalise_peak(noise * np.hanning(burst_length), 1.0)
    click = np.zeros(length)
    click[: min(burst_length, length)] = burst[:length]
    return click


def _high_end_noise(rng: np.random.Generator, t: np.ndarray, sample_rate: int) -> np.ndarray:
    """High-passed noise falling 20 dB every HIGH_END_DECAY_MS, peak 1."""
    noise = _highpass(rng.standard_normal(t.size), HIGH_END_HIGHPASS_HZ, sample_rate)
    decay = 10.0 ** (-t / (HIGH_END_DECAY_MS / 1000.0))
    return _normalise_peak(noise * decay, 1.0)


def _reverb_impulse_response(rng: np.random.Generator, reverb_ms: float, sample_rate: int) -> np.ndarray:
    """Exponentially decaying white noise, RT60 = reverb_ms, unit energy.

    Unit energy keeps the reverb about as loud as the dry sound, so ``wet``
    is a mix proportion and not a gain.
    """
    t = np.arange(max(round(reverb_ms / 1000.0 * sample_rate), 1)) / sample_rate
    decay = 10.0 ** (-REVERB_DECAY_DB / 20.0 * t / (reverb_ms / 1000.0))
    response = rng.standard_normal(t.size) * decay
    return response / np.sqrt(np.sum(response**2))


def _highpass(x: np.ndarray, cutoff_hz: float, sample_rate: int) -> np.ndarray:
    sos = signal.butter(HIGHPASS_ORDER, cutoff_hz, btype="highpass", fs=sample_rate, output="sos")
    return signal.sosfilt(sos, x)


def _fade_tail(x: np.ndarray, sample_rate: int) -> np.ndarray:
    fade_length = min(round(TAIL_FADE_MS / 1000.0 * sample_rate), x.size)
    faded = x.copy()
    faded[x.size - fade_length :] *= np.linspace(1.0, 0.0, fade_length)
    return faded


def _normalise_peak(x: np.ndarray, peak: float) -> np.ndarray:
    largest = np.max(np.abs(x)) if x.size else 0.0
    return x * (peak / largest) if largest > 0 else x
