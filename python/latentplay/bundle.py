"""The model bundle: the one thing that crosses from Python to the C++ plugin.

``NAME.latentplay/`` holds ``decoder.ts``, ``encoder.ts`` and the sidecar ``latentplay.json``.
The spec is ``docs/bundle.md``; the contract is ``bundle_schema.json`` next to this file (the
controls' names, labels, units and order come from it too). :func:`load_bundle` checks a bundle
the way the C++ engine does (:mod:`latentplay.schema`): upgrade an older sidecar, the schema,
the cross-field rules, then the files and their hashes.
Every problem is a :class:`BundleError` whose message names the file and the field.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentplay.audio import PrepConfig
from latentplay.schema import check_sidecar, contract, supported_versions

FORMAT = "latentplay-bundle"
SIDECAR_NAME = "latentplay.json"
DECODER_NAME = "decoder.ts"
ENCODER_NAME = "encoder.ts"
BUNDLE_SUFFIX = ".latentplay"
ORIGINALS_NAME = "originals.f32"
ORIGINAL_BYTES_PER_VALUE = 4  # files.originals.encoding "float32-le"


@dataclass(frozen=True)
class ControlSpec:
    """A control as the contract defines it (bundle_schema.json, controls.prefixItems)."""

    name: str
    label: str
    unit: str
    kind: str  # "pca" or "regression"


def _control_specs() -> tuple[ControlSpec, ...]:
    entries = contract()["properties"]["controls"]["prefixItems"]
    return tuple(ControlSpec(**{key: entry["properties"][key]["const"] for key in ("name", "label", "unit", "kind")})
                 for entry in entries)


CONTROLS = _control_specs()
CONTROL_NAMES = tuple(control.name for control in CONTROLS)
CONTROL_UNITS = {control.name: control.unit for control in CONTROLS}
CONTROL_LABELS = {control.name: control.label for control in CONTROLS}
OLDEST_SCHEMA_VERSION, SCHEMA_VERSION = supported_versions(contract())
SAMPLE_PARAMETER_STEPS = contract()["x-latentplay"]["sample_parameter_steps"]
"""The plugin's Sample parameter: sample index = round(raw value × steps)."""


