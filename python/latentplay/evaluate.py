"""``latentplay eval``: how good is a bundle, measured the way a producer hears it?

Reconstruction, for every data folder given (trained on or not): each one-shot is prepared as in
training, encoded and decoded with the bundle's TorchScript files, and compared with the prepared
original (``latentplay.quality``):
  - MR-STFT (auraloss' multi-resolution STFT loss, FFT sizes 32..2048, no envelope weighting),
    and its **baseline**: the nearest *other* training one-shot (for a one-shot the model trained
    on), or the nearest training one-shot (for one it never heard), in the same distance. The
    ratio MR-STFT / baseline below 1 means the model beats playing the closest one-shot it has.
  - LSD: log-spectral distance in dB, see :func:`log_spectral_distance`;
  - click (first 10 ms above 1 kHz) and sub (< 100 Hz) energy, reconstruction − original, dB.
A one-shot counts as trained on when the bundle holds a sample with its relative path *and* its
encoding is that sample's latent point. Baselines need training audio: pass the training folder
too (``--data TRAIN --data OTHER``). Reported per pack and per folder: median and mean; the
collapse check (``latentplay.quality``) on the trained one-shots.

Controls: each control's range against its physical bounds, then sweeps **over the bundle's own
samples**: for a few of them (evenly spread over the sample list), the control is swept over
SWEEP_POINTS values across its range (the others stay at the sample's own values), each point is
regenerated and the control is measured on the output: the feature (frequency, attack,
release) with latentplay.features, and for the PCs the output is re-encoded and projected,
w·(E(x̂) − mean). Reported: Spearman ρ between asked and measured values (pooled over the
samples) and the median |measured − asked| in the control's unit.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from latentplay.bundle import CONTROL_NAMES
from latentplay.dataset import LoadedPack, load_pack_tree
from latentplay.features import FEATURE_NAMES, measure_features, physical_bounds
from latentplay.quality import SpectralDistance, check_reconstructions, click_energy_db, sub_energy_db
from latentplay.render import ReferenceRenderer

SWEEP_POINTS = 7
SWEEP_MARGIN = 0.05  # sweep from 5 % to 95 % of each control's range
SWEEP_SAMPLES = 8
LSD_FFT_SIZE = 1024
LSD_HOP = 256
LSD_FLOOR = 1e-8  # power floor, so that digital silence compares as −80 dB, not −inf
TRAINED_LATENT_TOLERANCE = 1e-4  # |encoding − stored latent| of a one-shot the bundle trained on


@dataclass
class SampleReconstruction:
    path: str
    pack: str
    trained: bool
    mrstft: float
    lsd_db: float
    click_db: float  # reconstruction − original
    sub_db: float
    baseline_mrstft: float | None  # nearest other (training) one-shot
    baseline_sample: str | None


@dataclass
class FolderData:
    root: Path
    pack: LoadedPack
    rebuilt: np.ndarray  # (N, length) reconstructions
    trained: np.ndarray  # (N,) bool


@dataclass
class ControlSweep:
    sample: str
    asked: list[float]
    measured: list[float]


def log_spectral_distance(reference: np.ndarray, estimate: np.ndarray) -> float:
    """LSD in dB: per frame, the RMS over frequency bins of the difference of the two power
    spectra in dB (Hann window LSD_FFT_SIZE, hop LSD_HOP, floor LSD_FLOOR); mean over frames."""
    def power_db(signal: np.ndarray) -> np.ndarray:
        window = np.hanning(LSD_FFT_SIZE)
        frames = np.lib.stride_tricks.sliding_window_view(np.asarray(signal, np.float64), LSD_FFT_SIZE)[::LSD_HOP]
        return 10 * np.log10(np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2 + LSD_FLOOR)

    difference = power_db(reference) - power_db(estimate)
    return float(np.mean(np.sqrt(np.mean(difference**2, axis=-1))))


def encode_folder(renderer: ReferenceRenderer, data_root: Path) -> FolderData:
    """Load a folder as training would, encode and decode every one-shot, and tell which ones the
    bundle trained on."""
    pack = load_pack_tree(data_root, renderer.prep)
    stored = {sample.path: sample.latent for sample in renderer.bundle.samples}
    rebuilt, trained = [], []
    for sample, audio in zip(pack.samples, pack.audio):
        latent = renderer.encode(audio)
        rebuilt.append(renderer.decode(latent))
        known = stored.get(sample.ref.relative_path)
        trained.append(known is not None and np.max(np.abs(known - latent)) <= TRAINED_LATENT_TOLERANCE)
    return FolderData(Path(data_root), pack, np.stack(rebuilt), np.array(trained, dtype=bool))


def reconstruction_rows(folder: FolderData, pool: np.ndarray, pool_names: list[str],
                        distance: SpectralDistance, rate: int) -> list[SampleReconstruction]:
    """Per one-shot figures; baselines from ``pool`` (the trained one-shots of every folder)."""
    audio = folder.pack.audio
    mrstft = distance.pairs(audio, folder.rebuilt)
    click = click_energy_db(folder.rebuilt, rate) - click_energy_db(audio, rate)
    sub = sub_energy_db(folder.rebuilt, rate) - sub_energy_db(audio, rate)
    baseline, nearest = [None] * len(audio), [None] * len(audio)
    matrix = distance.matrix(audio, pool) if len(pool) else np.zeros((len(audio), 0))
    names = np.array(pool_names)
    for i, sample in enumerate(folder.pack.samples):
        own = names == sample.ref.relative_path if folder.trained[i] else np.zeros(len(pool), bool)
        candidates = np.where(own, np.inf, matrix[i])  # a trained one-shot is never its own baseline
        if np.isfinite(candidates).any():
            j = int(np.argmin(candidates))
            baseline[i], nearest[i] = float(candidates[j]), str(names[j])
    return [SampleReconstruction(sample.ref.relative_path, sample.ref.pack, bool(folder.trained[i]),
                                 float(mrstft[i]), log_spectral_distance(audio[i], folder.rebuilt[i]),
                                 float(click[i]), float(sub[i]), baseline[i], nearest[i])
            for i, sample in enumerate(folder.pack.samples)]


def summarise(rows: list[SampleReconstruction]) -> dict:
    """Median and mean of each figure over some one-shots, and the ratio of the medians of
    MR-STFT and its baseline (what the targets in docs/training.md are stated in)."""
    summary: dict = {"count": len(rows), "trained": sum(r.trained for r in rows)}
    for name in ("mrstft", "lsd_db", "click_db", "sub_db", "baseline_mrstft"):
        values = [getattr(r, name) for r in rows if getattr(r, name) is not None]
        summary[name] = ({"median": float(np.median(values)), "mean": float(np.mean(values))}
                         if values else None)
    baseline = summary["baseline_mrstft"]
    summary["ratio"] = summary["mrstft"]["median"] / baseline["median"] if baseline else None
    return summary


def reconstruction_report(renderer: ReferenceRenderer, data_roots: list[Path]) -> dict:
    folders = [encode_folder(renderer, root) for root in data_roots]
    pool = [(folder.pack.audio[i], sample.ref.relative_path) for folder in folders
            for i, sample in enumerate(folder.pack.samples) if folder.trained[i]]
    pool_audio = np.stack([audio for audio, _ in pool]) if pool else np.zeros((0, renderer.bundle.length))
    distance, rate = SpectralDistance(), renderer.bundle.sample_rate
    report = {"folders": [], "samples": []}
    all_rows = []
    for folder in folders:
        rows = reconstruction_rows(folder, pool_audio, [name for _, name in pool], distance, rate)
        packs = {pack: summarise([r for r in rows if r.pack == pack]) for pack in folder.pack.packs}
        report["folders"].append({"data": str(folder.root), "summary": summarise(rows), "packs": packs})
        report["samples"] += [{"data": str(folder.root), **asdict(r)} for r in rows]
        all_rows += rows
    report["trained"] = summarise([r for r in all_rows if r.trained]) if any(r.trained for r in all_rows) else None
    report["unseen"] = summarise([r for r in all_rows if not r.trained]) if not all(r.trained for r in all_rows) else None
    trained = [(f.pack.audio[f.trained], f.rebuilt[f.trained]) for f in folders if f.trained.any()]
    if trained:
        trained_rows = [r for r in all_rows if r.trained]  # same order as the concatenation below
        measured = None if len(trained_rows) < 2 else (np.array([r.mrstft for r in trained_rows]),
                                                       np.array([r.baseline_mrstft for r in trained_rows]))
        quality = check_reconstructions(np.concatenate([a for a, _ in trained]),
                                        np.concatenate([r for _, r in trained]), rate, distance, measured)
        report["quality"] = quality.to_dict() | {"summary": quality.summary()}
    return report


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


def control_sweeps(renderer: ReferenceRenderer, sample_indices: list[int],
                   detail: float = 0.0) -> dict[str, list[ControlSweep]]:
    """Each control swept over its range on each sample. With ``detail`` the one-shots are the
    plugin's (the C++ engine) with the sample's own residual added, as its Detail parameter does."""
    if detail:
        from latentplay import _engine

        engine = _engine.Engine(str(renderer.bundle.path))

        def regenerate(index: int, controls: dict) -> np.ndarray:
            return engine.regenerate(index, controls, 0.0, detail)
    else:
        regenerate = renderer.regenerate
    sweeps = {}
    for name in CONTROL_NAMES:
        asked = sweep_values(renderer, name)
        sweeps[name] = [
            ControlSweep(renderer.bundle.samples[index].path, asked.tolist(),
                         [measure_control(renderer, name, regenerate(index, {name: value})) for value in asked])
            for index in sample_indices]
    return sweeps


def control_accuracy(sweeps: list[ControlSweep]) -> dict:
    asked = np.concatenate([s.asked for s in sweeps])
    measured = np.concatenate([s.measured for s in sweeps])
    rho = spearmanr(asked, measured).statistic
    return {"spearman_rho": float(rho) if np.isfinite(rho) else 0.0,
            "median_abs_error": float(np.median(np.abs(measured - asked)))}


def range_check(renderer: ReferenceRenderer) -> dict[str, dict]:
    """Each feature control's range against its physical bounds (PCs have none)."""
    duration_ms = 1000.0 * renderer.bundle.length / renderer.bundle.sample_rate
    checks = {}
    for control in renderer.bundle.controls:
        if control.name in FEATURE_NAMES:
            low, high = physical_bounds(control.name, duration_ms)
            checks[control.name] = {"range": [control.minimum, control.maximum], "bounds": [low, high],
                                    "within": bool(low <= control.minimum and control.maximum <= high)}
    return checks


