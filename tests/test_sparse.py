"""Sparse X: the CSR kernels against the SciPy reference, SparseSource, and every solver
of LinearRegression on sparse input against the same fit on the dense array."""

from __future__ import annotations

import warnings

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from nist import DATASETS, load, worst_lre
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression as SkLinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from fastlinreg import LinearRegression, _config, kernels, open_npz, reference
from fastlinreg.kernels import CSRRows
from fastlinreg.sources import SparseSource
from fastlinreg.sources import _factor as factor_pass


def sparse_problem(n=300, d=12, density=0.2, k=1, dtype=np.float64, seed=0, index=np.int32):
    """A CSR X with empty rows and an empty column, y of k targets from it plus noise."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="csr", dtype=np.float64, random_state=seed)
    X = X.multiply(rng.uniform(-3.0, 5.0, size=d)).tocsr()  # columns of different scales
    X.data += 2.0  # values away from zero, so the centres matter
    X = sp.csr_matrix(X @ sp.diags((np.arange(d) < d - 1).astype(float)), dtype=dtype)
    X.eliminate_zeros()
    X.sum_duplicates()  # canonical: sorted indices (the product above left them unsorted)
    X.indices = X.indices.astype(index)
    X.indptr = X.indptr.astype(index)
    W = rng.standard_normal((d, k))
    Y = X @ W + 1.5 + 0.1 * rng.standard_normal((n, k))
    return X, (Y[:, 0] if k == 1 else Y)


def shuffled_with_duplicates(X):
    """X with each row's entries in reverse order and its first entry split in two
    duplicates: the same matrix, not in canonical form."""
    rows, columns, values = [], [], []
    for i in range(X.shape[0]):
        start, stop = X.indptr[i], X.indptr[i + 1]
        cols, vals = X.indices[start:stop][::-1], X.data[start:stop][::-1].copy()
        if cols.size:
            vals[0] /= 2  # exact: the two halves add up to the value
            cols, vals = np.append(cols, cols[0]), np.append(vals, vals[0])
        rows.extend([i] * cols.size)
        columns.extend(cols.tolist())
        values.extend(vals.tolist())
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=X.shape[0]))])
    M = sp.csr_matrix((np.array(values), np.array(columns), indptr), shape=X.shape)
    assert not M.has_canonical_format
    return M


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("index", [np.int32, np.int64])
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("by_columns", [False, True])
def test_kernel_equals_the_scipy_reference(dtype, index, k, weighted, by_columns):
    X, y = sparse_problem(k=k, dtype=dtype, index=index)
    rng = np.random.default_rng(1)
    d = X.shape[1]
    w = rng.standard_normal(d if k == 1 else (k, d))
    b = rng.standard_normal(k)[0] if k == 1 else rng.standard_normal(k)
    s = rng.uniform(0.0, 3.0, X.shape[0]) if weighted else None
    columns = kernels.csc_columns(X) if by_columns else None
    loss, gw, gb = kernels.csr_loss_grad(X, y.astype(dtype), w, b, sample_weight=s,
                                         columns=columns)  # fmt: skip
    X64, y64 = X.astype(np.float64), y.astype(dtype).astype(np.float64)
    if weighted:
        # The reference has no weights: its forward pass, and the weighted sums by hand.
        residual = y64 - reference.forward(X64, w.T, b)
        sr = (residual.T * s).T
        ref_loss = float(np.sum(sr * residual)) / (s.sum() * k)
        ref_gw = (-2.0 / s.sum() * (X64.T @ sr)).T
        ref_gb = -2.0 / s.sum() * np.sum(sr, axis=0)
    else:
        ref_loss, ref_gw, ref_gb = reference.loss_grad(X64, y64, w.T, b)
        ref_loss = float(ref_loss)
        ref_gw = np.asarray(ref_gw).T
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-10)
    np.testing.assert_allclose(gw, ref_gw, rtol=1e-10, atol=1e-10 * np.abs(ref_gw).max())
    np.testing.assert_allclose(gb, ref_gb, rtol=1e-10, atol=1e-12)


def test_the_reference_takes_sparse_and_dense_alike():
    X, y = sparse_problem()
    w = np.linspace(-1.0, 1.0, X.shape[1])
    for sparse_value, dense_value in zip(
        reference.loss_grad(X, y, w, 0.5), reference.loss_grad(X.toarray(), y, w, 0.5), strict=True
    ):
        np.testing.assert_allclose(sparse_value, dense_value, rtol=1e-12)


def test_duplicates_and_unsorted_entries_are_added_as_scipy_adds_them():
    X, y = sparse_problem()
    M = shuffled_with_duplicates(X)
    np.testing.assert_allclose(M.toarray(), X.toarray(), rtol=1e-15)
    w = np.linspace(-1.0, 1.0, X.shape[1])
    loss, gw, gb = kernels.csr_loss_grad(M, y, w, 0.3)
    ref_loss, ref_gw, ref_gb = reference.loss_grad(M, y, w, 0.3)
    np.testing.assert_allclose([loss, gb], [ref_loss, ref_gb], rtol=1e-10)
    np.testing.assert_allclose(gw, ref_gw, rtol=1e-10)


@pytest.fixture
def restore_threads():
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


@pytest.mark.parametrize("by_columns", [False, True])
def test_serial_parallel_and_thread_counts_give_the_same_bits(
    restore_threads, monkeypatch, by_columns
):
    monkeypatch.setattr(_config, "SPARSE_BLOCK_WORK", 1000)
    X, Y = sparse_problem(n=3000, d=40, density=0.3, k=2)
    W = np.random.default_rng(2).standard_normal((2, 40))
    b = np.array([0.1, -0.2])
    assert kernels.csr_block_starts(X.indptr, 40, 2).size > 30  # many blocks
    columns = kernels.csc_columns(X) if by_columns else None
    if by_columns:
        assert columns.column_starts.size > 10  # columns over several blocks too
    results = [kernels.csr_loss_grad(X, Y, W, b, parallel=False, columns=columns)]
    for threads in range(1, numba.config.NUMBA_NUM_THREADS + 1):
        numba.set_num_threads(threads)
        results.append(kernels.csr_loss_grad(X, Y, W, b, parallel=True, columns=columns))
    for loss, gw, gb in results[1:]:
        assert loss == results[0][0]
        assert np.array_equal(gw, results[0][1]) and np.array_equal(gb, results[0][2])
    serial = kernels.csr_predict(X, W[0], 0.5, parallel=False)
    assert np.array_equal(serial, kernels.csr_predict(X, W[0], 0.5, parallel=True))


def binary_problem(k=1, dtype=np.float64, index=np.int32):
    """sparse_problem's pattern with every stored value 1 (one-hot and binary features)."""
    X, _ = sparse_problem(n=500, d=30, density=0.2, k=k, dtype=dtype, index=index)
    X.data[:] = 1
    rng = np.random.default_rng(5)
    return X, X @ rng.standard_normal((30, k)) + 0.1 * rng.standard_normal((500, k))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("index", [np.int32, np.int64])
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("by_columns", [False, True])
def test_a_binary_x_is_passed_over_without_its_values_with_the_same_bits(
    dtype, index, k, weighted, by_columns
):
    X, Y = binary_problem(k, dtype, index)
    rng = np.random.default_rng(6)
    W, b = rng.standard_normal((k, 30)), rng.standard_normal(k)
    s = rng.uniform(0.0, 3.0, 500) if weighted else None
    columns = kernels.csc_columns(X) if by_columns else None
    assert kernels.csr_is_binary(X)
    read = kernels.csr_loss_grad(X, Y, W, b, sample_weight=s, columns=columns, binary=False)
    # The same indices with NaN values: any value read would make the results NaN.
    unread = CSRRows(np.full_like(X.data, np.nan), X.indices, X.indptr, 30)
    unread_columns = None if columns is None else columns._replace(data=columns.data * np.nan)
    skipped = kernels.csr_loss_grad(unread, Y, W, b, sample_weight=s, columns=unread_columns,
                                    binary=True)  # fmt: skip
    assert skipped[0] == read[0]
    assert np.array_equal(skipped[1], read[1]) and np.array_equal(skipped[2], read[2])
    # Checked when not said: the same bits again.
    found = kernels.csr_loss_grad(X, Y, W, b, sample_weight=s, columns=columns)
    assert found[0] == read[0] and np.array_equal(found[1], read[1])
    if by_columns:  # a binary X's copy into columns holds no values
        indices_only = kernels.csc_columns(X, binary=True)
        assert indices_only.data is None
        assert np.array_equal(indices_only.indices, columns.indices)
        assert np.array_equal(indices_only.indptr, columns.indptr)
        again = kernels.csr_loss_grad(X, Y, W, b, sample_weight=s, columns=indices_only)
        assert again[0] == read[0] and np.array_equal(again[1], read[1])
        X.data[0] = 2.0  # no longer binary: its value-less copy is refused
        with pytest.raises(ValueError, match="copied without values"):
            kernels.csr_loss_grad(X, Y, W, b, columns=indices_only)


