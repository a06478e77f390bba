"""Edges of saving and loading models: NumPy booleans as parameters, coefficients that
are not floats, a header without the fitted attributes, a member that is not an array."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from fastlinreg import LinearRegression, load


@pytest.fixture
def model():
    X = np.arange(12.0).reshape(6, 2) ** 1.5
    return LinearRegression(solver="exact").fit(X, X @ [1.0, -1.0] + 2.0)


def test_a_numpy_bool_parameter_reads_back_as_a_bool(model, tmp_path):
    model.set_params(fit_intercept=np.bool_(True), shuffle=np.bool_(False))
    model.save(tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    assert loaded.fit_intercept is True and loaded.shuffle is False
    assert np.array_equal(loaded.predict([[1.0, 2.0]]), model.predict([[1.0, 2.0]]))


def test_coefficients_that_are_not_floats_are_not_saved(model, tmp_path):
    model.coef_ = model.coef_.astype(np.int64)
    with pytest.raises(ValueError, match="coef_ has dtype int64; expected float32 or float64"):
        model.save(tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())


def rewrite(path, change):
    """The model file at ``path`` with ``change(members)`` applied to its members
    (name -> bytes) and written back as a valid zip archive."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    change(members)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_a_header_without_the_fitted_attributes_is_refused(model, tmp_path):
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path) as npz:
        header = json.loads(str(npz["header"][()]))
    del header["attributes"]["rank_"], header["attributes"]["n_iter_"]

    def new_header(members):
        np.save(tmp_path / "header.npy", np.array(json.dumps(header)))
        members["header.npy"] = (tmp_path / "header.npy").read_bytes()

    rewrite(path, new_header)
    with pytest.raises(ValueError, match=r"missing attributes \['n_iter_', 'rank_'\]"):
        load(path)


def test_a_member_that_is_not_an_npy_array_is_refused(model, tmp_path):
    # np.load returns the raw bytes of a member neither named *.npy nor in .npy format.
    path = tmp_path / "m.npz"
    model.save(path)

    def replace(members):
        del members["coef_.npy"]
        members["coef_"] = b"1.0,2.0"

    rewrite(path, replace)
    with pytest.raises(ValueError, match="not a fastlinreg model file: coef_ is not an .npy array"):
        load(path)
