"""Data bigger than RAM: a fit on a memory-mapped .npy streams through it.

Anonymous memory (RssAnon in /proc/self/status: what the process allocated, not the
file's pages, which the kernel can drop and reread) may grow by at most 10% of X during
a fit, for every solver. Measured in a fresh process, sampled every 2 ms.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import rss

pytestmark = [
    pytest.mark.slow,  # the fits run in fresh processes
    pytest.mark.skipif(
        not os.path.exists("/proc/self/status"), reason="RssAnon is read from Linux's /proc"
    ),
]

SCRIPT = r"""
import sys, warnings
import numpy as np
from fastlinreg import LinearRegression
from rss import peak_growth

path, dtype = sys.argv[1], np.dtype(sys.argv[2])
# 256 MB of X either way: the fixed few MB beside it (see below) stay under 5% of X. At
# 128 MB of float32 they were 9.5% or 12.6% of it from run to run (a 4 MiB buffer).
d = 20
n = 1_600_000 * 8 // dtype.itemsize
rng = np.random.default_rng(0)
X = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(n, d))
for start in range(0, n, 100_000):
    X[start:start + 100_000] = rng.standard_normal((100_000, d))
X.flush()
del X
X = np.load(path, mmap_mode="r")
y = (np.asarray(X[:, 0], dtype=np.float64) + rng.standard_normal(n)).astype(dtype)
warnings.simplefilter("ignore")
for name, settings in [
    ("gd, passes over X", dict(solver="gd", precompute=False, max_iter=5, tol=None)),
    ("agd, precomputed factor", dict(solver="agd")),
    ("exact", dict(solver="exact")),
]:
    # Compile the kernels (serial and parallel) before measuring: LLVM's memory is not
    # X's. What remains is a fixed ~9-13 MB (a 4 MiB block buffer per worker thread of the
    # precompute pass for float32), hence an X of 256 MB here.
    LinearRegression(**settings).fit(X[:100_000], y[:100_000])
    model, grown = peak_growth(lambda: LinearRegression(**settings).fit(X, y))
    assert model.coef_.dtype == dtype
    print(name, grown / X.nbytes)
"""


def growth_by_fit(script: str, *args: str) -> dict[str, float]:
    """{fit: RssAnon growth / the data's bytes} as the script prints them, run fresh."""
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        check=True,
        env=rss.environment(),
    )
    growth = {}
    for line in result.stdout.splitlines():
        name, fraction = line.rsplit(" ", 1)
        growth[name] = float(fraction)
    return growth


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fit_on_a_memmap_allocates_under_a_tenth_of_X(tmp_path, dtype):
    growth = growth_by_fit(SCRIPT, str(tmp_path / "X.npy"), dtype)
    assert len(growth) == 3
    assert all(fraction <= 0.10 for fraction in growth.values()), growth


SPARSE_SCRIPT = r"""
import sys, warnings
import numpy as np
import scipy.sparse as sp
from fastlinreg import LinearRegression, open_npz
from rss import peak_growth

path = sys.argv[1]
# About 256 MB of stored entries (values and int32 indices) and row pointers: 2,000,000
# rows of 10 entries at random columns of 100.
n, d, per_row = 2_000_000, 100, 10
rng = np.random.default_rng(0)
columns = np.sort(rng.choice(d, size=(n, per_row)), axis=1)
X = sp.csr_matrix((rng.standard_normal(n * per_row), columns.ravel().astype(np.int32),
                   np.arange(0, n * per_row + 1, per_row)), shape=(n, d))
X.sum_duplicates()
y = X @ rng.standard_normal(d) + rng.standard_normal(n)
sp.save_npz(path, X, compressed=False)
size = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
del X, columns
X = open_npz(path)
# The first rows as views of the mapped arrays, read-only and unaligned as they are:
# numba compiles other kernels for those than for X[:100_000] (a copy in memory), and
# compiling inside the measurement took 5-10% of the file (LLVM's memory, not X's).
first = sp.csr_matrix((100_000, d))
m = int(X.indptr[100_000])
first.data, first.indices, first.indptr = X.data[:m], X.indices[:m], X.indptr[:100_001]
warnings.simplefilter("ignore")
for name, settings in [
    ("agd, passes over X", dict(solver="agd", precompute=False, max_iter=5, tol=None)),
    ("sgd", dict(solver="sgd", max_iter=1, tol=None)),
    ("exact", dict(solver="exact")),
]:
    LinearRegression(**settings).fit(first, y[:100_000])  # compile first
    model, grown = peak_growth(lambda: LinearRegression(**settings).fit(X, y))
    print(name, grown / size)
"""


def test_fit_on_a_memory_mapped_sparse_file_allocates_under_a_tenth_of_it(tmp_path):
    growth = growth_by_fit(SPARSE_SCRIPT, str(tmp_path / "X.npz"))
    assert len(growth) == 3
    assert all(fraction <= 0.10 for fraction in growth.values()), growth
