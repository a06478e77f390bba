"""One pass over the rows that makes every later epoch cost O(d²) instead of O(nd).

The pass computes the triangular factor R of the centred, weighted data [X Y]
(Q R = sqrt(s) * ([X Y] - mean), a "tall-skinny QR" block by block) together with the
weighted column means and the total weight S. Everything a solver needs follows exactly:

    sum_i s_i (y_i - x_i w - b)² = |R_xx w - R_xy|² + |R_yy|² + S (ȳ - b - x̄ w)²

R is the square root of the centred Gram matrix XᵀX: it carries the same information
without squaring the condition number, so the loss above is a sum of squares (no
cancellation, exact to rounding) and the exact solver keeps the accuracy of a QR
least-squares solve (the normal equations lose half the digits: 0 on NIST Filip).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice

import numba
import numpy as np
from threadpoolctl import threadpool_limits


@dataclass
class Factor:
    """R (p, p) upper triangular of the centred, weighted [X Y], p = d + k; their
    weighted means (p,); the total weight S; d."""

    R: np.ndarray
    mean: np.ndarray
    total_weight: float
    n_features: int


def _centred_block(A: np.ndarray, weights) -> tuple[np.ndarray, np.ndarray, float]:
    """sqrt(s) * (A - mean) in place of A (a float64 copy), its weighted mean and weight."""
    if weights is None:
        weight = float(A.shape[0])
        mean = A.mean(axis=0)
        A -= mean
        return A, mean, weight
    weight = float(weights.sum())
    mean = weights @ A / weight if weight > 0 else np.zeros(A.shape[1])
    A -= mean
    A *= np.sqrt(weights)[:, None]
    return A, mean, weight


def _r_factor(A: np.ndarray) -> np.ndarray:
    """The (p, p) triangular factor of A (m, p), zero-padded when m < p."""
    p = A.shape[1]
    R = np.linalg.qr(A, mode="r")
    if R.shape[0] < p:
        R = np.vstack([R, np.zeros((p - R.shape[0], p))])
    return R


def _one_pass(source, block_statistic, merge):
    """Per-block (statistic, mean, weight) merged in block order (the same result
    whatever the threads), with the mean shift of each merge passed to ``merge``.

    Merging two blocks' statistics with the row sqrt(S_a S_b / (S_a + S_b)) (mean_a -
    mean_b) gives the statistic of the union centred at the union's mean (the
    parallel-variance update of Chan, Golub and LeVeque, in square-root form).
    """
    statistic = mean = None
    total = 0.0
    for statistic_b, mean_b, weight_b in _each_block(source, block_statistic):
        if weight_b == 0.0:
            continue
        if statistic is None:
            statistic, mean, total = statistic_b, mean_b, weight_b
            continue
        both = total + weight_b
        shift = np.sqrt(total * weight_b / both) * (mean - mean_b)
        statistic = merge(statistic, statistic_b, shift)
        mean = mean + (mean_b - mean) * (weight_b / both)
        total = both
    if statistic is None:
        raise ValueError("sample_weight sums to zero: there is nothing to fit")
    return statistic, mean, total


def _each_block(source, block_statistic) -> Iterator[tuple[np.ndarray, np.ndarray, float]]:
    """block_statistic of every block, in block order, computed on numba's threads
    (one unless the source is parallel), each with a single BLAS thread: OpenBLAS's own
    two threads made LAPACK's QR of a 4096 x 21 block 60x slower on our 2-core machine
    (benchmarks/bench_precompute.py). Each block's result does not depend on the
    thread that computed it, so neither does the merged result."""
    workers = numba.get_num_threads() if source.parallel is not False else 1
    blocks = source.row_blocks()
    with threadpool_limits(1), ThreadPoolExecutor(workers) as pool:
        while chunk := list(islice(blocks, 4 * workers)):  # bounded memory
            yield from pool.map(lambda block: block_statistic(*block), chunk)


def triangular_factor(source) -> Factor:
    """One pass over ``source.row_blocks()``: the :class:`Factor` of all its rows."""

    def block_factor(X, Y, weights):
        A, mean, weight = _centred_block(np.column_stack([X, Y]).astype(np.float64), weights)
        return _r_factor(A), mean, weight

    def merge(R, R_b, shift):
        return _r_factor(np.vstack([R, R_b, shift]))

    R, mean, total = _one_pass(source, block_factor, merge)
    return Factor(R, mean, total, source.n_features)


class PrecomputedSource:
    """A source whose passes read the :class:`Factor` instead of the data: O(d² k) each.

    It answers ``loss_grad`` and ``hessian_vector`` like the data source it was
    computed from (the same numbers, to rounding), so a solver cannot tell them apart.
    """

    #: A pass costs O(d²): solvers may afford exact curvature and many iterations.
    cheap_passes = True

    def __init__(self, factor: Factor):
        d = factor.n_features
        self.factor = factor
        self.R_xx = factor.R[:d, :d]
        self.R_xy = factor.R[:d, d:]  # (d, k)
        # |R_yy[:, t]|² is the part of target t's squares that no w can explain.
        self.unexplained = np.sum(factor.R[d:, d:] ** 2, axis=0)
        self.x_mean = factor.mean[:d]
        self.y_mean = factor.mean[d:]
        self.n_features = d
        self.n_targets = factor.R.shape[0] - d

    def loss_grad(self, W: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """As :meth:`fastlinreg.sources.InMemorySource.loss_grad`, from the factor."""
        S = self.factor.total_weight
        E = self.R_xx @ W.T - self.R_xy  # (d, k)
        offset = self.y_mean - b - W @ self.x_mean  # mean residual of each target
        squares = np.sum(E**2, axis=0) + self.unexplained + S * offset**2
        gb = -2.0 * offset
        G = (2.0 / S) * (self.R_xx.T @ E).T + gb[:, None] * self.x_mean
        return float(np.sum(squares) / (S * self.n_targets)), G, gb

    def hessian_vector(self, V: np.ndarray, vb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The MSE's Hessian times (V, vb), V (k, d), vb (k,), from the factor."""
        S = self.factor.total_weight
        hb = 2.0 * (vb + V @ self.x_mean)
        hv = (2.0 / S) * (self.R_xx.T @ (self.R_xx @ V.T)).T + hb[:, None] * self.x_mean
        return hv, hb


