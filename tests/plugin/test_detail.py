"""The original one-shots in the bundle: Mix against the original, and Detail.

Detail adds the sample's own residual to the regenerated one-shot: out = D(z') + detail · (x − D(z)).
At the sample's own values with Detail 1 the plugin plays the original itself; a bundle exported
with --no-audio plays as before (Mix against the reconstruction, Detail adds nothing).
Real VST3 in pedalboard; the expected audio comes from the engine and from python-soxr.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soxr

from latentplay import _engine
from latentplay.audio import RESAMPLE_QUALITY
from latentplay.bundle import CONTROL_NAMES, ORIGINALS_NAME, SIDECAR_NAME, load_bundle
from latentplay.dataset import load_pack_tree
from latentplay.host import snap_to_sample

RATE = 48000
SAMPLE = 3
FLOAT_ROUNDING = 1e-6  # float32 arithmetic and the resampler's own rounding
POSITION_ROUNDING = 1e-4  # −80 dB: the plugin holds controls as float32 positions (z' ≈ z, not =)


@pytest.fixture(scope="module")
def engine(smoke_export):
    return _engine.Engine(str(smoke_export[2]))


@pytest.fixture(scope="module")
def bundle_without_audio(smoke_export, tmp_path_factory):
    """The smoke bundle as `export --no-audio` writes it: no originals file, no files.originals."""
    folder = tmp_path_factory.mktemp("no-audio") / "kicks.latentplay"
    shutil.copytree(smoke_export[2], folder)
    (folder / ORIGINALS_NAME).unlink()
    sidecar = json.loads((folder / SIDECAR_NAME).read_text())
    del sidecar["files"]["originals"]
    (folder / SIDECAR_NAME).write_text(json.dumps(sidecar))
    return folder


def play_one_note(load_plugin, bundle, **settings) -> tuple[object, np.ndarray]:
    """(the plugin, its left channel) for one note at the sample's own values."""
    plugin = load_plugin(bundle)
    snap_to_sample(plugin, bundle, SAMPLE)  # the sample's own control values
    for name, value in settings.items():
        setattr(plugin, name, value)
    output = plugin([(bytes([0x90, 60, 127]), 0.0)], duration=0.5, sample_rate=RATE, num_channels=2,
                    buffer_size=512, reset=False)
    return plugin, output[0]


def targets_in_force(engine, plugin) -> dict[str, float]:
    """The control values the plugin holds: float32 positions in each range, so the sample's own
    values up to float32 rounding (z' is z within ~1e-7)."""
    return engine.targets_at({name: plugin.parameters[name].raw_value for name in CONTROL_NAMES})


def test_the_bundle_holds_the_prepared_training_one_shots(smoke_export):
    data, _, folder = smoke_export
    bundle = load_bundle(folder)
    pack = load_pack_tree(data, bundle.prep_config())
    stored = bundle.originals()
    assert stored.shape == (len(bundle.samples), bundle.length)
    order = {sample.ref.relative_path: i for i, sample in enumerate(pack.samples)}
    for index, sample in enumerate(bundle.samples):
        assert np.array_equal(stored[index], pack.audio[order[sample.path]])


def test_engine_detail_one_at_the_own_values_is_the_original(engine):
    original = engine.original(SAMPLE)
    assert np.max(np.abs(engine.regenerate(SAMPLE, {}, 0.0, 1.0) - original)) < FLOAT_ROUNDING
    reconstruction = engine.regenerate(SAMPLE, {}, 0.0)
    assert np.array_equal(engine.regenerate(SAMPLE, {}, 0.0, 0.0), reconstruction)
    half = engine.regenerate(SAMPLE, {}, 0.0, 0.5)
    assert np.max(np.abs(half - (reconstruction + 0.5 * (original - reconstruction)))) < FLOAT_ROUNDING


def test_engine_detail_keeps_the_residual_when_a_control_moves(engine):
    """Turning a control moves the body; the click and room (the residual) stay."""
    frequency = engine.controls[2]["range"]
    target = {"frequency": frequency[0] + 0.8 * (frequency[1] - frequency[0])}
    moved = engine.regenerate(SAMPLE, target, 0.0)
    with_detail = engine.regenerate(SAMPLE, target, 0.0, 1.0)
    residual = engine.original(SAMPLE) - engine.regenerate(SAMPLE, {}, 0.0)
    assert np.max(np.abs((with_detail - moved) - residual)) < FLOAT_ROUNDING


def test_plugin_detail_one_fully_wet_plays_the_original_at_the_host_rate(load_plugin, smoke_export, engine):
    plugin, output = play_one_note(load_plugin, smoke_export[2], detail=1.0, mix=1.0)
    expected = engine.regenerate(SAMPLE, targets_in_force(engine, plugin), RATE, 1.0)
    assert np.max(np.abs(output[:len(expected)] - expected)) < FLOAT_ROUNDING  # the engine's code, exactly
    original_at_host_rate = engine.dry(SAMPLE, RATE)
    # The original resampled, up to the float32 positions of the controls (z' within ~1e-7 of z):
    assert np.max(np.abs(output[:len(expected)] - original_at_host_rate)) < POSITION_ROUNDING
    # and the engine's resampling of the original is python-soxr's (same libsoxr recipe, in chunks there)
    theirs = soxr.resample(engine.original(SAMPLE), engine.sample_rate, RATE, quality=RESAMPLE_QUALITY)
    assert np.max(np.abs(original_at_host_rate - theirs)) <= 1e-5


def test_plugin_detail_zero_plays_the_reconstruction(load_plugin, smoke_export, engine):
    plugin, output = play_one_note(load_plugin, smoke_export[2], detail=0.0, mix=1.0)
    expected = engine.regenerate(SAMPLE, targets_in_force(engine, plugin), RATE)
    assert np.max(np.abs(output[:len(expected)] - expected)) < FLOAT_ROUNDING
    assert np.max(np.abs(output[:len(expected)] - engine.regenerate(SAMPLE, {}, RATE))) < POSITION_ROUNDING
    assert np.max(np.abs(expected - engine.dry(SAMPLE, RATE))) > 0.01  # the smoke model is far from its originals


def test_plugin_mix_fully_dry_plays_the_original(load_plugin, smoke_export, engine):
    _, output = play_one_note(load_plugin, smoke_export[2], detail=0.0, mix=0.0)
    expected = engine.dry(SAMPLE, RATE)
    assert np.max(np.abs(output[:len(expected)] - expected)) < FLOAT_ROUNDING


def test_a_bundle_without_audio_plays_as_before(load_plugin, bundle_without_audio):
    engine = _engine.Engine(str(bundle_without_audio))
    assert not engine.has_originals and len(engine.original(SAMPLE)) == 0
    reconstruction = engine.regenerate(SAMPLE, {}, RATE)
    assert np.array_equal(engine.dry(SAMPLE, RATE), reconstruction)
    for detail, mix in ((1.0, 1.0), (0.0, 0.0)):
        plugin, output = play_one_note(load_plugin, bundle_without_audio, detail=detail, mix=mix)
        expected = engine.regenerate(SAMPLE, targets_in_force(engine, plugin), RATE) if mix else reconstruction
        assert np.max(np.abs(output[:len(expected)] - expected)) < FLOAT_ROUNDING
