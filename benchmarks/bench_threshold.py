"""Where the parallel loss/gradient kernel starts to beat the serial one.

For d in {2, 10, 100} and n*d = 2**10 .. 2**22 (float64 by default) it times the serial
and the parallel ``kernels.loss_grad`` (interleaved samples, median of each) and prints
the smallest n*d from which the parallel kernel is faster at every larger size. That is
the value for ``fastlinreg._config.PARALLEL_MIN_ELEMENTS``.

Each call is the public ``kernels.loss_grad``, so its fixed per-call cost counts.

Usage::

    python benchmarks/bench_threshold.py [--dtype float64] [--repeat 9]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numba
import numpy as np

from fastlinreg import _config, kernels

DS = (2, 10, 100)
LOG2_SIZES = range(10, 23)
MIN_SAMPLE_S = 2e-3


def _call(X, y, w, b, parallel: bool) -> Callable[[], object]:
    def call():
        return kernels.loss_grad(X, y, w, b, parallel=parallel)

    call()
    return call


def _loops_for(f: Callable[[], object]) -> int:
    """Calls per sample so that a sample lasts at least MIN_SAMPLE_S."""
    loops = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(loops):
            f()
        if time.perf_counter() - t0 >= MIN_SAMPLE_S or loops >= 1 << 16:
            return loops
        loops *= 2


def _time_pair(serial, parallel, repeat: int) -> tuple[float, float]:
    """Median seconds per call of each, samples interleaved so both see the same noise."""
    loops = max(_loops_for(serial), _loops_for(parallel))
    times: dict[str, list[float]] = {"s": [], "p": []}
    for _ in range(repeat):
        for key, f in (("s", serial), ("p", parallel)):
            t0 = time.perf_counter()
            for _ in range(loops):
                f()
            times[key].append((time.perf_counter() - t0) / loops)
    return statistics.median(times["s"]), statistics.median(times["p"])


def threshold(rows: list[tuple[int, float, float]]) -> int | None:
    """Smallest size from which parallel is faster at every larger size (None: never).

    rows: (size, serial seconds, parallel seconds).
    """
    best = None
    for size, t_serial, t_parallel in sorted(rows, reverse=True):
        if t_parallel >= t_serial:
            break
        best = size
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()

    # Run one parallel region first so the threading layer is known.
    kernels.loss_grad(np.ones((64, 2)), np.ones(64), np.zeros(2), 0.0, parallel=True)
    print(
        f"numba {numba.__version__}, threading layer {numba.threading_layer()}, "
        f"{numba.get_num_threads()} threads; dtype {args.dtype}; "
        f"current PARALLEL_MIN_ELEMENTS = {_config.PARALLEL_MIN_ELEMENTS}"
    )
    rng = np.random.default_rng(0)
    results: dict[int, int | None] = {}
    print("\n| d | n*d | n | serial us | parallel us | serial / parallel |")
    print("|---:|---:|---:|---:|---:|---:|")
    for d in DS:
        rows = []
        for log2 in LOG2_SIZES:
            n = max(1, (1 << log2) // d)
            X = rng.standard_normal((n, d)).astype(args.dtype)
            y = rng.standard_normal(n).astype(args.dtype)
            w = rng.standard_normal(d)
            t_s, t_p = _time_pair(
                _call(X, y, w, 0.5, False), _call(X, y, w, 0.5, True), args.repeat
            )
            rows.append((1 << log2, t_s, t_p))  # nominal n*d (n is rounded down)
            us = f"{t_s * 1e6:.1f} | {t_p * 1e6:.1f}"
            print(f"| {d} | {n * d} | {n} | {us} | {t_s / t_p:.2f} |")
        results[d] = threshold(rows)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nload average at the end: {load} on {os.cpu_count()} CPUs (other work skews this)")
    print("Parallel faster at every size >= (nominal n*d):")
    for d, value in results.items():
        print(f"  d={d:<4d} " + ("never" if value is None else f"2**{value.bit_length() - 1}"))
    if all(v is not None for v in results.values()):
        print(f"Suggested PARALLEL_MIN_ELEMENTS (max over d): {max(results.values())}")


if __name__ == "__main__":
    main()
