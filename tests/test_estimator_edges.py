"""Edges of LinearRegression with sources scikit-learn cannot validate (Dask, files):
feature names forgotten by a refit without them, and a partial_fit with other columns;
text refused before NumPy converts it, and predictions that overflow."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from fastlinreg import FileSource, LinearRegression, PredictionOverflowWarning


def data(n=40, d=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, X @ np.arange(1.0, d + 1) + 0.5


def test_a_refit_on_a_dask_array_forgets_the_dataframes_column_names():
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    da = pytest.importorskip("dask.array")
    import dask

    X, y = data()
    frame = dd.from_pandas(pd.DataFrame(X, columns=["p", "q"]), npartitions=2)
    with dask.config.set(scheduler="threads"):
        model = LinearRegression(solver="exact").fit(frame, da.from_array(y, chunks=20))
        assert list(model.feature_names_in_) == ["p", "q"]
        model.fit(da.from_array(X, chunks=(20, 2)), da.from_array(y, chunks=20))
    assert not hasattr(model, "feature_names_in_")
    assert model.n_features_in_ == 2
    np.testing.assert_allclose(model.coef_, [1.0, 2.0], rtol=1e-10)


def test_partial_fit_refuses_a_file_with_other_columns(tmp_path):
    X, y = data()
    np.save(tmp_path / "two.npy", np.column_stack([X, y]))
    X3, y3 = data(d=3)
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
    X, _ = data(n=6)
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
    X, y = data(n=6)
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
    X, y = data(n=6)
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
    X, y = data(n=8)
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
    X, y = data(n=10)
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
    X, y = data(n=10)
    model = LinearRegression(solver="exact").fit(X.astype(np.float32), y)
    with pytest.warns(PredictionOverflowWarning, match=r"1 of 2 .* row 1: .* float32"):
        model.predict(np.array([[1.0, 1.0], [3e38, 3e38]], dtype=np.float32))
