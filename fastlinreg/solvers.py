"""Solver loops: they take a data source and return a :class:`SolverResult`.

A solver never knows where the data lives; it asks the source for passes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .sources import InMemorySource

# A loss that rises by more than this fraction from one epoch to the next cannot be
# rounding (the loss is evaluated to ~1e-13 relative): plain gradient descent on a
# quadratic decreases the loss monotonically for every step below 2/L, so a rise
# means the step is unstable and the iterates will blow up.
_RISE_TOLERANCE = 1e-7
# ... unless the loss is already at the rounding floor of an exact fit.
_FLOOR_FRACTION = 1e-20


class DivergenceError(ValueError):
    """Gradient descent diverged: its loss rose or became non-finite."""


@dataclass
class SolverResult:
    """What a solver found. coef (d, k) and intercept (k,) are float64."""

    coef: np.ndarray
    intercept: np.ndarray
    loss_history: np.ndarray
    n_iter: int
    converged: bool
    learning_rate: float


def lipschitz_constant(
    source: InMemorySource, fit_intercept: bool, *, max_iter: int = 100, rtol: float = 1e-3
) -> float:
    """Largest eigenvalue of the MSE's Hessian, by power iteration through the kernels.

    The Rayleigh quotient approaches it from below; stopping at a relative change of
    ``rtol`` gives a value well above L/2, so a step of 1/estimate stays below 2/L.
    """
    rng = np.random.default_rng(0)  # fixed: fits are deterministic
    v = rng.standard_normal(source.n_features)
    vb = float(rng.standard_normal()) if fit_intercept else 0.0
    estimate = 0.0
    for _ in range(max_iter):
        norm = np.sqrt(v @ v + vb * vb)
        if norm == 0.0:
            return 0.0
        v, vb = v / norm, vb / norm
        hv, hvb = source.hessian_vector(v, vb)
        if not fit_intercept:
            hvb = 0.0
        previous, estimate = estimate, float(v @ hv + vb * hvb)
        v, vb = hv, hvb
        if abs(estimate - previous) <= rtol * estimate:
            break
    return estimate


def _check_divergence(loss: float, history: list[float], epoch: int, lr: float, auto: bool):
    if history:
        floor = _FLOOR_FRACTION * history[0]
        rose = loss - history[-1] > _RISE_TOLERANCE * history[-1] + floor
    else:
        rose = False
    if np.isfinite(loss) and not rose:
        return
    what = (
        "became non-finite"
        if not np.isfinite(loss)
        else (f"rose from {history[-1]:.6g} to {loss:.6g}")
    )
    if auto:
        raise DivergenceError(
            f"Gradient descent diverged at epoch {epoch}: the loss {what} with the "
            f"automatic learning rate {lr:.6g}. This is numerical trouble in the data "
            "(values near the float range?); please report it."
        )
    raise DivergenceError(
        f"Gradient descent diverged at epoch {epoch}: the loss {what} with "
        f"learning_rate={lr!r}, which is too large for this data. "
        "Use learning_rate='auto' (a step that cannot diverge) or a smaller rate."
    )


def gd(
    source: InMemorySource,
    coef: np.ndarray,
    intercept: np.ndarray,
    *,
    learning_rate: float | str,
    max_iter: int,
    tol: float | None,
    fit_intercept: bool,
) -> SolverResult:
    """Full-batch gradient descent, the tutorial's algorithm.

    Each epoch: one fused pass (loss and gradients at the current point), record the
    loss, update ``coef -= lr * grad_w`` and ``intercept -= lr * grad_b``.

    Parameters
    ----------
    source : InMemorySource
    coef : ndarray of shape (n_features, n_targets)
        Starting weights (not modified).
    intercept : ndarray of shape (n_targets,)
        Starting bias (not modified); kept fixed when ``fit_intercept`` is False.
    learning_rate : float or "auto"
        "auto" is 1/L with L the largest eigenvalue of the Hessian (power iteration).
    max_iter : int
        Most epochs to run.
    tol : float or None
        Stop when the largest change of a parameter in an epoch is at most
        ``tol`` times the largest parameter magnitude. None runs exactly ``max_iter``.
    fit_intercept : bool

    Raises
    ------
    DivergenceError
        When the loss rises or turns non-finite (the step is too large).
    """
    auto = isinstance(learning_rate, str)
    if auto:
        L = lipschitz_constant(source, fit_intercept)
        lr = 1.0 / L if L > 0.0 else 1.0
    else:
        lr = float(learning_rate)
    W = np.array(coef, dtype=np.float64)
    b = np.array(intercept, dtype=np.float64)
    history: list[float] = []
    converged = False
    for epoch in range(max_iter):
        loss, G, gb = source.loss_grad(W, b)
        _check_divergence(loss, history, epoch, lr, auto)
        history.append(loss)
        step_w = lr * G
        W = W - step_w
        largest_step = float(np.max(np.abs(step_w), initial=0.0))
        largest_param = float(np.max(np.abs(W), initial=0.0))
        if fit_intercept:
            step_b = lr * gb
            b = b - step_b
            largest_step = max(largest_step, float(np.max(np.abs(step_b))))
            largest_param = max(largest_param, float(np.max(np.abs(b))))
        if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
            _check_divergence(np.inf, history, epoch + 1, lr, auto)
        if tol is not None and largest_step <= tol * largest_param:
            converged = True
            break
    n_iter = len(history)
    if tol is not None and not converged:
        warnings.warn(
            f"Gradient descent stopped at max_iter={max_iter} before reaching "
            f"tol={tol} (last relative step {largest_step / max(largest_param, 1e-300):.3g}). "
            "Increase max_iter, or scale the features.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return SolverResult(W, b, np.asarray(history), n_iter, converged, lr)