def test_a_row_without_its_values_has_the_bits_of_a_row_of_ones():
    # Compiled here, uncached, so that numba resolves _value for None and for arrays in
    # this process (.ci/run's pass with the JIT on measures the overload).
    from numba import njit

    from fastlinreg import _jit_sparse

    @njit(cache=False)
    def dot_then_scatter(data, indices, stop, w, g):
        total = _jit_sparse._row_dot(data, indices, np.uint64(0), np.uint64(stop), w)
        _jit_sparse._row_scatter(data, indices, np.uint64(0), np.uint64(stop), total, g)
        return total

    rng = np.random.default_rng(7)
    indices = rng.integers(0, 6, size=11).astype(np.int32)  # duplicates among them
    w = rng.standard_normal(6)
    for ones in [np.ones(11), np.ones(11, dtype=np.float32)]:
        for stop in range(12):  # every remainder of the four lanes
            g_ones, g_none = np.full(6, 0.25), np.full(6, 0.25)
            with_ones = dot_then_scatter(ones, indices, stop, w, g_ones)
            assert dot_then_scatter(None, indices, stop, w, g_none) == with_ones
            assert np.array_equal(g_none, g_ones)
            assert with_ones != 0.0 or stop == 0


def test_binary_means_every_stored_value_of_the_rows_is_one():
    X = sp.random(200, 300, density=0.5, format="csr", random_state=0)  # 30,000 entries
    X.data[:] = 1.0
    assert kernels.csr_is_binary(X) and kernels.csr_is_binary(X.astype(np.float32))
    for position in [0, 4095, 4096, 15_000, X.nnz - 1]:  # either side of the checked blocks
        for value in [2.0, -1.0, 0.0, np.nan, np.nextafter(1.0, 2.0)]:
            other = X.copy()
            other.data[position] = value
            assert not kernels.csr_is_binary(other), (position, value)
    assert kernels.csr_is_binary(sp.csr_matrix((5, 4)))  # no entries
    # Rows [10, 20) of a matrix: only their entries count.
    other = X.copy()
    other.data[other.indptr[20] :] = 7.0
    assert kernels.csr_is_binary(CSRRows(other.data, other.indices, other.indptr[10:21], 300))
    assert not kernels.csr_is_binary(CSRRows(other.data, other.indices, other.indptr[10:22], 300))


