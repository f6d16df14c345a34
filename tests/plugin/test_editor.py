"""The real editor on a virtual screen (Xvfb + openbox): a screenshot that is not blank and
shows the latent map. The PNG is kept in test-artifacts/editor.png."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACT = ROOT / "test-artifacts" / "editor.png"

OPEN_EDITOR = """
import sys, dawdreamer
engine = dawdreamer.RenderEngine(48000, 512)
plugin = engine.make_plugin_processor("latentplay", sys.argv[1])
plugin.open_editor()  # blocks until the window is closed
"""


def wait_for_window(title: str, environment: dict, process: subprocess.Popen, timeout_s: float = 60.0) -> None:
    """Until a window with `title` exists on the virtual screen (a loaded CI machine is slow)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = subprocess.run(["xdotool", "search", "--name", title], env=environment, capture_output=True)
        if found.returncode == 0 and found.stdout.strip():
            return
        if process.poll() is not None:
            pytest.fail("the editor's host exited: " + process.stdout.read().decode(errors="replace")[-2000:])
        time.sleep(0.5)
    pytest.fail(f"no window named {title!r} after {timeout_s:.0f} s")


def count_colour(image: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 12) -> int:
    return int(np.sum(np.all(np.abs(image.astype(int) - rgb) <= tolerance, axis=-1)))


def test_editor_screenshot_shows_the_latent_map(vst3_path, smoke_export, virtual_screen):
    environment = {**virtual_screen, "LATENTPLAY_BUNDLE": str(smoke_export[2])}
    editor = subprocess.Popen([sys.executable, "-c", OPEN_EDITOR, str(vst3_path)], env=environment,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for_window("LatentPlay", virtual_screen, editor)
        time.sleep(3.0)  # let it load the waveform and paint
        assert editor.poll() is None, editor.stdout.read().decode(errors="replace")[-2000:]
        ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["import", "-window", "root", str(ARTIFACT)], env=environment, check=True, timeout=60)
    finally:
        editor.kill()
        editor.wait(10)
    import matplotlib.image

    image = (matplotlib.image.imread(str(ARTIFACT))[..., :3] * 255).round().astype(np.uint8)
    assert image.std() > 10  # not blank
    assert count_colour(image, (0x16, 0x18, 0x1D)) > 50_000  # the editor's background
    assert count_colour(image, (0x20, 0x23, 0x2A)) > 20_000  # the map and waveform panels
    # the map's dots and legend in the five groups' colours, and the current point's accent ring
    dots = [count_colour(image, rgb, tolerance=30) for rgb in
            ((0x4E, 0x9A, 0xF1), (0xF2, 0x8E, 0x2B), (0x59, 0xA1, 0x4F), (0xE1, 0x57, 0x59), (0xB0, 0x7A, 0xA1))]
    assert all(count > 40 for count in dots), dots
    assert count_colour(image, (0xFF, 0xB3, 0x47), tolerance=30) > 50
