"""Offline renders with automation in DawDreamer: every note plays the engine's one-shot for the
control value in force at that note, and two renders are bit-identical."""

from __future__ import annotations

import numpy as np
import pytest

from latentplay import _engine
from latentplay.bundle import CONTROL_NAMES

RATE, BLOCK = 48000, 512
NOTE_TIMES = [0.25, 0.75, 1.25, 1.75]  # exact in binary: no rounding between seconds and samples
POSITIONS = [0.15, 0.85, 0.4, 0.6]  # the automated control's position (0..1 of its range) per note


def render_with_automation(vst3_path, control_index: int) -> tuple[np.ndarray, list[float]]:
    import dawdreamer

    engine = dawdreamer.RenderEngine(RATE, BLOCK)
    plugin = engine.make_plugin_processor("latentplay", str(vst3_path))
    duration = NOTE_TIMES[-1] + 0.5
    automation = np.zeros(int(duration * RATE), dtype=np.float32)
    edges = [0] + [int((a + b) / 2 * RATE) for a, b in zip(NOTE_TIMES, NOTE_TIMES[1:])] + [len(automation)]
    for position, start, end in zip(POSITIONS, edges, edges[1:]):
        automation[start:end] = position  # constant around each note, changing half-way between
    plugin.set_automation(control_index, automation)
    for time in NOTE_TIMES:
        plugin.add_midi_note(60, 100, time, 0.2)
    engine.load_graph([(plugin, [])])
    engine.render(duration)
    others = [plugin.get_parameter(k) for k in range(len(CONTROL_NAMES))]
    return engine.get_audio(), others


@pytest.mark.parametrize("control_index", range(len(CONTROL_NAMES)), ids=CONTROL_NAMES)
def test_automated_control_sets_each_note(vst3_path, smoke_export, monkeypatch, control_index):
    monkeypatch.setenv("LATENTPLAY_BUNDLE", str(smoke_export[2]))
    audio, positions = render_with_automation(vst3_path, control_index)
    engine = _engine.Engine(str(smoke_export[2]))
    notes = []
    for time, position in zip(NOTE_TIMES, POSITIONS):
        targets = {}
        for k, (name, control) in enumerate(zip(CONTROL_NAMES, engine.controls)):
            low, high = control["range"]
            value = position if k == control_index else positions[k]
            targets[name] = low + float(np.float32(value)) * (high - low)
        expected = engine.regenerate(0, targets, RATE) * (100 / 127)
        start = int(time * RATE)
        got = audio[0, start:start + len(expected)]
        assert np.max(np.abs(got - expected)) < 1e-5, (CONTROL_NAMES[control_index], time)
        notes.append(got)
    assert np.max(np.abs(notes[0] - notes[1])) > 1e-3  # the automation really changed the sound
    again, _ = render_with_automation(vst3_path, control_index)
    assert np.array_equal(audio, again)
