"""Time to solution: fastlinreg and its peers side by side on one least-squares problem.

The problem is ``make_regression(n, d, noise=10, random_state=0)`` in float64 C order; the
reference is ``np.linalg.lstsq`` on ``[X, 1]``. A method reaches its target when
``max|theta - theta_ref| / max|theta_ref| <= target``, theta being the coefficients followed
by the intercept: 1e-6, and 1e-10 for fastlinreg's exact solver.

Usage::

    python benchmarks/solution_time.py --n 2000000 --d 20 \\
        --out benchmarks/solution_time.json --plot docs/solution_time.png

For each method the script prints and records the wall time of the fit in the table (the
median of 3 runs when ``rounds == 3``, one run otherwise), the relative error, whether the
target was reached, and a loss-vs-wall-time curve:

- direct solvers: the single point of the timed fit;
- iterative solvers: separate fits with max_iter = 1, 2, 4, ... and no early stop, each
  timed alone (median of ``rounds`` runs, like the table), until the error is 100x below
  the target, stops improving or the curve's time budget is spent;
- SGDRegressor: one run of ``partial_fit`` epochs with the clock running (paused only to
  record each epoch's loss), until the target or ``--sgd-cap`` seconds. That run is also
  its table entry.

The registry ``METHODS`` is shared with ``benchmarks/test_solution_time.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib import metadata

import numpy as np

TARGET = 1e-6
EXACT_TARGET = 1e-10
SGD_CAP_S = 60.0
CURVE_CAP_S = 120.0  # time budget of one iterative method's max_iter = 1, 2, 4, ... curve
MAX_ITER_CAP = 4096
N_CHUNKS = 8  # dask: 8 row chunks, 250,000 rows each at n = 2,000,000

Fit = tuple[np.ndarray, float]  # (coef of shape (d,), intercept)


@dataclass
class Problem:
    """X, y and the least-squares reference ``ref = [coef, intercept]`` of shape (d + 1,)."""

    X: np.ndarray
    y: np.ndarray
    ref: np.ndarray
    ref_mse: float
    cap_s: float = SGD_CAP_S  # wall-time cap of the methods that run until a time limit

    @property
    def shape(self) -> tuple[int, int]:
        return self.X.shape

    def rel_error(self, fit: Fit) -> float:
        theta = np.append(np.ravel(fit[0]), float(fit[1]))
        return float(np.max(np.abs(theta - self.ref)) / np.max(np.abs(self.ref)))

    def excess_mse(self, fit: Fit) -> float:
        """Training MSE minus the optimal MSE, as ``mean((X dw + db)**2)``.

        The residual at the reference is orthogonal to the columns of ``[X, 1]``, so this
        equals ``mse(fit) - ref_mse`` without the cancellation of that subtraction.
        """
        delta = np.append(np.ravel(fit[0]), float(fit[1])) - self.ref
        r = self.X @ delta[:-1]
        r += delta[-1]
        return float(r @ r) / self.X.shape[0]

    def head(self, n: int) -> Problem:
        """The first ``n`` rows as a problem of its own (for warm-up fits)."""
        return make_problem_from(self.X[:n], self.y[:n], cap_s=0.05)


def make_problem_from(X: np.ndarray, y: np.ndarray, cap_s: float = SGD_CAP_S) -> Problem:
    A = np.empty((X.shape[0], X.shape[1] + 1))
    A[:, :-1] = X
    A[:, -1] = 1.0
    ref = np.linalg.lstsq(A, y, rcond=None)[0]
    r = y - A @ ref
    return Problem(X, y, ref, float(r @ r) / X.shape[0], cap_s)


def make_problem(n: int, d: int, seed: int = 0, cap_s: float = SGD_CAP_S) -> Problem:
    """``make_regression(n, d, noise=10, random_state=seed)`` as float64 C arrays."""
    from sklearn.datasets import make_regression

    X, y = make_regression(n_samples=n, n_features=d, noise=10, random_state=seed)
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    return make_problem_from(X, y, cap_s)


@dataclass(frozen=True)
class Point:
    """One point of a loss-vs-wall-time curve: seconds, max_iter or epoch, and the fit."""

    t: float
    step: int
    fit: Fit


@dataclass(frozen=True)
class Method:
    """One solver: how to fit it for the table, and how to trace its loss over time.

    ``fit`` is the timed configuration. ``fit_iter(problem, k)``, for iterative solvers, fits
    with max_iter = k and no early stop. ``epochs`` (SGD) runs to the target or the time cap
    and returns its whole curve; its last point is the table entry.
    """

    name: str  # benchmark id: "{name}|{n}x{d}|float64"
    label: str
    module: str  # skipped when this cannot be imported
    fit: Callable[[Problem], Fit] | None = None
    fit_iter: Callable[[Problem, int], Fit] | None = None
    epochs: Callable[[Problem], list[Point]] | None = None
    target: float = TARGET
    rounds: int = 3  # timed runs in the table: 3 when one fit is cheap, 1 when it is slow
    direct: bool = False  # a direct (non-iterative) solve: always reaches its target
    settings: str = ""

    def run_once(self, problem: Problem) -> Fit:
        """The fit of the table (the last point of the epochs for SGD)."""
        if self.epochs is not None:
            return self.epochs(problem)[-1].fit
        assert self.fit is not None
        return self.fit(problem)


def _quiet(f: Callable[..., Fit]) -> Callable[..., Fit]:
    """``f`` without the ConvergenceWarning of a fit that max_iter cut short on purpose."""

    def wrapped(*args) -> Fit:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return f(*args)

    return wrapped


# --- fastlinreg -------------------------------------------------------------------------


def _fastlinreg(problem: Problem, **params) -> Fit:
    from fastlinreg import LinearRegression

    model = LinearRegression(**params).fit(problem.X, problem.y)
    return model.coef_, float(model.intercept_)


# --- scikit-learn -------------------------------------------------------------------------


def _sklearn_lstsq(problem: Problem) -> Fit:
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(problem.X, problem.y)
    return model.coef_, float(model.intercept_)


def _sklearn_ridge(problem: Problem) -> Fit:
    from sklearn.linear_model import Ridge

    # alpha=0: the target is the unpenalized solution. (Ridge's default alpha=1.0 biases the
    # coefficients by about alpha / n relative: 5e-6 at n=200,000, 5e-7 at 2,000,000.)
    model = Ridge(alpha=0.0, solver="cholesky").fit(problem.X, problem.y)
    return model.coef_, float(model.intercept_)


SGD_PARAMS = {
    "penalty": None,
    "learning_rate": "invscaling",
    "eta0": 0.01,
    "power_t": 0.25,
    "average": True,
    "tol": None,
    "random_state": 0,
}
# Chosen on n=200,000 with 8 s per setting: relative errors reached 2.2e-5 with these,
# 6.4e-5 (constant 1e-3, averaged), 2.3e-4 (constant 1e-2, averaged), 1.7e-3 (invscaling,
# not averaged), 8.9e-5 (power_t=0.5, averaged); learning_rate="optimal" diverged; eta0 of
# 0.003, 0.03 and 0.1 (averaged) did no better than 0.01 in 5 s.


def _sgd_epochs(problem: Problem) -> list[Point]:
    from sklearn.linear_model import SGDRegressor
    from sklearn.preprocessing import StandardScaler

    X, y = problem.X, problem.y
    t0 = time.perf_counter()
    scaler = StandardScaler().fit(X)
    Xs = scaler.transform(X)
    model = SGDRegressor(**SGD_PARAMS)
    elapsed = time.perf_counter() - t0
    points: list[Point] = []
    while elapsed < problem.cap_s:
        t0 = time.perf_counter()
        model.partial_fit(Xs, y)
        coef = model.coef_ / scaler.scale_
        fit = (coef, float(model.intercept_[0] - coef @ scaler.mean_))
        elapsed += time.perf_counter() - t0
        points.append(Point(elapsed, len(points) + 1, fit))  # O(d): the clock is paused
        if problem.rel_error(fit) <= TARGET:
            break
    return points


# --- glum ----------------------------------------------------------------------------------


def _glum(problem: Problem, solver: str, **params) -> Fit:
    from glum import GeneralizedLinearRegressor

    model = GeneralizedLinearRegressor(family="normal", alpha=0, solver=solver, **params)
    model.fit(problem.X, problem.y)
    return model.coef_, float(model.intercept_)


# --- dask-ml -------------------------------------------------------------------------------


def _dask_ml(problem: Problem, max_iter: int, tol: float) -> Fit:
    import dask.array as da
    from dask_ml.linear_model import LinearRegression

    n, d = problem.shape
    rows = -(-n // N_CHUNKS)
    X = da.from_array(problem.X, chunks=(rows, d))
    y = da.from_array(problem.y, chunks=rows)
    # gradient_descent ignores penalty and C; it standardizes X itself (dask_glm normalize).
    model = LinearRegression(solver="gradient_descent", max_iter=max_iter, tol=tol).fit(X, y)
    return np.asarray(model.coef_), float(model.intercept_)


# dask-ml's tol is on the relative decrease of the loss (its default 1e-4 stops at a 7e-5
# relative error at n=200,000). tol=1e-6 and 1e-8 stopped at 6.5e-7 there, just inside the
# target; 1e-10 (2.4e-8) is the one with a margin.
DASK_TOL = 1e-10

METHODS: list[Method] = [
    Method(
        "fastlinreg-agd",
        "fastlinreg agd",
        "fastlinreg",
        fit=lambda p: _fastlinreg(p, solver="agd"),
        # precompute=True as the defaults choose for this shape (auto switches it off
        # for max_iter < 100, which would mix two algorithms in one curve).
        fit_iter=_quiet(
            lambda p, k: _fastlinreg(p, solver="agd", max_iter=k, tol=None, precompute=True)
        ),
        settings='solver="agd", defaults (precompute="auto" factors X)',
    ),
    Method(
        "fastlinreg-agd-passes",
        "fastlinreg agd, passes over X",
        "fastlinreg",
        fit=lambda p: _fastlinreg(p, solver="agd", precompute=False),
        fit_iter=_quiet(
            lambda p, k: _fastlinreg(p, solver="agd", max_iter=k, tol=None, precompute=False)
        ),
        settings='solver="agd", precompute=False: every epoch one fused kernel pass over X',
    ),
    Method(
        "fastlinreg-exact",
        "fastlinreg exact",
        "fastlinreg",
        fit=lambda p: _fastlinreg(p, solver="exact"),
        target=EXACT_TARGET,
        direct=True,
        settings='solver="exact"',
    ),
    Method(
        "sklearn-LinearRegression",
        "sklearn LinearRegression",
        "sklearn",
        fit=_sklearn_lstsq,
        direct=True,
        settings="defaults (scipy lstsq)",
    ),
    Method(
        "sklearn-Ridge-cholesky",
        "sklearn Ridge cholesky",
        "sklearn",
        fit=_sklearn_ridge,
        direct=True,
        settings='alpha=0, solver="cholesky"',
    ),
    Method(
        "sklearn-SGDRegressor",
        "sklearn SGDRegressor",
        "sklearn",
        epochs=_sgd_epochs,
        rounds=1,
        settings="StandardScaler in the clock; partial_fit epochs; "
        + ", ".join(f"{k}={v!r}" for k, v in SGD_PARAMS.items()),
    ),
    Method(
        "glum-auto",
        "glum GLR (auto: closed-form)",
        "glum",
        fit=lambda p: _glum(p, "auto"),
        direct=True,
        settings='family="normal", alpha=0, solver="auto" (closed-form for this problem)',
    ),
    Method(
        "glum-lbfgs",
        "glum GLR lbfgs",
        "glum",
        fit=lambda p: _glum(p, "lbfgs", gradient_tol=1e-8),
        fit_iter=_quiet(lambda p, k: _glum(p, "lbfgs", max_iter=k, gradient_tol=1e-300)),
        settings='family="normal", alpha=0, solver="lbfgs", gradient_tol=1e-8',
    ),
    Method(
        "dask-ml-gd",
        "dask-ml gradient_descent",
        "dask_ml",
        fit=lambda p: _dask_ml(p, max_iter=1000, tol=DASK_TOL),
        fit_iter=_quiet(lambda p, k: _dask_ml(p, max_iter=k, tol=0.0)),
        rounds=1,
        settings=f'solver="gradient_descent", tol={DASK_TOL:g}, max_iter=1000, '
        f"{N_CHUNKS} row chunks, threaded scheduler",
    ),
]


def warm_up(method: Method, problem: Problem) -> None:
    """One untimed fit on 2000 rows: imports, numba compilation, thread pools."""
    method.run_once(problem.head(2000))


def doubling_curve(method: Method, problem: Problem, budget_s: float = CURVE_CAP_S) -> list[Point]:
    """Fits with max_iter = 1, 2, 4, ..., each timed alone (median of ``method.rounds``)."""
    assert method.fit_iter is not None
    points: list[Point] = []
    spent, k, last_error = 0.0, 1, math.inf
    while k <= MAX_ITER_CAP and spent < budget_s:
        times = []
        for _ in range(method.rounds):
            t0 = time.perf_counter()
            fit = method.fit_iter(problem, k)
            times.append(time.perf_counter() - t0)
        spent += sum(times)
        points.append(Point(statistics.median(times), k, fit))
        error = problem.rel_error(fit)
        if error <= method.target * 1e-2 or error >= last_error:
            break
        last_error, k = error, 2 * k
    return points


# --- the script ----------------------------------------------------------------------------


def runtime_info() -> dict:
    """fastlinreg.bench.runtime_info (BLAS kernels and threads, numba), plus versions."""
    from fastlinreg.bench import runtime_info as package_runtime_info

    info = package_runtime_info()
    versions = {}
    for dist in ("fastlinreg", "numpy", "scipy", "scikit-learn", "glum", "dask", "dask-ml"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    info["versions"] = versions
    return info


@dataclass
class Result:
    method: Method
    times: list[float] = field(default_factory=list)
    fit: Fit | None = None
    curve: list[Point] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def time_s(self) -> float | None:
        return statistics.median(self.times) if self.times else None


def run_method(method: Method, problem: Problem, curve_budget_s: float) -> Result:
    result = Result(method)
    try:
        __import__(method.module)
    except ImportError as exc:
        result.error = f"not installed: {exc}"
        return result
    try:
        warm_up(method, problem)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if method.epochs is not None:
                result.curve = method.epochs(problem)
                result.times = [result.curve[-1].t]
                result.fit = result.curve[-1].fit
            else:
                assert method.fit is not None
                for _ in range(method.rounds):
                    t0 = time.perf_counter()
                    result.fit = method.fit(problem)
                    result.times.append(time.perf_counter() - t0)
        result.warnings = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
        if method.fit_iter is not None:
            result.curve = doubling_curve(method, problem, curve_budget_s)
        elif method.epochs is None:
            assert result.fit is not None and result.time_s is not None
            result.curve = [Point(result.time_s, 1, result.fit)]
    except Exception as exc:  # one failing method must not stop the others
        result.error = f"{type(exc).__name__}: {exc}"
    return result


def _record(result: Result, problem: Problem, base_s: float | None) -> dict:
    m = result.method
    out: dict = {
        "name": m.name,
        "label": m.label,
        "settings": m.settings,
        "target": m.target,
        "timing": "one run (SGD: epochs to target or cap)"
        if m.epochs is not None
        else f"median of {m.rounds}"
        if m.rounds > 1
        else "one run",
        "times_s": result.times,
        "time_s": result.time_s,
    }
    if result.error is not None:
        out["error"] = result.error
        return out
    assert result.fit is not None
    error = problem.rel_error(result.fit)
    out |= {
        "rel_error": error,
        "reached": error <= m.target,
        "ratio_to_fastlinreg_agd": result.time_s / base_s if base_s and result.time_s else None,
        "warnings": result.warnings,
        "curve": [
            {
                "t_s": p.t,
                "epoch" if m.epochs is not None else "max_iter": p.step,
                "rel_error": problem.rel_error(p.fit),
                "excess_mse": problem.excess_mse(p.fit),
            }
            for p in result.curve
        ],
    }
    if m.epochs is not None:
        out["epochs"] = len(result.curve)
    return out


def markdown_table(records: list[dict]) -> str:
    lines = [
        "| method | time s | timing | rel. error | target | reached | vs fastlinreg agd |",
        "|---|---:|---|---:|---:|---|---:|",
    ]
    for r in records:
        if "error" in r:
            lines.append(f"| {r['label']} | | | | {r['target']:g} | failed: {r['error']} | |")
            continue
        ratio = r["ratio_to_fastlinreg_agd"]
        lines.append(
            f"| {r['label']} | {r['time_s']:.3f} | {r['timing']} | {r['rel_error']:.1e} "
            f"| {r['target']:g} | {'yes' if r['reached'] else 'no'} "
            f"| {'' if ratio is None else format(ratio, '.2f') + 'x'} |"
        )
    return "\n".join(lines)


def plot(records: list[dict], problem: Problem, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, d = problem.shape
    floor = 1e-16 * problem.ref_mse
    fig, ax = plt.subplots(figsize=(8, 5.5), layout="constrained")
    colors = plt.get_cmap("tab10").colors
    for i, r in enumerate(rec for rec in records if rec.get("curve")):
        t = [p["t_s"] for p in r["curve"]]
        excess = [max(p["excess_mse"], floor) for p in r["curve"]]
        style = {"color": colors[i % 10], "label": r["label"]}
        if len(t) == 1:
            ax.plot(t, excess, "o", markersize=8, **style)
        elif r["name"] == "sklearn-SGDRegressor":
            ax.plot(t, excess, "-", **style)
        else:
            ax.plot(t, excess, ".-", **style)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("wall time, s (iterative: one fit per max_iter = 1, 2, 4, ...)")
    ax.set_ylabel(f"training MSE - optimal MSE (clipped at {floor:.0e})")
    ax.set_title(f"Loss vs wall time, make_regression({n:,} x {d})")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2_000_000)
    parser.add_argument("--d", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="JSON file of the results")
    parser.add_argument("--plot", help="PNG file of the loss-vs-wall-time plot")
    parser.add_argument("--sgd-cap", type=float, default=SGD_CAP_S, help="SGD seconds")
    parser.add_argument("--curve-cap", type=float, default=CURVE_CAP_S)
    parser.add_argument("--methods", help="comma-separated names (default: all)")
    args = parser.parse_args(argv)

    methods = METHODS
    if args.methods:
        wanted = args.methods.split(",")
        unknown = set(wanted) - {m.name for m in METHODS}
        if unknown:
            parser.error(f"unknown methods {sorted(unknown)}; known: {[m.name for m in METHODS]}")
        methods = [m for m in METHODS if m.name in wanted]

    load_start = os.getloadavg()
    t0 = time.perf_counter()
    problem = replace(make_problem(args.n, args.d, args.seed), cap_s=args.sgd_cap)
    print(f"problem and reference: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    results = []
    for method in methods:
        t0 = time.perf_counter()
        results.append(run_method(method, problem, args.curve_cap))
        status = results[-1].error or f"{results[-1].time_s:.3f} s"
        print(f"{method.name}: {status} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)

    base = next((r.time_s for r in results if r.method.name == "fastlinreg-agd"), None)
    records = [_record(r, problem, base) for r in results]
    info = runtime_info()
    # The machine may be shared: the 1-minute load averages say how quiet the run was.
    info["loadavg_1min_start_end"] = [load_start[0], os.getloadavg()[0]]
    n, d = problem.shape
    print(f"make_regression({n:,} x {d}, noise=10, random_state={args.seed}), float64")
    print(f"BLAS: {info['blas']}; {info['cpu_count']} CPUs")
    print(
        "1-minute load average at start and end: {:.2f}, {:.2f}".format(
            *info["loadavg_1min_start_end"]
        )
    )
    print()
    print(markdown_table(records))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(
                {
                    "problem": {
                        "n": n,
                        "d": d,
                        "noise": 10,
                        "seed": args.seed,
                        "ref_mse": problem.ref_mse,
                        "reference": "np.linalg.lstsq on [X, 1]",
                    },
                    "runtime": info,
                    "results": records,
                },
                f,
                indent=1,
            )
    if args.plot:
        plot(records, problem, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
