"""Solver loops: they take a data source and return a :class:`SolverResult`.

A solver never knows where the data lives; it asks the source for passes.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._objective import Objective
from .errors import DivergenceError
from .sources._factor import (
    CONSTANT_COLUMN_ROUNDINGS,
    Factor,
    centring_rounding,
    scaled_targets,
    target_scale,
)
from .sources._powers_of_two import column_norms
from .sources.precomputed import PrecomputedSource

# A loss that rises by more than this fraction from one epoch to the next cannot be
# rounding (the loss is evaluated to ~1e-13 relative): plain gradient descent on a
# quadratic decreases the loss monotonically for every step below 2/L, so a rise
# means the step is unstable and the iterates will blow up.
_RISE_TOLERANCE = 1e-7
# ... unless the loss is already at the rounding floor of an exact fit.
_FLOOR_FRACTION = 1e-20


@dataclass(kw_only=True)
class SolverResult:
    """What a solver found, in original coordinates: coef (k, d), intercept (k,) float64."""

    coef: np.ndarray
    intercept: np.ndarray
    loss_history: np.ndarray
    n_iter: int
    converged: bool
    learning_rate: float | None = None
    rank: int | None = None
    time_history: np.ndarray | None = None  # seconds since the fit began, per loss
    stopped_by_callback: bool = False


#: callback(epoch, loss, coef (k, d), intercept (k,)) -> True to stop the fit there.
Callback = Callable[[int, float, np.ndarray, np.ndarray], object]


def _check_divergence(loss: float, history: list[float], epoch: int, lr: float, auto: bool):
    """Raise when the loss is non-finite or rose (callers check only after plain steps)."""
    if history:
        floor = _FLOOR_FRACTION * history[0]
        rose = loss - history[-1] > _RISE_TOLERANCE * history[-1] + floor
    else:
        rose = False
    if np.isfinite(loss) and not rose:
        return
    raise _divergence(loss, history[-1] if history else np.nan, epoch, lr, auto)


def _divergence(loss: float, previous: float, epoch: int, lr: float, auto: bool):
    """The DivergenceError of a loss that rose from ``previous`` or became non-finite."""
    what = (
        "became non-finite"
        if not np.isfinite(loss)
        else (f"rose from {previous:.6g} to {loss:.6g}")
    )
    if auto:
        return DivergenceError(
            f"Gradient descent diverged at epoch {epoch}: the loss {what} with the "
            f"automatic learning rate {lr:.6g}. This is numerical trouble in the data "
            "(values near the float range?); please report it."
        )
    return DivergenceError(
        f"Gradient descent diverged at epoch {epoch}: the loss {what} with "
        f"learning_rate={lr!r}, which is too large for this data. "
        "Use learning_rate='auto' (a step that cannot diverge) or a smaller rate."
    )


def descend(
    objective: Objective,
    coef: np.ndarray,
    intercept: np.ndarray,
    *,
    accelerated: bool,
    learning_rate: float | str,
    max_iter: int,
    tol: float | None,
    n_iter_no_change: int,
    callback: Callback | None = None,
    started: float | None = None,
) -> SolverResult:
    """Gradient descent ("gd") or Nesterov's accelerated gradient descent ("agd").

    Each epoch is one pass (``objective.smooth_loss_grad``) at the current point: its
    objective goes into the loss history, then the point moves by ``-lr * gradient``
    (followed by the L1 part's proximal step). "agd" evaluates at an extrapolated point
    y = theta + momentum * (theta - theta_previous), with FISTA's momentum schedule,
    and restarts the momentum whenever it points uphill (the gradient-based adaptive
    restart of O'Donoghue and Candès, 2015): that keeps the accelerated rate on
    strongly convex problems without knowing their curvature.

    Parameters
    ----------
    objective : Objective
    coef : ndarray of shape (n_targets, n_features)
        Starting weights (not modified).
    intercept : ndarray of shape (n_targets,)
        Starting bias (not modified); kept fixed when the objective fits no intercept.
    accelerated : bool
        "agd" if True, "gd" if False.
    learning_rate : float or "auto"
        "auto" is 1/L, L the largest eigenvalue of the Hessian.
    max_iter : int
        Most epochs to run.
    tol : float or None
        Convergence: for ``n_iter_no_change`` consecutive epochs, no parameter (in the
        solver's coordinates) moved by more than ``tol`` times its own magnitude (at
        least sqrt(eps) times the largest parameter's),
        after multiplying the move by the number of steps an error of that size can
        still take to shrink: sqrt(L/mu) for "agd", L/mu for "gd". mu, the smallest
        curvature, is known exactly with a precomputed factor; on passes over the
        data it is not estimated (the factor is 1). None runs exactly ``max_iter``.
    n_iter_no_change : int
        How many consecutive epochs must meet ``tol``.
    callback : callable, optional
        Called after every epoch with (epoch, loss, coef, intercept) in original
        coordinates (the point after the epoch's update); a true return value stops
        the fit there (``converged`` stays False, and no warning is raised).
    started : float, optional
        ``time.perf_counter()`` when the fit began (default: now), for time_history.

    Raises
    ------
    DivergenceError
        When the loss turns non-finite, or rises after a plain (momentum-free) step:
        a proximal gradient step of at most 1/L cannot raise it, so the step is too
        large for the data.
    """
    auto = isinstance(learning_rate, str)
    L, mu = objective.curvature()
    if auto:
        lr = 1.0 / L if L > 0.0 else 1.0
    else:
        lr = float(learning_rate)
    started = time.perf_counter() if started is None else started
    if objective.source.cheap_passes:
        return _descend_on_factor(
            objective,
            coef,
            intercept,
            accelerated=accelerated,
            lr=lr,
            auto=auto,
            curvature=(L, mu),
            max_iter=max_iter,
            tol=tol,
            callback=callback,
            started=started,
        )
    # mu = 0: a column's scale is beyond what steps of 1/L resolve; it never converges.
    condition = 1.0 if mu is None else (L / mu if mu > 0.0 else np.inf)
    remaining_steps = np.sqrt(condition) if accelerated else condition
    theta, beta = objective.to_solver(np.array(coef, np.float64), np.array(intercept, np.float64))
    y_theta, y_beta = theta, beta
    momentum_time = 1.0
    plain_step = True  # the first step has no momentum
    history: list[float] = []
    times: list[float] = []
    quiet_epochs = 0
    converged = stopped = False
    relative_move = np.inf
    for epoch in range(max_iter):
        loss, g_theta, g_beta = objective.smooth_loss_grad(y_theta, y_beta)
        loss += objective.l1_penalty(y_theta)
        if plain_step or not np.isfinite(loss):
            _check_divergence(loss, history, epoch, lr, auto)
        history.append(loss)
        times.append(time.perf_counter() - started)
        new_theta = objective.prox(y_theta - lr * g_theta, lr)
        new_beta = y_beta - lr * g_beta
        move_theta, move_beta = new_theta - theta, new_beta - beta
        if accelerated:
            uphill = np.sum((y_theta - new_theta) * move_theta) + np.sum(
                (y_beta - new_beta) * move_beta
            )
            if uphill > 0.0:
                momentum_time = 1.0
            next_time = (1.0 + np.sqrt(1.0 + 4.0 * momentum_time**2)) / 2.0
            momentum = (momentum_time - 1.0) / next_time
            momentum_time = next_time
            plain_step = momentum == 0.0
            y_theta = new_theta + momentum * move_theta
            y_beta = new_beta + momentum * move_beta
        else:
            y_theta, y_beta = new_theta, new_beta
        theta, beta = new_theta, new_beta
        if not (np.all(np.isfinite(theta)) and np.all(np.isfinite(beta))):
            _check_divergence(np.inf, history, epoch + 1, lr, auto)
        relative_move = remaining_steps * _largest_relative(
            np.concatenate([move_theta.ravel(), move_beta]),
            np.concatenate([theta.ravel(), beta]),
        )
        quiet_epochs = quiet_epochs + 1 if tol is not None and relative_move <= tol else 0
        if tol is not None and quiet_epochs >= n_iter_no_change:
            converged = True
        stopped = _report(callback, objective, epoch, loss, theta, beta) and not converged
        if converged or stopped:
            break
    advice = "Increase max_iter, or scale the features." if np.isfinite(condition) else _FLAT
    return _finish(
        objective,
        theta,
        beta,
        np.asarray(history),
        np.asarray(times),
        learning_rate=lr,
        tol=tol,
        converged=converged,
        stopped=stopped,
        ran_out=lambda tol: _max_iter_message(
            accelerated, max_iter, tol, f"last relative move {relative_move:.3g}", advice
        ),
    )


def _report(callback, objective, epoch, loss, theta, beta) -> bool:
    """Whether ``callback`` (if any) of the epoch's loss and point, in original units,
    asks to stop."""
    if callback is None:
        return False
    W, b = objective.to_original(theta, beta)
    return bool(callback(epoch, objective.loss_to_original(loss), W, b))


def _finish(
    objective: Objective,
    theta: np.ndarray,
    beta: np.ndarray,
    losses: np.ndarray,
    times: np.ndarray,
    *,
    learning_rate: float,
    tol: float | None,
    converged: bool,
    stopped: bool,
    ran_out: Callable[[float], str] | None,
) -> SolverResult:
    """The end of an iterative fit: its result in original units, and its warning.

    ``losses`` (in the solver's units) and ``times`` hold one value per epoch. A fit
    with a ``tol`` that neither converged nor was stopped by its callback ran out of
    epochs: it warns with the ConvergenceWarning ``ran_out(tol)`` (None: never).
    """
    if tol is not None and not (converged or stopped) and ran_out is not None:
        # The warning names the estimator's line that called the loop.
        warnings.warn(ran_out(tol), ConvergenceWarning, stacklevel=4)
    W, b = objective.to_original(theta, beta)
    return SolverResult(
        coef=W,
        intercept=b,
        loss_history=objective.loss_to_original(losses),
        n_iter=len(losses),
        converged=converged,
        learning_rate=learning_rate,
        time_history=times,
        stopped_by_callback=stopped,
    )


_FLAT = (
    "The columns' scales are too far apart for unscaled steps to resolve in "
    "float64: use scale_features=True, or solver='exact'."
)


def _max_iter_message(
    accelerated: bool, max_iter: int, tol: float, detail: str, advice: str
) -> str:
    """The ConvergenceWarning of gd/agd that ran out of epochs."""
    return (
        f"{'Accelerated g' if accelerated else 'G'}radient descent stopped at "
        f"max_iter={max_iter} before reaching tol={tol} ({detail}). {advice}"
    )


# Epochs on the factor run compiled (fastlinreg._jit.factor_epochs), in calls of about
# this many multiply-adds (milliseconds), so that Ctrl-C is served between them; with a
# callback, at most _RECORDED_EPOCHS per call, each epoch's iterate kept for it.
_CHUNK_WORK = 2**22
_RECORDED_EPOCHS = 256
# A fit on the factor stops when its gradient is down to its rounding: this many eps of the
# sizes it sums (L |theta|, the gradient at 0), about what real data show; a larger margin
# costs agd digits (tests/test_nist.py). It has converged there if kappa allows tol with
# _ATTAINABLE_ROUNDINGS.
_GRADIENT_ROUNDINGS = 1.0
_ATTAINABLE_ROUNDINGS = 4.0
# ... and should the estimate be low, a bound that has not halved in this many times
# the epochs the rate needs to halve it (sqrt(kappa) for agd, kappa for gd) is at its
# floor too: rounding, not the condition number, is what stops it.
_STALL_FACTOR = 10.0


def _descend_on_factor(
    objective: Objective,
    coef: np.ndarray,
    intercept: np.ndarray,
    *,
    accelerated: bool,
    lr: float,
    auto: bool,
    curvature: tuple[float, float | None],
    max_iter: int,
    tol: float | None,
    callback: Callback | None,
    started: float,
) -> SolverResult:
    """:func:`descend`'s epochs on a PrecomputedSource, in compiled code.

    The trajectory is descend's (the same arithmetic, in another order of additions);
    only the stopping rule differs, because on the factor the smallest curvature mu is
    known: the distance to the solution is at most |gradient| / mu, a certificate
    (``fastlinreg._jit.factor_epochs``). Converged when that bound is at most
    ``tol * |theta|``. When the gradient is down to its own rounding first (or its
    bound stalls), no epoch can improve the point: the fit stops there, converged if
    the condition number allows ``tol`` in float64 (4 eps kappa <= tol), with a
    ConvergenceWarning naming kappa otherwise. The epochs run in calls of a few
    milliseconds; with a callback, every epoch's iterate is recorded for it, and the
    fit ends at the epoch where it returns true.
    """
    from . import _jit  # numba: loaded by the first fit that runs epochs on the factor

    L, mu = curvature
    arrays = objective.factor_arrays()
    theta, beta = objective.to_solver(np.array(coef, np.float64), np.array(intercept, np.float64))
    theta, beta = np.ascontiguousarray(theta), np.ascontiguousarray(beta)
    y_theta, y_beta = theta.copy(), beta.copy()
    k, d = theta.shape
    # mu None: no curvature above rounding at all; every direction that moves has L.
    mu = L if mu is None else mu
    condition = L / mu if mu > 0.0 else np.inf
    floor_factor = _GRADIENT_ROUNDINGS * np.finfo(np.float64).eps
    stall_epochs = _STALL_FACTOR * max(np.sqrt(condition) if accelerated else condition, 10.0)
    A, Rxy, S = arrays["A"], arrays["Rxy"], arrays["S"]
    g0_norm = float(np.linalg.norm((2.0 / S) * (A.T @ Rxy)))
    scalars = np.array([1.0, 1.0, np.nan, np.nan, np.inf, np.nan, np.inf, 0.0])
    chunk = max(1, _CHUNK_WORK // (k * (d + 1) ** 2))
    if callback is not None:
        chunk = min(chunk, _RECORDED_EPOCHS)
    history: list[np.ndarray] = []
    times: list[np.ndarray] = []
    epoch = 0
    status = _jit.EPOCHS_RUNNING
    called_stop = False
    while epoch < max_iter and status == _jit.EPOCHS_RUNNING:
        losses = np.empty(min(chunk, max_iter - epoch))
        recorded = len(losses) if callback is not None else 0
        theta_record, beta_record = np.empty((recorded, k, d)), np.empty((recorded, k))
        chunk_started = time.perf_counter()
        status, ran = _jit.factor_epochs(
            **arrays,
            accelerated=accelerated,
            lr=lr,
            tol=-1.0 if tol is None else float(tol),
            L=L,
            mu=mu,
            floor_factor=floor_factor,
            g0_norm=g0_norm,
            stall_epochs=stall_epochs,
            theta=theta,
            beta=beta,
            y_theta=y_theta,
            y_beta=y_beta,
            scalars=scalars,
            history=losses,
            theta_record=theta_record,
            beta_record=beta_record,
        )
        if status == _jit.EPOCHS_ROSE:
            raise _divergence(scalars[5], scalars[2], epoch + ran, lr, auto)
        if status == _jit.EPOCHS_NOT_FINITE:
            raise _divergence(np.inf, scalars[2], epoch + ran, lr, auto)
        # The epochs of one call are timed together: their times are spread evenly.
        elapsed = time.perf_counter() - chunk_started
        history.append(losses[:ran])
        times.append(chunk_started - started + elapsed * np.arange(ran) / max(ran, 1))
        for j in range(ran if recorded else 0):  # the callback sees every epoch
            if _report(callback, objective, epoch + j, losses[j], theta_record[j], beta_record[j]):
                called_stop = True
                if j < ran - 1:  # the epochs after it are dropped: so is their status
                    status = _jit.EPOCHS_RUNNING
                theta, beta = theta_record[j], beta_record[j]
                history[-1], times[-1] = history[-1][: j + 1], times[-1][: j + 1]
                break
        epoch += ran
        if called_stop:
            break
    at_floor = status == _jit.EPOCHS_AT_FLOOR
    # What float64 allows gradient steps: eps kappa, with the rounding of the gradient.
    attainable = _ATTAINABLE_ROUNDINGS * np.finfo(np.float64).eps * condition
    converged = bool(
        status == _jit.EPOCHS_CONVERGED or (at_floor and tol is not None and attainable <= tol)
    )
    return _finish(
        objective,
        theta,
        beta,
        np.concatenate(history) if history else np.empty(0),
        np.concatenate(times) if times else np.empty(0),
        learning_rate=lr,
        tol=tol,
        converged=converged,
        stopped=called_stop and not converged,
        ran_out=lambda tol: _factor_message(
            accelerated,
            not objective.unscaled(),
            at_floor,
            max_iter,
            epoch,
            tol,
            condition,
            scalars[4],
            attainable,
        ),
    )


def _factor_message(
    accelerated, scaled, at_floor, max_iter, epochs, tol, condition, bound, attainable
) -> str:
    """The ConvergenceWarning of gd/agd on the factor, with the condition number."""
    if not np.isfinite(condition):
        return _max_iter_message(
            accelerated, max_iter, tol, f"relative error bound {bound:.3g}", _FLAT
        )
    name = "Accelerated gradient descent" if accelerated else "Gradient descent"
    matrix = "the standardized XᵀX" if scaled else "XᵀX as it is (unscaled)"
    kappa = f"the condition number of {matrix} is κ = {condition:.3g}"
    where = (
        f"after {epochs} epochs its gradient is down to rounding"
        if at_floor
        else f"it stopped at max_iter={max_iter}"
    )
    if at_floor or attainable > tol:
        message = (
            f"{name} cannot reach tol={tol} in float64: {kappa}, which limits gradient "
            f"steps to a relative error of about {attainable:.1g}; {where} (relative error "
            f"bound {bound:.3g})."
        )
    else:
        needed = (np.sqrt(condition) if accelerated else condition) * np.log(1.0 / tol)
        message = (
            f"{name} stopped at max_iter={max_iter} before reaching tol={tol} (relative "
            f"error bound {bound:.3g}): {kappa}, so it needs about "
            f"{'√κ' if accelerated else 'κ'}·ln(1/tol) ≈ {needed:.3g} epochs. Raise max_iter"
            f"{'' if accelerated else ', or use agd (about √κ·ln(1/tol) epochs)'}."
        )
    scale = "" if scaled else " Or scale_features=True, which lowers κ for most data."
    return (
        f"{message} For the least-squares answer to the digits the data allow, use "
        f"solver='exact' (one pass).{scale}"
    )


# Parameters smaller than this fraction of the largest one are measured against it:
# rounding moves them at random (a constant or duplicated column's coefficient drifts),
# which relative to their own size would never look converged.
_NEGLIGIBLE_FRACTION = float(np.sqrt(np.finfo(np.float64).eps))


# SGD's epoch loss is an estimate that rounding cannot explain rising tenfold: a step
# that large is unstable.
_SGD_BLOWUP = 10.0


def sgd(
    make_objective: Callable[[object], Objective],
    source,
    coef: np.ndarray,
    intercept: np.ndarray,
    *,
    learning_rate: float | str,
    schedule: str,
    batch_size: int,
    shuffle: bool,
    random_state,
    max_iter: int,
    tol: float | None,
    n_iter_no_change: int,
    callback: Callback | None = None,
    started: float | None = None,
) -> SolverResult:
    """Mini-batch stochastic gradient descent.

    An epoch takes the rows in consecutive mini-batches of ``batch_size`` rows, one
    fused kernel pass over each (``make_objective(source.rows(start, stop))``), and
    steps after each batch. ``shuffle`` draws a new order of the batches every epoch
    from ``random_state`` (the batches themselves stay contiguous: shuffling rows would
    copy X). The step is ``learning_rate`` ("auto": 1/L(b), see
    :func:`minibatch_smoothness`), divided by sqrt(epoch + 1) with
    ``schedule="invscaling"``.

    The loss history holds each epoch's mean batch objective (measured before each
    batch's step). ``tol``: converged when, for ``n_iter_no_change`` consecutive
    epochs, that loss did not improve on the best so far by more than ``tol`` times it
    (the loss is noisy, so the rule is scikit-learn SGD's, not the parameter moves).

    Raises
    ------
    DivergenceError
        When an epoch's loss turns non-finite or rises tenfold above the first's.
    """
    auto = isinstance(learning_rate, str)
    whole = make_objective(source)
    if auto:
        L, _ = whole.curvature()
        # Rows of weight 0 are absent rows: they count neither in n nor in L_max.
        weights = source.sample_weight
        n = source.n_samples if weights is None else int(np.count_nonzero(weights > 0.0))
        L = minibatch_smoothness(L, whole.largest_row_curvature(), min(batch_size, n), n)
        lr0 = 1.0 / L if L > 0.0 else 1.0
    else:
        lr0 = float(learning_rate)
    rng = np.random.default_rng(random_state)
    starts = np.arange(0, source.n_samples, batch_size)
    batches = [
        make_objective(source.rows(s, min(s + batch_size, source.n_samples))) for s in starts
    ]
    shares = np.array([b.source.total_weight for b in batches]) / source.total_weight
    started = time.perf_counter() if started is None else started
    theta, beta = whole.to_solver(np.array(coef, np.float64), np.array(intercept, np.float64))
    history: list[float] = []
    times: list[float] = []
    best = np.inf
    quiet_epochs = 0
    converged = stopped = False
    lr = lr0
    for epoch in range(max_iter):
        lr = lr0 / np.sqrt(epoch + 1.0) if schedule == "invscaling" else lr0
        order = rng.permutation(len(batches)) if shuffle else range(len(batches))
        loss = 0.0
        for j in order:
            if shares[j] == 0.0:
                continue
            batch_loss, g_theta, g_beta = batches[j].smooth_loss_grad(theta, beta)
            loss += shares[j] * (batch_loss + batches[j].l1_penalty(theta))
            theta = batches[j].prox(theta - lr * g_theta, lr)
            beta = beta - lr * g_beta
        if not np.isfinite(loss) or (history and loss > _SGD_BLOWUP * history[0]):
            what = "became non-finite" if not np.isfinite(loss) else f"rose to {loss:.6g}"
            raise DivergenceError(
                f"Stochastic gradient descent diverged at epoch {epoch}: the epoch loss "
                f"{what} (first epoch {history[0] if history else float('nan'):.6g}) with "
                f"learning rate {lr:.6g}. Use a smaller learning_rate (or 'auto')."
            )
        history.append(loss)
        times.append(time.perf_counter() - started)
        quiet_epochs = 0 if tol is None or loss < best - tol * abs(best) else quiet_epochs + 1
        best = min(best, loss)
        if tol is not None and quiet_epochs >= n_iter_no_change:
            converged = True
        stopped = _report(callback, whole, epoch, loss, theta, beta) and not converged
        if converged or stopped:
            break
    return _finish(
        whole,
        theta,
        beta,
        np.asarray(history),
        np.asarray(times),
        learning_rate=lr,
        tol=tol,
        converged=converged,
        stopped=stopped,
        # One epoch (partial_fit's) is not a fit that ran out of epochs.
        ran_out=(lambda tol: _sgd_message(max_iter, tol)) if max_iter > 1 else None,
    )


def _sgd_message(max_iter: int, tol: float) -> str:
    """The ConvergenceWarning of SGD that ran out of epochs."""
    return (
        f"Stochastic gradient descent stopped at max_iter={max_iter} before its loss "
        f"stopped improving by tol={tol}. Increase max_iter."
    )


def minibatch_smoothness(L: float, L_max: float, b: int, n: int) -> float:
    """The curvature a step of b-row mini-batches out of n rows must respect.

    The "expected smoothness" of b rows drawn without replacement (Gower et al., "SGD:
    General Analysis and Improved Rates", ICML 2019, Proposition 3.8):

        L(b) = n (b - 1) / (b (n - 1)) L + (n - b) / (b (n - 1)) L_max

    with L the whole objective's and L_max the largest one row's: L_max for one-row
    batches, L for one batch of all rows. A step of 1/L, right for full batches, is
    up to L_max / L too long for small ones, enough to make one-row SGD diverge.
    """
    if n <= 1:
        return L
    return (n * (b - 1) * L + (n - b) * L_max) / (b * (n - 1))


def _largest_relative(move: np.ndarray, value: np.ndarray) -> float:
    """max |move| / max(|value|, floor) over the parameters (0 for parameters that stay)."""
    floor = _NEGLIGIBLE_FRACTION * float(np.max(np.abs(value), initial=0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.abs(move) / np.maximum(np.abs(value), floor)
    ratios[move == 0.0] = 0.0
    return float(np.max(ratios, initial=0.0))


# From this many features, exact solves a well-conditioned least-squares problem by
# back substitution on the factor rather than by its SVD (same answer to rounding; below
# it the SVD costs under 0.1 s and the bits stay as they were).
_BACK_SUBSTITUTION_MIN_FEATURES = 512


def exact(
    factor: Factor,
    intercept: np.ndarray,
    *,
    fit_intercept: bool,
    alpha: float,
    callback: Callback | None = None,
    started: float | None = None,
) -> SolverResult:
    """The least-squares (or ridge) solution from the single-pass factor.

    The system |R_xx w - R_xy|² (+ S (ȳ - b - x̄ w)² when b is fixed, + S alpha |w|²)
    has (d + 1 or 2d) rows: its columns are scaled to unit norm and it is solved by
    SVD. Singular values below the rounding of that system are dropped (rank
    deficiency): eps * max(shape) of the largest, or more where centring rounded a
    column with a large offset (see :func:`fastlinreg.sources._factor.centring_rounding`);
    a constant column is dropped whole. The solution is then the one of minimum norm
    in w. From _BACK_SUBSTITUTION_MIN_FEATURES features, plain least squares (an
    intercept, no penalty, no constant column) whose R_xx is far from that floor is
    solved by back substitution instead (:func:`_back_substitution`). A callback is
    called once, with epoch 0, and cannot stop anything.
    """
    d = factor.n_features
    S = factor.total_weight
    x_mean, y_mean = factor.mean[:d], factor.mean[d:]
    A = factor.R[:d, :d]
    rhs = factor.R[:d, d:]
    # The rounding centring left in each column's norm (none without centring: the
    # row of means then carries the offset exactly).
    rounding = centring_rounding(factor) if fit_intercept else np.zeros(d)
    # Column norms from squares scaled by powers of two: a column of 1e-170 squared
    # plainly underflows to zero (and one of 1e+160 overflows).
    constant = column_norms(A) <= CONSTANT_COLUMN_ROUNDINGS * rounding
    A = np.where(constant, 0.0, A)
    if not fit_intercept:
        A = np.vstack([A, np.sqrt(S) * x_mean])
        rhs = np.vstack([rhs, np.sqrt(S) * (y_mean - intercept)])
    if alpha > 0.0:
        A = np.vstack([A, np.sqrt(S * alpha) * np.eye(d)])
        rhs = np.vstack([rhs, np.zeros((d, rhs.shape[1]))])
    norms = column_norms(A)
    norms[norms == 0.0] = 1.0
    scaled = A / norms
    eps = np.finfo(np.float64).eps
    centring_floor = float(np.max(rounding / norms, initial=0.0))
    triangular = fit_intercept and alpha == 0.0 and not constant.any()
    if triangular and d >= _BACK_SUBSTITUTION_MIN_FEATURES:
        theta = _back_substitution(scaled, rhs, max(eps, centring_floor))
        if theta is not None:
            return _exact_result(factor, theta / norms[:, None], d, alpha, callback, started)
    U, s, Vt = np.linalg.svd(scaled, full_matrices=False)
    rank = svd_rank(s, A.shape, centring_floor)
    theta = Vt[:rank].T @ ((U[:, :rank].T @ rhs) / s[:rank, None])
    W = theta / norms[:, None]  # (d, k)
    if rank < d:
        # The solutions are W + null-space directions; remove W's part along them in
        # the original coordinates so that |w| is smallest.
        null = Vt[rank:].T / norms[:, None]
        W = W - null @ np.linalg.lstsq(null, W, rcond=None)[0]
    b = None if fit_intercept else np.array(intercept, np.float64)
    return _exact_result(factor, W, rank, alpha, callback, started, b)


def _exact_result(factor, W, rank, alpha, callback, started, b=None) -> SolverResult:
    """:func:`exact`'s result for the coefficients W (d, k); b from the means unless
    given (the fixed intercept)."""
    d = factor.n_features
    W = W.T
    if b is None:
        b = factor.mean[d:] - W @ factor.mean[:d]
    objective_value = _factor_objective(factor, W, b, alpha)
    if callback is not None:
        callback(0, objective_value, W, b)
    elapsed = 0.0 if started is None else time.perf_counter() - started
    return SolverResult(
        coef=W,
        intercept=b,
        loss_history=np.array([objective_value]),
        n_iter=1,
        converged=True,
        rank=rank,
        time_history=np.array([elapsed]),
    )


def svd_rank(s: np.ndarray, shape: tuple[int, ...], centring_floor: float) -> int:
    """How many singular values ``s`` (descending) of a system of ``shape`` with unit-norm
    columns stand above its rounding: eps * max(shape) of the largest, or ``centring_floor``
    (relative, see :func:`exact`) times max(shape) where that is larger."""
    eps = np.finfo(np.float64).eps
    floor = max(shape) * max(eps * s[0], centring_floor) if s.size else 0.0
    return int(np.sum(s > floor))


def _back_substitution(A: np.ndarray, rhs: np.ndarray, floor_scale: float) -> np.ndarray | None:
    """A⁻¹ rhs for A upper triangular with unit-norm columns, by back substitution
    (O(d²)), when A is far from the rank floor of the SVD route; else None.

    LAPACK's trcon estimates the 1-norm condition number κ₁ in O(d²) (within a factor
    of 10 in practice); κ₂ <= d κ₁, and the SVD keeps every singular value when
    κ₂ < 1 / (d floor_scale) (its largest is at least 1 for unit-norm columns). So an
    estimate below 1 / (10 d² floor_scale) leaves the SVD nothing to drop: the answer is
    the same, to rounding, at a fraction of the cost (the SVD of a 3000 x 3000 factor
    took 17.5 s here).
    """
    from scipy.linalg import solve_triangular
    from scipy.linalg.lapack import dtrcon

    d = A.shape[0]
    rcond, info = dtrcon(A, norm="1", uplo="U", diag="N")
    if info != 0 or not rcond > 10.0 * d * d * floor_scale:
        return None
    return solve_triangular(A, rhs, lower=False)


def _factor_objective(factor: Factor, W: np.ndarray, b: np.ndarray, alpha: float) -> float:
    # In units of y / y_scale (the loss of y of 1e-170 or 1e+160 squared as it is would
    # underflow or overflow on the way), scaled back at the end: 0 or inf only if the
    # loss itself is beyond float64.
    y_scale = target_scale(factor)
    scaled = factor if y_scale == 1.0 else scaled_targets(factor, y_scale)
    loss, _, _ = PrecomputedSource(scaled).loss_grad(W / y_scale, b / y_scale)
    if alpha > 0.0:  # W² may overflow (columns of 1e-170), and 0 * inf is NaN
        loss += alpha * float(np.sum((W / y_scale) ** 2)) / W.shape[0]
    with np.errstate(over="ignore", under="ignore"):
        return loss * y_scale * y_scale
