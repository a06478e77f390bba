"""Statistics of a least-squares fit (standard errors, tests, summary): fastlinreg and
statsmodels side by side, and fastlinreg on a memory-mapped file larger than RAM.

Usage::

    python -m benchmarks.inference_time --n 100000            # a quick look
    python -m benchmarks.inference_time --n 1000000 10000000 40000000 --beyond-ram-gb 32 \
        --out benchmarks/inference_time.json              # the README's table (~25 min)

1. In memory: X of n x 10 whose columns have offsets and scales far apart (as real data
   do) and errors whose spread grows with the first column, at each ``--n``. Four ways to
   a printed summary, each a fit and its ``summary()``:
   statsmodels ``OLS(y, add_constant(X)).fit()`` and ``.fit(cov_type="HC1")``; fastlinreg
   ``LinearRegression().fit(X, y)`` and ``LinearRegression(cov_type="HC1")``. After a
   warm-up on 10,000 rows, ``--repeats`` rounds, the methods taking turns (a slow spell
   of the shared machine is shared out); the median per method, and the largest
   relative difference of the standard errors from statsmodels'.
2. With ``--beyond-ram-gb G``: the G GiB ``.npy`` X (n x 10) and y of
   ``benchmarks/large_data.py`` (written under ``--dir`` unless present; removed at the
   end unless ``--keep``), memory-mapped; fastlinreg's fit and summary, classical and
   HC1, once each. statsmodels needs the design in memory (and copies of it): no run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

D = 10


def make_problem(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    scales = np.logspace(-2, 3, D)
    offsets = rng.uniform(-1, 1, D) * 10.0 * scales
    X = rng.standard_normal((n, D)) * scales + offsets
    y = X @ (rng.standard_normal(D) / scales) + 5.0
    y += rng.standard_normal(n) * (1.0 + np.abs(X[:, 0] - offsets[0]) / scales[0])
    return X, y


def methods():
    """(name, fit-and-summary returning the standard errors) for each method."""
    import statsmodels.api as sm

    from fastlinreg import LinearRegression

    def statsmodels_fit(cov_type):
        def run(X, y):
            results = sm.OLS(y, sm.add_constant(X)).fit(cov_type=cov_type)
            results.summary()
            return np.asarray(results.bse)

        return run

    def fastlinreg_fit(cov_type):
        def run(X, y):
            model = LinearRegression(cov_type=cov_type).fit(X, y)
            model.summary()
            return model.bse_

        return run

    return [
        ("statsmodels OLS", statsmodels_fit("nonrobust")),
        ("statsmodels OLS, HC1", statsmodels_fit("HC1")),
        ("fastlinreg", fastlinreg_fit("nonrobust")),
        ("fastlinreg, HC1", fastlinreg_fit("HC1")),
    ]


def bench_in_memory(n: int, repeats: int) -> list[dict]:
    X, y = make_problem(n)
    found = methods()
    for _, run in found:
        run(X[:10_000], y[:10_000])  # compile and import outside the timings
    times: dict[str, list[float]] = {name: [] for name, _ in found}
    bse: dict[str, np.ndarray] = {}
    for r in range(repeats):
        for name, run in found[r % len(found) :] + found[: r % len(found)]:
            t0 = time.perf_counter()
            bse[name] = run(X, y)
            times[name].append(time.perf_counter() - t0)
    rows = []
    for name, _ in found:
        peer = "statsmodels OLS, HC1" if "HC1" in name else "statsmodels OLS"
        difference = float(np.max(np.abs(bse[name] - bse[peer]) / np.abs(bse[peer])))
        rows.append(
            {"n": n, "method": name, "median_s": statistics.median(times[name]),
             "times_s": times[name], "bse_vs_statsmodels": difference}
        )  # fmt: skip
        print(f"n={n:>11,}  {name:22s} {rows[-1]['median_s']:8.3f} s  bse diff {difference:.1e}")
    return rows


def bench_beyond_ram(gb: float, directory: Path, keep: bool) -> list[dict]:
    from fastlinreg import LinearRegression

    from .large_data import make_data, remove_data

    data = make_data(directory, gb)
    rows = []
    try:
        X = np.load(data["x"], mmap_mode="r")
        y = np.load(data["y"], mmap_mode="r")
        for cov_type in ("nonrobust", "HC1"):
            t0 = time.perf_counter()
            model = LinearRegression(cov_type=cov_type).fit(X, y)
            text = model.summary()
            seconds = time.perf_counter() - t0
            rows.append(
                {"n": int(X.shape[0]), "gb": X.nbytes / 1e9, "cov_type": cov_type,
                 "seconds": seconds, "bse": model.bse_.tolist()}
            )  # fmt: skip
            print(f"{X.nbytes / 1e9:.2f} GB memmap, {cov_type}: fit + summary {seconds:.1f} s")
        print(text)
    finally:
        if not keep:
            remove_data(data)
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--beyond-ram-gb", type=float, default=None)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--keep", action="store_true", help="keep the large file")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_info

    result: dict = {
        "blas": [
            {k: info.get(k) for k in ("internal_api", "architecture", "num_threads")}
            for info in threadpool_info()
            if info.get("user_api") == "blas"
        ],
        "in_memory": [],
    }
    print("BLAS:", result["blas"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in args.n:
            result["in_memory"] += bench_in_memory(n, args.repeats)
    if args.beyond_ram_gb:
        result["beyond_ram"] = bench_beyond_ram(args.beyond_ram_gb, args.dir, args.keep)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
