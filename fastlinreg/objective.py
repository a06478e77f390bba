"""What the iterative solvers minimise, in the coordinates they iterate in.

For each target t (mean over targets; S the total row weight, s_i the row weights):

    F(w, b) = 1/S sum_i s_i (y_i - x_i w - b)²  +  alpha (1 - l1_ratio) |w|²
              + 2 alpha l1_ratio |w|_1

i.e. scikit-learn's ElasticNet objective times two, so that with alpha=0 it is the mean
squared error of the tutorial. The solvers iterate on scaled coordinates
theta = w * scale, beta = b + w @ center (feature scaling: every column then has unit
spread, so badly scaled columns no longer force a tiny step), and report w and b.
"""

from __future__ import annotations

import numpy as np

# Power iteration also stops when λ has not grown by 1e-6 (relative) in this many steps.
_PLATEAU = 10

# An explicit Hessian's eigenvalues carry absolute errors of about eps * L each.
_RESOLVABLE_FRACTION = 1e3 * float(np.finfo(np.float64).eps)


class Objective:
    """F in solver coordinates (theta (k, d), beta (k,)), over a source's passes.

    Parameters
    ----------
    source : InMemorySource or PrecomputedSource
    center, scale : ndarray of shape (n_features,)
        x is iterated on as (x - center) / scale; zeros and ones turn scaling off.
    fit_intercept : bool
        When False, beta's gradient is zero: b stays where it started.
    alpha, l1_ratio : float
        The penalty; the L1 part is applied by :meth:`prox`, not in the gradient.
    """

    def __init__(self, source, center, scale, *, fit_intercept, alpha, l1_ratio):
        self.source = source
        self.center = center
        self.scale = scale
        self.fit_intercept = fit_intercept
        self.l2 = alpha * (1.0 - l1_ratio)
        self.l1 = 2.0 * alpha * l1_ratio

    def to_original(self, theta, beta):
        """(w, b) from solver coordinates."""
        W = theta / self.scale
        return W, beta - W @ self.center

    def to_solver(self, W, b):
        """Solver coordinates from (w, b)."""
        return W * self.scale, b + W @ self.center

    def _gradient_to_solver(self, G, gb):
        # Chain rule through w = theta / scale, b = beta - w @ center.
        g_theta = (G - gb[:, None] * self.center) / self.scale
        return g_theta, (gb if self.fit_intercept else np.zeros_like(gb))

    def smooth_loss_grad(self, theta, beta):
        """(F without its L1 part, gradient in solver coordinates): one pass."""
        W, b = self.to_original(theta, beta)
        loss, G, gb = self.source.loss_grad(W, b)
        loss += self.l2 * float(np.sum(W**2)) / W.shape[0]
        g_theta, g_beta = self._gradient_to_solver(G + 2.0 * self.l2 * W, gb)
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
        (d + 1)² matrix; otherwise L comes from power iteration and mu is None.
        """
        d = self.center.shape[0]
        n_params = d + 1 if self.fit_intercept else d
        if self.source.cheap_passes:
            H = np.empty((n_params, n_params))
            for j in range(n_params):
                e = np.zeros(d + 1)
                e[j] = 1.0
                g_theta, g_beta = self.hessian_vector(e[None, :d], e[d:])
                H[:, j] = np.concatenate([g_theta[0], g_beta])[:n_params]
            eigenvalues = np.linalg.eigvalsh((H + H.T) / 2.0)
            L = float(eigenvalues[-1])
            # Eigenvalues within rounding of zero belong to directions no step moves
            # along (duplicated or constant columns): the smallest curvature that
            # governs convergence is the smallest one above them.
            resolved = eigenvalues[eigenvalues > _RESOLVABLE_FRACTION * n_params * L]
            return L, float(resolved[0]) if resolved.size else None
        return self._power_iteration(d), None

    def _power_iteration(self, d, *, max_iter: int = 100, rtol: float = 1e-3) -> float:
        """Largest Hessian eigenvalue by power iteration (one pass per step).

        Stops when the direction is an eigenvector to ``rtol`` (|Hv - λv| <= rtol λ), not
        when λ merely changes little: from a start dominated by a lower eigenvector λ
        can stall there for a while (it did at 2.0 for a Hessian whose L was larger,
        and "agd" then diverged). Two (nearly) equal top eigenvalues, though, keep the
        residual up for hundreds of passes (300 took 16 s of a 17 s fit of 3.4M rows)
        while λ has long settled near L: so it also stops once λ has not grown by 1e-6
        in _PLATEAU steps, after the first 2 * _PLATEAU.
        """
        rng = np.random.default_rng(0)  # fixed: fits are deterministic
        v = rng.standard_normal((1, d))
        vb = rng.standard_normal(1) if self.fit_intercept else np.zeros(1)
        estimates = [0.0]
        for step in range(max_iter):
            norm = np.sqrt(np.sum(v**2) + np.sum(vb**2))
            if norm == 0.0:
                break
            v, vb = v / norm, vb / norm
            hv, hvb = self.hessian_vector(v, vb)
            estimate = max(estimates[-1], float(np.sum(v * hv) + np.sum(vb * hvb)))
            estimates.append(estimate)
            residual = np.sqrt(
                np.sum((hv - estimate * v) ** 2) + np.sum((hvb - estimate * vb) ** 2)
            )
            v, vb = hv, hvb
            if residual <= rtol * estimate:
                break
            if step >= 2 * _PLATEAU and estimate - estimates[-_PLATEAU - 1] <= 1e-6 * estimate:
                break
        return estimates[-1]