def test_a_sparse_source_checks_for_a_binary_x_once_per_fit(monkeypatch):
    X, Y = binary_problem()
    y = Y[:, 0]
    checks = []
    is_binary = kernels.csr_is_binary
    monkeypatch.setattr(kernels, "csr_is_binary", lambda X: checks.append(X.shape) or is_binary(X))
    params = {"solver": "agd", "precompute": False, "tol": 1e-10, "max_iter": 10_000}
    binary = LinearRegression(**params).fit(X, y)
    assert checks == [X.shape]
    sgd = LinearRegression(solver="sgd", batch_size=50, max_iter=3, tol=None, random_state=0)
    sgd.fit(X, y)
    assert checks == [X.shape] * 2  # not once per mini-batch
    # Summed by columns, its copy holds the indices alone.
    copies = []
    csc_columns = kernels.csc_columns
    monkeypatch.setattr(
        kernels, "csc_columns", lambda X, **kw: copies.append(csc_columns(X, **kw)) or copies[-1]
    )
    threshold = _config.SPARSE_COLUMNS_MIN_PARTIAL_BYTES
    monkeypatch.setattr(_config, "SPARSE_COLUMNS_MIN_PARTIAL_BYTES", 8 * 30)
    by_columns = LinearRegression(**params).fit(X, y)
    assert len(copies) == 1 and copies[0].data is None and checks == [X.shape] * 3
    np.testing.assert_allclose(by_columns.coef_, binary.coef_, rtol=1e-9)
    monkeypatch.setattr(_config, "SPARSE_COLUMNS_MIN_PARTIAL_BYTES", threshold)
    # Read as values, the fit has the same bits.
    monkeypatch.setattr(kernels, "csr_is_binary", lambda X: False)
    read = LinearRegression(**params).fit(X, y)
    assert np.array_equal(read.coef_, binary.coef_) and read.intercept_ == binary.intercept_
    assert np.array_equal(sgd.coef_, LinearRegression(**sgd.get_params()).fit(X, y).coef_)


def test_by_columns_the_loss_and_intercept_keep_their_bits_and_rows_may_be_a_slice():
    X, Y = sparse_problem(n=400, d=30, k=2)
    W = np.random.default_rng(3).standard_normal((2, 30))
    b = np.array([0.4, -1.0])
    s = np.random.default_rng(4).uniform(0.5, 2.0, 400)
    fused = kernels.csr_loss_grad(X, Y, W, b, sample_weight=s)
    by_columns = kernels.csr_loss_grad(X, Y, W, b, sample_weight=s,
                                       columns=kernels.csc_columns(X))  # fmt: skip
    assert by_columns[0] == fused[0] and np.array_equal(by_columns[2], fused[2])
    np.testing.assert_allclose(by_columns[1], fused[1], rtol=1e-13, atol=1e-15)
    assert not np.array_equal(X.indices, kernels.csc_columns(X).indices)  # not a no-op
    # Rows 100..300 as views (indptr not starting at 0): the columns of those rows only.
    rows = kernels.CSRRows(X.data, X.indices, X.indptr[100:301], 30)
    sliced = kernels.csr_loss_grad(rows, Y[100:300], W, b, columns=kernels.csc_columns(rows))
    expected = kernels.csr_loss_grad(X[100:300], Y[100:300], W, b)
    assert sliced[0] == expected[0]
    np.testing.assert_allclose(sliced[1], expected[1], rtol=1e-13, atol=1e-15)
    with pytest.raises(ValueError, match="not X's"):
        kernels.csr_loss_grad(X[:200], Y[:200], W, b, columns=kernels.csc_columns(X))


def test_wide_sparse_sources_sum_by_columns_and_sgd_batches_never_copy(monkeypatch):
    # The rule by d and k alone, and a fit through the copy equals the fit without it.
    assert not _config.sparse_gradient_by_columns(100_000, 1)
    assert _config.sparse_gradient_by_columns(1_000_000, 1)
    assert _config.sparse_gradient_by_columns(200_000, 3)
    X, y = sparse_problem(n=500, d=20)
    assert not SparseSource(X, y[:, None]).by_columns
    copies = []
    csc_columns = kernels.csc_columns
    monkeypatch.setattr(
        kernels, "csc_columns", lambda X, **kw: copies.append(X.shape) or csc_columns(X, **kw)
    )
    params = {"solver": "agd", "precompute": False, "tol": 1e-12, "max_iter": 100_000}
    fused = LinearRegression(**params).fit(X, y)
    assert copies == []
    monkeypatch.setattr(_config, "SPARSE_COLUMNS_MIN_PARTIAL_BYTES", 8 * 20)
    assert SparseSource(X, y[:, None]).by_columns
    by_columns = LinearRegression(**params).fit(X, y)
    assert copies == [X.shape]  # one copy for the whole fit
    np.testing.assert_allclose(by_columns.coef_, fused.coef_, rtol=1e-10)
    assert by_columns.intercept_ == pytest.approx(fused.intercept_, rel=1e-10)
    copies.clear()
    sgd = LinearRegression(solver="sgd", batch_size=50, max_iter=3, tol=None, random_state=0)
    sgd.fit(X, y)
    assert set(copies) <= {X.shape}  # of the whole X only: mini-batches are passed once


