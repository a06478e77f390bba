"""The triangular factor (:class:`Factor`) and its building blocks ("tall-skinny QR").

A block of rows gives (R, mean, weight): R (p, p) the upper triangular factor of its
centred, weighted [X Y] (p = d + k columns), mean (p,) its weighted column means, weight
its total row weight (:func:`block_factor`). Blocks merge into the factor of their union
(:func:`merged` with :func:`stack_factors`), :func:`blocks_per_merge` at a time and
always in block order. Both the in-memory pass (:mod:`fastlinreg.sources._factor`) and
the Dask tasks (:mod:`fastlinreg.sources.dask`) build the factor from these, under
:func:`single_threaded_blas`: a block's result depends only on its rows, never on the
thread or the number of threads computing it, so a pass gives the same bits on every
run.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from threadpoolctl import ThreadpoolController

from .. import _config, _numpy_twins
from ._powers_of_two import max_abs, out_of_range, power_of_two_exponents


@dataclass(eq=False)  # arrays: compared by identity, not element by element
class Factor:
    """The factor of all rows of a source: R (p, p) upper triangular of the centred,
    weighted [X Y], p = d + k; their weighted means (p,); the total weight S; d."""

    R: np.ndarray
    mean: np.ndarray
    total_weight: float
    n_features: int


# Passed in place of sample_weight when there is none (the kernel does not read it).
_NO_WEIGHTS = np.ones(1)

# A block whose column-scaled condition number is at most this is factored through its
# Gram matrix (Cholesky: the factor's error is then ~ cond² eps <= 1e-12 relative),
# others by Householder QR (error ~ cond eps, whatever the conditioning). The Gram route
# is the cheaper (BLAS syrk, not LAPACK's level-2 QR); ill-conditioned blocks fall back
# to QR, which keeps the NIST accuracy.
CHOLESKY_MAX_CONDITION = 100.0

# Blocks merged at once, by one QR of their stacked factors (fewer, larger QRs than
# merging two at a time). Fixed, so that the result does not depend on the thread count.
MERGE_BLOCKS = 16
# ... but fewer for wide blocks: the stacked factors hold MERGE_BLOCKS p² numbers, 2 GiB
# at p = 4096 (solver="auto" factors up to that width), twice over with their stack.
# This caps them at 256 MiB; widths up to 1448 columns merge 16 as before.
MERGE_BYTES = 256 << 20


def blocks_per_merge(p: int) -> int:
    """How many blocks of p columns one merge takes (same for every thread count)."""
    return max(2, min(MERGE_BLOCKS, MERGE_BYTES // (8 * p * p)))


def block_factor(X, Y, weights) -> tuple[np.ndarray, np.ndarray, float]:
    """(R, mean, weight) of one block: R through the Gram matrix where that is accurate,
    else by QR of the centred copy; columns beyond the safe range (see
    :func:`fastlinreg.sources._powers_of_two.power_of_two_exponents`) are scaled by powers
    of two first, and R and the mean scaled back: their squares would underflow to zero
    (1e-170) or overflow (1e+160)."""
    gram_route = X.dtype == np.float64
    R, mean, weight = _unscaled_block_factor(X, Y, weights, gram_route)
    if not out_of_range(np.vstack([R, mean])):
        return R, mean, weight
    exponents = power_of_two_exponents(np.concatenate([max_abs(X), max_abs(Y)])[None, :])
    if not np.any(exponents):
        return R, mean, weight
    d = X.shape[1]
    # A float64 copy of the block (the rare path): exact, since powers of two scale
    # without rounding; float32 keeps its own route (its centred copy), so that scaled
    # float32 data is factored as the unscaled is.
    X = np.ldexp(np.asarray(X, np.float64), -exponents[:d])
    Y = np.ldexp(np.asarray(Y, np.float64), -exponents[d:])
    R, mean, weight = _unscaled_block_factor(X, Y, weights, gram_route)
    return np.ldexp(R, exponents), np.ldexp(mean, exponents), weight


def _unscaled_block_factor(X, Y, weights, gram_route) -> tuple[np.ndarray, np.ndarray, float]:
    """:func:`block_factor` of the block as it is (the Gram route if ``gram_route``)."""
    ill_conditioned = False
    if weights is None and gram_route:
        gram, mean, weight = _gram_without_copy(X, Y)
        R = None if gram is None else _cholesky_factor(gram)
        if R is not None:
            return R, mean, weight
        # Refused for its conditioning, which centring a copy does not change: straight
        # to QR (one O(p³) check fewer: 10 s at p = 3000 here).
        ill_conditioned = gram is not None
    A, mean, weight = centred_block(X, Y, weights)
    R = None if ill_conditioned else _cholesky_factor(np.dot(A.T, A))
    return (r_factor(A) if R is None else R), mean, weight


def centred_block(X, Y, weights) -> tuple[np.ndarray, np.ndarray, float]:
    """(sqrt(s) * ([X Y] - mean) as a new float64 array, mean, weight) of one block."""
    out = np.empty((X.shape[0], X.shape[1] + Y.shape[1]))
    weighted = weights is not None
    if _numpy_twins.small_enough(X):  # the same bits, without loading numba
        centre = _numpy_twins.centred_block
    else:
        from .. import _jit

        centre = _jit.centred_block
    mean, weight = centre(X, Y, weights if weighted else _NO_WEIGHTS, weighted, out)
    return out, mean, weight


def _gram_without_copy(X, Y) -> tuple[np.ndarray | None, np.ndarray, float]:
    """The centred Gram matrix of [X Y] from the block as it lies in memory (X'X by BLAS
    syrk, the rest by a kernel), centred afterwards (G - m mean mean'), which is
    accurate when no column's mean exceeds its spread; None otherwise. It spares the
    pass the centred copy of every block."""
    # NumPy hands unaligned data (a buffer from the network, say) not to BLAS but to a
    # slow loop of its own, which also sums in another order: an aligned copy of the
    # block keeps the bits, and the speed, of aligned X.
    X = np.require(X, requirements="A")
    m, d = X.shape
    p = d + Y.shape[1]
    gram = np.empty((p, p))
    sums = np.empty(p)
    if _numpy_twins.small_enough(X):  # the same bits, without loading numba
        moments = _numpy_twins.block_moments
    else:
        from .. import _jit

        narrow = d <= _config.NARROW_MOMENTS_MAX_FEATURES
        moments = _jit.narrow_block_moments if narrow else _jit.block_moments
    moments(X, Y, sums, gram[:d, d:], gram[d:, d:])
    # np.dot, not @: NumPy's matmul holds the GIL through BLAS (numpy/numpy#11821), so
    # the pass's threads queued behind each other's X'X (2 threads: as slow as one;
    # np.dot: 1.7x faster). The same BLAS call (syrk), the same bits.
    gram[:d, :d] = np.dot(X.T, X)
    gram[d:, :d] = gram[:d, d:].T
    mean = sums / m
    mean_squares = m * mean**2
    if np.any(mean_squares > np.diag(gram) - mean_squares):  # mean² > variance
        return None, mean, float(m)
    gram -= m * np.outer(mean, mean)
    return gram, mean, float(m)


def _cholesky_factor(gram: np.ndarray) -> np.ndarray | None:
    """The upper Cholesky factor of ``gram`` if its scaled condition number (that of the
    block's columns) is at most CHOLESKY_MAX_CONDITION, else None."""
    norms = np.sqrt(np.diag(gram))
    # Not finite (an overflow of huge values): the caller scales the block, or finds NaN.
    if not (np.all(norms > 0.0) and np.all(np.isfinite(gram))):
        return None
    try:
        R_scaled = np.linalg.cholesky(gram / np.outer(norms, norms)).T
    except np.linalg.LinAlgError:  # not positive definite: rank deficient
        return None
    # A triangular matrix's diagonal lies between its extreme singular values: a ratio
    # of diagonal entries beyond the limit settles it without the O(p³) SVD.
    diagonal = np.abs(np.diag(R_scaled))
    if diagonal.max() > CHOLESKY_MAX_CONDITION * diagonal.min():
        return None
    s = np.linalg.svd(R_scaled, compute_uv=False)
    return R_scaled * norms if s[0] <= CHOLESKY_MAX_CONDITION * s[-1] else None


# An eigenvalue of a unit-diagonal Gram matrix of p columns below this many times
# p eps (1 + the centring's cancellation) is rounding: the direction of an exact
# collinearity (one-hot columns that sum to the intercept's), whose true value is 0.
GRAM_NULL_ROUNDINGS = 16.0


def gram_factor(gram: np.ndarray, centring_ratio: float) -> np.ndarray | None:
    """An upper triangular R with Rᵀ R = ``gram``, a centred Gram matrix made without
    a centred copy of the rows (a sparse X's), when that is as accurate as the
    Cholesky route of :func:`block_factor`; None otherwise.

    ``centring_ratio`` is the largest mean² / variance of a column: centring XᵀX by
    subtracting S mean meanᵀ loses that factor (plus one) of relative accuracy to
    cancellation, so the conditioning allowed shrinks by it, keeping the dense route's
    bound (condition² (1 + ratio) <= 2 CHOLESKY_MAX_CONDITION²: the dense route takes
    ratio <= 1 and condition <= 100). Unlike that route this one also takes exact
    collinearity: the scaled matrix's eigenvalues must each be either rounding (at most
    GRAM_NULL_ROUNDINGS p eps (1 + ratio) of the largest: a direction without data,
    set to 0) or resolved (at least the largest over the allowed condition²); one in
    between (an ill-conditioned, not singular, X) returns None, and the caller factors
    the rows by QR instead. Columns with a zero diagonal (no data) get zero columns.
    The caller passes a finite ``gram`` (of data within 2**±256: see
    :mod:`fastlinreg.sources._powers_of_two`).
    """
    p = gram.shape[0]
    norms = np.sqrt(np.maximum(np.diag(gram), 0.0))
    data = np.flatnonzero(norms > 0.0)
    R = np.zeros((p, p))
    if data.size == 0:
        return R
    scaled = gram[np.ix_(data, data)] / np.outer(norms[data], norms[data])
    eigenvalues, vectors = np.linalg.eigh(scaled)
    largest = eigenvalues[-1]
    inaccuracy = 1.0 + centring_ratio
    rounding = GRAM_NULL_ROUNDINGS * data.size * np.finfo(np.float64).eps * inaccuracy
    null = eigenvalues <= rounding * largest
    resolved = eigenvalues * (2.0 * CHOLESKY_MAX_CONDITION**2 / inaccuracy) >= largest
    if not np.all(null | resolved):
        return None
    # (sqrt(Λ) Vᵀ)ᵀ (sqrt(Λ) Vᵀ) = V Λ Vᵀ: its triangular factor is the Gram's.
    roots = np.sqrt(eigenvalues[~null])[:, None] * vectors[:, ~null].T
    R[np.ix_(data, data)] = r_factor(roots) * norms[data]
    return R


def r_factor(A: np.ndarray) -> np.ndarray:
    """The (p, p) triangular factor of A (m, p), zero-padded when m < p."""
    p = A.shape[1]
    R: np.ndarray = np.asarray(np.linalg.qr(A, mode="r"))
    if R.shape[0] < p:
        R = np.vstack([R, np.zeros((p - R.shape[0], p))])
    return R


def merged(parts, merge):
    """One (statistic, mean, weight) for several, each centred at its own mean; None when
    no part has weight.

    Groups g with statistics centred at their own means m_g and weights S_g merge into
    the statistic of their union, centred at its mean M, by adding the rows
    sqrt(S_g) (m_g - M): the parallel-variance update of Chan, Golub and LeVeque, in
    square-root form. ``merge(statistics, shift_rows)`` does the adding
    (:func:`stack_factors` for triangular factors).
    """
    parts = [part for part in parts if part[2] > 0.0]
    if not parts:
        return None
    if len(parts) == 1:  # nothing to merge (a QR of it would cost O(p³): 3 s at p = 3000)
        return parts[0]
    weights = np.array([part[2] for part in parts])
    means = np.array([part[1] for part in parts])
    total = float(np.sum(weights))
    mean = weights @ means / total
    shifts = np.sqrt(weights)[:, None] * (means - mean)
    return merge([part[0] for part in parts], shifts), mean, total


def stack_factors(factors, shifts) -> np.ndarray:
    """The triangular factor of the rows of ``factors`` and ``shifts`` stacked: one QR."""
    stacked = np.vstack([*factors, shifts])
    exponents = power_of_two_exponents(stacked)
    if not np.any(exponents):
        return r_factor(stacked)
    # Columns of raw values beyond the safe range: QR of the columns scaled by powers
    # of two, whose R is scaled back (exact: R's columns scale with A's).
    return np.ldexp(r_factor(np.ldexp(stacked, -exponents)), exponents)


_blas_lock = threading.Lock()
_blas_users = 0
_blas_limiter = None
# Found once (threadpoolctl searches the loaded libraries, a cost a small fit notices).
# The BLAS is NumPy's, loaded before fastlinreg is.
_blas_controller: ThreadpoolController | None = None


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS limited to one thread while any pass runs: its thread count would change the
    last bits of X'X, and its threads fight the pass's own on small blocks.
    threadpoolctl's limit is process-wide, so concurrent passes share one limit,
    restored by the last to leave (nested threadpool_limits contexts would restore out
    of order)."""
    global _blas_users, _blas_limiter, _blas_controller
    with _blas_lock:
        if _blas_users == 0:
            if _blas_controller is None:
                _blas_controller = ThreadpoolController()
            _blas_limiter = _blas_controller.limit(limits=1)
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0 and _blas_limiter is not None:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None
