"""Shared fixtures: small random problems, every memory layout and dtype."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from sklearn.datasets import make_regression


def make_problem(n, d, dtype=np.float64, order="C", seed=0):
    """X (n, d) in the given dtype/order, y (n,), w (d,), b: values of mixed scale."""
    rng = np.random.default_rng(seed)
    X = np.asarray(rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d), dtype=dtype, order=order)
    y = (rng.standard_normal(n) * 4 + 2).astype(dtype)
    w = rng.standard_normal(d)
    return X, y, w, 0.7


@pytest.fixture
def regression_data():
    X, y = make_regression(n_samples=200, n_features=5, noise=10, random_state=0)
    return X, y


@pytest.fixture
def all_threads():
    """numba's thread count, restored afterwards (set_num_threads is per thread)."""
    before = numba.get_num_threads()
    try:
        yield numba.config.NUMBA_NUM_THREADS
    finally:
        numba.set_num_threads(before)
