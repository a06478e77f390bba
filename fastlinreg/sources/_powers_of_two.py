"""Scaling by powers of two, so that squares of tiny or huge values neither underflow
nor overflow.

A column whose largest magnitude lies beyond 2**±SAFE_EXPONENT (about 1e-77 and 1e+77)
is multiplied by 2**-e before anything squares it, and the result scaled back by 2**e
(or 4**e for squares). Powers of two scale without rounding, so ordinary columns (e = 0)
give the plain sums bit for bit and scaled ones lose nothing.
"""

from __future__ import annotations

import numpy as np

# Columns whose largest magnitude lies within 2**±SAFE_EXPONENT are used as they are:
# their squares, and sums of 2**60 of them, stay normal float64 numbers.
SAFE_EXPONENT = 256


def max_abs(A: np.ndarray) -> np.ndarray:
    """(columns,) The largest magnitude of each column of a 2-D block (NaN stays NaN; 0
    for no rows). max and -min, not max(abs(A)): no temporary the size of A."""
    largest = np.maximum(np.max(A, axis=0, initial=0.0), -np.min(A, axis=0, initial=0.0))
    return largest.astype(np.float64)


def power_of_two_exponents(M: np.ndarray) -> np.ndarray:
    """(columns,) int: e per column of M such that M[:, j] * 2**-e has its largest
    magnitude in [1, 2), for the columns whose largest magnitude lies beyond
    2**±SAFE_EXPONENT; 0 for the others (and for zero or non-finite columns). 2**e is
    representable whatever M holds (up to 2**1023)."""
    largest = max_abs(M)
    _, exponents = np.frexp(np.where(np.isfinite(largest), largest, 0.0))
    exponents = exponents - 1
    inside = (largest == 0.0) | (np.abs(exponents) <= SAFE_EXPONENT)
    return np.where(inside, 0, exponents).astype(np.int64)


def power_of_two_scale(A: np.ndarray) -> float:
    """One power of two for all of A (2-D): 1.0, or the one that brings A's largest
    magnitude into [1, 2) where that is beyond 2**±SAFE_EXPONENT."""
    largest = np.max(max_abs(A), initial=0.0)
    return float(np.ldexp(1.0, power_of_two_exponents(np.array([[largest]]))[0]))


def out_of_range(M: np.ndarray) -> bool:
    """Whether a column of M is beyond the safe range (or M is not finite)."""
    return bool(np.any(power_of_two_exponents(M)) or not np.all(np.isfinite(M)))


def column_norms(M: np.ndarray) -> np.ndarray:
    """(columns,) sqrt(sum_i M[i, j]²) without underflow or overflow in the squares: each
    column scaled by its power of two (:func:`power_of_two_exponents`) before it is
    squared, bit for bit the plain norms for ordinary columns; inf for a norm beyond
    float64."""
    exponents = power_of_two_exponents(M)
    squares = np.sum(np.ldexp(M, -exponents) ** 2, axis=0)
    with np.errstate(over="ignore"):  # a norm beyond float64 is inf: the caller's answer
        return np.ldexp(np.sqrt(squares), exponents)
