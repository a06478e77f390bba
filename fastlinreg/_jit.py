"""The @njit functions. No validation, no Python objects, no per-row allocation.

Callers (``fastlinreg.kernels``) guarantee: X is 2-D (n, d) float32/float64 in any
memory order, y is 1-D (n,) of X's dtype, w is 1-D (d,) float64, n >= 1.

Every pass cuts the rows into ``n_blocks`` blocks of ``row_block`` rows (the last one
shorter). Block ``k`` writes only ``partial_*[k]``; the caller combines the partials in
block order. The serial and parallel drivers run the very same block function, so
their results are bit-for-bit identical for every thread count.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._config import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def _row_dot(X, i, w, d):
    """sum_j X[i, j] * w[j] as four interleaved partial sums.

    The order of additions is written out, so the result never depends on how LLVM
    vectorizes (we do not allow it to reassociate: that made serial and parallel
    differ in the last bit), and four independent chains run ~4x faster than one.
    """
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    j = 0
    while j + 4 <= d:
        a0 += X[i, j] * w[j]
        a1 += X[i, j + 1] * w[j + 1]
        a2 += X[i, j + 2] * w[j + 2]
        a3 += X[i, j + 3] * w[j + 3]
        j += 4
    while j < d:
        a0 += X[i, j] * w[j]
        j += 1
    return (a0 + a1) + (a2 + a3)


@njit(**JIT_OPTIONS)
def _column_dot(X, j, start, v, m):
    """sum_i X[start + i, j] * v[i] for i < m, as four interleaved partial sums."""
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    i = 0
    while i + 4 <= m:
        a0 += X[start + i, j] * v[i]
        a1 += X[start + i + 1, j] * v[i + 1]
        a2 += X[start + i + 2, j] * v[i + 2]
        a3 += X[start + i + 3, j] * v[i + 3]
        i += 4
    while i < m:
        a0 += X[start + i, j] * v[i]
        i += 1
    return (a0 + a1) + (a2 + a3)


@njit(**JIT_OPTIONS)
def _block_forward(X, w, b, start, m, pred):
    """pred[i] = X[start + i] @ w + b for i < m, in float64, in X's memory order."""
    d = X.shape[1]
    if X.strides[0] >= X.strides[1]:
        for i in range(m):
            pred[i] = b + _row_dot(X, start + i, w, d)
    else:
        for i in range(m):
            pred[i] = b
        for j in range(d):
            wj = w[j]
            for i in range(m):
                pred[i] += X[start + i, j] * wj


@njit(**JIT_OPTIONS)
def _residuals(y, start, scratch, m):
    """scratch[i] = y[start + i] - scratch[i]; returns (sum r², sum r) in two lanes each."""
    sq0 = 0.0
    sq1 = 0.0
    rs0 = 0.0
    rs1 = 0.0
    i = 0
    while i + 2 <= m:
        r0 = y[start + i] - scratch[i]
        r1 = y[start + i + 1] - scratch[i + 1]
        scratch[i] = r0
        scratch[i + 1] = r1
        sq0 += r0 * r0
        sq1 += r1 * r1
        rs0 += r0
        rs1 += r1
        i += 2
    if i < m:
        r0 = y[start + i] - scratch[i]
        scratch[i] = r0
        sq0 += r0 * r0
        rs0 += r0
    return sq0 + sq1, rs0 + rs1


@njit(**JIT_OPTIONS)
def _block_loss_grad(X, y, w, b, start, stop, g_out, scratch, sweep_columns):
    """Fused pass over rows [start, stop): returns (sum r², sum r), writes sum x r to g_out.

    r = y - (X w + b) is the residual; ``g_out`` (d,) float64 is overwritten.
    ``scratch`` (>= stop - start,) float64 holds the block's residuals when
    ``sweep_columns`` is true.
    """
    d = X.shape[1]
    sq_sum = 0.0
    r_sum = 0.0
    if not sweep_columns:
        # Wide row-major X: each row is read from memory once; the second loop over it
        # (the gradient) hits L1.
        for j in range(d):
            g_out[j] = 0.0
        for i in range(start, stop):
            r = y[i] - (b + _row_dot(X, i, w, d))
            sq_sum += r * r
            r_sum += r
            for j in range(d):
                g_out[j] += X[i, j] * r
        return sq_sum, r_sum
    # Narrow or column-major X: residuals of the block first, then the gradient as one
    # reduction per column. The block (_config.BLOCK_BYTES) is still in L2 for the
    # second sweep, and each column's reduction has its own accumulators instead of the
    # row loop's read-modify-write of g_out for every row (see _config.py).
    m = stop - start
    _block_forward(X, w, b, start, m, scratch)
    sq_sum, r_sum = _residuals(y, start, scratch, m)
    for j in range(d):
        g_out[j] = _column_dot(X, j, start, scratch, m)
    return sq_sum, r_sum


