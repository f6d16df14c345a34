"""The seed's loss, with the envelope weighting actually applied.

    L = MRSTFT(x̂·e, x·e) + α · mean((x̂·e − x·e)²) + β · mean((f̂ − f)²)
    e(t) = 1 + K · exp(−t / τ)            (t in seconds from the one-shot's start)

e(t) stresses the attack (the first tens of ms decide how a kick feels). f are the three audio
features, normalised to zero mean / unit variance over the training set so that β weighs Hz
and ms alike. The seed's code computed the weighted signals and then fed the unweighted ones to
the losses; here the weighted signals are what every term sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import auraloss
import torch
from torch import nn

STFT_SIZES = [32, 64, 128, 256, 512, 1024, 2048]


@dataclass
class LossConfig:
    alpha: float = 100.0  # weight of the time-domain MSE
    gain: float = 5.0  # K: extra weight at t = 0
    tau: float = 0.1  # τ in seconds: how fast the extra weight decays
    beta: float = 50.0  # weight of the feature MSE
    fft_sizes: list[int] = field(default_factory=lambda: list(STFT_SIZES))


def envelope_weight(num_samples: int, sample_rate: int, gain: float, tau: float) -> torch.Tensor:
    """e(t) = 1 + K·exp(−t/τ) sampled at the model rate, shape (num_samples,)."""
    t = torch.arange(num_samples, dtype=torch.float32) / sample_rate
    return 1.0 + gain * torch.exp(-t / tau)


@dataclass
class LossTerms:
    total: torch.Tensor
    stft: torch.Tensor
    time_mse: torch.Tensor
    feature_mse: torch.Tensor


class LatentPlayLoss(nn.Module):
    def __init__(self, config: LossConfig, num_samples: int, sample_rate: int) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("weight", envelope_weight(num_samples, sample_rate, config.gain, config.tau))
        self.stft = auraloss.freq.MultiResolutionSTFTLoss(
            fft_sizes=config.fft_sizes,
            hop_sizes=[size // 4 for size in config.fft_sizes],
            win_lengths=config.fft_sizes,
        )

    def forward(self, reconstruction: torch.Tensor, target: torch.Tensor,
                predicted_features: torch.Tensor, target_features: torch.Tensor) -> LossTerms:
        # Spectral losses are unstable in half precision: always compute them in float32.
        with torch.autocast(device_type=reconstruction.device.type, enabled=False):
            weighted_reconstruction = reconstruction.float() * self.weight
            weighted_target = target.float() * self.weight
            stft = self.stft(weighted_reconstruction, weighted_target)
            time_mse = torch.mean((weighted_reconstruction - weighted_target) ** 2)
            feature_mse = torch.mean((predicted_features.float() - target_features.float()) ** 2)
            total = stft + self.config.alpha * time_mse + self.config.beta * feature_mse
        return LossTerms(total, stft, time_mse, feature_mse)
