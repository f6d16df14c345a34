"""``latentplay kits``: a real-drum benchmark built from the drum kits Debian ships.

Sources (each skipped with the reason when its package is absent):
- ``hydrogen-drumkits`` and ``hydrogen-data`` install recorded kits (GPL / CC licensed) under
  ``/usr/share/hydrogen/data/drumkits/KIT/`` with a ``drumkit.xml`` that maps instruments to
  sample files (one file per velocity layer). The TR-808 emulation kit comes with hydrogen-data.
- ``avldrums.lv2-soundfont`` installs the AVL drumkits as SoundFont 2 files; every velocity layer
  of every drum is a sample of its own (read with :mod:`latentplay.sf2`).

Every file of every kick, snare, hat, tom and clap (instrument names matched by
``INSTRUMENT_PATTERNS``, first match wins) is written, as is (SF2 samples as 16-bit WAV), to
``OUT/INSTRUMENT/SPLIT/KIT/``: one pack per kit. ``OUT/kits.json`` records where each file came
from, its author and licence. Files whose audio is identical to one already taken (GMRockKit's
kicks are The Black Pearl's) are left out, so that no one-shot is in both splits.

The split is **by kit**: ``HELD_OUT_KITS`` are whole recordings the model never hears, so that
"one-shots it never heard" means other drums, rooms and microphones, not other velocity layers of
a drum it trained on. They mix an acoustic kit from each source, an electronic kit and a
breakbeat kit, about a quarter of the kicks.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections import Counter
import xml.etree.ElementTree as ElementTree
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile

from latentplay.sf2 import read_soundfont

HYDROGEN_KIT_DIRS = (Path("/usr/share/hydrogen/data/drumkits"),)
SOUNDFONT_DIRS = (Path("/usr/share/sounds/sf2"),)
SOUNDFONT_GLOB = "*_LV2.sf2"  # the AVL drumkits (Black_Pearl_4_LV2.sf2, Red_Zeppelin_4_LV2.sf2)
HYDROGEN_PACKAGES = ("hydrogen-drumkits", "hydrogen-data")
AVL_PACKAGE = "avldrums.lv2-soundfont"
AVL_AUTHOR = "Glen MacArthur (AVL Drumkits)"
AVL_LICENSE = "CC-BY-SA 4.0"

# First match wins, in this order ("Snare Rimshot" is a snare, "Hand Clap" a clap, and the
# "Custom" in "Ride (Custom, Zagrebin 22")" is not a tom).
INSTRUMENT_PATTERNS = {
    "kick": re.compile(r"kick|bass\s*drum|bassdrum|\bbd\b", re.IGNORECASE),
    "clap": re.compile(r"clap", re.IGNORECASE),
    "snare": re.compile(r"snare", re.IGNORECASE),
    "hat": re.compile(r"hat|\bhh\b", re.IGNORECASE),
    "tom": re.compile(r"(?<![a-z])tom|floortom", re.IGNORECASE),
}
INSTRUMENTS = tuple(INSTRUMENT_PATTERNS)
HELD_OUT_KITS = ("Millo_MultiLayered2", "VariBreaks", "HardElectro1", "AVL Red Zeppelin")
SPLITS = ("train", "heldout")


@dataclass(frozen=True)
class KitFile:
    kit: str
    instrument: str  # one of INSTRUMENTS
    name: str  # the instrument's (or SF2 sample's) own name
    source: str  # the file, or the .sf2 it was read from
    author: str
    license: str

    @property
    def split(self) -> str:
        return "heldout" if self.kit in HELD_OUT_KITS else "train"


def instrument_class(name: str) -> str | None:
    return next((kind for kind, pattern in INSTRUMENT_PATTERNS.items() if pattern.search(name)), None)


def _local(tag: str) -> str:
    """Tag name without its XML namespace."""
    return tag.rsplit("}", 1)[-1]


def _child_text(element: ElementTree.Element, name: str) -> str:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def hydrogen_files(drumkit_xml: Path, instruments: tuple[str, ...] = INSTRUMENTS) -> list[KitFile]:
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
                    found.append(KitFile(kit, kind, name, str(path), author, license_name))
    return found


def find_kits(kit_dirs: tuple[Path, ...] = HYDROGEN_KIT_DIRS) -> list[Path]:
    return sorted(xml for folder in kit_dirs if folder.is_dir() for xml in folder.glob("*/drumkit.xml"))


def find_soundfonts(folders: tuple[Path, ...] = SOUNDFONT_DIRS) -> list[Path]:
    return sorted(sf2 for folder in folders if folder.is_dir() for sf2 in folder.glob(SOUNDFONT_GLOB))


def soundfont_kit_name(path: Path) -> str:
    """Black_Pearl_4_LV2.sf2 -> "AVL Black Pearl"."""
    return "AVL " + re.sub(r"_\d+_LV2$", "", path.stem).replace("_", " ")


@dataclass(frozen=True)
class _Source:
    """A one-shot to write: a file to copy, or SF2 audio to write as WAV."""
    entry: KitFile
    audio: np.ndarray | None = None
    sample_rate: int = 0

    def content_hash(self) -> str:
        audio = self.audio if self.audio is not None else soundfile.read(self.entry.source, dtype="float32")[0]
        return hashlib.sha1(np.ascontiguousarray(audio, dtype=np.float32).tobytes()).hexdigest()

    def file_name(self) -> str:
        return Path(self.entry.source).name if self.audio is None else f"{safe_folder_name(self.entry.name)}.wav"

    def write(self, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.audio is None:
            shutil.copyfile(self.entry.source, target)
        else:
            soundfile.write(str(target), self.audio, self.sample_rate, subtype="PCM_16")


def soundfont_sources(path: Path, instruments: tuple[str, ...]) -> list[_Source]:
    kit = soundfont_kit_name(path)
    sources = []
    for sample in read_soundfont(path):
        kind = instrument_class(sample.name)
        if kind in instruments:
            entry = KitFile(kit, kind, sample.name, str(path), AVL_AUTHOR, AVL_LICENSE)
            sources.append(_Source(entry, sample.audio, sample.sample_rate))
    return sources


def collect_sources(instruments: tuple[str, ...], kit_dirs: tuple[Path, ...],
                    soundfont_dirs: tuple[Path, ...]) -> tuple[list[_Source], list[str]]:
    """Every wanted one-shot of every source present, and a note per absent source."""
    notes, sources = [], []
    kits = find_kits(kit_dirs)
    if not kits:
        notes.append(f"no Hydrogen drum kits under {', '.join(map(str, kit_dirs))}: "
                     f"apt-get install {' '.join(HYDROGEN_PACKAGES)}")
    for drumkit_xml in kits:
        sources += [_Source(entry) for entry in hydrogen_files(drumkit_xml, instruments)]
    soundfonts = find_soundfonts(soundfont_dirs)
    if not soundfonts:
        notes.append(f"no AVL drumkit soundfonts under {', '.join(map(str, soundfont_dirs))}: "
                     f"apt-get install {AVL_PACKAGE}")
    for path in soundfonts:
        sources += soundfont_sources(path, instruments)
    return sources, notes


def build_benchmark(out_dir: Path, instruments: tuple[str, ...] = INSTRUMENTS,
                    kit_dirs: tuple[Path, ...] = HYDROGEN_KIT_DIRS,
                    soundfont_dirs: tuple[Path, ...] = SOUNDFONT_DIRS) -> tuple[list[dict], list[str]]:
    """Write every wanted one-shot to OUT/INSTRUMENT/SPLIT/KIT/; returns the manifest rows and
    the notes about absent sources and duplicates. Raises FileNotFoundError when no source is
    present at all."""
    unknown = set(instruments) - set(INSTRUMENTS)
    if unknown:
        raise ValueError(f"unknown instrument(s) {sorted(unknown)}; expected some of {list(INSTRUMENTS)}")
    sources, notes = collect_sources(tuple(instruments), kit_dirs, soundfont_dirs)
    if not sources and len(notes) == 2:
        raise FileNotFoundError("no drum kit source installed: " + "; ".join(notes))
    manifest, kit_of_audio, written, duplicates = [], {}, set(), Counter()
    for source in sources:
        entry = source.entry
        relative = Path(entry.instrument) / entry.split / safe_folder_name(entry.kit) / source.file_name()
        if relative in written:  # the same file used by two layers or instruments
            continue
        digest = source.content_hash()
        if digest in kit_of_audio:
            duplicates[(entry.kit, kit_of_audio[digest])] += 1
            continue
        source.write(out_dir / relative)
        kit_of_audio[digest] = entry.kit
        written.add(relative)
        manifest.append({**asdict(entry), "split": entry.split, "file": relative.as_posix()})
    notes += [f"{kit}: {count} one-shot(s) identical to {first}'s left out"
              for (kit, first), count in duplicates.items()]
    (out_dir / "kits.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest, notes


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
