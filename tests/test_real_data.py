"""Least squares on real data: every data set of the corpus in ``tests/realdata.py``.

The issue: ``LinearRegression()`` with no arguments must reach the least-squares solution
on ordinary data (years, incomes, 0/1 flags, counts), not only on standard normal
columns. Each fit is compared with the exact least-squares answer (rational arithmetic,
see ``realdata.reference_solution``) in correct significant digits
(``realdata.digits``). Timings are in ``benchmarks/real_data.py``, never here.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
import realdata
import statsmodels.api as sm
from sklearn.exceptions import ConvergenceWarning

from fastlinreg import LinearRegression

CORPUS = {data.name: data for data in realdata.corpus()}
NAMES = list(CORPUS)

MIN_DIGITS = 8.0
# Up to this scaled condition number the issue asks for MIN_DIGITS, which float64
# allows there: a backward-stable solve loses about log10(kappa) of its ~15.6 digits
# (test_min_digits_are_attainable checks the residual's kappa**2 term too).
WELL_CONDITIONED = 1e6
# Where agd must converge without a warning, in the kappa of this module: that of the
# standardized X, whose square is the kappa of XᵀX that the solvers' warnings print.
# Up to 1e3 (1e6 for XᵀX) float64 allows tol=1e-9 (4 eps kappa(XᵀX) <= tol, see
# solvers._descend_on_factor) and agd needs about kappa * ln(1 / tol) ~ 2e4 epochs,
# within max_iter=100_000. Beyond, it may say why it stops. The corpus' largest is 484.
AGD_MUST_CONVERGE = 1e3
# Digits below what the conditioning allows that a float64 solver may lose to the
# constants the bound leaves out (about the number of columns, and sums over n rows).
SLACK_DIGITS = 2.0


@functools.cache
def reference(name):
    data = CORPUS[name]
    return realdata.reference_solution(data.X, data.y)


@functools.cache
def condition(name):
    return realdata.scaled_condition(CORPUS[name].X)


def required_digits(name) -> float:
    """MIN_DIGITS where kappa <= 1e6; beyond, what the conditioning allows.

    A backward-stable float64 solver's relative error is up to about
    eps * (2 kappa + tan(theta) kappa**2) (``realdata.attainable_digits``): roughly
    16 - log10(kappa) digits, fewer when the fit is poor. SLACK_DIGITS below that.
    """
    if condition(name) <= WELL_CONDITIONED:
        return MIN_DIGITS
    data = CORPUS[name]
    attainable = realdata.attainable_digits(data.X, data.y, reference(name)[0])
    return attainable - SLACK_DIGITS


def full_rank(name):
    """The data set, or a skip when X is rank deficient (no unique least-squares answer)."""
    if not np.isfinite(condition(name)):
        pytest.skip(f"{name}: X is rank deficient")
    return CORPUS[name]


def fit_digits(model, name) -> float:
    data = CORPUS[name]
    return realdata.digits(model.coef_, model.intercept_, *reference(name), data.X)


def test_corpus_is_large():
    """Every statsmodels data set that loads, less the ones the rule leaves no regression."""
    assert len(CORPUS) >= 25, realdata.load_corpus()[1]
    assert {"longley", "stackloss", "macrodata", "star98", "diabetes", "linnerud"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_reference_agrees_with_float64_solvers(name):
    """The exact answer, checked independently: QR on the centred, column-scaled data
    (the textbook accurate float64 solve) and statsmodels' OLS (pinv of [1, X]) agree
    with it to what the conditioning allows."""
    data = full_rank(name)
    coef, intercept = reference(name)
    x_mean, y_mean = data.X.mean(axis=0), data.y.mean()
    Xc = data.X - x_mean
    norm = np.linalg.norm(Xc, axis=0)
    q, r = np.linalg.qr(Xc / norm)
    qr_coef = np.linalg.solve(r, q.T @ (data.y - y_mean)) / norm
    qr_intercept = y_mean - x_mean @ qr_coef
    attainable = realdata.attainable_digits(data.X, data.y, coef)
    qr_digits = realdata.digits(qr_coef, qr_intercept, coef, intercept, data.X)
    assert qr_digits >= attainable - SLACK_DIGITS
    # pinv on raw columns (years, incomes) loses more to the columns' offsets and scales.
    ols = sm.OLS(data.y, sm.add_constant(data.X, has_constant="add")).fit()
    ols_digits = realdata.digits(ols.params[1:], ols.params[0], coef, intercept, data.X)
    assert ols_digits >= min(attainable, 14.0) - 4.0


@pytest.mark.parametrize("name", NAMES)
def test_min_digits_are_attainable(name):
    """Asking for MIN_DIGITS where kappa <= 1e6 is fair on this data: the conditioning,
    with the residual's term, leaves a float64 solver SLACK_DIGITS more than that."""
    data = full_rank(name)
    if condition(name) > WELL_CONDITIONED:
        pytest.skip(f"kappa = {condition(name):.3g}: required_digits follows the conditioning")
    attainable = realdata.attainable_digits(data.X, data.y, reference(name)[0])
    assert attainable >= MIN_DIGITS + SLACK_DIGITS


def _assert_least_squares(model, name):
    assert model.converged_
    assert fit_digits(model, name) >= required_digits(name), (
        f"kappa = {condition(name):.3g}, {model.n_iter_} epochs"
    )


@pytest.mark.parametrize("name", NAMES)
def test_default_estimator_reaches_least_squares(name):
    """The issue itself: no arguments, no warning of any kind, the least-squares answer."""
    data = full_rank(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LinearRegression().fit(data.X, data.y)
    _assert_least_squares(model, name)


@pytest.mark.parametrize("name", NAMES)
def test_exact_solver(name):
    data = full_rank(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LinearRegression(solver="exact").fit(data.X, data.y)
    _assert_least_squares(model, name)


@pytest.mark.parametrize("solver", ["agd", "gd"])
@pytest.mark.parametrize("name", NAMES)
def test_iterative_solver_converges_or_says_why(name, solver):
    """gd and agd with their defaults: the least-squares answer, or a ConvergenceWarning
    that names the conditioning (the scaled condition number) and the way out,
    solver='exact'. Stopping early without a word, or with a wrong answer, is the bug."""
    data = full_rank(name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = LinearRegression(solver=solver).fit(data.X, data.y)
    others = [w for w in caught if not issubclass(w.category, ConvergenceWarning)]
    assert not others, [str(w.message) for w in others]
    convergence = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    if not convergence:
        _assert_least_squares(model, name)
        return
    if solver == "agd":
        assert condition(name) > AGD_MUST_CONVERGE, (
            f"agd must converge at kappa = {condition(name):.3g}: {convergence}"
        )
    assert not model.converged_
    message = convergence[0]
    assert "condition number" in message or "κ" in message, message
    assert "solver='exact'" in message, message
