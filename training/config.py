"""Training configs: YAML files in ``training/configs/`` -> typed, validated dataclasses.

A config has four sections (data, model, loss, training); every key is checked, so a typo in a
YAML file or an override is an error that names the key, not a silently ignored setting.
The resolved config is saved as ``config.yaml`` in every run folder.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from latentplay.audio import PrepConfig
from latentplay.model import ModelConfig
from latentplay.training.loss import LossConfig

CONFIG_DIR = Path(__file__).parent / "configs"
LR_SCHEDULES = ("constant", "cosine")
PIPELINES = ("device", "dataset")


class ConfigError(ValueError):
    pass


@dataclass
class DataConfig:
    sr: int = 22050
    duration: float = 0.3
    fade_out: float = 0.1  # fraction of the duration faded out linearly at the end
    batch_size: int = 32
    num_workers: int = 0
    val_split: float = 0.0  # fraction of one-shots held out for validation (0: none)
    # Pitch-shift augmentation (training/augment.py): with this probability a training fetch is
    # the one-shot resampled by a uniform draw from ±pitch_shift_semitones (0: off, as the seed).
    pitch_shift_semitones: float = 0.0
    pitch_shift_probability: float = 0.5
    # Where batches are made (docs/training.md, "The device-resident pipeline"): "dataset" is the
    # per-fetch DataLoader path (training/augment.py: SciPy, one one-shot at a time, on the CPU);
    # "device" keeps the pack on the training device and pitch-shifts whole batches there in torch
    # (training/device_data.py). Not the default: on 2 CPU cores it measured no faster (bench-train).
    pipeline: str = "dataset"

    def __post_init__(self) -> None:
        if self.pipeline not in PIPELINES:
            raise ValueError(f"pipeline: expected one of {PIPELINES}, got {self.pipeline!r}")

    def prep(self) -> PrepConfig:
        return PrepConfig(sample_rate=self.sr, duration_s=self.duration, fade_out=self.fade_out)


@dataclass
class TrainingConfig:
    lr: float = 1e-4
    lr_schedule: str = "constant"  # constant | cosine (lr -> lr × lr_final_ratio at max_epochs)
    lr_final_ratio: float = 0.05
    max_epochs: int = 800
    min_epochs: int = 50
    patience: int = 100  # early stopping, in epochs without improvement of the monitored loss
    max_minutes: Optional[float] = None  # wall-clock budget; None = no limit
    seed: int = 0
    accelerator: str = "auto"  # auto | cpu | gpu
    devices: Any = "auto"  # auto | N | [ids]: per node; N > 1 trains with DDP (on CPU: N processes)
    num_nodes: int = 1  # machines (docs/training.md, "Several GPUs, several machines")
    strategy: str = "auto"  # auto | ddp | ...
    precision: str = "auto"  # auto = 16-mixed on CUDA, 32-true on CPU
    audio_every_n_epochs: int = 25  # log original vs reconstructed clips + spectrograms
    audio_examples: int = 4
    progress_bar: bool = True

    def __post_init__(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule: expected one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed: expected a non-negative integer, got {self.seed!r}")


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def save(self, path: Path) -> None:
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


SECTIONS = {"data": DataConfig, "model": ModelConfig, "loss": LossConfig, "training": TrainingConfig}


def available_configs() -> list[str]:
    return sorted(path.stem for path in CONFIG_DIR.glob("*.yaml"))


def resolve_config_path(name_or_path: str) -> Path:
    """A bundled config name (``demo``) or a path to a YAML file."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    bundled = CONFIG_DIR / f"{name_or_path}.yaml"
    if bundled.is_file():
        return bundled
    raise ConfigError(f"{name_or_path}: no such config file, and not one of {available_configs()}")


def load_config(name_or_path: str, overrides: list[str] = ()) -> TrainConfig:
    path = resolve_config_path(name_or_path)
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
    for override in overrides:
        apply_override(raw, override)
    return from_dict(raw, source=str(path))


def apply_override(raw: dict, override: str) -> None:
    """``section.key=value``; the value is parsed as YAML (numbers, lists, null...)."""
    key, separator, value = override.partition("=")
    section, dot, name = key.partition(".")
    if not separator or not dot:
        raise ConfigError(f"override {override!r}: expected section.key=value")
    raw.setdefault(section, {})[name] = yaml.safe_load(value)


def from_dict(raw: dict, source: str = "config") -> TrainConfig:
    unknown = set(raw) - set(SECTIONS)
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {sorted(unknown)}; expected {list(SECTIONS)}")
    sections = {name: build_section(cls, raw.get(name) or {}, f"{source}: {name}")
                for name, cls in SECTIONS.items()}
    return TrainConfig(**sections)


def build_section(cls: type, values: dict, where: str):
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; expected some of {sorted(known)}")
    try:
        return cls(**{name: coerce_number(cls, name, value) for name, value in values.items()})
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: {error}") from None


def coerce_number(cls: type, name: str, value):
    """YAML 1.1 reads ``1e-4`` as a string: accept numeric strings where the default is a float."""
    default = next(f.default for f in dataclasses.fields(cls) if f.name == name)
    if isinstance(default, float) and isinstance(value, (int, str)) and not isinstance(value, bool):
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{name}: expected a number, got {value!r}") from None
    return value
