"""gd and agd on the precomputed factor: compiled epochs with the trajectory of the passes
over X, a stopping rule that certifies the distance to the solution instead of chasing
rounding, and warnings that name the condition number when tol is out of reach."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning

from fastlinreg import LinearRegression


def offset_data(n=300, seed=0):
    """Columns as real data has them: a year, an income, a 0/1 flag, a count; y far
    from zero (a year-like level) with one coefficient that is truly 0."""
    rng = np.random.default_rng(seed)
    year = rng.integers(1950, 2020, n).astype(float)
    income = rng.lognormal(10, 0.6, n)
    flag = (rng.random(n) < 0.3).astype(float)
    count = rng.poisson(3, n).astype(float)
    X = np.column_stack([year, income, flag, count])
    y = 1990.0 + 0.5 * (year - 1985) + 2e-5 * income + 3.0 * flag + rng.normal(0, 1, n)
    return X, y


def standardized_error(model, exact, X):
    """|w - w*| / |w*| with each coefficient times its column's spread."""
    spread = X.std(axis=0)
    difference = (np.atleast_2d(model.coef_) - np.atleast_2d(exact.coef_)) * spread
    return np.linalg.norm(difference) / np.linalg.norm(np.atleast_2d(exact.coef_) * spread)


def collinear_data(n=200, noise=1e-3, seed=1):
    """Two nearly equal columns: the standardized XᵀX has a condition number ~1/noise²."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    X = np.column_stack([x, x + noise * rng.standard_normal(n), rng.standard_normal(n)])
    return X, X @ np.array([1.0, 2.0, -1.0]) + 0.1 * rng.standard_normal(n)


@pytest.mark.parametrize("solver", ["gd", "agd"])
@pytest.mark.parametrize(
    "settings",
    [
        dict(),
        dict(scale_features=False, learning_rate=1e-3),
        dict(alpha=0.05, l1_ratio=0.5),
        dict(alpha=0.1),
        dict(fit_intercept=False),
        dict(weighted=True),
        dict(targets=2),
    ],
    ids=["scaled", "unscaled", "elastic-net", "ridge", "no-intercept", "weighted", "2-targets"],
)
def test_compiled_epochs_follow_the_passes_over_x(solver, settings):
    settings = dict(settings)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((400, 5)) * [1, 2, 3, 4, 5] + [0, 1, 2, 3, 4]
    w = rng.standard_normal((settings.pop("targets", 1), 5))
    Y = X @ w.T + 1.0 + 0.1 * rng.standard_normal((400, len(w)))
    y = Y[:, 0] if len(w) == 1 else Y
    weights = rng.uniform(0, 2, 400) if settings.pop("weighted", False) else None
    fits = [
        LinearRegression(
            solver=solver, precompute=precompute, tol=None, max_iter=60, **settings
        ).fit(X, y, sample_weight=weights)
        for precompute in (True, False)
    ]
    on_factor, on_passes = fits
    assert_allclose(on_factor.loss_history_, on_passes.loss_history_, rtol=1e-9)
    assert_allclose(on_factor.coef_, on_passes.coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(on_factor.intercept_, on_passes.intercept_, rtol=1e-9, atol=1e-12)
    assert len(on_factor.time_history_) == 60
    assert np.all(np.diff(on_factor.time_history_) >= 0.0)


@pytest.mark.parametrize("solver", ["gd", "agd"])
@pytest.mark.parametrize("tol", [1e-6, 1e-9])
def test_convergence_certifies_the_distance_to_the_solution(solver, tol):
    # Real-data-like columns: the old rule (relative moves) never fired here for agd,
    # whose coefficient of the income column sits at rounding next to the year's.
    X, y = offset_data()
    exact = LinearRegression(solver="exact").fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LinearRegression(solver=solver, tol=tol).fit(X, y)
    assert model.converged_
    assert standardized_error(model, exact, X) <= tol
    # It stops when the bound is met, not thousands of epochs later.
    loose = LinearRegression(solver=solver, tol=tol * 100).fit(X, y)
    assert loose.n_iter_ < model.n_iter_


def test_agd_stops_within_sqrt_kappa_log_epochs():
    X, y = offset_data()
    model = LinearRegression(solver="agd").fit(X, y)
    Z = (X - X.mean(0)) / X.std(0)
    kappa = np.linalg.cond(Z) ** 2  # the standardized XᵀX's
    assert model.n_iter_ <= 3 * np.sqrt(kappa) * np.log(1e9)


def test_a_condition_number_beyond_max_iter_is_named_in_the_warning():
    X, y = collinear_data(noise=1e-2)
    with pytest.warns(ConvergenceWarning, match=r"κ = [0-9.e+]+.*solver='exact'"):
        model = LinearRegression(solver="gd").fit(X, y)
    assert not model.converged_
    assert model.n_iter_ == 100_000


def test_a_condition_number_beyond_float64_is_named_in_the_warning():
    # kappa ~ 5e6: no gradient method gets 1e-9 in float64; agd stops at the rounding
    # floor instead of running to max_iter, and says why.
    X, y = collinear_data(noise=1e-3)
    with pytest.warns(ConvergenceWarning, match=r"cannot reach tol=1e-09 in float64.*κ = "):
        model = LinearRegression(solver="agd").fit(X, y)
    assert not model.converged_ and model.n_iter_ < 100_000
    exact = LinearRegression(solver="exact").fit(X, y)
    # As close as rounding allows: about kappa * eps (kappa ~ 5e6 here).
    assert standardized_error(model, exact, X) < 1e-7


def test_a_tighter_tol_than_float64_allows_stops_at_the_rounding_floor():
    X, y = offset_data()
    with pytest.warns(ConvergenceWarning, match="cannot reach tol=1e-15 in float64.*rounding"):
        model = LinearRegression(solver="agd", tol=1e-15).fit(X, y)
    assert model.n_iter_ < 5_000  # not max_iter: rounding, not kappa, stopped it


@pytest.mark.parametrize("stop_at", [7, 300])  # within the first compiled call, beyond it
@pytest.mark.parametrize("solver", ["gd", "agd"])
@pytest.mark.parametrize("precompute", [True, False])  # compiled epochs, passes over X
def test_a_callback_sees_every_epoch_and_can_stop_any_of_them(solver, stop_at, precompute):
    X, y = offset_data()
    seen = []

    def callback(epoch, loss, coef, intercept):
        seen.append((epoch, loss, coef.copy(), intercept.copy()))
        return epoch == stop_at

    settings = dict(solver=solver, tol=None, precompute=precompute)
    model = LinearRegression(max_iter=1000, callback=callback, **settings).fit(X, y)
    assert [s[0] for s in seen] == list(range(stop_at + 1))
    assert model.n_iter_ == stop_at + 1 and not model.converged_
    assert_allclose([s[1] for s in seen], model.loss_history_, rtol=0)
    assert_allclose(seen[-1][2][0], model.coef_, rtol=0)
    assert_allclose(seen[-1][3][0], model.intercept_, rtol=0)
    shorter = LinearRegression(max_iter=stop_at + 1, **settings).fit(X, y)
    assert_allclose(shorter.coef_, model.coef_, rtol=0)
    assert_allclose(shorter.loss_history_, model.loss_history_, rtol=0)


def test_a_callback_on_the_converging_epoch_keeps_converged():
    X, y = offset_data()
    plain = LinearRegression(solver="agd").fit(X, y)
    stopped = LinearRegression(solver="agd", callback=lambda epoch, *_: True).fit(X, y)
    assert stopped.n_iter_ == 1 and not stopped.converged_
    last = plain.n_iter_ - 1
    at_last = LinearRegression(solver="agd", callback=lambda epoch, *_: epoch == last).fit(X, y)
    assert at_last.converged_ and at_last.n_iter_ == plain.n_iter_


def test_a_too_large_step_on_the_factor_is_caught():
    X, y = offset_data()
    with pytest.raises(Exception, match="diverged at epoch [123]: the loss rose"):
        LinearRegression(solver="gd", learning_rate=1.0, precompute=True).fit(X, y)
