"""Every tuning knob of the kernels in one place: JIT flags, threading layer, blocks.

JIT_OPTIONS are read when ``fastlinreg._jit`` is imported; the block sizes and thresholds
by ``fastlinreg.kernels`` and the sources at each call (they are passed to the JIT code as
arguments, so the on-disk JIT cache never holds a stale value). The measurements behind
the values: docs/design.md, Measurements.

This module does not import numba: importing it and setting up its compiler cost a
process 0.6-0.9 s, which a fit small enough for NumPy never pays
(``NUMPY_MAX_ELEMENTS``). The two modules of kernels call :func:`configure_numba` first.
"""

from __future__ import annotations

import os
from typing import Any

# No "nnan"/"ninf" (they would drop the solvers' divergence checks) and no "reassoc"/
# "contract": with them LLVM chooses the order of a sum anew in each compiled context,
# and a serial and a parallel driver, or a fresh compile and the on-disk cache,
# disagreed in the last bit (docs/design.md, bit-reproducibility).
FASTMATH_FLAGS = frozenset({"nsz", "arcp"})

# cache: a second process loads the compiled kernels instead of compiling them again
# (unless configure_numba finds no usable cache); nogil: several Python threads run
# kernels at once.
# Any: numba's typed njit overloads cannot see through a ** of a dict[str, object].
JIT_OPTIONS: dict[str, Any] = {
    "cache": True,
    "nogil": True,
    "fastmath": set(FASTMATH_FLAGS),
    "error_model": "numpy",
}

# numba's default "workqueue" layer aborts when two Python threads enter a parallel
# region (numba #7133; Dask's threaded scheduler does): TBB, else OpenMP. A user's
# NUMBA_THREADING_LAYER wins.
THREADING_LAYER = "threadsafe"


def configure_numba() -> None:
    """Import numba and prepare it for the kernels: the thread-safe threading layer, and
    the on-disk cache only where it can never break the library (see _jit_cache;
    NUMBA_DISABLE_JIT: njit returns plain Python functions and no cache is made).
    Called by ``_jit`` and ``_jit_sparse`` before they define a kernel; idempotent."""
    import numba

    from . import _jit_cache

    if "NUMBA_THREADING_LAYER" not in os.environ:
        # numba.config fills its attributes at import time; its stubs do not list them.
        numba.config.THREADING_LAYER = THREADING_LAYER  # type: ignore[attr-defined]
    if not numba.config.DISABLE_JIT:  # type: ignore[attr-defined]
        JIT_OPTIONS["cache"] = _jit_cache.usable()


# Blocks of about BLOCK_BYTES of X: the second read of a column-major block finds it in
# L2, and prange has enough blocks to balance. The layout depends on the shape only, never
# on the thread count: that makes serial and parallel bit-identical (docs/design.md).
BLOCK_BYTES = 256 * 1024
MIN_ROWS_PER_BLOCK = 16
MAX_ROWS_PER_BLOCK = 16384

# Row-major X from this width: each row's prediction in four interleaved lanes over its
# columns (as predict sums it; one vector when the row is contiguous, _jit._row_lanes);
# narrower X: one chain per row, four rows at a time (four independent chains in one
# loop, where lanes are a call per row). With vector lanes, chains were 1.2-2.7x faster
# up to 32 columns and lanes 1.03-1.9x faster from 40, in both dtypes (docs/design.md,
# Measurements).
ROW_LANES_MIN_FEATURES = 40

# parallel=None runs the parallel kernel from this many elements of X, where it starts
# to win (benchmarks/bench_threshold.py; docs/design.md, Measurements).
PARALLEL_MIN_ELEMENTS = 1 << 17

# X (or a block of the precompute pass) of at most this many elements is predicted, and
# its moments summed, by the NumPy twins of those kernels (fastlinreg._numpy_twins: the
# same sums in the same order, the same bits): a fit and predict of such data never
# import numba, which costs a new process 0.6-0.9 s once. Up to here the twins cost a
# fit at most about 0.5 ms more than the kernels; at 2**16, up to 9 ms (docs/design.md,
# Measurements: benchmarks/bench_numpy_twins.py).
NUMPY_MAX_ELEMENTS = 1 << 14


def rows_per_block(n_features: int) -> int:
    """Rows in one block for X with ``n_features`` columns (itemsize taken as 8)."""
    rows = BLOCK_BYTES // (8 * max(n_features, 1))
    return int(min(MAX_ROWS_PER_BLOCK, max(MIN_ROWS_PER_BLOCK, rows)))


# The precompute pass reads [X Y] in blocks of about this many bytes of float64 (at least
# 2 rows per column): fewer, larger blocks mean fewer Python-level steps per pass
# (benchmarks/bench_factor_pass.py). The layout, not the thread count, fixes the result.
FACTOR_BLOCK_BYTES = 4 * 1024 * 1024


# Blocks of X with at most this many columns sum their moments (column sums, X'Y, Y'Y)
# column by column (fastlinreg._jit.narrow_block_moments), wider ones row by row
# (block_moments): the same sums, the same bits; each is the faster on its side (docs/
# design.md, Measurements).
NARROW_MOMENTS_MAX_FEATURES = 3


def rows_per_factor_block(n_columns: int) -> int:
    """Rows in one block of the precompute pass over [X Y] with ``n_columns`` columns."""
    return max(FACTOR_BLOCK_BYTES // (8 * n_columns), 2 * n_columns)


# Sparse (CSR) passes cut the rows into blocks of about SPARSE_BLOCK_WORK units of work,
# a unit being a stored entry or a row (a row costs its targets even when empty): blocks
# balanced by non-zeros, not rows, so that a few dense rows do not leave a thread
# working alone. Each block keeps a partial gradient of k * d numbers, so at most
# SPARSE_PARTIALS_BYTES of them are made (fewer, longer blocks for very wide X). Both
# depend on the matrix only, never on the thread count. A design choice, not tuned.
SPARSE_BLOCK_WORK = 1 << 15
SPARSE_PARTIALS_BYTES = 64 * 1024 * 1024
# The Gram matrix's pass keeps a (d + k)² matrix per block: fewer of them (its rows cost
# their entries squared, so its blocks are no less balanced for being longer).
SPARSE_GRAM_PARTIALS_BYTES = 8 * 1024 * 1024


# A sparse pass whose per-block partial gradient (8 * d * k bytes) is at least this sums
# the gradient down the columns of a CSC copy of X instead (kernels.csc_columns: X's
# stored entries again in memory), its rows' pass storing each row's residual: beyond
# the caches, scattering into a partial per block costs more than gathering the
# residuals. 1.6-1.7x faster at 1,000,000 x 1,000,000 with 19 entries a row; from 0.87x
# to 1.4x between 100,000 and 200,000 columns, by the entries per row; 0.2x at 1,000
# columns (docs/design.md, Measurements, sparse X). Set where it won in every run.
SPARSE_COLUMNS_MIN_PARTIAL_BYTES = 4 * 1024 * 1024


def sparse_gradient_by_columns(n_features: int, n_targets: int) -> bool:
    """Whether a whole sparse source sums its gradient down the columns (above)."""
    return 8 * n_features * n_targets >= SPARSE_COLUMNS_MIN_PARTIAL_BYTES
