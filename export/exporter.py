"""``latentplay export RUN --data DATA --out NAME.latentplay``: checkpoint -> model bundle.

1. Load the run's best checkpoint and its config (the checkpoint carries both).
2. Load DATA exactly as training did, encode every one-shot, measure its features.
3. Fit PCA(2) on the latents, and one ridge regressor per feature (latent -> Hz / ms) on what
   the *decoder* makes: the training latents plus perturbed copies of them are decoded and the
   features measured on the output. A control must predict what moving the latent will sound
   like, and the decoder is what sounds; regressors fitted on the encoder's latents against the
   input features followed the decoder far less (eval's Spearman ρ on the demo model: frequency
   −0.07 → see README). Ridge strength by leave-one-out CV; R² on the fit and 5-fold CV.
4. Script the encoder and decoder to TorchScript (the decoder with its convolutions as GEMMs,
   see GemmConv1d: the plugin's speed), write the sidecar.
5. Check before reporting success: reload both TorchScript files and compare them with the eager
   model on real one-shots (max |diff| <= 1e-5 × max(1, output peak)), validate the sidecar against the schema and the
   hashes (the same load_bundle the CLI and tests use). Everything is written into a temporary
   folder that is renamed into place only when every check passed.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.model_selection import KFold, cross_val_score
from torch import nn

from latentplay import __version__
from latentplay.audio import PrepConfig
from latentplay.bundle import (CONTROLS, DECODER_NAME, ENCODER_NAME, FORMAT, ORIGINALS_NAME, SCHEMA_VERSION,
                               SIDECAR_NAME,
                               load_bundle, sha256_file, validate_sidecar)
from latentplay.dataset import LoadedPack, load_pack_tree
from latentplay.features import FEATURE_NAMES, measure_all, physical_bounds
from latentplay.quality import check_reconstructions
from latentplay.schema import contract
from latentplay.training.lightning import LatentPlayModule

MAX_EXPORT_DIFF = 1e-5
PERTURBED_COPIES = 5  # decoded copies of each training latent used to fit the feature controls
PERTURBATION_SCALE = 0.5  # their offset: normal noise × this × each latent dimension's std
DECODE_BATCH = 32  # latent points decoded at once while fitting the feature controls
VERIFY_EXAMPLES = 8
RIDGE_ALPHAS = np.logspace(-6, 3, 19)


class ExportError(ValueError):
    pass


class GemmConv1d(nn.Module):
    """A stride-1, "same"-padded Conv1d as one matrix product per kernel tap, accumulated in
    place into the output: out[:, t] = bias + Σ_tap W_tap · x[:, t + tap − padding]. Each product
    reads and writes shifted views, so nothing is padded or copied. Measured on this project's
    2-core CPU (torch 2.13, 1 thread, 128 channels, length 1792, kernel 3): 2.0 ms against 2.3–3.7
    ms for torch's own (oneDNN) convolution, at the GEMM bound."""

    def __init__(self, conv: nn.Conv1d) -> None:
        super().__init__()
        kernel = conv.kernel_size[0]
        if conv.stride[0] != 1 or conv.dilation[0] != 1 or conv.groups != 1 or conv.padding[0] != kernel // 2:
            raise ValueError(f"GemmConv1d takes stride-1 'same' convolutions, got {conv}")
        self.kernel = kernel
        self.padding = kernel // 2
        # (out, in, k) -> (k, out, in): one contiguous matrix per tap
        self.register_buffer("taps", conv.weight.detach().permute(2, 0, 1).contiguous())
        bias = conv.bias.detach() if conv.bias is not None else torch.zeros(conv.out_channels)
        self.register_buffer("bias", bias.reshape(-1, 1).contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[-1]
        outputs: list[torch.Tensor] = []
        for item in x:  # batch items; the plugin decodes one at a time
            out = torch.addmm(self.bias, self.taps[self.padding], item)  # the centre tap
            for tap in range(self.kernel):
                shift = tap - self.padding
                if shift > 0:  # out[t] += W · x[t + shift]
                    out[:, 0:length - shift].addmm_(self.taps[tap], item[:, shift:length])
                elif shift < 0:
                    out[:, -shift:length].addmm_(self.taps[tap], item[:, 0:length + shift])
            outputs.append(out)
        return outputs[0].unsqueeze(0) if len(outputs) == 1 else torch.stack(outputs)


class GemmConvTranspose1d(nn.Module):
    """The decoder's upsampling ConvTranspose1d (kernel = 2 × stride f) as one matrix product and
    an overlap-add: each input step t writes 2f output samples, the first f at t·f and the last f
    at (t+1)·f. 3.5 ms against 7.0 ms for torch's own at the decoder's top level (128 -> 64
    channels, f 4, length 1792, 1 thread)."""

    def __init__(self, conv: nn.ConvTranspose1d) -> None:
        super().__init__()
        factor, kernel = conv.stride[0], conv.kernel_size[0]
        if kernel != 2 * factor or conv.dilation[0] != 1 or conv.groups != 1:
            raise ValueError(f"GemmConvTranspose1d takes kernel = 2 x stride, got {conv}")
        self.factor = factor
        self.out_channels = conv.out_channels
        self.padding = conv.padding[0]
        self.output_padding = conv.output_padding[0]
        # (in, out, k) -> (k * out, in), tap-major: row j * out + o is tap j of output channel o
        weight = conv.weight.detach().permute(2, 1, 0).reshape(kernel * conv.out_channels, conv.in_channels)
        self.register_buffer("weight", weight.contiguous())
        bias = conv.bias.detach() if conv.bias is not None else torch.zeros(conv.out_channels)
        self.register_buffer("bias", bias.reshape(-1, 1).contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[-1]
        f, channels = self.factor, self.out_channels
        out_length = (length - 1) * f - 2 * self.padding + 2 * f + self.output_padding
        outputs: list[torch.Tensor] = []
        for item in x:
            columns = torch.mm(self.weight, item).view(2, f, channels, length)  # [half, j, out, t]
            full = item.new_zeros(channels, length + 1, f)
            full[:, 0:length] += columns[0].permute(1, 2, 0)  # taps 0..f-1 land at t·f + j
            full[:, 1:length + 1] += columns[1].permute(1, 2, 0)  # taps f..2f-1 at (t+1)·f + j
            flat = full.view(channels, (length + 1) * f)
            outputs.append(flat[:, self.padding:self.padding + out_length] + self.bias)
        return outputs[0].unsqueeze(0) if len(outputs) == 1 else torch.stack(outputs)


def with_gemm_convolutions(module: nn.Module) -> nn.Module:
    """A copy of ``module`` whose stride-1 'same' Conv1d layers are GemmConv1d and whose
    kernel = 2 × stride ConvTranspose1d layers are GemmConvTranspose1d."""
    module = copy.deepcopy(module)
    for parent in list(module.modules()):
        for name, child in parent.named_children():
            if type(child) is nn.Conv1d and child.stride[0] == 1 and child.padding[0] == child.kernel_size[0] // 2:
                setattr(parent, name, GemmConv1d(child))
            elif type(child) is nn.ConvTranspose1d and child.kernel_size[0] == 2 * child.stride[0]:
                setattr(parent, name, GemmConvTranspose1d(child))
    return module


class DecoderForExport(nn.Module):
    """The bundle's decoder contract: latent (B, D) float32 -> audio (B, length) float32."""

    def __init__(self, decoder: nn.Module) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.decoder(latent)[:, 0, :]


class EncoderForExport(nn.Module):
    """The bundle's encoder contract: audio (B, length) float32 -> latent (B, D) float32."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.encoder(audio.unsqueeze(1))


@dataclass
class LatentAnalysis:
    latents: np.ndarray  # (N, D) float64
    features: np.ndarray  # (N, 3) measured, physical units
    controls: list[dict]
    pca: dict


def find_best_checkpoint(run_dir: Path) -> Path:
    folder = Path(run_dir) / "checkpoints"
    best = sorted(folder.glob("best-*.ckpt"), key=lambda p: p.stat().st_mtime)
    if not best:
        raise ExportError(f"{folder}: no best-*.ckpt checkpoint (is {run_dir} a finished `latentplay train` run?)")
    return best[-1]


def load_module(checkpoint: Path) -> LatentPlayModule:
    try:
        module = LatentPlayModule.load_from_checkpoint(checkpoint, map_location="cpu")
    except Exception as error:  # any unreadable checkpoint: say which file and why, in one line
        raise ExportError(f"{checkpoint}: cannot load checkpoint ({type(error).__name__}: "
                          f"{str(error).splitlines()[0] if str(error) else ''})") from None
    return module.eval()


def check_data_matches_run(run_dir: Path, pack: LoadedPack) -> None:
    """The data folder must hold the one-shots the run trained on (run/features.json)."""
    record = Path(run_dir) / "features.json"
    if not record.is_file():
        return
    trained = {sample["path"] for sample in json.loads(record.read_text())["samples"]}
    present = {sample.ref.relative_path for sample in pack.samples}
    if not trained & present:
        raise ExportError(f"{pack.root}: none of the {len(trained)} one-shots the run trained on "
                          f"({record}) is in this data folder")


def encode_all(module: LatentPlayModule, audio: np.ndarray, batch_size: int = 32) -> np.ndarray:
    latents = []
    with torch.inference_mode():
        for start in range(0, len(audio), batch_size):
            batch = torch.from_numpy(audio[start:start + batch_size]).unsqueeze(1)
            latents.append(module.model.encoder(batch).double().numpy())
    return np.concatenate(latents)


def decode_all(module: LatentPlayModule, latents: np.ndarray) -> np.ndarray:
    """(N, D) latent points -> (N, length) float32 audio, DECODE_BATCH at a time."""
    with torch.inference_mode():
        return np.concatenate([
            module.model.decoder(torch.from_numpy(latents[start:start + DECODE_BATCH].astype(np.float32)))[:, 0].numpy()
            for start in range(0, len(latents), DECODE_BATCH)])


def decoded_features(module: LatentPlayModule, latents: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The training latents and PERTURBED_COPIES noisy copies of each, with the features measured
    on what the decoder makes of every one of them."""
    rng = np.random.default_rng(seed)
    spread = latents.std(axis=0) * PERTURBATION_SCALE
    points = [latents] + [latents + rng.normal(size=latents.shape) * spread for _ in range(PERTURBED_COPIES)]
    points = np.concatenate(points)
    rate = module.train_config.data.sr
    return points, measure_all(decode_all(module, points), rate)


def analyse_latents(latents: np.ndarray, features: np.ndarray, fit_latents: np.ndarray,
                    fit_features: np.ndarray, duration_ms: float) -> LatentAnalysis:
    """PCA of the training latents; feature regressors fitted on (fit_latents, fit_features).
    A feature control's range spans what the decoder produced (fit_features) and the training
    samples' own control values, within the feature's physical bounds."""
    pca = PCA(n_components=2).fit(latents)
    controls = []
    for k in range(2):
        weights = pca.components_[k]
        values = (latents - pca.mean_) @ weights
        controls.append(control_entry(f"pc{k + 1}", weights, -float(weights @ pca.mean_), values, None))
    for j, name in enumerate(FEATURE_NAMES):
        regression = RidgeCV(alphas=RIDGE_ALPHAS).fit(fit_latents, fit_features[:, j])
        r2 = {"fit": float(regression.score(fit_latents, fit_features[:, j])),
              "cv": cross_validated_r2(fit_latents, fit_features[:, j], regression.alpha_)}
        seen = np.clip(np.concatenate([regression.predict(latents), fit_features[:, j]]),
                       *physical_bounds(name, duration_ms))
        controls.append(control_entry(name, regression.coef_, float(regression.intercept_), seen, r2))
    pca_entry = {"mean": pca.mean_.tolist(), "components": pca.components_.tolist(),
                 "explained_variance_ratio": pca.explained_variance_ratio_.tolist()}
    return LatentAnalysis(latents, features, controls, pca_entry)


def control_entry(name: str, weights: np.ndarray, intercept: float, seen_values: np.ndarray,
                  r2: dict | None) -> dict:
    """A sidecar control; its label, unit and kind are the contract's (bundle_schema.json)."""
    spec = next(control for control in CONTROLS if control.name == name)
    low, high = float(np.min(seen_values)), float(np.max(seen_values))
    if high - low < 1e-9:  # a constant feature still needs a usable (non-empty) range
        low, high = low - 0.5, high + 0.5
    return {"name": name, "label": spec.label, "unit": spec.unit, "kind": spec.kind,
            "range": [low, high], "weights": np.asarray(weights, dtype=np.float64).tolist(),
            "intercept": intercept, "r2": r2}


def cross_validated_r2(latents: np.ndarray, target: np.ndarray, alpha: float) -> float:
    folds = KFold(n_splits=min(5, len(target)), shuffle=True, random_state=0)
    return float(np.mean(cross_val_score(Ridge(alpha=alpha), latents, target, cv=folds, scoring="r2")))


def export_bundle(run_dir: Path, data_root: Path, out: Path, checkpoint: Path | None = None,
                  force: bool = False, audio: bool = True) -> Path:
    """A trained run's best (or given) checkpoint + its data folder -> a verified bundle, with the
    prepared training one-shots inside unless ``audio`` is False (a bundle to share).
    Refuses a model that fails the collapse check (latentplay.quality), and an existing ``out``,
    unless ``force``."""
    run_dir, out = Path(run_dir), Path(out)
    if out.exists() and not force:
        raise ExportError(f"{out}: already exists (use --force to replace it)")
    checkpoint = Path(checkpoint) if checkpoint else find_best_checkpoint(run_dir)
    if not checkpoint.is_file():
        raise ExportError(f"{checkpoint}: checkpoint not found")
    module = load_module(checkpoint)
    pack = load_pack_tree(data_root, module.train_config.data.prep())
    check_data_matches_run(run_dir, pack)
    latents = encode_all(module, pack.audio)
    quality = check_reconstructions(pack.audio, decode_all(module, latents), pack.config.sample_rate)
    if not quality.ok and not force:
        raise ExportError(f"{checkpoint}: refusing to export a model that does not reproduce its training "
                          f"one-shots: {quality.summary()}. Train longer or with the recipe of "
                          f"docs/training.md; --force exports it anyway")
    metrics = {**training_metrics(run_dir, checkpoint), "quality": quality.to_dict()}
    return write_bundle(module, pack, out, metrics, latents, audio=audio)


def write_bundle(module: LatentPlayModule, pack: LoadedPack, out: Path, metrics: dict,
                 latents: np.ndarray | None = None, audio: bool = True) -> Path:
    """Encode the pack (unless its latents are given), analyse the latents, write and verify the
    bundle (with the prepared one-shots as ``originals.f32`` when ``audio``), then move it into
    place (replacing ``out``). Nothing is left behind when a check fails."""
    module = module.eval()
    latents = encode_all(module, pack.audio) if latents is None else latents
    duration_ms = 1000.0 * pack.config.num_samples / pack.config.sample_rate
    analysis = analyse_latents(latents, measure_all(pack.audio, pack.config.sample_rate),
                               *decoded_features(module, latents),
                               duration_ms=duration_ms)
    partial = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        write_torchscript(module, pack.audio[:VERIFY_EXAMPLES], partial)
        if audio:
            pack.audio.astype("<f4").tofile(partial / ORIGINALS_NAME)
        sidecar = build_sidecar(module, pack, analysis, partial, metrics)
        validate_sidecar(sidecar, partial / SIDECAR_NAME)
        (partial / SIDECAR_NAME).write_text(json.dumps(sidecar, indent=1, allow_nan=False) + "\n")
        load_bundle(partial)  # the reader's own checks: schema, cross-field rules, hashes
        if out.exists():
            shutil.rmtree(out)
        partial.rename(out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return out


def write_torchscript(module: LatentPlayModule, examples: np.ndarray, folder: Path) -> None:
    """Script, save, reload and compare with the eager model on real one-shots."""
    model = module.model.eval()
    audio = torch.from_numpy(examples)
    with torch.inference_mode():
        eager_latents = model.encoder(audio.unsqueeze(1))
        eager_audio = model.decoder(eager_latents)[:, 0, :]
    for name, wrapper, inputs, expected in (
            (ENCODER_NAME, EncoderForExport(model.encoder), audio, eager_latents),
            (DECODER_NAME, DecoderForExport(with_gemm_convolutions(model.decoder)), eager_latents, eager_audio)):
        torch.jit.script(wrapper).save(str(folder / name))
        reloaded = torch.jit.load(str(folder / name), map_location="cpu").eval()
        with torch.inference_mode():
            difference = float((reloaded(inputs) - expected).abs().max())
        # Absolute for outputs within ±1 (audio, latents of trained models), relative beyond:
        # float32 rounding grows with the signal, e.g. in the large outputs of untrained models.
        allowed = MAX_EXPORT_DIFF * max(1.0, float(expected.abs().max()))
        if not difference <= allowed:
            raise ExportError(f"{folder / name}: reloaded TorchScript differs from the eager model by "
                              f"{difference:.3g} (> {allowed:.3g})")


def build_sidecar(module: LatentPlayModule, pack: LoadedPack, analysis: LatentAnalysis, folder: Path,
                  metrics: dict) -> dict:
    decoder_hash = sha256_file(folder / DECODER_NAME)
    samples = [{"path": s.ref.relative_path, "pack": s.ref.pack, "subpack": s.ref.subpack,
                "latent": latent.tolist(), "features": dict(zip(FEATURE_NAMES, map(float, row)))}
               for s, latent, row in zip(pack.samples, analysis.latents, analysis.features)]
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "model_id": decoder_hash,
        "files": files_entry(folder),
        "sample_rate": module.train_config.data.sr,
        "length": module.model.length,
        "latent_dim": module.model.latent_dim,
        "prep": prep_entry(module.train_config.data.prep()),
        "controls": analysis.controls,
        "pca": analysis.pca,
        "packs": pack.packs,
        "samples": samples,
        "training": {"config": module.train_config.to_dict(), "metrics": metrics},
        "producer": {"latentplay": __version__, "torch": str(torch.__version__), "model_format": "torchscript"},
        "created_by": f"latentplay {__version__} export",
    }


def files_entry(folder: Path) -> dict:
    files = {"decoder": {"path": DECODER_NAME, "sha256": sha256_file(folder / DECODER_NAME)},
             "encoder": {"path": ENCODER_NAME, "sha256": sha256_file(folder / ENCODER_NAME)}}
    if (folder / ORIGINALS_NAME).is_file():
        files["originals"] = {"path": ORIGINALS_NAME, "sha256": sha256_file(folder / ORIGINALS_NAME),
                              "encoding": "float32-le"}
    return files


def prep_entry(prep: PrepConfig) -> dict:
    """The sidecar's "prep": what latentplay.audio.prepare_one_shot does, with the run's settings;
    the fixed steps (mono, resampler, normalise) are the contract's constants."""
    fixed = {name: entry["const"] for name, entry in contract()["$defs"]["prep"]["properties"].items()
             if "const" in entry}
    return {**fixed, "silence_threshold_dbfs": prep.silence_threshold_dbfs,
            "onset_threshold_db": prep.onset_threshold_db, "fade_out": prep.fade_out}


def training_metrics(run_dir: Path, checkpoint: Path) -> dict:
    summary_path = Path(run_dir) / "run.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    return {"checkpoint": checkpoint.name, **{key: summary[key] for key in
            ("epochs", "seconds", "monitor", "best_score", "final_metrics", "num_samples") if key in summary}}
