"""Edges of the public kernel API: argument checks of loss_grad, predict and
streaming_read, and predict writing into a caller's array."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_problem
from numpy.testing import assert_allclose

from fastlinreg import kernels, reference


def test_sample_weight_of_the_wrong_length_is_refused():
    X, y, w, b = make_problem(5, 2)
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(5,\), got \(4,\)"):
        kernels.loss_grad(X, y, w, b, sample_weight=np.ones(4))


@pytest.mark.parametrize(
    ("w", "out", "message"),
    [
        (np.ones(2), None, r"w must have shape \(3,\) to match X, got \(2,\)"),
        (np.ones(3), np.empty(4), r"out must have shape \(5,\), got \(4,\)"),
    ],
)
def test_predict_refuses_mismatched_weights_and_output(w, out, message):
    X = np.ones((5, 3))
    with pytest.raises(ValueError, match=message):
        kernels.predict(X, w, 0.0, out=out)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predict_writes_into_the_given_array(dtype):
    X, _, w, b = make_problem(40, 3, dtype=dtype, order="F")
    out = np.full(40, np.nan, dtype=dtype)
    result = kernels.predict(X, w, b, out=out)
    assert result is out
    expected = reference.predict(X.astype(np.float64), w, b)
    assert_allclose(out, expected, rtol=1e-12 if dtype == np.float64 else 1e-6)


def test_streaming_read_refuses_a_view_it_cannot_read_flat():
    # Three of every four numbers cannot be read as one flat view: flattening would copy,
    # and the bound would time the copy, so it is refused. Views that flatten without a
    # copy (a block of rows, every other column) are read in place.
    X, *_ = make_problem(100, 4)
    with pytest.raises(ValueError, match="streaming_read needs a contiguous X"):
        kernels.streaming_read(X[:, :3])
    for view in (X[:50], X[:, ::2]):
        assert kernels.streaming_read(view) == pytest.approx(view.sum(), rel=1e-12)
