"""DaskSource: the same passes as the in-memory source, on threads and on a process cluster.

Every pass of a DaskSource must give the in-memory numbers (to rounding: the sums are
grouped by chunk), the same bits on every run and scheduler, read each chunk once per
pass, and name the array that holds a NaN, an infinity or a negative weight.
"""

from __future__ import annotations

import os
import sys
import threading

import numpy as np
import pytest
from problems import linear_problem

from fastlinreg.sources import InMemorySource
from fastlinreg.sources import _factor as factor_pass
from fastlinreg.sources.dask import DASK_MISSING, DaskSource, is_dask_collection, require_dask

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
from dask.utils import key_split  # noqa: E402

RTOL = 1e-12


@pytest.fixture(scope="module")
def client():
    """A cluster of 2 worker processes (tasks are pickled, kernels run in other processes).

    Starting it sets variables for its workers in this process's environment
    (MALLOC_TRIM_THRESHOLD_, OMP_NUM_THREADS, ...), which later tests' subprocesses would
    inherit (the predict memory test then failed): the environment is put back.
    """
    environment = dict(os.environ)
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
        os.environ.clear()
        os.environ.update(environment)


@pytest.fixture(params=[pytest.param("distributed", marks=pytest.mark.slow), "threads"])
def scheduler(request):
    """Run the test on the cluster (its Client is the default) or on local threads."""
    if request.param == "distributed":
        request.getfixturevalue("client")
        with dask.config.set(scheduler="dask.distributed"):
            yield request.param
    else:
        with dask.config.set(scheduler="threads"):
            yield request.param


@pytest.fixture
def threads():
    with dask.config.set(scheduler="threads"):
        yield


def problem(n=700, d=5, k=3, dtype=np.float64, weighted=False, seed=0):
    """X, Y (n, k), weights or None, and a point (W, b) to evaluate the passes at."""
    rng = np.random.default_rng(seed)
    X, Y, weights = linear_problem(
        n,
        d,
        k,
        scale=np.linspace(1, 4, d),
        shift=2.0,
        max_weight=3.0 if weighted else None,
        dtype=dtype,
        seed=rng,
    )
    W, b = rng.standard_normal((k, d)), rng.standard_normal(k)
    return X, Y, weights, W, b


def dask_inputs(X, Y, weights, chunks):
    """X with the given row chunks (and 2 column chunks), Y and weights chunked otherwise,
    so that the source has to align them."""
    Xd = da.from_array(X, chunks=(chunks, 2))
    Yd = da.from_array(Y, chunks=(97,) + Y.shape[1:])
    wd = None if weights is None else da.from_array(weights, chunks=150)
    return Xd, Yd, wd


