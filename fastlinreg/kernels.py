"""Public kernel API: prepare arrays, pick serial or parallel, call the JIT code.

One call of :func:`loss_grad` is one epoch's worth of work: a single pass over the rows
of X computing the forward pass, the MSE and both gradients. X is never copied.

numba and the JIT modules are imported where a function first needs them, not here: a
small X is predicted by NumPy (``_config.NUMPY_MAX_ELEMENTS``), and a process that fits
and predicts only such data never pays for numba (0.6-0.9 s).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from . import _config, _numpy_twins

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# Passed in place of sample_weight when there is none (the kernel does not read it).
_NO_WEIGHTS = np.ones(1)


def _check_X(X: np.ndarray) -> np.ndarray:
    # np.asarray turns an np.memmap into a plain ndarray view of the same memory.
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.dtype not in _FLOATS:
        raise TypeError(f"X must be float32 or float64, got {X.dtype}")
    return X


def use_parallel(X: np.ndarray, parallel: bool | None) -> bool:
    """Whether a pass over X runs the parallel kernel (None: decided by X's size)."""
    if parallel is None:
        return X.size >= _config.PARALLEL_MIN_ELEMENTS
    return bool(parallel)


def block_layout(X: np.ndarray) -> tuple[int, int]:
    """(row_block, n_blocks) of the fixed row decomposition of X."""
    row_block = _config.rows_per_block(X.shape[1])
    return row_block, -(-X.shape[0] // row_block)


@contextlib.contextmanager
def _threads(parallel: bool) -> Iterator[None]:
    """Run the pass's one compiled driver on numba's threads, or on this thread alone.

    A serial pass is the parallel driver on one thread, not a second compiled function:
    the same machine code for every block, so the same bits (docs/design.md).
    ``numba.set_num_threads`` is per calling thread, and restored.
    """
    if parallel:
        yield
        return
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def loss_grad(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    b: float | np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    parallel: bool | None = None,
) -> tuple[float, np.ndarray, float | np.ndarray]:
    """MSE loss and its gradients for ``y_pred = X @ w + b``, in one pass over X.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        Any memory order (C, F or strided), read-only and ``np.memmap`` arrays
        included; it is never copied.
    y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Converted to X's dtype, column-major (a copy of y, never of X).
    w : ndarray of shape (n_features,) or (n_targets, n_features)
        Weights; used in float64.
    b : float or ndarray of shape (n_targets,)
        Bias.
    sample_weight : ndarray of shape (n_samples,), default=None
        Non-negative row weights; the loss is then the weighted mean.
    parallel : bool or None, default=None
        True/False force the parallel/serial kernel; None picks by the size of X.
        Both give bit-for-bit identical results, for any number of threads.

    Returns
    -------
    loss : float
        ``sum(s * (y - y_pred) ** 2) / (sum(s) * n_targets)``, s the weights (all 1
        by default): the mean over rows and targets.
    grad_w : ndarray of shape of ``w``, float64
        Each target's ``-2 / sum(s) * X.T @ (s * (y - y_pred))``.
    grad_b : float or ndarray of shape (n_targets,)
        Each target's ``-2 / sum(s) * sum(s * (y - y_pred))``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlinreg.kernels import loss_grad
    >>> X = np.array([[1.0], [2.0]]); y = np.array([3.0, 5.0])
    >>> loss, grad_w, grad_b = loss_grad(X, y, np.array([1.0]), 1.0)  # residuals 1, 2
    >>> float(loss), grad_w.tolist(), float(grad_b)
    (2.5, [-5.0], -3.0)
    """
    X = _check_X(X)
    p = _Pass(X.shape, X.dtype, y, w, b, sample_weight)
    row_block, n_blocks = block_layout(X)
    partials = p.partials(n_blocks)
    column_major = X.strides[0] < X.strides[1]
    from . import _jit

    with _threads(use_parallel(X, parallel)):
        _jit.loss_grad_partials(X, p.Y, p.W, p.bias, p.weights, p.weighted, row_block,
                                column_major, X.shape[1] >= _config.ROW_LANES_MIN_FEATURES,
                                *partials)  # fmt: skip
    return p.result(*partials)


class _Pass:
    """The arrays of one fused pass (dense or CSR), checked against X's shape: Y (n, k)
    in X's dtype, W (k, d) and bias (k,) float64, the weights; then its result from the
    per-block partial sums."""

    def __init__(self, shape, dtype, y, w, b, sample_weight):
        n, d = shape
        if n == 0:
            raise ValueError("X has 0 rows: the loss of an empty dataset is undefined")
        y = np.asarray(y, dtype=dtype)
        w = np.asarray(w, dtype=np.float64)
        self.one_target = y.ndim == 1
        if y.ndim not in (1, 2) or y.shape[0] != n:
            raise ValueError(
                f"y must have shape ({n},) or ({n}, n_targets) to match X, got {y.shape}"
            )
        Y = y.reshape(n, -1)
        if Y.strides[0] not in (0, Y.itemsize):
            Y = np.asfortranarray(Y)  # each target's column contiguous (or a broadcast constant)
        self.Y = Y
        k = Y.shape[1]
        w_shape = (d,) if self.one_target else (k, d)
        if w.shape != w_shape:
            raise ValueError(f"w must have shape {w_shape} to match X and y, got {w.shape}")
        self.W = np.ascontiguousarray(w.reshape(k, d))
        self.bias = np.ascontiguousarray(np.broadcast_to(np.asarray(b, dtype=np.float64), (k,)))
        self.weighted = sample_weight is not None
        if self.weighted:
            self.weights = np.ascontiguousarray(sample_weight, dtype=np.float64)
            if self.weights.shape != (n,):
                raise ValueError(f"sample_weight must have shape ({n},), got {self.weights.shape}")
            self.total_weight = float(np.sum(self.weights))
        else:
            self.weights = _NO_WEIGHTS
            self.total_weight = float(n)

    def partials(self, n_blocks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Empty (partial_sq (blocks,), partial_r (blocks, k), partial_g (blocks, k, d))."""
        k, d = self.W.shape
        return np.empty(n_blocks), np.empty((n_blocks, k)), np.empty((n_blocks, k, d))

    def result(self, partial_sq, partial_r, partial_g):
        """(loss, grad_w, grad_b) from the partials, added in block order."""
        k, d = self.W.shape
        r_sum = np.empty(k)
        grad_w = np.empty((k, d))
        from . import _jit

        sq_sum = _jit.combine_partials(partial_sq, partial_r, partial_g, r_sum, grad_w)
        grad_w *= -2.0 / self.total_weight
        grad_b = -2.0 / self.total_weight * r_sum
        loss = sq_sum / (self.total_weight * k)
        if self.one_target:
            return loss, grad_w[0], float(grad_b[0])
        return loss, grad_w, grad_b


def predict(
    X: np.ndarray,
    w: np.ndarray,
    b: float,
    *,
    parallel: bool | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """``X @ w + b`` accumulated in float64, returned in X's dtype.

    X of at most ``_config.NUMPY_MAX_ELEMENTS`` elements is predicted by the kernel's
    NumPy twin (``fastlinreg._numpy_twins.block_forward``, the same bits), on this
    thread, without importing numba.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        Any memory order; never copied.
    w : ndarray of shape (n_features,)
    b : float
    parallel : bool or None, default=None
        As in :func:`loss_grad` (for X above that size).
    out : ndarray of shape (n_samples,), optional
        Written in place and returned if given.

    Returns
    -------
    y_pred : ndarray of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> from fastlinreg.kernels import predict
    >>> predict(np.array([[1.0, 2.0]]), np.array([3.0, 4.0]), 0.5).tolist()
    [11.5]
    """
    X = _check_X(X)
    w, out = _predict_arrays(X.shape, X.dtype, w, out)
    if _numpy_twins.small_enough(X):
        _numpy_twins.block_forward(X, w, float(b), out)
        return out
    from . import _jit

    row_block, _ = block_layout(X)
    run = _jit.predict_parallel if use_parallel(X, parallel) else _jit.predict_serial
    run(X, w, float(b), row_block, out)
    return out


def predict_targets(
    X, coef: np.ndarray, intercept, *, parallel: bool | None = None, sparse: bool = False
) -> np.ndarray:
    """The predictions of one linear model per target: an (n_samples, n_targets) array in
    X's dtype, F order, column t ``X @ coef[t] + intercept[t]`` by :func:`predict` (or
    :func:`csr_predict` when ``sparse``), one target at a time. ``coef`` is (n_features,)
    or (n_targets, n_features), ``intercept`` a scalar or (n_targets,).

    What the estimator's ``predict`` and ``fastlinreg predict`` compute, bit for bit.
    Predictions that overflow are left to the caller to report
    (:func:`not_finite_predictions`); NumPy's own warnings (with the JIT off, where the
    kernels run as Python) are silenced.
    """
    coef = np.atleast_2d(coef)
    intercept = np.atleast_1d(intercept)
    out = np.empty((X.shape[0], coef.shape[0]), dtype=X.dtype, order="F")
    predict_one = csr_predict if sparse else predict
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(coef.shape[0]):
            predict_one(X, coef[t], intercept[t], parallel=parallel, out=out[:, t])
    return out


def not_finite_predictions(predictions: np.ndarray) -> tuple[int, int] | None:
    """(how many predictions are NaN or infinite, the first row (from 0) holding one),
    or None when all are finite. Predictions are (n,) or (n, k)."""
    finite = np.isfinite(predictions)
    if finite.all():
        return None
    bad_rows = ~finite.reshape(len(finite), -1).all(axis=1)
    return int(np.count_nonzero(~finite)), int(np.argmax(bad_rows))


def csr_block_starts(
    indptr: np.ndarray, n_features: int, n_targets: int, *, partials_bytes: int | None = None
) -> np.ndarray:
    """(n_blocks + 1,) int64: the first row of each block of a CSR pass, and n.

    Blocks hold about ``_config.SPARSE_BLOCK_WORK`` stored entries and rows each (cut by
    non-zeros, so rows of very different lengths still balance over threads), and at
    most as many as ``partials_bytes`` (``_config.SPARSE_PARTIALS_BYTES`` by default)
    of partial gradients, d * k numbers each, allow. Fixed by the matrix (indptr, d, k)
    alone: the same layout on any number of threads.
    """
    n = indptr.shape[0] - 1
    if n <= 0:
        return np.zeros(1, dtype=np.int64)
    # The work of a row: its stored entries plus one.
    work_total = int(indptr[n] - indptr[0]) + n
    if partials_bytes is None:
        partials_bytes = _config.SPARSE_PARTIALS_BYTES
    most = max(1, partials_bytes // (8 * max(1, n_features * n_targets)))
    n_blocks = max(1, min(-(-work_total // _config.SPARSE_BLOCK_WORK), most, n))
    starts = np.empty(n_blocks + 1, dtype=np.int64)
    # A walk over indptr: no array of n (a memory-mapped X's indptr stays on disk).
    from . import _jit_sparse

    _jit_sparse.csr_block_cuts(indptr, n_blocks, starts)
    return np.unique(starts)  # a row longer than a block leaves an empty one


class CSRRows(NamedTuple):
    """Rows of a CSR matrix as its arrays, without SciPy's rule that indptr starts at 0:
    rows [a, b) of a matrix are ``CSRRows(data, indices, indptr[a:b + 1], n_features)``,
    views that copy nothing (sgd's mini-batches)."""

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    n_features: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.indptr.shape[0] - 1, self.n_features

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype


class CSCColumns(NamedTuple):
    """A CSR X's entries again, column by column (:func:`csc_columns`): ``data`` at rows
    ``indices``, column j in ``indptr[j]:indptr[j + 1]`` with its rows ascending, and
    ``column_starts``, the blocks of columns a pass over them spreads over threads.
    ``data`` is None for a binary X's copy: its values are all 1."""

    data: np.ndarray | None
    indices: np.ndarray
    indptr: np.ndarray
    column_starts: np.ndarray


def csc_columns(X, *, binary: bool = False) -> CSCColumns:
    """X (CSR, or :class:`CSRRows`) copied into columns for :func:`csr_loss_grad`'s
    ``columns``: as much memory again as X's stored entries, once per fit; for a binary
    X (``binary``: :func:`csr_is_binary`) its indices alone."""
    import scipy.sparse

    data, indices, indptr = _check_csr(X)
    first, last = int(indptr[0]), int(indptr[-1])
    # A binary X's values are not copied: one byte each stands in while SciPy transposes.
    values = np.ones(last - first, dtype=np.bool_) if binary else data[first:last]
    rows = scipy.sparse.csr_matrix((values, indices[first:last], indptr - first), shape=X.shape)
    columns = rows.tocsc()  # a stable transposition: each column's rows ascending
    # A column block is balanced as a row block is (entries plus one per column); its
    # "partial" is one number per column and target, so one target stands for all.
    starts = csr_block_starts(columns.indptr, 1, 1)
    return CSCColumns(None if binary else columns.data, columns.indices, columns.indptr, starts)


def _check_csr(X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(data, indices, indptr) of a SciPy CSR matrix or array or a :class:`CSRRows`,
    never copied."""
    if not isinstance(X, CSRRows):
        import scipy.sparse

        if not (scipy.sparse.issparse(X) and X.format == "csr"):
            raise TypeError(f"X must be a SciPy CSR matrix or array, got {type(X).__name__}")
    if X.dtype not in _FLOATS:
        raise TypeError(f"X must be float32 or float64, got {X.dtype}")
    return X.data, X.indices, X.indptr


def csr_is_binary(X) -> bool:
    """Whether every stored value of the CSR X (or :class:`CSRRows`) is exactly 1, as
    in one-hot and binary features: the passes of :func:`csr_loss_grad` then read the
    column indices alone. Stops at the first block holding another value, so a matrix
    of other values costs a few thousand comparisons; a binary one, one read of the
    values."""
    data, _, indptr = _check_csr(X)
    start, stop = int(indptr[0]), int(indptr[-1])
    block = 4096
    while start < stop:
        if not np.all(data[start : min(start + block, stop)] == 1):
            return False
        start += block
        block = min(2 * block, 1 << 20)
    return True


def _values_to_read(X, binary: bool | None) -> np.ndarray | None:
    """X's stored values for a kernel, or None (the kernels' all ones) where X is
    binary: as said by the caller, or checked here when ``binary`` is None."""
    if binary is None:
        binary = csr_is_binary(X)
    return None if binary else X.data


def csr_loss_grad(
    X,
    y: np.ndarray,
    w: np.ndarray,
    b: float | np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    parallel: bool | None = None,
    block_starts: np.ndarray | None = None,
    columns: CSCColumns | None = None,
    binary: bool | None = None,
) -> tuple[float, np.ndarray, float | np.ndarray]:
    """:func:`loss_grad` for a sparse X: one pass over the stored entries of its rows
    (or, with ``columns``, one over its rows and one over its columns).

    Parameters
    ----------
    X : scipy.sparse CSR matrix or array, or :class:`CSRRows`, (n_samples, n_features)
        float32 or float64, int32 or int64 indices; never copied. Duplicate entries of
        a row are added (as SciPy's products do), unsorted ones are fine.
    y, w, b, sample_weight, parallel
        As in :func:`loss_grad` (parallel=None: parallel from
        ``_config.PARALLEL_MIN_ELEMENTS`` stored entries).
    block_starts : ndarray, optional
        The layout from :func:`csr_block_starts` (computed when None); a source that
        runs many passes computes it once.
    columns : CSCColumns, optional
        X copied into columns (:func:`csc_columns`). Given, the pass over the rows
        stores each row's weighted residual and the gradient is summed down the
        columns, one number at a time, instead of in a partial gradient per block: for
        very wide X, where those partials leave the caches
        (``_config.sparse_gradient_by_columns``). The loss and the intercept's gradient
        have the same bits either way; the coefficients' gradient is summed in another
        order (to 1e-10 of the reference, as the fused one).
    binary : bool, optional
        Whether every stored value of X is 1 (:func:`csr_is_binary`; checked here when
        None): the passes then read the column indices and not the values, with the same
        bits. A source that runs many passes checks once. True for an X with other
        values gives wrong results.

    Returns
    -------
    As :func:`loss_grad`; the same bits serial or parallel, on any thread count.
    """
    data, indices, indptr = _check_csr(X)
    p = _Pass(X.shape, X.dtype, y, w, b, sample_weight)
    if block_starts is None:
        block_starts = csr_block_starts(indptr, X.shape[1], p.Y.shape[1])
    n_blocks = block_starts.shape[0] - 1
    values = _values_to_read(X, binary)
    from . import _jit_sparse

    if columns is None:
        partials = p.partials(n_blocks)
        with _threads(_use_parallel_csr(data, parallel)):
            _jit_sparse.csr_loss_grad_partials(
                values, indices, indptr, p.Y, p.W, p.bias, p.weights, p.weighted, block_starts,
                *partials,
            )  # fmt: skip
        return p.result(*partials)
    stored = int(indptr[-1]) - int(indptr[0])
    if columns.indptr.shape[0] != X.shape[1] + 1 or columns.indices.shape[0] != stored:
        raise ValueError(
            f"columns hold {columns.indptr.shape[0] - 1} columns and "
            f"{columns.indices.shape[0]} entries, X {X.shape[1]} and {stored}: they are not "
            "X's (csc_columns(X))"
        )
    if columns.data is None and values is not None:
        raise ValueError("columns were copied without values (a binary X's), but X is not binary")
    k = p.W.shape[0]
    partial_sq, partial_r = np.empty(n_blocks), np.empty((n_blocks, k))
    R = np.empty((k, X.shape[0]))
    gradient = np.empty((1, k, X.shape[1]))  # the whole gradient as one block's partial
    with _threads(_use_parallel_csr(data, parallel)):
        _jit_sparse.csr_residuals(values, indices, indptr, p.Y, p.W, p.bias, p.weights,
                                  p.weighted, block_starts, R, partial_sq, partial_r)  # fmt: skip
        _jit_sparse.csc_gradient(None if values is None else columns.data, columns.indices,
                                 columns.indptr, R, columns.column_starts, gradient[0])  # fmt: skip
    return p.result(partial_sq, partial_r, gradient)


def csr_predict(
    X,
    w: np.ndarray,
    b: float,
    *,
    parallel: bool | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`predict` for a SciPy CSR X (or :class:`CSRRows`): ``X @ w + b``
    accumulated in float64, row by row over the stored entries, returned in X's dtype.
    Never copies X."""
    data, indices, indptr = _check_csr(X)
    w, out = _predict_arrays(X.shape, X.dtype, w, out)
    from . import _jit_sparse

    with _threads(_use_parallel_csr(data, parallel)):
        _jit_sparse.csr_predict(data, indices, indptr, w, float(b),
                                csr_block_starts(indptr, 1, 1), out)  # fmt: skip
    return out


def csr_gram(
    X,
    Y: np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    parallel: bool | None = None,
    binary: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """The weighted moments of [X Y] for a sparse X, in one pass over its stored entries.

    Parameters
    ----------
    X : scipy.sparse CSR matrix or array, or :class:`CSRRows`, (n, d)
    Y : ndarray of shape (n, k), any float dtype
    sample_weight : ndarray of shape (n,), default=None
    parallel : bool or None, default=None
        As in :func:`csr_loss_grad`; the same bits either way.
    binary : bool or None, default=None
        As in :func:`csr_loss_grad`: for a binary X the pass reads no values.

    Returns
    -------
    gram : ndarray of shape (d + k, d + k), float64
        ``sum_i s_i z_i z_iᵀ``, z_i = [x_i y_i]: the uncentred Gram matrix, symmetric.
    sums : ndarray of shape (d + k,)
        ``sum_i s_i z_i``.
    total_weight : float
        ``sum_i s_i``.

    Work: each row's stored entries squared (a one-hot row of c categories costs c²),
    not n d². Blocks of rows keep partial (d + k)² matrices, at most
    ``_config.SPARSE_GRAM_PARTIALS_BYTES`` of them, added in block order.
    """
    data, indices, indptr = _check_csr(X)
    n, d = X.shape
    Y = np.asarray(Y)
    if Y.ndim != 2 or Y.shape[0] != n:
        raise ValueError(f"Y must have shape ({n}, n_targets) to match X, got {Y.shape}")
    p = d + Y.shape[1]
    weighted = sample_weight is not None
    weights = np.ascontiguousarray(sample_weight, np.float64) if weighted else _NO_WEIGHTS
    block_starts = csr_block_starts(indptr, p, p, partials_bytes=_config.SPARSE_GRAM_PARTIALS_BYTES)
    n_blocks = block_starts.shape[0] - 1
    partial_gram = np.empty((n_blocks, p, p))
    partial_sums = np.empty((n_blocks, p))
    partial_weight = np.empty(n_blocks)
    from . import _jit_sparse

    values = _values_to_read(X, binary)
    with _threads(_use_parallel_csr(data, parallel)):
        _jit_sparse.csr_gram_partials(values, indices, indptr, Y, weights, weighted, block_starts,
                                      partial_gram, partial_sums, partial_weight)  # fmt: skip
    upper, sums, total = np.zeros((p, p)), np.zeros(p), 0.0
    for blk in range(n_blocks):  # in block order: the same bits on any thread count
        upper += partial_gram[blk]
        sums += partial_sums[blk]
        total += float(partial_weight[blk])
    gram = upper + np.triu(upper, 1).T
    return gram, sums, total


def _use_parallel_csr(data: np.ndarray, parallel: bool | None) -> bool:
    if parallel is None:
        return data.shape[0] >= _config.PARALLEL_MIN_ELEMENTS
    return bool(parallel)


def _predict_arrays(shape, dtype, w, out) -> tuple[np.ndarray, np.ndarray]:
    """(w as float64 (d,), out (n,): the one given, or a new one in X's dtype)."""
    n, d = shape
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (d,):
        raise ValueError(f"w must have shape ({d},) to match X, got {w.shape}")
    if out is None:
        out = np.empty(n, dtype=dtype)
    elif out.shape != (n,):
        raise ValueError(f"out must have shape ({n},), got {out.shape}")
    return w, out


def streaming_read(X: np.ndarray) -> float:
    """Sum of X read once in parallel: the memory-bandwidth bound of one epoch."""
    X = _check_X(X)
    flat = X.reshape(-1, order="A" if X.flags.f_contiguous else "C")
    if not np.shares_memory(flat, X):
        raise ValueError("streaming_read needs a contiguous X")
    from . import _jit

    return float(_jit.streaming_sum(flat, 1 << 15))


def csr_streaming_read(X, *, values: bool = True) -> float:
    """Sum of a CSR X's stored values plus the sum of its column indices, each array read
    once in parallel: the memory-bandwidth bound of an epoch over sparse X (the
    benchmarks' "stream"). Row pointers and y are left out: a fraction of the bytes.
    values=False: the indices alone, all that an epoch over a binary X reads."""
    data, indices, indptr = _check_csr(X)
    entries = slice(int(indptr[0]), int(indptr[-1]))
    from . import _jit

    total = float(_jit.streaming_sum(indices[entries], 1 << 15))
    if values:
        total += float(_jit.streaming_sum(data[entries], 1 << 15))
    return total
