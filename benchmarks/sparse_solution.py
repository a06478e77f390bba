"""Time to the least-squares answer on sparse one-hot data: fastlinreg and its peers.

The problem: ``_common.one_hot(n, groups, levels)`` (every row holds one category of each
of ``groups`` categorical columns, drawn from a heavy-tailed distribution, one-hot
encoded without dropping a category, so that with the intercept X is rank deficient, as
``OneHotEncoder()``'s output is), y = X coef + 1 + noise. The coefficients of such an X
are not unique; its least-squares predictions are. The reference predictions come from
SciPy's ``lsqr`` on ``[X, 1]`` with atol = btol = 1e-14; a method reaches the target when
``max|pred - pred_ref| / max|pred_ref| <= 1e-6``.

Each method is fitted once (after a warm-up fit on the first 20,000 rows, so that no
compile time is counted) in this process, one after the other; its wall time and error
are printed and written to ``--out``::

    python -m benchmarks.sparse_solution --n 5000000 --out benchmarks/sparse_solution.json

At the default n = 5,000,000 and 10 x 50 categories, X is 5e7 stored entries (600 MB
with its indices); dense, it would be 20 GB, and scikit-learn's centred copy as much
again: more than the 24 GiB of the development machine.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import lsqr

from ._common import one_hot

TARGET = 1e-6


def make_problem(n: int, groups: int, levels: int):
    X = one_hot(n, groups, levels)
    rng = np.random.default_rng(1)
    y = X @ rng.standard_normal(X.shape[1]) + 1.0 + rng.standard_normal(n)
    with_ones = sp.hstack([X, np.ones((n, 1))], format="csr")
    solution = lsqr(with_ones, y, atol=1e-14, btol=1e-14, iter_lim=100_000)[0]
    return X, y, with_ones @ solution


def methods(sgd_cap_s: float):
    """(name, settings, make) for every method available here."""
    from sklearn.linear_model import LinearRegression as SkLinearRegression
    from sklearn.linear_model import Ridge

    from fastlinreg import LinearRegression

    found = [
        ("fastlinreg auto", "LinearRegression()", lambda: LinearRegression()),
        (
            "fastlinreg agd, passes",
            "LinearRegression(solver='agd', precompute=False)",
            lambda: LinearRegression(solver="agd", precompute=False),
        ),
        ("sklearn LinearRegression", "default (lsqr, tol=1e-6)", lambda: SkLinearRegression()),
        (
            "sklearn LinearRegression tol=1e-10",
            "LinearRegression(tol=1e-10)",
            lambda: SkLinearRegression(tol=1e-10),
        ),
        (
            "sklearn Ridge sparse_cg",
            "Ridge(alpha=1e-6, solver='sparse_cg', tol=1e-10)",
            lambda: Ridge(alpha=1e-6, solver="sparse_cg", tol=1e-10),
        ),
        (
            "sklearn SGDRegressor",
            f"SGDRegressor(alpha=0, tol=None), epochs until {sgd_cap_s:g} s",
            None,  # run by epochs, below
        ),
    ]
    try:
        from glum import GeneralizedLinearRegressor

        found.append(
            (
                "glum",
                "GeneralizedLinearRegressor(family='normal', alpha=0, gradient_tol=1e-12)",
                lambda: GeneralizedLinearRegressor(family="normal", alpha=0, gradient_tol=1e-12),
            )
        )
    except ImportError:
        pass
    return found


def _sgd(X, y, reference, cap_s):
    """SGDRegressor by epochs (partial_fit), until the target or cap_s seconds."""
    from sklearn.linear_model import SGDRegressor

    model = SGDRegressor(alpha=0.0, tol=None, random_state=0)
    started = time.perf_counter()
    epochs = 0
    error = np.inf
    while time.perf_counter() - started < cap_s:
        model.partial_fit(X, y)
        epochs += 1
        error = _error(model.predict(X), reference)
        if error <= TARGET:
            break
    return time.perf_counter() - started, error, epochs


def _error(predictions, reference) -> float:
    return float(np.max(np.abs(predictions - reference)) / np.max(np.abs(reference)))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5_000_000)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--levels", type=int, default=50)
    parser.add_argument("--sgd-cap", type=float, default=60.0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    from fastlinreg.bench import runtime_info

    X, y, reference = make_problem(args.n, args.groups, args.levels)
    dense_gb = X.shape[0] * X.shape[1] * 8 / 1e9
    print(
        f"X: {X.shape[0]:,} x {X.shape[1]}, {X.nnz:,} stored entries "
        f"({(X.data.nbytes + X.indices.nbytes) / 1e6:.0f} MB; dense {dense_gb:.1f} GB)"
    )
    rows = []
    for name, settings, make in methods(args.sgd_cap):
        if make is None:
            seconds, error, epochs = _sgd(X, y, reference, args.sgd_cap)
            settings = f"{settings} ({epochs} epochs)"
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                make().fit(X[:20_000], y[:20_000])  # compile and import outside the timing
                started = time.perf_counter()
                model = make().fit(X, y)
                seconds = time.perf_counter() - started
            error = _error(model.predict(X), reference)
        row = {
            "method": name,
            "settings": settings,
            "seconds": seconds,
            "rel_error": error,
            "reached": error <= TARGET,
        }
        rows.append(row)
        print(
            f"{name:36s} {seconds:8.2f} s  error {error:.1e}  "
            f"{'reached' if row['reached'] else 'NOT reached'}"
        )
    if args.out:
        result = {
            "n": X.shape[0],
            "d": X.shape[1],
            "nnz": int(X.nnz),
            "target": TARGET,
            "runtime": runtime_info(),
            "methods": rows,
        }
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
