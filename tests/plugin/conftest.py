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


FIRST_DISPLAY = 42  # never :0, where JUCE looks when DISPLAY is unset (see start_xvfb)


def start_xvfb() -> tuple[subprocess.Popen, str]:
    """Xvfb on the first free display number from FIRST_DISPLAY. Not :0: a plugin instance in
    this process (pedalboard) has no DISPLAY, and JUCE then tries ":0"; were our Xvfb there, that
    instance would connect to it and JUCE would exit the whole test process when the screen
    closes at the end of the session."""
    for number in range(FIRST_DISPLAY, FIRST_DISPLAY + 50):
        if Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists():
            continue
        screen = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and screen.poll() is None:
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                return screen, f":{number}"
            time.sleep(0.1)
        screen.kill()  # taken meanwhile, or it did not start: the next number
        screen.wait(10)
    pytest.fail("Xvfb did not start on any display from :42 to :91")


@pytest.fixture(scope="session")
def virtual_screen():
    """An X display of its own (a free number, so that nothing else running on the machine
    shares or closes it) with a window manager (openbox: JUCE's windows ask it for their
    decorations): the environment to run editors in."""
    for tool in ("Xvfb", "openbox", "import", "xdotool"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing: scripts/setup.sh installs xvfb, openbox, xdotool and imagemagick")
    screen, display = start_xvfb()
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
