"""A SoundFont 2 reader: just enough to take the drum one-shots out of an .sf2 file.

An SF2 file is a RIFF ``sfbk`` with three lists: ``INFO`` (names), ``sdta`` (``smpl``: every
sample's 16-bit PCM, one after another; ``sm24``: optional extra low bytes for 24 bits) and
``pdta`` (the "hydra": presets -> zones -> instruments -> zones -> samples, each zone a list of
generators such as keyRange, velRange, sampleID). Each sample header (``shdr``) gives its name,
its start and end in ``smpl``, and its rate. A drum soundfont maps each drum to a MIDI key (General
MIDI: 36 kick, 38 snare...) through the zones' key ranges, and each velocity layer is a zone of its
own with a sample of its own: every such sample is one one-shot.

Only what that needs is read (no modulators, no loops, no stereo linking beyond reading each
sample as mono). Malformed files raise :class:`SoundFontError` naming the file and the problem.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

GEN_INSTRUMENT = 41
GEN_KEY_RANGE = 43
GEN_VELOCITY_RANGE = 44
GEN_SAMPLE_ID = 53
RECORD_SIZES = {"phdr": 38, "pbag": 4, "pgen": 4, "inst": 22, "ibag": 4, "igen": 4, "shdr": 46}


class SoundFontError(ValueError):
    pass


@dataclass(frozen=True)
class SoundFontSample:
    name: str
    instrument: str
    sample_rate: int
    keys: tuple[int, int]  # MIDI key range the zone plays (lo, hi)
    velocities: tuple[int, int]
    audio: np.ndarray  # float32 mono in [-1, 1)


@dataclass(frozen=True)
class _Zone:
    generators: dict[int, tuple[int, int, int]]  # oper -> (signed amount, lo byte, hi byte)


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
        offset = content + size + (size & 1)
    return chunks


def _records(data: bytes, chunks: dict, name: str, path: Path) -> list[bytes]:
    if name not in chunks:
        raise SoundFontError(f"{path}: no {name!r} chunk in pdta")
    offset, size = chunks[name]
    record = RECORD_SIZES[name]
    if size % record:
        raise SoundFontError(f"{path}: {name!r} chunk size {size} is not a multiple of {record}")
    return [data[offset + i:offset + i + record] for i in range(0, size, record)]


def _name(raw: bytes) -> str:
    return raw[:20].split(b"\0", 1)[0].decode("latin-1").strip()


def _zones(bags: list[bytes], generators: list[bytes], first_bag: int, last_bag: int) -> list[_Zone]:
    zones = []
    for bag in range(first_bag, last_bag):
        first_gen = struct.unpack_from("<H", bags[bag])[0]
        last_gen = struct.unpack_from("<H", bags[bag + 1])[0]
        found = {}
        for record in generators[first_gen:last_gen]:
            oper, amount = struct.unpack_from("<Hh", record)
            found[oper] = (amount, record[2], record[3])
        zones.append(_Zone(found))
    return zones


def _range(zone: _Zone, oper: int, default: tuple[int, int] | None) -> tuple[int, int] | None:
    if oper in zone.generators:
        _, low, high = zone.generators[oper]
        return low, high
    return default


def read_soundfont(path: Path) -> list[SoundFontSample]:
    """Every sample an instrument zone plays, with its key and velocity range."""
    path = Path(path)
    data = path.read_bytes()
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        raise SoundFontError(f"{path}: not a SoundFont 2 file (no RIFF 'sfbk' header)")
    declared = struct.unpack_from("<I", data, 4)[0]
    if declared + 8 > len(data):
        raise SoundFontError(f"{path}: the header declares {declared + 8} bytes, the file holds {len(data)} "
                             f"(truncated?)")
    top = read_chunks(data, 12, 8 + declared, path)
    for needed in ("LIST:sdta", "LIST:pdta"):
        if needed not in top:
            raise SoundFontError(f"{path}: no {needed[5:]!r} list")
    sdta_offset, sdta_size = top["LIST:sdta"]
    sdta = read_chunks(data, sdta_offset + 4, sdta_offset + sdta_size, path)
    if "smpl" not in sdta:
        raise SoundFontError(f"{path}: no 'smpl' chunk (no sample data)")
    pcm = np.frombuffer(data, dtype="<i2", count=sdta["smpl"][1] // 2, offset=sdta["smpl"][0])
    pdta_offset, pdta_size = top["LIST:pdta"]
    pdta = read_chunks(data, pdta_offset + 4, pdta_offset + pdta_size, path)
    headers = _records(data, pdta, "shdr", path)[:-1]  # the last record is the terminal 'EOS'
    instruments = _records(data, pdta, "inst", path)
    bags, generators = _records(data, pdta, "ibag", path), _records(data, pdta, "igen", path)
    preset_keys = _preset_key_ranges(data, pdta, path)
    samples = []
    for index in range(len(instruments) - 1):  # the last record is the terminal 'EOI'
        name = _name(instruments[index])
        first_bag = struct.unpack_from("<H", instruments[index], 20)[0]
        last_bag = struct.unpack_from("<H", instruments[index + 1], 20)[0]
        zones = _zones(bags, generators, first_bag, last_bag)
        global_zone = zones[0] if zones and GEN_SAMPLE_ID not in zones[0].generators else _Zone({})
        default_keys = _range(global_zone, GEN_KEY_RANGE, preset_keys.get(index, (0, 127)))
        default_velocities = _range(global_zone, GEN_VELOCITY_RANGE, (0, 127))
        for zone in zones:
            if GEN_SAMPLE_ID not in zone.generators:
                continue
            sample_id = zone.generators[GEN_SAMPLE_ID][0] & 0xFFFF
            if sample_id >= len(headers):
                raise SoundFontError(f"{path}: instrument {name!r} names sample {sample_id}, "
                                     f"the file has {len(headers)}")
            samples.append(_sample(headers[sample_id], pcm, name, _range(zone, GEN_KEY_RANGE, default_keys),
                                   _range(zone, GEN_VELOCITY_RANGE, default_velocities), path))
    return samples


def _preset_key_ranges(data: bytes, pdta: dict, path: Path) -> dict[int, tuple[int, int]]:
    """instrument index -> the key range a preset zone gives it (when its own zones give none)."""
    bags, generators = _records(data, pdta, "pbag", path), _records(data, pdta, "pgen", path)
    ranges = {}
    for zone in _zones(bags, generators, 0, len(bags) - 1):
        if GEN_INSTRUMENT in zone.generators and GEN_KEY_RANGE in zone.generators:
            ranges.setdefault(zone.generators[GEN_INSTRUMENT][0] & 0xFFFF, _range(zone, GEN_KEY_RANGE, None))
    return ranges


def _sample(header: bytes, pcm: np.ndarray, instrument: str, keys, velocities, path: Path) -> SoundFontSample:
    start, end = struct.unpack_from("<II", header, 20)
    rate = struct.unpack_from("<I", header, 36)[0]
    name = _name(header)
    if not start < end <= len(pcm) or rate <= 0:
        raise SoundFontError(f"{path}: sample {name!r} has start {start}, end {end}, rate {rate} "
                             f"(sample data holds {len(pcm)} frames)")
    audio = (pcm[start:end].astype(np.float32) / 32768.0)
    return SoundFontSample(name, instrument, int(rate), tuple(keys), tuple(velocities), audio)
