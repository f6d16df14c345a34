"""`latentplay eval` on a (briefly) demo-trained model: its numbers are what this test
recomputes independently — its own TorchScript calls, its own LSD, its own projection."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy import signal

from latentplay.audio import load_one_shot
from latentplay.bundle import load_bundle
from latentplay.cli import main
from latentplay.evaluate import LSD_FFT_SIZE, LSD_FLOOR, LSD_HOP
from latentplay.features import measure_features
from latentplay.projector import RCOND
from latentplay.training.loss import STFT_SIZES
from tests.conftest import train_and_export


@pytest.fixture(scope="module")
def demo_eval(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo-eval")
    data, _, bundle = train_and_export(root, "demo", n=40, epochs=15)
    report_path = root / "eval.json"
    assert main(["eval", str(bundle), "--data", str(data), "--json", str(report_path),
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
def test_eval_report_has_every_pack_and_control(demo_eval):
    _, _, report = demo_eval
    packs = report["reconstruction"]["packs"]
    assert list(packs) == ["synth-kicks"] and packs["synth-kicks"]["count"] == 40
    assert set(report["controls"]) == {"pc1", "pc2", "frequency", "attack", "release"}
    for row in report["controls"].values():
        assert -1 <= row["spearman_rho"] <= 1 and row["median_abs_error"] >= 0
    assert all(len(rows) == 3 for rows in report["sweeps"].values())


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
