"""Pitch-shift augmentation: the same one-shot played faster or slower, as a sampler does.

Why: a pack holds each kind of kick at a few pitches only (the demo's 808 booms sit at 38-55 Hz),
so a decoder trained on the pack alone has no idea what an 808 boom at 90 Hz sounds like, and
the frequency control jumps between the pitches it knows instead of gliding. Training on copies
of every one-shot resampled by up to ``pitch_shift_semitones`` teaches the latent space that pitch
is continuous within each character.

A shift by s semitones plays the one-shot 2^(s/12) times faster: all frequencies rise by that
ratio and all times shrink by it (attack and release too). The copy is prepared like a loaded
one-shot (cropped or zero-padded to the model length, same fade-out), and its features are
measured on it, not derived from the original's, so targets are exactly what eval would measure.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch
from scipy.signal import resample_poly
from torch.utils.data import Dataset

from latentplay.audio import PrepConfig, apply_fade_out, fit_length
from latentplay.features import measure_features

# The speed ratio is realised as a polyphase resampler up/down; a denominator bound of 64 keeps
# the filters short and the realised shift within 0.03 semitones of the drawn one.
MAX_RATIO_DENOMINATOR = 64


def pitch_shift(audio: np.ndarray, semitones: float, prep: PrepConfig) -> np.ndarray:
    """``audio`` (a prepared one-shot) played 2^(semitones/12) times faster, prepared again."""
    speed = Fraction(2.0 ** (-semitones / 12.0)).limit_denominator(MAX_RATIO_DENOMINATOR)
    shifted = resample_poly(np.asarray(audio, dtype=np.float64), speed.numerator, speed.denominator)
    return apply_fade_out(fit_length(shifted, prep.num_samples), prep.fade_out).astype(np.float32)


def derived_seed(*entropy: int) -> int:
    """A 63-bit seed from a tuple of non-negative integers (run seed, DDP rank, worker...):
    distinct tuples give unrelated streams, unlike ``seed + rank``, which collides across runs."""
    return int(np.random.SeedSequence([int(value) for value in entropy]).generate_state(1, np.uint64)[0] >> 1)


class PitchShiftedOneShots(Dataset):
    """(audio (1, length), normalised features (3,)) pairs; with ``probability`` a fetch returns a
    copy shifted by a uniform draw from ±``max_semitones``.

    The draws come from the data set's own generator, seeded by ``seed(*entropy)`` (training: the
    run's seed and the DDP rank, so that every rank draws its own shifts; seeded runs repeat), and
    each DataLoader worker derives its own stream from it (workers are persistent: a worker's
    stream goes on across epochs)."""

    def __init__(self, audio: np.ndarray, features: np.ndarray, feature_mean: np.ndarray,
                 feature_std: np.ndarray, prep: PrepConfig, max_semitones: float, probability: float,
                 seed: int = 0) -> None:
        self.audio = np.asarray(audio, dtype=np.float32)
        self.feature_mean = np.asarray(feature_mean, dtype=np.float64)
        self.feature_std = np.asarray(feature_std, dtype=np.float64)
        self.normalised = self.normalise(features)
        self.prep = prep
        self.max_semitones = max_semitones
        self.probability = probability
        self.seed(seed)

    def seed(self, *entropy: int) -> None:
        """Restart the augmentation draws from ``entropy`` (e.g. run seed, global rank)."""
        self.entropy = tuple(entropy)
        self._generator: torch.Generator | None = None
        self._generator_owner: int | None = None

    def generator(self) -> torch.Generator:
        """This process' generator: the main process' (worker None) or a worker's own."""
        info = torch.utils.data.get_worker_info()
        owner = None if info is None else info.id
        if self._generator is None or self._generator_owner != owner:
            key = self.entropy if owner is None else (*self.entropy, 1, owner)
            self._generator = torch.Generator().manual_seed(derived_seed(*key))
            self._generator_owner = owner
        return self._generator

    def __len__(self) -> int:
        return len(self.audio)

    def normalise(self, features: np.ndarray) -> np.ndarray:
        return ((np.asarray(features) - self.feature_mean) / self.feature_std).astype(np.float32)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        audio, features = self.audio[index], self.normalised[index]
        if self.max_semitones > 0:
            chance, amount = torch.rand(2, generator=self.generator()).tolist()  # two draws per fetch
        else:
            chance, amount = 1.0, 0.0  # never shifted
        if chance < self.probability:
            semitones = (2.0 * amount - 1.0) * self.max_semitones
            audio = pitch_shift(audio, semitones, self.prep)
            features = self.normalise(measure_features(audio, self.prep.sample_rate).as_array())
        return torch.from_numpy(np.ascontiguousarray(audio)).unsqueeze(0), torch.from_numpy(features)
