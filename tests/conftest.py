"""Shared test helpers: small real audio made on the spot."""

from __future__ import annotations

import numpy as np
import pytest


def simple_kick(sample_rate: int, seconds: float = 0.4, f0: float = 55.0, decay_s: float = 0.08) -> np.ndarray:
    """A decaying sine with a short pitch drop: enough of a kick for loader tests."""
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    frequency = f0 * (1 + 2 * np.exp(-t / 0.01))
    phase = 2 * np.pi * np.cumsum(frequency) / sample_rate
    return 0.9 * np.sin(phase) * np.exp(-t / decay_s)


@pytest.fixture
def kick():
    return simple_kick
