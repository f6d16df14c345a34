"""The device-resident data pipeline (``data.pipeline: device``).

The prepared pack (N one-shots × length samples, float32: 500 one-shots of 0.3 s are 13 MB) is
one tensor on the training device, and so are its normalised features. The DataLoader yields only
batches of indices (so Lightning's DistributedSampler still gives each DDP rank its share); once a
batch of indices is on the device, :meth:`DeviceOneShotDataModule.on_after_batch_transfer`
gathers the audio and, for training batches, pitch-shifts a random subset of it **batched in
torch on that device**, and measures the features of the shifted copies batched in torch too:

* :func:`pitch_shift_batch` is the legacy :func:`latentplay.training.augment.pitch_shift`
  (``scipy.signal.resample_poly``: Kaiser-windowed sinc, β = 5, 10 zero crossings of the
  anti-alias cut-off either side, output aligned with the input) written as one gather and one
  weighted sum for the whole batch, for any real speed ratio (the legacy path realises the ratio
  as a fraction with a denominator ≤ 64; here the drawn ratio itself is used). Then the same
  crop/zero-pad and linear fade-out.
* :func:`measure_features_batch` is :func:`latentplay.features.measure_features` (same envelope,
  peak, attack, release and frequency definitions, float64), batched: the variable-length
  frequency windows share one zero-padded FFT, of which each one-shot reads every r-th bin (a
  power-of-two zero-padding is the same spectrum sampled r times more densely).

Tested equal to the NumPy/SciPy definitions within tolerance (tests/training/test_device_data.py).
No per-sample Python work happens per step: the draws, the shift and the measurements are a
fixed number of tensor operations per batch.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import fft as scipy_fft
from torch.utils.data import DataLoader

from latentplay import features as F
from latentplay.audio import PrepConfig
from latentplay.training.augment import derived_seed
from latentplay.training.lightning import PackDataModule

RESAMPLE_ZERO_CROSSINGS = 10  # scipy.signal.resample_poly: half_len = 10 × max(up, down)
RESAMPLE_KAISER_BETA = 5.0  # resample_poly's window=('kaiser', 5.0)


# --------------------------------------------------------------------------------------------
# Pitch shift


def pitch_shift_batch(audio: torch.Tensor, semitones: torch.Tensor, prep: PrepConfig,
                      max_semitones: float | None = None) -> torch.Tensor:
    """(B, L) prepared one-shots played 2^(semitones/12) times faster, prepared again (crop or
    zero-pad to L, fade-out): :func:`latentplay.training.augment.pitch_shift`, batched.

    Output sample n reads the input at t = n × speed through a Kaiser-windowed sinc whose cut-off
    is min(1, 1/speed) of the input's Nyquist (anti-aliasing when played faster), 10 zero
    crossings of it either side: resample_poly's filter, evaluated at the exact ratio.
    ``max_semitones`` bounds |semitones| (the tap count is fixed by it: no data-dependent shapes);
    default: the batch's own maximum (one host sync)."""
    batch, length = audio.shape
    dtype = torch.float64 if audio.dtype == torch.float64 else torch.float32
    semitones = semitones.to(audio.device, torch.float64)
    if max_semitones is None:
        max_semitones = float(semitones.abs().max()) if batch else 0.0
    max_speed = 2.0 ** (abs(max_semitones) / 12.0)
    half_taps = math.ceil(RESAMPLE_ZERO_CROSSINGS * max(1.0, max_speed)) + 1
    speed = torch.pow(2.0, semitones / 12.0)  # input samples per output sample
    cutoff = torch.clamp(1.0 / speed, max=1.0)  # of the input's Nyquist
    half_width = RESAMPLE_ZERO_CROSSINGS / cutoff  # in input samples
    n = torch.arange(length, device=audio.device, dtype=torch.float64)
    position = n[None, :] * speed[:, None]  # (B, L) input time of each output sample (float64)
    base = torch.floor(position)
    fraction = (position - base).to(torch.float32)
    offsets = torch.arange(-half_taps + 1, half_taps + 1, device=audio.device)
    # Input samples read, as indices into the input zero-padded by half_taps on the left (positions
    # past the end are clamped: their outputs are zeroed below).
    index = base.long().clamp(max=length)[:, :, None] + (offsets + half_taps)  # (B, L, K)
    tau = fraction[:, :, None] - offsets.to(torch.float32)  # distance from the output time, in input samples
    # The (B, L, K) kernel in float32: the positions are exact in float64, the weights need not be.
    c = cutoff.to(torch.float32)[:, None, None]
    hw = half_width.to(torch.float32)[:, None, None]
    ratio = torch.clamp(1.0 - (tau / hw) ** 2, min=0.0)  # 0 outside the window
    kernel = c * torch.sinc(c * tau) * kaiser(ratio)
    kernel = kernel * (ratio > 0.0)
    padded = torch.nn.functional.pad(audio.to(dtype), (half_taps, half_taps + 1))
    gathered = torch.gather(padded, 1, index.reshape(batch, -1))
    shifted = (gathered.reshape(batch, length, -1) * kernel.to(dtype)).sum(dim=-1)  # (B, L)
    # resample_poly's output has ceil(L / speed) samples; fit_length zero-pads the rest.
    produced = torch.ceil(length / speed - 1e-9)
    shifted = shifted * (n[None, :] < produced[:, None])
    return apply_fade_out_batch(shifted, prep.fade_out).to(audio.dtype)


