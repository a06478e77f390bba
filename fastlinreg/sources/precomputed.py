"""The triangular factor as a source: passes that cost O(d² k) instead of a read of X.

Once :func:`fastlinreg.sources._factor.triangular_factor` has made its one pass, a
:class:`PrecomputedSource` stands in for the rows: it answers ``loss_grad`` and
``hessian_vector`` like the data source the factor was computed from (the same numbers,
to rounding), so a solver cannot tell them apart.
"""

from __future__ import annotations

import numpy as np

from ._factor import scaled_targets, target_scale
from ._tsqr import Factor


class PrecomputedSource:
    """The passes of a fit, read from a :class:`fastlinreg.sources._factor.Factor`.

    It offers the :class:`fastlinreg.sources.base.PassSource` part of the source
    protocol: the factor has no rows to count, give in blocks or check (they were
    checked when it was made).

    Parameters
    ----------
    factor : Factor
        Of [X Y], in y's own units.
    y_scale : float or None
        None: chosen as an :class:`fastlinreg.sources.InMemorySource` chooses it, a power
        of two where y is beyond the safe range (1e-170, 1e+160), 1.0 otherwise; the
        passes then read the factor of Y / y_scale. A number: the factor's targets are
        taken as already divided by it (1.0: passes in y's own units).

    Attributes
    ----------
    factor : Factor
        The factor the passes read (of Y / y_scale).
    y_scale : float
    """

    #: A pass costs O(d²): solvers may afford exact curvature and many iterations.
    cheap_passes = True

    def __init__(self, factor: Factor, *, y_scale: float | None = None):
        if y_scale is None:
            y_scale = target_scale(factor)
            if y_scale != 1.0:
                factor = scaled_targets(factor, y_scale)
        self.y_scale = float(y_scale)
        d = factor.n_features
        self.factor = factor
        # C order whatever order the factor came in (LAPACK's Fortran order, or C for a
        # copy scaled by y_scale): BLAS takes another path for each layout, rounding
        # differently (1 ulp with NumPy 2.4), and a pass must not depend on it.
        self.R_xx = np.ascontiguousarray(factor.R[:d, :d])
        self.R_xy = np.ascontiguousarray(factor.R[:d, d:])  # (d, k)
        # |R_yy[:, t]|² is the part of target t's squares that no w can explain: inf (or
        # 0) for y beyond the safe range with y_scale 1.0.
        with np.errstate(over="ignore", under="ignore"):
            self.unexplained = np.sum(factor.R[d:, d:] ** 2, axis=0)
        self.x_mean = factor.mean[:d]
        self.y_mean = factor.mean[d:]
        self.n_features = d
        self.n_targets = factor.R.shape[0] - d
        self.total_weight = factor.total_weight

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
