"""Random problems shared by the test files: ``from problems import linear_problem``.

Imported as tests/rss.py and tests/nist.py are: pytest puts tests/ on ``sys.path``
(``pythonpath`` in pyproject.toml), in every import mode, so unlike names in conftest.py
these also import under ``--import-mode=importlib``.

Every draw comes from one generator in a fixed order, so a test's data (and the expected
values it was written against) stays the same bit for bit as long as its arguments do.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Problem(NamedTuple):
    X: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None


def linear_problem(
    n,
    d,
    k=None,
    *,
    scale=None,
    shift=0.0,
    coef=None,
    intercept=0.0,
    noise=1.0,
    max_weight=None,
    dtype=np.float64,
    seed=0,
):
    """X (n, d) and y = X @ coef + intercept + noise, with sample weights or None.

    Parameters
    ----------
    n, d : int
        Rows and columns of X.
    k : int or None
        Targets: None gives y of shape (n,), an int Y of shape (n, k).
    scale : None, "mixed" or array of shape (d,)
        Column scales: none, drawn from U(0.5, 3) ("mixed"), or the given ones.
    shift : float or array of shape (d,)
        Added to X after scaling (columns whose mean is far from zero).
    coef : array of shape (d,) or (d, k), optional
        The true coefficients; drawn from N(0, 1) when not given.
    intercept : float
        Added to every target.
    noise : float
        Standard deviation of the N(0, noise²) noise added to y; 0 draws none.
    max_weight : float, optional
        Sample weights drawn from U(0, max_weight); None gives no weights.
    dtype : dtype
        Of X and y. X is cast before y is computed from it; y is computed in float64.
    seed : int or numpy.random.Generator
        A Generator is drawn from (and left advanced), for callers that draw more.

    Returns
    -------
    Problem
        ``(X, y, sample_weight)``, a named tuple.

    Notes
    -----
    Draws, in this order: X ~ N(0, 1); the column scales if ``scale="mixed"``; coef if not
    given; the noise if ``noise != 0``; the weights if ``max_weight`` is given.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if isinstance(scale, str):
        if scale != "mixed":
            raise ValueError(f"scale must be None, 'mixed' or an array, got {scale!r}")
        X = X * rng.uniform(0.5, 3.0, d)
    elif scale is not None:
        X = X * scale
    if np.any(shift):
        X = X + shift
    X = X.astype(dtype)
    targets = 1 if k is None else k
    if coef is None:
        coef = rng.standard_normal((d, targets))
    Y = X @ np.asarray(coef, dtype=np.float64).reshape(d, targets)
    if intercept:
        Y = Y + intercept
    if noise:
        Y = Y + noise * rng.standard_normal((n, targets))
    weights = rng.uniform(0.0, max_weight, n) if max_weight is not None else None
    return Problem(X, (Y[:, 0] if k is None else Y).astype(dtype), weights)


def kernel_problem(n, d, dtype=np.float64, order="C", seed=0):
    """Arguments of the kernels' loss_grad and predict: X (n, d) in the given dtype and
    memory order, with columns of mixed scale; y (n,) unrelated to X; w (d,); b."""
    rng = np.random.default_rng(seed)
    X = np.asarray(rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d), dtype=dtype, order=order)
    y = (rng.standard_normal(n) * 4 + 2).astype(dtype)
    w = rng.standard_normal(d)
    return X, y, w, 0.7
