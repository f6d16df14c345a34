"""Sample-pack trees: ``Dataset/Pack/(SubPack/...)/file.wav`` -> prepared one-shots.

The pack label is the first-level folder; deeper folders form the sub-pack path. Files lying
directly in the data folder belong to a pack named after the data folder itself.
Bad files never stop a load: each is skipped, and the reason is reported in the summary.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from latentplay.audio import PrepConfig, SourceInfo, UnusableAudio, load_one_shot

AUDIO_EXTENSIONS = (".wav", ".wave", ".flac", ".aif", ".aiff", ".aifc", ".ogg", ".oga", ".mp3")


class NoUsableAudioError(ValueError):
    """Raised when a data folder yields no usable one-shot at all."""


@dataclass(frozen=True)
class SampleRef:
    """Where a file sits in the pack tree."""

    path: Path
    relative_path: str  # POSIX-style, relative to the data folder
    pack: str
    subpack: str  # "" when the file lies directly in its pack folder


@dataclass(frozen=True)
class LoadedSample:
    ref: SampleRef
    source: SourceInfo


@dataclass(frozen=True)
class SkippedFile:
    relative_path: str
    reason: str


@dataclass
class LoadedPack:
    """Every usable one-shot of a data folder (``audio[i]`` belongs to ``samples[i]``)."""

    root: Path
    config: PrepConfig
    audio: np.ndarray  # float32, (num_samples, config.num_samples)
    samples: list[LoadedSample]
    skipped: list[SkippedFile] = field(default_factory=list)

    @property
    def packs(self) -> list[str]:
        return sorted({sample.ref.pack for sample in self.samples})

    def cropped_count(self) -> int:
        """One-shots longer than the model duration after the onset trim: their tails are cut."""
        return sum(sample.source.seconds_after_onset > self.config.duration_s for sample in self.samples)

    def summary(self) -> str:
        counts = {pack: 0 for pack in self.packs}
        for sample in self.samples:
            counts[sample.ref.pack] += 1
        lines = [f"Loaded {len(self.samples)} one-shots from {self.root} "
                 f"({', '.join(f'{pack}: {count}' for pack, count in counts.items())})"]
        if self.skipped:
            lines.append(f"Skipped {len(self.skipped)} file(s):")
            lines += [f"  {skip.relative_path}: {skip.reason}" for skip in self.skipped]
        return "\n".join(lines)


def find_audio_files(root: Path) -> list[SampleRef]:
    """All files with an audio extension under ``root``, sorted by relative path."""
    root = Path(root)
    if not root.is_dir():
        raise NoUsableAudioError(f"{root}: not a folder")
    refs = []
    for folder, subfolders, files in os.walk(root):
        subfolders.sort()
        for name in sorted(files):
            if name.lower().endswith(AUDIO_EXTENSIONS):
                refs.append(make_ref(root, Path(folder) / name))
    return sorted(refs, key=lambda ref: ref.relative_path)


def make_ref(root: Path, path: Path) -> SampleRef:
    parts = path.relative_to(root).parts
    if len(parts) == 1:
        return SampleRef(path, parts[0], root.resolve().name, "")
    return SampleRef(path, "/".join(parts), parts[0], "/".join(parts[1:-1]))


def load_pack_tree(root: Path, config: PrepConfig, progress: bool = False) -> LoadedPack:
    """Load every audio file under ``root``; unusable ones are skipped with their reason.

    Raises NoUsableAudioError when nothing at all could be loaded.
    """
    root = Path(root)
    refs = find_audio_files(root)
    audio, samples, skipped = [], [], []
    for ref in _maybe_progress(refs, progress):
        try:
            one_shot, source = load_one_shot(ref.path, config)
        except UnusableAudio as reason:
            skipped.append(SkippedFile(ref.relative_path, str(reason)))
            continue
        audio.append(one_shot)
        samples.append(LoadedSample(ref, source))
    if not samples:
        detail = f"{len(skipped)} audio file(s) found, none usable" if refs else \
            f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) found"
        reasons = "".join(f"\n  {skip.relative_path}: {skip.reason}" for skip in skipped[:20])
        raise NoUsableAudioError(f"{root}: {detail}{reasons}")
    return LoadedPack(root, config, np.stack(audio), samples, skipped)


def _maybe_progress(items: list, enabled: bool):
    if not enabled:
        return items
    from rich.progress import track

    return track(items, description="Loading one-shots", transient=True)
