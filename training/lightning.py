"""Lightning wrappers: the data module, the training module and the audio-examples callback."""

from __future__ import annotations

import hashlib
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_only
from torch.utils.data import DataLoader

from latentplay.audio import write_wav
from latentplay.model import AutoEncoder
from latentplay.plot import save_figure
from latentplay.training.augment import PitchShiftedOneShots, derived_seed
from latentplay.training.config import TrainConfig, from_dict
from latentplay.training.loss import LatentPlayLoss, SteeredDecode

MONITOR = "val/mrstft"  # plain MR-STFT of unaugmented reconstructions (see OneShotDataModule)


class PackDataModule(L.LightningDataModule):
    """What both training pipelines share: the seeded split, the validation set, the loaders, and
    per-rank seeds for the augmentation (``augmentation.seed(*entropy)``).

    Validation runs every epoch: on the held-out one-shots when data.val_split > 0, otherwise on
    the training one-shots themselves, unaugmented. Either way it measures what the instrument
    will play (a plain reconstruction), which is what checkpoints and early stopping watch."""

    def __init__(self, count: int, config: TrainConfig, augmentation) -> None:
        super().__init__()
        self.config = config
        self.augmentation = augmentation
        self.train_indices, self.val_indices = split_indices(count, config.data.val_split, config.training.seed)
        augmentation.seed(config.training.seed, 0)

    def setup(self, stage: str) -> None:
        # Every DDP rank draws its own pitch shifts (the same seed everywhere would shift the
        # k-th fetch of every rank alike). Lightning gives each rank its share of the one-shots
        # by wrapping these loaders' samplers in a DistributedSampler (use_distributed_sampler).
        if self.trainer is not None:
            self.augmentation.seed(self.config.training.seed, self.trainer.global_rank)

    @property
    def has_validation(self) -> bool:
        """Whether some one-shots are held out (else validation measures the training ones)."""
        return len(self.val_indices) > 0

    @property
    def validation_indices(self) -> list[int]:
        return self.val_indices if self.has_validation else self.train_indices

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.items(self.train_indices, train=True), shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.items(self.validation_indices, train=False), shuffle=False)

    def items(self, indices: list[int], train: bool):
        """What the loader of these one-shots iterates over."""
        raise NotImplementedError

    loader_workers = 0  # worker processes per loader

    def _loader(self, items, shuffle: bool) -> DataLoader:
        workers = self.loader_workers
        return DataLoader(items, batch_size=self.config.data.batch_size, shuffle=shuffle,
                          num_workers=workers, persistent_workers=workers > 0)


class OneShotDataModule(PackDataModule):
    """Prepared one-shots and their normalised features, held in memory (packs are small), fetched
    one by one; training fetches may be pitch-shifted copies (data.pitch_shift_*, on the CPU),
    validation's never are."""

    def __init__(self, audio: np.ndarray, features: np.ndarray, feature_mean: np.ndarray,
                 feature_std: np.ndarray, config: TrainConfig) -> None:
        data = config.data
        self.train_set = PitchShiftedOneShots(audio, features, feature_mean, feature_std, data.prep(),
                                              data.pitch_shift_semitones, data.pitch_shift_probability)
        self.val_set = PitchShiftedOneShots(audio, features, feature_mean, feature_std, data.prep(),
                                            max_semitones=0.0, probability=0.0)
        super().__init__(len(audio), config, self.train_set)
        self.loader_workers = data.num_workers

    def items(self, indices: list[int], train: bool):
        return torch.utils.data.Subset(self.train_set if train else self.val_set, indices)


def make_data_module(audio: np.ndarray, features: np.ndarray, feature_mean: np.ndarray,
                     feature_std: np.ndarray, config: TrainConfig) -> L.LightningDataModule:
    """The data module of ``config.data.pipeline``: "device" (DeviceOneShotDataModule) or
    "dataset" (OneShotDataModule, the per-fetch CPU path)."""
    if config.data.pipeline == "device":
        from latentplay.training.device_data import DeviceOneShotDataModule

        return DeviceOneShotDataModule(audio, features, feature_mean, feature_std, config)
    return OneShotDataModule(audio, features, feature_mean, feature_std, config)


