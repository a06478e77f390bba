"""Regenerate the README's pictures (docs/*.png) with fastlinreg's own plot functions.

    python docs/make_figures.py            # about a minute on 2 cores

docs/solution_time.png comes from benchmarks/solution_time.py instead (see README).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from sklearn.datasets import make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from fastlinreg import LinearRegression, bench, plotting  # noqa: E402

DOCS = Path(__file__).resolve().parent


def save(ax, name: str) -> None:
    ax.figure.savefig(DOCS / name, dpi=90, bbox_inches="tight")
    print(f"wrote docs/{name}")


def tutorial() -> None:
    """The tutorial run of `fastlinreg demo`: its "Epochs vs Loss" plot."""
    X, y = make_regression(n_samples=100, n_features=2, noise=10, random_state=0)
    model = LinearRegression(solver="gd", learning_rate=0.01, max_iter=200, tol=None)
    model.fit(X, y, coef_init=np.ones(2), intercept_init=1.0)
    save(plotting.plot_loss(model), "loss.png")


def solvers() -> None:
    """gd, agd and exact on the same badly scaled problem: loss per epoch and per second."""
    X, y = make_regression(n_samples=200_000, n_features=20, noise=10, random_state=0)
    X[:, :5] *= 30  # unequal column scales: condition number ~1e3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        models = {
            "gd, X as it is": LinearRegression(solver="gd", scale_features=False, max_iter=300).fit(
                X, y
            ),
            "gd (scaled features)": LinearRegression(solver="gd").fit(X, y),
            "agd": LinearRegression(solver="agd").fit(X, y),
            "agd, passes over X": LinearRegression(solver="agd", precompute=False).fit(X, y),
        }
    save(plotting.plot_loss(models, log=True), "solvers_loss.png")
    save(plotting.plot_loss_vs_time(models), "solvers_time.png")
    save(plotting.plot_predictions(models["agd"], X[:2000], y[:2000]), "predictions.png")


def benchmark() -> None:
    """`fastlinreg bench --quick` as a chart."""
    result = bench.run_benchmark(quick=True)
    print(bench.format_table(result))
    save(plotting.plot_benchmark(result, log=True), "bench.png")


if __name__ == "__main__":
    tutorial()
    solvers()
    benchmark()