# I0(β √r) / I0(β) = Σ_k (β² r / 4)^k / (k!)² / I0(β): a power series in r = 1 - (τ / half width)²
# (Horner, no square root, no Bessel call); 12 terms are exact to 1e-9 for β = 5, r <= 1.
_KAISER_COEFFICIENTS = [(RESAMPLE_KAISER_BETA ** 2 / 4.0) ** k / math.factorial(k) ** 2 / float(np.i0(RESAMPLE_KAISER_BETA))
                        for k in range(13)]


def kaiser(ratio: torch.Tensor) -> torch.Tensor:
    """scipy's Kaiser window (β = RESAMPLE_KAISER_BETA) at 1 - ratio = (τ / half width)²."""
    result = ratio * _KAISER_COEFFICIENTS[-1]
    for coefficient in reversed(_KAISER_COEFFICIENTS[1:-1]):
        result.add_(coefficient).mul_(ratio)
    return result.add_(_KAISER_COEFFICIENTS[0])


def apply_fade_out_batch(audio: torch.Tensor, fade_fraction: float) -> torch.Tensor:
    """latentplay.audio.apply_fade_out on the last axis."""
    length = audio.shape[-1]
    fade_length = int(round(length * fade_fraction))
    if fade_length == 0:
        return audio
    ramp = torch.ones(length, dtype=audio.dtype, device=audio.device)
    ramp[-fade_length:] = torch.linspace(1.0, 0.0, fade_length, dtype=torch.float64).to(audio)
    return audio * ramp


# --------------------------------------------------------------------------------------------
# Features


def _db_to_ratio(db: float) -> float:
    return 10.0 ** (db / 20.0)