def split_indices(count: int, val_split: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded split; at least one training one-shot, validation only when asked for."""
    order = np.random.default_rng(seed).permutation(count).tolist()
    val_count = min(int(round(count * val_split)), count - 1) if val_split > 0 else 0
    return sorted(order[val_count:]), sorted(order[:val_count])


def spread_noise(latent: torch.Tensor, scale: float) -> torch.Tensor:
    """Gaussian noise of `scale` × each latent dimension's spread over the batch (detached: the
    noise is a perturbation, not something to train the encoder through)."""
    return torch.randn_like(latent) * latent.detach().std(dim=0, correction=0, keepdim=True) * scale


class LatentPlayModule(L.LightningModule):
    """The autoencoder and its loss. Hyper-parameters (the whole config and the feature
    normalisation) are saved in every checkpoint, so a checkpoint alone rebuilds the model."""

    def __init__(self, config: dict, feature_mean: list[float], feature_std: list[float]) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.train_config: TrainConfig = from_dict(config)
        data = self.train_config.data
        num_samples = data.prep().num_samples
        self.model = AutoEncoder(self.train_config.model, num_samples)
        self.loss = LatentPlayLoss(self.train_config.loss, num_samples, data.sr)

    def forward(self, audio: torch.Tensor):
        return self.model(audio)

    def _step(self, batch, stage: str) -> torch.Tensor:
        audio, features = batch
        reconstruction, latent, predicted = self.model(audio, self.noisy if stage == "train" else None)
        # Validation has no steering: its random moves would make the monitored figures random.
        steer = stage == "train" and self.train_config.loss.steering > 0
        steered = self.steered_decode(latent, predicted, features) if steer else None
        terms = self.loss(reconstruction, audio, predicted, features, steered)
        batch_size = audio.shape[0]
        self.log(f"{stage}/loss", terms.total, on_step=False, on_epoch=True, prog_bar=True,
                 batch_size=batch_size, sync_dist=True)
        for name in ("stft", "time_mse", "feature_mse", "steering", "click"):
            self.log(f"{stage}/{name}", getattr(terms, name), on_step=False, on_epoch=True,
                     batch_size=batch_size, sync_dist=True)
        if stage == "val":  # the plain MR-STFT that eval reports: what checkpoints and early stopping watch
            self.log(MONITOR, self.loss.plain_mrstft(reconstruction, audio), on_step=False, on_epoch=True,
                     prog_bar=True, batch_size=batch_size, sync_dist=True)
        return terms.total

    def noisy(self, latent: torch.Tensor) -> torch.Tensor:
        """The latents plus Gaussian noise of `loss.latent_noise` × each dimension's batch spread:
        the decoder learns to make the same one-shot from a neighbourhood of each point, so that
        the points the controls move to decode to kicks too (a regulariser; not a VAE: nothing
        pulls the latents towards a prior)."""
        scale = self.train_config.loss.latent_noise
        return latent + spread_noise(latent, scale) if scale > 0 else latent

    def steered_decode(self, latent: torch.Tensor, predicted: torch.Tensor,
                       features: torch.Tensor) -> SteeredDecode:
        moved, requested_shift = self.steered_latents(latent, predicted, features)
        frequency_std_hz = float(self.hparams.feature_std[0])
        return SteeredDecode(self.model.decoder(moved), requested_shift * frequency_std_hz, frequency_std_hz)

    def steered_latents(self, latent: torch.Tensor, predicted: torch.Tensor,
                        features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each latent moved so that the feature head reads another one-shot's frequency from
        the batch (the minimal move, along the head's frequency weights), plus noise orthogonal
        to that direction, which should leave the pitch alone. Returns the moved latents and the
        requested change in normalised frequency. Built from detached values: the steering term
        trains the decoder to honour the head, not the head to dodge the term."""
        latent, predicted = latent.detach(), predicted.detach()
        direction = self.model.feature_head.weight[0].detach()
        direction_norm2 = direction.dot(direction).clamp_min(1e-8)
        wanted = features[torch.randperm(len(features), device=features.device), 0]
        shift = wanted - predicted[:, 0]
        noise = spread_noise(latent, self.train_config.loss.steering_noise)
        noise = noise - torch.outer(noise @ direction, direction) / direction_norm2
        return latent + noise + torch.outer(shift, direction) / direction_norm2, shift

    def on_fit_start(self) -> None:
        # The weights are initialised (the same on every rank: seed_everything ran before the
        # model was built, and DDP broadcasts rank 0's anyway). From here on each rank draws its
        # own steering moves from torch's global generator. Only torch's: PL_GLOBAL_SEED, which
        # seeds the DistributedSampler's shuffle, must stay the same on every rank.
        torch.manual_seed(derived_seed(self.train_config.training.seed, self.global_rank, 2))

    def training_step(self, batch, batch_index: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch, batch_index: int) -> None:
        self._step(batch, "val")

    def configure_optimizers(self):
        settings = self.train_config.training
        optimizer = torch.optim.Adam(self.parameters(), lr=settings.lr)
        if settings.lr_schedule == "constant":
            return optimizer
        # cosine: from lr down to lr × lr_final_ratio at max_epochs (stepped once per epoch)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=max(1, settings.max_epochs), eta_min=settings.lr * settings.lr_final_ratio)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "epoch"}}


