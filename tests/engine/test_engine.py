"""The C++ engine through pybind11 (latentplay._engine) against the Python references:
projection (numpy), regeneration (TorchScript in Python), resampling (python-soxr)."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import soxr
from scipy import signal

from latentplay import _engine
from latentplay.bundle import SIDECAR_NAME, load_bundle
from latentplay.projector import project
from latentplay.render import ReferenceRenderer
from tests.export.malformed import MALFORMED, UNLOADABLE, make_copy

HOST_RATES = [44100, 48000, 88200, 96000, 192000, 37800]


@pytest.fixture(scope="module")
def engine(smoke_export):
    return _engine.Engine(str(smoke_export[2]))


@pytest.fixture(scope="module")
def reference(smoke_export):
    return ReferenceRenderer(smoke_export[2])


@pytest.mark.parametrize("seed", range(30))
def test_projection_matches_numpy_on_random_problems(seed):
    rng = np.random.default_rng(seed)
    dim = int(rng.integers(6, 200))
    weights = rng.normal(size=(5, dim)) * rng.uniform(0.1, 10, size=(5, 1))
    intercepts, spans = rng.normal(size=5) * 50, rng.uniform(0.5, 200, size=5)
    latent = rng.normal(size=dim)
    targets = weights @ latent + intercepts + rng.normal(size=5) * spans
    expected = project(latent, targets, weights, intercepts, spans)
    got = _engine.Projector(weights, intercepts, spans).project(latent, targets)
    assert np.max(np.abs(got - expected)) <= 1e-9 * max(1.0, np.max(np.abs(expected)))


def test_projection_matches_numpy_on_the_real_bundle(engine, reference):
    rng = np.random.default_rng(0)
    controls = reference.bundle.controls
    for sample in reference.bundle.samples:
        asked = {c.name: rng.uniform(c.minimum, c.maximum) for c in controls if rng.random() < 0.6}
        assert np.max(np.abs(engine.move(sample.latent, asked) - reference.move(sample.latent, asked))) <= 1e-9


def test_metadata_matches_the_python_reader(engine, reference):
    bundle = reference.bundle
    assert (engine.sample_rate, engine.length, engine.latent_dim) == (bundle.sample_rate, bundle.length, bundle.latent_dim)
    assert engine.model_id == bundle.model_id and engine.packs == bundle.packs
    for theirs, ours in zip(engine.controls, bundle.controls):
        assert (theirs["name"], theirs["unit"], theirs["range"]) == (ours.name, ours.unit, (ours.minimum, ours.maximum))
        assert np.array_equal(theirs["weights"], ours.weights) and theirs["intercept"] == ours.intercept
    assert [s["path"] for s in engine.samples] == [s.path for s in bundle.samples]
    assert engine.find_sample(bundle.samples[3].name) == 3


def test_positions_map_onto_each_control_range(engine, reference):
    """targets_at is the plugin's position -> value mapping (positions as float parameters)."""
    positions = {"pc1": 0.0, "pc2": 1.0, "frequency": 0.25, "attack": 0.5, "release": 0.1}
    values = engine.targets_at(positions)
    for control in reference.bundle.controls:
        expected = control.minimum + float(np.float32(positions[control.name])) * control.span
        assert values[control.name] == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert engine.targets_at({"frequency": 0.5}).keys() == {"frequency"}


@pytest.mark.parametrize("controls", [{}, {"frequency": 70.0}, {"attack": 5.0, "release": 120.0},
                                      {"pc1": 0.5, "pc2": -0.2, "frequency": 50.0, "attack": 2.0, "release": 200.0}])
def test_regenerate_at_the_model_rate_equals_the_python_reference(engine, reference, controls):
    for index in (0, 5, 15):
        ours = engine.regenerate(index, controls)
        theirs = reference.regenerate(index, controls)
        assert ours.dtype == np.float32 and ours.shape == theirs.shape
        assert np.max(np.abs(ours - theirs)) <= 1e-5


def test_encode_equals_the_python_reference(engine, reference, smoke_export):
    sample = reference.bundle.samples[4]
    audio = reference.decode(sample.latent)
    assert np.max(np.abs(engine.encode(audio) - reference.encode(audio))) <= 1e-5


@pytest.mark.parametrize("rate", HOST_RATES)
def test_regenerate_resampled_equals_python_soxr(engine, rate):
    at_model_rate = engine.regenerate(2, {"frequency": 60.0})
    ours = engine.regenerate(2, {"frequency": 60.0}, rate)
    theirs = soxr.resample(at_model_rate, engine.sample_rate, rate, quality="HQ")
    assert ours.shape == theirs.shape == (round(len(at_model_rate) * rate / engine.sample_rate),)
    # Same libsoxr and recipe; python-soxr runs it in chunks, the engine in one shot.
    assert np.max(np.abs(ours - theirs)) <= 1e-5


