"""The @njit functions over CSR matrices: the fused epoch, predict and column moments
(and, for very wide X, the gradient summed down the columns of a CSC copy).

Like ``fastlinreg._jit`` they trust their arguments, and only ``fastlinreg.kernels``
(``csr_loss_grad``, ``csr_predict``) and ``fastlinreg.sources.sparse`` (the column
moments of feature scaling) call them. A CSR matrix arrives as its three arrays: row i
holds ``data[p]`` at column ``indices[p]`` for p in ``indptr[i]:indptr[i + 1]``
(``indptr[0]`` need not be 0: a row slice is a view of ``indptr``, the other two are
shared). data is float32 or float64, indices and indptr int32 or int64 (numba compiles
each combination once), or None where every stored value is 1 (a binary X: one-hot
and binary features): the passes over rows and columns and the Gram pass then read the
indices alone, with the same bits (1 x v = v exactly).

The rows are cut into blocks by ``block_starts`` (fixed by the matrix, never by the
thread count: ``fastlinreg.kernels.csr_block_starts``); block ``blk`` writes only
``partial_*[blk]`` and the caller adds the partials in block order, so a pass gives the
same bits on any number of threads (docs/design.md, bit-reproducibility). Within a row
the order of every sum is written out (four lanes: ``_row_dot``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from ._config import JIT_OPTIONS, configure_numba

configure_numba()

# Entries are addressed with unsigned integers: numba then drops the wraparound of
# negative indices, a compare and select on every gather and scatter.
_ONE = np.uint64(1)
_TWO = np.uint64(2)
_THREE = np.uint64(3)
_FOUR = np.uint64(4)


def _value(data, p):
    """X's stored value at p: data[p], or 1.0 where data is None (a binary X)."""
    return 1.0 if data is None else data[p]


@overload(_value, inline="always")
def _compiled_value(data, p):
    # Chosen by data's type when numba compiles: a binary X's kernels never load a value.
    if isinstance(data, types.NoneType):
        return lambda data, p: 1.0
    return lambda data, p: data[p]


@njit(**JIT_OPTIONS)
def csr_block_cuts(indptr, n_blocks, starts):
    """starts[b] = the first row i whose work before it, (indptr[i] - indptr[0]) + i,
    reaches b * total // n_blocks (total: the work of all rows), for b in [0, n_blocks);
    starts[n_blocks] = n. The work before row i grows strictly with i, so each cut is a
    binary search: about 24 reads of indptr per block, where a walk over all n rows
    took 22 ms at 10 million rows, paid by every sparse predict call."""
    n = indptr.shape[0] - 1
    first = indptr[0]
    total = (indptr[n] - first) + n
    starts[0] = 0
    lo = 0
    for blk in range(1, n_blocks):
        cut = blk * total // n_blocks
        hi = n  # the work before row n is total >= cut
        while lo < hi:  # the first i in [lo, hi] with work >= cut
            mid = (lo + hi) // 2
            if (indptr[mid] - first) + mid >= cut:
                hi = mid
            else:
                lo = mid + 1
        starts[blk] = lo
    starts[n_blocks] = n


@njit(inline="always", **JIT_OPTIONS)
def _row_dot(data, indices, start, stop, w):
    """sum_p _value(data, p) * w[indices[p]] over p in [start, stop) (uint64), as four
    interleaved partial sums added as (a0 + a1) + (a2 + a3): the order is written out,
    so no compiled context changes a bit, and four gathers are in flight at once."""
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    p = start
    while p + _FOUR <= stop:
        a0 += _value(data, p) * w[np.uint64(indices[p])]
        a1 += _value(data, p + _ONE) * w[np.uint64(indices[p + _ONE])]
        a2 += _value(data, p + _TWO) * w[np.uint64(indices[p + _TWO])]
        a3 += _value(data, p + _THREE) * w[np.uint64(indices[p + _THREE])]
        p += _FOUR
    while p < stop:
        a0 += _value(data, p) * w[np.uint64(indices[p])]
        p += _ONE
    return (a0 + a1) + (a2 + a3)


@njit(inline="always", **JIT_OPTIONS)
def _row_scatter(data, indices, start, stop, value, g):
    """g[indices[p]] += _value(data, p) * value over p in [start, stop) (uint64), in order.

    Four entries' indices and products are loaded before their four updates: the CPU
    may not load the next entry before it knows the address of the last update, and
    one update at a time took 2.5x as long (one ad-hoc run here). Each update still
    happens in entry order, so duplicates add up as they would one by one."""
    p = start
    while p + _FOUR <= stop:
        j0 = np.uint64(indices[p])
        j1 = np.uint64(indices[p + _ONE])
        j2 = np.uint64(indices[p + _TWO])
        j3 = np.uint64(indices[p + _THREE])
        v0 = _value(data, p) * value
        v1 = _value(data, p + _ONE) * value
        v2 = _value(data, p + _TWO) * value
        v3 = _value(data, p + _THREE) * value
        g[j0] += v0
        g[j1] += v1
        g[j2] += v2
        g[j3] += v3
        p += _FOUR
    while p < stop:
        g[np.uint64(indices[p])] += _value(data, p) * value
        p += _ONE