def feature_scaling(source, fit_intercept: bool, factor: Factor | None = None):
    """(center, scale) of the columns for :class:`fastlinreg.objective.Objective`.

    center is the weighted mean when an intercept is fitted (0 otherwise: b stays
    fixed, so x cannot be shifted); scale is the root mean square of x - center.
    Read from ``factor`` when there is one, otherwise one pass over the data.
    Constant (zero-spread) columns keep scale 1.
    """
    if factor is None:
        factor = _column_factor(source)
    d = factor.n_features
    S = factor.total_weight
    centred_squares = np.sum(factor.R[:d, :d] ** 2, axis=0)
    if fit_intercept:
        center = factor.mean[:d].copy()
        squares = centred_squares
    else:
        center = np.zeros(d)
        squares = centred_squares + S * factor.mean[:d] ** 2
    scale = np.sqrt(squares / S)
    scale[scale == 0.0] = 1.0
    return center, scale


def _column_factor(source) -> Factor:
    """The diagonal of a :class:`Factor` of X alone (column norms, means): one pass."""

    def block_norms(X, Y, weights):
        A, mean, weight = _centred_block(X.astype(np.float64), weights)
        return np.sqrt(np.sum(A**2, axis=0)), mean, weight

    def merge(norms, norms_b, shift):
        return np.sqrt(norms**2 + norms_b**2 + shift**2)

    norms, mean, total = _one_pass(source, block_norms, merge)
    return Factor(np.diag(norms), mean, total, source.n_features)
