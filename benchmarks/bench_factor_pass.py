"""The precompute pass's tuning choices, each timed against its alternative.

    python benchmarks/bench_factor_pass.py [--n 2000000] [--d 20] [--repeat 3]

On standard-normal X (n, d) float64 and one target, times
``factor.triangular_factor`` (the pass behind ``precompute`` and ``"exact"``):

1. block size (``_config.FACTOR_BLOCK_BYTES``) at 2048, 4096, 16384, 65536 rows and the
   default, one thread;
2. blocks merged at once (``tsqr.MERGE_BLOCKS``): 1 (two factors per QR) and
   the default, one thread;
3. the block factor's route, one thread: the Gram matrix of the block as it lies
   (the default for centred float64 data), the Gram matrix of a centred copy, and
   Householder QR of the centred copy (the fallback for ill-conditioned blocks);
4. with numba's threads (``parallel=True``): BLAS held to one thread during the pass
   (the default) and BLAS left at its own thread count;
5. fixed costs: finding the BLAS libraries (``threadpoolctl.ThreadpoolController()``)
   and starting a thread pool for one block.

Each row is the median of ``--repeat`` passes after one untimed pass. Results are the
same factor to rounding on every route (tests/test_precompute.py); this measures time
only. About 40 s at the default size (X is 320 MB).
"""

from __future__ import annotations

import argparse
import contextlib
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import numpy as np
from _common import median_time
from threadpoolctl import ThreadpoolController

from fastlinreg import _config
from fastlinreg.sources import InMemorySource
from fastlinreg.sources import _factor as factor
from fastlinreg.sources import _tsqr as tsqr


def no_gram(X, Y):
    """Stands in for ``tsqr._gram_without_copy``: never usable (a centred copy)."""
    return None, None, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2_000_000)
    parser.add_argument("--d", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.n, args.d))
    Y = rng.standard_normal((args.n, 1))
    serial = InMemorySource(X, Y, parallel=False)
    threaded = InMemorySource(X, Y, parallel=True)
    columns = args.d + 1
    default_rows = _config.rows_per_factor_block(columns)

    def timed(source=serial):
        return median_time(lambda: factor.triangular_factor(source), args.repeat)

    rows: list[tuple[str, float]] = []
    for block_rows in (2048, 4096, 16384, 65536, default_rows):
        with mock.patch.object(_config, "FACTOR_BLOCK_BYTES", block_rows * 8 * columns):
            label = "default, " if block_rows == default_rows else ""
            rows.append((f"1. blocks of {block_rows} rows ({label}one thread)", timed()))
    for merge in (1, tsqr.MERGE_BLOCKS):
        rows.append((f"2. MERGE_BLOCKS = {merge} (one thread)", _with_merge(merge, timed)))
    rows.append(("3. Gram of the block as it lies (default, one thread)", timed()))
    with mock.patch.object(tsqr, "_gram_without_copy", no_gram):
        rows.append(("3. Gram of a centred copy (one thread)", timed()))
        with mock.patch.object(tsqr, "CHOLESKY_MAX_CONDITION", 0.0):
            rows.append(("3. Householder QR of a centred copy (one thread)", timed()))
    rows.append(("4. numba's threads, BLAS at one thread (default)", timed(threaded)))
    with mock.patch.object(tsqr, "single_threaded_blas", contextlib.nullcontext):
        rows.append(("4. numba's threads, BLAS at its own thread count", timed(threaded)))
    rows.append(("5. ThreadpoolController()", median_time(ThreadpoolController, 5)))
    rows.append(("5. a 2-thread pool for one block", median_time(_one_block_pool, 5)))

    print(f"X {args.n} x {args.d} float64, one target; median of {args.repeat}")
    print("| pass | ms |")
    print("|---|---:|")
    for label, seconds in rows:
        print(f"| {label} | {seconds * 1e3:.1f} |")


def _with_merge(merge, timed):
    with mock.patch.object(tsqr, "MERGE_BLOCKS", merge):
        return timed()


def _one_block_pool():
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(abs, [0.0]))


if __name__ == "__main__":
    main()
