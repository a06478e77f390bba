"""One epoch (one loss/gradient pass over X): fused kernels vs NumPy vs a streaming read.

Each group ``epoch|{n}x{d}|{dtype}`` holds the passes over one X:
"serial" (one thread) and "parallel" (all of numba's threads; ``kernels.loss_grad``),
"numpy" (``reference.loss_grad``) and "stream" (``kernels.streaming_read``, the
memory-bandwidth bound); "predict" (``kernels.predict``, parallel), the forward pass
alone, which has the same bound; and "precompute", the one pass that builds the factor
of [X y] for the exact solver and ``precompute`` (``triangular_factor``, parallel), timed
up to PRECOMPUTE_MAX_FEATURES columns (its arithmetic grows as d² per row: at d = 1000
one pass takes seconds here, and the target, 3x the stream, is for d <= 32).
extra_info records ``gbps_X`` (X.nbytes / median), ``gbps_X_y`` ((X.nbytes + y.nbytes) / median),
``ratio_to_stream`` (median / the streaming-read bound of the same array, timed in the
fixture of the same run) and, for float32, ``ratio_f32_f64`` (median / the float64
median of the same implementation and shape, when that ran first in the session).
"""

from __future__ import annotations

import numpy as np
import pytest

from fastlinreg import kernels, reference
from fastlinreg.sources import InMemorySource
from fastlinreg.sources._factor import triangular_factor

from ._common import benchmark_median, make_problem, median_time

MIB = 1 << 20
LARGE_BYTES = 256 * MIB  # X's size in float64; float32 uses the same n, so half the bytes
ROUNDS = 7
PRECOMPUTE_MAX_FEATURES = 100


def _shapes():
    params = []
    for d in (2, 10, 100, 1000):
        n = LARGE_BYTES // (8 * d)
        for dtype in ("float64", "float32"):  # float64 first: float32 compares against it
            params.append(pytest.param((n, d, dtype), marks=pytest.mark.large, id=f"{d}-{dtype}"))
    for dtype in ("float64", "float32"):
        params.append(pytest.param((20_000, 10, dtype), id=f"smoke-10-{dtype}"))
    return params


class Problem:
    def __init__(self, n: int, d: int, dtype: str):
        self.n, self.d, self.dtype = n, d, dtype
        self.X, self.y, w, self.b = make_problem(n, d, np.dtype(dtype))
        self.w64 = w
        self.w_x = w.astype(self.X.dtype)  # the reference gets w in X's dtype: no upcast of X
        self.group = f"epoch|{n}x{d}|{dtype}"
        # The NumPy reference in float64 is the oracle of the smoke check.
        X64 = self.X.astype(np.float64) if dtype == "float32" else self.X
        self.expected = reference.loss_grad(X64, self.y.astype(np.float64), w, self.b)
        del X64
        # Streaming-read bound of this very array, measured in this run.
        self.stream_s = median_time(lambda: kernels.streaming_read(self.X), repeat=7)

    def run(self, impl: str):
        X, y, b = self.X, self.y, self.b
        if impl == "serial":
            return lambda: kernels.loss_grad(X, y, self.w64, b, parallel=False)
        if impl == "parallel":
            return lambda: kernels.loss_grad(X, y, self.w64, b, parallel=True)
        if impl == "numpy":
            return lambda: reference.loss_grad(X, y, self.w_x, b)
        if impl == "stream":
            return lambda: kernels.streaming_read(X)
        if impl == "predict":
            out = np.empty(self.n, dtype=X.dtype)
            return lambda: kernels.predict(X, self.w64, b, parallel=True, out=out)
        if impl == "precompute":
            source = InMemorySource(X, y[:, None], parallel=True)
            return lambda: triangular_factor(source)
        raise ValueError(impl)


@pytest.fixture(scope="module", params=_shapes())
def problem(request):
    yield Problem(*request.param)


@pytest.fixture(scope="module")
def float64_medians():
    """(impl, n, d) -> median seconds of the float64 run, for the float32/float64 ratio."""
    return {}


def _check(result, expected, dtype: str) -> None:
    loss, grad_w, grad_b = result
    loss_e, grad_w_e, grad_b_e = expected
    rtol = 1e-3 if dtype == "float32" else 1e-8
    scale = np.linalg.norm(grad_w_e) + abs(grad_b_e)
    np.testing.assert_allclose(float(loss), loss_e, rtol=rtol)
    np.testing.assert_allclose(np.ravel(grad_w), grad_w_e, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(float(np.ravel(grad_b)[0]), grad_b_e, rtol=rtol, atol=rtol * scale)


def _check_factor(factor, X, y) -> None:
    """The factor's means, and the first row of RᵀR (the centred Gram of [X y]) against
    NumPy's: a check of the whole pass for the cost of one product, not of a Gram."""
    mean = np.append(X.mean(axis=0, dtype=np.float64), y.mean(dtype=np.float64))
    np.testing.assert_allclose(factor.mean, mean, rtol=1e-8, atol=1e-10)
    first = X[:, 0] - mean[0]  # float64
    expected = np.append(X.T @ first - mean[:-1] * first.sum(), first @ (y - mean[-1]))
    got = factor.R.T @ factor.R[:, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-8 * np.abs(expected).max())


@pytest.mark.parametrize("impl", ["serial", "parallel", "numpy", "stream", "predict", "precompute"])
def test_epoch(benchmark, problem, impl, float64_medians):
    if impl == "precompute" and problem.d > PRECOMPUTE_MAX_FEATURES:
        pytest.skip(f"the precompute pass is timed up to {PRECOMPUTE_MAX_FEATURES} features")
    f = problem.run(impl)
    f()  # compile (for the kernels) and warm the caches outside the timing
    benchmark.group = problem.group
    benchmark.name = f"{impl}|{problem.n}x{problem.d}|{problem.dtype}"
    result = benchmark.pedantic(f, rounds=ROUNDS, iterations=1, warmup_rounds=1)

    if impl == "predict":
        expected = reference.predict(problem.X.astype(np.float64), problem.w64, problem.b)
        rtol = 1e-6 if problem.dtype == "float32" else 1e-12
        np.testing.assert_allclose(result, expected, rtol=rtol, atol=rtol * np.abs(expected).max())
    elif impl == "precompute":
        _check_factor(result, problem.X, problem.y)
    elif impl == "stream":
        # streaming_read may accumulate in X's dtype: tolerance relative to sum(|X|).
        abs_sum = float(np.abs(problem.X).sum(dtype=np.float64))
        atol = (1e-6 if problem.dtype == "float32" else 1e-12) * abs_sum
        np.testing.assert_allclose(result, float(problem.X.sum(dtype=np.float64)), atol=atol)
    else:
        _check(result, problem.expected, problem.dtype)

    X = problem.X
    info = benchmark.extra_info
    info.update(
        impl=impl,
        n=problem.n,
        d=problem.d,
        dtype=problem.dtype,
        bytes_X=X.nbytes,
        bytes_y=problem.y.nbytes,
        stream_bound_s=problem.stream_s,
    )
    median = benchmark_median(benchmark)
    if median is None:  # --benchmark-disable: the smoke check above is all
        return
    info["gbps_X"] = X.nbytes / median / 1e9
    info["gbps_X_y"] = (X.nbytes + problem.y.nbytes) / median / 1e9
    info["ratio_to_stream"] = median / problem.stream_s
    key = (impl, problem.n, problem.d)
    if problem.dtype == "float64":
        float64_medians[key] = median
    elif key in float64_medians:
        info["ratio_f32_f64"] = median / float64_medians[key]
