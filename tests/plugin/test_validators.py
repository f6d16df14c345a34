"""The built VST3 under the industry's validators (../shared/tools/plugin-validators, see its
README): Tracktion's pluginval at strictness 10 with the editor tests on a virtual screen, at
44.1/48/96 kHz and blocks 32..1024, with Steinberg's VST3 validator inside; then pluginval's
tests five times in random order."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR_FOLDERS = [Path(os.environ["LATENTPLAY_VALIDATORS"])] if os.environ.get("LATENTPLAY_VALIDATORS") else [
    ROOT.parent / "shared" / "tools" / "plugin-validators",  # beside the project, as the workplace provides
    Path("/work/shared/tools/plugin-validators"),  # a clone elsewhere on the same machine
]
# pluginval sets an on/off parameter to an in-between value such as 0.42 and then reports that
# state restoration did not bring it back (JUCE keeps booleans as 0/1): a plain JUCE plugin shows
# the same (the validators' README). Only this message, only for these, is tolerated.
BOOLEAN_PARAMETERS = ("Key Tracking", "Choke")


@pytest.fixture(scope="module")
def validators() -> Path:
    for folder in VALIDATOR_FOLDERS:
        if (folder / "pluginval").is_file() and (folder / "vst3-validator").is_file():
            return folder
    pytest.skip("the prebuilt validators are not on this machine (looked in "
                + ", ".join(str(f) for f in VALIDATOR_FOLDERS) + "; set LATENTPLAY_VALIDATORS)")


def pluginval(validators: Path, environment: dict, *arguments: str) -> subprocess.CompletedProcess:
    # In a folder of its own: pluginval writes its log files into the working directory.
    work = ROOT / "test-artifacts" / "pluginval"
    work.mkdir(parents=True, exist_ok=True)
    return subprocess.run([str(validators / "pluginval"), *arguments], env=environment, cwd=work,
                          capture_output=True, text=True, timeout=1200)


def test_pluginval_strictness_10_with_the_vst3_validator(validators, vst3_path, virtual_screen):
    run = pluginval(validators, virtual_screen, "--strictness-level", "10",
                    "--sample-rates", "44100,48000,96000", "--block-sizes", "32,64,128,256,512,1024",
                    "--vst3validator", str(validators / "vst3-validator"), "--validate", str(vst3_path))
    output = run.stdout + run.stderr
    (ROOT / "test-artifacts" / "pluginval" / "strictness-10.txt").write_text(output)
    assert run.returncode == 0, output[-4000:]
    assert "vst3 validator exited with code: 0" in output
    assert "Starting tests in: pluginval / Editor" in output  # the editor tests ran


def test_pluginval_repeated_in_random_order(validators, vst3_path, virtual_screen):
    run = pluginval(validators, virtual_screen, "--strictness-level", "10", "--repeat", "5", "--randomise",
                    "--validate", str(vst3_path))
    output = run.stdout + run.stderr
    (ROOT / "test-artifacts" / "pluginval" / "repeat-5-randomise.txt").write_text(output)
    failures = re.findall(r"!!! Test \d+ failed: (.*)", output)
    quirk = re.compile(rf"({'|'.join(BOOLEAN_PARAMETERS)}) not restored on setStateInformation")
    assert [f for f in failures if not quirk.match(f)] == [], output[-4000:]
    assert output.count("Starting tests in: pluginval / Plugin state restoration") >= 5
