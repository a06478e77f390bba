"""Fused kernels against the NumPy reference, across shapes, dtypes, layouts, threads."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import tracemalloc

import numba
import numpy as np
import pytest
from numpy.testing import assert_allclose
from problems import kernel_problem

from fastlinreg import _config, _jit, kernels, reference

# (n, d): single row, single column, d > n, several blocks, both loop nests.
SHAPES = [(1, 1), (1, 6), (9, 1), (5, 40), (40_000, 2), (3_000, 7), (2_500, 33), (300, 200)]


def assert_matches_reference(X, y, w, b, result):
    loss, grad_w, grad_b = result
    X64, y64 = X.astype(np.float64), y.astype(np.float64)
    ref_loss, ref_w, ref_b = reference.loss_grad(X64, y64, w, b)
    # Only the summation order differs (float32 data is accumulated in float64 by both).
    scale = np.sqrt(ref_loss) * np.abs(X64).max() * 2
    assert_allclose(loss, ref_loss, rtol=1e-12)
    assert_allclose(grad_w, ref_w, rtol=1e-10, atol=1e-12 * scale)
    assert_allclose(grad_b, ref_b, rtol=1e-10, atol=1e-12 * scale)


def assert_bit_identical(a, b):
    assert a[0] == b[0]
    assert np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2])


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
def test_loss_grad_matches_reference_serial_and_parallel_bitwise(shape, dtype, order):
    X, y, w, b = kernel_problem(*shape, dtype=dtype, order=order)
    serial = kernels.loss_grad(X, y, w, b, parallel=False)
    parallel = kernels.loss_grad(X, y, w, b, parallel=True)
    assert_matches_reference(X, y, w, b, serial)
    assert_bit_identical(serial, parallel)
    assert serial[1].dtype == np.float64


@pytest.mark.parametrize("shape", [(1, 3), (9, 1), (3_000, 7), (2_500, 33)], ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("n_targets", [1, 3])
def test_weighted_multi_target_pass_equals_repeated_rows(shape, dtype, order, n_targets):
    # Integer weights are repeated rows, and k targets are k columns of the tutorial's
    # y (n, k) with w (d, k): the plain reference covers both.
    X, _, _, _ = kernel_problem(*shape, dtype=dtype, order=order)
    rng = np.random.default_rng(1)
    Y = rng.standard_normal((shape[0], n_targets)).astype(dtype)
    W = rng.standard_normal((n_targets, shape[1]))
    b = rng.standard_normal(n_targets)
    counts = rng.integers(0, 4, shape[0])
    counts[0] = 1  # at least one row
    serial = kernels.loss_grad(X, Y, W, b, sample_weight=counts, parallel=False)
    parallel = kernels.loss_grad(X, Y, W, b, sample_weight=counts, parallel=True)
    assert_bit_identical(serial, parallel)
    X_rep = np.repeat(X.astype(np.float64), counts, axis=0)
    Y_rep = np.repeat(Y.astype(np.float64), counts, axis=0)
    ref_loss, ref_w, ref_b = reference.loss_grad(X_rep, Y_rep, W.T, b)
    loss, grad_w, grad_b = serial
    assert_allclose(loss, ref_loss, rtol=1e-12)
    assert_allclose(grad_w, ref_w.T, rtol=1e-10, atol=1e-12 * np.abs(ref_w).max())
    assert_allclose(grad_b, ref_b, rtol=1e-10, atol=1e-12 * np.abs(ref_b).max())
    assert grad_w.shape == (n_targets, shape[1])


def test_one_target_as_a_column_gives_the_same_bits():
    X, y, w, b = kernel_problem(3_000, 7)
    flat = kernels.loss_grad(X, y, w, b)
    column = kernels.loss_grad(X, y[:, None], w[None, :], np.array([b]))
    assert flat[0] == column[0] and flat[2] == column[2][0]
    assert np.array_equal(flat[1], column[1][0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_strided_views_are_read_in_place(dtype):
    X, y, w, b = kernel_problem(400, 12, dtype=dtype)
    for view in (X[::3], X[:, ::2], X.T[::2].T):
        Xv = view
        yv = y[: Xv.shape[0]]
        wv = w[: Xv.shape[1]]
        assert_matches_reference(Xv, yv, wv, b, kernels.loss_grad(Xv, yv, wv, b))


def test_readonly_and_memmap_inputs(tmp_path):
    X, y, w, b = kernel_problem(5_000, 4)
    X.flags.writeable = False
    y.flags.writeable = False
    assert_matches_reference(X, y, w, b, kernels.loss_grad(X, y, w, b))
    path = tmp_path / "X.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    assert isinstance(mapped, np.memmap)
    assert_bit_identical(kernels.loss_grad(mapped, y, w, b), kernels.loss_grad(X, y, w, b))
    raw = np.memmap(tmp_path / "X.raw", dtype=np.float64, mode="w+", shape=X.shape, order="F")
    raw[:] = X
    assert_matches_reference(X, y, w, b, kernels.loss_grad(raw, y, w, b, parallel=True))


@pytest.mark.parametrize("order", ["C", "F"])
def test_no_copy_of_X(order):
    # tracemalloc sees NumPy's allocations: a copy of X would show up as ~X.nbytes.
    X, y, w, b = kernel_problem(100_000, 10, order=order)
    kernels.loss_grad(X, y, w, b, parallel=True)  # compile outside the measurement
    kernels.predict(X, w, b, parallel=True)
    tracemalloc.start()
    try:
        kernels.loss_grad(X, y, w, b, parallel=True)
        kernels.predict(X, w, b, parallel=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # predict's output is n * 8 bytes (X.nbytes / 10); a copy of X would be X.nbytes.
    assert peak < 0.2 * X.nbytes


def test_thread_count_does_not_change_a_bit(all_threads):
    X, y, w, b = kernel_problem(200_000, 5)
    results = []
    for n_threads in sorted({1, all_threads}):
        numba.set_num_threads(n_threads)
        results.append(kernels.loss_grad(X, y, w, b, parallel=True))
    results.append(kernels.loss_grad(X, y, w, b, parallel=False))
    for other in results[1:]:
        assert_bit_identical(results[0], other)


def test_eight_python_threads_at_once():
    X, y, w, b = kernel_problem(100_000, 8)
    expected = kernels.loss_grad(X, y, w, b, parallel=False)
    results: list = [None] * 8
    errors: list = []

    def work(i):
        try:
            for _ in range(5):
                results[i] = kernels.loss_grad(X, y, w, b, parallel=True)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for result in results:
        assert_bit_identical(result, expected)
    assert numba.threading_layer() in ("tbb", "omp")


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predict_matches_reference(order, dtype):
    X, _, w, b = kernel_problem(3_000, 5, dtype=dtype, order=order)
    expected = reference.predict(X.astype(np.float64), w, b)
    for parallel in (False, True):
        out = kernels.predict(X, w, b, parallel=parallel)
        assert out.dtype == dtype
        assert_allclose(out, expected, rtol=1e-12 if dtype == np.float64 else 1e-6)


def test_parallel_none_picks_by_size():
    small = np.zeros((10, 2))
    large = np.zeros((_config.PARALLEL_MIN_ELEMENTS, 1))
    assert not kernels.use_parallel(small, None)
    assert kernels.use_parallel(large, None)
    assert kernels.use_parallel(small, True) and not kernels.use_parallel(large, False)


def test_streaming_read_sums_X():
    X, *_ = kernel_problem(1_000, 3, order="F")
    assert_allclose(kernels.streaming_read(X), X.sum(), rtol=1e-12)


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((np.ones(3), np.ones(3), np.ones(1), 0.0), ValueError, "X must be 2-D"),
        (
            (np.ones((3, 1), dtype=int), np.ones(3), np.ones(1), 0.0),
            TypeError,
            "float32 or float64",
        ),
        ((np.ones((0, 2)), np.ones(0), np.ones(2), 0.0), ValueError, "0 rows"),
        ((np.ones((3, 2)), np.ones(4), np.ones(2), 0.0), ValueError, r"y must have shape \(3,\)"),
        ((np.ones((3, 2)), np.ones(3), np.ones(3), 0.0), ValueError, r"w must have shape \(2,\)"),
        (
            (np.ones((3, 2)), np.ones((3, 2)), np.ones(2), 0.0),
            ValueError,
            r"w must have shape \(2, 2\) to match X and y",
        ),
    ],
)
def test_bad_arguments(args, error, message):
    with pytest.raises(error, match=message):
        kernels.loss_grad(*args)


CACHE_SCRIPT = """
import numpy as np
from fastlinreg import _jit, kernels
X = np.ones((50, 3)); kernels.loss_grad(X, np.ones(50), np.ones(3), 0.0, parallel=False)
d = _jit.loss_grad_partials
print(sum(d.stats.cache_hits.values()), len(d.signatures))
"""


@pytest.mark.slow
def test_jit_cache_is_used_by_a_second_process(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    runs = [
        subprocess.run(
            [sys.executable, "-c", CACHE_SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        for _ in range(2)
    ]
    assert runs[0][0] == "0"  # empty cache: compiled
    hits, compiled = runs[1]
    assert int(hits) >= 1 and hits == compiled  # every signature came from the cache


ORDER_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from problems import kernel_problem
from fastlinreg import kernels
X, y, w, b = kernel_problem(40_000, 2)
par = kernels.loss_grad(X, y, w, b, parallel=True)  # parallel compiled first here
ser = kernels.loss_grad(X, y, w, b, parallel=False)
print(*[repr(float(v)) for v in (par[0], par[2], *par[1], ser[0], ser[2], *ser[1])])
"""


