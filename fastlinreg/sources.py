"""Data sources: "give me one pass over all rows". Solvers only talk to these.

Only in-memory arrays (ndarray, read-only arrays, np.memmap) exist so far; streaming
files and Dask arrays will be further sources with the same two methods.
"""

from __future__ import annotations

import numpy as np

from . import kernels


class InMemorySource:
    """X (n, d) and targets Y (n, k) held in (or mapped into) memory.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        Used as it is: never copied, never written.
    Y : ndarray of shape (n_samples, n_targets)
        Converted to X's dtype, column-major so each target is contiguous (a copy of
        Y only when it is not already so).
    parallel : bool or None
        Passed to the kernels.
    """

    def __init__(self, X: np.ndarray, Y: np.ndarray, *, parallel: bool | None = None):
        self.X = X
        self.Y = np.asfortranarray(Y, dtype=X.dtype)
        self.parallel = parallel
        self._zeros: np.ndarray | None = None

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_targets(self) -> int:
        return int(self.Y.shape[1])

    def loss_grad(self, W: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """MSE over all n * k entries and the gradients of each target's MSE.

        W (d, k) and b (k,) float64. Returns (loss, G (d, k), gb (k,)). One fused kernel
        pass per target: with one target, exactly one pass over X.
        """
        k = self.n_targets
        G = np.empty_like(W)
        gb = np.empty(k)
        loss = 0.0
        for t in range(k):
            loss_t, G[:, t], gb[t] = kernels.loss_grad(
                self.X, self.Y[:, t], W[:, t], b[t], parallel=self.parallel
            )
            loss += loss_t
        return loss / k, G, gb

    def hessian_vector(self, v: np.ndarray, vb: float) -> tuple[np.ndarray, float]:
        """The MSE's Hessian times (v, vb): 2/n [X 1]^T [X 1] (v, vb), in one pass.

        That is the gradient at (v, vb) of the MSE against an all-zero target.
        """
        if self._zeros is None:
            self._zeros = np.zeros(self.n_samples, dtype=self.X.dtype)
        _, hv, hvb = kernels.loss_grad(self.X, self._zeros, v, vb, parallel=self.parallel)
        return hv, hvb
