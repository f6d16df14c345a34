"""Real recorded kicks from Debian's drum kits (the benchmark's kicks, both splits): the loader copes
with all of them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from latentplay.audio import PrepConfig
from latentplay.cli import main
from latentplay.dataset import load_pack_tree
from latentplay.kits import find_kits


@pytest.fixture(scope="module")
def real_kicks(tmp_path_factory):
    if not find_kits():
        pytest.skip("no Hydrogen drum kits: apt-get install hydrogen-drumkits hydrogen-data (scripts/setup.sh does)")
    out = tmp_path_factory.mktemp("real-kicks")
    assert main(["kits", "--out", str(out), "--instruments", "kick"]) == 0
    return out


def test_kits_command_builds_one_pack_per_kit(real_kicks):
    manifest = json.loads((real_kicks / "kits.json").read_text())
    kits = {entry["kit"] for entry in manifest}
    assert len(manifest) >= 40 and len(kits) >= 10
    assert {"TR808EmulationKit", "GMRockKit"} <= kits  # from hydrogen-data and hydrogen-drumkits
    for entry in manifest:
        assert (real_kicks / entry["file"]).is_file() and entry["instrument"] == "kick"
        assert entry["license"] or entry["author"]


def test_every_real_kick_loads(real_kicks):
    pack = load_pack_tree(real_kicks / "kick", PrepConfig())  # both splits
    assert pack.skipped == [], pack.summary()
    sources = [sample.source for sample in pack.samples]
    assert {s.sample_rate for s in sources} >= {44100, 48000}
    assert {s.subtype for s in sources} >= {"PCM_16", "PCM_24"}
    assert {s.channels for s in sources} == {1, 2}
    assert max(s.onset_s for s in sources) > 0.005  # some kicks start late: trimmed
    assert min(s.frames / s.sample_rate for s in sources) < 0.3  # some are short: padded
    assert pack.audio.shape == (len(sources), 6615)
    assert np.allclose(np.abs(pack.audio).max(axis=1), 1.0, atol=1e-6)
    assert np.all(pack.audio[:, -1] == 0)
