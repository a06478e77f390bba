"""The NumPy twins of three kernels (fastlinreg/_numpy_twins.py) have the kernels' bits,
and a process that fits and predicts small data never imports numba.

Small X is predicted, and its precompute pass's blocks summed, by the twins
(``_config.NUMPY_MAX_ELEMENTS``); larger X by the kernels. Results must not depend on
which ran: predict(X[rows]) is predict(X)[rows] whatever the sizes, and a fit has the
same bits with the twins or the kernels.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

from fastlinreg import LinearRegression, _config, _jit, _numpy_twins, kernels

WIDTHS = [1, 2, 3, 4, 5, 7, 9, 16, 17]


def awkward_block(m: int, d: int, dtype, order: str, seed: int) -> np.ndarray:
    """Columns of very different scales and means, a -0.0 column, and a few exact
    zeros: what makes rounding, and its order, show."""
    rng = np.random.default_rng(seed)
    scales = 10.0 ** rng.integers(-3, 6, d)
    X = rng.standard_normal((m, d)) * scales + rng.integers(-10_000, 10_000, d)
    X[rng.random((m, d)) < 0.1] = 0.0
    X[:, 0] = -0.0  # its sum is +0.0: the kernels' sums start from 0.0
    return np.asarray(X, dtype=dtype, order=order)


def same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("d", WIDTHS)
def test_block_forward_twin_has_the_kernels_bits(d, order, dtype):
    for m, seed in [(1, 0), (6, 1), (61, 2)]:
        X = awkward_block(m, d, dtype, order, seed)
        w = np.random.default_rng(seed).standard_normal(d) * 10.0 ** np.arange(d)
        kernel, twin = np.empty(m, dtype), np.empty(m, dtype)
        _jit.predict_serial(X, w, 0.25, _config.rows_per_block(d), kernel)
        _numpy_twins.block_forward(X, w, 0.25, twin)
        assert same_bits(kernel, twin), (m, d, order, dtype)


@pytest.mark.parametrize("y_dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("d", WIDTHS)
def test_block_moments_twin_has_both_kernels_bits(d, k, y_dtype):
    # The Gram route, which sums these, takes float64 X only.
    X = awkward_block(300, d, np.float64, "C", d)
    Y = awkward_block(300, k, y_dtype, "F", 100 + d)
    narrow = d <= _config.NARROW_MOMENTS_MAX_FEATURES
    kernels_here = [_jit.block_moments] + ([_jit.narrow_block_moments] if narrow else [])
    twin = (np.empty(d + k), np.empty((d, k)), np.empty((k, k)))
    _numpy_twins.block_moments(X, Y, *twin)
    for kernel in kernels_here:
        out = (np.empty(d + k), np.empty((d, k)), np.empty((k, k)))
        kernel(X, Y, *out)
        for a, b in zip(out, twin, strict=True):
            assert same_bits(a, b), kernel.__name__


@pytest.mark.parametrize("weights", ["none", "some zero", "all zero"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [1, 3, 8])
def test_centred_block_twin_has_the_kernels_bits(d, dtype, weights):
    X = awkward_block(120, d, dtype, "F", d)
    Y = awkward_block(120, 2, dtype, "C", 50 + d)
    weighted = weights != "none"
    s = np.random.default_rng(d).uniform(0.0, 3.0, 120)
    if weights == "some zero":
        s[::7] = 0.0
    elif weights == "all zero":
        s[:] = 0.0
    s = s if weighted else np.ones(1)
    kernel_out, twin_out = np.empty((120, d + 2)), np.empty((120, d + 2))
    kernel_mean, kernel_weight = _jit.centred_block(X, Y, s, weighted, kernel_out)
    twin_mean, twin_weight = _numpy_twins.centred_block(X, Y, s, weighted, twin_out)
    assert same_bits(kernel_out, twin_out)
    assert same_bits(kernel_mean, twin_mean)
    assert kernel_weight == twin_weight


def test_a_row_is_predicted_with_the_same_bits_on_either_side_of_the_threshold():
    d = 7
    n = _config.NUMPY_MAX_ELEMENTS // d + 50  # the kernels' side
    X = awkward_block(n, d, np.float64, "C", 3)
    w = np.linspace(-3.0, 5.0, d)
    whole = kernels.predict(X, w, 0.5)
    for rows in [slice(0, 40), slice(n - 60, n), np.arange(5, n, 97)]:
        part = X[rows]
        assert part.size <= _config.NUMPY_MAX_ELEMENTS  # the twins' side
        assert same_bits(kernels.predict(part, w, 0.5), whole[rows])
        assert same_bits(kernels.predict(np.asfortranarray(part), w, 0.5), whole[rows])


def real_fits():
    """The no-argument estimator on real, raw data (ages, sex as 1/2, BMI, blood
    serum): float64 and float32, weighted, two targets, column-major."""
    X, y = load_diabetes(return_X_y=True, scaled=False)
    weights = np.random.default_rng(0).uniform(0.2, 3.0, y.shape[0])
    return {
        "float64": (X, y, None),
        "float32": (X.astype(np.float32), y.astype(np.float32), None),
        "weighted": (X, y, weights),
        "two targets": (X, np.column_stack([y, 3.0 * y - X[:, 2]]), None),
        "F order": (np.asfortranarray(X), y, None),
        "one column": (X[:, 2:3], y, None),
    }


@pytest.mark.parametrize("case", list(real_fits()))
def test_a_fit_has_the_same_bits_with_the_twins_or_the_kernels(case, monkeypatch):
    X, y, weights = real_fits()[case]
    assert X.size <= _config.NUMPY_MAX_ELEMENTS  # so the default fit runs the twins

    def fitted():
        model = LinearRegression().fit(X, y, sample_weight=weights)
        return [model.coef_, np.asarray(model.intercept_), model.predict(X)]

    with_twins = fitted()
    monkeypatch.setattr(_config, "NUMPY_MAX_ELEMENTS", -1)  # the kernels at every size
    with_kernels = fitted()
    for a, b in zip(with_twins, with_kernels, strict=True):
        assert same_bits(a, b)


FRESH_PROCESS = """
import json, sys
import numpy as np
from fastlinreg import LinearRegression
rng = np.random.default_rng(0)
n, d = json.loads(sys.argv[1])
X = rng.standard_normal((n, d)) * 1e3 + 1e4
y = X @ np.arange(1.0, d + 1) + rng.standard_normal(n)
for dtype, weights in [(np.float64, None), (np.float32, None), (np.float64, rng.random(n))]:
    model = LinearRegression().fit(X.astype(dtype), y.astype(dtype), sample_weight=weights)
    model.predict(X.astype(dtype))
