"""Data sources: "give me one pass over all rows". Solvers only talk to these.

A source offers the same few passes whatever holds the data:

- ``loss_grad(W, b)``: the loss and both gradients for every target, one fused pass;
- ``hessian_vector(V, vb)``: the loss's Hessian applied to a direction;
- ``row_blocks()``: the rows in fixed blocks, for the single-pass statistics of
  :mod:`fastlinreg.precompute`.

Only in-memory arrays (ndarray, read-only arrays, np.memmap) exist so far; streaming
files and Dask arrays will be further sources with the same methods.
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
