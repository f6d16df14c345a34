"""Export WAV... and the waveform's drag-out write exactly the one-shot a note plays now.

latentplay-export-check (plugin/tools/ExportCheck.cpp) runs the plugin's own processor code, the
functions the editor's button and drag call, on a bundle, a sample and control settings; this
test reads the files back and compares them with the engine's one-shot for the same values."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from latentplay import _engine
from latentplay.expand import variation_name

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "build" / "python" / "plugin" / "latentplay-export-check"
DEMO = ROOT / "presets" / "demo.latentplay"


def export(out: Path, bundle: Path, sample: int, rate: int, *settings: str) -> tuple[int, dict]:
    if not CHECK.is_file():
        pytest.fail(f"{CHECK} is missing: scripts/test.sh builds it "
                    "(cmake --build build/python --target latentplay_export_check)")
    environment = {key: value for key, value in os.environ.items() if key != "DISPLAY"}
    environment["LATENTPLAY_BUNDLE"] = str(bundle)
    run = subprocess.run([str(CHECK), str(out), str(sample), "--rate", str(rate),
                          *[argument for setting in settings for argument in ("--set", setting)]],
                         env=environment, capture_output=True, text=True, timeout=120)
    return run.returncode, json.loads(run.stdout)


@pytest.mark.parametrize("bundle_name, sample, rate, settings", [
    ("demo", 3, 44100, ("frequency=0.7", "detail=0.5")),
    ("smoke", 1, 48000, ("mix=0.25", "attack=0.1")),
])
def test_exported_and_dragged_files_are_the_current_one_shot(tmp_path, smoke_export, bundle_name, sample, rate,
                                                              settings):
    bundle = DEMO if bundle_name == "demo" else smoke_export[2]
    code, report = export(tmp_path / "exports", bundle, sample, rate, *settings)
    assert code == 0, report
    engine = _engine.Engine(str(bundle))
    detail = next((float(s.split("=")[1]) for s in settings if s.startswith("detail=")), 0.0)
    mix = next((float(s.split("=")[1]) for s in settings if s.startswith("mix=")), 1.0)
    expected = engine.regenerate(sample, report["controls"], rate, detail)
    if mix < 1.0:  # the dry side blended in at the model rate, then resampled (as the worker does)
        model_rate = engine.regenerate(sample, report["controls"], 0, detail)
        dry = engine.dry(sample, 0)
        expected = _engine.resample((mix * model_rate + (1 - mix) * dry).astype(np.float32), engine.sample_rate, rate)
    for key in ("export", "drag"):
        path = Path(report[key])
        info = soundfile.info(str(path))
        assert (info.samplerate, info.channels, info.subtype) == (rate, 1, "FLOAT")
        audio, _ = soundfile.read(str(path), dtype="float32")
        assert len(audio) == len(expected)
        assert np.max(np.abs(audio - expected)) <= (0.0 if mix == 1.0 else 1e-6), key
    # Named as `latentplay expand` names its files: the sample and the five control values.
    assert Path(report["export"]).name == variation_name(engine.samples[sample]["path"], report["controls"])
    assert Path(report["drag"]).name == Path(report["export"]).name
    assert Path(report["drag"]).parent != Path(report["export"]).parent


def test_an_export_that_cannot_be_written_says_where_and_why(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    code, report = export(blocked / "exports", DEMO, 0, 48000)
    assert code == 1
    assert str(blocked) in report["export_error"] and "cannot" in report["export_error"]
