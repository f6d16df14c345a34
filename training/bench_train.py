"""``latentplay bench-train``: training throughput of the data pipelines, measured in one run.

For each config (default: demo and seed) and device (the CPU; CUDA when available) it trains a
fresh model on a procedural kick pack (latentplay.synth, rendered in memory) for ``warmup`` +
``steps`` optimiser steps with each pipeline (``dataset``: the per-fetch SciPy augmentation on
the CPU, today's path; ``device``: the pack on the device, augmentation batched in torch), through
the same Lightning Trainer that ``latentplay train`` uses, and reports:

* one-shots per second over the timed steps (the first ``warmup`` steps are not timed),
* seconds per epoch: the pack size over that rate (training steps only, no validation),
* peak memory: CUDA, ``torch.cuda.max_memory_allocated``; CPU, the process' peak resident set
  size during the case (sampled every 5 ms from /proc; the model, the pack and Python included),
* achieved FLOP/s: the FLOPs of one training step (forward + backward + the steered decode, as
  counted by torch's FlopCounterMode: convolutions and matmuls, not the loss' FFTs) × steps per
  second, and its share of the device's matmul peak, measured in the same run (a square matmul in
  the training dtype),
* new/current: the device pipeline's one-shots per second over the dataset pipeline's.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import lightning as L
import numpy as np
import torch

from latentplay.audio import PrepConfig, prepare_one_shot
from latentplay.features import measure_all
from latentplay.synth import STYLES, render_kick, sample_params
from latentplay.training.config import load_config
from latentplay.training.lightning import LatentPlayModule, make_data_module
from latentplay.training.train import normalisation, resolve_precision

PIPELINES = ("dataset", "device")


@dataclass
class Case:
    config: str
    device: str
    pipeline: str
    one_shots_per_s: float
    seconds_per_epoch: float
    peak_memory_mb: float
    flops_per_step: float
    steps_per_s: float
    matmul_peak: float

    @property
    def flops_per_s(self) -> float:
        return self.flops_per_step * self.steps_per_s

    @property
    def peak_share(self) -> float:
        return self.flops_per_s / self.matmul_peak if self.matmul_peak else float("nan")


def procedural_pack(count: int, prep: PrepConfig, seed: int = 0) -> np.ndarray:
    """(count, length) prepared procedural kicks, styles round-robin (as synth-pack writes them)."""
    rng = np.random.default_rng(seed)
    styles = list(STYLES)
    return np.stack([prepare_one_shot(render_kick(sample_params(styles[i % len(styles)], rng), prep.sample_rate,
                                                  seed=seed * count + i), prep.sample_rate, prep)
                     for i in range(count)])


def available_devices() -> list[str]:
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def training_dtype(device: str, precision: str) -> torch.dtype:
    if device == "cpu" or precision.startswith("32"):
        return torch.float32
    return torch.bfloat16 if precision.startswith("bf16") else torch.float16


def matmul_peak(device: str, dtype: torch.dtype) -> float:
    """FLOP/s of the best of a few square matmuls (2 n³ FLOPs each) in ``dtype`` on ``device``."""
    size = 1024 if device == "cpu" else 8192
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(6 if device == "cpu" else 20):
        synchronize(device)
        started = time.perf_counter()
        a @ b
        synchronize(device)
        best = min(best, time.perf_counter() - started)
    return 2.0 * size ** 3 / best


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def step_flops(module: LatentPlayModule, audio: torch.Tensor, features: torch.Tensor) -> float:
    """FLOPs of one training step's forward and backward (LatentPlayModule._step without logging)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        reconstruction, latent, predicted = module.model(audio)
        steered = (module.steered_decode(latent, predicted, features)
                   if module.train_config.loss.steering > 0 else None)
        module.loss(reconstruction, audio, predicted, features, steered).total.backward()
    module.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


class RssPeak:
    """Peak resident set size of this process while in the ``with`` block (Linux /proc)."""

    def __enter__(self) -> "RssPeak":
        self.peak = self.read()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.read())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.read())

    @staticmethod
    def read() -> int:
        try:
            with open("/proc/self/statm") as statm:
                return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class StepTimer(L.Callback):
    """Times the steps after ``warmup``: from the end of step warmup-1 to the end of the last."""

    def __init__(self, warmup: int, device: str) -> None:
        self.warmup = warmup
        self.device = device
        self.started: float | None = None
        self.ended: float | None = None
        self.samples = 0
        self.steps = 0

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_index: int) -> None:
        step = trainer.global_step  # already counts this step
        if step == self.warmup:
            synchronize(self.device)
            self.started = time.perf_counter()
        elif step > self.warmup:
            self.samples += len(batch[0])
            self.steps += 1
            if step == trainer.max_steps:
                synchronize(self.device)
                self.ended = time.perf_counter()


