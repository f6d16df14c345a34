"""The autoencoder: the seed's shapes, exact lengths, TorchScript round trips."""

from __future__ import annotations

import pytest
import torch

from latentplay.cli import main
from latentplay.model import AutoEncoder, ModelConfig, decoder_macs
from latentplay.training.config import load_config


def test_seed_config_shapes():
    config = load_config("seed")
    model = AutoEncoder(config.model, 6615)
    reconstruction, latent, features = model(torch.randn(2, 1, 6615))
    assert latent.shape == (2, 198)
    assert reconstruction.shape == (2, 1, 6615)
    assert features.shape == (2, 3)


def test_seed_decoder_cost_matches_the_design_figure():
    # The design doc measured 1.37 GMAC per decoded one-shot for the seed's decoder.
    assert decoder_macs(load_config("seed").model, 6615) / 1e9 == pytest.approx(1.37, abs=0.01)


@pytest.mark.parametrize("factors, length", [([4, 4, 4], 6615), ([3, 5], 1000), ([2, 2, 2, 2], 64)])
def test_output_length_equals_input_length(factors, length):
    config = ModelConfig(channels=4, compression_rate=0.05, factors=factors,
                         multipliers=[1] + [2] * len(factors), num_blocks=[1] * len(factors))
    model = AutoEncoder(config, length)
    assert model(torch.randn(1, 1, length))[0].shape == (1, 1, length)


def test_inconsistent_config_is_rejected():
    with pytest.raises(ValueError, match="multipliers"):
        ModelConfig(factors=[4, 4], multipliers=[1, 2])


@pytest.mark.parametrize("make", [torch.jit.script, "trace"])
def test_encoder_and_decoder_export_to_torchscript(make, tmp_path):
    config = load_config("demo").model
    model = AutoEncoder(config, 6615).eval()
    audio = torch.randn(1, 1, 6615)
    with torch.no_grad():
        latent = model.encoder(audio)
        expected = model.decoder(latent)
        for name, module, example, reference in (("encoder", model.encoder, audio, latent),
                                                 ("decoder", model.decoder, latent, expected)):
            compiled = torch.jit.trace(module, example) if make == "trace" else make(module)
            path = tmp_path / f"{name}.ts"
            compiled.save(str(path))
            reloaded = torch.jit.load(str(path))
            assert torch.equal(reloaded(example), reference), name


def test_model_command_prints_parameter_count(capsys):
    assert main(["model", "--config", "seed"]) == 0
    printed = capsys.readouterr().out
    assert "latent 198" in printed and "total 5,507,612" in printed and "1.369 GMAC" in printed
