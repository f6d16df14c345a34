"""The device-resident pipeline (training/device_data.py) against the definitions it batches:
the torch feature measurement equals latentplay.features, the batched pitch shift equals the
legacy SciPy one, the batched augmentation draws what the legacy data set draws, and
`latentplay bench-train` prints its table."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy import stats

from latentplay.audio import PrepConfig, UnusableAudio, prepare_one_shot, read_audio
from latentplay.features import measure_features
from latentplay.kits import HYDROGEN_KIT_DIRS
from latentplay.synth import STYLES, render_kick, sample_params
from latentplay.training.augment import PitchShiftedOneShots, pitch_shift
from latentplay.training.config import load_config
from latentplay.training.device_data import (BatchedPitchShift, DeviceOneShotDataModule, measure_features_batch,
                                             pitch_shift_batch)
from latentplay.training.lightning import OneShotDataModule

PREP = PrepConfig(sample_rate=22050, duration_s=0.3, fade_out=0.1)
TICK_MS = 1000.0 / PREP.sample_rate  # one sample


@pytest.fixture(scope="module")
def procedural() -> np.ndarray:
    """Three prepared kicks per style."""
    rng = np.random.default_rng(11)
    styles = sorted(STYLES)
    return np.stack([prepare_one_shot(render_kick(sample_params(styles[i % len(styles)], rng), PREP.sample_rate,
                                                  seed=i), PREP.sample_rate, PREP) for i in range(3 * len(styles))])


@pytest.fixture(scope="module")
def real() -> np.ndarray:
    """Up to 16 real recorded kicks from the Hydrogen kits (Debian's hydrogen-drumkits)."""
    files = sorted(path for folder in HYDROGEN_KIT_DIRS if folder.is_dir() for path in folder.glob("*/*")
                   if "kick" in path.name.lower() and path.suffix.lower() in (".wav", ".flac"))
    one_shots = []
    for path in files[:: max(1, len(files) // 16)][:16]:
        try:
            frames, rate, _ = read_audio(path)
            one_shots.append(prepare_one_shot(frames, rate, PREP))
        except UnusableAudio:
            continue
    if len(one_shots) < 4:
        pytest.skip("no Hydrogen drum kits: apt-get install hydrogen-drumkits hydrogen-data")
    return np.stack(one_shots)


def reference(one_shots: np.ndarray) -> np.ndarray:
    return np.stack([measure_features(a, PREP.sample_rate).as_array().astype(np.float64) for a in one_shots])


def assert_features_equal(one_shots: np.ndarray) -> None:
    measured = measure_features_batch(torch.from_numpy(np.asarray(one_shots, dtype=np.float32)),
                                      PREP.sample_rate).numpy()
    expected = reference(one_shots)
    np.testing.assert_allclose(measured[:, 0], expected[:, 0], rtol=1e-5)  # frequency, Hz
    # attack and release are whole samples: equal, or one sample apart where a level sits on a
    # threshold to within rounding (the float32 features round to 1e-4 ms anyway)
    np.testing.assert_allclose(measured[:, 1:], expected[:, 1:], atol=TICK_MS + 1e-3)
    assert np.mean(np.abs(measured[:, 1:] - expected[:, 1:]) < 1e-3) >= 0.95


def test_torch_features_equal_latentplay_features_on_procedural_kicks(procedural):
    assert_features_equal(procedural)


def test_torch_features_equal_latentplay_features_on_real_kicks(real):
    assert_features_equal(real)


def test_torch_features_equal_on_shifted_silent_and_odd_one_shots(procedural):
    shifted = np.stack([pitch_shift(a, s, PREP) for a, s in zip(procedural[:6], (-12, -5.5, -1, 2, 7, 12))])
    rng = np.random.default_rng(3)
    noise = (rng.standard_normal(PREP.num_samples) * np.linspace(1, 0, PREP.num_samples)).astype(np.float32)
    late = np.zeros(PREP.num_samples, np.float32)
    late[5000:] = np.sin(np.arange(PREP.num_samples - 5000) * 2 * np.pi * 200 / 22050)  # short window, 200 Hz
    silent = np.zeros(PREP.num_samples, np.float32)
    assert_features_equal(np.concatenate([shifted, np.stack([noise, late, silent])]))


@pytest.mark.parametrize("semitones", [-12.0, -7.3, -1.0, 0.4, 5.0, 12.0])
def test_batched_pitch_shift_equals_the_scipy_one(procedural, semitones):
    """At the ratio the legacy path realises (a fraction with denominator <= 64), the batched
    shift is resample_poly's output to within 1e-3 of full scale."""
    from fractions import Fraction

    from latentplay.training.augment import MAX_RATIO_DENOMINATOR

    speed = Fraction(2.0 ** (-semitones / 12.0)).limit_denominator(MAX_RATIO_DENOMINATOR)
    realised = -12.0 * np.log2(float(speed))
    batch = torch.from_numpy(procedural)
    shifted = pitch_shift_batch(batch, torch.full((len(batch),), realised), PREP, max_semitones=12.0).numpy()
    expected = np.stack([pitch_shift(a, semitones, PREP) for a in procedural])
    assert shifted.shape == expected.shape and shifted.dtype == np.float32
    assert np.abs(shifted - expected).max() < 1e-3


def test_batched_augmentation_draws_what_the_legacy_data_set_draws(procedural):
    """Same definition: a one-shot is shifted with probability p by a uniform draw from ±max, and
    carries the features measured on the audio it returns. Same distribution: the share shifted
    and the realised frequency ratios match the legacy data set's over many fetches."""
    features = reference(procedural)
    mean, std = features.mean(axis=0), features.std(axis=0)
    augment = BatchedPitchShift(mean, std, PREP, max_semitones=12.0, probability=0.5, seed=1)
    audio = torch.from_numpy(procedural)
    normalised = torch.from_numpy(((features - mean) / std).astype(np.float32))
    new_ratios, new_shifted = [], 0
    for _ in range(8):
        out_audio, out_features = augment(audio, normalised)
        changed = (out_audio != audio).any(dim=1).numpy()
        new_shifted += changed.sum()
        physical = out_features.numpy() * std + mean
        np.testing.assert_allclose(physical, reference(out_audio.numpy()), rtol=1e-4, atol=TICK_MS + 1e-3)
        np.testing.assert_array_equal(out_features.numpy()[~changed], normalised.numpy()[~changed])
        new_ratios += list(physical[changed, 0] / features[changed, 0])
    legacy = PitchShiftedOneShots(procedural, features, mean, std, PREP, max_semitones=12.0, probability=0.5, seed=1)
    old_ratios, old_shifted = [], 0
    for _ in range(8):
        for index in range(len(procedural)):
            fetched, fetched_features = legacy[index]
            if not torch.equal(fetched[0], audio[index]):
                old_shifted += 1
                old_ratios.append((fetched_features.numpy() * std + mean)[0] / features[index, 0])
    draws = 8 * len(procedural)
    # ~60 of 120 each (binomial standard deviation 5.5: 4.4 of them either side)
    assert abs(new_shifted - draws / 2) <= 24 and abs(old_shifted - draws / 2) <= 24, (new_shifted, old_shifted)
    for ratios in (new_ratios, old_ratios):  # log2 of the ratio ~ uniform over ±1 octave
        octaves = np.log2(ratios)
        assert octaves.min() > -1.05 and octaves.max() < 1.05
        # uniform: mean 0 (standard error 0.075 for 60 draws), std 1/sqrt(3) = 0.58
        assert abs(np.mean(octaves)) < 0.3 and 0.45 < np.std(octaves) < 0.7
    assert stats.ks_2samp(np.log2(new_ratios), np.log2(old_ratios)).pvalue > 1e-3  # one distribution


def test_device_data_module_batches_like_the_dataset_one(procedural):
    """Same split and validation batches; training draws seeded by (seed, rank)."""
    features = reference(procedural)
    mean, std = features.mean(axis=0), features.std(axis=0)
    config = load_config("smoke", ["data.pitch_shift_semitones=12", "data.pitch_shift_probability=1.0"])
    old = OneShotDataModule(procedural, features, mean, std, config)
    new = DeviceOneShotDataModule(procedural, features, mean, std, config)
    assert (old.train_indices, old.val_indices) == (new.train_indices, new.val_indices)
    old_audio, old_features = next(iter(old.val_dataloader()))
    indices = next(iter(new.val_dataloader()))
    new_audio, new_features = new.on_after_batch_transfer(indices, 0)  # no trainer: not training
    assert torch.equal(old_audio, new_audio) and torch.allclose(old_features, new_features, atol=1e-6)

    def drawn(rank: int) -> torch.Tensor:
        data = DeviceOneShotDataModule(procedural, features, mean, std, config)
        data.trainer = SimpleNamespace(global_rank=rank)
        data.setup("fit")
        return data.batch([0, 1, 2])[0]

    assert torch.equal(drawn(0), drawn(0)) and not torch.equal(drawn(0), drawn(1))


def test_bench_train_prints_its_table(capsys):
    from latentplay.cli import main

    assert main(["bench-train", "--configs", "smoke", "--device", "cpu", "--steps", "2", "--warmup", "1",
                 "--pack-size", "8", "--set", "data.pitch_shift_semitones=12"]) == 0
    output = capsys.readouterr().out
    assert "one-shots/s" in output and "new/current" in output and "matmul peak" in output, output
    rows = [line for line in output.splitlines() if re.match(r"smoke\s+cpu\s+(dataset|device)\s", line)]
    assert len(rows) == 2 and rows[1].rstrip().endswith("x"), output
