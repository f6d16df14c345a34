"""A real smoke-trained model exported to a real bundle, shared by the export tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from latentplay.cli import main
from latentplay.synth import write_pack


def train_and_export(root: Path, config: str, n: int, epochs: int) -> tuple[Path, Path, Path]:
    data, run, bundle = root / "data", root / "run", root / "kicks.latentplay"
    write_pack(data, n=n, seed=5)
    assert main(["train", str(data), "--config", config, "--out", str(run), "--logger", "none",
                 "--max-epochs", str(epochs), "--set", "training.progress_bar=false",
                 "--set", "training.audio_every_n_epochs=1000"]) == 0
    assert main(["export", str(run), "--data", str(data), "--out", str(bundle)]) == 0
    return data, run, bundle


@pytest.fixture(scope="session")
def smoke_export(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(data folder, run folder, bundle folder) of a 2-epoch smoke model on 16 kicks."""
    return train_and_export(tmp_path_factory.mktemp("smoke-export"), "smoke", n=16, epochs=2)
