"""A contiguous row's four lanes as one vector (``fastlinreg._jit._row_lanes_vector``)
have the bits of the scalar lanes, and every kernel that sums a row in lanes gives the
same bits in any layout. With NUMBA_DISABLE_JIT both sides are the scalar lanes: run
with the JIT on (the README's test command, and .ci/run's coverage pass with the JIT)."""

import numba
import numpy as np
import pytest

from fastlinreg import _jit, kernels


@numba.njit
def vector(X, i, w, chunks):
    return _jit._row_lanes(X, i, w, chunks)


@numba.njit
def scalar(X, i, w, chunks):
    return _jit._row_lanes_strided(X, i, w, chunks)


def awkward_rows(n, d, dtype, seed=0):
    """Numbers of every magnitude, signed zeros, subnormals, and a row of each special."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * 10.0 ** rng.integers(-300, 300, size=(n, d))
    X[0] = -0.0
    X[1, ::3] = 5e-324 if dtype == np.float64 else 1e-45
    X[2, 0] = np.inf
    X[3, -1] = np.nan
    X[4] = np.where(np.arange(d) % 2 == 0, 1e308, -1e308)  # overflowing partial sums
    with np.errstate(over="ignore"):
        return X.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [1, 3, 4, 5, 8, 11, 64, 101])
def test_the_vector_lanes_are_the_scalar_lanes_bit_for_bit(dtype, d):
    X = awkward_rows(40, d, dtype)
    w = np.random.default_rng(1).standard_normal(d) * 1e-3
    w[0] = -0.0
    for i in range(X.shape[0]):
        got, expected = vector(X, i, w, d // 4), scalar(X, i, w, d // 4)
        np.testing.assert_array_equal(np.array(got).view(np.int64),
                                      np.array(expected).view(np.int64))  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_row_has_the_same_bits_contiguous_strided_and_column_major(dtype):
    # Above the NumPy twins' size, so the kernels run: the vector lanes for the
    # contiguous rows, the scalar lanes for the strided ones and the columns for F order.
    d = 37
    X = awkward_rows(2000, d, dtype, seed=3)[:, :d]
    X[:5] = np.random.default_rng(4).standard_normal((5, d))  # finite predictions too
    w = np.random.default_rng(5).standard_normal(d)
    wide = np.zeros((X.shape[0], 2 * d), dtype)
    wide[:, ::2] = X
    assert X.size > 2**14 and not wide[:, ::2].flags.c_contiguous
    with np.errstate(invalid="ignore", over="ignore"):
        rows = kernels.predict(X, w, 0.25)
        strided = kernels.predict(wide[:, ::2], w, 0.25)
        columns = kernels.predict(np.asfortranarray(X), w, 0.25)
        w_strided = kernels.predict(X, np.repeat(w, 2)[::2], 0.25)
        # X at an address that is not a multiple of its item size (a byte buffer).
        buffer = np.zeros(X.nbytes + X.itemsize, np.uint8)
        offset = X.itemsize // 2
        unaligned = np.frombuffer(buffer.data, X.dtype, X.size, offset).reshape(X.shape)
        unaligned[...] = X
        assert not unaligned.flags.aligned
        unaligned = kernels.predict(unaligned, w, 0.25)
        reversed_rows = kernels.predict(X[::-1], w, 0.25)[::-1]
    for other in (strided, columns, w_strided, unaligned, reversed_rows):
        np.testing.assert_array_equal(
            rows.view(np.uint8), np.ascontiguousarray(other).view(np.uint8)
        )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [1, 4, 7, 11, 40])
def test_a_row_dot_is_the_sum_it_documents(dtype, d):
    # Lane l adds x_j w_j for j = l, l + 4, ... below d - d % 4, lane 0 then the last
    # d % 4; the result is (a0 + a1) + (a2 + a3). In Python floats, one at a time.
    rng = np.random.default_rng(d)
    X = (rng.standard_normal((3, d)) * 10.0 ** rng.integers(-8, 8, size=(3, d))).astype(dtype)
    w = rng.standard_normal(d)
    full = d - d % 4
    for i in range(3):
        lanes = [0.0, 0.0, 0.0, 0.0]
        for j in range(d):
            lanes[j % 4 if j < full else 0] += float(X[i, j]) * float(w[j])
        expected = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3])
        assert _jit._row_dot(X, i, w, d) == expected


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_an_epoch_over_column_major_x_has_the_same_bits_contiguous_or_strided(dtype):
    # Column-major blocks sum each column's gradient in lanes (_column_dot, the row dot
    # of the transpose): vector lanes down a contiguous column, scalar ones down a
    # strided column.
    rng = np.random.default_rng(6)
    X = np.asfortranarray(rng.standard_normal((3001, 13)).astype(dtype))
    tall = np.asfortranarray(np.repeat(X, 2, axis=0))[::2]
    assert np.array_equal(X, tall) and tall.strides[0] == 2 * X.itemsize
    y = rng.standard_normal(3001).astype(dtype)
    w = rng.standard_normal(13)
    loss, gw, gb = kernels.loss_grad(X, y, w, 0.5)
    loss_s, gw_s, gb_s = kernels.loss_grad(tall, y, w, 0.5)
    assert loss == loss_s and gb == gb_s
    assert np.array_equal(gw.view(np.int64), gw_s.view(np.int64))


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="an intrinsic types only when compiled")
def test_the_intrinsic_refuses_what_it_cannot_sum():
    @numba.njit
    def lanes(X, w):
        return _jit._row_lanes_vector(X, 0, w, 1)

    with pytest.raises(numba.TypingError):
        lanes(np.zeros((2, 4), np.int64), np.zeros(4))
    with pytest.raises(numba.TypingError):
        lanes(np.zeros((2, 4)), np.zeros(4, np.float32))
