"""Correct digits on the NIST StRD linear-regression datasets, for the README.

    python benchmarks/nist_accuracy.py

Prints, per dataset, the worst log relative error (correct significant digits, at most
15) over all certified coefficients, for fastlinreg's "exact" and "agd" (default
settings, with the epochs they took) and for scikit-learn's LinearRegression and
NumPy's lstsq on the same features. The tests (tests/test_nist.py) assert the floors.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression as SklearnLinearRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from nist import DATASETS, load, worst_lre  # noqa: E402

from fastlinreg import LinearRegression  # noqa: E402


def lstsq(problem):
    X = problem.X
    if problem.fit_intercept:
        coef = np.linalg.lstsq(np.column_stack([X, np.ones(len(X))]), problem.y, rcond=None)[0]
        return coef[:-1], coef[-1]
    return np.linalg.lstsq(X, problem.y, rcond=None)[0], 0.0


def main():
    print("| dataset | exact | agd | agd epochs | scikit-learn | numpy lstsq |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in DATASETS:
        problem = load(name)
        X, y, fit_intercept = problem.X, problem.y, problem.fit_intercept
        exact = LinearRegression(solver="exact", fit_intercept=fit_intercept).fit(X, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            agd = LinearRegression(solver="agd", fit_intercept=fit_intercept).fit(X, y)
        sk = SklearnLinearRegression(fit_intercept=fit_intercept).fit(X, y)
        cells = [worst_lre(m.coef_, m.intercept_, problem) for m in (exact, agd)]
        cells += [worst_lre(sk.coef_, sk.intercept_, problem), worst_lre(*lstsq(problem), problem)]
        lre = [f"{c:.1f}" for c in cells]
        print(f"| {name} | {lre[0]} | {lre[1]} | {agd.n_iter_} | {lre[2]} | {lre[3]} |")


if __name__ == "__main__":
    main()
