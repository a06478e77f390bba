"""A corpus of real data sets, and the exact least-squares answer on each.

The data were made by no one on this project: every data set bundled with statsmodels
(``statsmodels.datasets.<name>.load_pandas().data``) that loads offline, and
scikit-learn's bundled ``load_diabetes`` and ``load_linnerud``. They are what the issue
means by ordinary data: years, incomes, 0/1 flags, counts, percentages, columns whose
means are far from zero and whose scales are far apart.

One rule turns each table into a regression, whatever the table was published for:
keep the numeric columns (bool as 0/1), drop the rows with a NaN, drop the constant
columns; the last column left is the target y, the others are X. A set left with no
feature column, or with fewer rows than columns + 2, is skipped (``load_corpus`` says
why).

``reference_solution`` is exact: the normal equations of [X, 1] solved in rational
arithmetic, then rounded once to float64 (see there). ``digits`` counts the correct
significant digits of a fit against it, and ``scaled_condition`` is the condition number
that bounds how many a float64 solver can get.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

# Modules of statsmodels.datasets that are not data sets.
_NOT_DATA_SETS = {"tests", "utils", "template_data"}
SKLEARN_LOADERS = ("load_diabetes", "load_linnerud")
EPS = float(np.finfo(np.float64).eps)
MAX_DIGITS = 17.0  # digits() of an exact answer: log10 of the 1e-17 error floor


@dataclass(frozen=True)
class DataSet:
    """One regression of the corpus: X of shape (n, d) and y of shape (n,), float64."""

    name: str
    X: np.ndarray
    y: np.ndarray
    columns: tuple[str, ...]  # X's column names, then y's

    @property
    def shape(self) -> tuple[int, int]:
        return self.X.shape


def to_regression(name: str, frame) -> DataSet:
    """Apply the corpus rule (module docstring) to a pandas DataFrame.

    Raises ValueError, naming the reason, when the rule leaves no regression.
    """
    numeric = frame.select_dtypes(include=["number", "bool"])
    # Nullable integer and boolean columns become float64 with NaN for their missing
    # values, so that one dropna sees them.
    values = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
    columns = [str(c) for c in numeric.columns]
    values = values[~np.isnan(values).any(axis=1)]
    if len(values) == 0:
        raise ValueError(f"no row without a NaN among its {values.shape[1]} numeric columns")
    varying = [j for j in range(values.shape[1]) if np.ptp(values[:, j]) > 0]
    values = np.ascontiguousarray(values[:, varying])
    columns = [columns[j] for j in varying]
    n, n_columns = values.shape
    if n_columns < 2:
        raise ValueError(f"{n_columns} non-constant numeric column(s) with values: no feature")
    if n < n_columns + 2:
        raise ValueError(f"{n} complete rows for {n_columns} columns (needs {n_columns + 2})")
    return DataSet(name, values[:, :-1].copy(), values[:, -1].copy(), tuple(columns))


def _statsmodels_frames():
    """(name, DataFrame or the exception its loader raised) per statsmodels data set."""
    import statsmodels.datasets as datasets

    for info in sorted(pkgutil.iter_modules(datasets.__path__), key=lambda m: m.name):
        if info.name in _NOT_DATA_SETS or not info.ispkg:
            continue
        try:
            module = importlib.import_module(f"statsmodels.datasets.{info.name}")
            yield info.name, module.load_pandas().data
        except Exception as error:  # a loader that needs the network, or is broken
            yield info.name, error


def _sklearn_frames():
    import sklearn.datasets

    for loader in SKLEARN_LOADERS:
        # as_frame: the features and then the target(s), so the last column is a target.
        yield loader.removeprefix("load_"), getattr(sklearn.datasets, loader)(as_frame=True).frame


@functools.lru_cache(maxsize=1)
def load_corpus() -> tuple[tuple[DataSet, ...], tuple[tuple[str, str], ...]]:
    """(data sets, skipped) — skipped as (name, reason) pairs. Computed once per process."""
    corpus, skipped = [], []
    for name, frame in [*_statsmodels_frames(), *_sklearn_frames()]:
        if isinstance(frame, Exception):
            skipped.append((name, f"does not load: {type(frame).__name__}: {frame}"))
            continue
        try:
            corpus.append(to_regression(name, frame))
        except ValueError as error:
            skipped.append((name, str(error)))
    return tuple(corpus), tuple(skipped)


def corpus() -> tuple[DataSet, ...]:
    return load_corpus()[0]


def _exact_column(values: np.ndarray) -> tuple[list[int], int]:
    """Integers I and a power of two q with values == I / q exactly (float64 is dyadic)."""
    ratios = [float(v).as_integer_ratio() for v in values]
    q = max(den for _, den in ratios)
    return [num * (q // den) for num, den in ratios], q


def _solve_exact(G: list[list[int]], c: list[int]) -> list[Fraction]:
    """The solution of G x = c in rationals, by Gaussian elimination (G square, integer).

    Raises np.linalg.LinAlgError when G is singular: then X is rank deficient exactly.
    """
    m = len(G)
    A = [[Fraction(v) for v in row] + [Fraction(rhs)] for row, rhs in zip(G, c, strict=True)]
    for k in range(m):
        pivot = next((i for i in range(k, m) if A[i][k] != 0), None)
        if pivot is None:
            raise np.linalg.LinAlgError("X is rank deficient: its Gram matrix is singular")
        A[k], A[pivot] = A[pivot], A[k]
        for i in range(k + 1, m):
            if A[i][k] != 0:
                factor = A[i][k] / A[k][k]
                A[i] = [a - factor * b for a, b in zip(A[i], A[k], strict=True)]
    x = [Fraction(0)] * m
    for k in reversed(range(m)):
        x[k] = (A[k][m] - sum(A[k][j] * x[j] for j in range(k + 1, m))) / A[k][k]
    return x


def reference_solution(X, y) -> tuple[np.ndarray, float]:
    """The least-squares (coef, intercept) of y on [X, 1], exact then rounded to float64.

    Every float64 is a rational with a power-of-two denominator, so the normal equations
    of [X, 1] can be formed and solved with no rounding at all: each column becomes
    Python integers over one power of two, their Gram matrix is summed in integers, and
    the system is solved in ``fractions.Fraction``. The one rounding is the final
    conversion to float64 (correctly rounded): the answer is the float64 nearest to the
    true least-squares solution of the data as given. No floating-point method can do
    better, and none is needed to trust it (an lstsq with refinement would itself have
    to be checked against the conditioning). Costs about a second on 20,000 x 10.

    Raises np.linalg.LinAlgError when [X, 1] is rank deficient.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, d = X.shape
    columns, scales = [], []
    for j in range(d):
        ints, q = _exact_column(X[:, j])
        columns.append(ints)
        scales.append(q)
    columns.append([1] * n)  # the intercept's column
    scales.append(1)
    y_ints, y_scale = _exact_column(y)
    # object arrays: numpy's matmul then sums Python integers, exactly.
    A = np.array(columns, dtype=object)
    gram = (A @ A.T).tolist()
    rhs = (A @ np.array(y_ints, dtype=object)).tolist()
    # Row j of the normal equations times q_j: sum_k G_jk (theta_k / q_k) = c_j / q_y.
    phi = _solve_exact(gram, rhs)
    theta = [Fraction(q) * p / y_scale for q, p in zip(scales, phi, strict=True)]
    return np.array([float(t) for t in theta[:-1]]), float(theta[-1])


