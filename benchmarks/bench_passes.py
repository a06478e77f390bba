"""How many passes over X a fit on passes (``precompute=False``) makes, and of which kind.

    python benchmarks/bench_passes.py [--n 2000000] [--d 20]

On ``make_regression(n, d, noise=10, random_state=0)`` (the time-to-solution problem of
``benchmarks/solution_time.py``) fits ``LinearRegression(solver=..., precompute=False)``
for gd and agd and counts the calls of ``InMemorySource.loss_grad`` (the epochs, and
the checks around them) and of ``InMemorySource.hessian_vector`` (finding the largest
curvature L, by Lanczos beyond 8 parameters). Counts, not times: the same on every
machine. About 20 s at the default size (X is 320 MB).
"""

from __future__ import annotations

import argparse
import contextlib
from collections import Counter

from sklearn.datasets import make_regression

from fastlinreg import LinearRegression
from fastlinreg.sources import InMemorySource

COUNTED = ("loss_grad", "hessian_vector")


@contextlib.contextmanager
def counting(calls: Counter):
    """Count every call of the COUNTED methods of InMemorySource meanwhile."""
    saved = {name: getattr(InMemorySource, name) for name in COUNTED}

    def counted(name):
        method = saved[name]

        def wrapper(self, *args, **kwargs):
            calls[name] += 1
            return method(self, *args, **kwargs)

        return wrapper

    for name in COUNTED:
        setattr(InMemorySource, name, counted(name))
    try:
        yield
    finally:
        for name, method in saved.items():
            setattr(InMemorySource, name, method)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2_000_000)
    parser.add_argument("--d", type=int, default=20)
    args = parser.parse_args()
    X, y = make_regression(n_samples=args.n, n_features=args.d, noise=10, random_state=0)
    print(f"make_regression({args.n} x {args.d}, noise=10, random_state=0), precompute=False")
    print("| solver | epochs (n_iter_) | loss_grad passes | hessian_vector passes |")
    print("|---|---:|---:|---:|")
    for solver in ("gd", "agd"):
        calls: Counter = Counter()
        with counting(calls):
            model = LinearRegression(solver=solver, precompute=False).fit(X, y)
        print(f"| {solver} | {model.n_iter_} | {calls['loss_grad']} | {calls['hessian_vector']} |")


if __name__ == "__main__":
    main()
