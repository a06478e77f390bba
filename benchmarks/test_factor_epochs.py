"""Epochs on the precomputed factor: 100,000 of plain gd (tol=None) at d = 1 to 100, after
the factor pass, in compiled code (``fastlinreg._jit.factor_epochs``).

Each benchmark times the solver alone: the factor is computed once per shape and the
fit runs through ``_solvers.descend`` on it, so the numbers are epochs, not the pass::

    python -m pytest benchmarks/test_factor_epochs.py --benchmark-enable

Without ``--benchmark-enable`` it is a smoke test (one round). Nothing about time is
asserted.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastlinreg import _solvers
from fastlinreg._objective import Objective, feature_scaling
from fastlinreg.sources import InMemorySource, PrecomputedSource
from fastlinreg.sources._factor import triangular_factor

from ._common import benchmark_median

EPOCHS = 100_000


@pytest.mark.parametrize("d", [1, 5, 10, 20, 100])
@pytest.mark.parametrize("solver", ["gd", "agd"])
def test_epochs_on_the_factor(benchmark, summary, d, solver):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5000, d))
    y = X @ rng.standard_normal(d) + rng.standard_normal(5000)
    source = InMemorySource(X, y[:, None], None, parallel=False)
    factor = triangular_factor(source)
    center, scale, constant = feature_scaling(source, True, factor)
    objective = Objective(
        PrecomputedSource(factor),
        center,
        scale,
        fit_intercept=True,
        alpha=0.0,
        l1_ratio=0.0,
        constant=constant,
    )

    def run():
        return _solvers.descend(
            objective,
            np.zeros((1, d)),
            np.zeros(1),
            accelerated=solver == "agd",
            learning_rate="auto",
            max_iter=EPOCHS,
            tol=None,
            n_iter_no_change=5,
        )

    run()  # compile
    benchmark.group = "factor epochs"
    benchmark.name = f"{solver}|d={d}|{EPOCHS} epochs"
    result = benchmark.pedantic(run, rounds=5, iterations=1)
    assert result.n_iter == EPOCHS
    median = benchmark_median(benchmark)
    if median is not None:
        summary.append(
            f"{solver} d={d:4d}: {EPOCHS} epochs on the factor in {median * 1e3:8.1f} ms "
            f"({median / EPOCHS * 1e9:6.0f} ns/epoch)"
        )