def log_sweep(rate: int, seconds: float = 4.0, low: float = 20.0, high: float = 10000.0) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(int(rate * seconds)) / rate
    k = np.log(high / low) / seconds
    phase = 2 * np.pi * low * (np.exp(k * t) - 1) / k
    return (0.5 * np.sin(phase)).astype(np.float32), low * np.exp(k * t)


def worst_spurious_db(output: np.ndarray, rate: int, instantaneous: np.ndarray, input_rate: int) -> float:
    """Largest spectral component away from the sweep's own frequency, relative to the sweep
    (Kaiser β=14 window: sidelobes far below −90 dB)."""
    size, hop = 8192, 2048
    window = signal.get_window(("kaiser", 14.0), size)
    worst = -np.inf
    frequencies = np.fft.rfftfreq(size, 1 / rate)
    for start in range(size, len(output) - 2 * size, hop):
        spectrum = np.abs(np.fft.rfft(output[start:start + size] * window)) ** 2
        times = (np.array([start, start + size]) / rate * input_rate).astype(int)
        f_low, f_high = instantaneous[times[0]], instantaneous[min(times[1], len(instantaneous) - 1)]
        guard = 8 * rate / size
        away = (frequencies < f_low - guard) | (frequencies > f_high + guard)
        worst = max(worst, 10 * np.log10(spectrum[away].max() / spectrum.max()))
    return worst


@pytest.mark.parametrize("from_rate, to_rate", [(22050, 48000), (48000, 22050)])
def test_sweep_keeps_images_and_aliases_below_minus_90_db(from_rate, to_rate):
    sweep, instantaneous = log_sweep(from_rate)
    output = _engine.resample(sweep, from_rate, to_rate)
    assert worst_spurious_db(output, to_rate, instantaneous, from_rate) < -90


@pytest.mark.parametrize("name, mutate, words", MALFORMED, ids=[case[0] for case in MALFORMED])
def test_malformed_bundles_are_rejected_by_the_engine(smoke_export, tmp_path, name, mutate, words):
    bundle = make_copy(smoke_export[2], tmp_path)
    mutate(bundle)
    with pytest.raises(_engine.BundleError) as error:
        _engine.Engine(str(bundle))
    for word in words:
        assert word in str(error.value), str(error.value)


@pytest.mark.parametrize("name, mutate, words", UNLOADABLE, ids=[case[0] for case in UNLOADABLE])
def test_unloadable_models_are_rejected_by_the_engine(smoke_export, tmp_path, name, mutate, words):
    bundle = make_copy(smoke_export[2], tmp_path)
    mutate(bundle)
    _engine.check_bundle(str(bundle))  # sidecar and hashes are fine
    with pytest.raises(_engine.BundleError) as error:
        _engine.Engine(str(bundle))
    for word in words:
        assert word in str(error.value), str(error.value)


def test_a_decoder_of_the_wrong_latent_size_is_rejected_at_load(smoke_export, tmp_path):
    bundle = make_copy(smoke_export[2], tmp_path)
    sidecar = json.loads((bundle / SIDECAR_NAME).read_text())
    sidecar["latent_dim"] += 1  # a consistent sidecar for a model the decoder is not
    for control in sidecar["controls"]:
        control["weights"].append(0.0)
    sidecar["pca"]["mean"].append(0.0)
    for component in sidecar["pca"]["components"]:
        component.append(0.0)
    for sample in sidecar["samples"]:
        sample["latent"].append(0.0)
    (bundle / SIDECAR_NAME).write_text(json.dumps(sidecar))
    load_bundle(bundle)
    with pytest.raises(_engine.BundleError, match="decoder.ts"):
        _engine.Engine(str(bundle))


def test_bad_calls_raise_instead_of_crashing(engine):
    with pytest.raises(_engine.UsageError, match="latent has 3 values"):
        engine.decode(np.zeros(3))
    with pytest.raises(_engine.UsageError, match="out of range"):
        engine.regenerate(10_000)
    with pytest.raises(_engine.UsageError, match="unknown control"):
        engine.regenerate(0, {"pitch": 3.0})
    with pytest.raises(_engine.UsageError, match="no sample named"):
        engine.regenerate("no-such-kick")
    with pytest.raises(_engine.UsageError, match="samples, expected"):
        engine.encode(np.zeros(10, dtype=np.float32))


def test_metadata_reads_while_another_thread_regenerates(engine):
    results, failures = [], []

    def worker():
        try:
            for index in range(10):
                results.append(engine.regenerate(index % 16, {"frequency": 50.0 + index}, 48000))
        except Exception as error:  # reported below
            failures.append(error)

    thread = threading.Thread(target=worker)
    thread.start()
    while thread.is_alive():
        assert len(engine.samples) == 16 and engine.controls[2]["unit"] == "Hz"
    thread.join()
    assert not failures and len(results) == 10


def test_intra_op_threads_are_configurable():
    previous = _engine.intra_op_threads()
    _engine.set_intra_op_threads(1)
    assert _engine.intra_op_threads() == 1
    _engine.set_intra_op_threads(previous)
