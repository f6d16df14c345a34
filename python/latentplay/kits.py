"""``latentplay kits``: a real kick pack from the drum kits Debian ships.

Debian's ``hydrogen-drumkits`` and ``hydrogen-data`` install recorded kits (GPL / CC licensed)
under ``/usr/share/hydrogen/data/drumkits/KIT/`` with a ``drumkit.xml`` that maps instruments to
sample files (one file per velocity layer). We copy every layer of every kick instrument, as is
(wav/flac/aiff, 16/24-bit, mono/stereo, 44.1/48 kHz...), into ``OUT/KIT/``: one pack per kit.
``OUT/kits.json`` records where each file came from, its author and licence.
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ElementTree
from dataclasses import asdict, dataclass
from pathlib import Path

HYDROGEN_KIT_DIRS = (Path("/usr/share/hydrogen/data/drumkits"),)
DEBIAN_PACKAGES = ("hydrogen-drumkits", "hydrogen-data")
KICK_NAME = re.compile(r"kick|bass\s*drum|\bbd\b", re.IGNORECASE)


@dataclass(frozen=True)
class KitFile:
    kit: str
    instrument: str
    source: str
    author: str
    license: str


def _local(tag: str) -> str:
    """Tag name without its XML namespace."""
    return tag.rsplit("}", 1)[-1]


def _child_text(element: ElementTree.Element, name: str) -> str:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def kick_files(drumkit_xml: Path) -> list[KitFile]:
    """Every sample file of every kick instrument that a drumkit.xml names and that exists."""
    root = ElementTree.parse(drumkit_xml).getroot()
    kit = _child_text(root, "name") or drumkit_xml.parent.name
    author, license_name = _child_text(root, "author"), _child_text(root, "license")
    found = []
    for instrument in root.iter():
        if _local(instrument.tag) != "instrument":
            continue
        name = _child_text(instrument, "name")
        if not KICK_NAME.search(name):
            continue
        for element in instrument.iter():
            if _local(element.tag) == "filename" and element.text:
                path = drumkit_xml.parent / element.text.strip()
                if path.is_file():
                    found.append(KitFile(kit, name, str(path), author, license_name))
    return found


def find_kits(kit_dirs: tuple[Path, ...] = HYDROGEN_KIT_DIRS) -> list[Path]:
    return sorted(xml for folder in kit_dirs if folder.is_dir() for xml in folder.glob("*/drumkit.xml"))


def build_kick_pack(out_dir: Path, kit_dirs: tuple[Path, ...] = HYDROGEN_KIT_DIRS) -> list[KitFile]:
    """Copy every kick of every installed kit into ``out_dir/KIT/``; returns what was copied."""
    kits = find_kits(kit_dirs)
    if not kits:
        raise FileNotFoundError(
            f"no Hydrogen drum kits under {', '.join(map(str, kit_dirs))}; "
            f"install them with: apt-get install {' '.join(DEBIAN_PACKAGES)}")
    copied = []
    for drumkit_xml in kits:
        for kit_file in kick_files(drumkit_xml):
            source = Path(kit_file.source)
            target = out_dir / safe_folder_name(kit_file.kit) / source.name
            if target.exists():  # the same file used by two layers or instruments
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            copied.append(kit_file)
    manifest = [{**asdict(item), "file": f"{safe_folder_name(item.kit)}/{Path(item.source).name}"}
                for item in copied]
    (out_dir / "kits.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return copied


def safe_folder_name(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("_") or "kit"
