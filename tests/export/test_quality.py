"""latentplay.quality: the distance eval and export use, the nearest-other baseline, click and
sub energies, and the collapse check, which export enforces."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import auraloss
import numpy as np
import pytest
import torch

from latentplay.audio import PrepConfig
from latentplay.dataset import load_pack_tree
from latentplay.export import exporter
from latentplay.quality import (STFT_SIZES, SpectralDistance, check_reconstructions, click_energy_db,
                                mean_pairwise_correlation, nearest_other, sub_energy_db)
from latentplay.synth import write_pack

LATENTPLAY = str(Path(sys.executable).parent / "latentplay")
RATE = 22050


@pytest.fixture(scope="module")
def kicks(tmp_path_factory) -> np.ndarray:
    """24 prepared procedural kicks of every style."""
    root = tmp_path_factory.mktemp("kicks")
    write_pack(root, n=24, seed=3)
    return load_pack_tree(root, PrepConfig()).audio


def auraloss_mrstft(reference: np.ndarray, estimate: np.ndarray) -> float:
    loss = auraloss.freq.MultiResolutionSTFTLoss(fft_sizes=STFT_SIZES, hop_sizes=[n // 4 for n in STFT_SIZES],
                                                 win_lengths=STFT_SIZES)
    tensor = lambda x: torch.from_numpy(np.asarray(x, np.float32)).reshape(1, 1, -1)  # noqa: E731
    with torch.no_grad():
        return float(loss(tensor(estimate), tensor(reference)))


def test_spectral_distance_equals_auraloss(kicks):
    distance = SpectralDistance()
    matrix = distance.matrix(kicks[:3], kicks[3:7])
    noisy = kicks[:3] + 0.01 * np.random.default_rng(0).standard_normal(kicks[:3].shape).astype(np.float32)
    pairs = distance.pairs(kicks[:3], noisy)
    for i in range(3):
        assert pairs[i] == pytest.approx(auraloss_mrstft(kicks[i], noisy[i]), rel=1e-5)
        for j in range(4):
            assert matrix[i, j] == pytest.approx(auraloss_mrstft(kicks[i], kicks[3 + j]), rel=1e-5)


def test_nearest_other_never_picks_itself(kicks):
    same = nearest_other(kicks, kicks, same_set=True)
    assert np.all(same.index != np.arange(len(kicks))) and np.all(same.distance > 0)
    duplicated = np.concatenate([kicks[:5], kicks[:1]])  # the last is a copy of the first
    assert nearest_other(duplicated, duplicated, same_set=True).index[0] == 5
    assert nearest_other(kicks[:2], kicks, same_set=False).distance == pytest.approx([0.0, 0.0], abs=1e-6)


def test_click_and_sub_energies_see_what_was_removed():
    t = np.arange(int(0.3 * RATE)) / RATE
    body = np.sin(2 * np.pi * 50 * t) * np.exp(-t / 0.1)
    click = np.where(t < 0.003, np.sin(2 * np.pi * 3000 * t), 0.0)
    with_click, without_click = body + click, body
    assert click_energy_db(without_click, RATE) < click_energy_db(with_click, RATE) - 15
    assert abs(sub_energy_db(with_click, RATE) - sub_energy_db(without_click, RATE)) < 0.5
    assert sub_energy_db(click, RATE) < sub_energy_db(body, RATE) - 20


def test_perfect_reconstructions_pass_and_collapsed_ones_are_named(kicks):
    perfect = check_reconstructions(kicks, kicks, RATE)
    assert perfect.ok and perfect.mrstft_median < 1e-3 and perfect.ratio < 0.01
    assert perfect.correlation == pytest.approx(mean_pairwise_correlation(kicks))

    buzz = 0.1 * np.sin(2 * np.pi * 80 * np.arange(kicks.shape[1]) / RATE)
    constant = check_reconstructions(kicks, np.tile(buzz, (len(kicks), 1)).astype(np.float32), RATE)
    assert not constant.ok
    assert any("near-identical" in p for p in constant.problems)
    assert any("far quieter" in p for p in constant.problems)
    assert any("worse than playing the nearest other" in p for p in constant.problems)
    assert "QUALITY CHECK FAILED" in constant.summary()

    quiet = check_reconstructions(kicks, 0.05 * kicks, RATE)
    assert [p for p in quiet.problems if "far quieter" in p] and not any("near-identical" in p for p in quiet.problems)

    shuffled = check_reconstructions(kicks, kicks[::-1].copy(), RATE)  # every kick plays another one
    assert shuffled.ratio >= 1.0


def collapsed_checkpoint(run: Path, out: Path) -> Path:
    """The run's best checkpoint with a decoder that outputs the same buzz for every latent:
    every weight zero, the output layer's bias 0.05."""
    state = torch.load(exporter.find_best_checkpoint(run), map_location="cpu", weights_only=False)
    for name, tensor in state["state_dict"].items():
        if name.startswith("model.decoder."):
            tensor.zero_()
    state["state_dict"]["model.decoder.conv_out.bias"].fill_(0.05)
    torch.save(state, out)
    return out


def test_export_refuses_a_collapsed_model_unless_forced(smoke_export, tmp_path):
    data, run, _ = smoke_export
    checkpoint = collapsed_checkpoint(run, tmp_path / "collapsed.ckpt")
    out = tmp_path / "collapsed.latentplay"
    result = subprocess.run([LATENTPLAY, "export", str(run), "--data", str(data), "--out", str(out),
                             "--checkpoint", str(checkpoint)], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "refusing to export" in result.stderr and "near-identical" in result.stderr
    assert "far quieter" in result.stderr and "--force" in result.stderr
    assert not out.exists()
    forced = exporter.export_bundle(run, data, out, checkpoint=checkpoint, force=True)
    from latentplay.bundle import load_bundle

    quality = load_bundle(forced).sidecar["training"]["metrics"]["quality"]
    assert quality["ok"] is False and len(quality["problems"]) == 3
