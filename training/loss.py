"""The seed's loss, with the envelope weighting actually applied, plus a frequency-steering term.

    L = MRSTFT(x̂·e, x·e) + α · mean((x̂·e − x·e)²) + β · mean((f̂ − f)²) + γ · S + λ · C
    e(t) = 1 + K · exp(−t / τ)            (t in seconds from the one-shot's start)

e(t) stresses the attack (the first tens of ms decide how a kick feels). f are the three audio
features, normalised to zero mean / unit variance over the training set so that β weighs Hz
and ms alike. The seed's code computed the weighted signals and then fed the unweighted ones to
the losses; here the weighted signals are what every term sees.

S, the steering term, is what makes the plugin's frequency control work. Reconstruction alone
never decodes a latent point *between* training one-shots, and an autoencoder's in-between
points tend to cross-fade two bodies rather than tune one, so a linear "frequency" direction
fitted at export time steered nothing (Spearman ρ 0.26 on the demo model). S decodes each
latent moved along the feature head's frequency direction (plus noise orthogonal to it) and asks
the decoded body to be pitched where that move says:

    S = mean(((F(D(z')) − F(x) − σ_f · Δ) / σ_f)²)

F is a differentiable stand-in for ``latentplay.features.frequency_hz`` (a soft arg-max of the
body's spectrum, `FrequencyEstimator`), Δ the requested change in normalised frequency and
σ_f the training set's frequency spread. Only frequency gets this term: attack and release
already steer (ρ ≈ 0.7) and have no equally exact differentiable measurement.

C, the click term (λ = `loss.click`, 0 in every config: a probe, docs/training.md), is the mean
absolute difference of the natural log of the click energy (`ClickEnergy`: the first 10 ms
above 1 kHz, exactly eval's click measure) between x̂ and x. It asks only for the attack's
high-frequency energy, not its waveform: e(t) asks for the waveform, and stressing it harder
(K 20) bought the click at the cost of everything else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import auraloss
import numpy as np
import torch
from scipy.signal import sosfilt
from torch import nn
from torch.nn import functional as F

from latentplay.features import FREQUENCY_BAND_HZ, FREQUENCY_WINDOW_OFFSET_MS
from latentplay.quality import STFT_SIZES, click_highpass, click_window
# Softmax temperature over the band's log power. Measured on the 160 procedural kicks against
# latentplay.features: 0.5 -> median error 0.00 %, worst 0.8 %; 1.0 -> worst 14 %.
SOFT_FREQUENCY_TEMPERATURE = 0.5
CLICK_ENERGY_FLOOR = 1e-6  # keeps the log's gradient bounded on near-silent attacks


@dataclass
class LossConfig:
    alpha: float = 100.0  # weight of the time-domain MSE
    gain: float = 5.0  # K: extra weight at t = 0
    tau: float = 0.1  # τ in seconds: how fast the extra weight decays
    beta: float = 50.0  # weight of the feature MSE
    fft_sizes: list[int] = field(default_factory=lambda: list(STFT_SIZES))
    steering: float = 10.0  # γ: weight of the frequency-steering term (0 turns it off)
    steering_noise: float = 0.5  # orthogonal noise on moved latents, × each dimension's batch std
    latent_noise: float = 0.0  # noise on the latents reconstructed from in training, × each dimension's batch std
    click: float = 0.0  # λ: weight of the click term (0 turns it off)


def envelope_weight(num_samples: int, sample_rate: int, gain: float, tau: float) -> torch.Tensor:
    """e(t) = 1 + K·exp(−t/τ) sampled at the model rate, shape (num_samples,)."""
    t = torch.arange(num_samples, dtype=torch.float32) / sample_rate
    return 1.0 + gain * torch.exp(-t / tau)


class FrequencyEstimator(nn.Module):
    """Differentiable body frequency in Hz, shape (B, length) -> (B,).

    Same window and band as ``latentplay.features.frequency_hz`` (from FREQUENCY_WINDOW_OFFSET_MS
    to the end, Hann, zero-padded ≥ 4×), but the peak is a softmax-weighted mean of the band's
    frequencies instead of an arg-max, so gradients reach the waveform. The window starts at a
    fixed time rather than after the envelope's peak: one-shots are trimmed to their onset and
    kick attacks are a few ms.
    """

    def __init__(self, num_samples: int, sample_rate: int,
                 temperature: float = SOFT_FREQUENCY_TEMPERATURE) -> None:
        super().__init__()
        self.start = min(int(FREQUENCY_WINDOW_OFFSET_MS / 1000 * sample_rate), num_samples // 2)
        window_length = num_samples - self.start
        self.fft_size = 1 << math.ceil(math.log2(4 * window_length))
        self.temperature = temperature
        frequencies = torch.fft.rfftfreq(self.fft_size, 1.0 / sample_rate)
        in_band = (frequencies >= FREQUENCY_BAND_HZ[0]) & (frequencies <= FREQUENCY_BAND_HZ[1])
        self.register_buffer("window", torch.hann_window(window_length, periodic=False))
        self.register_buffer("band_bins", torch.nonzero(in_band).flatten())
        self.register_buffer("band_frequencies", frequencies[in_band])

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        body = audio.float()[..., self.start:] * self.window
        spectrum = torch.fft.rfft(body, n=self.fft_size)[..., self.band_bins]
        log_power = torch.log(spectrum.real ** 2 + spectrum.imag ** 2 + 1e-12)
        weights = torch.softmax(log_power / self.temperature, dim=-1)
        return (weights * self.band_frequencies).sum(-1)


class ClickEnergy(nn.Module):
    """Differentiable click energy, shape (B, 1, length) -> (B,) natural log: exactly what
    ``latentplay.quality.click_energy_db`` measures (there in dB). Its causal high-pass, started
    from silence, gives the window's first n outputs from the first n samples of its impulse
    response alone, so that truncated response, applied as a convolution, is the same filter."""

    def __init__(self, sample_rate: int) -> None:
        super().__init__()
        self.window = click_window(sample_rate)
        impulse = np.zeros(self.window)
        impulse[0] = 1.0
        response = sosfilt(click_highpass(sample_rate), impulse)
        # conv1d correlates: the flipped response convolves
        self.register_buffer("response", torch.tensor(response[::-1].copy(), dtype=torch.float32).view(1, 1, -1),
                             persistent=False)  # derived, not learned: checkpoints from before the term still load

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        head = F.pad(audio.float()[..., :self.window], (self.window - 1, 0))  # silence before the onset
        high = F.conv1d(head, self.response)
        return torch.log(high.pow(2).sum(dim=(-2, -1)) + CLICK_ENERGY_FLOOR)


@dataclass
class LossTerms:
    total: torch.Tensor
    stft: torch.Tensor
    time_mse: torch.Tensor
    feature_mse: torch.Tensor
    steering: torch.Tensor
    click: torch.Tensor


@dataclass
class SteeredDecode:
    """Audio decoded from moved latents, with the frequency change (Hz) each move asked for."""
    audio: torch.Tensor  # (B, 1, length)
    requested_shift_hz: torch.Tensor  # (B,)
    frequency_std_hz: float  # σ_f, to express the error in the same units as the feature MSE


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
        self.frequency = FrequencyEstimator(num_samples, sample_rate)
        self.click_energy = ClickEnergy(sample_rate)

    def forward(self, reconstruction: torch.Tensor, target: torch.Tensor,
                predicted_features: torch.Tensor, target_features: torch.Tensor,
                steered: SteeredDecode | None = None) -> LossTerms:
        # Spectral losses are unstable in half precision: always compute them in float32.
        with torch.autocast(device_type=reconstruction.device.type, enabled=False):
            weighted_reconstruction = reconstruction.float() * self.weight
            weighted_target = target.float() * self.weight
            stft = self.stft(weighted_reconstruction, weighted_target)
            time_mse = torch.mean((weighted_reconstruction - weighted_target) ** 2)
            feature_mse = torch.mean((predicted_features.float() - target_features.float()) ** 2)
            steering = self.steering_error(steered, target) if steered is not None else stft.new_zeros(())
            click = (torch.mean(torch.abs(self.click_energy(reconstruction) - self.click_energy(target)))
                     if self.config.click > 0 else stft.new_zeros(()))
            total = (stft + self.config.alpha * time_mse + self.config.beta * feature_mse
                     + self.config.steering * steering + self.config.click * click)
        return LossTerms(total, stft, time_mse, feature_mse, steering, click)

    def plain_mrstft(self, reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """MR-STFT of the unweighted signals: the reconstruction measure eval reports."""
        with torch.autocast(device_type=reconstruction.device.type, enabled=False):
            return self.stft(reconstruction.float(), target.float())

    def steering_error(self, steered: SteeredDecode, target: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            original_hz = self.frequency(target[:, 0])
        wanted_hz = original_hz + steered.requested_shift_hz.float()
        error = (self.frequency(steered.audio[:, 0]) - wanted_hz) / steered.frequency_std_hz
        return torch.mean(error ** 2)
