"""The reference renderer: bundle + starting point + controls -> one-shot at the model rate.

Pure Python over the bundle's TorchScript files (torch.jit.load), so it runs exactly what the
plugin loads; the C++ engine and the plugin are tested against it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from latentplay.audio import PrepConfig, load_one_shot
from latentplay.bundle import CONTROL_NAMES, Bundle, BundleError, load_bundle
from latentplay.projector import control_values, project


class ReferenceRenderer:
    def __init__(self, bundle: Bundle | Path) -> None:
        self.bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
        self.decoder = load_torchscript(self.bundle.decoder_path)
        self.encoder = load_torchscript(self.bundle.encoder_path)
        self.weights, self.intercepts, self.spans = self.bundle.control_matrix()

    @property
    def prep(self) -> PrepConfig:
        """How a dropped WAV is prepared for the encoder (the bundle's rate and length)."""
        return self.bundle.prep_config()

    def decode(self, latent: np.ndarray) -> np.ndarray:
        """(D,) latent -> (length,) float32 audio at the model rate."""
        with torch.inference_mode():
            batch = torch.as_tensor(np.asarray(latent, dtype=np.float32)).reshape(1, -1)
            return self.decoder(batch)[0].numpy().copy()

    def encode(self, audio: np.ndarray) -> np.ndarray:
        """(length,) prepared one-shot -> (D,) float64 latent."""
        with torch.inference_mode():
            batch = torch.as_tensor(np.asarray(audio, dtype=np.float32)).reshape(1, -1)
            return self.encoder(batch)[0].double().numpy()

    def encode_file(self, path: Path) -> np.ndarray:
        audio, _ = load_one_shot(Path(path), self.prep)
        return self.encode(audio)

    def own_controls(self, latent: np.ndarray) -> dict[str, float]:
        """The control values of a latent point: where z' = z."""
        values = control_values(latent, self.weights, self.intercepts)
        return dict(zip(CONTROL_NAMES, values.tolist()))

    def move(self, latent: np.ndarray, controls: dict[str, float]) -> np.ndarray:
        """z': the closest point to ``latent`` meeting ``controls``; controls not given keep the
        latent's own values."""
        unknown = set(controls) - set(CONTROL_NAMES)
        if unknown:
            raise BundleError(f"unknown control(s) {sorted(unknown)}; expected {list(CONTROL_NAMES)}")
        targets = {**self.own_controls(latent), **controls}
        return project(latent, np.array([targets[name] for name in CONTROL_NAMES]),
                       self.weights, self.intercepts, self.spans)

    def regenerate(self, start: int | str | np.ndarray, controls: dict[str, float] | None = None) -> np.ndarray:
        """A one-shot from a sample (index, path or name) or a latent point, steered by controls."""
        latent = self.starting_point(start)
        return self.decode(self.move(latent, controls or {}))

    def starting_point(self, start: int | str | np.ndarray) -> np.ndarray:
        if isinstance(start, np.ndarray):
            return start.astype(np.float64)
        if isinstance(start, (int, np.integer)):
            return self.bundle.samples[int(start)].latent
        return self.bundle.find_sample(start).latent


def load_torchscript(path: Path) -> torch.jit.ScriptModule:
    try:
        module = torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise BundleError(f"{path}: not a loadable TorchScript file ({first_line})") from None
    return module.eval()