@njit(**JIT_OPTIONS)
def loss_grad_partials_serial(
    X, y, w, b, row_block, sweep_columns, partial_sq, partial_r, partial_g
):
    """Per-block partial sums, one block after the other.

    Writes in place: partial_sq (n_blocks,), partial_r (n_blocks,),
    partial_g (n_blocks, d), all float64.
    """
    n = X.shape[0]
    n_blocks = partial_sq.shape[0]
    for k in range(n_blocks):
        start = k * row_block
        stop = min(start + row_block, n)
        # Allocated per block as in the parallel driver: the same code in both.
        scratch = np.empty(stop - start)
        partial_sq[k], partial_r[k] = _block_loss_grad(
            X, y, w, b, start, stop, partial_g[k], scratch, sweep_columns
        )


@njit(parallel=True, **JIT_OPTIONS)
def loss_grad_partials_parallel(
    X, y, w, b, row_block, sweep_columns, partial_sq, partial_r, partial_g
):
    """The same as :func:`loss_grad_partials_serial`, blocks spread over threads.

    Each block writes only its own row of the partial arrays (no shared accumulator:
    numba issues #3681, #7133).
    """
    n = X.shape[0]
    n_blocks = partial_sq.shape[0]
    for k in prange(n_blocks):
        start = k * row_block
        stop = min(start + row_block, n)
        scratch = np.empty(stop - start)
        partial_sq[k], partial_r[k] = _block_loss_grad(
            X, y, w, b, start, stop, partial_g[k], scratch, sweep_columns
        )


@njit(**JIT_OPTIONS)
def combine_partials(partial_sq, partial_r, partial_g, g_out):
    """Sum the partials in block order: returns (sum r², sum r); writes sum x r to g_out."""
    n_blocks, d = partial_g.shape
    sq_sum = 0.0
    r_sum = 0.0
    for j in range(d):
        g_out[j] = 0.0
    for k in range(n_blocks):
        sq_sum += partial_sq[k]
        r_sum += partial_r[k]
        for j in range(d):
            g_out[j] += partial_g[k, j]
    return sq_sum, r_sum


@njit(**JIT_OPTIONS)
def _block_predict(X, w, b, start, stop, out):
    # Accumulate in float64 even when out is float32.
    m = stop - start
    pred = np.empty(m)
    _block_forward(X, w, b, start, m, pred)
    for i in range(m):
        out[start + i] = pred[i]


@njit(**JIT_OPTIONS)
def predict_serial(X, w, b, row_block, out):
    """out[i] = X[i] @ w + b, written in place into out (n,) of any float dtype."""
    n = X.shape[0]
    n_blocks = (n + row_block - 1) // row_block
    for k in range(n_blocks):
        start = k * row_block
        _block_predict(X, w, b, start, min(start + row_block, n), out)


@njit(parallel=True, **JIT_OPTIONS)
def predict_parallel(X, w, b, row_block, out):
    """The same as :func:`predict_serial`, blocks spread over threads."""
    n = X.shape[0]
    n_blocks = (n + row_block - 1) // row_block
    for k in prange(n_blocks):
        start = k * row_block
        _block_predict(X, w, b, start, min(start + row_block, n), out)


# The bound may reorder its additions (its value is irrelevant), so LLVM vectorizes it
# fully and it reads at memory speed.
@njit(parallel=True, **{**JIT_OPTIONS, "fastmath": {"reassoc", "contract", "nsz", "arcp"}})
def streaming_sum(flat, block):
    """Sum of a 1-D array, in parallel blocks: the cost of reading it once from memory.

    The benchmarks time it on a flat view of X as the streaming-read bound of an epoch.
    """
    n = flat.shape[0]
    n_blocks = (n + block - 1) // block
    partial = np.zeros(n_blocks)
    for k in prange(n_blocks):
        # Accumulate in flat's own dtype so that float32 is read at float32 speed.
        start = k * block
        acc = flat[start]
        for i in range(start + 1, min(start + block, n)):
            acc += flat[i]
        partial[k] = acc
    return partial.sum()
