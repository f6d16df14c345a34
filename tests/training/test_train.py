"""Training runs for real on the CPU: smoke run artefacts, resume, determinism, and (slow) the
demo config lowering its loss."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
import yaml

from latentplay.cli import main
from latentplay.synth import write_pack
from latentplay.training.config import load_config
from latentplay.training.lightning import LatentPlayModule
from latentplay.training.train import example_indices


@pytest.fixture(scope="module")
def kick_pack(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    write_pack(out, n=16, seed=3)
    return out


@pytest.fixture
def offline_wandb(monkeypatch):
    for name in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")


def train(data: Path, run: Path, *extra: str) -> None:
    assert main(["train", str(data), "--config", "smoke", "--out", str(run),
                 "--set", "training.progress_bar=false", *extra]) == 0


def test_smoke_run_writes_checkpoint_config_and_wandb_audio(kick_pack, tmp_path, offline_wandb):
    run = tmp_path / "run"
    train(kick_pack, run, "--logger", "wandb")

    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved == load_config("smoke", ["training.progress_bar=false"]).to_dict()

    best = list((run / "checkpoints").glob("best-*.ckpt"))
    assert len(best) == 1 and (run / "checkpoints" / "last.ckpt").is_file()
    module = LatentPlayModule.load_from_checkpoint(best[0], map_location="cpu")
    reconstruction, latent, _ = module.model(torch.zeros(1, 1, 6615))
    assert reconstruction.shape == (1, 1, 6615) and latent.shape == (1, 13)
    assert len(module.hparams.feature_mean) == 3

    offline_runs = list((run / "wandb").glob("offline-run-*"))
    assert len(offline_runs) == 1
    assert list(offline_runs[0].glob("*.wandb"))
    audio_files = list(offline_runs[0].glob("files/media/audio/**/*.wav"))
    assert len(audio_files) >= 4  # 2 examples x (original, reconstruction)
    assert list(offline_runs[0].glob("files/media/images/**/*.png"))

    examples = list((run / "examples").glob("epoch_*/*_reconstruction.wav"))
    assert examples and list((run / "examples").glob("epoch_*/spectrograms.png"))
    summary = json.loads((run / "run.json").read_text())
    assert summary["num_samples"] == 16 and summary["epochs"] == 2 and summary["monitor"] == "val/mrstft"
    assert summary["monitored_on"] == "held-out one-shots"  # the smoke config holds out a quarter
    assert summary["stop_reason"] == "max_epochs reached (2)"
    assert set(summary["quality"]) >= {"ok", "problems", "ratio", "correlation", "peak_median"}
    assert (run / "data.txt").read_text().startswith("Loaded 16 one-shots")


def test_every_run_writes_metrics_csv_loss_curve_and_says_why_it_stopped(kick_pack, tmp_path, capsys):
    run = tmp_path / "run"
    train(kick_pack, run, "--logger", "none", "--max-epochs", "3", "--set", "data.val_split=0")
    output = capsys.readouterr().out
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2]
    assert all(float(row["val/mrstft"]) > 0 and float(row["train/loss"]) > 0 for row in rows)
    assert (run / "loss-curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Stopped after 3 epochs" in output and "max_epochs reached (3)" in output
    assert "QUALITY CHECK FAILED" in output  # three epochs of a tiny model reproduce nothing
    assert "epoch 1/3" in output  # progress lines: pytest's stdout is not a terminal
    summary = json.loads((run / "run.json").read_text())
    assert summary["monitored_on"] == "training one-shots, unaugmented"


def test_early_stopping_and_time_budget_are_named(kick_pack, tmp_path, capsys):
    train(kick_pack, tmp_path / "early", "--logger", "none", "--max-epochs", "30", "--set", "training.patience=1",
          "--set", "training.lr=1e-9")  # nothing improves: stops after min_epochs + patience
    assert "early stopping: val/mrstft did not improve for 1 epochs" in capsys.readouterr().out
    train(kick_pack, tmp_path / "timed", "--logger", "none", "--max-epochs", "100000",
          "--max-minutes", "0.05")
    assert "time budget reached" in capsys.readouterr().out


def test_training_examples_come_from_different_packs():
    packs = ["a"] * 10 + ["b"] * 5 + ["c"] * 3
    chosen = example_indices(packs, 4)
    assert len(chosen) == 4 and {packs[i] for i in chosen} == {"a", "b", "c"}
    assert example_indices(["a"] * 12, 4) == [0, 3, 6, 9]  # spread across one pack, not its first four
    many = [str(k) for k in range(20)]
    assert len({many[i] for i in example_indices(many, 4)}) == 4


def test_resume_continues_from_the_last_checkpoint(kick_pack, tmp_path):
    run = tmp_path / "run"
    train(kick_pack, run, "--logger", "csv")
    train(kick_pack, run, "--logger", "csv", "--resume", "last", "--max-epochs", "3")
    assert json.loads((run / "run.json").read_text())["epochs"] == 3


def test_same_seed_same_weights(kick_pack, tmp_path):
    weights = []
    for name in ("a", "b"):
        train(kick_pack, tmp_path / name, "--logger", "none")
        state = torch.load(tmp_path / name / "checkpoints" / "last.ckpt", map_location="cpu")["state_dict"]
        weights.append(state)
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0])


def test_train_on_a_folder_without_audio_fails_clearly(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = main(["train", str(tmp_path / "empty"), "--config", "smoke", "--out", str(tmp_path / "run"),
                 "--logger", "none"])
    assert code == 2
    assert "no audio files" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_config_lowers_the_training_loss(tmp_path):
    """The demo model on the procedural pack, a short CPU budget: the loss must fall well."""
    data = tmp_path / "synth"
    write_pack(data, n=160, seed=0)
    run = tmp_path / "demo"
    assert main(["train", str(data), "--config", "demo", "--out", str(run), "--logger", "none",
                 "--max-epochs", "40", "--set", "training.progress_bar=false",
                 "--set", "training.audio_every_n_epochs=1000"]) == 0
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    losses = [float(row["train/loss"]) for row in rows if row.get("train/loss")]
    print(f"demo training loss: first epoch {losses[0]:.3f}, last epoch {losses[-1]:.3f}")
    assert len(losses) == 40
    assert losses[-1] < 0.25 * losses[0]


def test_steered_latents_move_the_head_to_the_requested_frequency():
    """The steering term's moves: the feature head reads exactly the frequency asked for (another
    one-shot's from the batch), and the noise added beside the move is real but leaves that
    reading alone."""
    config = load_config("smoke").to_dict()
    module = LatentPlayModule(config, feature_mean=[60.0, 3.0, 150.0], feature_std=[18.0, 2.0, 60.0])
    torch.manual_seed(0)
    latent = torch.randn(8, module.model.latent_dim)
    features = torch.randn(8, 3)
    with torch.no_grad():
        predicted = module.model.feature_head(latent)
        torch.manual_seed(1)
        moved, shift = module.steered_latents(latent, predicted, features)
        torch.manual_seed(1)
        wanted = features[torch.randperm(8), 0]
        torch.testing.assert_close(module.model.feature_head(moved)[:, 0], wanted, atol=1e-4, rtol=0)
        torch.testing.assert_close(shift, wanted - predicted[:, 0])
        direction = module.model.feature_head.weight[0]
        noise = moved - latent - torch.outer(shift, direction) / direction.dot(direction)
        assert float(noise.norm(dim=1).min()) > 0.1 * float(latent.std(dim=0).norm())
        steered = module.steered_decode(latent, predicted, features)
    assert steered.audio.shape == (8, 1, 6615) and steered.frequency_std_hz == 18.0


def test_training_with_pitch_shift_augmentation_runs(kick_pack, tmp_path):
    run = tmp_path / "run"
    train(kick_pack, run, "--logger", "none", "--set", "data.pitch_shift_semitones=12",
          "--set", "data.pitch_shift_probability=1.0")
    summary = json.loads((run / "run.json").read_text())
    assert summary["epochs"] == 2 and (run / "checkpoints" / "last.ckpt").is_file()
    assert yaml.safe_load((run / "config.yaml").read_text())["data"]["pitch_shift_semitones"] == 12.0
