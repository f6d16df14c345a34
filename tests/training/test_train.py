"""Training runs for real on the CPU: smoke run artefacts, resume, determinism, and (slow) the
demo config lowering its loss."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
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


def test_early_stopping_and_time_budget_are_named(kick_pack, tmp_path, capfd):
    train(kick_pack, tmp_path / "early", "--logger", "none", "--max-epochs", "30", "--set", "training.patience=1",
          "--set", "training.lr=1e-9")  # nothing improves: stops after min_epochs + patience
    assert "early stopping: val/mrstft did not improve for 1 epochs" in capfd.readouterr().out
    # The budget is hard: it wins over min_epochs, and the run says so once, at the end.
    # (Before: min_epochs won, and Lightning said "Time limit reached" after every further step.)
    train(kick_pack, tmp_path / "timed", "--logger", "none", "--max-epochs", "400",
          "--max-minutes", "0.05", "--set", "training.min_epochs=400", "--set", "training.audio_every_n_epochs=1000")
    captured = capfd.readouterr()
    output = captured.out + captured.err
    assert output.count("time budget reached") == 1 and "Time limit reached" not in output
    assert "Trainer.fit` stopped" not in output and "min_epochs" not in output
    summary = json.loads((tmp_path / "timed" / "run.json").read_text())
    assert summary["stop_reason"].startswith("time budget reached") and summary["epochs"] < 400
    assert summary["seconds"] < 60


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
    """CPU runs are bit-reproducible: same seed, same config (steering and pitch-shift
    augmentation on), same machine -> the same weights and the same metrics, epoch by epoch."""
    weights, metrics = [], []
    for name in ("a", "b"):
        train(kick_pack, tmp_path / name, "--logger", "none", "--set", "data.pitch_shift_semitones=12")
        state = torch.load(tmp_path / name / "checkpoints" / "last.ckpt", map_location="cpu")["state_dict"]
        weights.append(state)
        rows = list(csv.DictReader(open(tmp_path / name / "metrics.csv")))
        metrics.append([{key: value for key, value in row.items() if key != "seconds"} for row in rows])
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0])
    assert metrics[0] == metrics[1] and len(metrics[0]) == 2
    assert json.loads((tmp_path / "a" / "run.json").read_text())["replicas"]["weights_sha256"] == \
        json.loads((tmp_path / "b" / "run.json").read_text())["replicas"]["weights_sha256"]


def test_resume_after_a_kill_reaches_the_epochs_asked_for(kick_pack, tmp_path):
    """A run SIGKILLed mid-training (last.ckpt is saved after every epoch, whole or not at all)
    resumes with `--resume last` and stops at the epoch count first asked for; metrics.csv keeps
    the rows of the epochs before the kill and goes on."""
    run, epochs = tmp_path / "run", 20
    options = ["--logger", "none", "--max-epochs", str(epochs), "--set", "data.batch_size=2",
               "--set", "training.patience=1000", "--set", "training.audio_every_n_epochs=1000"]
    log = open(tmp_path / "killed.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "latentplay.cli", "train", str(kick_pack), "--config", "smoke",
                                "--out", str(run), "--set", "training.progress_bar=false", *options],
                               stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        rows = wait_for_rows(run / "metrics.csv", 3, process, timeout_s=240)
        epoch_s = float(rows[-1]["seconds"]) - float(rows[-2]["seconds"])
        time.sleep(epoch_s / 2)  # about half-way through the next epoch
        assert process.poll() is None, "the run ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
    before = list(csv.DictReader(open(run / "metrics.csv")))
    saved_epoch = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["epoch"]
    assert 2 <= saved_epoch < epochs - 1 and not (run / "run.json").exists()

    train(kick_pack, run, *options, "--resume", "last")
    summary = json.loads((run / "run.json").read_text())
    assert summary["epochs"] == epochs and summary["stop_reason"] == f"max_epochs reached ({epochs})"
    after = list(csv.DictReader(open(run / "metrics.csv")))
    numbers = [int(row["epoch"]) for row in after]
    assert numbers == sorted(set(numbers)) and numbers[-1] == epochs - 1
    # Rows up to the saved epoch are kept as they were. (A kill between the end of an epoch's
    # checkpoint and its metrics row, a few milliseconds, would leave that one row out.)
    kept = [row for row in before if int(row["epoch"]) < saved_epoch]
    assert after[:len(kept)] == kept and len(numbers) >= epochs - 1
    assert summary["replicas"]["samples_per_rank"] == [12 * (epochs - 1 - saved_epoch)]


def wait_for_rows(path: Path, count: int, process: subprocess.Popen, timeout_s: float) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the run exited ({process.returncode}) before {count} epochs"
        if path.is_file():
            rows = list(csv.DictReader(open(path)))
            if len(rows) >= count:
                return rows
        time.sleep(0.02)
    raise TimeoutError(f"{path}: fewer than {count} rows after {timeout_s} s")


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


def test_latent_noise_perturbs_training_reconstructions_only():
    """loss.latent_noise: in training the decoder reconstructs from the latents plus noise of that
    many batch standard deviations per dimension; validation (what checkpoints and early stopping
    watch) and a scale of 0 decode the clean latents."""
    config = load_config("smoke").to_dict()
    config["loss"]["latent_noise"] = 0.5
    module = LatentPlayModule(config, feature_mean=[60.0, 3.0, 150.0], feature_std=[18.0, 2.0, 60.0])
    torch.manual_seed(0)
    latent = torch.randn(4096, module.model.latent_dim) * torch.linspace(0.5, 3.0, module.model.latent_dim)
    noise = module.noisy(latent) - latent
    torch.testing.assert_close(noise.std(dim=0), 0.5 * latent.std(dim=0, correction=0), rtol=0.08, atol=0)
    assert abs(float(noise.mean())) < 0.05
    decoded_from = []
    module.model.decoder.register_forward_pre_hook(lambda _, inputs: decoded_from.append(inputs[0].clone()))
    audio = torch.randn(3, 1, 6615)
    with torch.no_grad():
        module._step((audio, torch.zeros(3, 3)), "val")
        module._step((audio, torch.zeros(3, 3)), "train")
        clean = module.model.encoder(audio)
    torch.testing.assert_close(decoded_from[0], clean)
    assert float((decoded_from[1] - clean).abs().max()) > 1e-3
    config["loss"]["latent_noise"] = 0.0
    module = LatentPlayModule(config, feature_mean=[60.0, 3.0, 150.0], feature_std=[18.0, 2.0, 60.0])
    assert module.noisy(latent) is latent
