"""Helpers shared by the benchmark modules and scripts."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np


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