def test_blocks_are_cut_by_stored_entries_and_bounded_by_the_partials(monkeypatch):
    # 1000 rows of 1 entry, then 10 rows of 1000 entries: blocks by rows alone would put
    # nearly all the work in the last one.
    lengths = np.array([1] * 1000 + [1000] * 10)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    monkeypatch.setattr(_config, "SPARSE_BLOCK_WORK", 2000)
    starts = kernels.csr_block_starts(indptr, 1000, 1)
    work = np.diff(indptr[starts] + starts)
    assert starts[0] == 0 and starts[-1] == lengths.size
    assert work.max() <= 2000 + 1000 and len(starts) - 1 >= 5
    assert np.array_equal(starts, kernels.csr_block_starts(indptr, 1000, 1))  # fixed
    # Partial gradients of 8 * k * d bytes each: at most SPARSE_PARTIALS_BYTES of them.
    monkeypatch.setattr(_config, "SPARSE_PARTIALS_BYTES", 3 * 8 * 1000)
    assert len(kernels.csr_block_starts(indptr, 1000, 1)) - 1 == 3
    assert np.array_equal(kernels.csr_block_starts(indptr[:1], 5, 1), [0])


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_block_cuts_are_the_first_rows_whose_work_reaches_each_cut(index_dtype):
    # The binary search against the definition: the work before row i is
    # (indptr[i] - indptr[0]) + i, and cut b is b * total // n_blocks. Rows of very
    # different lengths, empty rows, and indptr not starting at 0 (a row slice).
    from fastlinreg import _jit_sparse

    rng = np.random.default_rng(3)
    for n, longest, n_blocks in [(0, 1, 1), (1, 5, 1), (7, 1, 7), (200, 3, 17), (300, 900, 40),
                                 (50, 0, 9), (1000, 60, 3)]:  # fmt: skip
        lengths = rng.integers(0, longest + 1, size=n)
        if n > 10:
            lengths[n // 3] = 20 * longest  # one row longer than several blocks
        indptr = (np.concatenate([[0], np.cumsum(lengths)]) + 5).astype(index_dtype)
        starts = np.empty(n_blocks + 1, dtype=np.int64)
        _jit_sparse.csr_block_cuts(indptr, n_blocks, starts)
        work = (indptr - indptr[0]).astype(np.int64) + np.arange(n + 1)
        cuts = np.arange(n_blocks) * work[-1] // n_blocks
        expected = np.append(np.searchsorted(work, cuts, side="left"), n)
        assert np.array_equal(starts, expected), (n, longest, n_blocks)


def test_predict_equals_the_dense_product_row_by_row():
    X, _ = sparse_problem(dtype=np.float32)
    w = np.linspace(-2.0, 2.0, X.shape[1])
    out = kernels.csr_predict(X, w, 0.25)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, X.astype(np.float64) @ w + 0.25, rtol=1e-6)
    # A row's prediction does not depend on the others.
    assert np.array_equal(out[100:150], kernels.csr_predict(X[100:150], w, 0.25))


def test_kernel_errors_name_what_is_wrong():
    X, y = sparse_problem()
    with pytest.raises(TypeError, match="CSR"):
        kernels.csr_loss_grad(X.tocsc(), y, np.zeros(12), 0.0)
    with pytest.raises(TypeError, match="float32 or float64"):
        kernels.csr_predict(X.astype(np.int64), np.zeros(12), 0.0)
    with pytest.raises(ValueError, match="y must have shape"):
        kernels.csr_loss_grad(X, y[:-1], np.zeros(12), 0.0)
    with pytest.raises(ValueError, match="w must have shape"):
        kernels.csr_loss_grad(X, y, np.zeros(11), 0.0)
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        kernels.csr_loss_grad(X, y, np.zeros(12), 0.0, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="0 rows"):
        kernels.csr_loss_grad(X[:0], y[:0], np.zeros(12), 0.0)
    with pytest.raises(ValueError, match="w must have shape"):
        kernels.csr_predict(X, np.zeros(3), 0.0)
    with pytest.raises(ValueError, match="out must have shape"):
        kernels.csr_predict(X, np.zeros(12), 0.0, out=np.empty(3))


def test_sgd_batches_are_views_of_the_csr_arrays():
    X, y = sparse_problem()
    source = SparseSource(X, y[:, None], np.ones(300))
    piece = source.rows(100, 180)
    assert np.shares_memory(piece.X.data, X.data) and np.shares_memory(piece.X.indices, X.indices)
    assert piece.n_samples == 80 and piece.sample_weight.shape == (80,)
    W, b = np.ones((1, 12)), np.zeros(1)
    np.testing.assert_allclose(
        piece.loss_grad(W, b)[1], SparseSource(X[100:180], y[100:180, None]).loss_grad(W, b)[1]
    )
    rows, _, _ = next(SparseSource(X[100:180], y[100:180, None]).row_blocks())
    assert np.array_equal(piece.dense_rows(0, 80), rows)


