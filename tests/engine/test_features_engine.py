"""The engine's feature measurement (features.cpp, used by neural key tracking) is the Python one
(latentplay.features, the definition): same frequency, attack and release on real and made kicks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from latentplay import _engine
from latentplay.bundle import load_bundle
from latentplay.features import measure_features
from latentplay.kits import find_kits, hydrogen_one_shots

DEMO = Path(__file__).resolve().parents[2] / "presets" / "demo.latentplay"


def agree(audio: np.ndarray, rate: int) -> None:
    ours = _engine.measure_features(audio.astype(np.float32), rate)
    reference = measure_features(audio.astype(np.float32), rate)
    sample_ms = 1000.0 / rate
    assert ours["frequency"] == pytest.approx(reference.frequency_hz, rel=1e-6, abs=1e-6)
    assert abs(ours["attack"] - reference.attack_ms) <= sample_ms + 1e-9
    assert abs(ours["release"] - reference.release_ms) <= sample_ms + 1e-9


def test_the_demo_bundles_originals():
    originals = load_bundle(DEMO).originals()
    for one_shot in originals[::4]:
        agree(one_shot, 22050)


def test_real_hydrogen_kicks_prepared_and_raw():
    kits = find_kits()
    if not kits:
        pytest.skip("hydrogen-drumkits / hydrogen-data not installed (scripts/setup.sh installs them)")
    kicks = [one_shot for kit in kits for one_shot in hydrogen_one_shots(kit, ("kick",))][:24]
    assert kicks
    for kick in kicks:
        agree(kick.prepared(), 22050)
    import soundfile

    raw, rate = soundfile.read(str(kicks[0].entry.source), dtype="float32", always_2d=True)
    agree(raw.mean(axis=1)[: rate // 2], rate)  # another rate, unprepared


def test_edge_cases():
    agree(np.zeros(1000), 22050)  # silence
    agree(np.array([0.5]), 22050)  # one sample
    t = np.arange(3000) / 48000
    agree(np.sin(2 * np.pi * 60 * t) * np.exp(-t / 0.05), 48000)  # shorter than the frequency window
    with pytest.raises(Exception, match="NaN"):
        _engine.measure_features(np.array([0.0, np.nan], dtype=np.float32), 22050)


def test_one_shot_file_names():
    controls = {"pc1": 0.1766, "pc2": -2.5913, "frequency": 49.7308, "attack": 3.209, "release": 140.98}
    assert _engine.one_shot_file_name("pack/sub/kick_03.wav", controls) == \
        "kick_03__pc1+0.18_pc2-2.59_frequency+49.73Hz_attack+3.21ms_release+140.98ms.wav"
    assert _engine.one_shot_file_name("my.kick.aiff", controls).startswith("my.kick__pc1")
