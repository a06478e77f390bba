"""Loader for the NIST StRD linear-regression datasets and their log relative error.

The eleven public-domain files are copied into ``tests/data/nist`` (from the team's
``shared/data/nist``; see its README), so a clean clone tests against them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "data" / "nist"

DATASETS = (
    "Norris",
    "Pontius",
    "NoInt1",
    "NoInt2",
    "Filip",
    "Longley",
    "Wampler1",
    "Wampler2",
    "Wampler3",
    "Wampler4",
    "Wampler5",
)

MAX_LRE = 15.0  # float64 carries about 15-16 significant digits; NIST caps LRE there too


@dataclass(frozen=True)
class NistProblem:
    """One NIST problem as a design matrix, with its certified solution.

    Attributes
    ----------
    X : ndarray of shape (n, p)
        Features, float64: the predictors, or the powers x, x**2, ..., x**p of one.
    y : ndarray of shape (n,)
        Response.
    fit_intercept : bool
        Whether the model has an intercept B0.
    certified_coef : ndarray of shape (p,)
        Certified B1..Bp.
    certified_intercept : float
        Certified B0, 0.0 when the model has none.
    certified_bse : ndarray of shape (p + fit_intercept,)
        Certified standard deviations of the estimates, B0's first when there is one.
    certified_residual_sd : float
        Certified residual standard deviation.
    certified_rsquared : float
        Certified R-squared.
    """

    X: np.ndarray
    y: np.ndarray
    fit_intercept: bool
    certified_coef: np.ndarray
    certified_intercept: float
    certified_bse: np.ndarray
    certified_residual_sd: float
    certified_rsquared: float


def _line_range(text: str, section: str) -> slice:
    """0-based slice of the file's lines for "<section> (lines A to B)", A and B 1-based."""
    m = re.search(section + r"\s*\(lines\s+(\d+)\s+to\s+(\d+)\)", text)
    if m is None:
        raise ValueError(f"no '{section} (lines A to B)' in the header")
    return slice(int(m[1]) - 1, int(m[2]))


def load(name: str) -> NistProblem:
    """Parse ``<DATA_DIR>/<name>.dat`` into a :class:`NistProblem`.

    The line ranges of the certified values and of the data come from the file's own
    header. A single predictor x with certified B0..Bp is the degree-p polynomial in x;
    several predictors enter linearly. B0 is the intercept, absent in NoInt1/NoInt2.
    """
    text = (DATA_DIR / f"{name}.dat").read_text()
    lines = text.splitlines()

    # "B3   -1127.97394098372   227.204274477751": name, estimate, standard deviation.
    certified, certified_sd = {}, {}
    for line in lines[_line_range(text, "Certified Values")]:
        m = re.match(r"\s*B(\d+)\s+(\S+)\s+(\S+)\s*$", line)
        if m:
            certified[int(m[1])] = float(m[2])
            certified_sd[int(m[1])] = float(m[3])
    p = max(certified)

    data = np.array(
        [line.split() for line in lines[_line_range(text, "Data")] if line.strip()],
        dtype=np.float64,
    )
    y, predictors = data[:, 0], data[:, 1:]
    if predictors.shape[1] == 1:
        X = predictors ** np.arange(1, p + 1)  # (n, 1) ** (p,) broadcasts to x, x**2, ...
    elif predictors.shape[1] == p:
        X = predictors
    else:
        raise ValueError(f"{name}: {predictors.shape[1]} predictors but B1..B{p} certified")

    return NistProblem(
        X=np.ascontiguousarray(X),
        y=y,
        fit_intercept=0 in certified,
        certified_coef=np.array([certified[j] for j in range(1, p + 1)]),
        certified_intercept=certified.get(0, 0.0),
        certified_bse=np.array([certified_sd[j] for j in sorted(certified_sd)]),
        certified_residual_sd=_certified_statistic(text, r"Residual\s+Standard Deviation"),
        certified_rsquared=_certified_statistic(text, r"R-Squared"),
    )


def _certified_statistic(text: str, label: str) -> float:
    """The number after ``label`` (a regular expression) in the certified statistics."""
    m = re.search(label + r"\s+(\S+)", text)
    if m is None:
        raise ValueError(f"no certified '{label}'")
    return float(m[1])


def lre(estimate, certified) -> np.ndarray:
    """Log relative error: the number of correct significant digits, per element.

    ``-log10(|estimate - certified| / |certified|)`` (the absolute error where the
    certified value is 0), clipped to [0, 15]; an exact match gives 15, NaN gives 0.

    >>> lre([1.0, 1.001, 3.0], [1.0, 1.0, 1.0]).round(6).tolist()
    [15.0, 3.0, 0.0]
    """
    estimate, certified = np.asarray(estimate, float), np.asarray(certified, float)
    scale = np.where(certified == 0, 1.0, np.abs(certified))
    with np.errstate(divide="ignore"):  # log10(0) = -inf: an exact match
        digits = -np.log10(np.abs(estimate - certified) / scale)
    return np.clip(np.nan_to_num(digits, nan=0.0, posinf=MAX_LRE), 0.0, MAX_LRE)


def worst_lre(model_coef, model_intercept, problem: NistProblem) -> float:
    """Minimum LRE over all coefficients, and the intercept when the model has one."""
    digits = lre(np.ravel(model_coef), problem.certified_coef)
    if problem.fit_intercept:
        digits = np.append(digits, lre(model_intercept, problem.certified_intercept))
    return float(digits.min())
