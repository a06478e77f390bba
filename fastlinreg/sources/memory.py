"""Arrays in memory as a data source: ndarray, read-only arrays, np.memmap.

:class:`InMemorySource` offers the whole protocol of
:class:`fastlinreg.sources.base.DataSource` (``loss_grad``, ``hessian_vector``,
``row_blocks``, ...) with the fused kernels over X as it lies, and
:class:`fastlinreg.sources.base.SliceableSource`'s ``rows`` for ``sgd``'s mini-batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

import numpy as np

from .. import _config, kernels
from ._powers_of_two import column_norms, power_of_two_scale
from .base import ArrayShapes, squares_limit

_Rows = TypeVar("_Rows", bound="RowsInMemory")


class RowsInMemory(ArrayShapes):
    """What the sources of rows held in (or mapped into) memory share: X's shape and
    dtype, the targets Y (column-major, in X's dtype, divided by y_scale where its
    squares would underflow or overflow), the row weights, ``parallel``, and passes
    that cost nothing beyond their read of X."""

    X: Any
    #: A pass reads all of X: solvers should not spend passes on extras.
    cheap_passes = False
    #: The passes do not look for NaN or infinity: call :meth:`check_values` first.
    checks_while_reading = False

    def _hold(self, X, Y, sample_weight, parallel, y_scale) -> None:
        self.X = X
        self.Y = np.asfortranarray(Y, dtype=X.dtype)
        if y_scale is None:
            y_scale = power_of_two_scale(self.Y)
            if y_scale != 1.0:
                self.Y = np.asfortranarray(self.Y / y_scale)  # exact: a power of two
        self.y_scale = float(y_scale)
        self.sample_weight = (
            None if sample_weight is None else np.ascontiguousarray(sample_weight, np.float64)
        )
        self.parallel = parallel

    @property
    def dtype(self) -> np.dtype:
        return self.X.dtype

    @property
    def total_weight(self) -> float:
        return float(self.n_samples if self.sample_weight is None else np.sum(self.sample_weight))

    def repeated_passes(self: _Rows) -> AbstractContextManager[_Rows]:
        """The source itself: its passes cost nothing beyond their read of X."""
        return nullcontext(self)

    def zero_targets(self, k: int) -> np.ndarray:
        """(n, k) zeros in X's dtype for a Hessian-vector pass: a broadcast view (stride
        0), not n zeros, so no n-length array is made during a fit."""
        return np.broadcast_to(np.zeros((1, k), dtype=self.X.dtype), (self.n_samples, k))


class InMemorySource(RowsInMemory):
    """X (n, d), targets Y (n, k) and optional row weights, held in (or mapped into) memory.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        Used as it is: never copied, never written.
    Y : ndarray of shape (n_samples, n_targets)
        Converted to X's dtype, column-major so each target is contiguous (a copy of
        Y only when it is not already so). Where its largest magnitude is beyond
        2**±SAFE_EXPONENT (1e-170, 1e+160: the squares in the loss would underflow or
        overflow), the source holds Y / y_scale instead, y_scale a power of two (a
        copy; exact).
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative weights with a positive sum; None weighs every row 1.
    parallel : bool or None
        Passed to the kernels.
    y_scale : float or None
        None: chosen as above. A number: Y is already divided by it (see :meth:`rows`).

    Attributes
    ----------
    y_scale : float
        The passes (``loss_grad``, ``row_blocks``) see Y / y_scale: losses are in units
        of y_scale², gradients of y_scale.
    """

    def __init__(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        parallel: bool | None = None,
        y_scale: float | None = None,
    ):
        self._hold(X, Y, sample_weight, parallel, y_scale)

    def check_values(self) -> None:
        """Refuse NaN and infinity in X and Y, naming the row and column, and columns
        whose norm (root sum of squares, weighted) is beyond float64, naming the row and
        column of their largest value. One read of X and Y (more on the error path).

        Tiny or huge values whose norms are representable are fine: the solvers scale
        such columns by powers of two before anything squares them.

        Raises
        ------
        ValueError
            Naming the array and the row and column of the first NaN or infinity, or
            of the largest value of a column that overflows.
        """
        n_columns = self.n_features + self.n_targets
        for name, values, scale in (("X", self.X, 1.0), ("y", self.Y, self.y_scale)):
            refuse_bad_array(name, values, scale, self.sample_weight, n_columns)

    def rows(self, start: int, stop: int) -> InMemorySource:
        """The source of rows [start, stop) (views: nothing is copied)."""
        weights = None if self.sample_weight is None else self.sample_weight[start:stop]
        return InMemorySource(
            self.X[start:stop],
            self.Y[start:stop],
            weights,
            parallel=self.parallel,
            y_scale=self.y_scale,
        )

    def loss_grad(self, W: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """(Weighted) MSE over rows and targets, and the gradients of each target's MSE.

        W (k, d) and b (k,) float64. Returns (loss, G (k, d), gb (k,)): one fused
        kernel pass over X for all targets.
        """
        loss, G, gb = kernels.loss_grad(
            self.X, self.Y, W, b, sample_weight=self.sample_weight, parallel=self.parallel
        )
        return loss, G, np.asarray(gb)

    def hessian_vector(self, V: np.ndarray, vb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The MSE's Hessian times (V, vb), V (k, d), vb (k,): one pass.

        That is the gradient at (V, vb) of the MSE against all-zero targets.
        """
        _, hv, hvb = kernels.loss_grad(
            self.X,
            self.zero_targets(V.shape[0]),
            V,
            vb,
            sample_weight=self.sample_weight,
            parallel=self.parallel,
        )
        return hv, np.asarray(hvb)

    def row_blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """(X rows, Y rows, weights or None) in fixed consecutive blocks (views, no copies)."""
        block = _config.rows_per_factor_block(self.n_features + self.n_targets)
        for start in range(0, self.n_samples, block):
            rows = slice(start, start + block)
            weights = None if self.sample_weight is None else self.sample_weight[rows]
            yield self.X[rows], self.Y[rows], weights


