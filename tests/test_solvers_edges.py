"""Edges of the solver loops: divergence caught after the step, the automatic rate's
divergence message, SGD batches of zero weight, a callback stopping SGD, and unscaled
columns whose curvature underflows."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning

from fastlinreg import DivergenceError, LinearRegression, _solvers


def problem(n=60, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 0.5 + 0.1 * rng.standard_normal(n)
    return X, y


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("precompute", [False, True])  # passes over X, compiled epochs
def test_a_step_that_overflows_the_coefficients_is_divergence(precompute):
    # The first loss is finite; the step of 1e308 times a gradient of ~1e6 overflows to
    # inf, which is caught right after that step (epoch 1), before another pass.
    X, y = problem()
    y = y * 1e6
    model = LinearRegression(learning_rate=1e308, precompute=precompute, max_iter=10)
    with pytest.raises(DivergenceError, match="at epoch 1: the loss became non-finite") as e:
        model.fit(X, y)
    assert "learning_rate=1e+308, which is too large" in str(e.value)
    assert not hasattr(model, "coef_")


def test_divergence_with_the_automatic_rate_asks_for_a_report():
    # 1/L cannot make the loss rise on a quadratic: if it does, it is numerical trouble
    # in the data, and the message says so instead of suggesting a smaller rate.
    with pytest.raises(DivergenceError, match="automatic learning rate 0.25.*please report"):
        _solvers._check_divergence(float("nan"), [1.0], 4, 0.25, True)
    with pytest.raises(DivergenceError, match="rose from 1 to 2 with the automatic"):
        _solvers._check_divergence(2.0, [1.0], 4, 0.25, True)
    _solvers._check_divergence(1.0 + 1e-9, [1.0], 4, 0.25, True)  # rounding: no error


def test_sgd_skips_a_batch_of_zero_weight():
    # Rows of weight 0 are absent rows: a whole batch of them is skipped, and the fit is
    # the fit on the other rows with the same batches.
    X, y = problem(n=40)
    weights = np.r_[np.zeros(10), np.ones(30)]
    settings = dict(solver="sgd", batch_size=10, shuffle=False, max_iter=20, tol=None)
    weighted = LinearRegression(**settings).fit(X, y, sample_weight=weights)
    without = LinearRegression(**settings).fit(X[10:], y[10:])
    assert_allclose(weighted.coef_, without.coef_, rtol=1e-10)
    assert_allclose(weighted.intercept_, without.intercept_, rtol=1e-10)
    assert_allclose(weighted.loss_history_, without.loss_history_, rtol=1e-10)


def test_a_callback_stops_sgd_without_a_warning():
    X, y = problem()
    seen = []

    def stop_at_epoch_2(epoch, loss, coef, intercept):
        seen.append((epoch, loss, coef.shape, intercept.shape))
        return epoch == 2

    model = LinearRegression(solver="sgd", random_state=0, callback=stop_at_epoch_2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(X, y)
    assert model.n_iter_ == 3 and not model.converged_
    assert [epoch for epoch, *_ in seen] == [0, 1, 2]
    assert [loss for _, loss, *_ in seen] == list(model.loss_history_)
    assert seen[-1][2:] == ((1, 3), (1,))


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_unscaled_gd_on_columns_whose_squares_underflow_says_so(fit_intercept):
    # scale_features=False iterates on X as it is: columns of 1e-170 have curvatures
    # (mean squares) that underflow to 0, which looked like columns without data, and
    # the fit returned coefficients near 0 without a word. Now it warns, as for columns
    # whose scales are too far apart (scale_features=True fits them: test_scaling.py).
    X, y = problem()
    model = LinearRegression(
        solver="gd", scale_features=False, precompute=True, max_iter=50, fit_intercept=fit_intercept
    )
    with pytest.warns(ConvergenceWarning, match="too far apart for unscaled steps"):
        model.fit(np.ldexp(X, -565), y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.set_params(max_iter=5000).fit(X, y)  # ordinary columns: no such warning
