"""Edges of the precompute pass: no weight at all, and factors that cannot be merged."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastlinreg import precompute
from fastlinreg.sources import InMemorySource


def source(n, d, k=1, weights=None, seed=0):
    rng = np.random.default_rng(seed)
    return InMemorySource(rng.standard_normal((n, d)), rng.standard_normal((n, k)), weights)


def test_a_pass_over_rows_of_zero_weight_only_is_refused():
    # The estimator refuses all-zero weights first; a source handed to the pass directly
    # gets the same answer instead of a factor of NaNs.
    with pytest.raises(ValueError, match="sample_weight sums to zero"):
        precompute.triangular_factor(source(30, 2, weights=np.zeros(30)))


def test_factors_of_other_shapes_are_not_combined():
    first = precompute.triangular_factor(source(30, 2))
    second = precompute.triangular_factor(source(30, 3))
    with pytest.raises(
        ValueError,
        match="cannot combine a factor of 2 features and 1 targets with one of 3 features",
    ):
        precompute.combine(first, second)
    two_targets = precompute.triangular_factor(source(30, 1, k=2))
    with pytest.raises(ValueError, match="1 features and 2 targets"):
        precompute.combine(two_targets, second)


def test_combining_halves_gives_the_factor_of_the_whole():
    whole = source(64, 3, k=2, weights=np.linspace(0.0, 2.0, 64), seed=1)
    halves = [whole.rows(0, 20), whole.rows(20, 64)]
    merged = precompute.combine(*map(precompute.triangular_factor, halves))
    direct = precompute.triangular_factor(whole)
    # R is unique up to the signs of its rows: compare R'R, the centred weighted Gram.
    assert_allclose(merged.R.T @ merged.R, direct.R.T @ direct.R, rtol=1e-12, atol=1e-12)
    assert_allclose(merged.mean, direct.mean, rtol=1e-12)
    assert merged.total_weight == pytest.approx(direct.total_weight, rel=1e-15)
