"""``latentplay train``: a pack tree + a config -> a run folder.

RUN/
  config.yaml        the exact, resolved config of this run
  data.txt           what was loaded and what was skipped (and why)
  features.json      per one-shot features and their normalisation (mean/std)
  checkpoints/       best-*.ckpt (lowest val/mrstft: plain reconstruction, unaugmented) and last.ckpt
  examples/          original vs reconstructed WAVs + spectrograms, every N epochs
  wandb/ or csv/     the logger's files (wandb offline unless an API key is configured)
  metrics.csv        every epoch's metrics (whatever the logger), and loss-curve.png
  run.json           summary: sample count, parameter count, epochs, time, why it stopped, final/best
                     losses, the ranks' agreement (replicas) and the quality check
                     (latentplay.quality) of the best checkpoint

Under DDP only global rank 0 writes these (and prints).
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.utilities import rank_zero_only

from latentplay.dataset import LoadedPack, load_pack_tree
from latentplay.features import FEATURE_NAMES, measure_all
from latentplay.model import parameter_count
from latentplay.training.config import TrainConfig
from latentplay.quality import ReconstructionQuality, check_reconstructions
from latentplay.training.lightning import (MONITOR, AudioExamplesCallback, LatentPlayModule, ReplicaCheck,
                                           make_data_module)
from latentplay.training.progress import TimeBudget, progress_callbacks, quiet_lightning_stop_lines, stop_reason

LOGGERS = ("wandb", "csv", "none")
WANDB_PROJECT = "latentplay"


def normalisation(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = features.mean(axis=0)
    std = features.std(axis=0)
    return mean, np.where(std > 1e-8, std, 1.0)  # a constant feature must not divide by zero


def run_training(data_root: Path, config: TrainConfig, run_dir: Path, logger_kind: str = "wandb",
                 resume: str | None = None) -> dict:
    """Trains; returns the run's summary (the one written to run.json).

    Under DDP every rank runs this function (Lightning's launcher starts the others with the same
    command line; torchrun and SLURM start them all): every rank loads the pack and builds the
    same model, but only global rank 0 writes run files and prints. Each rank trains on its share
    of the one-shots (Lightning's DistributedSampler) with its own augmentation draws; the logged
    epoch metrics, which checkpoints and early stopping watch, are averaged across ranks."""
    checkpoint = resolve_resume(resume, run_dir)  # before anything is written
    L.seed_everything(config.training.seed, workers=True, verbose=False)
    quiet_lightning_stop_lines()  # stop_reason says why, once
    pack = load_pack_tree(data_root, config.data.prep(),
                          progress=config.training.progress_bar and rank_zero_only.rank == 0)
    features = measure_all(pack.audio, pack.config.sample_rate)
    mean, std = normalisation(features)

    data = make_data_module(pack.audio, features, mean, std, config)
    module = LatentPlayModule(config.to_dict(), mean.tolist(), std.tolist())
    checkpoints = ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="best-{epoch:04d}",
                                  monitor=MONITOR, mode="min", save_top_k=1, save_last=True,
                                  auto_insert_metric_name=False)  # last.ckpt after every epoch
    examples = torch.from_numpy(pack.audio[example_indices([s.ref.pack for s in pack.samples],
                                                           config.training.audio_examples)]).unsqueeze(1)
    replicas = ReplicaCheck()
    callbacks = [
        checkpoints,
        EarlyStopping(monitor=MONITOR, mode="min", patience=config.training.patience),
        AudioExamplesCallback(examples, config.training.audio_every_n_epochs, run_dir / "examples",
                              config.data.sr),
        *progress_callbacks(run_dir, MONITOR),
        replicas,
        *([TimeBudget(config.training.max_minutes)] if config.training.max_minutes else []),
    ]
    trainer = L.Trainer(**trainer_arguments(config, run_dir, logger_kind), callbacks=callbacks,
                        plugins=[AtomicCheckpointIO()])
    if trainer.is_global_zero:  # the rank is known once the Trainer has read the cluster environment
        run_dir.mkdir(parents=True, exist_ok=True)
        config.save(run_dir / "config.yaml")
        (run_dir / "data.txt").write_text(pack.summary() + "\n")
        print(pack.summary())
        write_features(run_dir / "features.json", pack, features, mean, std)
    started = time.monotonic()
    trainer.fit(module, datamodule=data, ckpt_path=checkpoint)
    seconds = time.monotonic() - started
    reason = stop_reason(trainer)
    summary = {
        "data_root": str(data_root),
        "num_samples": len(pack.samples),
        "num_skipped": len(pack.skipped),
        "latent_dim": module.model.latent_dim,
        "parameters": parameter_count(module.model),
        "epochs": trainer.current_epoch,
        "seconds": round(seconds, 1),
        "stop_reason": reason,
        "monitor": MONITOR,
        "monitored_on": "held-out one-shots" if data.has_validation else "training one-shots, unaugmented",
        "best_checkpoint": checkpoints.best_model_path,
        "best_score": _to_float(checkpoints.best_model_score),
        "final_metrics": {key: _to_float(value) for key, value in trainer.callback_metrics.items()},
        "replicas": replicas.result,
    }
    if trainer.is_global_zero:
        print(f"Stopped after {trainer.current_epoch} epochs ({seconds / 60:.1f} min): {reason}")
        if replicas.result and not replicas.result["weights_agree"]:
            print(f"WARNING: the {trainer.world_size} ranks ended with different weights (run.json, replicas)")
        quality = best_model_quality(checkpoints.best_model_path, pack)
        summary["quality"] = quality.to_dict()
        print(quality.summary())
        if not quality.ok:
            print("WARNING: this model does not reproduce its training one-shots; `latentplay export` "
                  "refuses it unless --force. See docs/training.md.")
        (run_dir / "run.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def example_indices(packs: list[str], count: int) -> list[int]:
    """Up to ``count`` one-shots to listen to, from as many packs as possible (round-robin over
    packs spread across the pack list), and spread within each pack: the first one-shots of a
    folder are often velocity layers of one drum."""
    members: dict[str, list[int]] = {}
    for index, pack in enumerate(packs):
        members.setdefault(pack, []).append(index)
    names = list(members)
    if len(names) > count:
        names = [names[i] for i in np.linspace(0, len(names) - 1, count).round().astype(int)]
    chosen: list[int] = []
    for round_index in range(count):
        for name in names:
            indices = members[name]
            if round_index < len(indices) and len(chosen) < count:
                # spread: 0, 1/2, 1/4, 3/4... of the pack's list
                chosen.append(indices[spread_position(round_index, len(indices))])
    return sorted(set(chosen))


def spread_position(k: int, length: int) -> int:
    """The k-th of a sequence of positions that spreads evenly over ``length`` (van der Corput)."""
    fraction, base, n = 0.0, 0.5, k
    while n:
        fraction += base * (n & 1)
        n >>= 1
        base /= 2
    return min(int(fraction * length), length - 1)


def best_model_quality(checkpoint: str, pack: LoadedPack) -> ReconstructionQuality:
    """The collapse check on the best checkpoint's reconstructions of every loaded one-shot."""
    module = LatentPlayModule.load_from_checkpoint(checkpoint, map_location="cpu").eval()
    with torch.inference_mode():
        rebuilt = np.concatenate([module.model(torch.from_numpy(pack.audio[i:i + 32]).unsqueeze(1))[0][:, 0].numpy()
                                  for i in range(0, len(pack.audio), 32)])
    return check_reconstructions(pack.audio, rebuilt, pack.config.sample_rate)


def trainer_arguments(config: TrainConfig, run_dir: Path, logger_kind: str) -> dict:
    """The Trainer's settings; the time budget is a callback (progress.TimeBudget), not max_time."""
    settings = config.training
    if uses_cuda(settings.accelerator):
        torch.set_float32_matmul_precision("high")  # TF32 matmuls and convolutions on Ampere and later
    return dict(
        default_root_dir=run_dir,
        max_epochs=settings.max_epochs,
        min_epochs=settings.min_epochs,
        accelerator=settings.accelerator,
        devices=settings.devices,
        num_nodes=settings.num_nodes,
        strategy=settings.strategy,
        precision=resolve_precision(settings.precision, settings.accelerator),
        logger=make_logger(logger_kind, run_dir),
        deterministic="warn",  # some CUDA kernels (transposed-conv backward) have no deterministic twin
        enable_progress_bar=settings.progress_bar and sys.stdout.isatty(),
        log_every_n_steps=1,
        num_sanity_val_steps=0,
    )


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written whole or not at all: to a temporary file beside the target, then
    renamed over it. A run killed while saving keeps its previous last.ckpt (Lightning's own
    transaction writes to the system's temporary folder, and its final move is a copy, not a
    rename, when that is another file system)."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        try:
            torch.save(checkpoint, partial)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)


