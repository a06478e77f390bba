"""What the iterative solvers minimise, in the coordinates they iterate in.

For each target t (mean over targets; S the total row weight, s_i the row weights):

    F(w, b) = 1/S sum_i s_i (y_i - x_i w - b)²  +  alpha (1 - l1_ratio) |w|²
              + 2 alpha l1_ratio |w|_1

i.e. scikit-learn's ElasticNet objective times two, so that with alpha=0 it is the mean
squared error of the tutorial. The solvers iterate on scaled coordinates
theta = w * scale, beta = b + w @ center (:func:`feature_scaling`: every column then has
unit spread, so badly scaled columns no longer force a tiny step), and report w and b.
Where y is beyond the safe range (1e-170, 1e+160: its squares, the loss, would
underflow or overflow) the source's passes read y / y_scale, y_scale a power of two (its
``y_scale``): theta and beta are then divided by it, and the losses by its square.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .sources import _factor as factor_pass
from .sources._factor import CONSTANT_COLUMN_ROUNDINGS, Factor, centring_rounding
from .sources._powers_of_two import column_norms, power_of_two_exponents
from .sources.base import DataSource, PassSource, RowSquaresSource, refuse_bad_values

# L from passes over the data: an explicit Hessian up to this many parameters, Lanczos
# with this many vectors beyond.
_EXPLICIT_MAX = 8
_LANCZOS_VECTORS = 12

# An explicit Hessian's eigenvalues carry absolute errors of about eps * L each.
_RESOLVABLE_FRACTION = 1e3 * float(np.finfo(np.float64).eps)


class Objective:
    """F in solver coordinates (theta (k, d), beta (k,)), over a source's passes.

    Parameters
    ----------
    source : PassSource
        Any source's passes (:mod:`fastlinreg.sources`: InMemorySource, FileSource,
        DaskSource, or the PrecomputedSource of their factor, on which the solvers use
        :meth:`factor_arrays` too), or a ``rows(start, stop)`` piece of one (sgd).
    center, scale : ndarray of shape (n_features,)
        x is iterated on as (x - center) / scale; zeros and ones turn scaling off.
    fit_intercept : bool
        When False, beta's gradient is zero: b stays where it started.
    alpha, l1_ratio : float
        The penalty; the L1 part is applied by :meth:`prox`, not in the gradient.
    constant : ndarray of shape (n_features,) of bool, or None
        Columns without spread, centred (see :func:`feature_scaling`): the intercept
        absorbs them, so the data's part of their gradient is zero. A pass computes it as
        rounding (about eps * |x| * sum |r|), on which agd does not settle: it is set to
        zero; the penalty's part stays.

    Attributes
    ----------
    y_scale : float
        The source's: a power of two, theta and beta are in units of y / y_scale, and so
        are the losses and gradients of every method (times 1 / y_scale²); 1 for
        ordinary y.
    """

    def __init__(
        self, source: PassSource, center, scale, *, fit_intercept, alpha, l1_ratio, constant=None
    ):
        self.source: Any = source  # a PrecomputedSource's factor arrays are read too
        self.center = center
        self.scale = scale
        self.constant = constant if constant is not None and constant.any() else None
        self.fit_intercept = fit_intercept
        self.y_scale = float(source.y_scale)
        self.l2 = alpha * (1.0 - l1_ratio)
        # In units of y / y_scale the loss is divided by y_scale², w by y_scale: the L1
        # term (linear in w) by y_scale only.
        self.l1 = 2.0 * alpha * l1_ratio / self.y_scale

    def unscaled(self) -> bool:
        """Whether the solver iterates on X as it is. Standardized columns all have the
        same curvature: a tiny one is then a constant column's rounding, not a scale."""
        return not np.any(self.center) and bool(np.all(self.scale == 1.0))

    def to_original(self, theta, beta):
        """(w, b) from solver coordinates."""
        W, b = self._unscaled(theta, beta)
        return W * self.y_scale, b * self.y_scale

    def _unscaled(self, theta, beta):
        """(w, b) / y_scale from solver coordinates."""
        W = theta / self.scale
        return W, beta - W @ self.center

    def to_solver(self, W, b):
        """Solver coordinates from (w, b)."""
        W, b = W / self.y_scale, b / self.y_scale
        return W * self.scale, b + W @ self.center

    def loss_to_original(self, loss):
        """A loss (or losses) in solver units, in y's own (times y_scale²): inf or 0
        where that is beyond float64 (y_scale² alone may be)."""
        with np.errstate(over="ignore", under="ignore"):
            return loss * self.y_scale * self.y_scale

    def _gradient_to_solver(self, G, gb):
        # Chain rule through w = theta / scale, b = beta - w @ center.
        g_theta = (G - gb[:, None] * self.center) / self.scale
        return g_theta, (gb if self.fit_intercept else np.zeros_like(gb))

    def smooth_loss_grad(self, theta, beta):
        """(F without its L1 part, gradient in solver coordinates): one pass."""
        W, b = self._unscaled(theta, beta)
        loss, G, gb = self.source.loss_grad(W, b)
        if self.l2 > 0.0:  # W² may overflow where 1/scale is huge: 0 * inf is NaN
            loss += self.l2 * float(np.sum(W**2)) / W.shape[0]
        g_theta, g_beta = self._gradient_to_solver(G + 2.0 * self.l2 * W, gb)
        if self.constant is not None:
            g_theta[:, self.constant] = (2.0 * self.l2 * W / self.scale)[:, self.constant]
        return loss, g_theta, g_beta

    def l1_penalty(self, theta) -> float:
        return self.l1 * float(np.sum(np.abs(theta / self.scale))) / theta.shape[0]

    def prox(self, theta, step):
        """The proximal step of the L1 part: soft-thresholding of w = theta / scale."""
        if self.l1 == 0.0:
            return theta
        threshold = step * self.l1 / self.scale
        return np.sign(theta) * np.maximum(np.abs(theta) - threshold, 0.0)

    def hessian_vector(self, v_theta, v_beta):
        """The smooth part's Hessian times a direction, in solver coordinates."""
        V = v_theta / self.scale
        hv, hb = self.source.hessian_vector(V, v_beta - V @ self.center)
        return self._gradient_to_solver(hv + 2.0 * self.l2 * V, hb)

    def curvature(self) -> tuple[float, float | None]:
        """(L, mu): the largest and smallest eigenvalue of one target's Hessian.

        With cheap passes (a precomputed factor) both are exact, from the explicit
        (d + 1)² matrix; otherwise L comes from Lanczos (or the explicit Hessian of up
        to _EXPLICIT_MAX parameters) on passes over the data, and mu is None.
        """
        d = self.center.shape[0]
        n_params = d + 1 if self.fit_intercept else d
        if self.source.cheap_passes:
            # Every unit direction at once, as the rows of a many-target direction.
            directions = np.eye(n_params, d + 1)
            g_theta, g_beta = self.hessian_vector(directions[:, :d], directions[:, d])
            H = np.column_stack([g_theta, g_beta])[:, :n_params].T
            eigenvalues = np.linalg.eigvalsh((H + H.T) / 2.0)
            L = float(eigenvalues[-1])
            if self.unscaled() and (_too_flat_to_resolve(H, L) or self._squares_underflow(H)):
                return L, 0.0
            # Eigenvalues within rounding of zero belong to directions no step moves
            # along (duplicated or constant columns): the smallest curvature that
            # governs convergence is the smallest one above them.
            resolved = eigenvalues[eigenvalues > _RESOLVABLE_FRACTION * n_params * L]
            return L, float(resolved[0]) if resolved.size else None
        try:
            L, mu = self._largest_eigenvalue(d)
        except np.linalg.LinAlgError:  # an infinite Hessian, as below
            L, mu = np.inf, None
        if not np.isfinite(L):  # finite data (checked by the first pass) that overflows
            refuse_bad_values(self.source)  # the source's own error, naming the value
        return L, mu

    def _squares_underflow(self, H) -> bool:
        """Whether a column of the factor has data (a norm above 0) whose curvature
        H[j, j], its mean square, underflowed to 0 (columns of 1e-170 unscaled): no step
        of 1/L resolves it either. Scaled columns have unit curvature."""
        source = self.source
        d = source.n_features
        columns = np.vstack([source.R_xx, np.sqrt(source.factor.total_weight) * source.x_mean])
        return bool(np.any((column_norms(columns) > 0.0) & (np.diag(H)[:d] == 0.0)))

    def factor_arrays(self) -> dict[str, Any]:
        """The quadratic of a PrecomputedSource in solver coordinates, as the arrays of
        ``fastlinreg._jit.factor_epochs`` (theta = w * scale, beta = b + w @ center):
        the residual R_xx w - R_xy is A theta - R_xy with A = R_xx / scale, and the mean
        residual ybar - b - w @ x_mean is ybar - beta - c @ theta, c = (x_mean - center)
        / scale."""
        source = self.source
        inv_scale = 1.0 / self.scale
        data_columns = np.ones(self.scale.shape[0], dtype=np.bool_)
        if self.constant is not None:
            data_columns[self.constant] = False
        return {
            "A": np.ascontiguousarray(source.R_xx * inv_scale),
            "At": np.ascontiguousarray((source.R_xx * inv_scale).T),
            "Rxy": np.ascontiguousarray(source.R_xy),
            "unexplained": np.ascontiguousarray(source.unexplained, dtype=np.float64),
            "ybar": np.ascontiguousarray(source.y_mean, dtype=np.float64),
            "c": (source.x_mean - self.center) * inv_scale,
            "inv_scale": inv_scale,
            "data_columns": data_columns,
            "S": float(source.factor.total_weight),
            "l2": float(self.l2),
            "l1": float(self.l1),
            "fit_intercept": bool(self.fit_intercept),
        }

    def largest_row_curvature(self) -> float:
        """The largest curvature of the objective over one row of positive weight (the L
        of a one-row mini-batch): 2 (|x̃|² + 1) + 2 l2 max(1 / scale²), x̃ the row in
        solver coordinates (the 1 with an intercept). One pass over the source's blocks.
        """
        if isinstance(self.source, RowSquaresSource):  # sparse rows, not densified
            largest = self.source.largest_row_square(self.center, self.scale)
        else:
            largest = 0.0
            for X, _, weights in self.source.row_blocks():
                rows = (np.asarray(X, dtype=np.float64) - self.center) / self.scale
                squares = np.einsum("ij,ij->i", rows, rows)
                if weights is not None:
                    squares = squares[weights > 0.0]
                largest = max(largest, float(np.max(squares, initial=0.0)))
        intercept = 1.0 if self.fit_intercept else 0.0
        # Only with a penalty: 1/scale² overflows for tiny columns, and 0 * inf is NaN.
        penalty = 2.0 * self.l2 * float(np.max(1.0 / self.scale**2)) if self.l2 > 0.0 else 0.0
        return 2.0 * (largest + intercept) + penalty

    def _largest_eigenvalue(self, d: int) -> tuple[float, float | None]:
        """(L, mu) of the Hessian from Hessian-vector products (one pass over the data
        each); mu is None (not estimated), or 0.0 when :func:`_too_flat_to_resolve`.

        Up to _EXPLICIT_MAX parameters the Hessian is built column by column and L is
        exact. Beyond, Lanczos (ARPACK's eigsh from a fixed start: deterministic) finds
        it in a dozen or so passes. Not power iteration: its Rayleigh quotient can stall
        on a lower eigenvalue (and agd then diverges), and its residual takes many
        passes to vanish on clustered spectra.
        """
        n_params = d + 1 if self.fit_intercept else d

        def matvec(x):
            x = np.asarray(x, dtype=np.float64).ravel()
            vb = x[d:] if self.fit_intercept else np.zeros(1)
            g_theta, g_beta = self.hessian_vector(x[None, :d], vb)
            return np.concatenate([g_theta[0], g_beta])[:n_params]

        if n_params <= _EXPLICIT_MAX:
            H = np.column_stack([matvec(column) for column in np.eye(n_params)])
            L = float(np.linalg.eigvalsh((H + H.T) / 2.0)[-1])
            flat = _too_flat_to_resolve(H, L) or _underflowed_curvature(H)
            return L, 0.0 if self.unscaled() and flat else None
        from scipy.sparse.linalg import LinearOperator, eigsh

        operator = LinearOperator((n_params, n_params), matvec=matvec, dtype=np.float64)
        start = np.random.default_rng(0).standard_normal(n_params)
        ncv = min(n_params, _LANCZOS_VECTORS)
        (L,) = eigsh(
            operator, k=1, which="LA", v0=start, ncv=ncv, tol=1e-4, return_eigenvectors=False
        )
        return float(L), None


