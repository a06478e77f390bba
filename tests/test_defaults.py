"""What the no-argument estimator does: solver="auto" picks the road to the least-squares
answer, gd scales the columns whenever its step is automatic, and the tutorial's run (a
step of the user's) is untouched."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastlinreg import LinearRegression, reference


def year_data(n=80, seed=0):
    """One column of years beside the intercept: hopeless for unscaled gd."""
    rng = np.random.default_rng(seed)
    year = np.arange(1940.0, 1940.0 + n)
    return year[:, None], 3.0 + 0.02 * (year - 1940.0) + rng.normal(0, 0.1, n)


@pytest.mark.parametrize(
    "params, n_features, chosen",
    [
        (dict(), 4, "exact"),
        (dict(alpha=0.1), 4, "exact"),  # ridge: exact solves it too
        (dict(alpha=0.1, l1_ratio=0.5), 4, "agd"),  # L1: exact cannot
        (dict(precompute=False), 4, "agd"),  # no factor: passes over X
        (dict(), 600, "exact"),  # fewer rows than columns: the minimum-norm answer
        (dict(max_iter=3, tol=None), 4096, "agd"),  # the factor would be too large
        (dict(learning_rate=0.01, tol=None, max_iter=5), 4, "gd"),  # the tutorial's steps
    ],
)
def test_auto_chooses_the_solver_and_says_which(params, n_features, chosen):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, n_features))
    y = X @ rng.standard_normal(n_features) + 1.0
    model = LinearRegression(**params).fit(X, y)
    assert model.solver == "auto" and model.solver_ == chosen
    assert LinearRegression(solver="gd").fit(X[:, :4], y).solver_ == "gd"


def test_the_default_is_the_least_squares_answer_without_a_warning():
    X, y = year_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LinearRegression().fit(X, y)
    expected = np.polyfit(X[:, 0] - 1940.0, y, 1)
    assert model.converged_
    assert_allclose(model.coef_, expected[:1], rtol=1e-12)
    assert_allclose(model.intercept_, expected[1] - 1940.0 * expected[0], rtol=1e-12)


@pytest.mark.parametrize("solver", ["gd", "agd"])
def test_gradient_descent_with_the_automatic_step_centres_and_scales(solver):
    # Unscaled, the Hessian of [year, 1] has a condition number of ~1e10: gd made 0
    # correct digits in 100,000 epochs. Scaled, it is 1.
    X, y = year_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LinearRegression(solver=solver).fit(X, y)
    exact = LinearRegression(solver="exact").fit(X, y)
    assert model.converged_ and model.n_iter_ < 100
    assert_allclose(model.coef_, exact.coef_, rtol=1e-8)


def test_the_tutorial_run_is_unchanged():
    # A step of the user's keeps X as it is: the tutorial's trajectory, to the bit of the
    # NumPy reference's arithmetic (1e-10), with no solver named and with solver="gd".
    rng = np.random.default_rng(1)
    X = rng.standard_normal((100, 2))
    y = X @ np.array([3.0, -2.0]) + 0.5 + rng.normal(0, 1, 100)
    w_ref, b_ref, losses = reference.fit(X, y, np.ones(2), 1.0, 0.01, 200)
    for params in (dict(), dict(solver="gd")):
        model = LinearRegression(learning_rate=0.01, max_iter=200, tol=None, **params)
        model.fit(X, y, coef_init=np.ones(2), intercept_init=1.0)
        assert model.solver_ == "gd"
        assert_allclose(model.loss_history_, losses, rtol=1e-10)
        assert_allclose(model.coef_, w_ref, rtol=1e-10)
        assert_allclose(model.intercept_, b_ref, rtol=1e-10)


def test_partial_fit_with_the_default_equals_one_fit():
    X, y = year_data(200)
    model = LinearRegression()
    for rows in np.array_split(np.arange(200), 4):
        model.partial_fit(X[rows], y[rows])
    assert model.solver_ == "exact"
    assert_allclose(model.coef_, LinearRegression().fit(X, y).coef_, rtol=1e-10)