def _standardized(X):
    X = np.asarray(X, dtype=np.float64)
    centred = X - X.mean(axis=0)
    return centred / centred.std(axis=0)


def scaled_condition(X) -> float:
    """kappa of X with its columns centred and scaled to unit standard deviation.

    The ratio of the largest to the smallest singular value; inf when X is rank deficient
    by NumPy's ``matrix_rank`` rule (a singular value below max(n, d) * eps * largest).
    Centring is the intercept's doing (it removes the columns' means, which no solver
    with an intercept has to resolve) and scaling is what ``scale_features`` does, so
    this is the conditioning the data impose, not their units. The solvers' warnings
    name the condition number of the standardized XᵀX: this one squared.
    """
    s = np.linalg.svd(_standardized(X), compute_uv=False)
    if s[-1] <= max(np.shape(X)) * EPS * s[0]:
        return float("inf")
    return float(s[0] / s[-1])


def residual_angle_tan(X, y, coef) -> float:
    """tan(theta), theta the angle between centred y and its fit: |r| / |y_c - r|.

    It enters the float64 sensitivity of least squares as tan(theta) * kappa**2 (see
    ``attainable_digits``): a poor fit (R² near 0) amplifies rounding in X.
    """
    X = np.asarray(X, dtype=np.float64)
    fit = (X - X.mean(axis=0)) @ np.asarray(coef, dtype=np.float64)
    r = (y - y.mean()) - fit
    return float(np.linalg.norm(r) / max(np.linalg.norm(fit), np.finfo(np.float64).tiny))


def attainable_digits(X, y, coef) -> float:
    """The digits a backward-stable float64 solver is sure of, from the conditioning.

    A solver that is exact for X perturbed by eps relative to each standardized column
    (Householder QR is) has a relative error up to about eps * (2 kappa + tan(theta)
    kappa**2) (Golub & Van Loan, Theorem 5.3.1; theta as in ``residual_angle_tan``).
    """
    kappa = scaled_condition(X)
    if not np.isfinite(kappa):
        return 0.0
    bound = EPS * (2 * kappa + residual_angle_tan(X, y, coef) * kappa**2)
    return float(-np.log10(bound))


def digits(coef, intercept, ref_coef, ref_intercept, X) -> float:
    """Correct significant digits of (coef, intercept), normwise in standardized coordinates.

    err = |(delta_w * std, delta_c)| / |ref_w * std|, digits = -log10(max(err, 1e-17)),
    with std the columns' standard deviations and c = b + w . mean the centred intercept
    (the fit's value at the mean row). The standardized coefficients w * std are the
    change in prediction per standard deviation of each column, so units and offsets
    (years, incomes) do not decide which coefficient counts. The centred intercept is one
    more component of the error, in the same units (those of y), but not of the norm
    it is relative to: |ȳ| in that norm would dilute the coefficients' errors whenever
    y's mean is far from zero (a year), and a fit wrong only in its intercept must not
    count as exact. Its error is measured at the mean row because b itself absorbs
    every change of w times the means (b = ȳ - w . mean), which would count the same
    error twice. Computed in np.longdouble so that it resolves the error of a float64
    answer rounded from the exact one.
    """
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0, dtype=np.longdouble)
    std = X.std(axis=0).astype(np.longdouble)
    coef = np.ravel(np.asarray(coef, dtype=np.longdouble))
    ref_coef = np.ravel(np.asarray(ref_coef, dtype=np.longdouble))
    delta_w = coef - ref_coef
    delta_c = np.longdouble(intercept) - np.longdouble(ref_intercept) + np.dot(delta_w, mean)
    error = np.sqrt(np.sum((delta_w * std) ** 2) + delta_c**2)
    size = np.sqrt(np.sum((ref_coef * std) ** 2))
    if size == 0:
        return 0.0 if error > 0 else MAX_DIGITS
    return float(-np.log10(max(float(error / size), 10.0**-MAX_DIGITS)))