def test_column_factor_is_the_dense_one():
    X, y = sparse_problem()
    s = np.random.default_rng(3).uniform(0.5, 2.0, X.shape[0])
    for weights in (None, s):
        sparse = factor_pass.column_factor(SparseSource(X, y[:, None], weights))
        dense = factor_pass.column_factor(SparseSource(X, y[:, None], weights).rows(0, 300))
        assert sparse.R.shape == (1, 12)
        from fastlinreg.sources import InMemorySource

        memory = factor_pass.column_factor(InMemorySource(X.toarray(), y[:, None], weights))
        np.testing.assert_allclose(sparse.R[0], np.diag(memory.R), rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(sparse.mean, memory.mean, rtol=1e-12)
        assert sparse.total_weight == pytest.approx(memory.total_weight)
        np.testing.assert_allclose(dense.R, sparse.R)
    # Columns of 1e-170 and 1e+160 keep their true norms.
    tiny = sp.csr_matrix(X.toarray() * np.array([1e-170] * 6 + [1e160] * 6))
    factor = factor_pass.column_factor(SparseSource(tiny, y[:, None]))
    memory = factor_pass.column_factor(InMemorySource(tiny.toarray(), y[:, None]))
    np.testing.assert_allclose(factor.R[0], np.diag(memory.R), rtol=1e-12)


ESTIMATORS = [
    {"solver": "exact"},
    {"solver": "gd"},
    {"solver": "agd"},
    {"solver": "agd", "precompute": False},
    {"solver": "gd", "precompute": False, "max_iter": 20000},
    {"solver": "agd", "alpha": 0.01},
    {"solver": "agd", "alpha": 0.05, "l1_ratio": 0.7},
    {"solver": "agd", "alpha": 0.05, "l1_ratio": 0.7, "precompute": False},
    {"solver": "agd", "fit_intercept": False, "precompute": False},
    {"solver": "exact", "alpha": 0.1},
]


@pytest.mark.parametrize("params", ESTIMATORS, ids=str)
@pytest.mark.parametrize("weighted", [False, True])
def test_every_solver_on_sparse_x_is_the_fit_on_dense_x(params, weighted):
    X, y = sparse_problem(n=200, d=8)
    s = np.random.default_rng(4).uniform(0.0, 2.0, 200) if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fit_sparse = LinearRegression(**params).fit(X, y, sample_weight=s)
        fit_dense = LinearRegression(**params).fit(X.toarray(), y, sample_weight=s)
    assert fit_sparse.solver_ == fit_dense.solver_
    np.testing.assert_allclose(fit_sparse.coef_, fit_dense.coef_, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(fit_sparse.intercept_, fit_dense.intercept_, rtol=1e-8)
    np.testing.assert_allclose(fit_sparse.predict(X), fit_dense.predict(X.toarray()), rtol=1e-8)
    if params.get("l1_ratio"):
        assert np.any(fit_sparse.coef_ == 0.0)  # the proximal step keeps zeros exact


def test_sgd_on_sparse_x_reaches_the_answer_and_is_reproducible():
    X, y = sparse_problem(n=400, d=8)
    params = {"solver": "sgd", "random_state": 0, "batch_size": 32, "max_iter": 300}
    first = LinearRegression(**params).fit(X, y)
    again = LinearRegression(**params).fit(X, y)
    assert np.array_equal(first.coef_, again.coef_)
    exact = LinearRegression(solver="exact").fit(X, y)
    np.testing.assert_allclose(first.predict(X), exact.predict(X), atol=0.05)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "lil", "dok", "bsr", "dia"])
def test_every_scipy_format_and_the_array_types(fmt):
    X, y = sparse_problem(n=60, d=5)
    expected = LinearRegression(solver="exact").fit(X.toarray(), y)
    for container in (sp.csr_matrix, sp.csr_array):
        model = LinearRegression(solver="exact").fit(container(X).asformat(fmt), y)
        np.testing.assert_allclose(model.coef_, expected.coef_, rtol=1e-10)
        np.testing.assert_allclose(
            model.predict(container(X).asformat(fmt)), expected.predict(X.toarray()), rtol=1e-10
        )


def test_partial_fit_with_sparse_pieces_equals_one_fit():
    X, y = sparse_problem(n=300, d=8)
    model = LinearRegression(solver="exact")
    for start in range(0, 300, 100):
        model.partial_fit(X[start : start + 100], y[start : start + 100])
    whole = LinearRegression(solver="exact").fit(X, y)
    np.testing.assert_allclose(model.coef_, whole.coef_, rtol=1e-10)


def test_unsorted_and_duplicate_entries_fit_as_the_canonical_matrix_untouched():
    X, y = sparse_problem()
    M = shuffled_with_duplicates(X)
    before = (M.data.copy(), M.indices.copy(), M.indptr.copy())
    for params in ({"solver": "exact"}, {"solver": "agd", "precompute": False}):
        model = LinearRegression(**params).fit(M, y)
        expected = LinearRegression(**params).fit(X, y)
        np.testing.assert_allclose(model.coef_, expected.coef_, rtol=1e-9)
    for array, original in zip((M.data, M.indices, M.indptr), before, strict=True):
        assert np.array_equal(array, original)


def test_fitting_never_modifies_or_copies_canonical_csr():
    X, y = sparse_problem()
    data = X.data.copy()
    source = SparseSource(X, y[:, None])
    assert source.X.data is X.data and source.X.indices is X.indices
    LinearRegression(solver="agd", precompute=False).fit(X, y)
    assert np.array_equal(X.data, data)


