"""The demo bundle committed in presets/: it validates, and `eval` reproduces the figures
recorded beside it (presets/demo-eval.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from latentplay.audio import load_one_shot
from latentplay.bundle import load_bundle
from latentplay.evaluate import evaluate_bundle
from latentplay.synth import write_pack

PRESETS = Path(__file__).resolve().parents[2] / "presets"


def test_demo_bundle_validates(tmp_path):
    bundle = load_bundle(PRESETS / "demo.latentplay")
    assert len(bundle.samples) == 160 and bundle.packs == ["synth-kicks"]
    write_pack(tmp_path, n=160, seed=0)  # the data it was trained on: its originals are these, prepared
    for index in (0, 159):
        prepared, _ = load_one_shot(tmp_path / bundle.samples[index].path, bundle.prep_config())
        assert np.array_equal(bundle.originals()[index], prepared)
    # the repository and the plugin carry it: models 0.6 MB, sidecar 0.2 MB, the 160 originals 4.2 MB
    sizes = {f.name: f.stat().st_size for f in (PRESETS / "demo.latentplay").iterdir()}
    assert sizes["originals.f32"] == 160 * bundle.length * 4 and sum(sizes.values()) < 5_500_000


@pytest.mark.slow
def test_recorded_eval_figures_are_reproduced(tmp_path):
    recorded = json.loads((PRESETS / "demo-eval.json").read_text())
    write_pack(tmp_path, n=160, seed=0)  # the data the bundle was trained on (scripts/train-demo-bundle.sh)
    report = evaluate_bundle(PRESETS / "demo.latentplay", [tmp_path])
    for pack, row in recorded["reconstruction"]["folders"][0]["packs"].items():
        got = report["reconstruction"]["folders"][0]["packs"][pack]
        for name in ("mrstft", "lsd_db", "baseline_mrstft", "click_db", "sub_db"):
            for statistic in ("median", "mean"):
                assert got[name][statistic] == pytest.approx(row[name][statistic], rel=1e-3, abs=1e-3)
    assert report["reconstruction"]["quality"]["ok"] == recorded["reconstruction"]["quality"]["ok"]
    for name, row in recorded["controls"].items():
        assert report["controls"][name]["spearman_rho"] == pytest.approx(row["spearman_rho"], abs=0.02)
        assert report["controls"][name]["median_abs_error"] == pytest.approx(row["median_abs_error"], rel=0.02, abs=0.05)
