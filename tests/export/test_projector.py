"""The reference projector's properties (hypothesis): constraints met, identity at the sample's
own values, minimal move, and stability when controls are (nearly) parallel."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from latentplay.projector import control_values, project

NUM_CONTROLS = 5


@st.composite
def problems(draw, min_dim=6, max_dim=64):
    """A random, reasonably conditioned control matrix, latent point, targets and spans."""
    seed = draw(st.integers(0, 2**32 - 1))
    dim = draw(st.integers(min_dim, max_dim))
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(NUM_CONTROLS, dim)) * rng.uniform(0.1, 10, size=(NUM_CONTROLS, 1))
    intercepts = rng.normal(size=NUM_CONTROLS) * 50
    latent = rng.normal(size=dim) * 3
    spans = rng.uniform(0.5, 200, size=NUM_CONTROLS)
    targets = control_values(latent, weights, intercepts) + rng.normal(size=NUM_CONTROLS) * spans
    return latent, targets, weights, intercepts, spans


@settings(max_examples=200, deadline=None)
@given(problems())
def test_constraints_are_met(problem):
    latent, targets, weights, intercepts, spans = problem
    moved = project(latent, targets, weights, intercepts, spans)
    assert np.allclose(control_values(moved, weights, intercepts), targets, rtol=0, atol=1e-9 * spans.max())


@settings(max_examples=100, deadline=None)
@given(problems())
def test_own_values_leave_the_point_unchanged(problem):
    latent, _, weights, intercepts, spans = problem
    own = control_values(latent, weights, intercepts)
    assert np.allclose(project(latent, own, weights, intercepts, spans), latent, rtol=0, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(problems(), st.integers(0, 2**32 - 1))
def test_the_move_is_minimal(problem, seed):
    latent, targets, weights, intercepts, spans = problem
    moved = project(latent, targets, weights, intercepts, spans)
    # Every other solution differs by a null-space vector of A: the move must be orthogonal to it.
    _, _, vt = np.linalg.svd(weights)
    null_space = vt[NUM_CONTROLS:].T
    step = moved - latent
    assert np.linalg.norm(null_space.T @ step) <= 1e-9 * max(1.0, np.linalg.norm(step))
    other = moved + null_space @ np.random.default_rng(seed).normal(size=null_space.shape[1])
    assert np.allclose(control_values(other, weights, intercepts), targets, atol=1e-8 * spans.max())
    assert np.linalg.norm(other - latent) >= np.linalg.norm(step)


def test_nearly_parallel_controls_stay_stable():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(NUM_CONTROLS, 16))
    weights[4] = weights[3] + 1e-13 * rng.normal(size=16)  # release almost exactly along attack
    intercepts, spans, latent = np.zeros(5), np.ones(5), rng.normal(size=16)
    reachable = control_values(latent + rng.normal(size=16), weights, intercepts)
    moved = project(latent, reachable, weights, intercepts, spans)
    assert np.allclose(control_values(moved, weights, intercepts), reachable, atol=1e-6)
    # Asking the two for values 1 apart would need a move of ~1e13: it must stay small instead.
    moved = project(latent, reachable + np.array([0, 0, 0, 0, 1.0]), weights, intercepts, spans)
    assert np.all(np.isfinite(moved)) and np.linalg.norm(moved - latent) < 100


def test_unreachable_targets_give_the_least_squares_compromise():
    rng = np.random.default_rng(1)
    weights = rng.normal(size=(NUM_CONTROLS, 12))
    weights[4] = weights[3]  # two controls that are one and the same direction
    intercepts, spans, latent = rng.normal(size=5), np.full(5, 10.0), rng.normal(size=12)
    asked = np.array([1.0, -2.0, 3.0, 4.0, 6.0])
    targets = control_values(latent, weights, intercepts) + asked
    moved = project(latent, targets, weights, intercepts, spans)
    change = control_values(moved, weights, intercepts) - control_values(latent, weights, intercepts)
    assert np.allclose(change[:3], asked[:3], atol=1e-9)  # the independent controls are met
    assert np.allclose(change[3:], [5.0, 5.0], atol=1e-9)  # the twins both land half-way
    # and the move is the smallest that achieves this compromise
    rows = weights[[0, 1, 2, 3]]
    smallest = np.linalg.lstsq(rows, np.array([1.0, -2.0, 3.0, 5.0]), rcond=None)[0]
    assert np.allclose(moved - latent, smallest, atol=1e-9)