@pytest.mark.parametrize("what", ["nan", "inf"])
@pytest.mark.parametrize("params", [{"solver": "exact"}, {"solver": "agd", "precompute": False},
                                    {"solver": "sgd"}, {"solver": "gd"}, {"solver": "agd"},
                                    {}], ids=str)  # fmt: skip
def test_nan_and_infinity_are_named_by_row_and_column(what, params):
    X, y = sparse_problem()
    X = X.copy()
    p = X.indptr[7] + 1  # the second entry of row 7
    X.data[p] = np.nan if what == "nan" else -np.inf
    word = "NaN" if what == "nan" else "infinity"
    with pytest.raises(ValueError, match=f"X contains {word} at row 7, column {X.indices[p]}"):
        LinearRegression(**params).fit(X, y)
    bad_y = y.copy()
    bad_y[11] = np.nan
    with pytest.raises(ValueError, match="y contains NaN"):
        LinearRegression(**params).fit(sparse_problem()[0], bad_y)


def test_a_column_beyond_float64_is_named():
    X, y = sparse_problem()
    X = X.copy()
    p = X.indptr[4]
    X.data[X.indices == X.indices[p]] = 1e306  # about 30 of them: a norm of 5e306
    X.data[p] = 1.5e306
    with pytest.raises(ValueError, match=rf"X holds 1.5e\+306 at row 4, column {X.indices[p]}"):
        LinearRegression(solver="agd", precompute=False).fit(X, y)
    # Huge and tiny values whose squares fit are fine.
    fine = sp.csr_matrix(sparse_problem()[0].toarray() * 1e150)
    LinearRegression(solver="agd", precompute=False, max_iter=5).fit(fine, y)


def test_shape_mismatch_and_empty_rows_and_columns():
    X, y = sparse_problem()
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        LinearRegression().fit(X, y[:-1])
    assert X[:, -1].nnz == 0 and np.any(np.diff(X.indptr) == 0)
    model = LinearRegression(solver="agd", precompute=False).fit(X, y)
    assert model.converged_ and model.coef_[-1] == 0.0
    with pytest.raises(ValueError, match="expecting 12 features"):
        model.predict(X[:, :5])


def test_wide_sparse_x_refuses_the_factor_and_auto_runs_agd():
    rng = np.random.default_rng(5)
    X = sp.random(50, 5000, density=0.002, format="csr", random_state=5)
    y = rng.standard_normal(50)
    for params in ({"solver": "exact"}, {"precompute": True}):
        with pytest.raises(ValueError, match="5001 columns of sparse X is beyond the 4096"):
            LinearRegression(**params).fit(X, y)
    narrow = sp.random(50, 600, density=0.01, format="csr", random_state=5)
    model = LinearRegression(max_iter=5).fit(narrow, y)
    assert model.solver_ == "agd"  # a dense factor pass is no bargain at this width
    assert LinearRegression(max_iter=5).fit(narrow.toarray(), y).solver_ == "exact"


def test_a_dask_array_of_sparse_chunks_is_refused():
    da = pytest.importorskip("dask.array")
    X, y = sparse_problem()
    chunks = da.from_array(X, chunks=(100, 12), asarray=False)
    with pytest.raises(TypeError, match="sparse chunks"):
        LinearRegression().fit(chunks, da.from_array(y, chunks=100))


def test_a_matrix_saved_with_save_npz_fits(tmp_path):
    X, y = sparse_problem()
    sp.save_npz(tmp_path / "x.npz", X)
    model = LinearRegression().fit(sp.load_npz(tmp_path / "x.npz"), y)
    np.testing.assert_allclose(model.coef_, LinearRegression().fit(X, y).coef_, rtol=1e-12)


def test_one_hot_pipeline_on_real_categories_equals_scikit_learn():
    """The affairs survey (statsmodels' ``fair``, 6,366 women): occupation, husband's
    occupation, religiousness, education and marriage rating as one-hot columns, the
    CSR matrix OneHotEncoder gives, into LinearRegression; scikit-learn's answer."""
    datasets = pytest.importorskip("statsmodels.datasets")
    frame = datasets.fair.load_pandas().data
    columns = ["occupation", "occupation_husb", "religious", "educ", "rate_marriage"]
    X, y = frame[columns].to_numpy(), frame["affairs"].to_numpy()
    # drop=None: every category's column, so with the intercept X is rank deficient,
    # and the coefficients are not unique: the predictions are.
    ours = make_pipeline(OneHotEncoder(), LinearRegression()).fit(X, y)
    assert sp.issparse(ours[0].transform(X))
    # scikit-learn's sparse route is lsqr, to its tol (1e-6 by default: predictions off
    # by 8e-5 here); tightened, it agrees with its dense lstsq to 3e-13.
    theirs = make_pipeline(OneHotEncoder(), SkLinearRegression(tol=1e-12)).fit(X, y)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-10, atol=1e-11)
    assert ours[-1].solver_ == "exact"
    assert ours[-1].rank_ == 27 - len(columns)  # 27 categories; each group sums to 1
    # The gradient methods on passes over the stored entries reach the same predictions.
    agd = make_pipeline(OneHotEncoder(), LinearRegression(solver="agd", precompute=False))
    np.testing.assert_allclose(agd.fit(X, y).predict(X), theirs.predict(X), rtol=1e-9, atol=1e-10)


