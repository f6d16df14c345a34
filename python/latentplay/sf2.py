"""A SoundFont 2 reader: just enough to take the drum one-shots out of an .sf2 file.

An SF2 file is a RIFF ``sfbk`` with three lists: ``INFO`` (version, names, engineer, copyright),
``sdta`` (``smpl``: every sample's 16-bit PCM, one after another; ``sm24``, from version 2.04 on:
an extra low byte per sample point for 24 bits) and ``pdta`` (the "hydra": presets -> zones ->
instruments -> zones -> samples, each zone a list of generators such as keyRange, velRange,
sampleID). Each sample header (``shdr``) gives its name, its start and end in ``smpl``, and its
rate. A drum soundfont maps each drum to a MIDI key (General MIDI: 36 kick, 38 snare...) through
the zones' key ranges, and each velocity layer is a zone of its own with a sample of its own:
every such sample is one one-shot.

Only what that needs is read: no modulators, no loops, and each sample as mono (a stereo pair is
two samples). Malformed files raise :class:`SoundFontError` (a ValueError) naming the file and
the problem.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

GEN_INSTRUMENT = 41
GEN_KEY_RANGE = 43
GEN_VELOCITY_RANGE = 44
GEN_SAMPLE_ID = 53
FULL_RANGE = (0, 127)
SAMPLE_TYPE_ROM = 0x8000  # the sample lives in a sound card's ROM, not in the file
SM24_VERSION = (2, 4)  # files older than 2.04 may carry an sm24 chunk that means nothing
RECORD_SIZES = {"phdr": 38, "pbag": 4, "pgen": 4, "inst": 22, "ibag": 4, "igen": 4, "shdr": 46}


class SoundFontError(ValueError):
    pass


@dataclass(frozen=True)
class SoundFontSample:
    name: str
    instrument: str  # the SF2 instrument whose zone plays it
    sample_rate: int
    keys: tuple[int, int]  # MIDI key range the zone plays (lo, hi)
    velocities: tuple[int, int]
    bits: int  # 16, or 24 with sm24
    pcm: np.ndarray  # int16 (16 bits) or int32 holding 24-bit values

    @property
    def audio(self) -> np.ndarray:
        """float32 mono in [-1, 1)."""
        return self.pcm.astype(np.float32) / 2.0 ** (self.bits - 1)


@dataclass(frozen=True)
class SoundFont:
    path: Path
    version: tuple[int, int]
    info: dict[str, str]  # INFO's text chunks: INAM (name), IENG (engineers), ICOP (copyright)...
    samples: list[SoundFontSample] = field(repr=False)


def read_soundfont(path: Path) -> SoundFont:
    """Every sample an instrument zone plays, with its key and velocity range."""
    path = Path(path)
    data = path.read_bytes()
    top = _top_level_chunks(data, path)
    version, info = _read_info(data, top, path)
    pcm, bits = _read_sample_data(data, top, version, path)
    pdta = _list_chunks(data, top, "pdta", path)
    headers = _records(data, pdta, "shdr", path)[:-1]  # the last record is the terminal 'EOS'
    instruments = _records(data, pdta, "inst", path)
    bags, generators = _records(data, pdta, "ibag", path), _records(data, pdta, "igen", path)
    preset_keys = _preset_key_ranges(data, pdta, path)
    samples = []
    for index in range(len(instruments) - 1):  # the last record is the terminal 'EOI'
        name = _name(instruments[index])
        first_bag = struct.unpack_from("<H", instruments[index], 20)[0]
        last_bag = struct.unpack_from("<H", instruments[index + 1], 20)[0]
        zones = _zones(bags, generators, first_bag, last_bag, f"instrument {name!r}", path)
        # A first zone without a sample is the instrument's global zone: defaults for the others.
        defaults = zones[0] if zones and GEN_SAMPLE_ID not in zones[0] else {}
        default_keys = _range(defaults, GEN_KEY_RANGE, preset_keys.get(index, FULL_RANGE))
        default_velocities = _range(defaults, GEN_VELOCITY_RANGE, FULL_RANGE)
        for zone in zones:
            if GEN_SAMPLE_ID not in zone:
                continue
            sample_id = _word(zone, GEN_SAMPLE_ID)
            if sample_id >= len(headers):
                raise SoundFontError(f"{path}: instrument {name!r} names sample {sample_id}, "
                                     f"the file has {len(headers)}")
            if _sample_type(headers[sample_id]) & SAMPLE_TYPE_ROM:
                continue
            samples.append(_sample(headers[sample_id], pcm, bits, name, _range(zone, GEN_KEY_RANGE, default_keys),
                                   _range(zone, GEN_VELOCITY_RANGE, default_velocities), path))
    return SoundFont(path, version, info, samples)


def read_chunks(data: bytes, start: int, end: int, path: Path) -> dict[str, tuple[int, int]]:
    """RIFF sub-chunks in data[start:end]: id (or 'LIST:type') -> (offset of content, size)."""
    chunks, offset = {}, start
    while offset + 8 <= end:
        chunk_id, size = struct.unpack_from("<4sI", data, offset)
        content = offset + 8
        if content + size > end:
            raise SoundFontError(f"{path}: chunk {chunk_id!r} at byte {offset} declares {size} bytes, "
                                 f"only {end - content} remain (truncated file?)")
        name = chunk_id.decode("latin-1")
        if name == "LIST":
            name = "LIST:" + data[content:content + 4].decode("latin-1")
        chunks[name] = (content, size)
        offset = content + size + (size & 1)  # chunks are padded to an even size
    return chunks


def _top_level_chunks(data: bytes, path: Path) -> dict[str, tuple[int, int]]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        raise SoundFontError(f"{path}: not a SoundFont 2 file (no RIFF 'sfbk' header)")
    declared = struct.unpack_from("<I", data, 4)[0]
    if declared + 8 > len(data):
        raise SoundFontError(f"{path}: the header declares {declared + 8} bytes, the file holds {len(data)} "
                             f"(truncated?)")
    return read_chunks(data, 12, 8 + declared, path)


def _list_chunks(data: bytes, top: dict, list_type: str, path: Path) -> dict[str, tuple[int, int]]:
    if f"LIST:{list_type}" not in top:
        raise SoundFontError(f"{path}: no {list_type!r} list")
    offset, size = top[f"LIST:{list_type}"]
    return read_chunks(data, offset + 4, offset + size, path)


def _read_info(data: bytes, top: dict, path: Path) -> tuple[tuple[int, int], dict[str, str]]:
    """The file's version (ifil) and its text chunks."""
    chunks = _list_chunks(data, top, "INFO", path)
    if "ifil" not in chunks or chunks["ifil"][1] != 4:
        raise SoundFontError(f"{path}: no 4-byte 'ifil' (version) chunk in INFO")
    version = struct.unpack_from("<HH", data, chunks["ifil"][0])
    texts = {name: data[offset:offset + size].split(b"\0", 1)[0].decode("latin-1").strip()
             for name, (offset, size) in chunks.items() if name != "ifil"}
    return version, texts