@njit(parallel=True, **JIT_OPTIONS)
def csr_loss_grad_partials(
    data, indices, indptr, Y, W, b, sample_weight, weighted, block_starts,
    partial_sq, partial_r, partial_g,
):  # fmt: skip
    """One fused pass over the rows of a CSR X: for block blk, writes
    partial_sq[blk] = sum s r², partial_r[blk, t] = sum s r_t and partial_g[blk, t, j] =
    sum x_ij s r_t, r = Y - X Wᵀ - b. Y (n, k) of any float dtype, W (k, d) float64,
    b (k,) float64, sample_weight (n,) float64 read only when ``weighted``."""
    n_blocks = block_starts.shape[0] - 1
    k = W.shape[0]
    for blk in prange(n_blocks):
        g = partial_g[blk]
        g[:, :] = 0.0
        r_sums = partial_r[blk]
        r_sums[:] = 0.0
        sq = 0.0
        if k == 1:  # the common case, with the target's arrays looked up once
            w0 = W[0]
            g0 = g[0]
            b0 = b[0]
            r_sum = 0.0
            for i in range(block_starts[blk], block_starts[blk + 1]):
                s = sample_weight[i] if weighted else 1.0
                start = np.uint64(indptr[i])
                stop = np.uint64(indptr[i + 1])
                r = Y[i, 0] - (_row_dot(data, indices, start, stop, w0) + b0)
                sr = s * r
                sq += sr * r
                r_sum += sr
                _row_scatter(data, indices, start, stop, sr, g0)
            r_sums[0] = r_sum
        else:
            for i in range(block_starts[blk], block_starts[blk + 1]):
                s = sample_weight[i] if weighted else 1.0
                start = np.uint64(indptr[i])
                stop = np.uint64(indptr[i + 1])
                for t in range(k):
                    r = Y[i, t] - (_row_dot(data, indices, start, stop, W[t]) + b[t])
                    sr = s * r
                    sq += sr * r
                    r_sums[t] += sr
                    _row_scatter(data, indices, start, stop, sr, g[t])
        partial_sq[blk] = sq


@njit(parallel=True, **JIT_OPTIONS)
def csr_residuals(
    data, indices, indptr, Y, W, b, sample_weight, weighted, block_starts,
    R, partial_sq, partial_r,
):  # fmt: skip
    """The rows' half of a pass whose gradient is summed down the columns
    (``csc_gradient``): writes R[t, i] = s_i r_it, and partial_sq and partial_r as
    ``csr_loss_grad_partials`` does (the same sums in the same order)."""
    n_blocks = block_starts.shape[0] - 1
    k = W.shape[0]
    for blk in prange(n_blocks):
        r_sums = partial_r[blk]
        r_sums[:] = 0.0
        sq = 0.0
        for i in range(block_starts[blk], block_starts[blk + 1]):
            s = sample_weight[i] if weighted else 1.0
            start = np.uint64(indptr[i])
            stop = np.uint64(indptr[i + 1])
            for t in range(k):
                r = Y[i, t] - (_row_dot(data, indices, start, stop, W[t]) + b[t])
                sr = s * r
                sq += sr * r
                r_sums[t] += sr
                R[t, i] = sr
        partial_sq[blk] = sq


@njit(parallel=True, **JIT_OPTIONS)
def csc_gradient(data, indices, indptr, R, column_starts, G):
    """G[t, j] = sum_i x_ij R[t, i] over the stored entries of column j of a CSC X
    (data, row indices, column pointers), in their order (rows ascending, four lanes:
    ``_row_dot``). Every column is summed whole by one thread, so the blocks of columns
    (``column_starts``) only spread the work: the same bits on any thread count.

    A gather from R instead of the fused pass's scatter into a partial gradient per
    block: for very wide X those partials leave the caches (docs/design.md,
    Measurements, sparse X)."""
    n_blocks = column_starts.shape[0] - 1
    k = R.shape[0]
    for blk in prange(n_blocks):
        for j in range(column_starts[blk], column_starts[blk + 1]):
            start = np.uint64(indptr[j])
            stop = np.uint64(indptr[j + 1])
            for t in range(k):
                G[t, j] = _row_dot(data, indices, start, stop, R[t])


@njit(parallel=True, **JIT_OPTIONS)
def csr_predict(data, indices, indptr, w, b, block_starts, out):
    """out[i] = X[i] @ w + b (summed in float64 as the fused pass sums it, stored in
    out's dtype). Each row is summed on its own: the blocks only spread rows over
    threads."""
    n_blocks = block_starts.shape[0] - 1
    for blk in prange(n_blocks):
        for i in range(block_starts[blk], block_starts[blk + 1]):
            start = np.uint64(indptr[i])
            stop = np.uint64(indptr[i + 1])
            out[i] = _row_dot(data, indices, start, stop, w) + b