def evaluate_bundle(bundle_path: Path, data_roots: list[Path] | Path, sweep_samples: int = SWEEP_SAMPLES,
                    detail: float = 0.0) -> dict:
    renderer = ReferenceRenderer(bundle_path)
    data_roots = [data_roots] if isinstance(data_roots, (str, Path)) else list(data_roots)
    reconstruction = reconstruction_report(renderer, data_roots)
    sweeps = control_sweeps(renderer, sweep_sample_indices(len(renderer.bundle.samples), sweep_samples), detail)
    ranges = range_check(renderer)
    controls = {}
    for control in renderer.bundle.controls:
        controls[control.name] = {"unit": control.unit, "range": [control.minimum, control.maximum],
                                  **control_accuracy(sweeps[control.name]),
                                  **({"bounds": ranges[control.name]["bounds"],
                                      "within_bounds": ranges[control.name]["within"]}
                                     if control.name in ranges else {})}
    return {
        "bundle": str(bundle_path), "model_id": renderer.bundle.model_id,
        "data": [str(root) for root in data_roots],
        "reconstruction": reconstruction,
        "controls": controls,
        "sweeps_over": "the bundle's own samples",
        "sweeps_detail": detail,
        "sweeps": {name: [asdict(s) for s in rows] for name, rows in sweeps.items()},
    }


