"""Data sources: "give me one pass over all rows". Solvers only talk to these.

A source offers the same few passes whatever holds the data:

- ``loss_grad(W, b)``: the loss and both gradients for every target, one fused pass;
- ``hessian_vector(V, vb)``: the loss's Hessian applied to a direction;
- ``row_blocks()``: the rows in fixed blocks, for the single-pass statistics of
  :mod:`fastlinreg.precompute`.

This module holds the in-memory source (ndarray, read-only arrays, np.memmap);
:mod:`fastlinreg.file_source` streams files and :mod:`fastlinreg.dask_source` maps the
same kernels over Dask chunks, with the same methods.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from . import _config, kernels


class ArrayShapes:
    """n_samples, n_features and n_targets of a source holding X (n, d) and Y (n, k)."""

    X: Any
    Y: Any

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_targets(self) -> int:
        return int(self.Y.shape[1])


class InMemorySource(ArrayShapes):
    """X (n, d), targets Y (n, k) and optional row weights, held in (or mapped into) memory.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        Used as it is: never copied, never written.
    Y : ndarray of shape (n_samples, n_targets)
        Converted to X's dtype, column-major so each target is contiguous (a copy of
        Y only when it is not already so).
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative weights with a positive sum; None weighs every row 1.
    parallel : bool or None
        Passed to the kernels.
    """

    #: A pass reads all of X: solvers should not spend passes on extras.
    cheap_passes = False

    def __init__(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        parallel: bool | None = None,
    ):
        self.X = X
        self.Y = np.asfortranarray(Y, dtype=X.dtype)
        self.sample_weight = (
            None if sample_weight is None else np.ascontiguousarray(sample_weight, np.float64)
        )
        self.parallel = parallel

    def check_values(self) -> None:
        """Refuse NaN and infinity in X and Y, naming the row and column, and values so
        large that sums of their squares overflow float64. One read of X and Y.

        Raises
        ------
        ValueError
            Naming the array and the row and column of the first NaN or infinity, or
            the largest value.
        """
        limit = squares_limit(self.n_features + self.n_targets)
        for name, values in (("X", self.X), ("y", self.Y)):
            if _sum_of_squares(values) <= limit:
                continue
            _refuse_non_finite(name, values)
            largest = max(float(np.max(values)), -float(np.min(values)))
            raise ValueError(
                f"Input {name} holds values up to {largest:.3g} in magnitude: the sum of "
                f"their squares over {self.n_samples} rows overflows float64. Rescale "
                f"{name}, e.g. divide it by a power of ten."
            )

    @property
    def dtype(self) -> np.dtype:
        return self.X.dtype

    @property
    def total_weight(self) -> float:
        return float(self.n_samples if self.sample_weight is None else np.sum(self.sample_weight))

    def rows(self, start: int, stop: int) -> InMemorySource:
        """The source of rows [start, stop) (views: nothing is copied)."""
        weights = None if self.sample_weight is None else self.sample_weight[start:stop]
        return InMemorySource(
            self.X[start:stop], self.Y[start:stop], weights, parallel=self.parallel
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
        # A broadcast view (stride 0), not n zeros: no n-length array during a fit.
        zeros = np.broadcast_to(
            np.zeros((1, V.shape[0]), dtype=self.X.dtype), (self.n_samples, V.shape[0])
        )
        _, hv, hvb = kernels.loss_grad(
            self.X, zeros, V, vb, sample_weight=self.sample_weight, parallel=self.parallel
        )
        return hv, np.asarray(hvb)

    def row_blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """(X rows, Y rows, weights or None) in fixed consecutive blocks (views, no copies)."""
        block = _config.rows_per_factor_block(self.n_features + self.n_targets)
        for start in range(0, self.n_samples, block):
            rows = slice(start, start + block)
            weights = None if self.sample_weight is None else self.sample_weight[rows]
            yield self.X[rows], self.Y[rows], weights


def squares_limit(n_columns: int) -> float:
    """The largest sum of squares of X, or of y, that a fit of ``n_columns`` columns of X
    and y accepts: the diagonal of XᵀX and the loss at zero must be finite, with room
    (16 * columns) for the sums built from them."""
    return float(np.finfo(np.float64).max / (16.0 * n_columns))


def _sum_of_squares(A: np.ndarray) -> float:
    """Sum of the squares of all values of A (2-D, float32/float64), in float64: NaN
    if A holds a NaN, inf if an infinity or if the sum overflows. One read of A."""
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is the answer
        contiguous = A.flags.c_contiguous or A.flags.f_contiguous
        if A.dtype == np.float64 and contiguous and A.flags.aligned:
            flat = A.ravel(order="K")  # a view
            return float(np.dot(flat, flat))
        # float32 (squared in float64, as the kernels do), strided or unaligned: block by
        # block. Unaligned blocks are copied: NumPy gives unaligned data to neither BLAS
        # nor its SIMD loops (10,000,000 x 10 from a distributed gather: 506 ms for one
        # np.dot, 117 ms in aligned blocks; 25 ms aligned).
        rows = max(1, _config.BLOCK_BYTES // max(1, 8 * A.shape[1]))
        total = 0.0
        for start in range(0, A.shape[0], rows):
            block = np.require(A[start : start + rows], np.float64, "A")
            total += float(np.einsum("ij,ij->", block, block))
        return total


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
