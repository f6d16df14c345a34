"""The loss: the envelope weighting is really applied, as the seed's README specifies."""

from __future__ import annotations

import math

import pytest
import torch

from latentplay.training.loss import LatentPlayLoss, LossConfig, envelope_weight

RATE = 22050
LENGTH = 6615


def test_envelope_weight_formula():
    weight = envelope_weight(LENGTH, RATE, gain=5.0, tau=0.1)
    assert weight[0] == pytest.approx(6.0)
    t = 2205 / RATE  # 0.1 s = τ
    assert weight[2205] == pytest.approx(1 + 5 * math.exp(-t / 0.1), rel=1e-6)
    assert torch.all(weight[1:] < weight[:-1])  # decreasing towards 1
    assert weight[-1] == pytest.approx(1 + 5 * math.exp(-0.3 / 0.1), rel=1e-4)


def loss_of(error_start: int, gain: float, alpha: float = 100.0) -> float:
    """Loss of a reconstruction whose only error is a 10 ms burst starting at error_start."""
    loss = LatentPlayLoss(LossConfig(alpha=alpha, gain=gain, beta=0.0), LENGTH, RATE)
    target = torch.zeros(1, 1, LENGTH)
    reconstruction = target.clone()
    reconstruction[..., error_start:error_start + 220] = 0.1
    features = torch.zeros(1, 3)
    return float(loss(reconstruction, target, features, features).time_mse)


def test_weighting_stresses_errors_at_the_attack():
    early, late = loss_of(0, gain=5.0), loss_of(5000, gain=5.0)
    weight = envelope_weight(LENGTH, RATE, 5.0, 0.1)
    expected_ratio = float((weight[:220] ** 2).mean() / (weight[5000:5220] ** 2).mean())
    assert early / late == pytest.approx(expected_ratio, rel=1e-3)
    assert early / late > 10


def test_without_gain_errors_weigh_the_same_everywhere():
    assert loss_of(0, gain=0.0) == pytest.approx(loss_of(5000, gain=0.0), rel=1e-6)


def test_total_combines_the_three_weighted_terms():
    torch.manual_seed(0)
    config = LossConfig(alpha=100.0, gain=5.0, tau=0.1, beta=50.0)
    loss = LatentPlayLoss(config, LENGTH, RATE)
    target, reconstruction = torch.randn(2, 1, LENGTH), torch.randn(2, 1, LENGTH)
    predicted, features = torch.randn(2, 3), torch.randn(2, 3)
    terms = loss(reconstruction, target, predicted, features)
    weight = envelope_weight(LENGTH, RATE, 5.0, 0.1)
    expected_mse = torch.mean(((reconstruction - target) * weight) ** 2)
    assert float(terms.time_mse) == pytest.approx(float(expected_mse), rel=1e-5)
    assert float(terms.feature_mse) == pytest.approx(float(torch.mean((predicted - features) ** 2)), rel=1e-6)
    assert float(terms.total) == pytest.approx(
        float(terms.stft + 100 * terms.time_mse + 50 * terms.feature_mse), rel=1e-5)


def stft_loss_of_burst(error_start: int, gain: float) -> float:
    """Spectral term for stationary noise whose reconstruction misses a 10 ms burst."""
    generator = torch.Generator().manual_seed(1)
    target = 0.1 * torch.randn(1, 1, LENGTH, generator=generator)
    reconstruction = target.clone()
    reconstruction[..., error_start:error_start + 220] += 0.5
    features = torch.zeros(1, 3)
    loss = LatentPlayLoss(LossConfig(gain=gain), LENGTH, RATE)
    return float(loss(reconstruction, target, features, features).stft)


def test_spectral_term_sees_the_weighted_signals():
    flat_ratio = stft_loss_of_burst(100, gain=0.0) / stft_loss_of_burst(5000, gain=0.0)
    weighted_ratio = stft_loss_of_burst(100, gain=5.0) / stft_loss_of_burst(5000, gain=5.0)
    assert flat_ratio == pytest.approx(1.0, abs=0.2)
    assert weighted_ratio > 1.5 * flat_ratio