@njit(**JIT_OPTIONS)
def csr_column_largest(data, indices, largest):
    """largest[j] = max |x_ij| over column j's stored entries (NaN makes it NaN)."""
    for p in range(data.shape[0]):
        value = abs(data[p])
        j = indices[p]
        if value > largest[j] or value != value:
            largest[j] = value


@njit(**JIT_OPTIONS)
def csr_column_moments(data, indices, indptr, sample_weight, weighted, factors, sums, squares):
    """Each column's weighted mean and centred sum of squares, zeros included, of X
    scaled column by column by ``factors`` (powers of two, so exact). X must hold no
    duplicate entries. Writes sums[j] = sum_i s_i x_ij f_j and squares[j] =
    sum_i s_i (x_ij f_j - mean_j)², mean_j = sums[j] / S, and returns S = sum_i s_i.

    Two reads: the means, then the squares of the stored entries' deviations plus
    mean_j² times the weight of the rows where column j is zero. No cancellation, and
    no dense column."""
    n = indptr.shape[0] - 1
    d = sums.shape[0]
    total = 0.0
    sums[:] = 0.0
    for i in range(n):
        s = sample_weight[i] if weighted else 1.0
        total += s
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            sums[j] += s * (data[p] * factors[j])
    squares[:] = 0.0
    stored_weight = sums * 0.0  # the weight of the rows holding an entry in column j
    if total > 0.0:
        for i in range(n):
            s = sample_weight[i] if weighted else 1.0
            for p in range(indptr[i], indptr[i + 1]):
                j = indices[p]
                deviation = data[p] * factors[j] - sums[j] / total
                squares[j] += s * deviation * deviation
                stored_weight[j] += s
        for j in range(d):
            mean = sums[j] / total
            squares[j] += max(total - stored_weight[j], 0.0) * mean * mean
    return total


@njit(parallel=True, **JIT_OPTIONS)
def csr_gram_partials(
    data, indices, indptr, Y, sample_weight, weighted, block_starts,
    partial_gram, partial_sums, partial_weight,
):  # fmt: skip
    """The weighted moments of [X Y] by blocks of rows, for the factor from the Gram
    matrix: partial_gram[blk] (p, p), p = d + k, gets the upper triangle of
    sum_i s_i [x_i y_i]ᵀ [x_i y_i] over the block's rows (each pair of a row's stored
    entries once: duplicates add up as SciPy's products add them), partial_sums[blk]
    (p,) the weighted column sums and partial_weight[blk] the rows' weight. Work per
    row: its stored entries squared, plus k of them, plus k²."""
    n_blocks = block_starts.shape[0] - 1
    k = Y.shape[1]
    d = partial_gram.shape[1] - k
    for blk in prange(n_blocks):
        gram = partial_gram[blk]
        gram[:, :] = 0.0
        sums = partial_sums[blk]
        sums[:] = 0.0
        weight = 0.0
        for i in range(block_starts[blk], block_starts[blk + 1]):
            s = sample_weight[i] if weighted else 1.0
            weight += s
            start = indptr[i]
            stop = indptr[i + 1]
            for a in range(start, stop):
                ja = indices[a]
                # float64 products of float32 data (numba would widen them anyway;
                # NumPy, with the JIT off, would multiply float32 by 1.0 in float32).
                x = np.float64(_value(data, a))
                sx = s * x
                sums[ja] += sx
                gram[ja, ja] += sx * x
                for b in range(a + 1, stop):
                    jb = indices[b]
                    xb = np.float64(_value(data, b))
                    if ja < jb:
                        gram[ja, jb] += sx * xb
                    elif ja > jb:
                        gram[jb, ja] += sx * xb
                    else:  # a duplicate: (x_a + x_b)² has the cross term twice
                        gram[ja, ja] += 2.0 * (sx * xb)
                for t in range(k):
                    gram[ja, d + t] += sx * Y[i, t]
            for t in range(k):
                sy = s * np.float64(Y[i, t])
                sums[d + t] += sy
                for u in range(t, k):
                    gram[d + t, d + u] += sy * np.float64(Y[i, u])
        partial_weight[blk] = weight


@njit(**JIT_OPTIONS)
def csr_largest_row_square(data, indices, indptr, sample_weight, weighted, inv_scale, shift,
                           base):  # fmt: skip
    """max_i of base + sum_p v_p (v_p - 2 shift_j), v_p = data[p] * inv_scale[j], j =
    indices[p], over the rows of positive weight (all rows when not ``weighted``): each
    row's |(x - center) / scale|², base being |center / scale|². Rows must hold no
    duplicate entries."""
    largest = 0.0
    for i in range(indptr.shape[0] - 1):
        if weighted and not sample_weight[i] > 0.0:
            continue
        total = base
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            v = data[p] * inv_scale[j]
            total += v * (v - 2.0 * shift[j])
        largest = max(largest, total)
    return largest
