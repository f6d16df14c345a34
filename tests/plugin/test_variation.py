"""Per-note variation (the Variation parameter): every note plays a fresh point near the current
one, `Variation` times the typical distance between neighbouring training samples away."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from latentplay import _engine

DEMO = Path(__file__).resolve().parents[2] / "presets" / "demo.latentplay"
RATE = 48000
NOTE_EVERY = 0.5  # seconds: longer than a one-shot, so notes do not overlap
NOTES = 4


@pytest.fixture(scope="module")
def engine():
    return _engine.Engine(str(DEMO))


def test_variation_moves_the_latent_point_by_the_neighbour_distance(engine):
    latents = np.stack([sample["latent"] for sample in engine.samples])
    distances = np.linalg.norm(latents[:, None, :] - latents[None, :, :], axis=-1)
    np.fill_diagonal(distances, np.inf)
    assert engine.neighbour_distance == pytest.approx(np.median(distances.min(axis=1)), rel=1e-9)
    z = latents[0]
    for amount in (0.25, 1.0):
        moved = engine.vary(z, amount, 7)
        assert np.linalg.norm(moved - z) == pytest.approx(amount * engine.neighbour_distance, rel=1e-9)
    assert np.array_equal(engine.vary(z, 0.5, 7), engine.vary(z, 0.5, 7))  # a seed is a direction
    directions = [engine.vary(z, 1.0, seed) - z for seed in range(1, 50)]
    cosines = [a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) for a, b in zip(directions, directions[1:])]
    assert abs(np.mean(cosines)) < 0.15  # unrelated directions from neighbouring seeds
    assert np.array_equal(engine.vary(z, 0.0, 7), z)
    with pytest.raises(Exception, match="variation"):
        engine.vary(z, -0.5, 7)


def notes(plugin, variation: float) -> list[np.ndarray]:
    """NOTES notes of the same key, offline, each cut to one one-shot."""
    plugin.variation = variation
    midi = [(bytes([0x90, 60, 127]), k * NOTE_EVERY) for k in range(NOTES)]
    audio = plugin(midi, duration=NOTES * NOTE_EVERY, sample_rate=RATE, num_channels=2, buffer_size=512,
                   reset=True)[0]
    length = int(0.3 * RATE) - 2
    return [audio[int(k * NOTE_EVERY * RATE) + 1:][:length] for k in range(NOTES)]


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2) / np.mean(b ** 2)))


def test_every_note_varies_by_a_controlled_amount_and_bounces_are_identical(load_plugin):
    plugin = load_plugin(DEMO)
    plain = notes(plugin, 0.0)
    assert all(np.array_equal(note, plain[0]) for note in plain)  # Variation 0: the same one-shot, as before
    spread = {}
    for amount in (0.25, 1.0):
        varied = notes(plugin, amount)
        assert all(np.array_equal(a, b) for a, b in zip(varied, notes(plugin, amount)))  # bounces: bit-identical
        pairs = [relative_difference(varied[i], varied[j]) for i in range(NOTES) for j in range(i + 1, NOTES)]
        assert min(pairs) > 0.01  # every note its own
        spread[amount] = float(np.mean([relative_difference(note, plain[0]) for note in varied]))
    print(f"relative RMS difference to the unvaried note: Variation 0.25 {spread[0.25]:.3f}, 1.0 {spread[1.0]:.3f}")
    assert spread[1.0] > 2 * spread[0.25] > 0.02  # more variation, further away


def test_variation_zero_plays_the_engine_one_shot(load_plugin, engine):
    plugin = load_plugin(DEMO)
    played = notes(plugin, 0.0)[0]
    targets = {}
    for name, control in zip([c["name"] for c in engine.controls], engine.controls):
        low, high = control["range"]
        targets[name] = low + float(np.float32(plugin.parameters[name].raw_value)) * (high - low)
    expected = engine.regenerate(0, targets, RATE)[1:][:len(played)]
    assert np.max(np.abs(played - expected)) < 1e-6
