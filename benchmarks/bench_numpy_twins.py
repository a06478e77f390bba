"""Where the NumPy twins of the kernels stop paying: ``_config.NUMPY_MAX_ELEMENTS``.

Data of at most NUMPY_MAX_ELEMENTS elements is predicted, and its precompute pass's
moments summed, by NumPy (fastlinreg/_numpy_twins.py, the kernels' bits) so that a
process fitting only such data never imports numba. This prints, for d in {1, 10, 100}
and n*d from 2**10 to 2**20, float64, the median time of the default fit
(``LinearRegression().fit``) and of ``predict`` with the twins and with the kernels
(samples interleaved, in one warm process), and, measured in fresh processes, what
numba costs a process once: ``import numba`` and the first kernel loaded from its cache.
A fit's extra time with the twins, against that one-off cost, is the trade.

Usage::

    python benchmarks/bench_numpy_twins.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import numpy as np

from fastlinreg import LinearRegression, _config

DS = (1, 10, 100)
LOG2_SIZES = (10, 12, 13, 14, 15, 16, 18, 20)
ONE_OFF = """
import time
t0 = time.perf_counter()
import numba
t1 = time.perf_counter()
import numpy as np
from fastlinreg import _config, kernels
_config.NUMPY_MAX_ELEMENTS = -1
t2 = time.perf_counter()
kernels.predict(np.ones((4, 2)), np.ones(2), 0.0)
t3 = time.perf_counter()
print(t1 - t0, t3 - t2)
"""


def _median_pair(f, repeat: int) -> tuple[float, float]:
    """Median seconds of ``f()`` with the twins and with the kernels, samples
    interleaved so that both see the same noise."""
    times: dict[int, list[float]] = {1 << 62: [], -1: []}
    for _ in range(repeat):
        for limit, samples in times.items():
            _config.NUMPY_MAX_ELEMENTS = limit
            t0 = time.perf_counter()
            f()
            samples.append(time.perf_counter() - t0)
    return statistics.median(times[1 << 62]), statistics.median(times[-1])


def _row(d: int, n: int, rng: np.random.Generator, repeat: int) -> str:
    X = rng.standard_normal((n, d)) * 10.0 + 100.0
    y = X @ rng.standard_normal(d) + rng.standard_normal(n)
    model = LinearRegression().fit(X, y)
    fit = _median_pair(lambda: LinearRegression().fit(X, y), repeat)
    predict = _median_pair(lambda: model.predict(X), repeat)
    return (f"{d:>4} {n * d:>9} {fit[0] * 1e3:>13.3f} {fit[1] * 1e3:>15.3f} "
            f"{predict[0] * 1e3:>17.3f} {predict[1] * 1e3:>19.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    default = _config.NUMPY_MAX_ELEMENTS
    rng = np.random.default_rng(0)
    print(f"NUMPY_MAX_ELEMENTS today: {default} (2**{default.bit_length() - 1})")
    print(f"{'d':>4} {'n*d':>9} {'fit twins ms':>13} {'fit kernels ms':>15} "
          f"{'predict twins ms':>17} {'predict kernels ms':>19}")  # fmt: skip
    for d in DS:
        for n in sorted({max(2 * d, (1 << log2) // d) for log2 in LOG2_SIZES}):
            print(_row(d, n, rng, args.repeat), flush=True)
    _config.NUMPY_MAX_ELEMENTS = default
    once = [subprocess.run([sys.executable, "-c", ONE_OFF], capture_output=True, text=True,
                           check=True).stdout.split() for _ in range(args.repeat)]  # fmt: skip
    print(
        f"numba's one-off cost per process (median of {args.repeat} fresh processes): "
        f"import {statistics.median(float(a) for a, _ in once):.3f} s, first cached "
        f"kernel {statistics.median(float(b) for _, b in once):.3f} s"
    )


if __name__ == "__main__":
    main()
