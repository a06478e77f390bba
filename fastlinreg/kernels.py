"""Public kernel API: prepare arrays, pick serial or parallel, call the JIT code.

One call of :func:`loss_grad` is one epoch's worth of work: a single pass over the rows
of X computing the forward pass, the MSE and both gradients. X is never copied.
"""

from __future__ import annotations

import numpy as np

from . import _config, _jit

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


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


def _sweep_columns(X: np.ndarray) -> bool:
    """Which loop nest of the block kernel suits X's layout (see _jit._block_loss_grad)."""
    row_major = X.strides[0] >= X.strides[1]
    return not row_major or X.shape[1] <= _config.COLUMN_SWEEP_MAX_FEATURES


def loss_grad(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    b: float,
    *,
    parallel: bool | None = None,
) -> tuple[float, np.ndarray, float]:
    """MSE loss and its gradients for ``y_pred = X @ w + b``, in one pass over X.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        Any memory order (C, F or strided), read-only and ``np.memmap`` arrays
        included; it is never copied.
    y : ndarray of shape (n_samples,)
        Converted to X's dtype if it differs (a copy of y, not of X).
    w : ndarray of shape (n_features,)
        Weights; used in float64.
    b : float
        Bias.
    parallel : bool or None, default=None
        True/False force the parallel/serial kernel; None picks by the size of X.
        Both give bit-for-bit identical results, for any number of threads.

    Returns
    -------
    loss : float
        ``mean((y - y_pred) ** 2)``.
    grad_w : ndarray of shape (n_features,), float64
        ``-2 / n * X.T @ (y - y_pred)``.
    grad_b : float
        ``-2 / n * sum(y - y_pred)``.

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
    n, d = X.shape
    if n == 0:
        raise ValueError("X has 0 rows: the loss of an empty dataset is undefined")
    y = np.asarray(y, dtype=X.dtype)
    w = np.asarray(w, dtype=np.float64)
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) to match X, got {y.shape}")
    if w.shape != (d,):
        raise ValueError(f"w must have shape ({d},) to match X, got {w.shape}")
    row_block, n_blocks = block_layout(X)
    partial_sq = np.empty(n_blocks)
    partial_r = np.empty(n_blocks)
    partial_g = np.empty((n_blocks, d))
    run = (
        _jit.loss_grad_partials_parallel
        if use_parallel(X, parallel)
        else _jit.loss_grad_partials_serial
    )
    run(X, y, w, float(b), row_block, _sweep_columns(X), partial_sq, partial_r, partial_g)
    grad_w = np.empty(d)
    sq_sum, r_sum = _jit.combine_partials(partial_sq, partial_r, partial_g, grad_w)
    grad_w *= -2.0 / n
    return sq_sum / n, grad_w, -2.0 / n * r_sum


def predict(
    X: np.ndarray,
    w: np.ndarray,
    b: float,
    *,
    parallel: bool | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """``X @ w + b`` accumulated in float64, returned in X's dtype.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        Any memory order; never copied.
    w : ndarray of shape (n_features,)
    b : float
    parallel : bool or None, default=None
        As in :func:`loss_grad`.
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
    n, d = X.shape
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (d,):
        raise ValueError(f"w must have shape ({d},) to match X, got {w.shape}")
    if out is None:
        out = np.empty(n, dtype=X.dtype)
    elif out.shape != (n,):
        raise ValueError(f"out must have shape ({n},), got {out.shape}")
    row_block, _ = block_layout(X)
    run = _jit.predict_parallel if use_parallel(X, parallel) else _jit.predict_serial
    run(X, w, float(b), row_block, out)
    return out


def streaming_read(X: np.ndarray) -> float:
    """Sum of X read once in parallel: the memory-bandwidth bound of one epoch."""
    X = _check_X(X)
    flat = X.reshape(-1, order="A" if X.flags.f_contiguous else "C")
    if not np.shares_memory(flat, X):
        raise ValueError("streaming_read needs a contiguous X")
    return float(_jit.streaming_sum(flat, 1 << 15))