print(json.dumps("numba" in sys.modules))
"""


def numba_imported_by_a_fit(n: int, d: int) -> bool:
    result = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, json.dumps([n, d])],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_a_small_fit_and_predict_never_import_numba():
    # Warm start-up: importing numba and setting up its compiler cost a process about
    # half a second (issue 13: a fit and predict of 1000 x 10 within 1.3x scikit-learn's).
    assert not numba_imported_by_a_fit(1000, 10)
    # ... and the check can fail: a larger X is the kernels' business.
    assert numba_imported_by_a_fit(_config.NUMPY_MAX_ELEMENTS // 10 + 10, 10)


THREADS_FIRST = """
import sys, threading
import numpy as np
from fastlinreg import LinearRegression
assert "fastlinreg._jit" not in sys.modules
rng = np.random.default_rng(0)
X = rng.standard_normal((40_000, 8)) + 3.0
y = X @ np.arange(8.0) + rng.standard_normal(40_000)
solvers = ["exact", "agd", "gd", "exact"] * 2
results = [None] * len(solvers)
def fit(i):
    try:
        results[i] = LinearRegression(solver=solvers[i]).fit(X, y).coef_.tobytes()
    except BaseException as error:
        results[i] = repr(error)
threads = [threading.Thread(target=fit, args=(i,)) for i in range(len(solvers))]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert all(isinstance(r, bytes) for r in results), results
exact = {r for r, s in zip(results, solvers) if s == "exact"}
print(len(results), len(exact))
"""


@pytest.mark.slow
def test_threads_that_import_the_kernels_at_once_all_get_them():
    # numba and the JIT modules are imported by the first fit that needs them, here by
    # eight threads at once (the precompute pass's own threads among them).
    result = subprocess.run(
        [sys.executable, "-c", THREADS_FIRST], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["8", "1"]  # 8 fits; the exact ones have one answer
