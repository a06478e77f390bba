"""Shared fixtures (the `large` marker's default deselection is in ../conftest.py).

Shared data generators live in problems.py (``from problems import ...``): names defined
here cannot be imported by the test files in pytest's importlib import mode.
"""

from __future__ import annotations

import numba
import pytest
from sklearn.datasets import make_regression


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
