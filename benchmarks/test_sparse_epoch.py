"""One epoch over a sparse (CSR) X: the fused kernel vs SciPy's two products vs a
streaming read of the stored entries.

Each group ``sparse-epoch|{n}x{d}|{entries per row}`` holds: "serial" and "parallel"
(``kernels.csr_loss_grad`` on one thread / all of numba's, as ``SparseSource`` runs it:
with the block layout computed once, and for very wide X by the columns of a CSC
copy, whose making is recorded as ``columns_copy_s``), "fused" (there, the one pass
over the rows, parallel), "values" (for a binary X, the parallel epoch reading its
values all the same, ``binary=False``), "scipy" (``reference.loss_grad`` on the CSR
matrix: ``X @ w``, then ``X.T @ r``), "stream" (``kernels.csr_streaming_read``: the
values and column indices read once, in parallel, the memory bound of an epoch; for a
binary X, whose epochs never read the values, the indices alone) and "predict"
(``kernels.csr_predict``, parallel). extra_info records ``ratio_to_stream`` and
``ratio_to_scipy`` (median / the same group's stream or scipy median, timed in this
run's fixture). The issue's goals: parallel <= 1/2 of scipy, <= 1.5x stream.

    python -m pytest benchmarks/test_sparse_epoch.py -m large --benchmark-enable \\
        --benchmark-json sparse_epoch.json

X's shapes: one-hot rows (8 categorical columns: 8 entries a row, categories drawn with
a heavy tail, as real categories are), and uniformly random entries ("bag of words")
at densities of 0.1% to 5%.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from fastlinreg import _config, kernels, reference

from ._common import benchmark_median, median_time, one_hot, random_rows

ROUNDS = 7


SHAPES = [
    # (name, builder, args)
    pytest.param(("one-hot", one_hot, (2_000_000, 8, 60)), marks=pytest.mark.large,
                 id="one-hot-2e6x480"),
    pytest.param(("random", random_rows, (1_000_000, 100, 5)), marks=pytest.mark.large,
                 id="random-1e6x100-5pct"),
    pytest.param(("random", random_rows, (10_000_000, 1000, 10)), marks=pytest.mark.large,
                 id="random-1e7x1000-1pct"),
    pytest.param(("random", random_rows, (1_000_000, 100_000, 100)), marks=pytest.mark.large,
                 id="random-1e6x1e5-0.1pct"),
    pytest.param(("random", random_rows, (1_000_000, 1_000_000, 20)), marks=pytest.mark.large,
                 id="random-1e6x1e6-20-per-row"),
    pytest.param(("random", random_rows, (20_000, 50, 5)), id="smoke-20000x50"),
]  # fmt: skip


class Problem:
    def __init__(self, name, builder, args):
        self.X = builder(*args)
        n, d = self.X.shape
        rng = np.random.default_rng(1)
        self.y = rng.standard_normal(n)
        self.w = rng.standard_normal(d) / np.sqrt(self.X.nnz / n)
        self.b = 0.5
        per_row = self.X.nnz // n
        self.group = f"sparse-epoch|{n}x{d}|{per_row}"
        self.label = f"{name}|{n}x{d}|{per_row}"
        self.expected = reference.loss_grad(self.X, self.y, self.w, self.b)
        # As a SparseSource runs it: the rows' blocks are cut once per fit, and very wide
        # X sums its gradient down a CSC copy, made once per fit (timed here, outside
        # the epochs).
        self.layout = kernels.csr_block_starts(self.X.indptr, d, 1)
        self.binary = kernels.csr_is_binary(self.X)  # one-hot: values never read
        self.columns = None
        self.copy_s = None
        if _config.sparse_gradient_by_columns(d, 1):
            started = time.perf_counter()
            self.columns = kernels.csc_columns(self.X)
            self.copy_s = time.perf_counter() - started
        # The two yardsticks of this very matrix, measured in this run.
        self.stream_s = median_time(self.run("stream"), repeat=7)
        self.scipy_s = median_time(self.run("scipy"), repeat=3)

    def run(self, impl: str):
        X, y, w, b = self.X, self.y, self.w, self.b
        columns, layout, binary = self.columns, self.layout, self.binary
        if impl in ("serial", "parallel"):
            parallel = impl == "parallel"
            return lambda: kernels.csr_loss_grad(X, y, w, b, parallel=parallel, block_starts=layout,
                                                 columns=columns, binary=binary)  # fmt: skip
        if impl == "values":  # a binary X's epoch reading its values all the same
            return lambda: kernels.csr_loss_grad(X, y, w, b, parallel=True, block_starts=layout,
                                                 columns=columns, binary=False)  # fmt: skip
        if impl == "fused":  # the one pass over the rows, where the source takes columns
            return lambda: kernels.csr_loss_grad(X, y, w, b, parallel=True, block_starts=layout,
                                                 binary=binary)  # fmt: skip
        if impl == "scipy":
            return lambda: reference.loss_grad(X, y, w, b)
        if impl == "stream":  # what an epoch must read: a binary X's indices alone
            return lambda: kernels.csr_streaming_read(X, values=not binary)
        if impl == "predict":
            out = np.empty(X.shape[0])
            return lambda: kernels.csr_predict(X, w, b, parallel=True, out=out)
        raise ValueError(impl)


@pytest.fixture(scope="module", params=SHAPES)
def problem(request):
    yield Problem(*request.param)


@pytest.mark.parametrize(
    "impl", ["serial", "parallel", "fused", "values", "scipy", "stream", "predict"]
)
def test_sparse_epoch(benchmark, problem, impl):
    if impl == "fused" and problem.columns is None:
        pytest.skip("parallel is the fused pass over the rows already")
    if impl == "values" and not problem.binary:
        pytest.skip("parallel reads the values already")
    f = problem.run(impl)
    f()  # compile and warm the caches outside the timing
    benchmark.group = problem.group
    benchmark.name = f"{impl}|{problem.label}"
    result = benchmark.pedantic(f, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    if impl in ("serial", "parallel", "fused", "values", "scipy"):
        loss, grad_w, grad_b = result
        loss_e, grad_w_e, grad_b_e = problem.expected
        scale = np.linalg.norm(grad_w_e) + abs(grad_b_e)
        np.testing.assert_allclose(float(loss), float(loss_e), rtol=1e-10)
        np.testing.assert_allclose(grad_w, grad_w_e, rtol=1e-10, atol=1e-10 * scale)
        np.testing.assert_allclose(float(grad_b), float(grad_b_e), rtol=1e-10, atol=1e-10 * scale)
    elif impl == "predict":
        expected = problem.X @ problem.w + problem.b
        atol = 1e-10 * np.abs(expected).max()
        np.testing.assert_allclose(result, expected, rtol=1e-10, atol=atol)
    X = problem.X
    info = benchmark.extra_info
    info.update(
        impl=impl,
        n=X.shape[0],
        d=X.shape[1],
        nnz=int(X.nnz),
        # The bytes of the entries an epoch must read (a binary X's indices alone).
        bytes_entries=int(X.indices.nbytes + (0 if problem.binary else X.data.nbytes)),
        stream_bound_s=problem.stream_s,
        scipy_s=problem.scipy_s,
        by_columns=problem.columns is not None,
        binary=problem.binary,
        columns_copy_s=problem.copy_s,
    )
    median = benchmark_median(benchmark)
    if median is None:  # --benchmark-disable: the smoke check above is all
        return
    info["ratio_to_stream"] = median / problem.stream_s
    info["ratio_to_scipy"] = median / problem.scipy_s
    info["gbps_entries"] = info["bytes_entries"] / median / 1e9
