"""The single-pass factor: equal to a Householder QR of the centred data on every path
(Gram without a copy, Gram of the centred copy, QR fallback), whatever the blocks and
threads, and a source that answers like the data it came from."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from problems import linear_problem

from fastlinreg import _config, _jit
from fastlinreg._objective import Objective, feature_scaling
from fastlinreg.sources import InMemorySource, PrecomputedSource
from fastlinreg.sources import _factor as factor_pass
from fastlinreg.sources import _powers_of_two as powers_of_two
from fastlinreg.sources import _tsqr as tsqr


def data(kind, n=5_000, d=6, seed=0):
    rng = np.random.default_rng(seed)
    weighted = kind == "weighted"
    X, Y, weights = linear_problem(
        n, d, 2, scale=np.linspace(1, 5, d), max_weight=3.0 if weighted else None, seed=rng
    )
    if kind == "offset":  # means far above the spread: the Gram must be centred first
        X = X + 1e4
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
    real = getattr(tsqr, name)

    def recording(*args):
        result = real(*args)
        calls.append(result)
        return result

    monkeypatch.setattr(tsqr, name, recording)
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
    centred_copies = spy(monkeypatch, "centred_block")
    choleskys = spy(monkeypatch, "_cholesky_factor")
    factor = factor_pass.triangular_factor(InMemorySource(X, Y, weights))
    assert bool(centred_copies) is copied
    assert any(R is None for R in choleskys) is qr_fallback
    R, mean, total = householder(X, Y, weights)
    # Row signs are free in a QR factor; R'R (the centred Gram) and |R| are not.
    assert_allclose(np.abs(factor.R), np.abs(R), rtol=1e-9, atol=1e-12 * np.abs(R).max())
    assert_allclose(factor.mean, mean, rtol=1e-12, atol=1e-12)
    assert factor.total_weight == pytest.approx(total, rel=1e-14)


@pytest.mark.parametrize("d", [1, 2, 3, 4, 5, 9])
def test_the_gram_route_equals_householder_qr_at_every_width(monkeypatch, d):
    X, Y, _ = data("centred", n=4_999, d=d)
    grams = spy(monkeypatch, "_gram_without_copy")
    factor = factor_pass.triangular_factor(InMemorySource(X, Y))
    assert grams and all(gram is not None for gram, _, _ in grams)
    R, mean, total = householder(X, Y, None)
    assert_allclose(np.abs(factor.R), np.abs(R), rtol=1e-9, atol=1e-12 * np.abs(R).max())
    assert_allclose(factor.mean, mean, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("d", [1, 2, 5, 12])
@pytest.mark.parametrize("m", [1, 7, 1_001])  # 1,001: chunks of the narrow kernel
def test_both_moments_kernels_sum_what_numpy_sums_with_the_same_bits(m, d, k):
    rng = np.random.default_rng(m * 100 + d * 10 + k)
    X, Y = rng.standard_normal((m, d)), rng.standard_normal((m, k))
    Z = np.column_stack([X, Y])
    results = []
    for kernel in (_jit.block_moments, _jit.narrow_block_moments):
        gram, sums = np.full((d + k, d + k), np.nan), np.full(d + k, np.nan)
        kernel(X, Y, sums, gram[:d, d:], gram[d:, d:])
        assert_allclose(sums, Z.sum(axis=0), rtol=1e-13, atol=1e-13 * m)
        assert_allclose(gram[:, d:], (Z.T @ Z)[:, d:], rtol=1e-13, atol=1e-13 * m)
        assert np.isnan(gram[:, :d]).all()  # X'X is BLAS's: not written
        results.append((sums, gram[:, d:]))
    (sums, cross), (narrow_sums, narrow_cross) = results
    assert np.array_equal(sums, narrow_sums) and np.array_equal(cross, narrow_cross)


def test_the_factor_does_not_depend_on_threads():
    X, Y, weights = data("weighted", n=60_000)
    serial = factor_pass.triangular_factor(InMemorySource(X, Y, weights, parallel=False))
    threaded = factor_pass.triangular_factor(InMemorySource(X, Y, weights, parallel=True))
    assert np.array_equal(serial.R, threaded.R) and np.array_equal(serial.mean, threaded.mean)


@pytest.mark.parametrize("block_bytes", [1, 4096, 1 << 30])
def test_blocks_of_any_size_give_the_same_factor(monkeypatch, block_bytes):
    X, Y, weights = data("weighted")
    R, mean, _ = householder(X, Y, weights)
    monkeypatch.setattr(_config, "FACTOR_BLOCK_BYTES", block_bytes)
    factor = factor_pass.triangular_factor(InMemorySource(X, Y, weights))
    assert_allclose(np.abs(factor.R), np.abs(R), rtol=1e-9, atol=1e-12 * np.abs(R).max())
    assert_allclose(factor.mean, mean, rtol=1e-12, atol=1e-12)


def test_precomputed_source_answers_like_the_data():
    X, Y, weights = data("offset", n=3_000)
    source = InMemorySource(X, Y, weights)
    from_factor = PrecomputedSource(factor_pass.triangular_factor(source))
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
    factor = factor_pass.triangular_factor(source)
    for fit_intercept in (True, False):
        from_factor = feature_scaling(source, fit_intercept, factor)
        from_pass = feature_scaling(source, fit_intercept)
        assert_allclose(from_factor, from_pass, rtol=1e-10)
    center, scale, constant = feature_scaling(source, True, factor)
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
                factor_pass.triangular_factor(InMemorySource(X, Y))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=fit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert blas_threads() == before


# --- the factor's limits: zero weight, other shapes, halves, tiny and huge columns --------


def source(n, d, k=1, weights=None, seed=0):
    rng = np.random.default_rng(seed)
    return InMemorySource(rng.standard_normal((n, d)), rng.standard_normal((n, k)), weights)


def test_a_pass_over_rows_of_zero_weight_only_is_refused():
    # The estimator refuses all-zero weights first; a source handed to the pass directly
    # gets the same answer instead of a factor of NaNs.
    with pytest.raises(ValueError, match="sample_weight sums to zero"):
        factor_pass.triangular_factor(source(30, 2, weights=np.zeros(30)))


def test_factors_of_other_shapes_are_not_combined():
    first = factor_pass.triangular_factor(source(30, 2))
    second = factor_pass.triangular_factor(source(30, 3))
    with pytest.raises(
        ValueError,
        match="cannot combine a factor of 2 features and 1 targets with one of 3 features",
    ):
        factor_pass.combine(first, second)
    two_targets = factor_pass.triangular_factor(source(30, 1, k=2))
    with pytest.raises(ValueError, match="1 features and 2 targets"):
        factor_pass.combine(two_targets, second)


def test_combining_halves_gives_the_factor_of_the_whole():
    whole = source(64, 3, k=2, weights=np.linspace(0.0, 2.0, 64), seed=1)
    halves = [whole.rows(0, 20), whole.rows(20, 64)]
    merged = factor_pass.combine(*map(factor_pass.triangular_factor, halves))
    direct = factor_pass.triangular_factor(whole)
    # R is unique up to the signs of its rows: compare R'R, the centred weighted Gram.
    assert_allclose(merged.R.T @ merged.R, direct.R.T @ direct.R, rtol=1e-12, atol=1e-12)
    assert_allclose(merged.mean, direct.mean, rtol=1e-12)
    assert merged.total_weight == pytest.approx(direct.total_weight, rel=1e-15)


def test_a_factor_of_many_blocks_scales_tiny_and_huge_columns_exactly(monkeypatch):
    # Columns of 1e-170 and 1e+150, and y of 1e-170: squared as they are, they underflow
    # to 0 or overflow. Blocks (and their merges) scale them by powers of two first, so
    # the factor is the unscaled data's scaled back, bit for bit, block route by route.
    monkeypatch.setattr(_config, "FACTOR_BLOCK_BYTES", 1)  # 10-row blocks
    rng = np.random.default_rng(1)
    X = rng.standard_normal((400, 3)) + [0.0, 3.0, -1e3]
    Y = X @ [1.0, 2.0, 3.0] + rng.standard_normal(400)
    weights = rng.uniform(0.5, 2.0, 400)
    exponents = np.array([-565, 500, 0, -565])
    for w in (None, weights):  # the Gram route, and the centred copy's
        expected = factor_pass.triangular_factor(InMemorySource(X, Y[:, None], w))
        scaled = InMemorySource(np.ldexp(X, exponents[:3]), np.ldexp(Y, -565)[:, None], w)
        # y / y_scale (a power of two) has its largest magnitude in [1, 2)
        assert 1.0 <= np.max(np.abs(scaled.Y)) < 2.0
        assert np.frexp(scaled.y_scale)[0] == 0.5
        got = factor_pass.triangular_factor(scaled)
        np.testing.assert_array_equal(got.R, np.ldexp(expected.R, exponents))
        np.testing.assert_array_equal(got.mean, np.ldexp(expected.mean, exponents))
        assert got.total_weight == expected.total_weight


def test_the_feature_scaling_pass_scales_tiny_columns_exactly(monkeypatch):
    monkeypatch.setattr(_config, "FACTOR_BLOCK_BYTES", 1)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((300, 2)) + [5.0, 0.0]
    Y = rng.standard_normal((300, 1))
    for fit_intercept in (True, False):
        center, scale, constant = feature_scaling(InMemorySource(X, Y), fit_intercept)
        got = feature_scaling(InMemorySource(np.ldexp(X, [-565, 700]), Y), fit_intercept)
        np.testing.assert_array_equal(got[0], np.ldexp(center, [-565, 700]))
        np.testing.assert_array_equal(got[1], np.ldexp(scale, [-565, 700]))
        assert not got[2].any() and not constant.any()


def test_column_norms_neither_underflow_nor_overflow():
    M = np.array([[3e-170, 3e200, 0.0, 1.0], [4e-170, 4e200, 0.0, 2.0]])
    np.testing.assert_allclose(powers_of_two.column_norms(M), [5e-170, 5e200, 0.0, 5**0.5])
    assert powers_of_two.column_norms(np.array([[1.5e308], [1.5e308]]))[0] == np.inf


def test_weighted_values_whose_column_norm_overflows_are_named():
    # Through InMemorySource directly: the estimator scales huge weights down first.
    X = np.ones((5, 2))
    X[3, 1] = 1e160
    source = InMemorySource(X, np.ones((5, 1)), np.full(5, 1e300))
    with pytest.raises(
        ValueError,
        match=r"X holds 1e\+160 at row 3, column 1: .*its column \(weighted by sample_weight\)",
    ):
        source.check_values()
    InMemorySource(X, np.ones((5, 1))).check_values()  # unweighted: its norm is 1e160


def test_the_objective_of_a_factor_of_tiny_y_is_the_ordinary_ones_scaled():
    # The factor keeps y in its own units (1e-170 here); the objective iterates on
    # y / y_scale, whose losses and gradients are then those of ordinary y.
    rng = np.random.default_rng(4)
    X = rng.standard_normal((50, 2))
    Y = rng.standard_normal((50, 1))

    def objective(y):
        factor = factor_pass.triangular_factor(InMemorySource(X, y))
        center, scale, constant = feature_scaling(None, True, factor)
        return Objective(
            PrecomputedSource(factor),
            center,
            scale,
            fit_intercept=True,
            alpha=0.0,
            l1_ratio=0.0,
            constant=constant,
        )

    ordinary, tiny = objective(Y), objective(np.ldexp(Y, -600))
    assert ordinary.y_scale == 1.0 and np.frexp(tiny.y_scale)[0] == 0.5
    # theta in units of y / tiny.y_scale is theta * ratio in units of y / 2**-600.
    ratio = int(np.frexp(tiny.y_scale)[1] - 1 + 600)
    theta, beta = np.array([[0.3, -0.2]]), np.array([0.1])
    expected = ordinary.smooth_loss_grad(np.ldexp(theta, ratio), np.ldexp(beta, ratio))
    got = tiny.smooth_loss_grad(theta, beta)
    assert got[0] == np.ldexp(expected[0], -2 * ratio)
    np.testing.assert_array_equal(got[1], np.ldexp(expected[1], -ratio))
    np.testing.assert_array_equal(got[2], np.ldexp(expected[2], -ratio))
    W, b = tiny.to_original(theta, beta)
    np.testing.assert_array_equal(tiny.to_solver(W, b)[0], theta)


def test_merges_of_wide_factors_hold_a_bounded_number_of_them():
    # 16 at a time as always up to 1448 columns; beyond, as many as fit in MERGE_BYTES
    # (16 factors of 4096 columns are 2 GiB), never fewer than two.
    from fastlinreg.sources import _tsqr as tsqr

    assert [tsqr.blocks_per_merge(p) for p in (2, 21, 513, 1448)] == [16] * 4
    assert [tsqr.blocks_per_merge(p) for p in (3000, 4097, 20000)] == [3, 2, 2]
    for p in range(1449, 4097, 97):  # beyond 4096 columns, two already exceed it
        assert 8 * p * p * tsqr.blocks_per_merge(p) <= tsqr.MERGE_BYTES
