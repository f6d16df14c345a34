"""Training on several processes (DDP) is correct: a real 2-process run on the CPU (gloo), and the
pieces it relies on: per-rank augmentation draws, a validation that ignores the random state,
checkpoints written whole."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import numpy as np
import pytest
import torch

from latentplay.synth import write_pack
from latentplay.training.config import load_config
from latentplay.training.lightning import LatentPlayModule, OneShotDataModule, weights_digest
from latentplay.training.train import AtomicCheckpointIO

DDP_EPOCHS = 2


@pytest.fixture(scope="module")
def kick_pack(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    write_pack(out, n=16, seed=3)
    return out


def test_two_process_ddp_training_on_the_cpu(kick_pack, tmp_path):
    """`latentplay train --accelerator cpu --devices 2 --strategy ddp`: Lightning starts a second
    process with the same command line. Both ranks train on half of the training one-shots each
    (the DistributedSampler's split: 12 training one-shots, 6 per rank per epoch), end with the
    same weights (the digest gathered from both equals last.ckpt's), and one set of run files is
    written and announced, by rank 0 only."""
    run = tmp_path / "run"
    command = [sys.executable, "-m", "latentplay.cli", "train", str(kick_pack), "--config", "smoke",
               "--out", str(run), "--logger", "csv", "--accelerator", "cpu", "--devices", "2",
               "--strategy", "ddp", "--max-epochs", str(DDP_EPOCHS),
               "--set", "training.progress_bar=false", "--set", "training.audio_every_n_epochs=1000",
               "--set", "data.pitch_shift_semitones=12"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_SILENT": "true"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment,
                            cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]

    summary = json.loads((run / "run.json").read_text())
    replicas = summary["replicas"]
    assert replicas["world_size"] == 2
    assert replicas["samples_per_rank"] == [DDP_EPOCHS * 6, DDP_EPOCHS * 6]  # one process alone: 12 per epoch
    assert replicas["weights_agree"]
    last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert weights_digest(last["state_dict"]) == replicas["weights_sha256"]
    assert summary["epochs"] == DDP_EPOCHS and summary["stop_reason"] == f"max_epochs reached ({DDP_EPOCHS})"

    # One set of run files, written and announced once: rank 1 ran the same command line.
    for line in ("Loaded 16 one-shots", "Stopped after", "Run written to", "MR-STFT median", "Initializing distributed"):
        assert output.count(line) == (2 if line == "Initializing distributed" else 1), (line, output[-4000:])
    assert [path.name for path in (run / "csv").iterdir()] == ["version_0"]
    assert len(list((run / "checkpoints").glob("*.ckpt"))) == 2  # best-*.ckpt and last.ckpt
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [int(row["epoch"]) for row in rows] == list(range(DDP_EPOCHS))
    assert not list(run.rglob(".*.partial"))


def test_every_rank_draws_its_own_pitch_shifts():
    """The training set's shifts are seeded by (seed, global rank): ranks differ, reruns repeat."""
    rng = np.random.default_rng(0)
    audio = rng.standard_normal((4, 6615)).astype(np.float32) * np.linspace(1, 0, 6615, dtype=np.float32)
    features = rng.standard_normal((4, 3)) + 50
    config = load_config("smoke", ["data.pitch_shift_semitones=12", "data.pitch_shift_probability=1.0"])

    def fetched(rank: int) -> torch.Tensor:
        data = OneShotDataModule(audio, features, features.mean(axis=0), features.std(axis=0), config)
        data.trainer = SimpleNamespace(global_rank=rank)
        data.setup("fit")
        return torch.stack([data.train_set[0][0] for _ in range(3)])

    assert torch.equal(fetched(0), fetched(0)) and torch.equal(fetched(1), fetched(1))
    assert not torch.equal(fetched(0), fetched(1))


def test_validation_ignores_the_random_state(kick_pack):
    """val/loss and val/mrstft (what checkpoints and early stopping watch) are the same whatever
    torch's generator holds: validation neither shifts pitch nor draws steering moves."""
    from latentplay.dataset import load_pack_tree
    from latentplay.features import measure_all
    from latentplay.training.train import normalisation

    config = load_config("smoke", ["data.pitch_shift_semitones=12", "loss.steering=10"])
    pack = load_pack_tree(kick_pack, config.data.prep())
    features = measure_all(pack.audio, pack.config.sample_rate)
    mean, std = normalisation(features)
    torch.manual_seed(0)
    module = LatentPlayModule(config.to_dict(), mean.tolist(), std.tolist())
    data = OneShotDataModule(pack.audio, features, mean, std, config)
    results = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                            enable_progress_bar=False, enable_model_summary=False)
        results.append(trainer.validate(module, datamodule=data, verbose=False)[0])
    assert results[0].keys() >= {"val/loss", "val/mrstft", "val/steering"}
    assert results[0] == results[1]


def test_a_checkpoint_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    """A save that dies half-way (a kill, a full disk) leaves the previous last.ckpt as it was."""
    io = AtomicCheckpointIO()
    path = tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"epoch": 1}, path)
    before = path.read_bytes()

    def dies_half_way(checkpoint, target):
        Path(target).write_bytes(b"PK\x03\x04 truncated")
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(OSError):
        io.save_checkpoint({"epoch": 2}, path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no partial file left behind