def amplitude_envelope_batch(audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """latentplay.features.amplitude_envelope of each row of (B, L), float64."""
    audio = audio.to(torch.float64)
    batch, length = audio.shape
    mirrored = torch.cat([-audio[:, 1:].flip(1), audio], dim=1)  # -x(-t) before the onset
    size = mirrored.shape[1]
    padded = scipy_fft.next_fast_len(2 * size)
    spectrum = torch.fft.fft(mirrored, n=padded)
    weights = torch.zeros(padded, dtype=torch.float64, device=audio.device)  # scipy.signal.hilbert's h
    weights[0] = 1.0
    if padded % 2 == 0:
        weights[padded // 2] = 1.0
        weights[1:padded // 2] = 2.0
    else:
        weights[1:(padded + 1) // 2] = 2.0
    magnitude = torch.fft.ifft(spectrum * weights).abs()[:, :size]
    width = max(round(F.ENVELOPE_SMOOTHING_MS / 1000.0 * sample_rate), 1)
    left = width // 2  # scipy.ndimage.uniform_filter1d, origin 0, mode "nearest"
    right = width - 1 - left
    extended = torch.nn.functional.pad(magnitude[:, None, :], (left, right), mode="replicate")[:, 0]
    cumulative = torch.nn.functional.pad(torch.cumsum(extended, dim=1), (1, 0))
    smoothed = (cumulative[:, width:] - cumulative[:, :-width]) / width
    return smoothed[:, length - 1:]


def _first_true(mask: torch.Tensor) -> torch.Tensor:
    return mask.to(torch.uint8).argmax(dim=1)  # first maximum; 0 when none


def _last_true(mask: torch.Tensor) -> torch.Tensor:
    return mask.shape[1] - 1 - mask.flip(1).to(torch.uint8).argmax(dim=1)


def measure_features_batch(audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """(B, L) one-shots -> (B, 3) [frequency_hz, attack_ms, release_ms], float64:
    latentplay.features.measure_features of every row, as tensor operations."""
    audio = audio.to(torch.float64)
    batch, length = audio.shape
    device = audio.device
    envelope = amplitude_envelope_batch(audio, sample_rate)
    top = envelope.max(dim=1).values
    silent = top <= 0.0
    peak = _first_true(envelope >= (top * _db_to_ratio(-F.PEAK_WITHIN_DB))[:, None])
    onset = _first_true(envelope >= (top * _db_to_ratio(F.ATTACK_ONSET_DB))[:, None])
    last = _last_true(envelope >= (top * _db_to_ratio(F.RELEASE_LEVEL_DB))[:, None])
    to_ms = 1000.0 / sample_rate
    attack = (peak - onset).to(torch.float64) * to_ms
    release = (last - peak).to(torch.float64) * to_ms
    frequency = dominant_frequency_batch(audio, sample_rate, peak)
    low_hz = F.FREQUENCY_BAND_HZ[0]
    zero = torch.zeros((), dtype=torch.float64, device=device)
    return torch.stack([torch.where(silent, torch.full_like(frequency, low_hz), frequency),
                        torch.where(silent, zero, attack), torch.where(silent, zero, release)], dim=1)


def dominant_frequency_batch(audio: torch.Tensor, sample_rate: int, peak: torch.Tensor) -> torch.Tensor:
    """latentplay.features._dominant_frequency of each row, given its peak index."""
    batch, length = audio.shape
    device = audio.device
    low_hz, high_hz = F.FREQUENCY_BAND_HZ
    offset = round(F.FREQUENCY_WINDOW_OFFSET_MS / 1000.0 * sample_rate)
    min_length = round(F.FREQUENCY_MIN_WINDOW_MS / 1000.0 * sample_rate)
    start = torch.clamp(torch.clamp(peak + offset, max=length - min_length), min=0)  # (B,)
    window_length = length - start  # M, from start to the end
    # Each window's own FFT size (the next power of two >= factor × M) divides the largest one
    # (for M = L): its bins are every r-th bin of that FFT.
    log_size = torch.ceil(torch.log2(F.FFT_ZERO_PAD_FACTOR * window_length.to(torch.float64))).long()
    max_log = int(math.ceil(math.log2(F.FFT_ZERO_PAD_FACTOR * length)))
    fft_size = torch.pow(2, log_size)
    stride = torch.pow(2, max_log - log_size)  # r
    position = torch.arange(length, device=device)
    source = (start[:, None] + position[None, :]).clamp(max=length - 1)
    used = position[None, :] < window_length[:, None]
    m = window_length[:, None].to(torch.float64)
    hann = 0.5 - 0.5 * torch.cos(2.0 * math.pi * position[None, :] / torch.clamp(m - 1.0, min=1.0))
    hann = torch.where(m > 1.0, hann, torch.ones_like(hann))  # np.hanning(1) == [1.]
    windowed = torch.gather(audio, 1, source) * hann * used
    magnitude = torch.fft.rfft(windowed, n=1 << max_log).abs()  # (B, 2^max_log / 2 + 1)
    # Only the band (and one own bin beyond it, for the parabola) is ever read.
    shortest = min(length, min_length)  # the shortest window: the largest stride
    largest_stride = 1 << (max_log - int(math.ceil(math.log2(F.FFT_ZERO_PAD_FACTOR * shortest))))
    band_end = min(magnitude.shape[1], int(high_hz * (1 << max_log) / sample_rate) + 2 * largest_stride + 2)
    magnitude = magnitude[:, :band_end]
    bins = torch.arange(magnitude.shape[1], device=device)
    bin_hz = sample_rate / fft_size.to(torch.float64)  # of each one-shot's own FFT
    first_bin = torch.ceil(low_hz / bin_hz).long()
    own_bins = fft_size // 2 + 1
    last_bin = torch.minimum(torch.floor(high_hz / bin_hz).long(), own_bins - 1)
    own_index = bins[None, :] // stride[:, None]  # the own bin a big bin is, where it is one
    in_band = ((bins[None, :] % stride[:, None]) == 0) & (own_index >= first_bin[:, None]) \
        & (own_index <= last_bin[:, None])
    band = torch.where(in_band, magnitude, torch.full_like(magnitude, -1.0))
    best_big = band.argmax(dim=1)  # first maximum, in bin order, as np.argmax over the band
    band_max = band.gather(1, best_big[:, None])[:, 0]
    best = best_big // stride
    # Parabolic refinement through the log magnitudes of the bin and its two own neighbours.
    has_neighbours = (best > 0) & (best < own_bins - 1)
    left_index = (best_big - stride).clamp(min=0)
    right_index = (best_big + stride).clamp(max=magnitude.shape[1] - 1)
    left = magnitude.gather(1, left_index[:, None])[:, 0]
    centre = magnitude.gather(1, best_big[:, None])[:, 0]
    right = magnitude.gather(1, right_index[:, None])[:, 0]
    positive = torch.minimum(torch.minimum(left, centre), right) > 0.0
    tiny = torch.full_like(left, 1e-300)
    log_left, log_centre, log_right = (torch.log(torch.maximum(v, tiny)) for v in (left, centre, right))
    curvature = log_left - 2.0 * log_centre + log_right
    safe_curvature = torch.where(curvature < 0.0, curvature, -torch.ones_like(curvature))
    refined = torch.clamp(0.5 * (log_left - log_right) / safe_curvature, -0.5, 0.5)
    refined = torch.where(has_neighbours & positive & (curvature < 0.0), refined, torch.zeros_like(refined))
    frequency = torch.clamp((best.to(torch.float64) + refined) * bin_hz, low_hz, high_hz)
    empty = (last_bin < first_bin) | (band_max <= 0.0)
    return torch.where(empty, torch.full_like(frequency, low_hz), frequency)


# --------------------------------------------------------------------------------------------
# Augmentation and the data module


class BatchedPitchShift:
    """The legacy PitchShiftedOneShots' augmentation for a whole batch on its device: each one-shot
    is, with ``probability``, replaced by a copy shifted by a uniform draw from ±``max_semitones``,
    whose normalised features are measured on it. Two uniform draws per one-shot (chance, amount),
    as the legacy data set draws per fetch, from a generator on the batch's device seeded by
    ``seed(*entropy)``."""

    def __init__(self, feature_mean: np.ndarray, feature_std: np.ndarray, prep: PrepConfig,
                 max_semitones: float, probability: float, seed: int = 0) -> None:
        self.feature_mean = torch.as_tensor(np.asarray(feature_mean, dtype=np.float64))
        self.feature_std = torch.as_tensor(np.asarray(feature_std, dtype=np.float64))
        self.prep = prep
        self.max_semitones = float(max_semitones)
        self.probability = float(probability)
        self.seed(seed)

    def seed(self, *entropy: int) -> None:
        self.entropy = tuple(entropy)
        self._generators: dict[torch.device, torch.Generator] = {}

    def generator(self, device: torch.device) -> torch.Generator:
        if device not in self._generators:
            self._generators[device] = torch.Generator(device=device).manual_seed(derived_seed(*self.entropy))
        return self._generators[device]

    @property
    def active(self) -> bool:
        return self.max_semitones > 0 and self.probability > 0

    def __call__(self, audio: torch.Tensor, normalised: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L) audio and (B, 3) normalised features -> the augmented pair, same shapes."""
        if not self.active or len(audio) == 0:
            return audio, normalised
        device = audio.device
        draws = torch.rand(len(audio), 2, generator=self.generator(device), device=device, dtype=torch.float64)
        chosen = draws[:, 0] < self.probability
        semitones = (2.0 * draws[:, 1] - 1.0) * self.max_semitones
        if device.type == "cpu":  # shift only the chosen ones (no device to keep in flight)
            rows = chosen.nonzero()[:, 0]
            if len(rows) == 0:
                return audio, normalised
            shifted, measured = self.shift(audio[rows], semitones[rows])
            audio, normalised = audio.clone(), normalised.clone()
            audio[rows], normalised[rows] = shifted, measured
            return audio, normalised
        shifted, measured = self.shift(audio, semitones)  # accelerator: all, then select (no sync)
        return (torch.where(chosen[:, None], shifted, audio),
                torch.where(chosen[:, None], measured, normalised))

    def shift(self, audio: torch.Tensor, semitones: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shifted = pitch_shift_batch(audio, semitones, self.prep, self.max_semitones)
        features = measure_features_batch(shifted, self.prep.sample_rate)
        mean, std = self.feature_mean.to(audio.device), self.feature_std.to(audio.device)
        return shifted, ((features - mean) / std).to(torch.float32)


class DeviceOneShotDataModule(PackDataModule):
    """OneShotDataModule's data (same split, same validation, same augmentation distribution)
    with the pack on the training device: the loaders yield index batches, and
    ``on_after_batch_transfer`` turns them into (audio (B, 1, L), normalised features (B, 3))
    on the device, pitch-shifting training batches there (BatchedPitchShift)."""

    def __init__(self, audio: np.ndarray, features: np.ndarray, feature_mean: np.ndarray,
                 feature_std: np.ndarray, config) -> None:
        data = config.data
        self.audio = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
        normalised = (np.asarray(features, dtype=np.float64) - feature_mean) / feature_std
        self.normalised = torch.from_numpy(normalised.astype(np.float32))
        self.augment = BatchedPitchShift(feature_mean, feature_std, data.prep(), data.pitch_shift_semitones,
                                         data.pitch_shift_probability)
        super().__init__(len(audio), config, self.augment)
        self._on_device: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def items(self, indices: list[int], train: bool):
        return indices  # index batches; the audio is taken on the device

    def pack_on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """The pack and its normalised features on ``device``, moved there once."""
        if device not in self._on_device:
            self._on_device[device] = (self.audio.to(device), self.normalised.to(device))
        return self._on_device[device]

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        if not (isinstance(batch, torch.Tensor) and batch.dtype == torch.int64):
            return batch
        audio, normalised = self.pack_on(batch.device)
        audio, normalised = audio[batch], normalised[batch]
        if self.trainer is not None and self.trainer.training:
            audio, normalised = self.augment(audio, normalised)
        return audio.unsqueeze(1), normalised

    def batch(self, indices, device: torch.device | str = "cpu", train: bool = True):
        """The batch training would see for these indices (tests, benchmark)."""
        audio, normalised = self.pack_on(torch.device(device))
        index = torch.as_tensor(indices, device=device)
        audio, normalised = audio[index], normalised[index]
        if train:
            audio, normalised = self.augment(audio, normalised)
        return audio.unsqueeze(1), normalised
