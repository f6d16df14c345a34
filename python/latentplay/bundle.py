"""The model bundle: the one thing that crosses from Python to the C++ plugin.

``NAME.latentplay/`` holds ``decoder.ts``, ``encoder.ts`` and the sidecar ``latentplay.json``.
The spec is ``docs/bundle.md``; the JSON Schema is ``bundle_schema.json`` next to this file.
:func:`load_bundle` checks a bundle the way the C++ engine does: the schema, then the rules a
schema cannot say (vector lengths, finite numbers, ranges), then the files and their hashes.
Every problem is a :class:`BundleError` whose message names the file and the field.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

SCHEMA_VERSION = 1
FORMAT = "latentplay-bundle"
SIDECAR_NAME = "latentplay.json"
DECODER_NAME = "decoder.ts"
ENCODER_NAME = "encoder.ts"
BUNDLE_SUFFIX = ".latentplay"
CONTROL_NAMES = ("pc1", "pc2", "frequency", "attack", "release")


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


@lru_cache(maxsize=1)
def bundle_schema() -> dict:
    return json.loads(resources.files("latentplay").joinpath("bundle_schema.json").read_text())


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
    sidecar = read_sidecar(sidecar_path)
    validate_sidecar(sidecar, sidecar_path)
    if verify_files:
        verify_bundle_files(path, sidecar)
    return Bundle(path, sidecar, parse_controls(sidecar), parse_samples(sidecar))


def read_sidecar(sidecar_path: Path) -> dict:
    if not sidecar_path.is_file():
        raise BundleError(f"{sidecar_path}: missing")

    def reject_constant(name: str):
        raise BundleError(f"{sidecar_path}: not valid JSON ({name} is not a JSON number)")

    try:
        data = json.loads(sidecar_path.read_text(encoding="utf-8"), parse_constant=reject_constant)
    except json.JSONDecodeError as error:
        raise BundleError(f"{sidecar_path}: not valid JSON (line {error.lineno}, column {error.colno}: "
                          f"{error.msg})") from None
    except UnicodeDecodeError:
        raise BundleError(f"{sidecar_path}: not UTF-8 text") from None
    if not isinstance(data, dict):
        raise BundleError(f"{sidecar_path}: expected a JSON object at the top level")
    return data


def validate_sidecar(sidecar: dict, source: Path | str) -> None:
    """Schema first, then the cross-field rules. Raises BundleError."""
    import jsonschema

    check_control_order(sidecar, source)
    validator = jsonschema.Draft202012Validator(bundle_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(sidecar))
    if error is not None:
        raise BundleError(f"{source}: {field_name(error.absolute_path)}: {error.message}")
    check_cross_fields(sidecar, source)


def check_control_order(sidecar: dict, source: Path | str) -> None:
    """Said plainly before the schema would report the first mismatching unit or kind."""
    controls = sidecar.get("controls")
    if isinstance(controls, list) and all(isinstance(c, dict) for c in controls):
        names = [c.get("name") for c in controls]
        if names != list(CONTROL_NAMES):
            raise BundleError(f"{source}: controls: expected the controls {list(CONTROL_NAMES)} in this "
                              f"order, got {names}")


def field_name(path) -> str:
    """JSON path as people write it: controls[2].weights."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def check_cross_fields(sidecar: dict, source: Path | str) -> None:
    dim = sidecar["latent_dim"]

    def fail(field: str, problem: str) -> None:
        raise BundleError(f"{source}: {field}: {problem}")

    def check_vector(field: str, values: list) -> None:
        if len(values) != dim:
            fail(field, f"has {len(values)} values, latent_dim is {dim}")
        if not all(math.isfinite(v) for v in values):
            fail(field, "contains a non-finite number")

    for i, control in enumerate(sidecar["controls"]):
        check_vector(f"controls[{i}].weights", control["weights"])
        low, high = control["range"]
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            fail(f"controls[{i}].range", f"expected finite [min, max] with min < max, got {control['range']}")
        if not math.isfinite(control["intercept"]):
            fail(f"controls[{i}].intercept", "not finite")
    check_vector("pca.mean", sidecar["pca"]["mean"])
    for i, component in enumerate(sidecar["pca"]["components"]):
        check_vector(f"pca.components[{i}]", component)
    packs = set(sidecar["packs"])
    for i, sample in enumerate(sidecar["samples"]):
        check_vector(f"samples[{i}].latent", sample["latent"])
        if sample["pack"] not in packs:
            fail(f"samples[{i}].pack", f"{sample['pack']!r} is not in packs")
    if sidecar["model_id"] != sidecar["files"]["decoder"]["sha256"]:
        fail("model_id", "must equal files.decoder.sha256")


def verify_bundle_files(path: Path, sidecar: dict) -> None:
    for role in ("decoder", "encoder"):
        entry = sidecar["files"][role]
        file_path = path / entry["path"]
        if not file_path.is_file():
            raise BundleError(f"{file_path}: missing (files.{role}.path in {SIDECAR_NAME})")
        if sha256_file(file_path) != entry["sha256"]:
            raise BundleError(f"{file_path}: sha256 does not match files.{role}.sha256 in {SIDECAR_NAME} "
                              f"(the file was changed or replaced)")


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