def uses_cuda(accelerator: str) -> bool:
    return accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()


def resolve_precision(precision: str, accelerator: str) -> str:
    """auto: bf16 autocast on GPUs that support it (no loss scaling needed), else fp16 autocast
    with Lightning's gradient scaler; 32-true on the CPU."""
    if precision != "auto":
        return precision
    if not uses_cuda(accelerator):
        return "32-true"
    return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"


def make_logger(kind: str, run_dir: Path):
    if kind == "none":
        return False
    if kind == "csv":
        from lightning.pytorch.loggers import CSVLogger

        return CSVLogger(save_dir=run_dir, name="csv")
    if kind == "wandb":
        from lightning.pytorch.loggers import WandbLogger

        # Offline unless the user configured wandb (API key or an explicit WANDB_MODE).
        configured = bool(os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE"))
        return WandbLogger(project=WANDB_PROJECT, name=run_dir.name, save_dir=str(run_dir),
                           offline=not configured)
    raise ValueError(f"unknown logger {kind!r}; expected one of {LOGGERS}")


def resolve_resume(resume: str | None, run_dir: Path) -> str | None:
    """``last`` resumes this run's last checkpoint; anything else is a checkpoint path."""
    if resume is None:
        return None
    path = run_dir / "checkpoints" / "last.ckpt" if resume == "last" else Path(resume)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint to resume from")
    return str(path)


def write_features(path: Path, pack: LoadedPack, features: np.ndarray, mean: np.ndarray, std: np.ndarray) -> None:
    payload = {
        "names": list(FEATURE_NAMES),
        "mean": mean.tolist(),
        "std": std.tolist(),
        "samples": [{"path": sample.ref.relative_path, "pack": sample.ref.pack,
                     "subpack": sample.ref.subpack, "source": asdict(sample.source),
                     **dict(zip(FEATURE_NAMES, row.tolist()))}
                    for sample, row in zip(pack.samples, features)],
    }
    path.write_text(json.dumps(payload, indent=1) + "\n")


def _to_float(value) -> float | None:
    return None if value is None else float(value)
