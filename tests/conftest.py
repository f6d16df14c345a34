"""Shared test helpers: small real audio made on the spot, and a real smoke-trained bundle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from latentplay.cli import main
from latentplay.synth import write_pack


def simple_kick(sample_rate: int, seconds: float = 0.4, f0: float = 55.0, decay_s: float = 0.08) -> np.ndarray:
    """A decaying sine with a short pitch drop: enough of a kick for loader tests."""
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    frequency = f0 * (1 + 2 * np.exp(-t / 0.01))
    phase = 2 * np.pi * np.cumsum(frequency) / sample_rate
    return 0.9 * np.sin(phase) * np.exp(-t / decay_s)


@pytest.fixture
def kick():
    return simple_kick


def train_and_export(root: Path, config: str, n: int, epochs: int) -> tuple[Path, Path, Path]:
    data, run, bundle = root / "data", root / "run", root / "kicks.latentplay"
    write_pack(data, n=n, seed=5)
    assert main(["train", str(data), "--config", config, "--out", str(run), "--logger", "none",
                 "--max-epochs", str(epochs), "--set", "training.progress_bar=false",
                 "--set", "training.audio_every_n_epochs=1000"]) == 0
    # --force: a model trained for a few epochs fails the quality check by design; these
    # fixtures exercise the export mechanics, tests/export/test_quality.py the refusal.
    assert main(["export", str(run), "--data", str(data), "--out", str(bundle), "--force"]) == 0
    return data, run, bundle


@pytest.fixture(scope="session")
def smoke_export(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(data folder, run folder, bundle folder) of a 2-epoch smoke model on 16 kicks."""
    return train_and_export(tmp_path_factory.mktemp("smoke-export"), "smoke", n=16, epochs=2)
