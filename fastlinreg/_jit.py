"""The @njit functions. No validation, no Python objects, no per-row allocation.

Callers (``fastlinreg.kernels``) guarantee: X is 2-D (n, d) float32/float64 in any
memory order; targets Y (n, k) of X's dtype with each column contiguous; weights
W (k, d) C-ordered float64; n >= 1. k = 1 is the tutorial's single target.

Every pass cuts the rows into ``n_blocks`` blocks of ``row_block`` rows (the last one
shorter). Block ``blk`` writes only ``partial_*[blk]``; the caller combines the partials in
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
    """pred[i] = X[start + i] @ w + b for i < m, in float64, in X's memory order.

    Column-major X is read column by column into the same four lanes, added in the same
    order, as :func:`_row_dot` uses: a row's prediction has the same bits whatever the
    layout (so predict(X[rows]) is predict(X)[rows] when X[rows] changes the order).
    """
    d = X.shape[1]
    if X.strides[0] >= X.strides[1]:
        for i in range(m):
            pred[i] = b + _row_dot(X, start + i, w, d)
        return
    lanes = np.zeros((4, m))
    full = d - d % 4  # columns from here on all go to lane 0, as in _row_dot
    for j in range(d):
        lane = j % 4 if j < full else 0
        wj = w[j]
        for i in range(m):
            lanes[lane, i] += X[start + i, j] * wj
    for i in range(m):
        pred[i] = b + ((lanes[0, i] + lanes[1, i]) + (lanes[2, i] + lanes[3, i]))


@njit(**JIT_OPTIONS)
def _residuals(y, start, sample_weight, weighted, scratch, m):
    """scratch[i] = s_i * (y[start + i] - scratch[i]), s_i the row's weight (1 if not
    ``weighted``); returns (sum s r², sum s r), in two interleaved lanes each."""
    sq0 = 0.0
    sq1 = 0.0
    rs0 = 0.0
    rs1 = 0.0
    i = 0
    while i + 2 <= m:
        r0 = y[start + i] - scratch[i]
        r1 = y[start + i + 1] - scratch[i + 1]
        s0 = sample_weight[start + i] if weighted else 1.0
        s1 = sample_weight[start + i + 1] if weighted else 1.0
        scratch[i] = s0 * r0
        scratch[i + 1] = s1 * r1
        sq0 += scratch[i] * r0
        sq1 += scratch[i + 1] * r1
        rs0 += scratch[i]
        rs1 += scratch[i + 1]
        i += 2
    if i < m:
        r0 = y[start + i] - scratch[i]
        s0 = sample_weight[start + i] if weighted else 1.0
        scratch[i] = s0 * r0
        sq0 += scratch[i] * r0
        rs0 += scratch[i]
    return sq0 + sq1, rs0 + rs1


@njit(**JIT_OPTIONS)
def _block_loss_grad(X, Y, W, b, sample_weight, weighted, start, stop, g_out, r_out, sweep_columns):
    """Fused pass over rows [start, stop) for all k targets at once.

    With r = y - (X w + b) the residual of each target and s the row weight (1 when not
    ``weighted``): returns sum s r² over rows and targets, writes sum s r (k,) to
    ``r_out`` and sum x s r (k, d) to ``g_out``, both float64 and overwritten.
    X is read once per row (row path) or once per target from L2 (column path).
    """
    d = X.shape[1]
    k = W.shape[0]
    m = stop - start
    sq_sum = 0.0
    if not sweep_columns:
        # Wide row-major X: each row is read from memory once; the gradient's second
        # loop over it hits L1.
        g_out[:, :] = 0.0
        r_out[:] = 0.0
        weighted_r = np.empty(k)
        for i in range(start, stop):
            s = sample_weight[i] if weighted else 1.0
            for t in range(k):
                r = Y[i, t] - (b[t] + _row_dot(X, i, W[t], d))
                weighted_r[t] = s * r
                sq_sum += weighted_r[t] * r
                r_out[t] += weighted_r[t]
            for t in range(k):
                for j in range(d):
                    g_out[t, j] += X[i, j] * weighted_r[t]
        return sq_sum
    # Narrow or column-major X: residuals of the block first, then the gradient as one
    # reduction per column. The block (_config.BLOCK_BYTES) is still in L2 for the
    # second sweep, and each column's reduction has its own accumulators instead of the
    # row loop's read-modify-write of g_out for every row (see _config.py).
    scratch = np.empty(m)
    for t in range(k):
        _block_forward(X, W[t], b[t], start, m, scratch)
        sq_t, r_out[t] = _residuals(Y[:, t], start, sample_weight, weighted, scratch, m)
        sq_sum += sq_t
        for j in range(d):
            g_out[t, j] = _column_dot(X, j, start, scratch, m)
    return sq_sum


@njit(**JIT_OPTIONS)
def loss_grad_partials_serial(
    X, Y, W, b, sample_weight, weighted, row_block, sweep_columns, partial_sq, partial_r, partial_g
):
    """Per-block partial sums, one block after the other.

    X (n, d); Y (n, k) of X's dtype; W (k, d) and b (k,) float64; sample_weight (n,)
    float64, read only when ``weighted``. Writes in place: partial_sq (n_blocks,),
    partial_r (n_blocks, k), partial_g (n_blocks, k, d), all float64.
    """
    n = X.shape[0]
    n_blocks = partial_sq.shape[0]
    for blk in range(n_blocks):
        start = blk * row_block
        stop = min(start + row_block, n)
        partial_sq[blk] = _block_loss_grad(
            X, Y, W, b, sample_weight, weighted, start, stop,
            partial_g[blk], partial_r[blk], sweep_columns,
        )  # fmt: skip


@njit(parallel=True, **JIT_OPTIONS)
def loss_grad_partials_parallel(
    X, Y, W, b, sample_weight, weighted, row_block, sweep_columns, partial_sq, partial_r, partial_g
):
    """The same as :func:`loss_grad_partials_serial`, blocks spread over threads.

    Each block writes only its own row of the partial arrays (no shared accumulator:
    numba issues #3681, #7133).
    """
    n = X.shape[0]
    n_blocks = partial_sq.shape[0]
    for blk in prange(n_blocks):
        start = blk * row_block
        stop = min(start + row_block, n)
        partial_sq[blk] = _block_loss_grad(
            X, Y, W, b, sample_weight, weighted, start, stop,
            partial_g[blk], partial_r[blk], sweep_columns,
        )  # fmt: skip


@njit(**JIT_OPTIONS)
def combine_partials(partial_sq, partial_r, partial_g, r_out, g_out):
    """Sum the partials in block order: returns sum s r²; writes sum s r to r_out (k,)
    and sum x s r to g_out (k, d)."""
    n_blocks, k, d = partial_g.shape
    sq_sum = 0.0
    r_out[:] = 0.0
    g_out[:, :] = 0.0
    for blk in range(n_blocks):
        sq_sum += partial_sq[blk]
        for t in range(k):
            r_out[t] += partial_r[blk, t]
            for j in range(d):
                g_out[t, j] += partial_g[blk, t, j]
    return sq_sum


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


@njit(**JIT_OPTIONS)
def centred_block(X, Y, sample_weight, weighted, out):
    """One block of rows for the precompute pass, centred and weighted, in one go.

    X (m, d) and Y (m, k) any float dtype and order, sample_weight (m,) float64 read
    only when ``weighted``. Writes out[i] = sqrt(s_i) * ([X Y][i] - mean) into
    ``out`` (m, d + k) float64; returns (mean (d + k,), sum of the weights).
    """
    m, d = X.shape
    k = Y.shape[1]
    sums = np.zeros(d + k)
    weight = 0.0
    for i in range(m):
        s = sample_weight[i] if weighted else 1.0
        weight += s
        for j in range(d):
            sums[j] += s * X[i, j]
        for t in range(k):
            sums[d + t] += s * Y[i, t]
    mean = sums / weight if weight > 0.0 else sums
    for i in range(m):
        root = np.sqrt(sample_weight[i]) if weighted else 1.0
        for j in range(d):
            out[i, j] = root * (X[i, j] - mean[j])
        for t in range(k):
            out[i, d + t] = root * (Y[i, t] - mean[d + t])
    return mean, weight


@njit(**JIT_OPTIONS)
def block_moments(X, Y, sums, cross, y_squares):
    """Column sums of [X Y] (d + k,), X'Y (d, k) and Y'Y (k, k) of one block, float64,
    overwritten. Written out rather than left to BLAS, whose dot and gemv split long
    sums over its threads (and so gave different bits in different threads)."""
    m, d = X.shape
    k = Y.shape[1]
    sums[:] = 0.0
    cross[:, :] = 0.0
    y_squares[:, :] = 0.0
    for i in range(m):
        for j in range(d):
            sums[j] += X[i, j]
        for t in range(k):
            y_t = Y[i, t]
            sums[d + t] += y_t
            for j in range(d):
                cross[j, t] += X[i, j] * y_t
            for u in range(k):
                y_squares[u, t] += Y[i, u] * y_t


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
