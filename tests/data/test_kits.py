"""The real-drum benchmark: the SF2 reader against a file of known content, and the benchmark
built from Debian's packages (split by kit, no one-shot in both splits)."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile

from latentplay.audio import PrepConfig
from latentplay.cli import main
from latentplay.dataset import load_pack_tree
from latentplay.kits import HELD_OUT_KITS, INSTRUMENTS, find_kits, find_soundfonts, instrument_class
from latentplay.sf2 import SoundFontError, read_soundfont


def chunk(chunk_id: bytes, payload: bytes) -> bytes:
    return struct.pack("<4sI", chunk_id, len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")


def riff_list(list_type: bytes, *chunks: bytes) -> bytes:
    return chunk(b"LIST", list_type + b"".join(chunks))


def name20(name: str) -> bytes:
    return name.encode()[:20].ljust(20, b"\0")


def write_sf2(path: Path, samples: list[tuple[str, np.ndarray, int, int, tuple[int, int]]]) -> None:
    """A minimal valid SF2: one instrument per sample (name, int16 data, rate, key, velocity range),
    each with one zone (keyRange, velRange, sampleID); one preset zone per instrument."""
    pcm, headers, offset = b"", b"", 0
    for name, data, rate, key, _ in samples:
        pcm += data.astype("<i2").tobytes() + b"\0" * 92  # 46 zero frames after each sample, as SF2 asks
        headers += name20(name) + struct.pack("<IIIIIbbHH", offset, offset + len(data), offset, offset + len(data),
                                              rate, key, 0, 0, 1)
        offset += len(data) + 46
    headers += name20("EOS") + bytes(26)
    inst, ibag, igen, phdr, pbag, pgen = b"", b"", b"", b"", b"", b""
    for index, (name, _, _, key, velocities) in enumerate(samples):
        inst += name20(f"Instrument {name}") + struct.pack("<H", index)
        ibag += struct.pack("<HH", 3 * index, 0)
        igen += struct.pack("<HBB", 43, key, key) + struct.pack("<HBB", 44, *velocities) + struct.pack("<HH", 53, index)
        phdr += name20(f"Preset {index}") + struct.pack("<HHHIII", index, 128, index, 0, 0, 0)
        pbag += struct.pack("<HH", index, 0)
        pgen += struct.pack("<HH", 41, index)
    count = len(samples)
    inst += name20("EOI") + struct.pack("<H", count)
    ibag += struct.pack("<HH", 3 * count, 0)
    igen += bytes(4)
    phdr += name20("EOP") + struct.pack("<HHHIII", 0, 0, count, 0, 0, 0)
    pbag += struct.pack("<HH", count, 0)
    pgen += bytes(4)
    pdta = riff_list(b"pdta", chunk(b"phdr", phdr), chunk(b"pbag", pbag), chunk(b"pmod", bytes(10)),
                     chunk(b"pgen", pgen), chunk(b"inst", inst), chunk(b"ibag", ibag), chunk(b"imod", bytes(10)),
                     chunk(b"igen", igen), chunk(b"shdr", headers))
    info = riff_list(b"INFO", chunk(b"ifil", struct.pack("<HH", 2, 1)), chunk(b"INAM", b"test kit\0"))
    body = b"sfbk" + info + riff_list(b"sdta", chunk(b"smpl", pcm)) + pdta
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def test_sf2_reader_returns_every_layer_with_its_key_velocities_and_exact_samples(tmp_path):
    rng = np.random.default_rng(0)
    kick_soft = rng.integers(-20000, 20000, 300).astype(np.int16)
    kick_hard = rng.integers(-32768, 32767, 411).astype(np.int16)
    snare = rng.integers(-1000, 1000, 57).astype(np.int16)
    path = tmp_path / "kit.sf2"
    write_sf2(path, [("36-Kick-1", kick_soft, 44100, 36, (1, 63)), ("36-Kick-2", kick_hard, 44100, 36, (64, 127)),
                     ("38-Snare-1", snare, 48000, 38, (0, 127))])
    samples = read_soundfont(path)
    assert [s.name for s in samples] == ["36-Kick-1", "36-Kick-2", "38-Snare-1"]
    assert [s.keys for s in samples] == [(36, 36), (36, 36), (38, 38)]
    assert [s.velocities for s in samples] == [(1, 63), (64, 127), (0, 127)]
    assert [s.sample_rate for s in samples] == [44100, 44100, 48000]
    for sample, expected in zip(samples, (kick_soft, kick_hard, snare)):
        assert np.array_equal(sample.audio, expected.astype(np.float32) / 32768.0)
    assert [instrument_class(s.name) for s in samples] == ["kick", "kick", "snare"]


@pytest.mark.parametrize("damage", ["truncated", "not sf2", "sample past the data"])
def test_sf2_reader_names_the_file_and_the_problem(tmp_path, damage):
    path = tmp_path / "kit.sf2"
    write_sf2(path, [("36-Kick-1", np.arange(100, dtype=np.int16), 44100, 36, (0, 127))])
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[:len(data) // 2])
        expected = "truncated"
    elif damage == "not sf2":
        soundfile.write(str(path), np.zeros(100), 44100, format="WAV")
        expected = "not a SoundFont 2 file"
    else:
        start = data.rindex(b"36-Kick-1") + 20  # the sample header, after the instrument names
        path.write_bytes(data[:start] + struct.pack("<II", 0, 10_000) + data[start + 8:])
        expected = "sample data holds"
    with pytest.raises(SoundFontError, match=expected) as error:
        read_soundfont(path)
    assert str(path) in str(error.value)


def test_instrument_names_land_in_one_class():
    assert instrument_class("Snare Rimshot (Pearl Free Floating Maple 14x3.5)") == "snare"
    assert instrument_class("Hand Clap") == "clap" and instrument_class("c3 - bass drum 1") == "kick"
    assert instrument_class("Hi-Hat Closed (Paiste Alpha Metal edge 14\")") == "hat"
    assert instrument_class("42-SabianRockHatClos") == "hat" and instrument_class("Closed HH 1") == "hat"
    assert instrument_class("41-Pearl16FloorTom-1") == "tom" and instrument_class("tomhi2") == "tom"
    assert instrument_class("Ride (Custom, Zagrebin 22\")") is None
    assert instrument_class("Pearl Side Stick") is None and instrument_class("Cowbell") is None


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory) -> tuple[Path, list[dict]]:
    if not find_kits():
        pytest.skip("no Hydrogen drum kits: apt-get install hydrogen-drumkits hydrogen-data")
    out = tmp_path_factory.mktemp("drums")
    assert main(["kits", "--out", str(out)]) == 0
    return out, json.loads((out / "kits.json").read_text())


def test_benchmark_is_split_by_kit_with_every_instrument_on_both_sides(benchmark):
    out, manifest = benchmark
    for instrument in INSTRUMENTS:
        for split in ("train", "heldout"):
            rows = [r for r in manifest if r["instrument"] == instrument and r["split"] == split]
            assert rows, f"no {instrument} in {split}"
            assert all((out / r["file"]).is_file() and r["file"].startswith(f"{instrument}/{split}/") for r in rows)
    train_kits = {r["kit"] for r in manifest if r["split"] == "train"}
    heldout_kits = {r["kit"] for r in manifest if r["split"] == "heldout"}
    assert not train_kits & heldout_kits and heldout_kits <= set(HELD_OUT_KITS)
    kicks = [r for r in manifest if r["instrument"] == "kick"]
    assert 0.2 <= sum(r["split"] == "heldout" for r in kicks) / len(kicks) <= 0.35


def test_no_one_shot_is_in_the_benchmark_twice(benchmark):
    out, manifest = benchmark
    digests = [hashlib.sha1(soundfile.read(str(out / r["file"]), dtype="float32")[0].tobytes()).hexdigest()
               for r in manifest]
    assert len(set(digests)) == len(digests)


def test_every_benchmark_kick_loads(benchmark):
    out, manifest = benchmark
    for split in ("train", "heldout"):
        pack = load_pack_tree(out / "kick" / split, PrepConfig())
        assert not pack.skipped and len(pack.samples) == sum(
            r["instrument"] == "kick" and r["split"] == split for r in manifest)


def test_avl_kicks_are_every_velocity_layer_of_the_soundfonts(benchmark):
    if not find_soundfonts():
        pytest.skip("no AVL drumkit soundfonts: apt-get install avldrums.lv2-soundfont")
    _, manifest = benchmark
    for kit in ("AVL Black Pearl", "AVL Red Zeppelin"):
        layers = sorted(r["name"] for r in manifest if r["kit"] == kit and r["instrument"] == "kick")
        assert len(layers) == 5, layers  # one kick, five velocity layers
        assert all(r["source"].endswith(".sf2") for r in manifest if r["kit"] == kit)