def run_case(config_name: str, device: str, pipeline: str, audio: np.ndarray, steps: int, warmup: int,
             overrides: list[str], peak: float) -> Case:
    config = load_config(config_name, [*overrides, f"data.pipeline={pipeline}", "data.val_split=0",
                                       f"training.accelerator={'gpu' if device == 'cuda' else 'cpu'}",
                                       "training.devices=1", "training.progress_bar=false"])
    L.seed_everything(config.training.seed, verbose=False)
    features = measure_all(audio, config.data.sr)
    mean, std = normalisation(features)
    data = make_data_module(audio, features, mean, std, config)
    module = LatentPlayModule(config.to_dict(), mean.tolist(), std.tolist())
    batch_size = config.data.batch_size
    flops = step_flops(module, torch.from_numpy(audio[:batch_size]).unsqueeze(1),
                       torch.from_numpy(((features[:batch_size] - mean) / std).astype(np.float32)))
    precision = resolve_precision(config.training.precision, config.training.accelerator)
    if device == "cuda":
        torch.set_float32_matmul_precision("high")
        torch.cuda.reset_peak_memory_stats()
    timer = StepTimer(warmup, device)
    trainer = L.Trainer(accelerator=config.training.accelerator, devices=1, precision=precision,
                        max_steps=warmup + steps, max_epochs=-1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                        num_sanity_val_steps=0, callbacks=[timer])
    with RssPeak() as rss:
        trainer.fit(module, datamodule=data)
    seconds = (timer.ended or time.perf_counter()) - (timer.started or time.perf_counter())
    rate = timer.samples / seconds if seconds > 0 else float("nan")
    memory = torch.cuda.max_memory_allocated() if device == "cuda" else rss.peak
    return Case(config_name, device, pipeline, rate, len(audio) / rate, memory / 2 ** 20, flops,
                timer.steps / seconds if seconds > 0 else float("nan"), peak)


def format_table(cases: list[Case]) -> list[str]:
    header = (f"{'config':8s} {'device':6s} {'pipeline':9s} {'one-shots/s':>11s} {'s/epoch':>8s} "
              f"{'peak MB':>8s} {'GFLOP/step':>10s} {'GFLOP/s':>8s} {'of peak':>8s} {'new/current':>11s}")
    lines = [header, "-" * len(header)]
    baseline = {(c.config, c.device): c.one_shots_per_s for c in cases if c.pipeline == "dataset"}
    for c in cases:
        ratio = (f"{c.one_shots_per_s / baseline[(c.config, c.device)]:.2f}x"
                 if c.pipeline == "device" and (c.config, c.device) in baseline else "")
        lines.append(f"{c.config:8s} {c.device:6s} {c.pipeline:9s} {c.one_shots_per_s:11.1f} "
                     f"{c.seconds_per_epoch:8.3f} {c.peak_memory_mb:8.0f} {c.flops_per_step / 1e9:10.2f} "
                     f"{c.flops_per_s / 1e9:8.2f} {100 * c.peak_share:7.1f}% {ratio:>11s}")
    return lines


def run_bench_train(configs=("demo", "seed"), devices=None, steps: int = 20, warmup: int = 3,
                    pack_size: int = 64, pipelines=PIPELINES, overrides=(), threads: int | None = None,
                    out=print) -> list[Case]:
    if threads:
        torch.set_num_threads(threads)
    devices = list(devices or available_devices())
    cases: list[Case] = []
    peaks: dict[tuple[str, torch.dtype], float] = {}
    packs: dict[PrepConfig, np.ndarray] = {}
    import logging

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    out(f"bench-train: {steps} timed steps after {warmup} warm-up steps per case, procedural pack of "
        f"{pack_size} kicks; torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    for config_name in configs:
        config = load_config(config_name, list(overrides))
        prep = config.data.prep()
        if prep not in packs:
            packs[prep] = procedural_pack(pack_size, prep)
        for device in devices:
            precision = resolve_precision(config.training.precision, "gpu" if device == "cuda" else "cpu")
            dtype = training_dtype(device, precision)
            if (device, dtype) not in peaks:
                peaks[(device, dtype)] = matmul_peak(device, dtype)
                out(f"  {device} matmul peak ({str(dtype).removeprefix('torch.')}): "
                    f"{peaks[(device, dtype)] / 1e9:.1f} GFLOP/s")
            for pipeline in pipelines:
                case = run_case(config_name, device, pipeline, packs[prep], steps, warmup, list(overrides),
                                peaks[(device, dtype)])
                cases.append(case)
                out(f"  {config_name} {device} {pipeline}: {case.one_shots_per_s:.1f} one-shots/s "
                    f"(pitch shift ±{config.data.pitch_shift_semitones:g} st, p {config.data.pitch_shift_probability:g}, "
                    f"batch {config.data.batch_size}, workers {config.data.num_workers}, {precision})")
    out("")
    for line in format_table(cases):
        out(line)
    return cases