def _read_sample_data(data: bytes, top: dict, version: tuple[int, int], path: Path) -> tuple[np.ndarray, int]:
    """All sample points: int16 and 16 bits, or int32 holding 24-bit values with a valid sm24."""
    chunks = _list_chunks(data, top, "sdta", path)
    if "smpl" not in chunks:
        raise SoundFontError(f"{path}: no 'smpl' chunk (no sample data)")
    offset, size = chunks["smpl"]
    pcm = np.frombuffer(data, dtype="<i2", count=size // 2, offset=offset)
    if "sm24" not in chunks or version < SM24_VERSION:
        return pcm.astype(np.int16), 16
    low_offset, low_size = chunks["sm24"]
    if low_size not in (len(pcm), len(pcm) + 1):  # the spec: an sm24 of another size is ignored
        return pcm.astype(np.int16), 16
    low = np.frombuffer(data, dtype=np.uint8, count=len(pcm), offset=low_offset)
    return pcm.astype(np.int32) * 256 + low, 24


def _records(data: bytes, chunks: dict, name: str, path: Path) -> list[bytes]:
    if name not in chunks:
        raise SoundFontError(f"{path}: no {name!r} chunk in pdta")
    offset, size = chunks[name]
    record = RECORD_SIZES[name]
    if size % record or size == 0:
        raise SoundFontError(f"{path}: {name!r} chunk size {size} is not a positive multiple of {record}")
    return [data[offset + i:offset + i + record] for i in range(0, size, record)]


def _name(raw: bytes) -> str:
    return raw[:20].split(b"\0", 1)[0].decode("latin-1").strip()


def _zones(bags: list[bytes], generators: list[bytes], first_bag: int, last_bag: int, owner: str,
           path: Path) -> list[dict[int, bytes]]:
    """The zones bags[first_bag:last_bag] (the next bag marks each one's end): generator -> amount."""
    if not first_bag <= last_bag < len(bags):
        raise SoundFontError(f"{path}: {owner} uses zones {first_bag}..{last_bag}, the file has {len(bags) - 1}")
    zones = []
    for bag in range(first_bag, last_bag):
        first_gen = struct.unpack_from("<H", bags[bag])[0]
        last_gen = struct.unpack_from("<H", bags[bag + 1])[0]
        if not first_gen <= last_gen <= len(generators):
            raise SoundFontError(f"{path}: {owner}'s zone {bag} uses generators {first_gen}..{last_gen}, "
                                 f"the file has {len(generators)}")
        zones.append({struct.unpack_from("<H", record)[0]: record[2:4] for record in generators[first_gen:last_gen]})
    return zones


def _range(zone: dict[int, bytes], oper: int, default: tuple[int, int]) -> tuple[int, int]:
    return (zone[oper][0], zone[oper][1]) if oper in zone else default


def _word(zone: dict[int, bytes], oper: int) -> int:
    return struct.unpack("<H", zone[oper])[0]


def _preset_key_ranges(data: bytes, pdta: dict, path: Path) -> dict[int, tuple[int, int]]:
    """instrument index -> the key range a preset zone gives it (when its own zones give none)."""
    bags, generators = _records(data, pdta, "pbag", path), _records(data, pdta, "pgen", path)
    ranges = {}
    for zone in _zones(bags, generators, 0, len(bags) - 1, "the presets", path):
        if GEN_INSTRUMENT in zone and GEN_KEY_RANGE in zone:
            ranges.setdefault(_word(zone, GEN_INSTRUMENT), _range(zone, GEN_KEY_RANGE, FULL_RANGE))
    return ranges


def _sample_type(header: bytes) -> int:
    return struct.unpack_from("<H", header, 44)[0]


def _sample(header: bytes, pcm: np.ndarray, bits: int, instrument: str, keys: tuple[int, int],
            velocities: tuple[int, int], path: Path) -> SoundFontSample:
    start, end = struct.unpack_from("<II", header, 20)
    rate = struct.unpack_from("<I", header, 36)[0]
    name = _name(header)
    if not start < end <= len(pcm) or rate <= 0:
        raise SoundFontError(f"{path}: sample {name!r} has start {start}, end {end}, rate {rate} "
                             f"(sample data holds {len(pcm)} frames)")
    return SoundFontSample(name, instrument, int(rate), keys, velocities, bits, pcm[start:end].copy())
