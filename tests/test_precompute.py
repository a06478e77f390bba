"""The single-pass factor: equal to a Householder QR of the centred data on every path
(Gram without a copy, Gram of the centred copy, QR fallback), whatever the blocks and
threads, and a source that answers like the data it came from."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastlinreg import _config
from fastlinreg.sources import InMemorySource, precomputed


def data(kind, n=5_000, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.linspace(1, 5, d)
    Y = X @ rng.standard_normal((d, 2)) + rng.standard_normal((n, 2))
    weights = None
    if kind == "offset":  # means far above the spread: the Gram must be centred first
        X = X + 1e4
    elif kind == "weighted":
        weights = rng.uniform(0, 3, n)
    elif kind == "ill-conditioned":  # x and x^5: scaled condition number ~1e3
        x = rng.uniform(0, 20, n)
        X = np.column_stack([x**p for p in range(1, d + 1)])
    elif kind == "float32":  # read as float32, factored in float64
        X, Y = X.astype(np.float32), Y.astype(np.float32)
    return X, Y, weights


def householder(X, Y, weights):
    """R (up to row signs), mean and weight from one QR of the whole centred data."""
    A = np.column_stack([X, Y]).astype(np.float64)
    w = np.ones(len(A)) if weights is None else weights
    mean = w @ A / w.sum()
    R = np.linalg.qr(np.sqrt(w)[:, None] * (A - mean), mode="r")
    return R, mean, w.sum()


def spy(monkeypatch, name):
    calls = []
    real = getattr(precomputed, name)

    def recording(*args):
        result = real(*args)
        calls.append(result)
        return result

    monkeypatch.setattr(precomputed, name, recording)
    return calls


@pytest.mark.parametrize(
    ("kind", "copied", "qr_fallback"),
    [
        ("centred", False, False),
        ("offset", True, False),
        ("weighted", True, False),
        ("ill-conditioned", True, True),
        ("float32", True, False),
    ],
)
def test_factor_equals_householder_qr_on_every_path(monkeypatch, kind, copied, qr_fallback):
    X, Y, weights = data(kind)
    centred_copies = spy(monkeypatch, "_centred")
    choleskys = spy(monkeypatch, "_cholesky_factor")
    factor = precomputed.triangular_factor(InMemorySource(X, Y, weights))
    assert bool(centred_copies) is copied
    assert any(R is None for R in choleskys) is qr_fallback
    R, mean, total = householder(X, Y, weights)
    # Row signs are free in a QR factor; R'R (the centred Gram) and |R| are not.
    assert_allclose(np.abs(factor.R), np.abs(R), rtol=1e-9, atol=1e-12 * np.abs(R).max())
    assert_allclose(factor.mean, mean, rtol=1e-12, atol=1e-12)
    assert factor.total_weight == pytest.approx(total, rel=1e-14)


def test_the_factor_does_not_depend_on_threads():
    X, Y, weights = data("weighted", n=60_000)
    serial = precomputed.triangular_factor(InMemorySource(X, Y, weights, parallel=False))
    threaded = precomputed.triangular_factor(InMemorySource(X, Y, weights, parallel=True))
    assert np.array_equal(serial.R, threaded.R) and np.array_equal(serial.mean, threaded.mean)


@pytest.mark.parametrize("block_bytes", [1, 4096, 1 << 30])
def test_blocks_of_any_size_give_the_same_factor(monkeypatch, block_bytes):
    X, Y, weights = data("weighted")
    R, mean, _ = householder(X, Y, weights)
    monkeypatch.setattr(_config, "FACTOR_BLOCK_BYTES", block_bytes)
    factor = precomputed.triangular_factor(InMemorySource(X, Y, weights))
    assert_allclose(np.abs(factor.R), np.abs(R), rtol=1e-9, atol=1e-12 * np.abs(R).max())
    assert_allclose(factor.mean, mean, rtol=1e-12, atol=1e-12)


def test_precomputed_source_answers_like_the_data():
    X, Y, weights = data("offset", n=3_000)
    source = InMemorySource(X, Y, weights)
    from_factor = precomputed.PrecomputedSource(precomputed.triangular_factor(source))
    rng = np.random.default_rng(3)
    W, b = rng.standard_normal((2, 6)), rng.standard_normal(2)
    for expected, got in [
        (source.loss_grad(W, b), from_factor.loss_grad(W, b)),
        ((None, *source.hessian_vector(W, b)), (None, *from_factor.hessian_vector(W, b))),
    ]:
        for e, g in zip(expected, got, strict=True):
            if e is not None:
                assert_allclose(g, e, rtol=1e-9, atol=1e-9 * np.abs(e).max())


def test_feature_scaling_from_the_factor_or_a_pass():
    X, Y, weights = data("offset")
    source = InMemorySource(X, Y, weights)
    factor = precomputed.triangular_factor(source)
    for fit_intercept in (True, False):
        from_factor = precomputed.feature_scaling(source, fit_intercept, factor)
        from_pass = precomputed.feature_scaling(source, fit_intercept)
        assert_allclose(from_factor, from_pass, rtol=1e-10)
    center, scale, constant = precomputed.feature_scaling(source, True, factor)
    assert_allclose(center, X.mean(0), rtol=1e-12)
    assert_allclose(scale, X.std(0), rtol=1e-10)
    assert not constant.any()


def test_concurrent_passes_restore_the_blas_threads():
    import threading

    from threadpoolctl import threadpool_info

    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = blas_threads()
    X, Y, _ = data("centred", n=200_000)
    errors = []

    def fit():
        try:
            for _ in range(5):
                precomputed.triangular_factor(InMemorySource(X, Y))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=fit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert blas_threads() == before
