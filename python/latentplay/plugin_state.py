"""Read and write the plugin's state as a VST3 host stores it (pedalboard's ``raw_state``).

Two JUCE formats nest: the host's state is ``copyXmlToBinary`` ("VC2!", the XML's length, the XML)
of a ``<VST3PluginState>`` whose ``<IComponent>`` holds the plugin's own state in JUCE's
base64 (``MemoryBlock::toBase64Encoding``: "size." then 6 bits per character, least significant
first); the plugin's own state is again ``copyXmlToBinary`` of ``<LatentPlay>``.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET

JUCE_BASE64 = ".ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+"
MAGIC = b"VC2!"


def _from_juce_base64(text: str) -> bytes:
    size, _, chars = text.strip().partition(".")
    value = 0
    for position, char in enumerate(chars):
        value |= JUCE_BASE64.index(char) << (6 * position)
    return value.to_bytes(int(size) + 8, "little")[:int(size)]


def _to_juce_base64(data: bytes) -> str:
    value = int.from_bytes(data, "little")
    count = (len(data) * 8 + 5) // 6
    return f"{len(data)}." + "".join(JUCE_BASE64[(value >> (6 * i)) & 63] for i in range(count))


def _xml_from_binary(data: bytes) -> ET.Element:
    magic, size = struct.unpack("<4sI", data[:8])
    if magic != MAGIC:
        raise ValueError(f"not a JUCE XML state (starts with {data[:8]!r})")
    return ET.fromstring(data[8:8 + size].decode("utf-8"))


def _xml_to_binary(element: ET.Element) -> bytes:
    text = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element, encoding="utf-8")
    return MAGIC + struct.pack("<I", len(text)) + text + b"\0"


def plugin_state(raw_state: bytes) -> ET.Element:
    """The plugin's own <LatentPlay> element from a host state."""
    host = _xml_from_binary(raw_state)
    return _xml_from_binary(_from_juce_base64(host.find("IComponent").text))


def with_plugin_state(raw_state: bytes, state: ET.Element) -> bytes:
    """The host state with the plugin's own state replaced."""
    host = _xml_from_binary(raw_state)
    host.find("IComponent").text = _to_juce_base64(_xml_to_binary(state))
    return _xml_to_binary(host)
