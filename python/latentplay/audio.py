"""One-shot audio preparation: what every model input goes through.

A one-shot is prepared in this order (the order matters):

1. mono mix (mean of the channels),
2. band-limited resampling to the model rate with soxr ("HQ" quality),
3. trim the leading silence: the one-shot starts at its onset, the first sample whose magnitude
   reaches ``ONSET_THRESHOLD_DB`` relative to the file's peak (relative, so that quiet
   recordings are trimmed like loud ones),
4. peak-normalise to 1.0,
5. pad with zeros or crop to the configured duration,
6. linear fade-out over the last ``fade_out`` fraction of the duration (so a crop never clicks).

Files that cannot become a usable one-shot raise :class:`UnusableAudio` with a reason a person
can act on; the pack loader (:mod:`latentplay.dataset`) skips and reports them.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile
import soxr

ONSET_THRESHOLD_DB = -40.0
"""Onset = first sample at or above this level relative to the file's peak."""

SILENCE_THRESHOLD_DBFS = -90.0
"""A file whose peak is below this (about one 16-bit LSB) is treated as silent."""

RESAMPLE_QUALITY = "HQ"
"""soxr quality used everywhere in the project (the C++ engine uses the same libsoxr setting)."""


class UnusableAudio(Exception):
    """A file that cannot become a one-shot; ``str(error)`` is the reason."""


@dataclass(frozen=True)
class PrepConfig:
    """How raw audio becomes a model input; mirrors the ``data`` section of a training config."""

    sample_rate: int = 22050
    duration_s: float = 0.3
    fade_out: float = 0.1
    onset_threshold_db: float = ONSET_THRESHOLD_DB
    silence_threshold_dbfs: float = SILENCE_THRESHOLD_DBFS

    @property
    def num_samples(self) -> int:
        return int(round(self.sample_rate * self.duration_s))


@dataclass(frozen=True)
class SourceInfo:
    """What the file was before preparation (kept for reports and the bundle)."""

    sample_rate: int
    channels: int
    frames: int
    subtype: str
    onset_s: float

    @property
    def seconds_after_onset(self) -> float:
        """The one-shot's length once trimmed to its onset, at the source rate."""
        # In whole frames: subtracting onset_s from the length in seconds can land a hair above
        # a duration the one-shot meets exactly.
        return (self.frames - round(self.onset_s * self.sample_rate)) / self.sample_rate


def read_audio(path: Path) -> tuple[np.ndarray, int, str]:
    """Read a file as float64 frames x channels, its rate and its subtype (e.g. "PCM_24").

    Raises UnusableAudio with the reason."""
    try:
        # Python opens the file so that permission problems are reported as such
        # (libsndfile only says "System error").
        with open(path, "rb") as file, soundfile.SoundFile(file) as handle:
            data = handle.read(dtype="float64", always_2d=True)
            check_complete(file, handle, len(data))
            return data, handle.samplerate, handle.subtype
    except PermissionError:
        raise UnusableAudio("permission denied") from None
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as error:
        raise UnusableAudio(f"not readable as audio ({_first_line(error)})") from None
    except OSError as error:
        raise UnusableAudio(f"cannot open ({error.strerror or error})") from None


# Container id and form type -> (byte order, the chunk holding the audio, bytes in that chunk before
# the audio: AIFF's SSND starts with an offset and a block size). Other formats are not checked.
AUDIO_DATA_CHUNKS = {(b"RIFF", b"WAVE"): ("<", b"data", 0), (b"RIFX", b"WAVE"): (">", b"data", 0),
                     (b"RF64", b"WAVE"): ("<", b"data", 0), (b"BW64", b"WAVE"): ("<", b"data", 0),
                     (b"FORM", b"AIFF"): (">", b"SSND", 8), (b"FORM", b"AIFC"): (">", b"SSND", 8)}
SIZE_IN_DS64 = 0xFFFFFFFF  # RF64/BW64: the real 64-bit size of the data chunk is in the ds64 chunk
STREAMING_SIZES = (0, 0xFFFFFFFF)  # "size unknown" placeholders written by streaming writers

# Bytes per sample of the subtypes whose frames all have the same size (compressed ones do not).
SAMPLE_BYTES = {"PCM_S8": 1, "PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8,
                "ULAW": 1, "ALAW": 1}


