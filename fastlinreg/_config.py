"""Every tuning knob of the kernels in one place: JIT flags, threading layer, blocks.

JIT_OPTIONS are read when ``fastlinreg._jit`` is imported; the block sizes and thresholds
by ``fastlinreg.kernels`` at each call (they are passed to the JIT code as arguments, so
the on-disk JIT cache never holds a stale value).
"""

from __future__ import annotations

import os
from typing import Any

import numba

from . import _jit_cache

# Only fast-math flags that neither break NaN/inf checks ("nnan"/"ninf" would silently
# disable the solvers' divergence detection) nor let LLVM reorder sums: with "reassoc"
# and "contract" the same block function, inlined into the serial and the parallel
# driver, was vectorized differently and the two disagreed in the last bit. The
# kernels get their speed from explicit interleaved partial sums instead (_jit.py).
FASTMATH_FLAGS = frozenset({"nsz", "arcp"})

# ``cache=True`` writes compiled machine code next to the sources (or to
# NUMBA_CACHE_DIR), so a second process does not recompile. ``nogil`` lets several
# Python threads run kernels at once.
# Any: numba's typed njit overloads cannot see through a ** of a dict[str, object].
JIT_OPTIONS: dict[str, Any] = {
    "cache": True,
    "nogil": True,
    "fastmath": set(FASTMATH_FLAGS),
    "error_model": "numpy",
}

# The cache must never break the library: see _jit_cache (NUMBA_DISABLE_JIT: njit returns
# plain Python functions and no cache is made).
if not numba.config.DISABLE_JIT:  # type: ignore[attr-defined]
    JIT_OPTIONS["cache"] = _jit_cache.usable()

# Each block of rows writes its own partial sums; blocks are combined in block order.
# A block holds about BLOCK_BYTES of X so that the column-major path (which reads a
# block twice) finds it in L2 on the second read, and so that there are enough blocks
# for prange to balance. The decomposition depends only on (n_samples, n_features),
# never on the thread count: that is what makes serial and parallel bit-identical.
BLOCK_BYTES = 256 * 1024
MIN_ROWS_PER_BLOCK = 16
MAX_ROWS_PER_BLOCK = 16384

# Row-major X with at most this many columns is processed as "residuals of the block,
# then one reduction per column"; wider X row by row. Measured while the kernels still
# let LLVM reassociate: d=10 32 vs 41 ms, d=30 42 vs 25 ms per 256 MB epoch (serial).
# Without reassociation the two are within noise at d=2 and d=10: worth re-measuring.
COLUMN_SWEEP_MAX_FEATURES = 16

# parallel=None runs the parallel kernel when X has at least this many elements.
# Measured with benchmarks/bench_threshold.py: parallel wins from 2**17 elements at
# d=10 and d=100 (2**16 at d=2), about four blocks.
PARALLEL_MIN_ELEMENTS = 1 << 17

# numba's default "workqueue" layer aborts the process when two Python threads enter
# a parallel region at once (numba issue #7133, and Dask's threaded scheduler does
# exactly that). "threadsafe" picks TBB, else OpenMP. A user's NUMBA_THREADING_LAYER wins.
THREADING_LAYER = "threadsafe"
if "NUMBA_THREADING_LAYER" not in os.environ:
    # numba.config fills its attributes at import time; its stubs do not list them.
    numba.config.THREADING_LAYER = THREADING_LAYER  # type: ignore[attr-defined]


def rows_per_block(n_features: int) -> int:
    """Rows in one block for X with ``n_features`` columns (itemsize taken as 8)."""
    rows = BLOCK_BYTES // (8 * max(n_features, 1))
    return int(min(MAX_ROWS_PER_BLOCK, max(MIN_ROWS_PER_BLOCK, rows)))


# The precompute pass (fastlinreg.sources.precomputed) reads X in blocks of about this many
# bytes of [X Y] in float64 (at least 2 rows per column). Measured at 2,000,000 x 20
# (one thread): 2048 rows 0.19 s, 4096 rows 0.145 s, 16384 rows 0.112 s, 65536 rows
# 0.106 s; fewer, larger blocks mean fewer Python-level steps per pass. The block
# layout, not the thread count, fixes the result.
FACTOR_BLOCK_BYTES = 4 * 1024 * 1024


def rows_per_factor_block(n_columns: int) -> int:
    """Rows in one block of the precompute pass over [X Y] with ``n_columns`` columns."""
    return max(FACTOR_BLOCK_BYTES // (8 * n_columns), 2 * n_columns)
