"""Where a sparse pass should sum its gradient down the columns: the threshold
``_config.SPARSE_COLUMNS_MIN_PARTIAL_BYTES``.

For each shape (rows, columns, entries a row; uniformly random entries, float64), the
median parallel epoch of ``kernels.csr_loss_grad`` both ways, interleaved in one run:
"fused" (one pass over the rows, a partial gradient per block) and "columns" (the rows'
residuals, then the gradient gathered down the columns of a CSC copy), with the time to
make that copy (``kernels.csc_columns``, once per fit) and which way ``SparseSource``
takes. About 2 minutes and 3 GB of memory with the default shapes.

``--fit N,D,PER_ROW`` times instead the default ``LinearRegression().fit`` on such
an X (y = X coef + 2 + noise) both ways, one fit each (about a minute at
300000,1048576,30: hashed features over 2**20 columns).

Usage::

    python -m benchmarks.bench_sparse_columns [--repeat 7] [N,D,PER_ROW ...]
    python -m benchmarks.bench_sparse_columns --fit 300000,1048576,30
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from fastlinreg import _config, kernels

from ._common import random_rows

SHAPES = (
    (10_000_000, 1_000, 9),
    (1_000_000, 100_000, 99),
    (1_000_000, 131_072, 19),
    (1_000_000, 200_000, 19),
    (1_000_000, 1_000_000, 19),
    (4_000_000, 1_000_000, 5),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("shapes", nargs="*", help="N,D,PER_ROW (default: a grid)")
    parser.add_argument("--fit", metavar="N,D,PER_ROW", help="time default fits instead")
    args = parser.parse_args()
    if args.fit:
        fits(*map(int, args.fit.split(",")))
        return
    shapes = [tuple(map(int, s.split(","))) for s in args.shapes] or SHAPES
    print("| n | d | entries / row | fused ms | columns ms | fused / columns | copy s | taken |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    for n, d, per_row in shapes:
        X = random_rows(n, d, per_row)
        y = np.random.default_rng(1).standard_normal(n)
        w = np.random.default_rng(2).standard_normal(d) / np.sqrt(per_row)
        started = time.perf_counter()
        columns = kernels.csc_columns(X)
        copy_s = time.perf_counter() - started
        starts = kernels.csr_block_starts(X.indptr, d, 1)
        ways = {"fused": None, "columns": columns}
        times: dict[str, list[float]] = {way: [] for way in ways}
        for _ in range(args.repeat + 1):  # the first round warms up, untimed
            for way, cols in ways.items():
                started = time.perf_counter()
                kernels.csr_loss_grad(X, y, w, 0.5, parallel=True, block_starts=starts,
                                      columns=cols)  # fmt: skip
                times[way].append(time.perf_counter() - started)
        fused, by_columns = (statistics.median(times[way][1:]) for way in ways)
        taken = "columns" if _config.sparse_gradient_by_columns(d, 1) else "fused"
        print(f"| {n:,} | {d:,} | {per_row} | {fused * 1e3:.1f} | {by_columns * 1e3:.1f} | "
              f"{fused / by_columns:.2f} | {copy_s:.2f} | {taken} |", flush=True)  # fmt: skip


def fits(n: int, d: int, per_row: int) -> None:
    from fastlinreg import LinearRegression

    X = random_rows(n, d, per_row, seed=3)
    rng = np.random.default_rng(0)
    y = X @ rng.standard_normal(d) + 2.0 + 0.1 * rng.standard_normal(n)
    threshold = _config.SPARSE_COLUMNS_MIN_PARTIAL_BYTES
    models = {}
    for way, limit in (("columns", 8), ("fused", 1 << 62)):
        _config.SPARSE_COLUMNS_MIN_PARTIAL_BYTES = limit  # forced either way
        started = time.perf_counter()
        models[way] = LinearRegression().fit(X, y)
        seconds = time.perf_counter() - started
        print(f"{way}: {seconds:.2f} s, {models[way].solver_}, {models[way].n_iter_} epochs")
    _config.SPARSE_COLUMNS_MIN_PARTIAL_BYTES = threshold
    difference = np.max(np.abs(models["columns"].coef_ - models["fused"].coef_))
    print(f"largest coefficient difference {difference:.2e}; by default: "
          f"{'columns' if _config.sparse_gradient_by_columns(d, 1) else 'fused'}")  # fmt: skip


if __name__ == "__main__":
    main()
