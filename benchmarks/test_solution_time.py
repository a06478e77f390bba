"""Time to solution: fastlinreg's agd and exact solvers against scikit-learn, glum and dask-ml.

One group ``solution|{n}x{d}`` per problem (``make_regression(n, d, noise=10)``, float64):
each method of ``solution_time.METHODS`` is one benchmark, fitted with the settings listed
there (3 rounds when a fit is cheap, 1 when it is slow, after an untimed warm-up fit on
2000 rows). extra_info records ``rel_error`` (max|theta - theta_ref| / max|theta_ref|, theta
the coefficients and the intercept, the reference ``np.linalg.lstsq`` on ``[X, 1]``),
``target`` (1e-6; 1e-10 for fastlinreg's exact solver) and ``reached``. SGDRegressor runs
epochs until the target or ``Problem.cap_s`` (60 s at full size). Nothing is asserted
about time; the smoke size asserts that the direct solvers reach their target.

The loss-vs-wall-time curves and the README table come from the script::

    python benchmarks/solution_time.py --n 2000000 --d 20 --out benchmarks/solution_time.json \\
        --plot docs/solution_time.png
"""

from __future__ import annotations

import pytest

from ._common import benchmark_median
from .solution_time import METHODS, Method, make_problem, warm_up

# (n, d, SGD's time cap in seconds)
SHAPES = [
    pytest.param((2_000_000, 20, 60.0), marks=pytest.mark.large, id="2000000x20"),
    pytest.param((20_000, 20, 2.0), id="smoke-20000x20"),
]


@pytest.fixture(scope="module", params=SHAPES)
def problem(request):
    n, d, cap_s = request.param
    return make_problem(n, d, cap_s=cap_s)


@pytest.mark.parametrize("method", METHODS, ids=[m.name for m in METHODS])
def test_solution_time(benchmark, problem, method: Method, summary):
    pytest.importorskip(method.module)
    n, d = problem.shape
    benchmark.group = f"solution|{n}x{d}"
    benchmark.name = f"{method.name}|{n}x{d}|float64"
    warm_up(method, problem)
    fit = benchmark.pedantic(
        method.run_once, args=(problem,), rounds=method.rounds, iterations=1, warmup_rounds=0
    )
    error = problem.rel_error(fit)
    reached = error <= method.target
    benchmark.extra_info.update(
        impl=method.name,
        settings=method.settings,
        rel_error=error,
        target=method.target,
        reached=reached,
    )
    median = benchmark_median(benchmark)
    if median is not None:
        summary.append(
            f"solution {n}x{d} {method.name}: {median:.3f} s, rel. error {error:.1e} "
            f"({'reached' if reached else 'missed'} {method.target:g})"
        )
    if method.direct:
        assert reached, f"{method.name}: relative error {error:.2e} > {method.target:g}"
