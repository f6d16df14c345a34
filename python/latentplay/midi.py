"""MIDI files in and out: the demo groove, and the note list a render plays."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

KICK_NOTE = 36  # General MIDI bass drum
DEMO_BPM = 128


@dataclass(frozen=True)
class Note:
    time_s: float
    pitch: int
    velocity: int


def write_demo_groove(path: Path, bars: int = 4, bpm: float = DEMO_BPM) -> Path:
    """Four-on-the-floor kicks with velocity variation (accented downbeats, softer off-beat
    pickups in every second bar), as a type-0 MIDI file."""
    import mido

    ticks_per_beat = 480
    events = []  # (tick, velocity)
    for bar in range(bars):
        for beat in range(4):
            velocity = 120 if beat == 0 else (96 if beat % 2 else 108)
            events.append(((bar * 4 + beat) * ticks_per_beat, velocity))
        if bar % 2 == 1:  # a pickup on the "and" of beat 4
            events.append(((bar * 4 + 3) * ticks_per_beat + ticks_per_beat // 2, 72))
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0)])
    now = 0
    for tick, velocity in sorted(events):
        track.append(mido.Message("note_on", note=KICK_NOTE, velocity=velocity, time=tick - now))
        track.append(mido.Message("note_off", note=KICK_NOTE, velocity=0, time=ticks_per_beat // 4))
        now = tick + ticks_per_beat // 4
    track.append(mido.MetaMessage("end_of_track", time=0))
    path.parent.mkdir(parents=True, exist_ok=True)
    mido.MidiFile(type=0, ticks_per_beat=ticks_per_beat, tracks=[track]).save(str(path))
    return path


def read_notes(path: Path) -> list[Note]:
    """Every note-on (velocity > 0) of a MIDI file, in seconds, all tracks merged."""
    import mido

    try:
        midi = mido.MidiFile(str(path))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as error:
        raise ValueError(f"{path}: not a readable MIDI file ({error})") from None
    notes, now = [], 0.0
    for message in midi:  # iterating a MidiFile yields messages with delta times in seconds
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            notes.append(Note(now, message.note, message.velocity))
    if not notes:
        raise ValueError(f"{path}: no notes")
    return notes
