"""Sums over unaligned float64 data: why the sources copy unaligned blocks first.

    python benchmarks/bench_unaligned.py [--rows 2000000] [--repeat 5]

An array gathered from a ``dask.distributed`` worker can start at an address that is not
a multiple of 8. NumPy hands such data to neither BLAS nor its SIMD loops. For X of
``--rows`` x 10 float64, at an unaligned address and as an aligned copy, this times the
sum of squares of all values (the value check of ``InMemorySource``) three ways: one
``np.dot`` of the unaligned data, the same data copied to aligned blocks of
``_config.BLOCK_BYTES`` (what fastlinreg does), and one ``np.dot`` of the aligned copy.
Median of ``--repeat``; about 10 s at the default size (X is 160 MB, held twice).
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import median_time

from fastlinreg import _config


def unaligned_copy(X: np.ndarray) -> np.ndarray:
    """X's values in memory that starts one byte past an aligned address."""
    buffer = np.empty(X.nbytes + 1, dtype=np.uint8)
    Y = buffer[1:].view(np.float64).reshape(X.shape)
    Y[...] = X
    assert not Y.flags.aligned
    return Y


def in_aligned_blocks(A: np.ndarray) -> float:
    rows = max(1, _config.BLOCK_BYTES // (8 * A.shape[1]))
    total = 0.0
    for start in range(0, A.shape[0], rows):
        block = np.require(A[start : start + rows], np.float64, "A")
        total += float(np.einsum("ij,ij->", block, block))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    X = np.random.default_rng(0).standard_normal((args.rows, 10))
    U = unaligned_copy(X)
    flat_x, flat_u = X.ravel(), U.ravel()
    rows = [
        ("np.dot, unaligned", median_time(lambda: np.dot(flat_u, flat_u), args.repeat)),
        ("aligned blocks of the unaligned data", median_time(lambda: in_aligned_blocks(U))),
        ("np.dot, aligned", median_time(lambda: np.dot(flat_x, flat_x), args.repeat)),
    ]
    print(f"sum of squares of {args.rows} x 10 float64; median of {args.repeat}")
    print("| how | ms |")
    print("|---|---:|")
    for label, seconds in rows:
        print(f"| {label} | {seconds * 1e3:.1f} |")


if __name__ == "__main__":
    main()
