"""The procedural kick generator and the pack it writes."""

import json
from collections import Counter
from dataclasses import asdict, fields, replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from latentplay.features import measure_features
from latentplay.synth import (
    OUTPUT_PEAK,
    PACK_NAME,
    STYLES,
    SYNTH_SAMPLE_RATE,
    KickParams,
    render_kick,
    sample_params,
    write_pack,
)

PACK_SIZE = 12  # small, but more than two kicks of every style

CLEAN_KICK = KickParams(
    f0_hz=60.0,
    attack_ms=2.0,
    decay_ms=60.0,
    sweep_ratio=3.0,
    sweep_ms=8.0,
    sub=0.3,
    click=0.3,
    high_end=0.15,
    drive=1.0,
    wet=0.0,
    reverb_ms=500.0,
)


@pytest.fixture(scope="module")
def pack(tmp_path_factory) -> tuple[Path, dict]:
    out_dir = tmp_path_factory.mktemp("pack")
    manifest_path = write_pack(out_dir, n=PACK_SIZE, seed=7)
    return out_dir, json.loads(manifest_path.read_text())


def _files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_write_pack_is_byte_identical_for_the_same_n_and_seed(pack, tmp_path):
    out_dir, _ = pack
    write_pack(tmp_path, n=PACK_SIZE, seed=7)
    assert _files_under(tmp_path) == _files_under(out_dir)


def test_write_pack_differs_for_another_seed(pack, tmp_path):
    out_dir, _ = pack
    write_pack(tmp_path, n=PACK_SIZE, seed=8)
    assert _files_under(tmp_path) != _files_under(out_dir)


def test_manifest_lists_exactly_the_written_files(pack):
    out_dir, manifest = pack
    listed = {entry["path"] for entry in manifest["files"]}
    written = {p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*.wav")}
    assert len(manifest["files"]) == PACK_SIZE
    assert listed == written
    assert (out_dir / "manifest.json").is_file()
    assert not list((out_dir / PACK_NAME).rglob("*.json"))


def test_manifest_entries_hold_style_and_every_generating_parameter(pack):
    _, manifest = pack
    for entry in manifest["files"]:
        params = KickParams(**{field.name: entry[field.name] for field in fields(KickParams)})
        assert entry["path"] == f"{PACK_NAME}/{entry['style']}/{Path(entry['path']).name}"
        assert Path(entry["path"]).name.startswith(entry["style"] + "_")
        assert _within_style_ranges(params, entry["style"])


def test_every_style_is_a_sub_pack_with_an_even_share(pack):
    out_dir, manifest = pack
    counts = Counter(entry["style"] for entry in manifest["files"])
    assert set(counts) == set(STYLES)
    assert max(counts.values()) - min(counts.values()) <= 1
    assert {p.name for p in (out_dir / PACK_NAME).iterdir()} == set(STYLES)


def test_written_files_are_44k1_24_bit_mono_with_peak_0_9(pack):
    out_dir, manifest = pack
    for entry in manifest["files"]:
        path = out_dir / entry["path"]
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (SYNTH_SAMPLE_RATE, 1, "PCM_24")
        audio, _ = sf.read(path)
        assert np.all(np.isfinite(audio))
        assert np.max(np.abs(audio)) == pytest.approx(OUTPUT_PEAK, abs=1e-4)


def test_render_kick_is_deterministic_float64_mono_with_peak_0_9():
    first = render_kick(CLEAN_KICK, seed=3)
    assert first.dtype == np.float64
    assert first.shape == (round(0.5 * SYNTH_SAMPLE_RATE),)
    assert np.array_equal(first, render_kick(CLEAN_KICK, seed=3))
    assert not np.array_equal(first, render_kick(CLEAN_KICK, seed=4))
    assert np.max(np.abs(first)) == pytest.approx(OUTPUT_PEAK)


@settings(max_examples=20, deadline=None)
@given(style=st.sampled_from(list(STYLES)), seed=st.integers(0, 2**32 - 1))
def test_every_style_renders_finite_kicks_within_its_ranges(style, seed):
    params = sample_params(style, np.random.default_rng(seed))
    audio = render_kick(params, seed=seed)
    assert _within_style_ranges(params, style)
    assert np.all(np.isfinite(audio))
    assert np.max(np.abs(audio)) == pytest.approx(OUTPUT_PEAK)


def test_styles_define_every_parameter_with_realistic_kick_ranges():
    for style, ranges in STYLES.items():
        assert set(ranges) == {field.name for field in fields(KickParams)}, style
        assert all(low <= high for low, high in ranges.values()), style
        assert 38.0 <= ranges["f0_hz"][0] and ranges["f0_hz"][1] <= 110.0, style
        assert 0.3 <= ranges["attack_ms"][0] and ranges["attack_ms"][1] <= 15.0, style
        assert 30.0 <= ranges["decay_ms"][0] and ranges["decay_ms"][1] <= 240.0, style
        # The body must reach -20 dB before the model's 0.3 s crop fades out.
        assert ranges["attack_ms"][1] + ranges["decay_ms"][1] <= 255.0, style


def test_sample_params_rejects_an_unknown_style():
    with pytest.raises(KeyError):
        sample_params("no-such-style", np.random.default_rng(0))


@pytest.mark.parametrize(
    "invalid",
    [
        {"f0_hz": 0.0},
        {"decay_ms": 0.0},
        {"sweep_ratio": 0.5},
        {"drive": 0.9},
        {"wet": 1.5},
        {"click": -0.1},
    ],
)
def test_kick_params_reject_invalid_values(invalid):
    with pytest.raises(ValueError):
        replace(CLEAN_KICK, **invalid)


def test_drive_adds_high_harmonics():
    # No glide past 1.5 f0 and no noise layers: above the fundamental only
    # the saturation's odd harmonics remain.
    tone = replace(CLEAN_KICK, sweep_ratio=1.5, sub=0.0, click=0.0, high_end=0.0, decay_ms=150.0)
    ratios = [
        _odd_harmonics_to_fundamental(render_kick(replace(tone, drive=drive)), tone.f0_hz)
        for drive in (1.0, 1.5, 2.0, 4.0, 8.0)
    ]
    assert np.all(np.diff(ratios) > 0), ratios
    assert ratios[3] > 3 * ratios[0]


def _odd_harmonics_to_fundamental(audio: np.ndarray, f0_hz: float) -> float:
    """Energy of the 3rd and 5th harmonic peaks relative to the fundamental's."""
    magnitude = np.abs(np.fft.rfft(audio))
    frequencies = np.fft.rfftfreq(audio.size, 1.0 / SYNTH_SAMPLE_RATE)

    def peak_near(harmonic: int) -> float:
        near = np.abs(frequencies - harmonic * f0_hz) < 0.1 * f0_hz
        return float(magnitude[near].max())

    return (peak_near(3) ** 2 + peak_near(5) ** 2) / peak_near(1) ** 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wet_kick_has_a_longer_release_than_the_dry_one(seed):
    dry = measure_features(render_kick(CLEAN_KICK, seed=seed), SYNTH_SAMPLE_RATE)
    wet = measure_features(render_kick(replace(CLEAN_KICK, wet=0.7), seed=seed), SYNTH_SAMPLE_RATE)
    assert wet.release_ms > dry.release_ms + 10.0


def _within_style_ranges(params: KickParams, style: str) -> bool:
    ranges = STYLES[style]
    return all(ranges[name][0] <= value <= ranges[name][1] for name, value in asdict(params).items())
