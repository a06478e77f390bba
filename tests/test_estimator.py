"""LinearRegression: the trajectory equals the reference, defaults converge, errors are clear."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from problems import linear_problem
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastlinreg import (
    DivergenceError,
    FileSource,
    LinearRegression,
    PredictionOverflowWarning,
    reference,
)


def lstsq(X, y, fit_intercept=True):
    A = np.column_stack([X, np.ones(len(X))]) if fit_intercept else X
    return np.linalg.lstsq(A, y, rcond=None)[0]


@parametrize_with_checks(
    [
        LinearRegression(),  # solver="auto": exact, or agd on passes with precompute=False
        LinearRegression(precompute=False, parallel=True),
        LinearRegression(solver="gd"),
        LinearRegression(solver="gd", precompute=True),
        LinearRegression(solver="gd", precompute=False, parallel=True),
        LinearRegression(solver="agd"),
        LinearRegression(solver="agd", precompute=True),
        LinearRegression(solver="agd", precompute=False, alpha=0.01, l1_ratio=0.5),
        LinearRegression(solver="exact"),
        LinearRegression(solver="sgd", random_state=0),
    ]
)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("tutorial_shapes", [True, False])
def test_trajectory_equals_reference(parallel, tutorial_shapes):
    X, y = make_regression(n_samples=300, n_features=4, noise=10, random_state=1)
    w0, b0 = np.linspace(-1, 1, 4), 0.5
    if tutorial_shapes:
        y, w_ref = y.reshape(-1, 1), w0.reshape(-1, 1)
    else:
        w_ref = w0
    w, b, history = reference.fit(X, y, w_ref, b0, 0.01, 150)
    model = LinearRegression(learning_rate=0.01, max_iter=150, tol=None, parallel=parallel)
    model.fit(X, y, coef_init=w0, intercept_init=b0)
    assert model.n_iter_ == 150 and model.loss_history_.shape == (150,)
    assert_allclose(model.loss_history_, history, rtol=1e-10)
    assert_allclose(model.coef_, w.T, rtol=1e-10)
    assert_allclose(model.intercept_, b, rtol=1e-10)
    if tutorial_shapes:
        assert model.coef_.shape == (1, 4) and model.intercept_.shape == (1,)
        assert model.predict(X).shape == (300, 1)
    else:
        assert model.coef_.shape == (4,) and isinstance(model.intercept_, float)


@pytest.mark.parametrize(("n", "d"), [(100, 2), (1000, 10), (5000, 50), (200, 20)])
def test_defaults_reach_least_squares(n, d):
    X, y = make_regression(n_samples=n, n_features=d, noise=10, random_state=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = LinearRegression().fit(X, y)
    exact = lstsq(X, y)
    got = np.r_[model.coef_, model.intercept_]
    assert np.linalg.norm(got - exact) <= 1e-6 * np.linalg.norm(exact)
    assert model.converged_


def test_auto_learning_rate_is_one_over_the_largest_curvature():
    X, y = make_regression(n_samples=500, n_features=6, noise=1, random_state=3)
    A = np.column_stack([X, np.ones(len(X))])
    L = np.linalg.eigvalsh(2 / len(X) * A.T @ A).max()
    lr = LinearRegression(solver="gd", scale_features=False, max_iter=1, tol=None)
    lr = lr.fit(X, y).learning_rate_
    assert (1 - 1e-12) / L <= lr < 1.1 / L  # 1/L, to the rounding of two eigensolvers


def test_without_intercept():
    X, y = make_regression(n_samples=300, n_features=3, noise=5, random_state=4)
    model = LinearRegression(fit_intercept=False).fit(X, y + 3.0)
    assert model.intercept_ == 0.0
    assert_allclose(model.coef_, lstsq(X, y + 3.0, fit_intercept=False), rtol=1e-6)


def test_several_targets_equal_separate_fits():
    X, Y = make_regression(n_samples=200, n_features=3, n_targets=3, noise=5, random_state=5)
    both = LinearRegression(learning_rate=0.05, max_iter=40, tol=None).fit(X, Y)
    assert both.coef_.shape == (3, 3) and both.predict(X).shape == (200, 3)
    losses = []
    for t in range(3):
        one = LinearRegression(learning_rate=0.05, max_iter=40, tol=None).fit(X, Y[:, t])
        assert_allclose(both.coef_[t], one.coef_, rtol=1e-12)
        assert_allclose(both.intercept_[t], one.intercept_, rtol=1e-12)
        losses.append(one.loss_history_)
    assert_allclose(both.loss_history_, np.mean(losses, axis=0), rtol=1e-12)


def test_float32_stays_float32():
    X, y = make_regression(n_samples=400, n_features=5, noise=5, random_state=6)
    m64 = LinearRegression().fit(X, y)
    m32 = LinearRegression().fit(X.astype(np.float32), y.astype(np.float32))
    assert m32.coef_.dtype == np.float32
    assert m32.predict(X.astype(np.float32)).dtype == np.float32
    assert_allclose(m32.coef_, m64.coef_, rtol=1e-5)


@pytest.mark.parametrize("lr", [10.0, 1.5])
def test_diverging_rate_raises_and_leaves_no_model(regression_data, lr):
    X, y = regression_data
    model = LinearRegression(learning_rate=lr)
    with pytest.raises(DivergenceError, match=rf"learning_rate={lr}.*'auto'"):
        model.fit(X, y)
    assert not hasattr(model, "coef_")


def test_failed_refit_keeps_previous_fit(regression_data):
    X, y = regression_data
    model = LinearRegression().fit(X, y)
    coef = model.coef_.copy()
    model.set_params(learning_rate=10.0)
    with pytest.raises(DivergenceError):
        model.fit(X, y)
    assert np.array_equal(model.coef_, coef)


def test_convergence_warning_when_max_iter_is_hit(regression_data):
    X, y = regression_data
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        model = LinearRegression(solver="gd", max_iter=3).fit(X, y)
    assert not model.converged_ and model.n_iter_ == 3


def test_tol_none_runs_exactly_max_iter(regression_data):
    X, y = regression_data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LinearRegression(solver="gd", max_iter=7, tol=None).fit(X, y)
    assert model.n_iter_ == 7 and not model.converged_


def test_inputs_are_not_modified_or_copied_needlessly(regression_data):
    X, y = regression_data
    X, y = np.asfortranarray(X), y.copy()
    X_before, y_before = X.copy(), y.copy()
    X.flags.writeable = False
    y.flags.writeable = False  # any write would raise
    coef_init = np.ones(X.shape[1])
    LinearRegression(max_iter=5, tol=None).fit(X, y, coef_init=coef_init).predict(X)
    assert np.array_equal(X, X_before) and np.array_equal(y, y_before)
    assert np.array_equal(coef_init, np.ones(X.shape[1]))


def test_memmap_input(tmp_path, regression_data):
    X, y = regression_data
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    a = LinearRegression().fit(mapped, y)
    b = LinearRegression().fit(X, y)
    assert np.array_equal(a.coef_, b.coef_)


def test_eight_threads_fitting_at_once():
    X, y = make_regression(n_samples=50_000, n_features=8, noise=3, random_state=7)
    X2, y2 = make_regression(n_samples=20_000, n_features=3, noise=3, random_state=8)
    expected = [LinearRegression(parallel=True).fit(*data).coef_ for data in [(X, y), (X2, y2)]]
    results: dict = {}

    def work(i):
        data = (X, y) if i % 2 == 0 else (X2, y2)
        results[i] = LinearRegression(parallel=True).fit(*data).coef_

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8
    for i, coef in results.items():
        assert np.array_equal(coef, expected[i % 2])


def test_parallel_and_serial_fits_are_bit_identical():
    X, y = make_regression(n_samples=30_000, n_features=4, noise=3, random_state=9)
    a = LinearRegression(parallel=True).fit(X, y)
    b = LinearRegression(parallel=False).fit(X, y)
    assert np.array_equal(a.coef_, b.coef_) and np.array_equal(a.loss_history_, b.loss_history_)


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        ([[1.0, np.nan], [2.0, 3.0]], [1.0, 2.0], "NaN"),
        ([[1.0, np.inf], [2.0, 3.0]], [1.0, 2.0], "infinity"),
        ([[1.0, 2.0], [2.0, 3.0]], [1.0, np.nan], "NaN"),
        (np.empty((0, 2)), [], "0 sample"),
        ([[1.0], [2.0], [3.0]], [1.0, 2.0], "inconsistent numbers of samples"),
        ([["a", "b"], ["c", "d"]], [1.0, 2.0], "could not convert|dtype"),
        ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], "Expected 2D array"),
    ],
)
def test_bad_input_is_rejected_clearly(X, y, message):
    with pytest.raises(ValueError, match=message):
        LinearRegression().fit(X, y)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"learning_rate": -0.1}, "learning_rate"),
        ({"learning_rate": "fast"}, "learning_rate"),
        ({"max_iter": 0}, "max_iter"),
        ({"solver": "newton"}, "solver"),
        ({"tol": -1.0}, "tol"),
    ],
)
def test_bad_parameters(regression_data, params, message):
    with pytest.raises(ValueError, match=message):
        LinearRegression(**params).fit(*regression_data)


def test_bad_initial_values(regression_data):
    X, y = regression_data
    with pytest.raises(
        ValueError, match=r"coef_init has shape \(3,\); expected \(1, 5\) or \(5,\)"
    ):
        LinearRegression().fit(X, y, coef_init=np.ones(3))
    with pytest.raises(ValueError, match="intercept_init contains NaN"):
        LinearRegression().fit(X, y, intercept_init=np.nan)


def test_predict_checks(regression_data):
    X, y = regression_data
    with pytest.raises(NotFittedError):
        LinearRegression().predict(X)
    model = LinearRegression().fit(X, y)
    with pytest.raises(ValueError, match="5 features"):
        model.predict(X[:, :3])
    assert model.score(X, y) > 0.9


def test_int_and_bool_inputs_are_converted():
    rng = np.random.default_rng(10)
    X = np.column_stack([rng.integers(-5, 6, 60), rng.integers(0, 2, 60).astype(bool)])
    y = X @ np.array([1, 2]) + 3
    model = LinearRegression().fit(X, y)
    assert model.coef_.dtype == np.float64
    assert_allclose(model.predict(X), y, atol=1e-5)


# --- inputs scikit-learn cannot validate: Dask and file refits, text, objects, overflow ---


def noiseless_line(n=40, d=2):
    """X ~ N(0, 1) of shape (n, d) and y = X @ [1, 2, ..., d] + 0.5 exactly."""
    X, y, _ = linear_problem(n, d, coef=np.arange(1.0, d + 1), intercept=0.5, noise=0.0)
    return X, y


def test_a_refit_on_a_dask_array_forgets_the_dataframes_column_names():
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    da = pytest.importorskip("dask.array")
    import dask

    X, y = noiseless_line()
    frame = dd.from_pandas(pd.DataFrame(X, columns=["p", "q"]), npartitions=2)
    with dask.config.set(scheduler="threads"):
        model = LinearRegression(solver="exact").fit(frame, da.from_array(y, chunks=20))
        assert list(model.feature_names_in_) == ["p", "q"]
        model.fit(da.from_array(X, chunks=(20, 2)), da.from_array(y, chunks=20))
    assert not hasattr(model, "feature_names_in_")
    assert model.n_features_in_ == 2
    np.testing.assert_allclose(model.coef_, [1.0, 2.0], rtol=1e-10)


def test_partial_fit_refuses_a_file_with_other_columns(tmp_path):
    X, y = noiseless_line()
    np.save(tmp_path / "two.npy", np.column_stack([X, y]))
    X3, y3 = noiseless_line(d=3)
    np.save(tmp_path / "three.npy", np.column_stack([X3, y3]))
    model = LinearRegression(solver="exact").partial_fit(FileSource(tmp_path / "two.npy", "2"))
    coef = model.coef_.copy()
    with pytest.raises(ValueError, match="X has 3 features, but LinearRegression is expecting 2"):
        model.partial_fit(FileSource(tmp_path / "three.npy", "3"))
    assert np.array_equal(model.coef_, coef) and model.n_features_in_ == 2


TEXT = r"Input {} holds text: dtype='numeric' is not compatible with arrays of bytes/strings"


def text_inputs():
    """X as text in every form that reaches fit or predict: NumPy would convert them."""
    pd = pytest.importorskip("pandas")
    X, _ = noiseless_line(n=6)
    strings = X.astype(str)
    return {
        "unicode array": strings,
        "bytes array": strings.astype(bytes),
        "object array of strings": strings.astype(object),
        "list of string lists": strings.tolist(),
        "list of string arrays": list(strings),
        "tuple of string tuples": tuple(map(tuple, strings.tolist())),
        "DataFrame of strings": pd.DataFrame(strings),
        "DataFrame with a string column": pd.DataFrame({"a": X[:, 0], "b": strings[:, 1]}),
        "DataFrame of pandas strings": pd.DataFrame(strings).astype("string"),
    }


@pytest.mark.parametrize("case", list(text_inputs()))
def test_text_x_is_refused_by_fit_partial_fit_and_predict(case):
    X_text = text_inputs()[case]
    X, y = noiseless_line(n=6)
    for method in ("fit", "partial_fit"):
        model = LinearRegression(solver="exact")
        with pytest.raises(ValueError, match=TEXT.format("X")):
            getattr(model, method)(X_text, y)
        assert not hasattr(model, "coef_")
    model = LinearRegression(solver="exact").fit(X, y)
    with pytest.raises(ValueError, match=TEXT.format("X")):
        model.predict(X_text)


def test_text_y_is_refused():
    pd = pytest.importorskip("pandas")
    X, y = noiseless_line(n=6)
    strings = y.astype(str)
    for y_text in (
        strings,
        strings.tolist(),
        pd.Series(strings),
        pd.Series(strings, dtype="string"),
    ):
        with pytest.raises(ValueError, match=TEXT.format("y")):
            LinearRegression(solver="exact").fit(X, y_text)


def test_numbers_in_object_arrays_are_accepted_as_scikit_learn_does():
    pd = pytest.importorskip("pandas")
    X, y = noiseless_line(n=8)
    expected = LinearRegression(solver="exact").fit(X, y)
    for X_object, y_object in (
        (X.astype(object), y.astype(object)),
        (X.tolist(), y.tolist()),
        (pd.DataFrame(X).astype(object), pd.Series(y, dtype=object)),
        (pd.DataFrame({"a": X[:, 0], "b": X[:, 1].astype(object)}), pd.Series(y)),
    ):
        got = LinearRegression(solver="exact").fit(X_object, y_object)
        np.testing.assert_array_equal(got.coef_, expected.coef_)
        np.testing.assert_array_equal(got.predict(X_object), expected.predict(X))


@pytest.mark.parametrize("n_targets", [1, 2])
def test_predictions_that_overflow_warn_with_count_and_first_row(n_targets):
    X, y = noiseless_line(n=10)
    model = LinearRegression(solver="exact").fit(X, np.column_stack([y] * n_targets))
    model.coef_ = np.full_like(model.coef_, 1e300)
    X_new = np.array([[1.0, 1.0], [1.0, -1.0], [1e10, 1e10], [-1e10, 1e10], [2.0, 3.0]])
    with pytest.warns(PredictionOverflowWarning) as caught:
        predictions = model.predict(X_new)
    assert issubclass(PredictionOverflowWarning, RuntimeWarning)
    assert len(caught) == 1
    bad = 2 * n_targets
    assert str(caught[0].message).startswith(
        f"{bad} of {5 * n_targets} predictions are not finite (NaN or infinity), the first "
        "in row 2: X times coef_ overflows float64 there"
    )
    assert np.isinf(predictions[2]).all() and np.isnan(predictions[3]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(X_new[[0, 1, 4]])  # finite: no warning


def test_predictions_near_the_float32_limit_warn_in_float32():
    X, y = noiseless_line(n=10)
    model = LinearRegression(solver="exact").fit(X.astype(np.float32), y)
    with pytest.warns(PredictionOverflowWarning, match=r"1 of 2 .* row 1: .* float32"):
        model.predict(np.array([[1.0, 1.0], [3e38, 3e38]], dtype=np.float32))
