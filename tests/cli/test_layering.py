"""The runtime does not pull in the training wing: running `info`, `regen`, `eval`, `expand`,
`render` and `bench` (each in a fresh interpreter, through the real CLI) never imports
latentplay.training, latentplay.export, Lightning, wandb or auraloss. (`bench` makes its untrained
bundles in a child process, ``python -m latentplay.export.untrained``, which does; the bench
process itself stays clean.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "presets" / "demo.latentplay"
TRAINING_WING = ("latentplay.training", "latentplay.export", "lightning", "pytorch_lightning", "wandb", "auraloss")

RUN_AND_LIST_MODULES = """
import json, sys
from latentplay.cli import main
code = main(sys.argv[1:]) if sys.argv[1:] else 0  # no arguments: importing the package and its CLI only
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def imported_by(arguments: list[str]) -> tuple[list[str], str]:
    """The training-wing modules the command imported, and what it printed."""
    run = subprocess.run([sys.executable, "-c", RUN_AND_LIST_MODULES, *arguments], capture_output=True, text=True,
                         timeout=600, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["code"] == 0, run.stdout[-3000:]
    return [name for name in report["modules"]
            if name.split(".")[0] in TRAINING_WING or name.startswith(TRAINING_WING)], run.stdout


@pytest.mark.parametrize("command", ["import", "info", "regen", "eval", "expand", "render", "bench"])
def test_runtime_commands_do_not_import_the_training_wing(command, smoke_export, tmp_path):
    data = smoke_export[0]
    arguments = {
        "import": [],
        "info": ["info", str(DEMO)],
        "regen": ["regen", str(DEMO), "--sample", "0", "--frequency", "60", "--out", str(tmp_path / "one.wav")],
        "eval": ["eval", str(smoke_export[2]), "--data", str(data), "--sweep-samples", "1"],
        "expand": ["expand", str(DEMO), "--out", str(tmp_path / "pack"), "--count", "1",
                   "--grid", "frequency=50:70:2"],
        "render": ["render", "--midi", str(ROOT / "presets" / "demo-groove.mid"), "--out", str(tmp_path / "groove.wav")],
        "bench": ["bench", "--configs", "demo", "--runs", "1", "--threads", "1",  # one untrained bundle, one figure each
                  "--worker-runs", "1"],
    }[command]
    imported, printed = imported_by(arguments)
    assert imported == [], f"`latentplay {' '.join(arguments)}` imported the training wing"
    if command == "bench":  # the worker-throughput table, one at a time against batched
        assert all(row in printed for row in ("worker throughput", "24 neural keys", "24 key decodes", "8 variations")), printed
