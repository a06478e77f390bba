"""Row path or column sweep: which loop nest of the epoch kernel suits row-major X.

    python benchmarks/bench_column_sweep.py [--mib 64] [--repeat 7]

For row-major float64 X of ``--mib`` MiB and several widths d, times one serial epoch
(``kernels.loss_grad``) with the block kernel's row path (each row read once, the
gradient added row by row) and with its column sweep (the block's residuals first, then
one reduction per column), samples interleaved, and prints the medians. The column sweep
is used up to ``fastlinreg._config.COLUMN_SWEEP_MAX_FEATURES`` columns; both paths give
results within rounding of each other (tests/test_properties.py draws either). About 30 s.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from fastlinreg import _config, kernels

WIDTHS = (2, 4, 8, 12, 16, 24, 32, 64)
# COLUMN_SWEEP_MAX_FEATURES is read at each call: 0 forces the row path, a huge value
# the column sweep (column-major X always sweeps columns).
PATHS = {"row path": 0, "column sweep": 1 << 30}


def epoch_times(X, y, w, repeat: int) -> dict[str, float]:
    """Median seconds of one serial epoch on each path, samples interleaved."""
    times: dict[str, list[float]] = {path: [] for path in PATHS}
    saved = _config.COLUMN_SWEEP_MAX_FEATURES
    try:
        for sample in range(repeat + 1):
            for path, limit in PATHS.items():
                _config.COLUMN_SWEEP_MAX_FEATURES = limit
                t0 = time.perf_counter()
                kernels.loss_grad(X, y, w, 0.5, parallel=False)
                if sample:  # the first round compiles and warms up
                    times[path].append(time.perf_counter() - t0)
    finally:
        _config.COLUMN_SWEEP_MAX_FEATURES = saved
    return {path: statistics.median(values) for path, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=64, help="size of X in MiB")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(f"COLUMN_SWEEP_MAX_FEATURES = {_config.COLUMN_SWEEP_MAX_FEATURES}; X of {args.mib} MiB")
    print("| d | n | row path ms | column sweep ms | row / sweep |")
    print("|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(0)
    for d in WIDTHS:
        n = args.mib * (1 << 20) // (8 * d)
        X = rng.standard_normal((n, d))
        y = rng.standard_normal(n)
        w = rng.standard_normal(d) / np.sqrt(d)
        t = epoch_times(X, y, w, args.repeat)
        row, sweep = t["row path"], t["column sweep"]
        print(f"| {d} | {n} | {row * 1e3:.1f} | {sweep * 1e3:.1f} | {row / sweep:.2f} |")


if __name__ == "__main__":
    main()
