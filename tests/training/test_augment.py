"""Pitch-shift augmentation on real procedural kicks: the shifted copy sounds like the kick played
faster or slower (frequency up by the ratio, attack and release shorter by it), and the dataset
pairs each fetch with the features measured on the audio it returns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentplay.audio import PrepConfig, prepare_one_shot
from latentplay.features import measure_features
from latentplay.synth import STYLES, render_kick, sample_params
from latentplay.training.augment import PitchShiftedOneShots, pitch_shift

PREP = PrepConfig(sample_rate=22050, duration_s=0.3, fade_out=0.1)
# A slowed-down kick is cropped at 300 ms and faded over the last 30: a longer release is cut.
RELEASE_MEASURABLE_MS = 250.0


@pytest.fixture(scope="module")
def kicks() -> dict[str, np.ndarray]:
    """One prepared kick per style."""
    rng = np.random.default_rng(5)
    return {style: prepare_one_shot(render_kick(sample_params(style, rng), PREP.sample_rate, seed=index),
                                    PREP.sample_rate, PREP)
            for index, style in enumerate(sorted(STYLES))}


@pytest.mark.parametrize("semitones", [-7.0, -2.5, 3.0, 12.0])
def test_a_shift_scales_frequency_up_and_times_down_by_the_speed_ratio(kicks, semitones):
    speed = 2.0 ** (semitones / 12.0)
    for style, audio in kicks.items():
        before = measure_features(audio, PREP.sample_rate)
        shifted = pitch_shift(audio, semitones, PREP)
        after = measure_features(shifted, PREP.sample_rate)
        assert shifted.shape == audio.shape and shifted.dtype == np.float32
        assert after.frequency_hz == pytest.approx(before.frequency_hz * speed, rel=0.03)
        # Attack times are a few ms: allow the envelope's 0.5 ms smoothing on top of the 5 %. The
        # saturated kick's body has two envelope peaks within 0.5 dB of each other, so its measured
        # attack jumps between them as the shape changes (a trait of the feature, not of the shift).
        if style != "distorted":
            assert after.attack_ms == pytest.approx(before.attack_ms / speed, rel=0.05, abs=0.25)
        if before.release_ms / speed < RELEASE_MEASURABLE_MS:
            assert after.release_ms == pytest.approx(before.release_ms / speed, rel=0.05)


def test_no_shift_returns_the_one_shot_and_its_features(kicks):
    kicks = np.stack(list(kicks.values()))
    features = np.stack([measure_features(a, PREP.sample_rate).as_array() for a in kicks])
    mean, std = features.mean(axis=0), features.std(axis=0)
    dataset = PitchShiftedOneShots(kicks, features, mean, std, PREP, max_semitones=12.0, probability=0.0)
    audio, normalised = dataset[2]
    assert torch.equal(audio, torch.from_numpy(kicks[2]).unsqueeze(0))
    np.testing.assert_allclose(normalised.numpy(), (features[2] - mean) / std, rtol=1e-6)


def test_shifted_fetches_carry_the_features_of_the_audio_they_return(kicks):
    kicks = np.stack(list(kicks.values()))
    features = np.stack([measure_features(a, PREP.sample_rate).as_array() for a in kicks])
    mean, std = features.mean(axis=0), features.std(axis=0)
    dataset = PitchShiftedOneShots(kicks, features, mean, std, PREP, max_semitones=12.0, probability=1.0)
    torch.manual_seed(0)
    ratios = []
    for index in range(len(kicks)):
        audio, normalised = dataset[index]
        measured = measure_features(audio[0].numpy(), PREP.sample_rate).as_array()
        np.testing.assert_allclose(normalised.numpy() * std + mean, measured, rtol=1e-5)
        ratios.append(measured[0] / features[index, 0])
    assert not np.allclose(ratios, 1.0, atol=0.02), ratios  # every fetch was shifted
    assert all(2.0 ** -1 * 0.97 <= r <= 2.0 * 1.03 for r in ratios), ratios  # within an octave