def assert_close(actual, expected, rtol=RTOL):
    """Equal to ``rtol`` relative to the largest entry (entries near 0 come from cancelling
    sums, so their own relative error says nothing about the pass)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    assert np.max(np.abs(actual - expected)) <= rtol * np.max(np.abs(expected))


def assert_same_bits(first, second):
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(a, b)


CASES = {
    "uneven": dict(chunks=137),
    "single-chunk": dict(chunks=-1),
    "weighted": dict(chunks=100, weighted=True),
    "one-target": dict(chunks=(300, 1, 399), k=1),  # a chunk of one row
    "float32-weighted": dict(chunks=250, dtype=np.float32, weighted=True),
    "parallel-kernels": dict(chunks=350, parallel=True),
}


@pytest.mark.parametrize("case", CASES)
def test_passes_equal_in_memory(scheduler, case):
    options = dict(CASES[case])
    chunks, parallel = options.pop("chunks"), options.pop("parallel", None)
    X, Y, weights, W, b = problem(**options)
    source = DaskSource(*dask_inputs(X, Y, weights, chunks), parallel=parallel)
    memory = InMemorySource(X, Y, weights)
    assert (source.n_samples, source.n_features, source.n_targets) == X.shape + Y.shape[1:]
    assert source.X.dtype == X.dtype

    loss, G, gb = source.loss_grad(W, b)
    expected = memory.loss_grad(W, b)
    assert_close(loss, expected[0])
    assert_close(G, expected[1])
    assert_close(gb, expected[2])

    hv, hb = source.hessian_vector(W, b)
    expected = memory.hessian_vector(W, b)
    assert_close(hv, expected[0])
    assert_close(hb, expected[1])

    factor = source.triangular_factor()
    expected = factor_pass.triangular_factor(memory)
    # R is unique up to the signs of its rows: compare R'R, the centred Gram matrix.
    assert_close(factor.R.T @ factor.R, expected.R.T @ expected.R)
    assert_close(factor.mean, expected.mean)
    assert_close(factor.total_weight, expected.total_weight)
    assert factor.n_features == X.shape[1]


def test_one_target_as_1d_y_and_numpy_targets_and_weights(threads):
    X, Y, weights, W, b = problem(k=1, weighted=True)
    expected = InMemorySource(X, Y, weights).loss_grad(W, b)
    for y, w in [(da.from_array(Y[:, 0], chunks=200), weights), (Y[:, 0], weights)]:
        source = DaskSource(da.from_array(X, chunks=130), y, w)
        assert source.n_targets == 1
        for got, want in zip(source.loss_grad(W, b), expected, strict=True):
            assert_close(got, want)


@pytest.mark.slow
def test_runs_on_the_cluster_bit_identical_to_threads(client):
    X, Y, weights, W, b = problem(n=2_000, weighted=True)
    source = DaskSource(*dask_inputs(X, Y, weights, 150))
    with distributed.get_task_stream(client) as stream:
        first = source.loss_grad(W, b)
        factor = source.triangular_factor()
    workers = {record["worker"] for record in stream.data}
    assert workers and workers <= set(client.scheduler_info()["workers"])
    assert "fastlinreg-loss-grad" in {key_split(record["key"]) for record in stream.data}

    # The tree and each chunk's result are fixed: every run, on any scheduler, same bits.
    assert_same_bits(first, source.loss_grad(W, b))
    again = source.triangular_factor()
    assert_same_bits((factor.R, factor.mean), (again.R, again.mean))
    with dask.config.set(scheduler="threads"):
        assert_same_bits(first, source.loss_grad(W, b))
        local = source.triangular_factor()
    assert_same_bits((factor.R, factor.mean), (local.R, local.mean))
    assert factor.total_weight == local.total_weight


@pytest.mark.slow
def test_factor_is_one_task_per_chunk_on_the_cluster(client):
    X, Y, _, _, _ = problem(n=1_000)
    source = DaskSource(*dask_inputs(X, Y, None, 60))
    n_chunks = len(source.X.chunks[0])
    assert source.n_chunks == n_chunks == 17
    with distributed.get_task_stream(client) as stream:
        source.triangular_factor()
    names = [key_split(record["key"]) for record in stream.data]
    assert names.count("fastlinreg-factor") == n_chunks
    assert names.count("fastlinreg-factor-merge") == 4  # 17 chunks: 3 merges of up to 8, then 1


class CountingChunks:
    """X whose chunks count how often they are computed (threads share the counter)."""

    def __init__(self, X, chunks):
        self.calls = 0
        self.lock = threading.Lock()
        # meta given: dask would otherwise call chunk() on an empty block to infer it.
        self.array = da.from_array(X, chunks=(chunks, -1)).map_blocks(
            self.chunk, meta=np.empty((0, 0), dtype=X.dtype)
        )

    def chunk(self, block):
        with self.lock:
            self.calls += 1
        return block


@pytest.mark.parametrize("weighted", [False, True])
def test_every_pass_reads_each_chunk_once(threads, weighted):
    X, Y, weights, W, b = problem(n=900, weighted=weighted)
    counting = CountingChunks(X, 100)
    source = DaskSource(counting.array, da.from_array(Y, chunks=300), weights)
    assert counting.calls == 0  # building the source reads nothing
    source.triangular_factor()  # the first pass also checks the values: still one read
    assert counting.calls == 9
    source.loss_grad(W, b)
    assert counting.calls == 18
    source.hessian_vector(W, b)
    assert counting.calls == 27
    assert [len(block[0]) for block in source.row_blocks()] == [100] * 9
    assert counting.calls == 36


def test_inputs_sharing_their_chunks_read_them_once(threads):
    # X, y and the weights cut from one array (as from one file): each pass makes every
    # chunk of that array once, not once per input.
    X, Y, _, W, b = problem(k=1)
    counting = CountingChunks(np.column_stack([X, Y]), 100)
    whole, d = counting.array, X.shape[1]
    source = DaskSource(whole[:, :d], whole[:, d], whole[:, 0] ** 2)
    source.check_values()
    assert counting.calls == 7
    source.loss_grad(W, b)
    assert counting.calls == 14
    source.triangular_factor()
    assert counting.calls == 21
    list(source.row_blocks())
    assert counting.calls == 28


def test_row_blocks_are_the_chunks_in_order(threads):
    X, Y, weights, _, _ = problem(weighted=True)
    source = DaskSource(*dask_inputs(X, Y, weights, 137))
    blocks = list(source.row_blocks())
    assert [len(block[0]) for block in blocks] == [137] * 5 + [15]
    np.testing.assert_array_equal(np.vstack([block[0] for block in blocks]), X)
    np.testing.assert_array_equal(np.vstack([block[1] for block in blocks]), Y)
    np.testing.assert_array_equal(np.concatenate([block[2] for block in blocks]), weights)
    assert all(block[1].flags.f_contiguous for block in blocks)


BAD_VALUES = [
    ("X", np.nan, "Input X contains NaN"),
    ("X", np.inf, "Input X contains infinity"),
    ("y", -np.inf, "Input y contains infinity"),
    ("y", np.nan, "Input y contains NaN"),
    ("sample_weight", np.nan, "Input sample_weight contains NaN"),
    ("sample_weight", -1.0, "Input sample_weight contains negative values"),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD_VALUES)
@pytest.mark.parametrize("first_pass", ["check_values", "loss_grad", "hessian", "factor", "rows"])
def test_bad_values_are_named(threads, name, value, message, first_pass):
    X, Y, weights, W, b = problem(weighted=True)
    arrays = {"X": X.copy(), "y": Y.copy(), "sample_weight": weights.copy()}
    arrays[name][500] = value  # in the fourth chunk of 137 rows
    source = DaskSource(*dask_inputs(arrays["X"], arrays["y"], arrays["sample_weight"], 137))
    with pytest.raises(ValueError, match=message + r".* at row 500 \(chunk 3\)\.$"):
        if first_pass == "check_values":
            source.check_values()
        elif first_pass == "loss_grad":
            source.loss_grad(W, b)
        elif first_pass == "hessian":
            source.hessian_vector(W, b)
        elif first_pass == "factor":
            source.triangular_factor()
        else:
            list(source.row_blocks())


@pytest.mark.slow
def test_bad_values_are_named_on_the_cluster(client):
    X, Y, _, W, b = problem()
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"Input X contains NaN at row 3 \(chunk 0\)"):
        DaskSource(*dask_inputs(X, Y, None, 137)).triangular_factor()


def test_check_runs_once_and_clean_data_passes(threads):
    X, Y, weights, W, b = problem(weighted=True)
    source = DaskSource(*dask_inputs(X, Y, weights, 137))
    source.check_values()
    assert source._checked
    source.check_values()  # nothing left to check: no pass


def test_total_weight_and_row_pieces(threads):
    X, Y, weights, W, b = problem(weighted=True)
    source = DaskSource(*dask_inputs(X, Y, weights, 137))
    assert_close(source.total_weight, weights.sum())
    assert DaskSource(*dask_inputs(X, Y, None, 137)).total_weight == len(X)


def test_zero_weights(threads):
    X, Y, weights, W, b = problem(weighted=True)
    weights[:137] = 0.0  # one chunk without weight: it adds nothing
    source = DaskSource(*dask_inputs(X, Y, weights, 137))
    memory = InMemorySource(X, Y, weights)
    for got, want in zip(source.loss_grad(W, b), memory.loss_grad(W, b), strict=True):
        assert_close(got, want)
    factor, expected = source.triangular_factor(), factor_pass.triangular_factor(memory)
    assert_close(factor.R.T @ factor.R, expected.R.T @ expected.R)
    zero = DaskSource(*dask_inputs(X, Y, np.zeros(len(X)), 137))
    with pytest.raises(ValueError, match="sums to zero"):
        zero.loss_grad(W, b)
    with pytest.raises(ValueError, match="sums to zero"):
        zero.triangular_factor()


def test_dataframe_keeps_feature_names(scheduler):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, Y, weights, W, b = problem(k=1, weighted=True)
    names = [f"x{j}" for j in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=names).assign(target=Y[:, 0], weight=weights)
    ddf = dd.from_pandas(frame, npartitions=3)
    source = DaskSource(ddf[names], ddf["target"], ddf["weight"])
    assert source.feature_names.tolist() == names
    assert source.n_samples == len(X) and source.n_targets == 1
    memory = InMemorySource(X, Y, weights)
    for got, want in zip(source.loss_grad(W, b), memory.loss_grad(W, b), strict=True):
        assert_close(got, want)
    factor, expected = source.triangular_factor(), factor_pass.triangular_factor(memory)
    assert_close(factor.R.T @ factor.R, expected.R.T @ expected.R)
    unnamed = DaskSource(dd.from_pandas(pd.DataFrame(X), npartitions=2), ddf["target"])
    assert unnamed.feature_names is None


def test_inputs_converted_lazily(threads):
    X, Y, _, W, b = problem(k=2)
    integers = np.rint(X).astype(np.int64)
    source = DaskSource(da.from_array(integers, chunks=100), da.from_array(Y, chunks=100))
    assert source.dtype == np.float64 and source.Y.dtype == np.float64
    expected = InMemorySource(integers.astype(np.float64), Y).loss_grad(W, b)
    for got, want in zip(source.loss_grad(W, b), expected, strict=True):
        assert_close(got, want)

    # Row chunks of unknown size (a boolean mask) are measured first.
    Xd = da.from_array(X, chunks=100)
    keep = Xd[:, 0] > 2
    masked = DaskSource(Xd[keep], da.from_array(Y, chunks=100)[keep])
    mask = X[:, 0] > 2
    assert masked.n_samples == mask.sum()
    expected = InMemorySource(X[mask], Y[mask]).loss_grad(W, b)
    for got, want in zip(masked.loss_grad(W, b), expected, strict=True):
        assert_close(got, want)


def test_bad_inputs(threads):
    X, Y, _, _, _ = problem()
    Xd, Yd = da.from_array(X, chunks=100), da.from_array(Y, chunks=100)
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[700, 699\]"):
        DaskSource(Xd, Yd[:-1])
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        DaskSource(Xd, Yd, np.ones((700, 2)))
    with pytest.raises(ValueError, match="X must be 2-D"):
        DaskSource(Xd[:, 0], Yd)
    with pytest.raises(TypeError, match="X must be a dask array"):
        DaskSource(X, Yd)
    with pytest.raises(TypeError, match="X must hold real numbers"):
        DaskSource(Xd.astype(np.complex128), Yd)
    with pytest.raises(TypeError, match="must be a dask array, DataFrame or Series"):
        DaskSource(Xd, dask.delayed(Y))


def test_is_dask_collection_and_missing_dask(monkeypatch):
    assert not is_dask_collection(np.ones(3))
    assert is_dask_collection(da.ones(3))
    require_dask()
    # A None entry makes `import dask.array` raise ImportError, as if it were not installed.
    monkeypatch.setitem(sys.modules, "dask.array", None)
    with pytest.raises(ImportError, match=r"pip install 'fastlinreg\[dask\]'") as error:
        require_dask()
    assert str(error.value) == DASK_MISSING
    with pytest.raises(ImportError, match="fastlinreg"):
        DaskSource(np.ones((2, 1)), np.ones(2))


# --- LinearRegression.fit on Dask inputs ---------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        dict(solver="exact"),
        dict(solver="agd"),  # through the factor: one pass in all
        dict(solver="agd", alpha=0.1, l1_ratio=0.5),
        dict(solver="gd", precompute=False, max_iter=30, tol=None),  # a pass per epoch
    ],
    ids=["exact", "agd", "agd-elastic-net", "gd-passes"],
)
def test_fit_on_dask_equals_the_in_memory_fit(scheduler, settings):
    from fastlinreg import LinearRegression

    X, Y, weights, _, _ = problem(n=2_000, weighted=True)
    Xd, Yd, wd = dask_inputs(X, Y, weights, chunks=(600, 600, 800))
    on_dask = LinearRegression(**settings).fit(Xd, Yd, sample_weight=wd)
    in_memory = LinearRegression(**settings).fit(X, Y, sample_weight=weights)
    assert_close(on_dask.coef_, in_memory.coef_, rtol=1e-10)
    assert_close(on_dask.intercept_, in_memory.intercept_, rtol=1e-10)
    assert_close(on_dask.loss_history_, in_memory.loss_history_, rtol=1e-10)
    assert on_dask.n_iter_ == in_memory.n_iter_ and on_dask.coef_.shape == (3, 5)
    assert_close(on_dask.predict(X), in_memory.predict(X), rtol=1e-10)


def test_fit_on_a_dask_dataframe_keeps_names_and_refuses_sgd(threads):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    from fastlinreg import LinearRegression

    X, Y, _, _, _ = problem(n=500, k=1)
    frame = dd.from_pandas(pd.DataFrame(X, columns=list("abcde")), npartitions=3)
    target = dd.from_pandas(pd.Series(Y[:, 0]), npartitions=3)
    model = LinearRegression(solver="exact").fit(frame, target)
    assert list(model.feature_names_in_) == list("abcde")
    assert model.coef_.shape == (5,) and np.ndim(model.intercept_) == 0
    assert_close(model.coef_, LinearRegression(solver="exact").fit(X, Y[:, 0]).coef_, rtol=1e-10)
    with pytest.raises(ValueError, match="solver='sgd' steps after every mini-batch"):
        LinearRegression(solver="sgd").fit(frame, target)
    bad = X.copy()
    bad[321, 2] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        LinearRegression(solver="agd").fit(da.from_array(bad, chunks=100), Y[:, 0])


# --- DaskSource's input checks: no rows, y or weights of the wrong shape or kind ----------
# On local threads (the `threads` fixture), as when they had a file of their own: the
# module's cluster, once started, would otherwise be the default scheduler.


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
def test_refused_with_a_message_naming_the_input(threads, X, y, weights, error, message):
    with pytest.raises(error, match=message):
        DaskSource(X, y, weights)


def test_integer_y_and_weights_are_read_as_floats(threads):
    source = DaskSource(X_dask(), np.arange(12), np.arange(12) % 3)
    floats = DaskSource(X_dask(), np.arange(12.0), np.arange(12) % 3.0)
    assert source.n_targets == 1 and source.n_samples == 12
    W, b = np.full((1, 3), 0.5), np.array([1.0])
    for got, want in zip(source.loss_grad(W, b), floats.loss_grad(W, b), strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(source.triangular_factor().R, floats.triangular_factor().R)


def test_a_float64_y_too_large_for_a_float32_x_is_named(threads):
    X = X_dask().astype(np.float32)
    y = np.ones(12)
    y[7] = 1e300
    message = r"Input y contains infinity .*float32.* at row 7 \(chunk 1\)"
    with pytest.raises(ValueError, match=message):
        DaskSource(X, y).loss_grad(np.zeros((1, 3)), np.zeros(1))


@pytest.mark.parametrize("weighted", [False, True])
def test_statistics_and_robust_covariance_on_dask_equal_the_in_memory_ones(scheduler, weighted):
    # The robust covariance's pass runs on the workers (BlockSummingSource), one task per
    # chunk and the fixed tree; the classical statistics need no pass beyond the factor.
    from fastlinreg import LinearRegression

    X, Y, weights, _, _ = problem(k=2, weighted=weighted)
    for cov_type in ("nonrobust", "HC3"):
        expected = LinearRegression(cov_type=cov_type).fit(X, Y, sample_weight=weights)
        model = LinearRegression(cov_type=cov_type).fit(*dask_inputs(X, Y, weights, 128))
        assert_close(model.bse_, expected.bse_, rtol=1e-10)
        assert_close(model.fvalue_, expected.fvalue_, rtol=1e-10)
        assert model.nobs_ == expected.nobs_ == 700


def test_the_robust_pass_names_a_bad_value_in_a_chunk(threads):
    X, Y, _, _, _ = problem(k=1)
    from fastlinreg.inference import _block_meat
    from fastlinreg.sources.dask import DaskSource

    X[650, 1] = np.nan
    source = DaskSource(*dask_inputs(X, Y, None, 128)[:2])
    settings = dict(
        W=np.zeros((1, 5)), b=np.zeros(1), to_our_units=1.0, inverse=np.eye(5),
        norms=np.ones(5), center=np.zeros(5), S=700.0, fit_intercept=True, power=0.0,
    )  # fmt: skip
    with pytest.raises(ValueError, match="row 650"):
        source.sum_over_blocks("robust", _block_meat, 5 * 5 + 5 + 1, **settings)
