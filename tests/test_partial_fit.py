"""partial_fit: pieces merged through the factor equal one fit on all rows."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import make_regression

import fastlinreg
from fastlinreg import LinearRegression


def data(n=3_000, d=5, n_targets=1, seed=0):
    X, Y = make_regression(
        n_samples=n, n_features=d, n_targets=n_targets, noise=5, bias=2.0, random_state=seed
    )
    weights = np.random.default_rng(seed).uniform(0.0, 2.0, n)
    return X + 10.0, Y, weights  # offset columns: the factor's centring matters


def params(model):
    coef = np.atleast_2d(model.coef_)
    return np.c_[coef, np.broadcast_to(model.intercept_, coef.shape[:1])]


def pieces(n, sizes=(700, 1, 1300)):
    edges = np.cumsum((0, *sizes))
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)] + [slice(edges[-1], n)]


@pytest.mark.parametrize("n_targets", [1, 3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_exact_pieces_equal_one_fit(n_targets, weighted, fit_intercept):
    X, Y, weights = data(n_targets=n_targets)
    weights = weights if weighted else None
    settings = dict(solver="exact", fit_intercept=fit_intercept, alpha=0.1)
    model = LinearRegression(**settings)
    for rows in pieces(len(X)):
        model.partial_fit(X[rows], Y[rows], None if weights is None else weights[rows])
        # After each piece: the fit on every row so far.
        seen = slice(0, rows.stop)
        so_far = LinearRegression(**settings).fit(
            X[seen], Y[seen], None if weights is None else weights[seen]
        )
        assert_allclose(
            params(model), params(so_far), rtol=0, atol=1e-10 * np.abs(params(so_far)).max()
        )
    assert np.shape(model.coef_) == np.shape(so_far.coef_)


@pytest.mark.parametrize("solver", ["gd", "agd"])
def test_iterative_solvers_on_the_merged_factor(solver):
    X, y, _ = data()
    model = LinearRegression(solver=solver, scale_features=True)
    for rows in pieces(len(X)):
        model.partial_fit(X[rows], y[rows])
    exact = LinearRegression(solver="exact").fit(X, y)
    assert model.converged_
    assert_allclose(params(model), params(exact), rtol=0, atol=1e-7 * np.abs(params(exact)).max())


def test_partial_fit_continues_a_fit_and_fit_starts_afresh():
    X, y, _ = data()
    model = LinearRegression(solver="exact").fit(X[:1000], y[:1000])
    model.partial_fit(X[1000:], y[1000:])
    assert_allclose(params(model), params(LinearRegression(solver="exact").fit(X, y)), atol=1e-9)
    model.fit(X[:500], y[:500])  # forgets the pieces
    model.partial_fit(X[500:800], y[500:800])
    expected = LinearRegression(solver="exact").fit(X[:800], y[:800])
    assert_allclose(params(model), params(expected), atol=1e-9)


def test_without_the_factor_partial_fit_learns_online():
    # precompute=False: the epochs run on the new piece only, from the current point.
    X, y, _ = data()
    settings = dict(solver="gd", precompute=False, max_iter=5, tol=None)
    model = LinearRegression(**settings).partial_fit(X[:1000], y[:1000])
    first = model.coef_.copy(), model.intercept_
    model.partial_fit(X[1000:], y[1000:])
    expected = LinearRegression(**settings).fit(
        X[1000:], y[1000:], coef_init=first[0], intercept_init=first[1]
    )
    assert_allclose(params(model), params(expected), rtol=1e-12)


def test_partial_fit_refuses_what_it_cannot_continue(tmp_path):
    X, Y, _ = data(n_targets=2)
    model = LinearRegression(solver="exact").partial_fit(X[:100], Y[:100])
    with pytest.raises(ValueError, match="y has 1 target"):
        model.partial_fit(X[100:200], Y[100:200, 0])
    with pytest.raises(ValueError, match="X has 4 features"):
        model.partial_fit(X[100:200, :4], Y[100:200])
    model.save(tmp_path / "m.npz")
    loaded = fastlinreg.load(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="partial_fit cannot continue this model"):
        loaded.partial_fit(X[100:200], Y[100:200])
    before = params(model).copy()
    with pytest.raises(ValueError):
        model.partial_fit(X[100:200, :4], Y[100:200])
    assert np.array_equal(params(model), before)  # a refused piece changes nothing
