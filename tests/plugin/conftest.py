"""The real built VST3, hosted by pedalboard."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VST3 = ROOT / "build" / "python" / "plugin" / "LatentPlay_artefacts" / "Release" / "VST3" / "LatentPlay.vst3"


@pytest.fixture(scope="session")
def virtual_screen():
    """An X display of its own (Xvfb picks a free number, so that nothing else running on the
    machine shares or closes it) with a window manager (openbox: JUCE's windows ask it for their
    decorations): the environment to run editors in."""
    for tool in ("Xvfb", "openbox", "import", "xdotool"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing: scripts/setup.sh installs xvfb, openbox, xdotool and imagemagick")
    read_end, write_end = os.pipe()
    screen = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
                              pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as announced:
        number = announced.readline().strip()  # written once the display accepts clients
    if not number or screen.poll() is not None:
        pytest.fail("Xvfb did not start")
    display = f":{number}"
    manager = subprocess.Popen(["openbox"], env={**os.environ, "DISPLAY": display},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    yield {**os.environ, "DISPLAY": display}
    manager.terminate()
    screen.terminate()
    manager.wait(10)
    screen.wait(10)


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