def test_csr_rows_describe_themselves():
    X, _ = sparse_problem()
    rows = CSRRows(X.data, X.indices, X.indptr[10:21], 12)
    assert rows.shape == (10, 12) and rows.dtype == X.dtype
    with pytest.raises(TypeError, match="CSR rows"):
        SparseSource(X.tocsc(), np.zeros((300, 1)))


@pytest.mark.parametrize("name", DATASETS)
def test_nist_as_sparse_matrices_keeps_the_digits_of_the_dense_fit(name):
    """The factor from the sparse Gram is taken only where it is as accurate as the
    dense pass (else the rows are factored by QR): the certified digits of each NIST
    problem, given as a CSR matrix, are those of the dense fit (to 0.5 digit)."""
    problem = load(name)
    dense = LinearRegression(solver="exact", fit_intercept=problem.fit_intercept)
    sparse = LinearRegression(solver="exact", fit_intercept=problem.fit_intercept)
    dense.fit(problem.X, problem.y)
    sparse.fit(sp.csr_matrix(problem.X), problem.y)
    digits = worst_lre(dense.coef_, dense.intercept_, problem)
    assert worst_lre(sparse.coef_, sparse.intercept_, problem) >= min(digits - 0.5, 12.0)


def test_the_gram_route_is_taken_where_accurate_and_refused_where_not():
    X, y = sparse_problem()
    assert SparseSource(X, y[:, None]).triangular_factor() is not None
    filip = load("Filip")  # condition 1e15 after scaling: QR of the rows
    assert SparseSource(sp.csr_matrix(filip.X), filip.y[:, None]).triangular_factor() is None
    tiny = sp.csr_matrix(X.toarray() * 1e-170)  # squares underflow: dense, scaled
    assert SparseSource(tiny, y[:, None]).triangular_factor() is None
    weights = np.zeros(300)
    assert SparseSource(X, y[:, None], weights).triangular_factor() is None
    with pytest.raises(ValueError, match="at least one non-zero"):
        LinearRegression(solver="exact").fit(X, y, sample_weight=weights)


def test_tiny_y_float32_and_weighted_checks():
    X, y = sparse_problem()
    tiny = LinearRegression(solver="agd", precompute=False).fit(X, y * 2.0**-600)
    plain = LinearRegression(solver="agd", precompute=False).fit(X, y)
    np.testing.assert_allclose(tiny.coef_ * 2.0**600, plain.coef_, rtol=1e-12)
    X32 = X.astype(np.float32)
    X32.data[5] = np.nan
    with pytest.raises(ValueError, match="X contains NaN at row"):
        LinearRegression(solver="sgd").fit(X32, y)
    huge = X.copy()
    huge.data[:] = 1e305  # finite, but weighted by 2 the column norms overflow
    with pytest.raises(ValueError, match=r"\(weighted by sample_weight\)"):
        model = LinearRegression(solver="agd", precompute=False)
        model.fit(huge, y, sample_weight=np.full(300, 2.0))
    with pytest.raises(ValueError, match="sums to zero"):
        factor_pass.column_factor(SparseSource(X, y[:, None], np.zeros(300)))


