"""The real-drum benchmark: the SF2 reader against files of known content, the build on tiny
made-up sources, and the benchmark built from Debian's packages (split by kit, no recording in
it twice)."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile

from latentplay.audio import PrepConfig
from latentplay.cli import main
from latentplay.dataset import load_pack_tree
from latentplay.kits import (AVL_LICENSE, HELD_OUT_KITS, INSTRUMENTS, SAME_RECORDING, build_benchmark, find_kits,
                             find_soundfonts, instrument_class, recording_similarity, safe_folder_name,
                             soundfont_instrument, soundfont_kit_name, soundfont_one_shots)
from latentplay.sf2 import SoundFontError, read_soundfont

FULL = (0, 127)


@dataclass
class Layer:
    """One sample of a made-up soundfont, played by an instrument of its own."""
    name: str
    pcm: np.ndarray  # int16
    rate: int
    key: int
    velocities: tuple[int, int] = FULL


def chunk(chunk_id: bytes, payload: bytes) -> bytes:
    return struct.pack("<4sI", chunk_id, len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")


def riff_list(list_type: bytes, *chunks: bytes) -> bytes:
    return chunk(b"LIST", list_type + b"".join(chunks))


def name20(name: str) -> bytes:
    return name.encode()[:20].ljust(20, b"\0")


def generator(oper: int, amount: tuple[int, int] | int) -> bytes:
    return struct.pack("<HBB", oper, *amount) if isinstance(amount, tuple) else struct.pack("<HH", oper, amount)


def write_sf2(path: Path, layers: list[Layer], version: tuple[int, int] = (2, 1), low_bytes: bytes | None = None,
              keys_in_preset: bool = False) -> None:
    """A minimal valid SF2: per layer an instrument with one zone (keyRange, velRange, sampleID)
    and a preset zone (keyRange there instead with keys_in_preset); ``low_bytes``: an sm24 chunk."""
    pcm, headers, offset = b"", b"", 0
    for layer in layers:
        pcm += layer.pcm.astype("<i2").tobytes() + bytes(92)  # 46 zero points after each sample, as SF2 asks
        headers += name20(layer.name) + struct.pack("<IIIIIbbHH", offset, offset + len(layer.pcm), offset,
                                                    offset + len(layer.pcm), layer.rate, layer.key, 0, 0, 1)
        offset += len(layer.pcm) + 46
    headers += name20("EOS") + bytes(26)
    inst, ibag, igen, phdr, pbag, pgen = b"", b"", b"", b"", b"", b""
    for index, layer in enumerate(layers):
        keys = generator(43, (layer.key, layer.key))
        inst += name20(f"Instrument {index}") + struct.pack("<H", index)
        ibag += struct.pack("<HH", len(igen) // 4, 0)
        igen += (b"" if keys_in_preset else keys) + generator(44, layer.velocities) + generator(53, index)
        phdr += name20(f"Preset {index}") + struct.pack("<HHHIII", index, 128, index, 0, 0, 0)
        pbag += struct.pack("<HH", len(pgen) // 4, 0)
        pgen += (keys if keys_in_preset else b"") + generator(41, index)
    inst += name20("EOI") + struct.pack("<H", len(layers))
    ibag += struct.pack("<HH", len(igen) // 4, 0)
    igen += bytes(4)
    phdr += name20("EOP") + struct.pack("<HHHIII", 0, 0, len(layers), 0, 0, 0)
    pbag += struct.pack("<HH", len(pgen) // 4, 0)
    pgen += bytes(4)
    pdta = riff_list(b"pdta", chunk(b"phdr", phdr), chunk(b"pbag", pbag), chunk(b"pmod", bytes(10)),
                     chunk(b"pgen", pgen), chunk(b"inst", inst), chunk(b"ibag", ibag), chunk(b"imod", bytes(10)),
                     chunk(b"igen", igen), chunk(b"shdr", headers))
    info = riff_list(b"INFO", chunk(b"ifil", struct.pack("<HH", *version)), chunk(b"INAM", b"test kit\0"),
                     chunk(b"IENG", b"A. Drummer\0"))
    sdta = riff_list(b"sdta", chunk(b"smpl", pcm), *([chunk(b"sm24", low_bytes)] if low_bytes is not None else []))
    body = b"sfbk" + info + sdta + pdta
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def random_pcm(seed: int, length: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(-32768, 32768, length).astype(np.int16)


def test_sf2_reader_returns_every_layer_with_its_key_velocities_and_exact_samples(tmp_path):
    kick_soft, kick_hard, snare = random_pcm(0, 300), random_pcm(1, 411), random_pcm(2, 57)
    path = tmp_path / "kit.sf2"
    write_sf2(path, [Layer("36-Kick-1", kick_soft, 44100, 36, (1, 63)),
                     Layer("36-Kick-2", kick_hard, 44100, 36, (64, 127)), Layer("38-Snare-1", snare, 48000, 38)])
    soundfont = read_soundfont(path)
    assert soundfont.version == (2, 1) and soundfont.info == {"INAM": "test kit", "IENG": "A. Drummer"}
    samples = soundfont.samples
    assert [s.name for s in samples] == ["36-Kick-1", "36-Kick-2", "38-Snare-1"]
    assert [s.keys for s in samples] == [(36, 36), (36, 36), (38, 38)]
    assert [s.velocities for s in samples] == [(1, 63), (64, 127), FULL]
    assert [s.sample_rate for s in samples] == [44100, 44100, 48000]
    for sample, expected in zip(samples, (kick_soft, kick_hard, snare)):
        assert sample.bits == 16 and np.array_equal(sample.pcm, expected)
        assert np.array_equal(sample.audio, expected.astype(np.float32) / 32768)


@pytest.mark.parametrize("keys_in_preset", [False, True], ids=["instrument key ranges", "preset key ranges"])
def test_sf2_drums_are_told_apart_by_general_midi_key_unless_the_name_says(tmp_path, keys_in_preset):
    names_and_keys = [("Sample 1", 36, "kick"), ("Sample 2", 38, "snare"), ("Sample 3", 39, "clap"),
                      ("Sample 4", 44, "hat"), ("41-Ludwig16FloorTo-1", 41, "tom"), ("Sample 6", 37, None),
                      ("48-SabianRockHatSwis", 48, "hat"), ("50-SabianAA16CrashCh", 50, None), ("Sample 9", 50, "tom")]
    path = tmp_path / "kit.sf2"
    write_sf2(path, [Layer(name, random_pcm(key, 20), 44100, key) for name, key, _ in names_and_keys],
              keys_in_preset=keys_in_preset)
    samples = read_soundfont(path).samples
    assert [s.keys for s in samples] == [(key, key) for _, key, _ in names_and_keys]
    assert [soundfont_instrument(s) for s in samples] == [kind for _, _, kind in names_and_keys]


def test_sf2_reader_takes_24_bits_from_sm24_from_version_2_04_on(tmp_path):
    high, low = random_pcm(3, 100), np.random.default_rng(4).integers(0, 256, 100).astype(np.uint8)
    layer = Layer("36-Kick", high, 96000, 36)
    low_bytes = bytes(low) + bytes(46)  # one low byte per sample point, the zero points included
    path = tmp_path / "kit.sf2"
    write_sf2(path, [layer], version=(2, 4), low_bytes=low_bytes)
    sample = read_soundfont(path).samples[0]
    assert sample.bits == 24 and np.array_equal(sample.pcm, high.astype(np.int32) * 256 + low)
    assert sample.audio.max() < 1 and np.array_equal(sample.audio, sample.pcm.astype(np.float32) / 2 ** 23)
    write_sf2(path, [layer], version=(2, 1), low_bytes=low_bytes)  # before 2.04 sm24 means nothing
    sample = read_soundfont(path).samples[0]
    assert sample.bits == 16 and np.array_equal(sample.pcm, high)


@pytest.mark.parametrize("bits", [16, 24])
def test_sf2_one_shots_are_written_with_their_exact_sample_points(tmp_path, bits):
    high = random_pcm(5, 300)
    low_bytes = bytes((np.arange(346) % 256).astype(np.uint8)) if bits == 24 else None
    path = tmp_path / "Test_Kit_4_LV2.sf2"
    write_sf2(path, [Layer("36-Kick", high, 22050, 36)], version=(2, 4), low_bytes=low_bytes)
    [one_shot] = soundfont_one_shots(path)
    entry = one_shot.entry
    assert (entry.kit, entry.instrument, entry.author) == ("AVL Test Kit", "kick", "A. Drummer")
    one_shot.write(tmp_path / "kick.wav")
    written, rate = soundfile.read(str(tmp_path / "kick.wav"), dtype="int32")
    assert rate == 22050 and soundfile.info(str(tmp_path / "kick.wav")).subtype == f"PCM_{bits}"
    assert np.array_equal(written >> (32 - bits), one_shot.sample.pcm)


@pytest.mark.parametrize("damage", ["truncated", "not sf2", "sample past the data", "zone past the bags", "no ifil"])
def test_sf2_reader_names_the_file_and_the_problem(tmp_path, damage):
    path = tmp_path / "kit.sf2"
    write_sf2(path, [Layer("36-Kick-1", np.arange(100, dtype=np.int16), 44100, 36)])
    data = path.read_bytes()
    inst = data.index(b"Instrument 0")
    damaged, expected = {
        "truncated": (data[:len(data) // 2], "truncated"),
        "not sf2": (b"RIFF\x04\x00\x00\x00WAVE", "not a SoundFont 2 file"),
        "sample past the data": (data.replace(struct.pack("<II", 0, 100), struct.pack("<II", 0, 10_000)),
                                 "sample data holds"),
        "zone past the bags": (data[:inst + 20] + struct.pack("<H", 7) + data[inst + 22:], "uses zones 7"),
        "no ifil": (data.replace(b"ifil", b"ifiX"), "'ifil'"),
    }[damage]
    path.write_bytes(damaged)
    with pytest.raises(SoundFontError, match=expected) as error:
        read_soundfont(path)
    assert isinstance(error.value, ValueError) and str(path) in str(error.value)


def test_instrument_names_land_in_one_class():
    assert instrument_class("Snare Rimshot (Pearl Free Floating Maple 14x3.5)") == "snare"
    assert instrument_class("Hand Clap") == "clap" and instrument_class("c3 - bass drum 1") == "kick"
    assert instrument_class("Hi-Hat Closed (Paiste Alpha Metal edge 14\")") == "hat"
    assert instrument_class("42-SabianRockHatClos") == "hat" and instrument_class("Closed HH 1") == "hat"
    assert instrument_class("Side OHH") == "hat" and instrument_class("Pedal Hat") == "hat"
    assert instrument_class("41-Pearl16FloorTom-1") == "tom" and instrument_class("tomhi2") == "tom"
    assert instrument_class("Floor Tom") == "tom" and instrument_class("Tom 1") == "tom"
    assert instrument_class("Ride (Custom, Zagrebin 22\")") is None
    assert instrument_class("Pearl Side Stick") is None and instrument_class("Cowbell") is None


def write_hydrogen_kit(folder: Path, kit: str, files: dict[str, np.ndarray]) -> None:
    """A drumkit.xml with one instrument per file (named like the file) and the files as WAV."""
    folder.mkdir(parents=True)
    instruments = "".join(f"<instrument><name>{Path(name).stem}</name><layer><filename>{name}</filename>"
                          f"</layer></instrument>" for name in files)
    (folder / "drumkit.xml").write_text(f"<drumkit_info xmlns='http://www.hydrogen2.org/drumkit'><name>{kit}</name>"
                                        f"<author>Someone</author><license>GPL</license>"
                                        f"<instrumentList>{instruments}</instrumentList></drumkit_info>")
    for name, audio in files.items():
        soundfile.write(str(folder / name), audio, 44100, subtype="PCM_16")


def decaying_noise(seed: int, gain: float = 0.2) -> np.ndarray:  # peaks below 1: no clipping
    rng = np.random.default_rng(seed)
    return gain * rng.standard_normal(8000) * np.exp(-np.arange(8000) / 1500)


def test_build_splits_by_kit_leaves_out_copies_and_notes_an_absent_source(tmp_path):
    kits = tmp_path / "drumkits"
    write_hydrogen_kit(kits / "Mine", "My Kit", {"Kick.wav": decaying_noise(0), "Snare.wav": decaying_noise(1),
                                                 "Kick Soft.wav": decaying_noise(0, gain=0.05)})  # one kick, two gains
    write_hydrogen_kit(kits / "Held", HELD_OUT_KITS[0], {"Kick.wav": decaying_noise(2), "Hat.wav": decaying_noise(1)})
    out = tmp_path / "out"
    (out / "kick" / "heldout" / "Stale_Kit").mkdir(parents=True)  # a previous build with another split
    soundfile.write(str(out / "kick" / "heldout" / "Stale_Kit" / "old.wav"), decaying_noise(3), 44100)
    manifest, notes = build_benchmark(out, ("kick", "snare", "hat"), kit_dirs=(kits,), soundfont_dirs=(tmp_path,))
    assert any("avldrums.lv2-soundfont not installed" in note and "apt-get install avldrums.lv2-soundfont" in note
               for note in notes)
    assert any(note.startswith("My Kit: 1 one-shot(s) the same recording") for note in notes)
    held_out_kit = safe_folder_name(HELD_OUT_KITS[0])
    # The held-out kit's hat is My Kit's snare recording: it stays in training only.
    assert sorted(row["file"] for row in manifest) == [f"kick/heldout/{held_out_kit}/Kick.wav",
                                                      "kick/train/My_Kit/Kick.wav", "snare/train/My_Kit/Snare.wav"]
    assert sorted(str(path.relative_to(out)) for path in out.rglob("*.wav")) == sorted(row["file"] for row in manifest)
    assert json.loads((out / "kits.json").read_text()) == manifest
    assert manifest[0].keys() == {"kit", "instrument", "name", "source", "author", "license", "split", "file"}
    with pytest.raises(FileNotFoundError,
                       match="apt-get install hydrogen-drumkits hydrogen-data.*apt-get install avldrums"):
        build_benchmark(out, kit_dirs=(tmp_path / "none",), soundfont_dirs=(tmp_path / "none",))


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory) -> tuple[Path, list[dict]]:
    if not find_kits():
        pytest.skip("no Hydrogen drum kits: apt-get install hydrogen-drumkits hydrogen-data")
    if not find_soundfonts():
        pytest.skip("no AVL drumkit soundfonts: apt-get install avldrums.lv2-soundfont")
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
    assert not train_kits & heldout_kits and heldout_kits == set(HELD_OUT_KITS)
    kicks = [r for r in manifest if r["instrument"] == "kick"]
    assert 0.2 <= sum(r["split"] == "heldout" for r in kicks) / len(kicks) <= 0.3


def test_every_benchmark_file_loads_and_no_recording_is_in_it_twice(benchmark):
    out, manifest = benchmark
    pack = load_pack_tree(out, PrepConfig())  # every instrument, both splits
    assert not pack.skipped and len(pack.samples) == len(manifest)
    similarity = recording_similarity(pack.audio)
    np.fill_diagonal(similarity, 0)
    assert similarity.max() < SAME_RECORDING


def test_avl_kicks_are_the_five_velocity_layers_of_each_soundfont(benchmark):
    out, manifest = benchmark
    for path in find_soundfonts():
        layers = [s for s in read_soundfont(path).samples if s.keys == (36, 36)]
        assert sorted(s.velocities for s in layers) == [(1, 26), (27, 52), (53, 77), (78, 102), (103, 127)]
        rows = [r for r in manifest if r["kit"] == soundfont_kit_name(path) and r["instrument"] == "kick"]
        assert sorted(r["name"] for r in rows) == sorted(s.name for s in layers)
        for row in rows:
            assert row["source"] == str(path) and row["license"] == AVL_LICENSE
            written = soundfile.read(str(out / row["file"]), dtype="int16")[0]
            assert np.array_equal(written, next(s.pcm for s in layers if s.name == row["name"]))
