"""A corpus of malformed bundles, each with the words its rejection must contain.

Used by the Python reader's tests here and by the C++ engine's (tests/engine): both sides must
refuse each of them and say why. The generated corpus of tests/export/test_contract.py covers
every rule of the contract; these hand-picked cases also cover the files and the JSON itself.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

from latentplay.bundle import DECODER_NAME, ENCODER_NAME, ORIGINALS_NAME, SIDECAR_NAME, sha256_file


def _edit_sidecar(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def mutate(bundle: Path) -> None:
        sidecar = json.loads((bundle / SIDECAR_NAME).read_text())
        change(sidecar)
        (bundle / SIDECAR_NAME).write_text(json.dumps(sidecar))
    return mutate


def _replace_file(name: str, content: bytes, update_hash: bool) -> Callable[[Path], None]:
    def mutate(bundle: Path) -> None:
        (bundle / name).write_bytes(content)
        if update_hash:
            role = {DECODER_NAME: "decoder", ENCODER_NAME: "encoder", ORIGINALS_NAME: "originals"}[name]
            sidecar = json.loads((bundle / SIDECAR_NAME).read_text())
            sidecar["files"][role]["sha256"] = sha256_file(bundle / name)
            if role == "decoder":
                sidecar["model_id"] = sidecar["files"]["decoder"]["sha256"]
            (bundle / SIDECAR_NAME).write_text(json.dumps(sidecar))
    return mutate


def _set(path: list, value) -> Callable[[dict], None]:
    def change(sidecar: dict) -> None:
        target = sidecar
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def _nan_in_weights(bundle: Path) -> None:
    text = (bundle / SIDECAR_NAME).read_text()
    sidecar = json.loads(text)
    sidecar["controls"][2]["weights"][0] = float("nan")
    (bundle / SIDECAR_NAME).write_text(json.dumps(sidecar))  # Python writes the NaN literal


def _swap_controls(sidecar: dict) -> None:
    sidecar["controls"][2], sidecar["controls"][3] = sidecar["controls"][3], sidecar["controls"][2]


def _truncate(name: str) -> Callable[[Path], None]:
    def mutate(bundle: Path) -> None:
        data = (bundle / name).read_bytes()
        (bundle / name).write_bytes(data[: len(data) // 2])
    return mutate


# (case name, mutation of a copy of a valid bundle, words the error must contain)
MALFORMED: list[tuple[str, Callable[[Path], None], list[str]]] = [
    ("sidecar missing", lambda b: (b / SIDECAR_NAME).unlink(), [SIDECAR_NAME, "missing"]),
    ("sidecar not json", lambda b: (b / SIDECAR_NAME).write_text("{ not json"), [SIDECAR_NAME, "not valid JSON"]),
    ("nan in weights", _nan_in_weights, [SIDECAR_NAME, "not valid JSON"]),
    ("unknown schema version", _edit_sidecar(_set(["schema_version"], 99)),
     [SIDECAR_NAME, "schema_version", "reads schema versions"]),
    ("latent_dim missing", _edit_sidecar(lambda s: s.pop("latent_dim")), [SIDECAR_NAME, "latent_dim"]),
    ("weights too short", _edit_sidecar(lambda s: s["controls"][2]["weights"].pop()),
     [SIDECAR_NAME, "controls[2].weights", "latent_dim"]),
    ("controls out of order", _edit_sidecar(_swap_controls), [SIDECAR_NAME, "controls[2]", "expected"]),
    ("empty range", _edit_sidecar(lambda s: s["controls"][4].__setitem__("range", [5.0, 5.0])),
     [SIDECAR_NAME, "controls[4].range"]),
    ("wrong unit", _edit_sidecar(_set(["controls", 2, "unit"], "kHz")), [SIDECAR_NAME, "controls[2].unit"]),
    ("sample latent not numbers", _edit_sidecar(_set(["samples", 0, "latent", 1], "x")),
     [SIDECAR_NAME, "samples[0].latent[1]"]),
    ("pca mean wrong length", _edit_sidecar(lambda s: s["pca"]["mean"].append(0.0)), [SIDECAR_NAME, "pca.mean"]),
    ("unknown pack", _edit_sidecar(_set(["samples", 0, "pack"], "elsewhere")), [SIDECAR_NAME, "samples[0].pack"]),
    ("model id not decoder hash", _edit_sidecar(_set(["model_id"], "0" * 64)), [SIDECAR_NAME, "model_id"]),
    ("decoder missing", lambda b: (b / DECODER_NAME).unlink(), [DECODER_NAME, "missing"]),
    ("decoder tampered", _truncate(DECODER_NAME), [DECODER_NAME, "sha256"]),
    ("encoder tampered", _replace_file(ENCODER_NAME, b"garbage", update_hash=False), [ENCODER_NAME, "sha256"]),
    ("originals tampered", _replace_file(ORIGINALS_NAME, b"\0" * 64, update_hash=False), [ORIGINALS_NAME, "sha256"]),
    ("originals of the wrong size", _replace_file(ORIGINALS_NAME, b"\0" * 64, update_hash=True),
     [ORIGINALS_NAME, "holds 64 bytes", "float32"]),
    ("file path escapes the bundle", _edit_sidecar(_set(["files", "decoder", "path"], "../decoder.ts")),
     [SIDECAR_NAME, "files.decoder.path"]),
]

# Bundles whose sidecar and hashes are consistent but whose TorchScript is unusable: the
# sidecar check passes, loading the model must fail with the file's name.
UNLOADABLE: list[tuple[str, Callable[[Path], None], list[str]]] = [
    ("garbage decoder", _replace_file(DECODER_NAME, b"not a zip archive at all", update_hash=True),
     [DECODER_NAME, "TorchScript"]),
    ("truncated decoder", lambda b: _replace_file(
        DECODER_NAME, (b / DECODER_NAME).read_bytes()[:2000], update_hash=True)(b), [DECODER_NAME, "TorchScript"]),
]


def make_copy(valid: Path, where: Path) -> Path:
    copy = where / valid.name
    shutil.copytree(valid, copy)
    return copy
