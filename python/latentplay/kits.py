"""``latentplay kits``: a real-drum benchmark built from the drum kits Debian ships.

Sources (each skipped with the reason when its package is absent; with none at all it fails):
- ``hydrogen-drumkits`` and ``hydrogen-data`` install recorded and electronic kits (GPL / CC
  licensed) under ``/usr/share/hydrogen/data/drumkits/KIT/`` with a ``drumkit.xml`` that maps
  named instruments to sample files (one file per velocity layer). The TR-808 emulation kit comes
  with hydrogen-data.
- ``avldrums.lv2-soundfont`` installs the AVL drumkits (Black Pearl, Red Zeppelin) as SoundFont 2
  files; every velocity layer of every drum is a sample of its own (read with
  :mod:`latentplay.sf2`).

A Hydrogen instrument is a kick, snare, hat, tom or clap by its name (``INSTRUMENT_PATTERNS``,
first match wins); an SF2 sample by its name where that says, else by the General MIDI key its
zone plays (:func:`soundfont_instrument`). Every one-shot is written as is (SF2 samples as WAV
at their own rate and bit depth) to ``OUT/INSTRUMENT/SPLIT/KIT/``: one pack per kit.
``OUT/kits.json`` records per file its instrument, split, kit, name (the Hydrogen instrument's, or
the SF2 sample's), source (the sample file, or the .sf2 it was read from), author and licence.

Each recording is taken once: kits share files (The Black Pearl's are GMRockKit's, the AVL kits
share GMRockKit's hats and Gimme A Hand's claps) and some velocity layers are one file at several
gains. A one-shot the model would hear as one already taken (``SAME_RECORDING``) is left out, and
training copies are taken first, so that no held-out one-shot was heard in training.

The split is **by kit** (``HELD_OUT_KITS``).
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
import xml.etree.ElementTree as ElementTree
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile

from latentplay.audio import PrepConfig, UnusableAudio, load_one_shot, prepare_one_shot
from latentplay.sf2 import SoundFontSample, read_soundfont

HYDROGEN_KIT_DIRS = (Path("/usr/share/hydrogen/data/drumkits"),)
SOUNDFONT_DIRS = (Path("/usr/share/sounds/sf2"),)
SOUNDFONT_GLOB = "*_LV2.sf2"  # the AVL drumkits (Black_Pearl_4_LV2.sf2, Red_Zeppelin_4_LV2.sf2)
HYDROGEN_PACKAGES = ("hydrogen-drumkits", "hydrogen-data")
AVL_PACKAGE = "avldrums.lv2-soundfont"
# From the package's Debian copyright file (Files: sf2/*): the files' own ICOP says only "CC-BY-SA".
AVL_LICENSE = "CC-BY-SA-3.0"

# First match wins, in this order. Side sticks and rim clicks are no class ("Snare Rimshot" is a
# snare); "OHH" is an open hi-hat; the lookbehind keeps the "tom" in "Custom" out.
INSTRUMENT_PATTERNS = {
    "kick": re.compile(r"kick|bass\s*drum|bassdrum|\bbd\b", re.IGNORECASE),
    "snare": re.compile(r"snare", re.IGNORECASE),
    "hat": re.compile(r"hat|\b[oc]?hh\b", re.IGNORECASE),
    "tom": re.compile(r"(?<![a-z])tom|floortom", re.IGNORECASE),
    "clap": re.compile(r"clap", re.IGNORECASE),
}
INSTRUMENTS = tuple(INSTRUMENT_PATTERNS)
# General MIDI percussion keys (37, the side stick, is left out like the Hydrogen "Stick"s).
GM_DRUM_KEYS = {35: "kick", 36: "kick", 38: "snare", 40: "snare", 39: "clap", 42: "hat", 44: "hat", 46: "hat",
                41: "tom", 43: "tom", 45: "tom", 47: "tom", 48: "tom", 50: "tom"}
# Names of the drums and percussion that are none of INSTRUMENTS: such a name overrules the key.
OTHER_DRUM_NAME = re.compile(r"crash|ride|splash|china|cymbal|bell|stick|tambourine|maraca|shaker|conga|bongo|"
                             r"clave|agogo|cabasa|guiro|triangle|whistle", re.IGNORECASE)

# Whole kits the model never hears, so that "a kick it never heard" is another drum in another
# room, not another velocity layer of a drum it trained on. The three Millo kits are one Ludwig
# set recorded three times (their drumkit.xml says so), so they are held out together; with them
# an acoustic kit from the soundfonts (AVL Red Zeppelin: Ludwig drums no other kit has; its claps
# and most of its hats are other kits' recordings, which stay in training) and an electronic kit
# (HardElectro1). They hold 18 of the 65 kicks (28 %), and every instrument has both splits.
HELD_OUT_KITS = ("Millo-Drums_v.1", "Millo_MultiLayered2", "Millo_MultiLayered3", "AVL Red Zeppelin", "HardElectro1")
SPLITS = ("train", "heldout")

# Two one-shots are one recording when what the model would hear of them (onset-trimmed,
# peak-normalised) correlates at least SAME_RECORDING over their first COMPARE_SAMPLES, at the best
# shift within MAX_LAG samples (a copy trimmed elsewhere finds its onset up to 14 samples off).
# Measured on the installed kits: such copies correlate 0.9996 or more, distinct hits at most
# 0.997.
SAME_RECORDING = 0.999
COMPARE_PREP = PrepConfig()  # the model's rate and length
COMPARE_SAMPLES = 2048  # 93 ms: the attack and body
MAX_LAG = 16


@dataclass(frozen=True)
class KitFile:
    kit: str
    instrument: str  # one of INSTRUMENTS
    name: str  # the Hydrogen instrument's (or the SF2 sample's) own name
    source: str  # the sample file, or the .sf2 it was read from
    author: str
    license: str

    @property
    def split(self) -> str:
        return "heldout" if self.kit in HELD_OUT_KITS else "train"


@dataclass(frozen=True)
class OneShot:
    """A one-shot to write: a Hydrogen sample file to copy, or an SF2 sample to write as WAV."""
    entry: KitFile
    file_name: str
    sample: SoundFontSample | None = None

    def relative_path(self) -> Path:
        return Path(self.entry.instrument) / self.entry.split / safe_folder_name(self.entry.kit) / self.file_name

    def prepared(self) -> np.ndarray:
        """What the model would hear of it. Raises UnusableAudio."""
        if self.sample is None:
            return load_one_shot(Path(self.entry.source), COMPARE_PREP)[0]
        return prepare_one_shot(self.sample.audio, self.sample.sample_rate, COMPARE_PREP)

    def write(self, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.sample is None:
            shutil.copyfile(self.entry.source, target)
        elif self.sample.bits == 16:  # the sample points as integers: exactly those of the file
            soundfile.write(str(target), self.sample.pcm, self.sample.sample_rate, subtype="PCM_16")
        else:  # libsndfile takes 24-bit audio from the top bytes of 32-bit integers
            soundfile.write(str(target), self.sample.pcm << 8, self.sample.sample_rate, subtype="PCM_24")


def instrument_class(name: str) -> str | None:
    return next((kind for kind, pattern in INSTRUMENT_PATTERNS.items() if pattern.search(name)), None)


def soundfont_instrument(sample: SoundFontSample) -> str | None:
    """By the sample's name where it names a drum, else by the General MIDI key its zone plays.

    Names first because the AVL kits play a hi-hat swish on key 48 and a crash choke on 50, GM's
    toms; keys next because SF2 cuts names to 20 characters ("41-Ludwig16FloorTo-1")."""
    by_name = instrument_class(sample.name)
    if by_name or OTHER_DRUM_NAME.search(sample.name):
        return by_name
    low, high = sample.keys
    by_key = {GM_DRUM_KEYS.get(key) for key in range(low, high + 1)}
    return by_key.pop() if len(by_key) == 1 else None


def _local(tag: str) -> str:
    """Tag name without its XML namespace."""
    return tag.rsplit("}", 1)[-1]


def _child_text(element: ElementTree.Element, name: str) -> str:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def hydrogen_one_shots(drumkit_xml: Path, instruments: tuple[str, ...] = INSTRUMENTS) -> list[OneShot]:
    """Every existing sample file of every wanted instrument a drumkit.xml names."""
    root = ElementTree.parse(drumkit_xml).getroot()
    kit = _child_text(root, "name") or drumkit_xml.parent.name
    author, license_name = _child_text(root, "author"), _child_text(root, "license")
    found = []
    for instrument in root.iter():
        if _local(instrument.tag) != "instrument":
            continue
        name = _child_text(instrument, "name")
        kind = instrument_class(name)
        if kind not in instruments:
            continue
        for element in instrument.iter():
            if _local(element.tag) == "filename" and element.text:
                path = drumkit_xml.parent / element.text.strip()
                if path.is_file():
                    found.append(OneShot(KitFile(kit, kind, name, str(path), author, license_name), path.name))
    return found


def soundfont_one_shots(path: Path, instruments: tuple[str, ...] = INSTRUMENTS) -> list[OneShot]:
    """Every sample of a wanted drum in an AVL soundfont: one per velocity layer."""
    soundfont = read_soundfont(path)
    kit, author = soundfont_kit_name(path), soundfont.info.get("IENG", "")
    found = []
    for sample in soundfont.samples:
        kind = soundfont_instrument(sample)
        if kind in instruments:
            entry = KitFile(kit, kind, sample.name, str(path), author, AVL_LICENSE)
            found.append(OneShot(entry, f"{safe_folder_name(sample.name)}.wav", sample))
    return found


def find_kits(kit_dirs: tuple[Path, ...] = HYDROGEN_KIT_DIRS) -> list[Path]:
    return sorted(xml for folder in kit_dirs if folder.is_dir() for xml in folder.glob("*/drumkit.xml"))


def find_soundfonts(folders: tuple[Path, ...] = SOUNDFONT_DIRS) -> list[Path]:
    return sorted(sf2 for folder in folders if folder.is_dir() for sf2 in folder.glob(SOUNDFONT_GLOB))


def soundfont_kit_name(path: Path) -> str:
    """Black_Pearl_4_LV2.sf2 -> "AVL Black Pearl"."""
    return "AVL " + re.sub(r"_\d+_LV2$", "", path.stem).replace("_", " ")


def collect_one_shots(instruments: tuple[str, ...], kit_dirs: tuple[Path, ...],
                      soundfont_dirs: tuple[Path, ...]) -> tuple[list[OneShot], list[str]]:
    """Every wanted one-shot of every source present, and a note per absent source.
    Raises FileNotFoundError when no source is present at all."""
    kits, soundfonts = find_kits(kit_dirs), find_soundfonts(soundfont_dirs)
    notes = []
    if not kits:
        notes.append(f"{' and '.join(HYDROGEN_PACKAGES)} not installed (no */drumkit.xml under "
                     f"{', '.join(map(str, kit_dirs))}): apt-get install {' '.join(HYDROGEN_PACKAGES)}")
    if not soundfonts:
        notes.append(f"{AVL_PACKAGE} not installed (no {SOUNDFONT_GLOB} under "
                     f"{', '.join(map(str, soundfont_dirs))}): apt-get install {AVL_PACKAGE}")
    if not kits and not soundfonts:
        raise FileNotFoundError("no drum kit source installed: " + "; ".join(notes))
    one_shots = [one_shot for xml in kits for one_shot in hydrogen_one_shots(xml, instruments)]
    one_shots += [one_shot for sf2 in soundfonts for one_shot in soundfont_one_shots(sf2, instruments)]
    return one_shots, notes


def earlier_recordings(prepared: list[np.ndarray]) -> list[int | None]:
    """For each one-shot, the index of an earlier kept one-shot of the same recording (None: it
    is the first of its recording, and kept)."""
    similarity = recording_similarity(np.stack(prepared)) if prepared else None
    kept, earlier = [], []
    for index in range(len(prepared)):
        match = next((k for k in kept if similarity[index, k] >= SAME_RECORDING), None)
        earlier.append(match)
        if match is None:
            kept.append(index)
    return earlier


def recording_similarity(prepared: np.ndarray) -> np.ndarray:
    """Pairwise, the best correlation of the one-shots' first COMPARE_SAMPLES over shifts of up
    to MAX_LAG samples, each shift normalised over the overlapping samples only."""
    heads = prepared[:, :COMPARE_SAMPLES].astype(np.float64)
    length = heads.shape[1]
    energy = np.concatenate([np.zeros((len(heads), 1)), np.cumsum(heads ** 2, axis=1)], axis=1)
    best = np.full((len(heads), len(heads)), -1.0)
    for lag in range(MAX_LAG + 1):
        overlap = heads[:, lag:] @ heads[:, :length - lag].T  # row one-shot shifted by lag against column
        norms = np.outer(np.sqrt(energy[:, length] - energy[:, lag]), np.sqrt(energy[:, length - lag]))
        shifted = overlap / np.maximum(norms, np.finfo(np.float64).tiny)
        best = np.maximum(best, np.maximum(shifted, shifted.T))
    return best


def build_benchmark(out_dir: Path, instruments: tuple[str, ...] = INSTRUMENTS,
                    kit_dirs: tuple[Path, ...] = HYDROGEN_KIT_DIRS,
                    soundfont_dirs: tuple[Path, ...] = SOUNDFONT_DIRS) -> tuple[list[dict], list[str]]:
    """Write every wanted one-shot to OUT/INSTRUMENT/SPLIT/KIT/ (those folders are rebuilt from
    scratch); returns the manifest rows and notes on absent sources and left-out one-shots."""
    unknown = set(instruments) - set(INSTRUMENTS)
    if unknown:
        raise ValueError(f"unknown instrument(s) {sorted(unknown)}; expected some of {list(INSTRUMENTS)}")
    one_shots, notes = collect_one_shots(tuple(instruments), kit_dirs, soundfont_dirs)
    # Training copies first: a recording in both splits stays in training only.
    one_shots.sort(key=lambda one_shot: one_shot.entry.split != "train")
    usable, prepared = prepare_all(one_shots, notes)
    for instrument in instruments:  # a previous build's kits must not linger (e.g. another split)
        shutil.rmtree(out_dir / instrument, ignore_errors=True)
    manifest, written, duplicates = [], set(), Counter()
    for one_shot, earlier in zip(usable, earlier_recordings(prepared)):
        if earlier is not None:
            duplicates[(one_shot.entry.kit, usable[earlier].entry.kit)] += 1
            continue
        relative = unique_path(one_shot.relative_path(), written)
        one_shot.write(out_dir / relative)
        manifest.append({**asdict(one_shot.entry), "split": one_shot.entry.split, "file": relative.as_posix()})
    notes += [f"{kit}: {count} one-shot(s) the same recording as one of {first}'s, left out"
              for (kit, first), count in duplicates.items()]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "kits.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest, notes


def prepare_all(one_shots: list[OneShot], notes: list[str]) -> tuple[list[OneShot], list[np.ndarray]]:
    """The usable one-shots and what the model would hear of each; appends a note per unusable one."""
    usable, prepared = [], []
    for one_shot in one_shots:
        try:
            prepared.append(one_shot.prepared())
            usable.append(one_shot)
        except UnusableAudio as reason:
            notes.append(f"{one_shot.entry.kit}: {one_shot.entry.source} left out ({reason})")
    return usable, prepared


def unique_path(relative: Path, taken: set[Path]) -> Path:
    """``relative``, or with -2, -3... before its suffix when a file of that name is already
    written there (two samples of one kit may share a name); adds the result to ``taken``."""
    candidate, number = relative, 1
    while candidate in taken:
        number += 1
        candidate = relative.with_name(f"{relative.stem}-{number}{relative.suffix}")
    taken.add(candidate)
    return candidate


def summary_lines(manifest: list[dict]) -> list[str]:
    """Per instrument and split: how many one-shots from how many kits."""
    lines = []
    for instrument in INSTRUMENTS:
        for split in SPLITS:
            rows = [row for row in manifest if row["instrument"] == instrument and row["split"] == split]
            if rows:
                lines.append(f"  {instrument:6s} {split:8s} {len(rows):4d} one-shots from "
                             f"{len({row['kit'] for row in rows})} kits")
    return lines


def safe_folder_name(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("_") or "kit"
