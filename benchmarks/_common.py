"""Helpers shared by the benchmark modules and scripts."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp


def median_time(f: Callable[[], object], repeat: int = 7) -> float:
    """Median wall time of ``f()`` in seconds, after one untimed call."""
    f()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def make_problem(n: int, d: int, dtype, seed: int = 0):
    """(X, y, w, b): standard normal X and y of shape (n, d) and (n,) in ``dtype``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=dtype)
    y = rng.standard_normal(n, dtype=dtype)
    w = rng.standard_normal(d) / np.sqrt(d)
    return X, y, w, 0.5


def benchmark_median(benchmark) -> float | None:
    """Median seconds of the benchmark just run; None when benchmarks are disabled."""
    stats = getattr(benchmark, "stats", None)
    return None if stats is None else float(stats.stats.median)


def one_hot(n: int, groups: int, levels: int, seed: int = 0) -> sp.csr_matrix:
    """n rows of ``groups`` one-hot categorical columns of ``levels`` categories each,
    drawn from a heavy-tailed (Pareto) distribution: a few common categories, many rare."""
    rng = np.random.default_rng(seed)
    categories = np.minimum((rng.pareto(1.5, size=(n, groups)) * 5).astype(np.int64), levels - 1)
    columns = (categories + np.arange(groups) * levels).ravel().astype(np.int32)
    indptr = np.arange(0, n * groups + 1, groups, dtype=np.int64)
    X = sp.csr_matrix((np.ones(n * groups), columns, indptr), shape=(n, groups * levels))
    X.sum_duplicates()
    return X


def random_rows(n: int, d: int, per_row: int, seed: int = 0) -> sp.csr_matrix:
    """n rows of ``per_row`` entries each, at uniformly random columns of d (sorted, no
    duplicates), standard normal values: bag-of-words or hashed features."""
    rng = np.random.default_rng(seed)
    columns = np.sort(rng.integers(0, d, size=(n, per_row), dtype=np.int64), axis=1)
    X = sp.csr_matrix(
        (rng.standard_normal(n * per_row), columns.ravel().astype(np.int32),
         np.arange(0, n * per_row + 1, per_row, dtype=np.int64)),
        shape=(n, d),
    )  # fmt: skip
    X.sum_duplicates()
    return X
