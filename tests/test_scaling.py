"""Fits are invariant to scaling X's columns or y by powers of two (issue 17).

fit(X * 2**k_j per column, y * 2**m) must give coef_j * 2**(m - k_j) and intercept_ *
2**m of fit(X, y): powers of two scale without rounding, and every solver is scale
equivariant in exact arithmetic (gd and agd iterate on standardized columns, whose bits
do not change; the step 1/L and every stopping rule are relative). The implementation
keeps that exactly: columns (and y) beyond 2**±256, whose squares would underflow
(1e-170: every solver returned 0) or overflow (1e+160), are scaled by a power of two
before anything squares them. So the expected results are the unscaled fits' scaled
back, bit for bit, with the same warnings, losses (scaled by 4**m) and ``rank_``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import realdata
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score

from fastlinreg import LinearRegression

CORPUS = {data.name: data for data in realdata.corpus()}

# (estimator parameters) of every solver, with and without the factor where it applies.
# Few epochs (the scaled and unscaled fits stop, and warn, alike): the suite also runs
# with the JIT off, where an epoch over diabetes takes milliseconds.
SOLVERS = [
    {"solver": "exact"},
    {"solver": "gd", "precompute": True, "max_iter": 200},
    {"solver": "gd", "precompute": False, "max_iter": 30},
    {"solver": "agd", "precompute": True, "max_iter": 200},
    {"solver": "agd", "precompute": False, "max_iter": 30},
    {"solver": "sgd", "max_iter": 5, "batch_size": 64, "random_state": 0},
]
# Per-column exponents of X, then y's: tiny (1e-170), small, large, huge (1e+150).
EXPONENTS = [-565, -300, 300, 500]


def _fit(params, X, y, fit_intercept, sample_weight=None):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = LinearRegression(fit_intercept=fit_intercept, **params)
        model.fit(X, y, sample_weight=sample_weight)
    return model, sorted(type(w.message).__name__ for w in caught)


def _diabetes():
    data = load_diabetes(scaled=False)
    return data.data, data.target


def _assert_scaled_fit(params, X, y, column_exponents, y_exponent, fit_intercept, weights=None):
    """The fit of the scaled data is the unscaled one scaled back, bit for bit."""
    expected, expected_warnings = _fit(params, X, y, fit_intercept, weights)
    Xs = np.ldexp(X, column_exponents)
    ys = np.ldexp(y, y_exponent)
    got, got_warnings = _fit(params, Xs, ys, fit_intercept, weights)
    np.testing.assert_array_equal(
        got.coef_, np.ldexp(expected.coef_, y_exponent - np.asarray(column_exponents))
    )
    np.testing.assert_array_equal(got.intercept_, np.ldexp(expected.intercept_, y_exponent))
    assert got_warnings == expected_warnings
    assert got.rank_ == expected.rank_
    assert got.n_iter_ == expected.n_iter_
    # R² from the predictions scaled back: score's own r2_score (scikit-learn's) squares
    # y as it is, which underflows at 1e-170.
    predictions = got.predict(Xs)
    np.testing.assert_array_equal(predictions, np.ldexp(expected.predict(X), y_exponent))
    assert r2_score(y, np.ldexp(predictions, -y_exponent)) == expected.score(X, y)
    # And score itself, which once gave 1.0 for any fit of y of 1e-170 (squares of 0).
    assert got.score(Xs, ys) == expected.score(X, y)
    # The losses scale by 4**m: to 0 or inf where that is beyond float64 (y * 2**560).
    with np.errstate(over="ignore", under="ignore"):
        expected_losses = np.ldexp(expected.loss_history_, 2 * y_exponent)
    np.testing.assert_array_equal(got.loss_history_, expected_losses)


@pytest.mark.parametrize("params", SOLVERS, ids=lambda p: "-".join(map(str, p.values())))
@pytest.mark.parametrize("exponent", EXPONENTS)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_diabetes_columns_and_y_scaled_by_one_power(params, exponent, fit_intercept):
    X, y = _diabetes()
    _assert_scaled_fit(params, X, y, [exponent] * X.shape[1], exponent, fit_intercept)


@pytest.mark.parametrize("params", SOLVERS, ids=lambda p: "-".join(map(str, p.values())))
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_diabetes_columns_scaled_apart(params, fit_intercept):
    """Columns of 1e-170 next to columns of 1e+150, and y of 1e-90."""
    X, y = _diabetes()
    exponents = [EXPONENTS[j % len(EXPONENTS)] for j in range(X.shape[1])]
    _assert_scaled_fit(params, X, y, exponents, -300, fit_intercept)


@pytest.mark.parametrize("params", SOLVERS, ids=lambda p: "-".join(map(str, p.values())))
@pytest.mark.parametrize("y_exponent", [-600, 560])
def test_y_whose_losses_are_beyond_float64(params, y_exponent):
    """y * 2**560: its squares, the losses, overflow (inf in loss_history_, computed in
    units of y / 2**e and scaled back); y * 2**-600: they underflow to 0."""
    X, y = _diabetes()
    _assert_scaled_fit(params, X, y, [0] * X.shape[1], y_exponent, True)
    got, _ = _fit(params, X, np.ldexp(y, y_exponent), True)
    assert np.all(got.loss_history_ == (np.inf if y_exponent > 0 else 0.0))


@pytest.mark.parametrize("params", SOLVERS, ids=lambda p: "-".join(map(str, p.values())))
@pytest.mark.parametrize("exponent", EXPONENTS)
def test_statsmodels_longley_scaled(params, exponent):
    data = CORPUS["longley"]
    exponents = [exponent - 3 * j for j in range(data.X.shape[1])]
    _assert_scaled_fit(params, data.X, data.y, exponents, exponent, True)


@pytest.mark.parametrize("params", SOLVERS, ids=lambda p: "-".join(map(str, p.values())))
def test_weighted_and_multi_target_scaled(params):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 4)) + [0.0, 5.0, -2.0, 100.0]
    Y = X @ rng.standard_normal((4, 2)) + rng.standard_normal((300, 2))
    weights = rng.uniform(0.0, 3.0, 300)
    _assert_scaled_fit(params, X, Y, [-565, 0, 500, -300], -300, True, weights)


def test_issue_example_tiny_columns_fit_like_scikit_learn():
    """The issue's 200 x 4 at 1e-170: R² was 0 (coef 0) for every solver."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 4)) * 1e-170
    y = X @ np.array([1.0, 2.0, 3.0, 4.0]) * 1e170 + 5.0
    for solver in ("exact", "gd", "agd", "sgd"):
        model = LinearRegression(solver=solver, random_state=0).fit(X, y)
        assert model.score(X, y) > 0.999999, solver
    assert LinearRegression(solver="exact").fit(X, y).rank_ == 4


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="gd", learning_rate=0.01),  # the tutorial's steps
        dict(solver="gd", scale_features=False),
        dict(solver="agd", scale_features=False),
    ],
    ids=["tutorial-gd", "unscaled-gd", "unscaled-agd"],
)
def test_unscaled_steps_on_passes_report_columns_whose_squares_underflow(params):
    """Unscaled steps cannot move a coefficient of a column of 1e-170 (its squares
    underflow): on passes over X this once stopped as "converged" with coef 0 and no
    warning. It runs out of epochs, says why and what to do, as on the factor."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 4)) * 1e-170
    y = X @ np.array([1.0, 2.0, 3.0, 4.0]) * 1e170 + 5.0
    model = LinearRegression(precompute=False, max_iter=50, **params)
    with pytest.warns(ConvergenceWarning, match="scales are too far apart.*scale_features=True"):
        model.fit(X, y)
    assert not model.converged_


@pytest.mark.parametrize("params", SOLVERS, ids=lambda p: "-".join(map(str, p.values())))
def test_columns_near_the_top_of_float64(params):
    """Values up to 2**1000 (1e301): their squares overflow, their column norms do not."""
    X, y = _diabetes()
    _assert_scaled_fit(params, X, y, [990] * X.shape[1], 0, True)


# Scaling by a power of ten rounds every value (half an ulp, 1.1e-16 relative): the
# data differ, so the fits differ by that rounding amplified by the conditioning. Least
# squares perturbation theory bounds the relative change by about (kappa + kappa² tan
# theta) times it, kappa the standardized condition number (21.7 for diabetes, so
# kappa² = 470: 5e-14), times small constants; 1e-12 leaves room for those and is far
# below what a solver wrong at these scales gives (coef 0: an error of 1). gd and agd
# stop after the same epochs on both (the stopping rules are relative), and sgd runs the
# same batches: measured, every solver is within 1.4e-14 of its unscaled fit.
POWER_OF_TEN_TOLERANCE = 1e-12


@pytest.mark.parametrize("params", SOLVERS, ids=lambda p: "-".join(map(str, p.values())))
@pytest.mark.parametrize("scale", [1e-170, 1e-157, 1e150])
def test_diabetes_scaled_by_powers_of_ten(params, scale):
    """The issue's scales: coef 0 at 1e-170, a DivergenceError for agd and sgd at 1e-157."""
    X, y = _diabetes()
    expected, expected_warnings = _fit(params, X, y, True)
    got, got_warnings = _fit(params, X * scale, y, True)
    assert got_warnings == expected_warnings
    error = np.max(np.abs(got.coef_ * scale - expected.coef_)) / np.linalg.norm(expected.coef_)
    assert error <= POWER_OF_TEN_TOLERANCE
    assert got.score(X * scale, y) == pytest.approx(expected.score(X, y), rel=1e-12)
    assert got.rank_ == expected.rank_