@pytest.mark.slow
def test_same_bits_in_a_fresh_process_whatever_compiles_first(tmp_path):
    # The block function is shared by both drivers; which driver compiles it first
    # (and whether it comes from the cache) must not change a bit.
    script = ORDER_SCRIPT.format(tests=os.path.dirname(__file__))
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout
    values = [float(v) for v in out.split()]
    X, y, w, b = kernel_problem(40_000, 2)
    loss, grad_w, grad_b = kernels.loss_grad(X, y, w, b, parallel=False)
    expected = [loss, grad_b, *grad_w]
    assert values == expected + expected


# --- argument checks of loss_grad, predict and streaming_read; predict into out -----------


def test_sample_weight_of_the_wrong_length_is_refused():
    X, y, w, b = kernel_problem(5, 2)
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
    X, _, w, b = kernel_problem(40, 3, dtype=dtype, order="F")
    out = np.full(40, np.nan, dtype=dtype)
    result = kernels.predict(X, w, b, out=out)
    assert result is out
    expected = reference.predict(X.astype(np.float64), w, b)
    assert_allclose(out, expected, rtol=1e-12 if dtype == np.float64 else 1e-6)


def test_streaming_read_refuses_a_view_it_cannot_read_flat():
    # Three of every four numbers cannot be read as one flat view: flattening would copy,
    # and the bound would time the copy, so it is refused. Views that flatten without a
    # copy (a block of rows, every other column) are read in place.
    X, *_ = kernel_problem(100, 4)
    with pytest.raises(ValueError, match="streaming_read needs a contiguous X"):
        kernels.streaming_read(X[:, :3])
    for view in (X[:50], X[:, ::2]):
        assert kernels.streaming_read(view) == pytest.approx(view.sum(), rel=1e-12)