def test_a_matrix_without_entries_fits_the_mean():
    y = np.arange(10.0)
    model = LinearRegression(solver="exact").fit(sp.csr_matrix((10, 4)), y)
    assert np.array_equal(model.coef_, np.zeros(4)) and model.intercept_ == pytest.approx(4.5)
    constant = LinearRegression(solver="exact").fit(sp.csr_matrix((10, 4)), np.ones(10))
    assert constant.intercept_ == 1.0 and np.array_equal(constant.coef_, np.zeros(4))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_gram_kernel_is_scipys_product(dtype, weighted, restore_threads, monkeypatch):
    monkeypatch.setattr(_config, "SPARSE_BLOCK_WORK", 200)  # several blocks
    X, Y = sparse_problem(k=2, dtype=dtype)
    X = shuffled_with_duplicates(X).astype(dtype)
    s = np.random.default_rng(6).uniform(0.0, 2.0, 300) if weighted else np.ones(300)
    gram, sums, total = kernels.csr_gram(X, Y, sample_weight=s if weighted else None)
    Z = np.hstack([X.astype(np.float64).toarray(), Y])
    np.testing.assert_allclose(gram, Z.T @ (s[:, None] * Z), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sums, s @ Z, rtol=1e-12)
    assert total == pytest.approx(s.sum())
    assert np.array_equal(gram, gram.T)
    numba.set_num_threads(1)
    again = kernels.csr_gram(X, Y, sample_weight=s if weighted else None, parallel=True)
    assert np.array_equal(again[0], gram) and np.array_equal(again[1], sums)
    with pytest.raises(ValueError, match="Y must have shape"):
        kernels.csr_gram(X, Y[:, 0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_the_gram_of_a_binary_x_is_summed_without_its_values(dtype, weighted, monkeypatch):
    monkeypatch.setattr(_config, "SPARSE_BLOCK_WORK", 200)  # several blocks
    X, Y = binary_problem(k=2, dtype=dtype)
    X = shuffled_with_duplicates(X).astype(dtype)  # unsorted, a duplicate in each row
    X.data[:] = 1
    s = np.random.default_rng(8).uniform(0.0, 2.0, 500) if weighted else None
    read = kernels.csr_gram(X, Y, sample_weight=s, binary=False)
    unread = CSRRows(np.full_like(X.data, np.nan), X.indices, X.indptr, 30)
    skipped = kernels.csr_gram(unread, Y, sample_weight=s, binary=True)
    found = kernels.csr_gram(X, Y, sample_weight=s)
    for result in (skipped, found):
        assert np.array_equal(result[0], read[0]) and np.array_equal(result[1], read[1])
        assert result[2] == read[2]
    Z = np.hstack([X.astype(np.float64).toarray(), Y])
    weights = np.ones(500) if s is None else s
    np.testing.assert_allclose(read[0], Z.T @ (weights[:, None] * Z), rtol=1e-12, atol=1e-12)


def test_open_npz_maps_the_arrays_and_fits_as_the_matrix(tmp_path):
    X, y = sparse_problem()
    path = tmp_path / "x.npz"
    sp.save_npz(path, X, compressed=False)
    mapped = open_npz(path)
    for array in (mapped.data, mapped.indices, mapped.indptr):
        assert not array.flags.writeable  # views of the read-only map, not copies
        while not isinstance(array, np.memmap):
            array = array.base
        assert str(array.filename) == str(path)
    expected = LinearRegression(solver="agd", precompute=False).fit(X, y)
    model = LinearRegression(solver="agd", precompute=False).fit(mapped, y)
    assert np.array_equal(model.coef_, expected.coef_)
    assert np.array_equal(model.predict(mapped), expected.predict(X))
    wide = X.astype(np.float32)
    wide.indices = wide.indices.astype(np.int64)
    wide.indptr = wide.indptr.astype(np.int64)
    sp.save_npz(tmp_path / "wide.npz", wide, compressed=False)
    again = open_npz(tmp_path / "wide.npz")
    assert again.dtype == np.float32 and again.indices.dtype == np.int64
    assert (again != wide).nnz == 0


def test_a_memory_mapped_x_is_never_copied_into_columns(tmp_path, monkeypatch):
    # open_npz is for X bigger than RAM: a copy by columns would have to fit in it.
    monkeypatch.setattr(_config, "SPARSE_COLUMNS_MIN_PARTIAL_BYTES", 8)
    X, y = sparse_problem(n=200, d=10)
    path = tmp_path / "x.npz"
    sp.save_npz(path, X, compressed=False)
    assert SparseSource(X, y[:, None]).by_columns
    mapped = open_npz(path)
    assert not SparseSource(mapped, y[:, None]).by_columns
    rows = CSRRows(mapped.data, mapped.indices, mapped.indptr[50:], 10)  # views of the map
    assert not SparseSource(rows, y[50:, None]).by_columns
    assert SparseSource(mapped.copy(), y[:, None]).by_columns  # in memory


def test_open_npz_refuses_compressed_files_and_other_formats(tmp_path):
    X, _ = sparse_problem()
    sp.save_npz(tmp_path / "packed.npz", X)  # compressed=True by default
    with pytest.raises(ValueError, match="compressed=False"):
        open_npz(tmp_path / "packed.npz")
    sp.save_npz(tmp_path / "columns.npz", X.tocsc(), compressed=False)
    with pytest.raises(ValueError, match="holds a csc matrix"):
        open_npz(tmp_path / "columns.npz")


def test_largest_row_curvature_from_the_stored_entries_is_the_dense_one():
    from fastlinreg._objective import Objective
    from fastlinreg.sources import InMemorySource

    X, y = sparse_problem()
    rng = np.random.default_rng(7)
    center, scale = rng.standard_normal(12), rng.uniform(0.5, 2.0, 12)
    weights = rng.uniform(0.0, 1.0, 300)
    weights[np.argmax(np.diff(X.indptr))] = 0.0  # the longest row does not count
    for s in (None, weights):

        def curvature(source):
            objective = Objective(
                source, center, scale, fit_intercept=True, alpha=0.1, l1_ratio=0.0
            )
            return objective.largest_row_curvature()

        sparse = curvature(SparseSource(X, y[:, None], s))
        dense = curvature(InMemorySource(X.toarray(), y[:, None], s))
        assert sparse == pytest.approx(dense, rel=1e-12)


def test_sgd_on_wide_sparse_x_never_densifies_it(monkeypatch):
    X = sp.random(2000, 200_000, density=5e-5, format="csr", random_state=8)
    y = np.random.default_rng(8).standard_normal(2000)

    def refused(self):
        raise AssertionError("dense blocks of a wide sparse X")

    monkeypatch.setattr(SparseSource, "row_blocks", refused)
    model = LinearRegression(solver="sgd", max_iter=3, tol=None, random_state=0).fit(X, y)
    assert model.n_iter_ == 3 and np.all(np.isfinite(model.coef_))


def test_streaming_read_sums_the_stored_values_and_indices_of_the_rows():
    X, _ = sparse_problem()
    expected = X.data.sum() + X.indices.sum()
    assert kernels.csr_streaming_read(X) == pytest.approx(expected, rel=1e-12)
    rows = CSRRows(X.data, X.indices, X.indptr[10:21], 12)
    part = slice(X.indptr[10], X.indptr[20])
    expected = X.data[part].sum() + X.indices[part].sum()
    assert kernels.csr_streaming_read(rows) == pytest.approx(expected, rel=1e-12)
    indices_only = kernels.csr_streaming_read(rows, values=False)
    assert indices_only == pytest.approx(X.indices[part].sum(), rel=1e-12)
