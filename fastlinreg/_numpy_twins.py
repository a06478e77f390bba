"""NumPy twins of three kernels of ``fastlinreg._jit``, for data too small to be worth
numba: the same additions in the same order, so the same bits (tests/test_numpy_twins.py).

Importing numba and setting up its compiler on the first kernel cost a new process
0.6-0.9 s, about a hundred times scikit-learn's whole fit and predict of 1000 × 10.
``fastlinreg.kernels.predict`` and the precompute pass (``fastlinreg.sources._tsqr``)
call these instead of the kernels for X of at most ``_config.NUMPY_MAX_ELEMENTS``
elements; a row's prediction, or a block's moments, do not depend on which ran.

Why the bits agree: the kernels are compiled without reassociation or contraction
(``_config.FASTMATH_FLAGS``), so each of their sums is the loop written in them, and each
product is rounded on its own. NumPy's ``sum`` would add pairwise; ``np.add.accumulate``
adds one row after another, as the kernels' loops over the rows do. Every sum starts from
a row of zeros, as the kernels' accumulators start from 0.0 (so a sum of -0.0 is +0.0 in
both). Products of float32 are made in float32 where the kernel multiplies two float32
numbers, and in float64 where it multiplies by a float64 one, as numba types them.
"""

from __future__ import annotations

import numpy as np

from . import _config


def small_enough(X) -> bool:
    """Whether X (or a block of it) is for the twins rather than the kernels."""
    return X.size <= _config.NUMPY_MAX_ELEMENTS


def _sums_in_row_order(A: np.ndarray) -> np.ndarray:
    """Column sums of A (m, c) in float64, added row after row from 0.0."""
    # Column-major, so that NumPy's loop runs down each column (row-major, it ran across
    # each row: 2.7x slower at 65,536 x 4).
    rows = np.empty((A.shape[0] + 1, A.shape[1]), order="F")
    rows[0] = 0.0
    rows[1:] = A
    return np.add.accumulate(rows, axis=0, out=rows)[-1]


def block_forward(X, w, b, out) -> None:
    """``_jit._block_forward``: out[i] = b + X[i] @ w summed in float64 in four lanes
    (column j in lane j % 4, the columns past the last full group of four in lane 0,
    the lanes added as (l0 + l1) + (l2 + l3)), stored in out's dtype."""
    m, d = X.shape
    lanes = np.zeros((4, m))
    full = d - d % 4
    for j in range(d):
        lanes[j % 4 if j < full else 0] += np.asarray(X[:, j], np.float64) * w[j]
    out[:] = b + ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]))


def block_moments(X, Y, sums, cross, y_squares) -> None:
    """``_jit.block_moments``: the column sums of [X Y] into sums (d + k,), X'Y into
    cross (d, k) and Y'Y into y_squares (k, k), each summed over the rows in order."""
    d, k = X.shape[1], Y.shape[1]
    terms = [X, Y]
    terms += [X * Y[:, t : t + 1] for t in range(k)]  # cross[:, t]
    terms += [Y * Y[:, t : t + 1] for t in range(k)]  # y_squares[:, t]
    total = _sums_in_row_order(np.concatenate(terms, axis=1, dtype=np.float64))
    sums[:] = total[: d + k]
    products = total[d + k :]
    cross[:, :] = products[: k * d].reshape(k, d).T
    y_squares[:, :] = products[k * d :].reshape(k, k).T


def centred_block(X, Y, sample_weight, weighted, out) -> tuple[np.ndarray, float]:
    """``_jit.centred_block``: out = sqrt(s) * ([X Y] - mean) in float64; returns
    (mean (d + k,), the sum of the weights s, 1 for every row when not ``weighted``)."""
    A = np.concatenate([X, Y], axis=1, dtype=np.float64)
    if weighted:
        s = sample_weight[:, None]
        sums = _sums_in_row_order(s * A)
        weight = float(_sums_in_row_order(s)[0])
    else:
        sums = _sums_in_row_order(A)
        weight = float(A.shape[0])  # 1.0 added m times: exact
    mean = sums * (1.0 / weight) if weight > 0.0 else sums
    out[:, :] = A - mean
    if weighted:
        out *= np.sqrt(s)
    return mean, weight