def refuse_bad_array(
    name: str, values: np.ndarray, scale: float, weights: np.ndarray | None, n_columns: int
) -> None:
    """ValueError naming the row and column of the first NaN or infinity of ``values``
    (2-D, the array called ``name``, whose true values are values * scale), or of the
    largest value of a column whose weighted norm is beyond :func:`squares_limit` of
    ``n_columns``. One read of the array when it is fine."""
    limit = squares_limit(n_columns)
    heaviest = 1.0 if weights is None else max(1.0, float(np.max(weights, initial=0.0)))
    # The common case in one read: plain sums of squares far from overflowing (those of
    # y / y_scale, against the limit divided by y_scale²).
    with np.errstate(over="ignore"):
        if sum_of_squares(values) * heaviest <= limit / scale / scale:
            return
    _refuse_non_finite(name, values)
    _refuse_overflowing_columns(name, values, scale, weights, limit, n_columns)


def sum_of_squares(A: np.ndarray) -> float:
    """Sum of the squares of all values of A (2-D, float32/float64), in float64: NaN
    if A holds a NaN, inf if an infinity or if the sum overflows. One read of A."""
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is the answer
        contiguous = A.flags.c_contiguous or A.flags.f_contiguous
        if A.dtype == np.float64 and contiguous and A.flags.aligned:
            flat = A.ravel(order="K")  # a view
            return float(np.dot(flat, flat))
        # float32 (squared in float64, as the kernels do), strided or unaligned: block by
        # block. Unaligned blocks are copied: NumPy gives unaligned data to neither BLAS
        # nor its SIMD loops, which makes them several times slower.
        rows = max(1, _config.BLOCK_BYTES // max(1, 8 * A.shape[1]))
        total = 0.0
        for start in range(0, A.shape[0], rows):
            block = np.require(A[start : start + rows], np.float64, "A")
            total += float(np.einsum("ij,ij->", block, block))
        return total


def _refuse_overflowing_columns(name, A, scale, weights, limit, columns) -> None:
    """ValueError naming the largest value of the first column of A (values A * scale)
    whose weighted norm, computed by blocks from squares scaled by powers of two,
    exceeds ``limit`` (:func:`squares_limit` of ``columns``)."""
    largest = np.zeros(A.shape[1])
    rows = max(1, _config.BLOCK_BYTES // max(1, 8 * A.shape[1]))
    for start in range(0, A.shape[0], rows):
        largest = np.maximum(largest, np.max(np.abs(A[start : start + rows]), axis=0))
    _, exponents = np.frexp(largest)
    exponents = np.where(largest > 0.0, exponents, 0)
    squares = np.zeros(A.shape[1])
    for start in range(0, A.shape[0], rows):
        block = np.ldexp(np.asarray(A[start : start + rows], np.float64), -exponents)
        if weights is not None:
            block *= np.sqrt(weights[start : start + rows])[:, None]
        squares += column_norms(block) ** 2
    with np.errstate(over="ignore"):
        norms = np.ldexp(np.sqrt(squares), exponents) * scale
    for column in np.flatnonzero(~(norms <= limit))[:1]:
        row = int(np.argmax(np.abs(A[:, column])))
        value = float(A[row, column]) * scale
        raise overflow_error(name, value, row, column, norms[column], limit, columns, weights)


def overflow_error(name, value, row, column, norm, limit, columns, weights) -> ValueError:
    """The error for a column of ``name`` whose weighted norm ``norm`` is beyond
    ``limit``, naming its largest value, at (row, column)."""
    weight = "" if weights is None else " (weighted by sample_weight)"
    return ValueError(
        f"Input {name} holds {value:.3g} at row {row}, column {column}: the root of the "
        f"sum of squares of its column{weight}, {norm:.3g}, is beyond "
        f"{limit:.3g}, the most float64 leaves room for (its largest number over "
        f"{np.finfo(np.float64).max / limit:.3g}, for the sums of {columns} columns of X "
        f"and y). Rescale {name}, e.g. divide it by a power of two."
    )


def _refuse_non_finite(name: str, A: np.ndarray) -> None:
    """ValueError naming the row and column of A's first NaN or infinity, if any."""
    rows = max(1, _config.BLOCK_BYTES // max(1, A.itemsize * A.shape[1]))
    for start in range(0, A.shape[0], rows):
        bad = ~np.isfinite(A[start : start + rows])
        if bad.any():
            row, column = np.argwhere(bad)[0]
            value = A[start + row, column]
            what = "NaN" if np.isnan(value) else "infinity"
            raise ValueError(f"Input {name} contains {what} at row {start + row}, column {column}.")
