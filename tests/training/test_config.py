"""Configs: the seed's table exactly, strict keys, overrides, saved with the run."""

from __future__ import annotations

import pytest

from latentplay.training.config import ConfigError, available_configs, from_dict, load_config


def test_bundled_configs():
    assert {"seed", "demo", "smoke"} <= set(available_configs())


def test_seed_config_is_the_seed_readme_table():
    config = load_config("seed")
    assert (config.data.duration, config.data.fade_out, config.data.sr, config.data.batch_size) == (0.3, 0.1, 22050, 32)
    model = config.model
    assert (model.channels, model.compression_rate, model.in_channels) == (64, 0.03, 1)
    assert model.factors == [4] * 5 and model.multipliers == [1, 2, 2, 2, 2, 1] and model.num_blocks == [5] * 5
    assert (config.loss.alpha, config.loss.gain, config.loss.tau, config.loss.beta) == (100, 5, 0.1, 50)
    training = config.training
    assert (training.lr, training.max_epochs, training.min_epochs, training.patience) == (1e-4, 800, 50, 100)
    assert config.data.num_workers == 3


def test_overrides_are_parsed_as_yaml():
    config = load_config("demo", ["data.batch_size=4", "model.factors=[2, 2]", "model.multipliers=[1, 1, 1]",
                                  "model.num_blocks=[1, 1]", "training.max_minutes=null", "training.lr=1e-3"])
    assert config.data.batch_size == 4 and config.model.factors == [2, 2]
    assert config.training.max_minutes is None
    assert config.training.lr == pytest.approx(1e-3)  # YAML 1.1 reads 1e-3 as a string


@pytest.mark.parametrize("raw, words", [
    ({"data": {"batch": 3}}, "data: unknown key(s) ['batch']"),
    ({"optimizer": {}}, "unknown section(s) ['optimizer']"),
    ({"training": {"lr": "fast"}}, "lr: expected a number"),
    ({"model": {"factors": [4], "multipliers": [1]}}, "multipliers"),
])
def test_bad_configs_name_the_problem(raw, words):
    with pytest.raises(ConfigError) as error:
        from_dict(raw, source="x.yaml")
    assert words in str(error.value) and "x.yaml" in str(error.value)


def test_bad_override_and_missing_file():
    with pytest.raises(ConfigError, match="section.key=value"):
        load_config("demo", ["batch_size=3"])
    with pytest.raises(ConfigError, match="no such config"):
        load_config("does-not-exist")


def test_saved_config_reloads_identically(tmp_path):
    config = load_config("seed", ["training.seed=7"])
    config.save(tmp_path / "config.yaml")
    assert load_config(str(tmp_path / "config.yaml")) == config
