"""``latentplay eval``: how good is a bundle?

Reconstruction, per pack: every one-shot of DATA is prepared as in training, encoded and decoded
with the bundle's TorchScript files, and compared with the prepared original by
  - MR-STFT: auraloss' multi-resolution STFT loss (FFT sizes 32..2048, as in training, without
    the envelope weighting), lower is better;
  - LSD: log-spectral distance in dB, see :func:`log_spectral_distance`.

Control accuracy, per control: for a few bundle samples (evenly spread over the sample list),
the control is swept over SWEEP_POINTS values across its range (the others stay at the sample's
own values), each point is regenerated and the control is measured on the output: the feature
(frequency, attack, release) with latentplay.features, and for the PCs the output is re-encoded
and projected, w·(E(x̂) − mean). Reported: Spearman ρ between asked and measured values (pooled
over the samples) and the median |measured − asked| in the control's unit.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from latentplay.bundle import CONTROL_NAMES
from latentplay.dataset import load_pack_tree
from latentplay.features import FEATURE_NAMES, measure_features
from latentplay.render import ReferenceRenderer
from latentplay.training.loss import STFT_SIZES  # the training loss' resolutions (no Lightning import)

SWEEP_POINTS = 7
SWEEP_MARGIN = 0.05  # sweep from 5 % to 95 % of each control's range
SWEEP_SAMPLES = 8
LSD_FFT_SIZE = 1024
LSD_HOP = 256
LSD_FLOOR = 1e-8  # power floor, so that digital silence compares as −80 dB, not −inf


@dataclass
class SampleReconstruction:
    path: str
    pack: str
    mrstft: float
    lsd_db: float


@dataclass
class ControlSweep:
    sample: str
    asked: list[float]
    measured: list[float]


def mrstft_distance(reference: np.ndarray, estimate: np.ndarray) -> float:
    import auraloss

    loss = auraloss.freq.MultiResolutionSTFTLoss(fft_sizes=STFT_SIZES, hop_sizes=[n // 4 for n in STFT_SIZES],
                                                 win_lengths=STFT_SIZES)
    as_tensor = lambda x: torch.as_tensor(np.asarray(x, dtype=np.float32)).reshape(1, 1, -1)  # noqa: E731
    with torch.no_grad():
        return float(loss(as_tensor(estimate), as_tensor(reference)))


def log_spectral_distance(reference: np.ndarray, estimate: np.ndarray) -> float:
    """LSD in dB: per frame, the RMS over frequency bins of the difference of the two power
    spectra in dB (Hann window LSD_FFT_SIZE, hop LSD_HOP, floor LSD_FLOOR); mean over frames."""
    def power_db(signal: np.ndarray) -> np.ndarray:
        window = np.hanning(LSD_FFT_SIZE)
        frames = np.lib.stride_tricks.sliding_window_view(np.asarray(signal, np.float64), LSD_FFT_SIZE)[::LSD_HOP]
        return 10 * np.log10(np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2 + LSD_FLOOR)

    difference = power_db(reference) - power_db(estimate)
    return float(np.mean(np.sqrt(np.mean(difference**2, axis=-1))))


def reconstruction_report(renderer: ReferenceRenderer, data_root: Path) -> list[SampleReconstruction]:
    pack = load_pack_tree(data_root, renderer.prep)
    results = []
    for sample, audio in zip(pack.samples, pack.audio):
        rebuilt = renderer.decode(renderer.encode(audio))
        results.append(SampleReconstruction(sample.ref.relative_path, sample.ref.pack,
                                            mrstft_distance(audio, rebuilt), log_spectral_distance(audio, rebuilt)))
    return results


def measure_control(renderer: ReferenceRenderer, name: str, audio: np.ndarray) -> float:
    if name in FEATURE_NAMES:
        features = measure_features(audio, renderer.bundle.sample_rate)
        return float(features.as_array()[FEATURE_NAMES.index(name)])
    return renderer.own_controls(renderer.encode(audio))[name]


def sweep_values(renderer: ReferenceRenderer, name: str) -> np.ndarray:
    control = renderer.bundle.controls[CONTROL_NAMES.index(name)]
    margin = SWEEP_MARGIN * control.span
    return np.linspace(control.minimum + margin, control.maximum - margin, SWEEP_POINTS)


def sweep_sample_indices(count: int, wanted: int = SWEEP_SAMPLES) -> list[int]:
    return sorted(set(np.linspace(0, count - 1, min(wanted, count)).round().astype(int).tolist()))


def control_sweeps(renderer: ReferenceRenderer, sample_indices: list[int]) -> dict[str, list[ControlSweep]]:
    sweeps = {}
    for name in CONTROL_NAMES:
        asked = sweep_values(renderer, name)
        sweeps[name] = [
            ControlSweep(renderer.bundle.samples[index].path, asked.tolist(),
                         [measure_control(renderer, name, renderer.regenerate(index, {name: value}))
                          for value in asked])
            for index in sample_indices]
    return sweeps


def control_accuracy(sweeps: list[ControlSweep]) -> dict:
    asked = np.concatenate([s.asked for s in sweeps])
    measured = np.concatenate([s.measured for s in sweeps])
    rho = spearmanr(asked, measured).statistic
    return {"spearman_rho": float(rho) if np.isfinite(rho) else 0.0,
            "median_abs_error": float(np.median(np.abs(measured - asked)))}


def evaluate_bundle(bundle_path: Path, data_root: Path, sweep_samples: int = SWEEP_SAMPLES) -> dict:
    renderer = ReferenceRenderer(bundle_path)
    reconstructions = reconstruction_report(renderer, data_root)
    packs = {}
    for pack in sorted({r.pack for r in reconstructions}):
        rows = [r for r in reconstructions if r.pack == pack]
        packs[pack] = {"count": len(rows), "mrstft": float(np.mean([r.mrstft for r in rows])),
                       "lsd_db": float(np.mean([r.lsd_db for r in rows]))}
    sweeps = control_sweeps(renderer, sweep_sample_indices(len(renderer.bundle.samples), sweep_samples))
    controls = {}
    for control in renderer.bundle.controls:
        controls[control.name] = {"unit": control.unit, **control_accuracy(sweeps[control.name])}
    return {
        "bundle": str(bundle_path), "model_id": renderer.bundle.model_id, "data": str(data_root),
        "reconstruction": {"packs": packs, "samples": [asdict(r) for r in reconstructions]},
        "controls": controls,
        "sweeps": {name: [asdict(s) for s in rows] for name, rows in sweeps.items()},
    }


def print_report(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"Reconstruction ({report['data']})")
    for column in ("pack", "one-shots", "MR-STFT", "LSD (dB)"):
        table.add_column(column, justify="left" if column == "pack" else "right")
    for pack, row in report["reconstruction"]["packs"].items():
        table.add_row(pack, str(row["count"]), f"{row['mrstft']:.3f}", f"{row['lsd_db']:.2f}")
    console.print(table)
    table = Table(title="Control accuracy (sweeps across each control's range)")
    for column in ("control", "Spearman ρ", "median |error|"):
        table.add_column(column, justify="left" if column == "control" else "right")
    for name, row in report["controls"].items():
        table.add_row(name, f"{row['spearman_rho']:.3f}", f"{row['median_abs_error']:.3g} {row['unit']}".strip())
    console.print(table)


def write_report(report: dict, path: Path) -> None:
    Path(path).write_text(json.dumps(report, indent=1) + "\n")