class BundleError(ValueError):
    """A bundle that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Control:
    name: str
    label: str
    unit: str
    kind: str  # "pca" or "regression"
    minimum: float
    maximum: float
    weights: np.ndarray  # (latent_dim,): control value = weights · z + intercept
    intercept: float
    r2: dict | None  # {"fit": .., "cv": ..} for regressions

    @property
    def span(self) -> float:
        return self.maximum - self.minimum


@dataclass(frozen=True)
class BundleSample:
    index: int
    path: str
    pack: str
    subpack: str
    latent: np.ndarray  # (latent_dim,) float64
    features: dict[str, float]

    @property
    def name(self) -> str:
        return Path(self.path).stem


@dataclass(frozen=True)
class Bundle:
    path: Path
    sidecar: dict
    controls: tuple[Control, ...]
    samples: tuple[BundleSample, ...]
    stored_schema_version: int  # the file's own version; ``sidecar`` is upgraded to SCHEMA_VERSION

    @property
    def model_id(self) -> str:
        return self.sidecar["model_id"]

    @property
    def sample_rate(self) -> int:
        return self.sidecar["sample_rate"]

    @property
    def length(self) -> int:
        return self.sidecar["length"]

    @property
    def latent_dim(self) -> int:
        return self.sidecar["latent_dim"]

    @property
    def packs(self) -> list[str]:
        return self.sidecar["packs"]

    @property
    def decoder_path(self) -> Path:
        return self.path / self.sidecar["files"]["decoder"]["path"]

    @property
    def encoder_path(self) -> Path:
        return self.path / self.sidecar["files"]["encoder"]["path"]

    def prep_config(self) -> PrepConfig:
        """How any audio becomes this model's input (the sidecar's prep, rate and length)."""
        prep = self.sidecar["prep"]
        return PrepConfig(sample_rate=self.sample_rate, duration_s=self.length / self.sample_rate,
                          fade_out=prep["fade_out"], onset_threshold_db=prep["onset_threshold_db"],
                          silence_threshold_dbfs=prep["silence_threshold_dbfs"])

    @property
    def has_originals(self) -> bool:
        return "originals" in self.sidecar["files"]

    def originals(self) -> np.ndarray | None:
        """Every training one-shot as prepared, (len(samples), length) float32; None without audio."""
        if not self.has_originals:
            return None
        values = np.fromfile(self.path / self.sidecar["files"]["originals"]["path"], dtype="<f4")
        return values.reshape(len(self.samples), self.length)

    def control_matrix(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(A (5, D), intercepts c (5,), spans (5,)) in CONTROL_NAMES order."""
        weights = np.stack([control.weights for control in self.controls])
        intercepts = np.array([control.intercept for control in self.controls])
        spans = np.array([control.span for control in self.controls])
        return weights, intercepts, spans

    def latents(self) -> np.ndarray:
        return np.stack([sample.latent for sample in self.samples])

    def find_sample(self, name: str) -> BundleSample:
        """A sample by its relative path, its file name without extension, or its index."""
        for sample in self.samples:
            if name in (sample.path, sample.name, str(sample.index)):
                return sample
        raise BundleError(f"{self.path / SIDECAR_NAME}: samples: no sample named {name!r} "
                          f"(use a relative path such as {self.samples[0].path!r} or a file stem)")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_bundle(path: Path, verify_files: bool = True) -> Bundle:
    """Read and check a bundle folder. Raises BundleError naming the file and the field."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"{path}: not a bundle folder (expected a NAME{BUNDLE_SUFFIX}/ folder "
                          f"holding {SIDECAR_NAME}, {DECODER_NAME}, {ENCODER_NAME})")
    sidecar_path = path / SIDECAR_NAME
    stored = read_sidecar(sidecar_path)
    sidecar = validate_sidecar(stored, sidecar_path)
    if verify_files:
        verify_bundle_files(path, sidecar)
    return Bundle(path, sidecar, parse_controls(sidecar), parse_samples(sidecar), int(stored["schema_version"]))


def read_sidecar(sidecar_path: Path) -> dict:
    if not sidecar_path.is_file():
        raise BundleError(f"{sidecar_path}: missing")

    def reject_constant(name: str):
        raise BundleError(f"{sidecar_path}: not valid JSON ({name} is not a JSON number)")

    def finite_float(text: str) -> float:  # as the C++ reader: 1e999 is an overflow, not infinity
        value = float(text)
        if not math.isfinite(value):
            raise BundleError(f"{sidecar_path}: not valid JSON (number {text} is beyond a double's range)")
        return value

    try:
        data = json.loads(sidecar_path.read_text(encoding="utf-8"), parse_constant=reject_constant,
                          parse_float=finite_float)
    except json.JSONDecodeError as error:
        raise BundleError(f"{sidecar_path}: not valid JSON (line {error.lineno}, column {error.colno}: "
                          f"{error.msg})") from None
    except UnicodeDecodeError:
        raise BundleError(f"{sidecar_path}: not UTF-8 text") from None
    if not isinstance(data, dict):
        raise BundleError(f"{sidecar_path}: expected a JSON object at the top level")
    return data


def validate_sidecar(sidecar: dict, source: Path | str) -> dict:
    """The sidecar at the current schema version (older ones upgraded), or BundleError naming the
    first problem's field: the contract's schema, then its cross-field rules (latentplay.schema)."""
    upgraded, problem = check_sidecar(sidecar)
    if problem is not None:
        raise BundleError(f"{source}: {problem.field}: {problem.problem}")
    return upgraded


def verify_bundle_files(path: Path, sidecar: dict) -> None:
    for role, entry in sidecar["files"].items():
        file_path = path / entry["path"]
        if not file_path.is_file():
            raise BundleError(f"{file_path}: missing (files.{role}.path in {SIDECAR_NAME})")
        if sha256_file(file_path) != entry["sha256"]:
            raise BundleError(f"{file_path}: sha256 does not match files.{role}.sha256 in {SIDECAR_NAME} "
                              f"(the file was changed or replaced)")
    if "originals" in sidecar["files"]:
        check_originals_size(path / sidecar["files"]["originals"]["path"], sidecar)


def check_originals_size(file_path: Path, sidecar: dict) -> None:
    """As the C++ reader: exactly samples × length float32 values."""
    expected = len(sidecar["samples"]) * sidecar["length"] * ORIGINAL_BYTES_PER_VALUE
    actual = file_path.stat().st_size
    if actual != expected:
        raise BundleError(f"{file_path}: holds {actual} bytes, expected {expected} ({len(sidecar['samples'])} "
                          f"one-shots of {sidecar['length']} float32 samples; files.originals in {SIDECAR_NAME})")


def parse_controls(sidecar: dict) -> tuple[Control, ...]:
    return tuple(
        Control(name=c["name"], label=c["label"], unit=c["unit"], kind=c["kind"],
                minimum=float(c["range"][0]), maximum=float(c["range"][1]),
                weights=np.asarray(c["weights"], dtype=np.float64), intercept=float(c["intercept"]),
                r2=c["r2"])
        for c in sidecar["controls"])


def parse_samples(sidecar: dict) -> tuple[BundleSample, ...]:
    return tuple(
        BundleSample(index=i, path=s["path"], pack=s["pack"], subpack=s["subpack"],
                     latent=np.asarray(s["latent"], dtype=np.float64), features=dict(s["features"]))
        for i, s in enumerate(sidecar["samples"]))
