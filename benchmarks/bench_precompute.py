"""How many epochs one precompute pass costs, by width: the basis of precompute="auto".

    python benchmarks/bench_precompute.py

For X of 2**24 float64 elements (128 MiB) and several widths, prints the median time of
one epoch (``kernels.loss_grad``, parallel), of the factor pass
(``factor.triangular_factor``) and their ratio: the number of epochs after which
precomputing has paid for itself.
"""

from __future__ import annotations

import numpy as np
from _common import median_time

from conftest import runtime_info
from fastlinreg import kernels
from fastlinreg.sources import InMemorySource
from fastlinreg.sources._factor import triangular_factor


def main():
    print(runtime_info())
    rng = np.random.default_rng(0)
    print("| n x d | epoch ms | factor ms | factor / epoch |")
    print("|---|---|---|---|")
    for d in (10, 20, 100, 300, 511, 1000):
        n = (1 << 24) // d
        X = rng.standard_normal((n, d))
        y = rng.standard_normal(n)
        w = rng.standard_normal(d)
        source = InMemorySource(X, y[:, None])
        epoch = median_time(lambda: kernels.loss_grad(X, y, w, 0.0), 7)  # noqa: B023
        factor = median_time(lambda: triangular_factor(source), 3)  # noqa: B023
        print(f"| {n} x {d} | {epoch * 1e3:.1f} | {factor * 1e3:.1f} | {factor / epoch:.1f} |")


if __name__ == "__main__":
    main()
