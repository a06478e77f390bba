"""Fits from many Python threads at once, on Dask's threaded scheduler, and under any
numba or BLAS thread count, give the bits of one serial fit.

Already covered elsewhere, and not repeated here: 8 threads of the default gd fit
(coef_ only, test_estimator.py::test_eight_threads_fitting_at_once), 8 threads of one
kernel (test_kernels.py::test_eight_python_threads_at_once), a kernel pass and the factor
at 1 and all numba threads (test_kernels.py::test_thread_count_does_not_change_a_bit,
test_precompute.py::test_the_factor_does_not_depend_on_threads), parallel and serial gd
(test_estimator.py::test_parallel_and_serial_fits_are_bit_identical), and one Dask fit
per solver against the in-memory fit to 1e-10 (test_dask.py).
"""

from __future__ import annotations

import threading

import numba
import numpy as np
import pytest
from problems import linear_problem
from threadpoolctl import threadpool_limits

from fastlinreg import LinearRegression

# Every solver and both ways of running gd/agd (a pass per epoch, or epochs on the
# precomputed factor). max_iter keeps the pass-per-epoch fits short; tol=None makes
# the number of epochs fixed, so the histories can be compared bit by bit.
SOLVERS = {
    "gd-passes": dict(solver="gd", precompute=False, max_iter=30, tol=None),
    "gd-factor": dict(solver="gd", precompute=True, max_iter=300, tol=None),
    "agd-passes": dict(solver="agd", precompute=False, max_iter=30, tol=None),
    "agd-factor": dict(solver="agd", precompute=True, max_iter=300, tol=None),
    "sgd": dict(solver="sgd", random_state=3, batch_size=512, max_iter=4, tol=None),
    "exact": dict(solver="exact"),
}


def problem(n, d, k=1, dtype=np.float64, weighted=False, seed=0):
    """X (n, d) with columns of mixed scale, y (n,) or (n, k), weights or None."""
    return linear_problem(
        n,
        d,
        None if k == 1 else k,
        scale="mixed",
        shift=1.0,
        intercept=0.5,
        max_weight=2.0 if weighted else None,
        dtype=dtype,
        seed=seed,
    )


# Several row blocks each, so the parallel kernels split the rows between threads.
DATASETS = {
    "tall": problem(40_000, 4),
    "wide-float32-weighted": problem(3_000, 60, k=2, dtype=np.float32, weighted=True, seed=1),
}


def fitted(settings, data):
    """(coef_, intercept_, loss_history_, n_iter_) of a parallel fit."""
    X, y, weights = data
    model = LinearRegression(parallel=True, **settings).fit(X, y, sample_weight=weights)
    return model.coef_, np.asarray(model.intercept_), model.loss_history_, model.n_iter_


def assert_same_bits(actual, expected):
    coef, intercept, history, n_iter = actual
    assert coef.dtype == expected[0].dtype and n_iter == expected[3]
    assert np.array_equal(coef, expected[0])
    assert np.array_equal(intercept, expected[1])
    assert np.array_equal(history, expected[2])


def run_threads(work, n_threads):
    """Run ``work(i)`` in ``n_threads`` threads started together; the errors raised."""
    barrier = threading.Barrier(n_threads)
    errors: list = []

    def target(i):
        try:
            barrier.wait()
            work(i)
        except BaseException as error:  # reported by the caller's assertion
            errors.append(error)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.fixture(scope="module")
def serial_fits():
    """Every (solver, dataset), fitted once from this thread alone."""
    return {
        (solver, name): fitted(settings, data)
        for solver, settings in SOLVERS.items()
        for name, data in DATASETS.items()
    }


def test_eight_threads_fitting_every_solver_at_once(serial_fits):
    # Thread i runs all (solver, dataset) pairs, starting at pair i: at any moment
    # different solvers and inputs run side by side, and pairs of threads run the same
    # fit on the same arrays.
    jobs = list(serial_fits)
    results: dict = {}

    def work(i):
        for job in jobs[i:] + jobs[:i]:
            solver, name = job
            results[i, job] = fitted(SOLVERS[solver], DATASETS[name])

    assert not run_threads(work, 8)
    assert len(results) == 8 * len(jobs)
    for (_, job), result in results.items():
        assert_same_bits(result, serial_fits[job])


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_same_bits_at_any_numba_or_blas_thread_count(solver, serial_fits, all_threads):
    # The serial fit ran at numba's and BLAS's default thread counts; here the others,
    # and the defaults again (a repeated run).
    for n_threads, blas_threads in [(1, 1), (1, None), (all_threads, 1), (all_threads, None)]:
        numba.set_num_threads(n_threads)  # restored by all_threads
        with threadpool_limits(limits=blas_threads):
            for name, data in DATASETS.items():
                assert_same_bits(fitted(SOLVERS[solver], data), serial_fits[solver, name])


# Dask -------------------------------------------------------------------------------

DASK_SOLVERS = ["gd-passes", "gd-factor", "agd-factor", "exact"]  # sgd refuses Dask input


def test_fits_on_dask_from_several_threads_on_the_threaded_scheduler():
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    # Chunks of 3 row blocks (1638 rows at d=20), so the parallel kernels split them.
    X, y, weights = problem(12_000, 20, k=2, weighted=True, seed=2)
    Xd = da.from_array(X, chunks=(4_500, 20))
    yd, wd = da.from_array(y, chunks=(4_500, 2)), da.from_array(weights, chunks=4_500)
    with dask.config.set(scheduler="threads"):
        # One fit per solver from this thread: the reference (to rounding, the in-memory
        # fit: the sums are grouped by chunk).
        expected = {s: fitted(SOLVERS[s], (Xd, yd, wd)) for s in DASK_SOLVERS}
        for solver, on_dask in expected.items():
            in_memory = fitted(SOLVERS[solver], (X, y, weights))
            for actual, wanted in zip(on_dask[:3], in_memory[:3], strict=True):
                assert np.max(np.abs(actual - wanted)) <= 1e-10 * np.max(np.abs(wanted)), solver
        results: dict = {}

        def work(i):
            # Each thread's computes get their own pool of the threaded scheduler, whose
            # workers run the parallel kernels: several parallel regions at once.
            for solver in DASK_SOLVERS[i % 2 :] + DASK_SOLVERS[: i % 2]:
                results[i, solver] = fitted(SOLVERS[solver], (Xd, yd, wd))

        assert not run_threads(work, 4)
    assert len(results) == 4 * len(DASK_SOLVERS)
    for (_, solver), result in results.items():
        assert_same_bits(result, expected[solver])
