"""The @njit functions over CSR matrices: the fused epoch, predict and column moments.

Like ``fastlinreg._jit`` they trust their arguments, and only ``fastlinreg.kernels``
(``csr_loss_grad``, ``csr_predict``) and ``fastlinreg.sources.sparse`` (the column
moments of feature scaling) call them. A CSR matrix arrives as its three arrays: row i
holds ``data[p]`` at column ``indices[p]`` for p in ``indptr[i]:indptr[i + 1]``
(``indptr[0]`` need not be 0: a row slice is a view of ``indptr``, the other two are
shared). data is float32 or float64, indices and indptr int32 or int64 (numba compiles
each combination once).

The rows are cut into blocks by ``block_starts`` (fixed by the matrix, never by the
thread count: ``fastlinreg.kernels.csr_block_starts``); block ``blk`` writes only
``partial_*[blk]`` and the caller adds the partials in block order, so a pass gives the
same bits on any number of threads (docs/design.md, bit-reproducibility). Within a row
the entries are summed in their stored order.
"""

from __future__ import annotations

from numba import njit, prange

from ._config import JIT_OPTIONS


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
        for i in range(block_starts[blk], block_starts[blk + 1]):
            s = sample_weight[i] if weighted else 1.0
            start = indptr[i]
            stop = indptr[i + 1]
            for t in range(k):
                w = W[t]
                dot = 0.0
                for p in range(start, stop):
                    dot += data[p] * w[indices[p]]
                r = Y[i, t] - (dot + b[t])
                sr = s * r
                sq += sr * r
                r_sums[t] += sr
                gt = g[t]
                for p in range(start, stop):
                    gt[indices[p]] += data[p] * sr
        partial_sq[blk] = sq


@njit(parallel=True, **JIT_OPTIONS)
def csr_predict(data, indices, indptr, w, b, block_starts, out):
    """out[i] = X[i] @ w + b (summed in float64, stored in out's dtype). Each row is
    summed on its own: the blocks only spread rows over threads."""
    n_blocks = block_starts.shape[0] - 1
    for blk in prange(n_blocks):
        for i in range(block_starts[blk], block_starts[blk + 1]):
            dot = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                dot += data[p] * w[indices[p]]
            out[i] = dot + b


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