@pytest.mark.parametrize("extension", [".csv", ".npy"])
@pytest.mark.parametrize("y_exponent", [-600, 600])
def test_a_file_whose_target_is_beyond_the_safe_range_fits_on_passes(
    tmp_path, extension, y_exponent
):
    """Passes over a file (precompute=False: its parsed copy, or the .npy itself) read
    y divided by a power of two when it is beyond 2**±256, as the in-memory source
    does: the fit of y * 2**k is the fit of y scaled back, bit for bit. Before, a y of
    1e-180 squared to 0 in every loss."""
    from fastlinreg import FileSource

    X, y = _diabetes()

    def file_of(target):
        data = np.column_stack([X, target])
        path = tmp_path / f"data{target[0] != y[0]:d}{extension}"
        if extension == ".npy":
            np.save(path, data)
        else:
            header = ",".join([*(f"x{j}" for j in range(X.shape[1])), "y"])
            lines = [header] + [",".join(map(repr, row)) for row in data.tolist()]
            path.write_text("\n".join(lines) + "\n")
        return FileSource(path, "y" if extension == ".csv" else str(X.shape[1]))

    params = dict(solver="agd", precompute=False, max_iter=30, tol=None)
    expected = LinearRegression(**params).fit(file_of(y))
    got = LinearRegression(**params).fit(file_of(np.ldexp(y, y_exponent)))
    np.testing.assert_array_equal(got.coef_, np.ldexp(expected.coef_, y_exponent))
    np.testing.assert_array_equal(got.intercept_, np.ldexp(expected.intercept_, y_exponent))
    with np.errstate(over="ignore"):  # the loss of y * 2**600 is beyond float64: inf
        scaled_losses = np.ldexp(expected.loss_history_, 2 * y_exponent)
    np.testing.assert_array_equal(got.loss_history_, scaled_losses)


@pytest.mark.parametrize("y_exponent", [-600, 600])
def test_a_dask_target_beyond_the_safe_range_fits_on_passes(y_exponent):
    """As for files: passes over Dask chunks read y divided by a power of two."""
    da = pytest.importorskip("dask.array")
    import dask

    X, y = _diabetes()
    params = dict(solver="agd", precompute=False, max_iter=30, tol=None)
    with dask.config.set(scheduler="synchronous"):
        expected = LinearRegression(**params).fit(
            da.from_array(X, chunks=(150, -1)), da.from_array(y, chunks=150)
        )
        got = LinearRegression(**params).fit(
            da.from_array(X, chunks=(150, -1)), da.from_array(np.ldexp(y, y_exponent), chunks=150)
        )
    np.testing.assert_array_equal(got.coef_, np.ldexp(expected.coef_, y_exponent))
    np.testing.assert_array_equal(got.intercept_, np.ldexp(expected.intercept_, y_exponent))
