"""Edges of LinearRegression with sources scikit-learn cannot validate (Dask, files):
feature names forgotten by a refit without them, and a partial_fit with other columns."""

from __future__ import annotations

import numpy as np
import pytest

from fastlinreg import LinearRegression
from fastlinreg.file_source import FileSource


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
