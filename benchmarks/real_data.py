"""Digits, epochs and fit time of every solver on the real-data corpus, for the README.

    python benchmarks/real_data.py [--out benchmarks/real_data.json] [--repeats 7]

The corpus is ``tests/realdata.py``'s: every statsmodels bundled data set that loads
offline and scikit-learn's diabetes and linnerud, the last numeric column regressed on
the others. For each data set the script prints n, d and kappa (the condition number of X
with its columns centred and scaled to unit standard deviation), then for each of
LinearRegression() (solver "auto"), "exact", "agd", "gd" and "sgd" with their defaults
(sgd with random_state=0, for a reproducible table): the correct significant digits
against the exact least-squares answer (``realdata.digits``), the epochs (n_iter_), and
the fit time relative to scikit-learn's ``LinearRegression().fit`` on the same arrays.
Times are the median over ``--repeats`` rounds of the ratio of the two fits timed back to
back in the same round (after untimed fits, which also compile the kernels), so that a
slow moment of the machine slows both sides of a ratio; each timing repeats a fit of
under 5 ms until it lasts 5 ms. The tests
(tests/test_real_data.py) assert the digits; timings live only here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression as SklearnLinearRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import realdata  # noqa: E402

from fastlinreg import LinearRegression  # noqa: E402
from fastlinreg.bench import info_line, runtime_info  # noqa: E402

SOLVERS = {
    "auto": {},  # LinearRegression() with no arguments
    "exact": {"solver": "exact"},
    "agd": {"solver": "agd"},
    "gd": {"solver": "gd"},
    "sgd": {"solver": "sgd", "random_state": 0},
}


def fit_once(params: dict, X, y) -> tuple[object, list[warnings.WarningMessage]]:
    """One fit, with the warnings it raised (all of them, every time)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = LinearRegression(**params).fit(X, y)
    return model, caught


# A fit of a few hundred rows takes under a millisecond, where one timer reading is at
# the mercy of the scheduler: each measurement repeats the fit until it lasts this long.
MIN_MEASUREMENT_S = 0.005
MAX_LOOPS = 200


def loops_for(fit) -> int:
    """How many back-to-back fits make one measurement of at least MIN_MEASUREMENT_S."""
    once = seconds(fit, 1)
    return max(1, min(MAX_LOOPS, int(MIN_MEASUREMENT_S / max(once, 1e-7)) + 1))


def seconds(fit, loops: int) -> float:
    """Mean wall time of ``fit()`` over ``loops`` calls in a row."""
    started = time.perf_counter()
    for _ in range(loops):
        fit()
    return (time.perf_counter() - started) / loops


def bench_data_set(data: realdata.DataSet, repeats: int) -> dict:
    X, y = data.X, data.y
    row: dict = {"name": data.name, "n": X.shape[0], "d": X.shape[1]}
    row["kappa"] = realdata.scaled_condition(X)
    ref_coef, ref_intercept = realdata.reference_solution(X, y)
    row["attainable_digits"] = realdata.attainable_digits(X, y, ref_coef)
    sk = SklearnLinearRegression().fit(X, y)  # untimed, like each solver's first fit
    row["sklearn_digits"] = realdata.digits(sk.coef_, sk.intercept_, ref_coef, ref_intercept, X)
    solvers = {}
    for label, params in SOLVERS.items():
        model, caught = fit_once(params, X, y)
        solvers[label] = {
            "solver_": getattr(model, "solver_", params.get("solver", "gd")),
            "digits": realdata.digits(model.coef_, model.intercept_, ref_coef, ref_intercept, X),
            "n_iter": int(model.n_iter_),
            "converged": bool(model.converged_),
            "convergence_warnings": [
                str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)
            ],
            "other_warnings": [
                f"{w.category.__name__}: {w.message}"
                for w in caught
                if not issubclass(w.category, ConvergenceWarning)
            ],
        }
    fits = {"sklearn": lambda: SklearnLinearRegression().fit(X, y)}
    for label, params in SOLVERS.items():
        fits[label] = lambda p=params: LinearRegression(**p).fit(X, y)
    times: dict[str, list[float]] = {label: [] for label in fits}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # recorded above; here only the clock matters
        loops = {label: loops_for(fit) for label, fit in fits.items()}
        for _ in range(repeats):
            for label, fit in fits.items():
                times[label].append(seconds(fit, loops[label]))
    sklearn_times = times.pop("sklearn")
    row["loops"] = loops  # fits per timing, by method
    row["sklearn_s"] = statistics.median(sklearn_times)
    for label in SOLVERS:
        ratios = [t / s for t, s in zip(times[label], sklearn_times, strict=True)]
        solvers[label]["time_s"] = statistics.median(times[label])
        solvers[label]["time_ratio"] = statistics.median(ratios)
    row["solvers"] = solvers
    return row


