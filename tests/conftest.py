"""Shared fixtures, and the `large` marker's default deselection.

Shared data generators live in problems.py (``from problems import ...``): names defined
here cannot be imported by the test files in pytest's importlib import mode.
"""

from __future__ import annotations

import re

import numba
import pytest
from sklearn.datasets import make_regression


def pytest_collection_modifyitems(config, items):
    """Leave out the tests marked `large` unless the -m expression names them.

    Not ``-m 'not large'`` in addopts: a second -m on the command line replaces the first,
    so ``pytest -m "not slow"`` would have run the large tests too.
    """
    if re.search(r"\blarge\b", config.getoption("markexpr") or ""):
        return
    large = [item for item in items if item.get_closest_marker("large") is not None]
    if large:
        config.hook.pytest_deselected(items=large)
        items[:] = [item for item in items if item.get_closest_marker("large") is None]


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
