"""Edges of DaskSource's input checks: no rows, y of the wrong shape or kind, weights of
the wrong kind, a scalar y."""

from __future__ import annotations

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
from fastlinreg.sources.dask import DaskSource  # noqa: E402


def X_dask(n=12, d=3):
    return da.from_array(np.arange(n * d, dtype=np.float64).reshape(n, d), chunks=(5, d))


@pytest.mark.parametrize(
    ("X", "y", "weights", "error", "message"),
    [
        (
            da.zeros((0, 3), chunks=(1, 3)),
            np.zeros(0),
            None,
            ValueError,
            "X has 0 rows: there is nothing to fit",
        ),
        (X_dask(), np.zeros((12, 2, 2)), None, ValueError, r"y must be 1-D or 2-D, got shape"),
        (X_dask(), np.ones(12, dtype=complex), None, TypeError, "y must hold real numbers"),
        (
            X_dask(),
            np.ones(12),
            np.ones(12, dtype=complex),
            TypeError,
            "sample_weight must hold real numbers",
        ),
        (X_dask(), 3.0, None, ValueError, r"y must be an array of shape \(12, \.\.\.\), got a"),
    ],
    ids=["no rows", "3-D y", "complex y", "complex weights", "scalar y"],
)
def test_refused_with_a_message_naming_the_input(X, y, weights, error, message):
    with pytest.raises(error, match=message):
        DaskSource(X, y, weights)


def test_integer_y_and_weights_are_read_as_floats():
    source = DaskSource(X_dask(), np.arange(12), np.arange(12) % 3)
    floats = DaskSource(X_dask(), np.arange(12.0), np.arange(12) % 3.0)
    assert source.n_targets == 1 and source.n_samples == 12
    W, b = np.full((1, 3), 0.5), np.array([1.0])
    for got, want in zip(source.loss_grad(W, b), floats.loss_grad(W, b), strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(source.triangular_factor().R, floats.triangular_factor().R)


def test_a_float64_y_too_large_for_a_float32_x_is_named():
    X = X_dask().astype(np.float32)
    y = np.ones(12)
    y[7] = 1e300
    message = r"Input y contains infinity .*float32.* at row 7 \(chunk 1\)"
    with pytest.raises(ValueError, match=message):
        DaskSource(X, y).loss_grad(np.zeros((1, 3)), np.zeros(1))