def audio_data_bytes(file: BinaryIO) -> tuple[int, int] | None:
    """(declared, present) bytes of audio in a WAV/RF64/AIFF file's data chunk.

    None for other formats, for a declared size that is a streaming placeholder and for a file
    without a data chunk. Chunks are walked from the start because a valid file may hold any
    chunks before (and after) the data chunk."""
    file.seek(0)
    header = file.read(12)
    container = AUDIO_DATA_CHUNKS.get((header[:4], header[8:12]))
    if container is None:
        return None
    order, data_chunk, preamble = container
    file_size = file.seek(0, os.SEEK_END)
    ds64_data_size = None
    offset = 12
    while offset + 8 <= file_size:
        file.seek(offset)
        chunk_id, size = struct.unpack(order + "4sI", file.read(8))
        if chunk_id == b"ds64":
            ds64 = file.read(16)  # 64-bit RIFF size, then 64-bit data size
            ds64_data_size = struct.unpack("<8xQ", ds64)[0] if len(ds64) == 16 else None
        elif chunk_id == data_chunk:
            if size == SIZE_IN_DS64 and ds64_data_size is not None:
                size = ds64_data_size
            if size in STREAMING_SIZES:
                return None
            present = min(size, file_size - offset - 8)
            return size - preamble, max(0, present - preamble)
        offset += 8 + size + (size & 1)  # chunks are padded to an even size
    return None


def check_complete(file: BinaryIO, handle: soundfile.SoundFile, frames_read: int) -> None:
    """Raise UnusableAudio when a WAV/AIFF file holds less audio than its header declares (an
    interrupted copy): libsndfile reads such a file without an error, as a shorter sound, and
    only notes the mismatch in its log."""
    data_bytes = audio_data_bytes(file)
    if data_bytes is None:
        return
    declared, present = data_bytes
    if present >= declared:
        return
    frame_bytes = SAMPLE_BYTES.get(handle.subtype, 0) * handle.channels
    if frame_bytes:
        declared_text, held = f"{declared // frame_bytes} frames", frames_read
    else:  # compressed audio: a byte count is all the header tells
        declared_text, held = f"{declared} bytes of audio", present
    raise UnusableAudio(f"truncated: the header declares {declared_text}, the file holds {held} "
                        f"(an interrupted copy?)")


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def to_mono(frames: np.ndarray) -> np.ndarray:
    return frames.mean(axis=1) if frames.ndim == 2 else frames


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    if from_rate == to_rate:
        return audio
    return soxr.resample(audio, from_rate, to_rate, quality=RESAMPLE_QUALITY)


def onset_index(audio: np.ndarray, threshold_db: float = ONSET_THRESHOLD_DB) -> int:
    """Index of the first sample at or above ``threshold_db`` relative to the peak."""
    magnitude = np.abs(audio)
    threshold = magnitude.max() * 10.0 ** (threshold_db / 20.0)
    return int(np.argmax(magnitude >= threshold))


def fit_length(audio: np.ndarray, num_samples: int) -> np.ndarray:
    """Crop or zero-pad at the end to exactly ``num_samples``."""
    if len(audio) >= num_samples:
        return audio[:num_samples]
    return np.pad(audio, (0, num_samples - len(audio)))


def apply_fade_out(audio: np.ndarray, fade_fraction: float) -> np.ndarray:
    """Linear fade from 1 to 0 over the last ``fade_fraction`` of the one-shot."""
    fade_length = int(round(len(audio) * fade_fraction))
    if fade_length == 0:
        return audio
    faded = audio.copy()
    faded[-fade_length:] *= np.linspace(1.0, 0.0, fade_length)
    return faded


def prepare_one_shot(audio: np.ndarray, sample_rate: int, config: PrepConfig) -> np.ndarray:
    """Raw mono (or frames x channels) audio at ``sample_rate`` -> model input (float32).

    Raises UnusableAudio for empty, non-finite or silent input.
    """
    mono = to_mono(np.asarray(audio, dtype=np.float64))
    check_usable(mono, config.silence_threshold_dbfs)
    at_model_rate = resample(mono, sample_rate, config.sample_rate)
    trimmed = at_model_rate[onset_index(at_model_rate, config.onset_threshold_db):]
    normalised = trimmed / np.abs(trimmed).max()
    fitted = fit_length(normalised, config.num_samples)
    return apply_fade_out(fitted, config.fade_out).astype(np.float32)


def check_usable(mono: np.ndarray, silence_threshold_dbfs: float = SILENCE_THRESHOLD_DBFS) -> None:
    if mono.size == 0:
        raise UnusableAudio("empty (0 samples)")
    if not np.all(np.isfinite(mono)):
        raise UnusableAudio("contains NaN or infinite samples")
    peak = np.abs(mono).max()
    if peak < 10.0 ** (silence_threshold_dbfs / 20.0):
        raise UnusableAudio(f"silent (peak below {silence_threshold_dbfs:.0f} dBFS)")


def load_one_shot(path: Path, config: PrepConfig) -> tuple[np.ndarray, SourceInfo]:
    """Read and prepare one file. Raises UnusableAudio with the reason."""
    frames, rate, subtype = read_audio(path)
    mono = to_mono(frames)
    check_usable(mono, config.silence_threshold_dbfs)
    onset_s = onset_index(mono, config.onset_threshold_db) / rate
    info = SourceInfo(rate, frames.shape[1], frames.shape[0], subtype, onset_s)
    return prepare_one_shot(mono, rate, config), info


def write_wav(path: Path, audio: np.ndarray, sample_rate: int, subtype: str = "FLOAT") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), np.asarray(audio), sample_rate, subtype=subtype)
