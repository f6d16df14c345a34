"""The real built VST3, hosted by pedalboard."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VST3 = ROOT / "build" / "python" / "plugin" / "LatentPlay_artefacts" / "Release" / "VST3" / "LatentPlay.vst3"


@pytest.fixture(scope="session")
def vst3_path() -> Path:
    if not VST3.is_dir():
        pytest.fail(f"{VST3} is missing: scripts/setup.sh builds it (pip install -e . builds the plugin)")
    return VST3


@pytest.fixture
def load_plugin(vst3_path, monkeypatch):
    """Loads a fresh plugin instance whose default bundle is `bundle` (LATENTPLAY_BUNDLE)."""
    import pedalboard

    def load(bundle: Path | str | None):
        if bundle is None:
            monkeypatch.delenv("LATENTPLAY_BUNDLE", raising=False)
        else:
            monkeypatch.setenv("LATENTPLAY_BUNDLE", str(bundle))
        return pedalboard.load_plugin(str(vst3_path))

    return load