def _figure(summary: dict | None, name: str, statistic: str = "median", digits: int = 3) -> str:
    value = summary.get(name) if summary else None
    return "—" if value is None else f"{value[statistic]:.{digits}f}"


def print_report(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 140)  # logs get the whole table
    reconstruction = report["reconstruction"]
    table = Table(title="Reconstruction: encode + decode (median per pack; baseline: nearest other training one-shot)")
    for column in ("data / pack", "trained/n", "MR-STFT", "mean", "baseline", "ratio", "LSD dB",
                   "click dB", "sub dB"):
        table.add_column(column, justify="left" if column == "data / pack" else "right")

    def add_row(label: str, summary: dict, style: str | None = None) -> None:
        ratio = "—" if summary["ratio"] is None else f"{summary['ratio']:.2f}"
        table.add_row(label, f"{summary['trained']}/{summary['count']}", _figure(summary, "mrstft"), _figure(summary, "mrstft", "mean"),
                      _figure(summary, "baseline_mrstft"), ratio, _figure(summary, "lsd_db", digits=1),
                      _figure(summary, "click_db", digits=1), _figure(summary, "sub_db", digits=1), style=style)

    for folder in reconstruction["folders"]:
        for pack, summary in folder["packs"].items():
            add_row(f"  {pack}", summary)
        add_row(folder["data"], folder["summary"], style="bold")
    for split in ("trained", "unseen"):
        if reconstruction.get(split):
            add_row(f"all {split}", reconstruction[split], style="bold")
    console.print(table)
    if "quality" in reconstruction:
        console.print(reconstruction["quality"]["summary"])
    detail = f", Detail {report['sweeps_detail']:g}" if report.get("sweeps_detail") else ""
    table = Table(title=f"Controls: range, and sweeps across it over {report['sweeps_over']}{detail}")
    for column in ("control", "range", "physical bounds", "Spearman ρ", "median |error|"):
        table.add_column(column, justify="left" if column == "control" else "right")
    for name, row in report["controls"].items():
        unit = f" {row['unit']}" if row["unit"] else ""
        bounds = (f"{row['bounds'][0]:g}..{row['bounds'][1]:g}{unit} " + ("ok" if row["within_bounds"] else "OUTSIDE")
                  if "bounds" in row else "—")
        table.add_row(name, f"{row['range'][0]:.1f}..{row['range'][1]:.1f}{unit}", bounds,
                      f"{row['spearman_rho']:.3f}", f"{row['median_abs_error']:.3g}{unit}")
    console.print(table)


