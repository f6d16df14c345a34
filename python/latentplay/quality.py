"""What a producer hears: reconstruction measures, the nearest-other baseline, the collapse check.

A figure without a baseline says nothing: an MR-STFT of 1.2 may be excellent on one pack and
useless on another. The baseline here is the **nearest other one-shot**: for each one-shot, the
smallest MR-STFT distance to any *other* one-shot of the training data (for data the model did not
train on: to any training one-shot). A model that reconstructs worse than that baseline is worse
than a sampler that plays the closest kick it already has.

Measures (all on prepared one-shots at the model rate):
  - MR-STFT: auraloss' multi-resolution STFT loss (spectral convergence + L1 of log magnitudes,
    FFT sizes ``STFT_SIZES``, hop = size / 4, Hann), with the *reference* as auraloss' target.
    :class:`SpectralDistance` computes it for many pairs at once from precomputed magnitudes
    (equal to auraloss' own value, tested); the training loss uses auraloss itself.
  - click: energy of the first ``CLICK_WINDOW_MS`` above ``CLICK_CUTOFF_HZ`` (4th-order
    Butterworth high-pass), in dB; the part of a kick that cuts through a mix.
  - sub: energy below ``SUB_CUTOFF_HZ`` (4th-order Butterworth low-pass) over the whole one-shot.
  Click and sub are reported as reconstruction minus original, in dB (0 = kept, −15 = lost).

The collapse check (:func:`check_reconstructions`) flags a model whose outputs are near-identical,
far quieter than the data, or no better than the nearest-other baseline. Training prints it at
the end; ``latentplay export`` refuses such a model unless ``--force``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from scipy.signal import butter, sosfilt

STFT_SIZES = [32, 64, 128, 256, 512, 1024, 2048]
STFT_EPS = 1e-8  # auraloss' floor on the squared magnitude
CLICK_WINDOW_MS = 10.0
CLICK_CUTOFF_HZ = 1000.0
SUB_CUTOFF_HZ = 100.0
ENERGY_FLOOR = 1e-12  # so that digital silence compares as −120 dB, not −inf

# Collapse thresholds. The collapsed demo-config run on 65 real kicks measured: pairwise
# correlation of outputs 0.86–0.93 (the kicks themselves: see data_correlation), peak −21 dBFS.
NEAR_IDENTICAL_CORRELATION = 0.8  # mean pairwise correlation of the outputs at or above this ...
NEAR_IDENTICAL_MARGIN = 0.3  # ... and this much above the data's own: the outputs are one sound
QUIET_PEAK_RATIO = 0.25  # median output peak below 1/4 (−12 dB) of the data's median peak
BASELINE_RATIO_LIMIT = 1.0  # median MR-STFT above the nearest-other baseline's median


class SpectralDistance:
    """MR-STFT distances between one-shots of equal length, many pairs at once.

    Magnitudes are computed once per signal; the spectral-convergence term of every pair comes
    from one matrix product per resolution, the log-magnitude term from chunked differences."""

    def __init__(self, fft_sizes: list[int] = STFT_SIZES, chunk: int = 8) -> None:
        self.fft_sizes = list(fft_sizes)
        self.chunk = chunk

    def magnitudes(self, audio: np.ndarray) -> list[torch.Tensor]:
        """(N, length) -> per resolution, (N, frames × bins) float64 magnitudes."""
        signals = torch.as_tensor(np.atleast_2d(np.asarray(audio, dtype=np.float32)))
        result = []
        for size in self.fft_sizes:
            spectrum = torch.stft(signals, size, size // 4, size, torch.hann_window(size), return_complex=True)
            power = spectrum.real ** 2 + spectrum.imag ** 2
            result.append(torch.sqrt(torch.clamp(power, min=STFT_EPS)).flatten(1).double())
        return result

    def matrix(self, references: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """(N, M): MR-STFT of candidate j as an estimate of reference i."""
        total = 0.0
        for ref, cand in zip(self.magnitudes(references), self.magnitudes(candidates)):
            ref_norm2 = (ref ** 2).sum(1, keepdim=True)
            difference2 = ref_norm2 + (cand ** 2).sum(1)[None, :] - 2.0 * ref @ cand.T
            convergence = torch.sqrt(difference2.clamp_min(0.0)) / torch.sqrt(ref_norm2)
            log_ref, log_cand = torch.log(ref), torch.log(cand)
            log_l1 = torch.cat([(log_ref[i:i + self.chunk, None, :] - log_cand[None]).abs().mean(-1)
                                for i in range(0, len(log_ref), self.chunk)])
            total = total + convergence + log_l1
        return (total / len(self.fft_sizes)).numpy()

    def pairs(self, references: np.ndarray, estimates: np.ndarray) -> np.ndarray:
        """(N,): MR-STFT of estimates[i] against references[i]."""
        total = 0.0
        for ref, est in zip(self.magnitudes(references), self.magnitudes(estimates)):
            convergence = torch.linalg.norm(ref - est, dim=1) / torch.linalg.norm(ref, dim=1)
            total = total + convergence + (torch.log(ref) - torch.log(est)).abs().mean(1)
        return (total / len(self.fft_sizes)).numpy()


@dataclass
class NearestBaseline:
    distance: np.ndarray  # (N,) MR-STFT of the nearest candidate
    index: np.ndarray  # (N,) which candidate


def nearest_other(references: np.ndarray, candidates: np.ndarray, same_set: bool,
                  distance: SpectralDistance | None = None) -> NearestBaseline:
    """For each reference, the candidate closest in MR-STFT; with ``same_set`` (references are the
    candidates), a one-shot never counts as its own nearest."""
    matrix = (distance or SpectralDistance()).matrix(references, candidates)
    if same_set:
        np.fill_diagonal(matrix, np.inf)
    index = np.argmin(matrix, axis=1)
    return NearestBaseline(matrix[np.arange(len(matrix)), index], index)


def _energy_db(signals: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.sum(np.asarray(signals, np.float64) ** 2, axis=-1) + ENERGY_FLOOR)


def click_highpass(sample_rate: int) -> np.ndarray:
    """The click measure's filter (second-order sections)."""
    return butter(4, CLICK_CUTOFF_HZ, "highpass", fs=sample_rate, output="sos")


