"""`latentplay eval` on a (briefly) demo-trained model: its numbers are what this test
recomputes independently — its own TorchScript calls, its own LSD, its own projection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import signal

from latentplay.audio import load_one_shot
from latentplay.bundle import CONTROL_NAMES, load_bundle
from latentplay.cli import main
from latentplay.evaluate import LSD_FFT_SIZE, LSD_FLOOR, LSD_HOP
from latentplay.features import measure_features
from latentplay.projector import RCOND
from latentplay.quality import STFT_SIZES
from latentplay.synth import write_pack
from tests.conftest import train_and_export


@pytest.fixture(scope="module")
def demo_eval(tmp_path_factory):
    """A briefly trained demo model, evaluated on its 40 training kicks and on 6 kicks of
    another procedural pack (a different seed) that it never heard."""
    root = tmp_path_factory.mktemp("demo-eval")
    data, _, bundle = train_and_export(root, "demo", n=40, epochs=15)
    unseen = root / "unseen"
    write_pack(unseen, n=6, seed=11)
    report_path = root / "eval.json"
    assert main(["eval", str(bundle), "--data", str(data), "--data", str(unseen), "--json", str(report_path),
                 "--sweep-samples", "3"]) == 0
    return data, bundle, json.loads(report_path.read_text())


def independent_lsd(reference: np.ndarray, estimate: np.ndarray) -> float:
    def power_db(x):
        _, _, spectrum = signal.stft(x.astype(np.float64), window=np.hanning(LSD_FFT_SIZE), nperseg=LSD_FFT_SIZE,
                                     noverlap=LSD_FFT_SIZE - LSD_HOP, boundary=None, padded=False,
                                     scaling="spectrum")
        # scipy scales the spectrum by 1/sum(window): undo it to compare raw |FFT|²
        return 10 * np.log10(np.abs(spectrum * np.hanning(LSD_FFT_SIZE).sum()) ** 2 + LSD_FLOOR)

    difference = power_db(reference) - power_db(estimate)
    return float(np.mean(np.sqrt(np.mean(difference**2, axis=0))))


@pytest.mark.slow
def test_eval_report_has_every_folder_pack_and_control(demo_eval):
    _, _, report = demo_eval
    trained, unseen = report["reconstruction"]["folders"]
    assert list(trained["packs"]) == ["synth-kicks"]
    assert trained["summary"]["count"] == trained["summary"]["trained"] == 40
    assert unseen["summary"]["count"] == 6 and unseen["summary"]["trained"] == 0
    for summary in (trained["summary"], unseen["summary"], report["reconstruction"]["trained"],
                    report["reconstruction"]["unseen"]):
        for name in ("mrstft", "baseline_mrstft", "lsd_db", "click_db", "sub_db"):
            assert set(summary[name]) == {"median", "mean"}
        assert summary["ratio"] == pytest.approx(summary["mrstft"]["median"] / summary["baseline_mrstft"]["median"])
    assert report["reconstruction"]["quality"]["count"] == 40
    assert set(report["controls"]) == set(CONTROL_NAMES)
    for row in report["controls"].values():
        assert -1 <= row["spearman_rho"] <= 1 and row["median_abs_error"] >= 0
    for name in ("frequency", "attack", "release"):
        row = report["controls"][name]
        assert row["within_bounds"] and row["bounds"][0] <= row["range"][0] < row["range"][1] <= row["bounds"][1]
    assert report["sweeps_over"] == "the bundle's own samples"
    assert all(len(rows) == 3 for rows in report["sweeps"].values())


@pytest.mark.slow
def test_baselines_are_the_nearest_other_training_kick(demo_eval):
    """Recomputed with auraloss itself: a trained kick's baseline is the nearest *other* training
    kick; an unseen kick's is the nearest training kick."""
    import auraloss

    data, bundle_path, report = demo_eval
    from latentplay.render import ReferenceRenderer

    prep = ReferenceRenderer(bundle_path).prep
    rows = report["reconstruction"]["samples"]
    training = {row["path"]: load_one_shot(data / row["path"], prep)[0] for row in rows if row["trained"]}
    mrstft = auraloss.freq.MultiResolutionSTFTLoss(fft_sizes=STFT_SIZES, hop_sizes=[n // 4 for n in STFT_SIZES],
                                                   win_lengths=STFT_SIZES)
    as_tensor = lambda x: torch.from_numpy(x)[None, None]  # noqa: E731
    for row in (rows[5], rows[-1]):  # one trained, one unseen
        audio = training[row["path"]] if row["trained"] else load_one_shot(Path(row["data"]) / row["path"], prep)[0]
        with torch.no_grad():
            distances = {path: float(mrstft(as_tensor(other), as_tensor(audio)))
                         for path, other in training.items() if not (row["trained"] and path == row["path"])}
        nearest = min(distances, key=distances.get)
        assert row["baseline_sample"] == nearest
        assert row["baseline_mrstft"] == pytest.approx(distances[nearest], rel=1e-4)


@pytest.mark.slow
def test_reconstruction_numbers_are_recomputed_for_one_sample(demo_eval):
    import auraloss

    data, bundle_path, report = demo_eval
    row = report["reconstruction"]["samples"][11]
    bundle = load_bundle(bundle_path)
    encoder, decoder = torch.jit.load(str(bundle.encoder_path)), torch.jit.load(str(bundle.decoder_path))
    from latentplay.render import ReferenceRenderer

    audio, _ = load_one_shot(data / row["path"], ReferenceRenderer(bundle).prep)
    with torch.no_grad():
        rebuilt = decoder(encoder(torch.from_numpy(audio)[None]))[0].numpy()
    mrstft = auraloss.freq.MultiResolutionSTFTLoss(fft_sizes=STFT_SIZES, hop_sizes=[n // 4 for n in STFT_SIZES],
                                                   win_lengths=STFT_SIZES)
    with torch.no_grad():
        expected_mrstft = float(mrstft(torch.from_numpy(rebuilt)[None, None], torch.from_numpy(audio)[None, None]))
    assert row["mrstft"] == pytest.approx(expected_mrstft, rel=1e-4)
    assert row["lsd_db"] == pytest.approx(independent_lsd(audio, rebuilt), rel=1e-6)


@pytest.mark.slow
def test_frequency_sweep_is_recomputed_for_one_sample(demo_eval):
    _, bundle_path, report = demo_eval
    sweep = report["sweeps"]["frequency"][1]
    bundle = load_bundle(bundle_path)
    sample = next(s for s in bundle.samples if s.path == sweep["sample"])
    a = np.stack([c.weights for c in bundle.controls])
    c = np.array([c.intercept for c in bundle.controls])
    spans = np.array([control.maximum - control.minimum for control in bundle.controls])
    decoder = torch.jit.load(str(bundle.decoder_path))
    own = a @ sample.latent + c
    for asked, measured in zip(sweep["asked"], sweep["measured"]):
        targets = own.copy()
        targets[2] = asked
        # LAPACK's minimum-norm least squares on the range-scaled rows, with the projector's
        # documented cutoff (docs/bundle.md) — not the projector's own code
        scale = 1.0 / spans
        step = np.linalg.lstsq(a * scale[:, None], (targets - c - a @ sample.latent) * scale, rcond=RCOND)[0]
        moved = sample.latent + step
        with torch.no_grad():
            audio = decoder(torch.from_numpy(moved.astype(np.float32))[None])[0].numpy()
        assert measure_features(audio, bundle.sample_rate).frequency_hz == pytest.approx(measured, rel=1e-3, abs=0.05)