# The real-kick benchmark's targets (docs/training.md): (what, threshold, how the figure meets it).
RHO_TARGETS = {"pc1": 0.9, "pc2": 0.9, "frequency": 0.9, "attack": 0.8, "release": 0.8}
MAX_PAIRWISE_CORRELATION = 0.3
MIN_MEDIAN_PEAK = 0.5
MAX_TRAINED_RATIO = 0.7
MAX_UNSEEN_RATIO = 1.2
MAX_CLICK_SUB_LOSS_DB = 3.0


def target_checks(report: dict) -> list[tuple[str, str, bool]]:
    """(target, measured figure, met?) for every target the report has figures for."""
    reconstruction = report["reconstruction"]
    checks = []
    quality, trained, unseen = (reconstruction.get(key) for key in ("quality", "trained", "unseen"))
    if quality:
        checks.append((f"outputs differ: mean pairwise correlation <= {MAX_PAIRWISE_CORRELATION}",
                       f"{quality['correlation']:.2f}", quality["correlation"] <= MAX_PAIRWISE_CORRELATION))
        checks.append((f"outputs not quiet: median peak >= {MIN_MEDIAN_PEAK}", f"{quality['peak_median']:.2f}",
                       quality["peak_median"] >= MIN_MEDIAN_PEAK))
    if trained and trained["ratio"] is not None:
        checks.append((f"trained one-shots: MR-STFT <= {MAX_TRAINED_RATIO} x nearest other",
                       f"{trained['ratio']:.2f}", trained["ratio"] <= MAX_TRAINED_RATIO))
        for name in ("click_db", "sub_db"):
            value = trained[name]["median"]
            checks.append((f"trained one-shots: {name[:-3]} within {MAX_CLICK_SUB_LOSS_DB:g} dB (median)",
                           f"{value:+.1f} dB", abs(value) <= MAX_CLICK_SUB_LOSS_DB))
    if unseen and unseen["ratio"] is not None:
        checks.append((f"unseen one-shots: MR-STFT <= {MAX_UNSEEN_RATIO} x nearest training",
                       f"{unseen['ratio']:.2f}", unseen["ratio"] <= MAX_UNSEEN_RATIO))
    for name, threshold in RHO_TARGETS.items():
        row = report["controls"][name]
        checks.append((f"{name} sweep: Spearman rho >= {threshold}", f"{row['spearman_rho']:.2f}",
                       row["spearman_rho"] >= threshold))
    outside = [name for name, row in report["controls"].items() if row.get("within_bounds") is False]
    checks.append(("control ranges within physical bounds", ", ".join(outside) or "all within", not outside))
    return checks


def print_targets(report: dict) -> None:
    checks = target_checks(report)
    print(f"Targets: {sum(met for _, _, met in checks)} of {len(checks)} met")
    for target, figure, met in checks:
        print(f"  [{'met' if met else 'MISSED'}] {target}: {figure}")


def write_report(report: dict, path: Path) -> None:
    Path(path).write_text(json.dumps(report, indent=1) + "\n")
