"""The seed's autoencoder: a 1-D convolutional ResNet encoder/decoder around a dense latent.

Encoder, for level i = 0..len(factors)-1:
    strided conv (kernel 2*f+1, stride f) from channels*multipliers[i] to channels*multipliers[i+1],
    then num_blocks[i] pre-activation ResNet blocks (GroupNorm -> SiLU -> Conv, twice).
A dense layer maps the flattened last level to the latent (compression_rate * length values).
The decoder mirrors it with transposed convolutions. A linear head predicts the three audio
features (normalised) from the latent, which shapes the latent for the feature controls.

Lengths: the input is zero-padded at the end to a multiple of prod(factors) (6615 -> 7168 for
the seed's 4^5) and the decoder crops back, so output length == input length exactly.
Every module is TorchScript-compatible (scripted or traced).
Pure torch, no training dependencies: training (latentplay.training), export and the runtime
(`latentplay bench`'s eager decoder and MAC count) share this one definition.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

NUM_FEATURES = 3  # frequency, attack, release (latentplay.features.FEATURE_NAMES)


@dataclass
class ModelConfig:
    channels: int = 64
    compression_rate: float = 0.03
    factors: list[int] = field(default_factory=lambda: [4, 4, 4, 4, 4])
    in_channels: int = 1
    multipliers: list[int] = field(default_factory=lambda: [1, 2, 2, 2, 2, 1])
    num_blocks: list[int] = field(default_factory=lambda: [5, 5, 5, 5, 5])

    def __post_init__(self) -> None:
        if len(self.multipliers) != len(self.factors) + 1:
            raise ValueError("model.multipliers needs exactly one entry more than model.factors")
        if len(self.num_blocks) != len(self.factors):
            raise ValueError("model.num_blocks needs one entry per model.factors entry")

    def latent_dim(self, length: int) -> int:
        return int(self.compression_rate * length)

    def padded_length(self, length: int) -> int:
        hop = math.prod(self.factors)
        return math.ceil(length / hop) * hop


def group_count(channels: int) -> int:
    """GroupNorm groups: 8 when the channel count allows it (small demo models included)."""
    return math.gcd(channels, 8)


class ResnetBlock(nn.Module):
    """Pre-activation residual block: x + conv(silu(norm(conv(silu(norm(x))))))."""

    def __init__(self, channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        padding = kernel_size // 2
        self.norm1 = nn.GroupNorm(group_count(channels), channels)
        self.conv1 = nn.Conv1d(channels, channels, kernel_size, padding=padding)
        self.norm2 = nn.GroupNorm(group_count(channels), channels)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return x + h


def downsample(in_channels: int, out_channels: int, factor: int) -> nn.Conv1d:
    # kernel 2f+1, stride f, padding f: length L -> L / f for L a multiple of f
    return nn.Conv1d(in_channels, out_channels, 2 * factor + 1, stride=factor, padding=factor)


def upsample(in_channels: int, out_channels: int, factor: int) -> nn.ConvTranspose1d:
    # kernel 2f: length L -> L * f exactly, for odd factors too (output_padding absorbs f % 2)
    return nn.ConvTranspose1d(in_channels, out_channels, 2 * factor, stride=factor,
                              padding=factor // 2 + factor % 2, output_padding=factor % 2)


class Encoder(nn.Module):
    """Audio (B, in_channels, length) -> latent (B, latent_dim)."""

    def __init__(self, config: ModelConfig, length: int) -> None:
        super().__init__()
        widths = [config.channels * m for m in config.multipliers]
        self.length = length
        self.padded_length = config.padded_length(length)
        self.conv_in = nn.Conv1d(config.in_channels, widths[0], 7, padding=3)
        levels = []
        for i, factor in enumerate(config.factors):
            blocks = [ResnetBlock(widths[i + 1]) for _ in range(config.num_blocks[i])]
            levels.append(nn.Sequential(downsample(widths[i], widths[i + 1], factor), *blocks))
        self.levels = nn.Sequential(*levels)
        self.norm_out = nn.GroupNorm(group_count(widths[-1]), widths[-1])
        bottom = widths[-1] * (self.padded_length // math.prod(config.factors))
        self.to_latent = nn.Linear(bottom, config.latent_dim(length))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        x = F.pad(audio, (0, self.padded_length - self.length))
        x = self.levels(self.conv_in(x))
        x = F.silu(self.norm_out(x))
        return self.to_latent(x.flatten(1))


class Decoder(nn.Module):
    """Latent (B, latent_dim) -> audio (B, in_channels, length)."""

    def __init__(self, config: ModelConfig, length: int) -> None:
        super().__init__()
        widths = [config.channels * m for m in config.multipliers]
        self.length = length
        self.bottom_channels = widths[-1]
        self.bottom_length = config.padded_length(length) // math.prod(config.factors)
        self.from_latent = nn.Linear(config.latent_dim(length),
                                     self.bottom_channels * self.bottom_length)
        levels = []
        for i in reversed(range(len(config.factors))):
            blocks = [ResnetBlock(widths[i + 1]) for _ in range(config.num_blocks[i])]
            levels.append(nn.Sequential(*blocks, upsample(widths[i + 1], widths[i], config.factors[i])))
        self.levels = nn.Sequential(*levels)
        self.norm_out = nn.GroupNorm(group_count(widths[0]), widths[0])
        self.conv_out = nn.Conv1d(widths[0], config.in_channels, 7, padding=3)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        x = self.from_latent(latent).view(-1, self.bottom_channels, self.bottom_length)
        x = self.levels(x)
        x = self.conv_out(F.silu(self.norm_out(x)))
        return x[..., : self.length]


class AutoEncoder(nn.Module):
    """Encoder + decoder + the linear feature head (latent -> normalised features)."""

    def __init__(self, config: ModelConfig, length: int) -> None:
        super().__init__()
        self.config = config
        self.length = length
        self.latent_dim = config.latent_dim(length)
        self.encoder = Encoder(config, length)
        self.decoder = Decoder(config, length)
        self.feature_head = nn.Linear(self.latent_dim, NUM_FEATURES)

    def forward(self, audio: torch.Tensor, perturb: Callable[[torch.Tensor], torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """audio (B, 1, length) -> (reconstruction, latent, predicted normalised features).
        `perturb`, in training, changes the latents the decoder reconstructs from."""
        latent = self.encoder(audio)
        decoded_from = perturb(latent) if perturb is not None else latent
        return self.decoder(decoded_from), latent, self.feature_head(latent)


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def decoder_macs(config: ModelConfig, length: int) -> int:
    """Multiply-accumulates of one decode, counted from the layer shapes (no profiler)."""
    decoder = Decoder(config, length)
    macs = 0

    def count(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal macs
        if isinstance(module, nn.Conv1d):
            macs += output.numel() * module.in_channels * module.kernel_size[0] // module.groups
        elif isinstance(module, nn.ConvTranspose1d):
            macs += inputs[0].numel() * module.out_channels * module.kernel_size[0]
        elif isinstance(module, nn.Linear):
            macs += output.numel() * module.in_features

    hooks = [m.register_forward_hook(count) for m in decoder.modules()
             if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d, nn.Linear))]
    with torch.no_grad():
        decoder(torch.zeros(1, config.latent_dim(length)))
    for hook in hooks:
        hook.remove()
    return macs
