"""Batched regeneration (Engine.regenerate_batch, Engine.decode_batch): several keys or variations
from one start in ONE decoder call, each item equal to the one-at-a-time result, on the demo
bundle and on the smoke bundle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from latentplay import _engine

DEMO = Path(__file__).resolve().parents[2] / "presets" / "demo.latentplay"
HOST_RATE = 48000


@pytest.fixture(scope="module", params=["demo", "smoke"])
def engine(request, smoke_export):
    return _engine.Engine(str(DEMO if request.param == "demo" else smoke_export[2]))


def close(got: np.ndarray, expected: np.ndarray) -> bool:
    """Equal within float32 rounding (the batched decoder sums in another order)."""
    return got.shape == expected.shape and np.max(np.abs(got - expected)) <= 1e-5 * max(1.0, np.max(np.abs(expected)))


def neural_keys(engine, start, count: int = 24) -> list[dict]:
    """`count` keys around the start's own frequency (a semitone apart, clamped to the
    Frequency control's range), as the plugin's Pitch Mode Neural asks for them."""
    low, high = next(c["range"] for c in engine.controls if c["name"] == "frequency")
    own = engine.own_controls(start.latent)["frequency"]
    return [{"frequency": float(np.clip(own * 2 ** ((key - count // 2) / 12), low, high))} for key in range(count)]


def test_decode_batch_equals_decode_one_at_a_time(engine):
    rng = np.random.default_rng(0)
    latents = np.stack([engine.samples[i % len(engine.samples)]["latent"] for i in range(5)])
    latents += rng.normal(scale=0.1, size=latents.shape)
    batch = engine.decode_batch(latents)
    assert batch.shape == (5, engine.length) and batch.dtype == np.float32
    for latent, one_shot in zip(latents, batch):
        assert close(one_shot, engine.decode(latent))


@pytest.mark.parametrize("rate", [0, HOST_RATE])
def test_keys_in_one_batch_equal_one_at_a_time(engine, rate):
    start = engine.sample_start(1)
    keys = neural_keys(engine, start)
    batch = engine.regenerate_batch(start, keys, rate, detail=0.5)
    assert batch.shape[0] == len(keys)
    for controls, one_shot in zip(keys, batch):
        assert close(one_shot, engine.regenerate(start, controls, rate, 0.5))


def test_variations_in_one_batch_equal_one_at_a_time(engine):
    start = engine.sample_start(2)
    controls = {"attack": engine.own_controls(start.latent)["attack"]}
    variations = [(0.5, seed) for seed in range(1, 9)]
    batch = engine.regenerate_batch(start, [controls] * 8, HOST_RATE, 1.0, variations)
    for (amount, seed), one_shot in zip(variations, batch):
        assert close(one_shot, engine.regenerate(start, controls, HOST_RATE, 1.0, amount, seed))
    assert len({one_shot.tobytes() for one_shot in batch}) == 8  # distinct one-shots
    # one target set shared by all variations gives the same
    assert np.array_equal(engine.regenerate_batch(start, [controls], HOST_RATE, 1.0, variations), batch)


def test_keys_with_variation_and_a_start_from_audio(engine):
    start = engine.start_from_audio(engine.original(3) if engine.has_originals else engine.decode(
        engine.samples[3]["latent"]), engine.sample_rate)
    keys = neural_keys(engine, start, 6)
    variations = [(0.3 * key, 100 + key) for key in range(6)]
    batch = engine.regenerate_batch(start, keys, 0, 0.7, variations)
    for controls, (amount, seed), one_shot in zip(keys, variations, batch):
        assert close(one_shot, engine.regenerate(start, controls, 0, 0.7, amount, seed))
    single = engine.regenerate_batch(start, keys[:1], 0, 0.7, [(0.2, 9)])  # a batch of one
    assert close(single[0], engine.regenerate(start, keys[0], 0, 0.7, 0.2, 9))


def test_bad_batches_raise(engine):
    start = engine.sample_start(0)
    with pytest.raises(_engine.UsageError, match="target sets"):
        engine.regenerate_batch(start, [])
    with pytest.raises(_engine.UsageError, match="target sets"):
        engine.regenerate_batch(start, [{}] * 3, variations=[(0.1, 1), (0.1, 2)])
    with pytest.raises(_engine.UsageError, match="unknown control"):
        engine.regenerate_batch(start, [{}, {"pitch": 1.0}])
    with pytest.raises(_engine.UsageError, match="detail"):
        engine.regenerate_batch(start, [{}], detail=float("nan"))
    with pytest.raises(_engine.UsageError, match="variation"):
        engine.regenerate_batch(start, [{}], variations=[(-1.0, 1)])
    with pytest.raises(_engine.UsageError, match="latent has 3 values"):
        engine.decode_batch(np.zeros((2, 3)))
    assert engine.decode_batch(np.zeros((0, engine.latent_dim))).shape == (0, engine.length)
