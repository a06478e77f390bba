"""Row chains or lanes: how the fused pass sums each row's prediction for row-major X.

    python benchmarks/bench_row_lanes.py [--mib 64] [--repeat 7]

For row-major X of ``--mib`` MiB (float64 and float32) and several widths d, times one
parallel epoch (``kernels.loss_grad``) with each row's prediction as one chain of
additions (four rows at a time: "chains") and as four interleaved lanes over its columns
(``_jit._row_dot``, as predict sums it: "lanes"), samples interleaved, and prints the
medians. Lanes are used from ``fastlinreg._config.ROW_LANES_MIN_FEATURES`` columns; both
give results within rounding of each other (tests/test_properties.py draws either).
About a minute.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from fastlinreg import _config, kernels

WIDTHS = (8, 12, 16, 20, 24, 32, 40, 48, 56, 64, 96, 128)
# ROW_LANES_MIN_FEATURES is read at each call: a huge value forces chains, 0 lanes.
NESTS = {"chains": 1 << 30, "lanes": 0}


def epoch_times(X, y, w, repeat: int) -> dict[str, float]:
    """Median seconds of one parallel epoch with each nest, samples interleaved."""
    times: dict[str, list[float]] = {nest: [] for nest in NESTS}
    saved = _config.ROW_LANES_MIN_FEATURES
    try:
        for sample in range(repeat + 1):
            for nest, limit in NESTS.items():
                _config.ROW_LANES_MIN_FEATURES = limit
                t0 = time.perf_counter()
                kernels.loss_grad(X, y, w, 0.5, parallel=True)
                if sample:  # the first round compiles and warms up
                    times[nest].append(time.perf_counter() - t0)
    finally:
        _config.ROW_LANES_MIN_FEATURES = saved
    return {nest: statistics.median(values) for nest, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=64, help="size of X in MiB")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(f"ROW_LANES_MIN_FEATURES = {_config.ROW_LANES_MIN_FEATURES}; X of {args.mib} MiB")
    print("| dtype | d | n | chains ms | lanes ms | chains / lanes |")
    print("|---|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        for d in WIDTHS:
            n = args.mib * (1 << 20) // (np.dtype(dtype).itemsize * d)
            X = rng.standard_normal((n, d)).astype(dtype)
            y = rng.standard_normal(n).astype(dtype)
            w = rng.standard_normal(d) / np.sqrt(d)
            t = {nest: 1e3 * s for nest, s in epoch_times(X, y, w, args.repeat).items()}
            print(
                f"| {np.dtype(dtype).name} | {d} | {n} | {t['chains']:.1f} | {t['lanes']:.1f} "
                f"| {t['chains'] / t['lanes']:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