def click_window(sample_rate: int) -> int:
    """The click measure's window: the first CLICK_WINDOW_MS, in samples."""
    return int(round(CLICK_WINDOW_MS / 1000.0 * sample_rate))


def click_energy_db(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Energy (dB) of the first CLICK_WINDOW_MS above CLICK_CUTOFF_HZ; audio (..., length)."""
    window = click_window(sample_rate)
    return _energy_db(sosfilt(click_highpass(sample_rate), audio, axis=-1)[..., :window])


def sub_energy_db(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Energy (dB) below SUB_CUTOFF_HZ over the whole one-shot; audio (..., length)."""
    sos = butter(4, SUB_CUTOFF_HZ, "lowpass", fs=sample_rate, output="sos")
    return _energy_db(sosfilt(sos, audio, axis=-1))


def mean_pairwise_correlation(audio: np.ndarray) -> float:
    """Mean Pearson correlation over all pairs of one-shots (0 for fewer than two)."""
    if len(audio) < 2:
        return 0.0
    centred = audio - audio.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1)
    unit = centred / np.where(norms > 0, norms, 1.0)[:, None]
    correlation = unit @ unit.T
    return float(correlation[np.triu_indices(len(audio), k=1)].mean())


@dataclass
class ReconstructionQuality:
    """How a model reconstructs a set of one-shots, against the nearest-other baseline."""

    count: int
    mrstft_median: float
    baseline_median: float
    ratio: float  # mrstft_median / baseline_median
    click_db_median: float  # reconstruction − original
    sub_db_median: float
    correlation: float  # mean pairwise correlation of the reconstructions
    data_correlation: float  # ... of the originals
    peak_median: float
    data_peak_median: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        figures = (f"MR-STFT median {self.mrstft_median:.3f} vs nearest-other {self.baseline_median:.3f} "
                   f"(ratio {self.ratio:.2f}); click {self.click_db_median:+.1f} dB, sub "
                   f"{self.sub_db_median:+.1f} dB; output correlation {self.correlation:.2f} "
                   f"(data {self.data_correlation:.2f}), median peak {self.peak_median:.2f} "
                   f"(data {self.data_peak_median:.2f}), {self.count} one-shots")
        if self.ok:
            return f"Quality OK: {figures}"
        return f"QUALITY CHECK FAILED ({'; '.join(self.problems)}): {figures}"

    def to_dict(self) -> dict:
        """JSON-ready (a NaN, e.g. the baseline of a single one-shot, becomes null)."""
        finite = {key: None if isinstance(value, float) and not np.isfinite(value) else value
                  for key, value in asdict(self).items()}
        return {**finite, "ok": self.ok}


def check_reconstructions(originals: np.ndarray, reconstructions: np.ndarray, sample_rate: int,
                          distance: SpectralDistance | None = None,
                          measured: tuple[np.ndarray, np.ndarray] | None = None) -> ReconstructionQuality:
    """Reconstructions of a model's *training* one-shots against the collapse thresholds; the
    baseline is each original's nearest other original. ``measured``: each one-shot's MR-STFT and
    baseline, when the caller has already computed them (eval), so they are not computed twice."""
    distance = distance or SpectralDistance()
    if measured is None:
        measured = (distance.pairs(originals, reconstructions),
                    nearest_other(originals, originals, same_set=True, distance=distance).distance)
    mrstft, baseline = measured
    peaks = np.abs(reconstructions).max(axis=1)
    data_peaks = np.abs(originals).max(axis=1)
    quality = ReconstructionQuality(
        count=len(originals),
        mrstft_median=float(np.median(mrstft)),
        baseline_median=float(np.median(baseline)) if len(originals) > 1 else float("nan"),
        ratio=float(np.median(mrstft) / np.median(baseline)) if len(originals) > 1 else float("nan"),
        click_db_median=float(np.median(click_energy_db(reconstructions, sample_rate)
                                        - click_energy_db(originals, sample_rate))),
        sub_db_median=float(np.median(sub_energy_db(reconstructions, sample_rate)
                                      - sub_energy_db(originals, sample_rate))),
        correlation=mean_pairwise_correlation(reconstructions),
        data_correlation=mean_pairwise_correlation(originals),
        peak_median=float(np.median(peaks)),
        data_peak_median=float(np.median(data_peaks)),
    )
    quality.problems = collapse_problems(quality)
    return quality


def collapse_problems(quality: ReconstructionQuality) -> list[str]:
    problems = []
    if (quality.correlation >= NEAR_IDENTICAL_CORRELATION
            and quality.correlation >= quality.data_correlation + NEAR_IDENTICAL_MARGIN):
        problems.append(f"outputs near-identical (mean pairwise correlation {quality.correlation:.2f}, "
                        f"the data's {quality.data_correlation:.2f})")
    if quality.peak_median < QUIET_PEAK_RATIO * quality.data_peak_median:
        problems.append(f"outputs far quieter than the data (median peak {quality.peak_median:.3f} "
                        f"against {quality.data_peak_median:.3f})")
    if np.isfinite(quality.ratio) and quality.ratio > BASELINE_RATIO_LIMIT:
        problems.append(f"reconstructions worse than playing the nearest other one-shot "
                        f"(MR-STFT ratio {quality.ratio:.2f})")
    return problems
