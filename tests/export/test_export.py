"""Export of a smoke-trained model: the bundle validates, reloads, and regenerates what the
eager model reconstructs; failures leave nothing behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from latentplay.audio import load_one_shot
from latentplay.bundle import CONTROL_NAMES, SIDECAR_NAME, load_bundle, sha256_file
from latentplay.export import exporter
from latentplay.projector import control_values
from latentplay.render import ReferenceRenderer
from latentplay.training.lightning import LatentPlayModule

LATENTPLAY = str(Path(sys.executable).parent / "latentplay")


def test_bundle_validates_and_describes_the_model(smoke_export):
    data, run, bundle_path = smoke_export
    bundle = load_bundle(bundle_path)
    assert (bundle.sample_rate, bundle.length, bundle.latent_dim) == (22050, 6615, 13)
    assert [c.name for c in bundle.controls] == list(CONTROL_NAMES)
    assert [c.unit for c in bundle.controls] == ["", "", "Hz", "ms", "ms"]
    assert bundle.model_id == sha256_file(bundle_path / "decoder.ts")
    assert len(bundle.samples) == 16 and bundle.packs == ["synth-kicks"]
    pca = bundle.sidecar["pca"]
    for k in range(2):  # the PC controls are w·(z − mean)
        control = bundle.controls[k]
        assert control.intercept == pytest.approx(-np.dot(pca["components"][k], pca["mean"]))
    weights, intercepts, _ = bundle.control_matrix()
    values = control_values(bundle.latents(), weights, intercepts)
    lows = np.array([c.minimum for c in bundle.controls])
    highs = np.array([c.maximum for c in bundle.controls])
    assert np.all(values >= lows - 1e-9) and np.all(values <= highs + 1e-9)
    for control in bundle.controls[2:]:
        assert set(control.r2) == {"fit", "cv"} and control.r2["cv"] <= control.r2["fit"] + 1e-9
    assert bundle.sidecar["training"]["config"]["model"]["channels"] == 4
    assert bundle.sidecar["training"]["metrics"]["epochs"] == 2


def test_regenerating_a_training_sample_equals_the_eager_reconstruction(smoke_export):
    data, run, bundle_path = smoke_export
    renderer = ReferenceRenderer(bundle_path)
    module = LatentPlayModule.load_from_checkpoint(exporter.find_best_checkpoint(run), map_location="cpu").eval()
    for index in (0, 7, 15):
        sample = renderer.bundle.samples[index]
        audio, _ = load_one_shot(data / sample.path, renderer.prep)
        with torch.no_grad():
            eager = module.model(torch.from_numpy(audio).reshape(1, 1, -1))[0][0, 0].numpy()
        regenerated = renderer.regenerate(sample.path)
        assert regenerated.shape == (6615,) and regenerated.dtype == np.float32
        assert np.max(np.abs(regenerated - eager)) <= 1e-5
        assert np.max(np.abs(renderer.encode(audio) - sample.latent)) <= 1e-5


def test_controls_at_own_values_change_nothing_and_targets_are_met(smoke_export):
    renderer = ReferenceRenderer(smoke_export[2])
    latent = renderer.bundle.samples[3].latent
    assert np.array_equal(renderer.move(latent, {}), latent)
    moved = renderer.move(latent, {"frequency": 70.0, "attack": 4.0})
    reached = renderer.own_controls(moved)
    assert reached["frequency"] == pytest.approx(70.0, abs=1e-6)
    assert reached["attack"] == pytest.approx(4.0, abs=1e-6)
    for name in ("pc1", "pc2", "release"):
        assert reached[name] == pytest.approx(renderer.own_controls(latent)[name], abs=1e-6)


def test_a_failed_self_check_leaves_no_bundle_behind(smoke_export, tmp_path, monkeypatch):
    data, run, _ = smoke_export
    monkeypatch.setattr(exporter, "MAX_EXPORT_DIFF", -1.0)  # no TorchScript can pass this check
    out = tmp_path / "failed.latentplay"
    with pytest.raises(exporter.ExportError, match="differs from the eager model"):
        exporter.export_bundle(run, data, out, force=True)  # past the quality check, to the self-check
    assert list(tmp_path.iterdir()) == []


def test_export_refuses_to_overwrite_without_force(smoke_export, tmp_path):
    data, run, bundle = smoke_export
    result = subprocess.run([LATENTPLAY, "export", str(run), "--data", str(data), "--out", str(bundle)],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "already exists" in result.stderr


@pytest.mark.parametrize("case", ["no checkpoint", "foreign data"])
def test_export_errors_are_one_line_with_exit_code_2(smoke_export, tmp_path, case):
    data, run, _ = smoke_export
    if case == "no checkpoint":
        run = tmp_path / "empty-run"
        run.mkdir()
        expected = "no best-*.ckpt"
    else:
        data = tmp_path / "other"
        (data / "Pack").mkdir(parents=True)
        for source in list((smoke_export[0] / "synth-kicks" / "roomy").glob("*.wav"))[:2]:
            (data / "Pack" / source.name).write_bytes(source.read_bytes())
        expected = "none of the 16 one-shots the run trained on"
    out = tmp_path / "x.latentplay"
    result = subprocess.run([LATENTPLAY, "export", str(run), "--data", str(data), "--out", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and expected in result.stderr
    assert not out.exists() and not list(tmp_path.glob(".x.latentplay.partial-*"))


def test_info_plot_and_regen_commands(smoke_export, tmp_path):
    data, _, bundle = smoke_export
    info = subprocess.run([LATENTPLAY, "info", str(bundle)], capture_output=True, text=True, check=True).stdout
    assert "latent 13" in info and "synth-kicks (16)" in info and "Frequency" in info and "R² fit" in info
    assert "originals   inside: 16 prepared one-shots (0.4 MB, float32)" in info
    subprocess.run([LATENTPLAY, "plot", str(bundle), "--out", str(tmp_path / "map.png")], check=True,
                   capture_output=True)
    assert (tmp_path / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    sample = load_bundle(bundle).samples[2]
    out = tmp_path / "regen.wav"
    subprocess.run([LATENTPLAY, "regen", str(bundle), "--sample", sample.name, "--frequency", "65",
                    "--out", str(out)], check=True, capture_output=True)
    renderer = ReferenceRenderer(bundle)
    import soundfile

    written, rate = soundfile.read(str(out), dtype="float32")
    reference = renderer.regenerate(sample.index, {"frequency": 65.0})  # Python's TorchScript + projector
    assert rate == 22050 and np.max(np.abs(written - reference)) < exporter.MAX_EXPORT_DIFF * max(
        1.0, float(np.max(np.abs(reference))))
    detail_out = tmp_path / "detail.wav"
    subprocess.run([LATENTPLAY, "regen", str(bundle), "--sample", sample.name, "--detail", "1", "--out",
                    str(detail_out)], check=True, capture_output=True)
    assert np.max(np.abs(soundfile.read(str(detail_out), dtype="float32")[0]
                         - load_bundle(bundle).originals()[sample.index])) < 1e-6  # own values: the original
    wav_out = tmp_path / "from_wav.wav"
    subprocess.run([LATENTPLAY, "regen", str(bundle), "--wav", str(data / sample.path), "--out", str(wav_out)],
                   check=True, capture_output=True)
    expected = renderer.regenerate(sample.index)
    # float32 rounding grows with the signal: the exporter's own tolerance (a smoke model's
    # outputs can peak well above 1)
    allowed = exporter.MAX_EXPORT_DIFF * max(1.0, float(np.max(np.abs(expected))))
    assert np.max(np.abs(soundfile.read(str(wav_out), dtype="float32")[0] - expected)) < allowed


def test_sidecar_has_no_nan_literals(smoke_export):
    text = (smoke_export[2] / SIDECAR_NAME).read_text()
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text)


@pytest.mark.parametrize("factor", [2, 3, 4, 5])
@pytest.mark.parametrize("batch", [1, 3])
def test_gemm_layers_equal_torch_layers(factor, batch):
    """The exported decoder's GEMM forms compute what torch's convolutions compute."""
    torch.manual_seed(factor)
    upsample = torch.nn.ConvTranspose1d(6, 5, 2 * factor, stride=factor, padding=factor // 2 + factor % 2,
                                        output_padding=factor % 2)
    convolution = torch.nn.Conv1d(5, 4, 2 * factor + 1, padding=factor)
    x = torch.randn(batch, 6, 37)
    with torch.no_grad():
        for torch_layer, gemm_layer, inputs in (
                (upsample, exporter.GemmConvTranspose1d(upsample), x),
                (convolution, exporter.GemmConv1d(convolution), upsample(x))):
            expected = torch_layer(inputs)
            got = torch.jit.script(gemm_layer)(inputs)
            assert got.shape == expected.shape
            assert torch.max(torch.abs(got - expected)) < 1e-5


def test_gemm_layouts_convert_back_to_torch_layers(smoke_export):
    """The eager decoder rebuilt from decoder.ts (what `latentplay bench` times) decodes the same."""
    from latentplay.bench import eager_decoder

    renderer = ReferenceRenderer(smoke_export[2])
    latent = torch.from_numpy(renderer.bundle.samples[0].latent.astype(np.float32))[None]
    with torch.no_grad():
        eager = eager_decoder(renderer)(latent)[0, 0].numpy()
    assert np.max(np.abs(eager - renderer.decode(latent[0].numpy()))) < 1e-5


def test_export_no_audio_leaves_the_originals_out(smoke_export, tmp_path):
    data, run, _ = smoke_export
    out = tmp_path / "shared.latentplay"
    subprocess.run([LATENTPLAY, "export", str(run), "--data", str(data), "--out", str(out), "--force",
                    "--no-audio"], check=True, capture_output=True)
    assert sorted(path.name for path in out.iterdir()) == ["decoder.ts", "encoder.ts", "latentplay.json"]
    bundle = load_bundle(out)
    assert not bundle.has_originals and bundle.originals() is None
    info = subprocess.run([LATENTPLAY, "info", str(out)], capture_output=True, text=True, check=True).stdout
    assert "originals   not inside" in info
    from latentplay import _engine

    assert not _engine.Engine(str(out)).has_originals