def weights_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 of a state dict (names, dtypes, shapes and bytes): equal digests, equal weights.
    ``weights_digest(torch.load(ckpt)["state_dict"])`` is comparable with run.json's."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name} {tensor.dtype} {tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class ReplicaCheck(L.Callback):
    """When training ends, gathers from every rank the number of training one-shots it processed
    in this fit (a resumed run counts from the resume) and the digest of its weights. ``result``
    (run.json's "replicas") shows that each rank trained on its own share and that the replicas
    ended identical, as DDP's gradient all-reduce should keep them. One rank: the same, trivially."""

    def __init__(self) -> None:
        self.samples = 0
        self.result: dict | None = None

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.samples = 0

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, outputs, batch,
                           batch_index: int) -> None:
        self.samples += len(batch[0])

    def on_train_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        digest = weights_digest(module.state_dict())
        key = int.from_bytes(bytes.fromhex(digest)[:8], "little", signed=True)
        local = torch.tensor([self.samples, key], dtype=torch.int64, device=module.device)
        gathered = trainer.strategy.all_gather(local).reshape(-1, 2).cpu()  # every rank takes part
        self.result = {"world_size": trainer.world_size, "samples_per_rank": gathered[:, 0].tolist(),
                       "weights_agree": len(set(gathered[:, 1].tolist())) == 1, "weights_sha256": digest}


class AudioExamplesCallback(L.Callback):
    """Every N epochs and at the end: originals vs reconstructions as WAVs and spectrograms,
    written to ``RUN/examples/`` and, when wandb is the logger, to the wandb run."""

    def __init__(self, examples: torch.Tensor, every_n_epochs: int, out_dir: Path, sample_rate: int) -> None:
        self.examples = examples
        self.every_n_epochs = max(1, every_n_epochs)
        self.out_dir = out_dir
        self.sample_rate = sample_rate

    def on_train_epoch_end(self, trainer: L.Trainer, module: LatentPlayModule) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self.log_examples(trainer, module)

    def on_fit_end(self, trainer: L.Trainer, module: LatentPlayModule) -> None:
        self.log_examples(trainer, module)

    @rank_zero_only
    def log_examples(self, trainer: L.Trainer, module: LatentPlayModule) -> None:
        was_training = module.training
        module.eval()
        with torch.no_grad():
            reconstruction = module.model(self.examples.to(module.device))[0].float().cpu()
        module.train(was_training)
        originals = self.examples[:, 0].numpy()
        rebuilt = reconstruction[:, 0].numpy()
        folder = self.out_dir / f"epoch_{trainer.current_epoch:04d}"
        for index, (original, output) in enumerate(zip(originals, rebuilt)):
            write_wav(folder / f"{index}_original.wav", original, self.sample_rate)
            write_wav(folder / f"{index}_reconstruction.wav", output, self.sample_rate)
        figure_path = folder / "spectrograms.png"
        save_spectrogram_figure(originals, rebuilt, self.sample_rate, figure_path)
        log_to_wandb(trainer, originals, rebuilt, figure_path, self.sample_rate)


def save_spectrogram_figure(originals: np.ndarray, rebuilt: np.ndarray, sample_rate: int, path: Path) -> None:
    """Per example: both waveforms overlaid, then both spectrograms on one fixed dB scale
    (so that a quiet artefact looks quiet, whatever the plot's own range)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(3, len(originals), figsize=(3 * len(originals), 7), squeeze=False)
    time = np.arange(originals.shape[1]) / sample_rate
    for column, (original, output) in enumerate(zip(originals, rebuilt)):
        axes[0, column].plot(time, original, linewidth=0.6, label="original")
        axes[0, column].plot(time, output, linewidth=0.6, alpha=0.8, label="reconstruction")
        axes[0, column].set_title(f"example {column}", fontsize=8)
        for row, (signal, title) in enumerate(((original, "original"), (output, "reconstruction")), start=1):
            axes[row, column].specgram(signal, NFFT=256, Fs=sample_rate, noverlap=192, cmap="magma",
                                       vmin=-120, vmax=-20)
            axes[row, column].set_title(title, fontsize=8)
            axes[row, column].set_ylim(0, 8000)
    axes[0, 0].legend(fontsize=6)
    save_figure(figure, path, dpi=80)


def log_to_wandb(trainer: L.Trainer, originals: np.ndarray, rebuilt: np.ndarray,
                 figure_path: Path, sample_rate: int) -> None:
    from lightning.pytorch.loggers import WandbLogger

    wandb_loggers = [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]
    if not wandb_loggers:
        return
    import wandb

    media = {"examples/spectrograms": wandb.Image(str(figure_path))}
    for index, (original, output) in enumerate(zip(originals, rebuilt)):
        media[f"examples/{index}_original"] = wandb.Audio(original, sample_rate=sample_rate)
        media[f"examples/{index}_reconstruction"] = wandb.Audio(output, sample_rate=sample_rate)
    for logger in wandb_loggers:
        logger.experiment.log({**media, "epoch": trainer.current_epoch})
