"""``latentplay bench``: how fast is one regeneration (project + decode + resample to 48 kHz)?

For each bundle — by default freshly made, untrained bundles of the demo and the seed
configurations (timing does not depend on the weights), plus any --bundle given — and for 1 and
2 intra-op threads, side by side in the same run:
  C++ engine          latentplay._engine.Engine.regenerate (what the plugin runs)
  Python TorchScript  numpy projector + torch.jit decoder.ts + python-soxr
  Python eager        numpy projector + the nn.Module decoder (weights from decoder.ts) + python-soxr
Each figure is the median (and the 10th–90th percentile spread) over --runs runs after warm-up,
and a ratio to the FLOP bound: 2 × decoder MACs / the machine's single-thread GEMM rate,
measured in the same run (torch.mm, float32).

Then, per bundle, the worker's throughput: distinct one-shots per second on 1 intra-op thread
(as the plugin's worker runs), detail 0.5, at 48 kHz:
  24 neural keys   what Pitch Mode Neural renders for 24 keys (two octaves around the root):
                   Engine.repitch per key (its search: PITCH_CANDIDATES decodes and their measurements),
                   from one shared root one-shot (Engine.root_shot, counted), then resampled;
  24 key decodes   one regeneration per key with the Frequency control at the key's pitch
                   (clamped to its range): the decodes a batched search would share;
  8 variations     the ring of varied one-shots;
the decodes one regenerate call each, against regenerate_batch (all in one decoder call, or in
batches of 8), with the ratio batched / one at a time and each one-shot's time as a multiple of
the FLOP bound. The cases are timed in turn within each of --worker-runs runs (medians), so that
a change in the machine's load hits them alike.

The bench is runtime code: it never imports latentplay.training, latentplay.export, Lightning,
wandb or auraloss. The untrained bundles are written by a child process
(``python -m latentplay.export.untrained``), which does.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import soxr
import torch

from latentplay.bundle import Bundle, load_bundle
from latentplay.model import Decoder, ModelConfig, decoder_macs
from latentplay.render import ReferenceRenderer

HOST_RATE = 48000
GEMM_SIZE = 1024


@dataclass
class Timing:
    bundle: str
    threads: int
    implementation: str
    median_ms: float
    p10_ms: float
    p90_ms: float


def time_calls(call: Callable[[], object], runs: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(1000 * (time.perf_counter() - started))
    return samples


def single_thread_gemm_gflops(repeats: int = 20) -> float:
    """Best-of float32 GEMM rate on one thread (the FLOP bound's denominator)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    a, b = torch.randn(GEMM_SIZE, GEMM_SIZE), torch.randn(GEMM_SIZE, GEMM_SIZE)
    torch.mm(a, b)
    best = min(time_calls(lambda: torch.mm(a, b), runs=repeats, warmup=1)) / 1000
    torch.set_num_threads(previous)
    return 2 * GEMM_SIZE**3 / best / 1e9


def make_untrained_bundle(config_name: str, folder: Path) -> Path:
    """A verified bundle of an untrained model of this config, over a small procedural pack.
    Written by a child process: writing a bundle takes the exporter and the Lightning module,
    which this process never imports."""
    out = folder / f"{config_name}-untrained.latentplay"
    run = subprocess.run([sys.executable, "-m", "latentplay.export.untrained", config_name, str(folder / "data"),
                          str(out)], capture_output=True, text=True)
    if run.returncode != 0:
        lines = run.stderr.strip().splitlines()
        raise ValueError(f"cannot make an untrained {config_name!r} bundle: "
                         f"{lines[-1] if lines else f'exit status {run.returncode}'}")
    return out


def model_config(bundle: Bundle) -> ModelConfig:
    """The model section of the training config the bundle records."""
    return ModelConfig(**bundle.sidecar["training"]["config"]["model"])


def conv_weights_from_gemm(state: dict, name: str, layer: torch.nn.Module) -> None:
    """Turn the exported GEMM layouts of layer ``name`` in ``state`` back into torch's layouts
    (the layouts of GemmConv1d and GemmConvTranspose1d in export/exporter.py)."""
    if isinstance(layer, torch.nn.ConvTranspose1d) and f"{name}.weight" in state and state[f"{name}.weight"].dim() == 2:
        weight = state[f"{name}.weight"].reshape(layer.kernel_size[0], layer.out_channels, layer.in_channels)
        state[f"{name}.weight"] = weight.permute(2, 1, 0).contiguous()
        state[f"{name}.bias"] = state[f"{name}.bias"].reshape(-1)
    elif isinstance(layer, torch.nn.Conv1d) and f"{name}.taps" in state:
        state[f"{name}.weight"] = state.pop(f"{name}.taps").permute(1, 2, 0).contiguous()
        state[f"{name}.bias"] = state[f"{name}.bias"].reshape(-1)


def eager_decoder(renderer: ReferenceRenderer) -> torch.nn.Module:
    """The nn.Module decoder of the bundle's config, with the weights of its decoder.ts."""
    decoder = Decoder(model_config(renderer.bundle), renderer.bundle.length)
    state = {key.removeprefix("decoder."): value for key, value in renderer.decoder.state_dict().items()}
    for name, layer in decoder.named_modules():
        conv_weights_from_gemm(state, name, layer)  # exported layouts back to torch's
    decoder.load_state_dict(state)
    return decoder.eval()


def bench_bundle(path: Path, threads: int, runs: int) -> list[Timing]:
    from latentplay import _engine

    torch.set_num_threads(threads)
    _engine.set_intra_op_threads(threads)  # the same libtorch pool as torch's: set both anyway
    engine = _engine.Engine(str(path))
    renderer = ReferenceRenderer(path)
    eager = eager_decoder(renderer)
    frequency = renderer.bundle.controls[2]
    controls = {"frequency": (frequency.minimum + frequency.maximum) / 2}
    latent = renderer.bundle.samples[0].latent

    def python_regeneration(decode: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[], np.ndarray]:
        def call() -> np.ndarray:
            moved = renderer.move(latent, controls)
            with torch.inference_mode():
                audio = decode(torch.as_tensor(moved, dtype=torch.float32)[None])[0].numpy()
            return soxr.resample(audio.reshape(-1), renderer.bundle.sample_rate, HOST_RATE, quality="HQ")
        return call

    implementations = {
        "C++ engine": lambda: engine.regenerate(0, controls, HOST_RATE),
        "Python TorchScript": python_regeneration(renderer.decoder),
        "Python eager": python_regeneration(eager),
    }
    timings = []
    for name, call in implementations.items():
        samples = time_calls(call, runs)
        p10, p90 = np.percentile(samples, [10, 90])
        timings.append(Timing(path.name, threads, name, statistics.median(samples), float(p10), float(p90)))
    return timings


WORKER_KEYS = 24
WORKER_VARIATIONS = 8
WORKER_DETAIL = 0.5
WORKER_VARIATION = 0.5
NEURAL_SEARCH = 0  # Throughput.batch of the Neural keys' row: a search per key, not a batch size


@dataclass
class Throughput:
    bundle: str
    workload: str
    batch: int  # one-shots per decoder call (1 = one regenerate call each)
    per_second: float  # distinct one-shots per second (median over the runs)
    ms_per_one_shot: float


def worker_throughput(path: Path, runs: int) -> list[Throughput]:
    """One-shots per second of the plugin worker's two jobs, one at a time and batched."""
    from latentplay import _engine

    torch.set_num_threads(1)
    _engine.set_intra_op_threads(1)  # the plugin's worker
    engine = _engine.Engine(str(path))
    start = engine.sample_start(0)
    low, high = next(c["range"] for c in engine.controls if c["name"] == "frequency")
    own = engine.own_controls(start.latent)["frequency"]
    keys = [{"frequency": float(np.clip(own * 2 ** ((key - WORKER_KEYS // 2) / 12), low, high))}
            for key in range(WORKER_KEYS)]
    variations = [(WORKER_VARIATION, seed) for seed in range(1, WORKER_VARIATIONS + 1)]

    def one_at_a_time(controls: list[dict], varied: list[tuple[float, int]]) -> Callable[[], object]:
        return lambda: [engine.regenerate(start, c, HOST_RATE, WORKER_DETAIL, amount, seed)
                        for c, (amount, seed) in zip(controls, varied)]

    def batched(controls: list[dict], varied: list[tuple[float, int]], size: int) -> Callable[[], object]:
        return lambda: [engine.regenerate_batch(start, controls[i:i + size], HOST_RATE, WORKER_DETAIL,
                                                varied[i:i + size]) for i in range(0, len(controls), size)]

    root_controls = engine.own_controls(start.latent)
    semitones = [key - WORKER_KEYS // 2 for key in range(WORKER_KEYS)]

    def neural_keys() -> list[np.ndarray]:
        """As the worker renders Neural keys: one root per control state, then each key's search."""
        root = engine.root_shot(start, root_controls, WORKER_DETAIL)
        shots = []
        for interval in semitones:
            key = engine.repitch(start, root_controls, interval, WORKER_DETAIL, root=root)
            shots.append(_engine.resample(key["audio"], engine.sample_rate * key["speed"], HOST_RATE))
        return shots

    unvaried = [(0.0, 0)] * WORKER_KEYS
    cases = [("24 key decodes", keys, unvaried, 1), ("24 key decodes", keys, unvaried, WORKER_KEYS),
             ("24 key decodes", keys, unvaried, 8),
             ("8 variations", [{}] * WORKER_VARIATIONS, variations, 1),
             ("8 variations", [{}] * WORKER_VARIATIONS, variations, WORKER_VARIATIONS)]
    calls = [one_at_a_time(controls, varied) if size == 1 else batched(controls, varied, size)
             for _, controls, varied, size in cases]
    cases.append(("24 neural keys", keys, unvaried, NEURAL_SEARCH))
    calls.append(neural_keys)
    samples: list[list[float]] = [[] for _ in cases]
    for call in calls:  # warm-up, each batch size included
        time_calls(call, runs=0, warmup=2)
    for _ in range(runs):  # the cases in turn, so that a change in the machine's load hits them alike
        for call, times in zip(calls, samples):
            times += time_calls(call, runs=1, warmup=0)
    results = []
    for (workload, controls, _, size), times in zip(cases, samples):
        seconds = statistics.median(times) / 1000
        results.append(Throughput(path.name, workload, size, len(controls) / seconds, 1000 * seconds / len(controls)))
    return results


def print_worker_throughput(rows: list[Throughput], bound_ms: float, single_ms: float | None) -> None:
    print(f"\nworker throughput, 1 thread (detail {WORKER_DETAIL}, variation {WORKER_VARIATION}, {HOST_RATE} Hz):")
    print(f"  {'workload':16s} {'decoder calls':>13}  {'one-shots/s':>11}  {'ms each':>7}  {'× bound':>7}  "
          f"{'vs one at a time':>16}")
    for row in rows:
        count = WORKER_KEYS if row.workload.startswith("24") else WORKER_VARIATIONS
        if row.batch == NEURAL_SEARCH:
            from latentplay._engine import PITCH_CANDIDATES

            calls, versus = f"1 + {count} × {PITCH_CANDIDATES}", ""
        else:
            baseline = next(r for r in rows if r.workload == row.workload and r.batch == 1)
            calls = f"{count} × 1" if row.batch == 1 else f"{-(-count // row.batch)} × {row.batch}"
            versus = f"{row.per_second / baseline.per_second:15.2f}×"
        print(f"  {row.workload:16s} {calls:>13}  {row.per_second:11.1f}  {row.ms_per_one_shot:7.2f}  "
              f"{row.ms_per_one_shot / bound_ms:7.2f}  {versus:>16}")
    if single_ms is not None:
        print(f"  single regeneration (C++ engine, 1 thread, above): {single_ms:.2f} ms = "
              f"{single_ms / bound_ms:.2f} × the FLOP bound")


def decoder_gmacs(path: Path) -> float:
    bundle = load_bundle(path)
    return decoder_macs(model_config(bundle), bundle.length) / 1e9


def run_bench(extra_bundles: list[Path], runs: int, threads: list[int], configs: list[str],
              worker_runs: int = 5) -> list[Timing]:
    with tempfile.TemporaryDirectory(prefix="latentplay-bench-") as folder:
        bundles = [make_untrained_bundle(name, Path(folder)) for name in configs] + list(extra_bundles)
        timings = []
        for path in bundles:
            # Measured right before the bundle's timings, not once for the run: this machine's speed
            # drifts by a quarter within minutes (68 against 88 GFLOP/s in two runs of one hour),
            # and a rate from a slow moment would flatter every ratio after it.
            gflops = single_thread_gemm_gflops()
            gmacs = decoder_gmacs(path)
            bound_ms = 2 * gmacs / gflops * 1000
            print(f"\n{path.name}: decoder {gmacs:.3f} GMAC per one-shot; single-thread float32 GEMM "
                  f"({GEMM_SIZE}²) {gflops:.1f} GFLOP/s, so a FLOP bound of {bound_ms:.1f} ms (1 thread)")
            print(f"{'threads':>7}  {'implementation':20s} {'median ms':>9}  {'p10–p90 ms':>13}  "
                  f"{'× bound':>7}  {'vs eager':>8}")
            for count in threads:
                rows = bench_bundle(path, count, runs)
                eager = next(row.median_ms for row in rows if row.implementation == "Python eager")
                for row in rows:
                    print(f"{count:>7}  {row.implementation:20s} {row.median_ms:9.2f}  "
                          f"{row.p10_ms:6.2f}–{row.p90_ms:6.2f}  {row.median_ms / bound_ms:7.2f}  "
                          f"{eager / row.median_ms:7.2f}×")
                timings += rows
            if worker_runs > 0:
                single = [row.median_ms for row in timings
                          if row.bundle == path.name and row.threads == 1 and row.implementation == "C++ engine"]
                print_worker_throughput(worker_throughput(path, worker_runs), bound_ms, single[0] if single else None)
    return timings
