"""Edges of the precompute pass: no weight at all, factors that cannot be merged, and
columns (and y) whose squares underflow or overflow."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastlinreg import _config
from fastlinreg._objective import Objective
from fastlinreg.sources import InMemorySource, precomputed


def source(n, d, k=1, weights=None, seed=0):
    rng = np.random.default_rng(seed)
    return InMemorySource(rng.standard_normal((n, d)), rng.standard_normal((n, k)), weights)


def test_a_pass_over_rows_of_zero_weight_only_is_refused():
    # The estimator refuses all-zero weights first; a source handed to the pass directly
    # gets the same answer instead of a factor of NaNs.
    with pytest.raises(ValueError, match="sample_weight sums to zero"):
        precomputed.triangular_factor(source(30, 2, weights=np.zeros(30)))


def test_factors_of_other_shapes_are_not_combined():
    first = precomputed.triangular_factor(source(30, 2))
    second = precomputed.triangular_factor(source(30, 3))
    with pytest.raises(
        ValueError,
        match="cannot combine a factor of 2 features and 1 targets with one of 3 features",
    ):
        precomputed.combine(first, second)
    two_targets = precomputed.triangular_factor(source(30, 1, k=2))
    with pytest.raises(ValueError, match="1 features and 2 targets"):
        precomputed.combine(two_targets, second)


def test_combining_halves_gives_the_factor_of_the_whole():
    whole = source(64, 3, k=2, weights=np.linspace(0.0, 2.0, 64), seed=1)
    halves = [whole.rows(0, 20), whole.rows(20, 64)]
    merged = precomputed.combine(*map(precomputed.triangular_factor, halves))
    direct = precomputed.triangular_factor(whole)
    # R is unique up to the signs of its rows: compare R'R, the centred weighted Gram.
    assert_allclose(merged.R.T @ merged.R, direct.R.T @ direct.R, rtol=1e-12, atol=1e-12)
    assert_allclose(merged.mean, direct.mean, rtol=1e-12)
    assert merged.total_weight == pytest.approx(direct.total_weight, rel=1e-15)


def test_a_factor_of_many_blocks_scales_tiny_and_huge_columns_exactly(monkeypatch):
    # Columns of 1e-170 and 1e+150, and y of 1e-170: squared as they are, they underflow
    # to 0 or overflow. Blocks (and their merges) scale them by powers of two first, so
    # the factor is the unscaled data's scaled back, bit for bit, block route by route.
    monkeypatch.setattr(_config, "FACTOR_BLOCK_BYTES", 1)  # 10-row blocks
    rng = np.random.default_rng(1)
    X = rng.standard_normal((400, 3)) + [0.0, 3.0, -1e3]
    Y = X @ [1.0, 2.0, 3.0] + rng.standard_normal(400)
    weights = rng.uniform(0.5, 2.0, 400)
    exponents = np.array([-565, 500, 0, -565])
    for w in (None, weights):  # the Gram route, and the centred copy's
        expected = precomputed.triangular_factor(InMemorySource(X, Y[:, None], w))
        scaled = InMemorySource(np.ldexp(X, exponents[:3]), np.ldexp(Y, -565)[:, None], w)
        # y / y_scale (a power of two) has its largest magnitude in [1, 2)
        assert 1.0 <= np.max(np.abs(scaled.Y)) < 2.0
        assert np.frexp(scaled.y_scale)[0] == 0.5
        got = precomputed.triangular_factor(scaled)
        np.testing.assert_array_equal(got.R, np.ldexp(expected.R, exponents))
        np.testing.assert_array_equal(got.mean, np.ldexp(expected.mean, exponents))
        assert got.total_weight == expected.total_weight


def test_the_feature_scaling_pass_scales_tiny_columns_exactly(monkeypatch):
    monkeypatch.setattr(_config, "FACTOR_BLOCK_BYTES", 1)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((300, 2)) + [5.0, 0.0]
    Y = rng.standard_normal((300, 1))
    for fit_intercept in (True, False):
        center, scale, constant = precomputed.feature_scaling(InMemorySource(X, Y), fit_intercept)
        got = precomputed.feature_scaling(
            InMemorySource(np.ldexp(X, [-565, 700]), Y), fit_intercept
        )
        np.testing.assert_array_equal(got[0], np.ldexp(center, [-565, 700]))
        np.testing.assert_array_equal(got[1], np.ldexp(scale, [-565, 700]))
        assert not got[2].any() and not constant.any()


def test_column_norms_neither_underflow_nor_overflow():
    M = np.array([[3e-170, 3e200, 0.0, 1.0], [4e-170, 4e200, 0.0, 2.0]])
    np.testing.assert_allclose(precomputed.column_norms(M), [5e-170, 5e200, 0.0, 5**0.5])
    assert precomputed.column_norms(np.array([[1.5e308], [1.5e308]]))[0] == np.inf


def test_weighted_values_whose_column_norm_overflows_are_named():
    # Through InMemorySource directly: the estimator scales huge weights down first.
    X = np.ones((5, 2))
    X[3, 1] = 1e160
    source = InMemorySource(X, np.ones((5, 1)), np.full(5, 1e300))
    with pytest.raises(
        ValueError,
        match=r"X holds 1e\+160 at row 3, column 1: .*its column \(weighted by sample_weight\)",
    ):
        source.check_values()
    InMemorySource(X, np.ones((5, 1))).check_values()  # unweighted: its norm is 1e160


def test_the_objective_of_a_factor_of_tiny_y_is_the_ordinary_ones_scaled():
    # The factor keeps y in its own units (1e-170 here); the objective iterates on
    # y / y_scale, whose losses and gradients are then those of ordinary y.
    rng = np.random.default_rng(4)
    X = rng.standard_normal((50, 2))
    Y = rng.standard_normal((50, 1))

    def objective(y):
        factor = precomputed.triangular_factor(InMemorySource(X, y))
        center, scale, constant = precomputed.feature_scaling(None, True, factor)
        return Objective(
            precomputed.PrecomputedSource(factor),
            center,
            scale,
            fit_intercept=True,
            alpha=0.0,
            l1_ratio=0.0,
            constant=constant,
        )

    ordinary, tiny = objective(Y), objective(np.ldexp(Y, -600))
    assert ordinary.y_scale == 1.0 and np.frexp(tiny.y_scale)[0] == 0.5
    # theta in units of y / tiny.y_scale is theta * ratio in units of y / 2**-600.
    ratio = int(np.frexp(tiny.y_scale)[1] - 1 + 600)
    theta, beta = np.array([[0.3, -0.2]]), np.array([0.1])
    expected = ordinary.smooth_loss_grad(np.ldexp(theta, ratio), np.ldexp(beta, ratio))
    got = tiny.smooth_loss_grad(theta, beta)
    assert got[0] == np.ldexp(expected[0], -2 * ratio)
    np.testing.assert_array_equal(got[1], np.ldexp(expected[1], -ratio))
    np.testing.assert_array_equal(got[2], np.ldexp(expected[2], -ratio))
    W, b = tiny.to_original(theta, beta)
    np.testing.assert_array_equal(tiny.to_solver(W, b)[0], theta)
