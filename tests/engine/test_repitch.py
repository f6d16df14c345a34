"""Neural key tracking through the engine's Python face (Engine.root_shot, Engine.repitch): the
root one-shot made once per control state and shared by every key, as the plugin's worker does,
gives each key exactly what a search that makes its own root gives, one decode fewer; a key
beyond the search's reach is the furthest searched key resampled the rest of the way."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latentplay import _engine
from latentplay.features import measure_features

DEMO = Path(__file__).resolve().parents[2] / "presets" / "demo.latentplay"


def test_a_shared_root_gives_each_key_what_its_own_root_gives():
    engine = _engine.Engine(str(DEMO))
    start = engine.sample_start(0)
    controls = engine.own_controls(start.latent)
    root = engine.root_shot(start, controls, 0.5)
    assert np.array_equal(root.audio, engine.regenerate(start, controls, 0.0, 0.5))
    measured = measure_features(root.audio, engine.sample_rate)
    assert np.isclose(root.frequency, measured.frequency_hz, rtol=1e-4)
    assert abs(root.release - measured.release_ms) <= 1000 / engine.sample_rate
    for semitones in (-5, 7):
        shared = engine.repitch(start, controls, semitones, 0.5, root=root)
        own = engine.repitch(start, controls, semitones, 0.5)
        assert np.array_equal(shared["audio"], own["audio"]) and shared["speed"] == own["speed"]
        assert shared["decodes"] == _engine.PITCH_CANDIDATES and own["decodes"] == _engine.PITCH_CANDIDATES + 1
        assert (shared["root_frequency"], shared["root_release"]) == (root.frequency, root.release)


def test_a_key_beyond_the_search_reach_is_the_furthest_searched_key_resampled():
    """The search's steps measure the root resampled by the interval: 5 octaves down that is 32 ×
    the one-shot and half a second per step, which a root one-shot would wait for on the worker."""
    engine = _engine.Engine(str(DEMO))
    start = engine.sample_start(0)
    controls = engine.own_controls(start.latent)
    root = engine.root_shot(start, controls, 0.0)
    reach = _engine.PITCH_SEARCH_SEMITONES
    for direction in (-1, 1):
        furthest = engine.repitch(start, controls, direction * reach, 0.0, root=root)
        beyond = engine.repitch(start, controls, direction * (reach + 12), 0.0, root=root)
        assert np.array_equal(beyond["audio"], furthest["audio"])
        assert np.isclose(beyond["speed"], furthest["speed"] * 2.0 ** direction, rtol=1e-12)
        assert np.isclose(beyond["frequency"], furthest["frequency"] * 2.0 ** direction, rtol=1e-12)
        assert np.isclose(beyond["release"], furthest["release"] / 2.0 ** direction, rtol=1e-12)