def test_no_fastmath_flag_reorders_sums_or_drops_nan_checks():
    # "reassoc" and "contract" let LLVM choose the order of a sum anew in each compiled
    # context: a serial and a parallel driver, and a fresh compile and the on-disk
    # cache, then disagreed in the last bit. "nnan"/"ninf" would let it drop the NaN
    # and infinity checks the kernels rely on. See docs/design.md.
    assert not _config.FASTMATH_FLAGS & {"reassoc", "contract", "nnan", "ninf", "fast", "afn"}
    assert _config.JIT_OPTIONS["fastmath"] == set(_config.FASTMATH_FLAGS)


def test_a_serial_pass_is_the_parallel_driver_on_one_thread(all_threads):
    # One compiled driver for every thread count (nothing a second compiled "serial"
    # function could do differently): a serial pass compiles nothing new and leaves
    # the caller's thread count alone.
    X, y, w, b = kernel_problem(3000, 6, dtype=np.float32)
    kernels.loss_grad(X, y, w, b, parallel=True)
    compiled = len(_jit.loss_grad_partials.signatures)
    numba.set_num_threads(all_threads)
    serial = kernels.loss_grad(X, y, w, b, parallel=False)
    assert numba.get_num_threads() == all_threads
    assert len(_jit.loss_grad_partials.signatures) == compiled
    drivers = [name for name in dir(_jit) if name.startswith("loss_grad")]
    assert drivers == ["loss_grad_partials"]
    assert_bit_identical(serial, kernels.loss_grad(X, y, w, b, parallel=True))


@pytest.mark.parametrize("d", [2, 10, 100, 1000])
def test_blocks_feed_every_thread_of_a_large_host(d):
    # The benchmark's shapes (X of 256 MB) cut into at least 32 blocks per thread of a
    # 16-core host with two threads per core: prange balances them, and no thread
    # waits for lack of work. The count depends on the shape only (never on threads).
    n = (256 << 20) // (8 * d)
    _, n_blocks = kernels.block_layout(np.empty((n, d)))
    assert n_blocks >= 32 * 32