def _underflowed_curvature(H: np.ndarray) -> bool:
    """Whether a parameter's own curvature H[j, j] is 0 while it is coupled to another
    (H[i, j] != 0): its column has data whose squares underflowed (columns of 1e-170,
    unscaled; their product with the intercept's column of ones does not underflow), and
    no step of 1/L moves it. A column of zeros has a whole column of zeros in H. What
    :meth:`Objective._squares_underflow` finds from a factor's column norms, found here
    without a pass of its own."""
    return bool(np.any((np.diag(H) == 0.0) & np.any(H != 0.0, axis=0)))


def _too_flat_to_resolve(H: np.ndarray, L: float) -> bool:
    """Whether a parameter has a curvature of its own (H[j, j] > 0) below the rounding
    of L: its column's scale is so far from the others' that a step of 1/L moves it by
    nothing, and no number of epochs converges (e.g. columns of 1e20 next to the
    intercept, unscaled). A zero column (H[j, j] = 0) is only a direction without data.
    """
    diagonal = np.diag(H)
    return bool(np.any((diagonal > 0.0) & (diagonal < _RESOLVABLE_FRACTION * len(H) * L)))


def feature_scaling(
    source: DataSource, fit_intercept: bool, factor: Factor | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(center, scale, constant) of the columns for :class:`Objective`.

    center is the weighted mean when an intercept is fitted (0 otherwise: b stays
    fixed, so x cannot be shifted); scale is the root mean square of x - center.
    Read from ``factor`` when there is one, otherwise from one pass over the data
    (:func:`fastlinreg.sources._factor.column_factor`). constant (bool, (n_features,))
    marks the columns without spread, which keep scale 1.
    """
    if factor is None:
        factor = factor_pass.column_factor(source)
    d = factor.n_features
    S = factor.total_weight
    # Squares of each column scaled by a power of two 2**e (e = 0 for ordinary columns,
    # bit for bit the plain sums): columns of 1e-170 or 1e+160 get their true scale.
    R = factor.R[:d, :d]
    mean = factor.mean[:d]
    exponents = power_of_two_exponents(np.vstack([R, mean]))
    scaled_R, scaled_mean = np.ldexp(R, -exponents), np.ldexp(mean, -exponents)
    centred_squares = np.sum(scaled_R**2, axis=0)
    if fit_intercept:
        center = mean.copy()
        squares = centred_squares
        # A constant column centred is its rounding: dividing by that would blow it up.
        norms = np.ldexp(np.sqrt(squares), exponents)
        squares[norms <= CONSTANT_COLUMN_ROUNDINGS * centring_rounding(factor)] = 0.0
    else:
        center = np.zeros(d)
        squares = centred_squares + S * scaled_mean**2
    # Finite: the factor's column norms are within squares_limit (checked by its pass).
    scale = np.ldexp(np.sqrt(squares / S), exponents)
    constant = scale == 0.0
    scale[constant] = 1.0
    return center, scale, constant