def cell(result: dict) -> str:
    warned = " ⚠" if result["convergence_warnings"] or result["other_warnings"] else ""
    return f"{result['digits']:.1f} · {result['n_iter']} · {result['time_ratio']:.2g}×{warned}"


def table(rows: list[dict]) -> str:
    header = ["data set", "n", "d", "κ", "sklearn digits", *SOLVERS]
    lines = [
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
    ]
    for row in rows:
        cells = [row["name"], str(row["n"]), str(row["d"]), f"{row['kappa']:.3g}"]
        cells.append(f"{row['sklearn_digits']:.1f}")
        cells += [cell(row["solvers"][label]) for label in SOLVERS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(rows: list[dict]) -> tuple[str, dict]:
    """One line per solver: median / min digits, total time, data sets it warned on."""
    sklearn_total = sum(row["sklearn_s"] for row in rows)
    totals: dict = {"sklearn_total_s": sklearn_total, "solvers": {}}
    lines = [f"scikit-learn: all {len(rows)} fits {sklearn_total * 1e3:.1f} ms"]
    for label in SOLVERS:
        results = [row["solvers"][label] for row in rows]
        digits = [r["digits"] for r in results]
        total = sum(r["time_s"] for r in results)
        warned = sum(bool(r["convergence_warnings"] or r["other_warnings"]) for r in results)
        totals["solvers"][label] = {
            "median_digits": statistics.median(digits),
            "min_digits": min(digits),
            "total_s": total,
            "total_ratio": total / sklearn_total,
            "warned_on": warned,
        }
        lines.append(
            f"{label}: digits median {statistics.median(digits):.1f}, min {min(digits):.1f}; "
            f"all fits {total * 1e3:.1f} ms ({total / sklearn_total:.2g}× scikit-learn's); "
            f"warned on {warned} of {len(rows)}"
        )
    return "\n".join(lines), totals


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds per data set")
    parser.add_argument("--out", type=Path, default=None, help="JSON file of all rows")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    info = runtime_info()  # BLAS from threadpoolctl.threadpool_info(), numba's threads
    corpus, skipped = realdata.load_corpus()
    rows = []
    for data in corpus:
        rows.append(bench_data_set(data, args.repeats))
        print(f"{data.name}: done", file=sys.stderr, flush=True)
    summary_text, totals = summary(rows)
    print(
        "Cells: digits · epochs (n_iter_) · fit time relative to scikit-learn's "
        f"LinearRegression().fit (median of {args.repeats}); ⚠ = it warned. "
        "κ: of the standardized X (the κ that gd/agd warnings print is XᵀX's, κ²).\n"
    )
    print(table(rows))
    print()
    print(summary_text)
    if skipped:
        print("skipped: " + "; ".join(f"{name} ({why})" for name, why in skipped))
    print(info_line(info, args.repeats))
    report = {
        "args": {"repeats": args.repeats},
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "runtime_info": info,
        "skipped": [{"name": name, "reason": why} for name, why in skipped],
        "rows": rows,
        "summary": totals,
        "total_s": time.perf_counter() - started,
    }
    if args.out:
        args.out.write_text(json.dumps(report, indent=1, default=str) + "\n")
        print(f"wrote {args.out}", file=sys.stderr)
    return report


if __name__ == "__main__":
    main()
