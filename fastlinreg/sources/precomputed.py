"""One pass over the rows that makes every later epoch cost O(d²) instead of O(nd).

The pass computes the triangular factor R of the centred, weighted data [X Y]
(Q R = sqrt(s) * ([X Y] - mean), a "tall-skinny QR" block by block) together with the
weighted column means and the total weight S. Everything a solver needs follows exactly:

    sum_i s_i (y_i - x_i w - b)² = |R_xx w - R_xy|² + |R_yy|² + S (ȳ - b - x̄ w)²

R is the square root of the centred Gram matrix XᵀX: it carries the same information
without squaring the condition number, so the loss above is a sum of squares (no
cancellation, exact to rounding) and the exact solver keeps the accuracy of a QR
least-squares solve (the normal equations lose half the digits: 0 on NIST Filip).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice

import numba
import numpy as np
from threadpoolctl import ThreadpoolController

from .. import _jit
from .memory import squares_limit

# Passed in place of sample_weight when there is none (the kernel does not read it).
_NO_WEIGHTS = np.ones(1)


@dataclass(eq=False)  # arrays: compared by identity, not element by element
class Factor:
    """R (p, p) upper triangular of the centred, weighted [X Y], p = d + k; their
    weighted means (p,); the total weight S; d."""

    R: np.ndarray
    mean: np.ndarray
    total_weight: float
    n_features: int


# A block whose column-scaled condition number is at most this is factored through its
# Gram matrix (Cholesky: the factor's error is then ~ cond² eps <= 1e-12 relative),
# others by Householder QR (error ~ cond eps, whatever the conditioning). The Gram
# route is several times cheaper (BLAS syrk instead of LAPACK's level-2 QR on a
# 21-column block), and keeps the NIST accuracy because ill-conditioned blocks fall
# back to QR.
CHOLESKY_MAX_CONDITION = 100.0


def _block_factor(X, Y, weights) -> tuple[np.ndarray, np.ndarray, float]:
    """(R, mean, weight) of one block: R through the Gram matrix where that is accurate,
    else by QR of the centred copy; columns beyond the safe range (see
    :func:`power_of_two_exponents`) are scaled by powers of two first, and R and the mean
    scaled back: their squares would underflow to zero (1e-170) or overflow (1e+160)."""
    gram_route = X.dtype == np.float64
    R, mean, weight = _unscaled_block_factor(X, Y, weights, gram_route)
    if not _out_of_range(np.vstack([R, mean])):
        return R, mean, weight
    exponents = power_of_two_exponents(np.concatenate([_max_abs(X), _max_abs(Y)])[None, :])
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
    """:func:`_block_factor` of the block as it is (the Gram route if ``gram_route``)."""
    if weights is None and gram_route:
        gram, mean, weight = _gram_without_copy(X, Y)
        R = None if gram is None else _cholesky_factor(gram)
        if R is not None:
            return R, mean, weight
    A, mean, weight = _centred(X, Y, weights)
    R = _cholesky_factor(A.T @ A)
    return (_r_factor(A) if R is None else R), mean, weight


# Columns whose largest magnitude lies within 2**±SAFE_EXPONENT are used as they are:
# their squares, and sums of 2**60 of them, stay normal float64 numbers. Others are
# scaled by a power of two (exact) before anything squares them.
SAFE_EXPONENT = 256


def _max_abs(A) -> np.ndarray:
    """(columns,) The largest magnitude of each column of a 2-D block (NaN stays NaN; 0
    for no rows). max and -min, not max(abs(A)): no temporary the size of A."""
    largest = np.maximum(np.max(A, axis=0, initial=0.0), -np.min(A, axis=0, initial=0.0))
    return largest.astype(np.float64)


def power_of_two_exponents(M: np.ndarray) -> np.ndarray:
    """(columns,) int: e per column of M such that M[:, j] * 2**-e has its largest
    magnitude in [1, 2), for the columns whose largest magnitude lies beyond
    2**±SAFE_EXPONENT; 0 for the others (and for zero or non-finite columns). 2**e is
    representable whatever M holds (up to 2**1023)."""
    largest = _max_abs(M)
    _, exponents = np.frexp(np.where(np.isfinite(largest), largest, 0.0))
    exponents = exponents - 1
    inside = (largest == 0.0) | (np.abs(exponents) <= SAFE_EXPONENT)
    return np.where(inside, 0, exponents).astype(np.int64)


def _out_of_range(M: np.ndarray) -> bool:
    """Whether a column of M is beyond the safe range (or M is not finite)."""
    return bool(np.any(power_of_two_exponents(M)) or not np.all(np.isfinite(M)))


def scaled_column_squares(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(squares, exponents): sum_i M[i, j]² == squares[j] * 4**exponents[j], each column
    scaled by its power of two (:func:`power_of_two_exponents`) before it is squared:
    neither underflows nor overflows. Bit for bit the plain sums for ordinary columns."""
    exponents = power_of_two_exponents(M)
    return np.sum(np.ldexp(M, -exponents) ** 2, axis=0), exponents


def column_norms(M: np.ndarray) -> np.ndarray:
    """(columns,) sqrt(sum_i M[i, j]²) without underflow or overflow in the squares."""
    squares, exponents = scaled_column_squares(M)
    with np.errstate(over="ignore"):  # a norm beyond float64 is inf: the caller's answer
        return np.ldexp(np.sqrt(squares), exponents)


def _gram_without_copy(X, Y) -> tuple[np.ndarray | None, np.ndarray, float]:
    """The centred Gram matrix of [X Y] from the block as it lies in memory (X'X by BLAS
    syrk, the rest by a kernel), centred afterwards (G - m mean mean'), which is
    accurate when no column's mean exceeds its spread; None otherwise. Skipping the
    centred copy saved 40% of the pass at 2,000,000 x 20 (0.077 vs 0.125 s, one thread)."""
    # NumPy hands unaligned data (a buffer from the network, say) not to BLAS but to a
    # slow loop of its own, which also sums in another order: an aligned copy of the
    # block keeps the bits, and the speed, of aligned X.
    X = np.require(X, requirements="A")
    m, d = X.shape
    p = d + Y.shape[1]
    gram = np.empty((p, p))
    sums = np.empty(p)
    _jit.block_moments(X, Y, sums, gram[:d, d:], gram[d:, d:])
    gram[:d, :d] = X.T @ X
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
    s = np.linalg.svd(R_scaled, compute_uv=False)
    return R_scaled * norms if s[0] <= CHOLESKY_MAX_CONDITION * s[-1] else None


def _r_factor(A: np.ndarray) -> np.ndarray:
    """The (p, p) triangular factor of A (m, p), zero-padded when m < p."""
    p = A.shape[1]
    R: np.ndarray = np.asarray(np.linalg.qr(A, mode="r"))
    if R.shape[0] < p:
        R = np.vstack([R, np.zeros((p - R.shape[0], p))])
    return R


# Blocks merged at once, by one QR of their stacked factors: merging two factors at a
# time (488 QRs) took 0.10 s of a 0.29 s fit of 2,000,000 x 20. Fixed, so that the
# result does not depend on the number of threads.
MERGE_BLOCKS = 16


def _one_pass(source, block_statistic, merge):
    """Per-block (statistic, mean, weight), merged MERGE_BLOCKS blocks at a time, in order."""
    merged = None
    for chunk in _chunks_of_blocks(source, block_statistic):
        # A block of zero weight is left out of the merge: a NaN in it must still count.
        if not all(np.isfinite(part[0]).all() and np.isfinite(part[1]).all() for part in chunk):
            raise FloatingPointError("a block of rows holds NaN or infinity")
        merged = _merged(([] if merged is None else [merged]) + chunk, merge)
    if merged is None:
        raise ValueError("sample_weight sums to zero: there is nothing to fit")
    return merged


def _merged(parts, merge):
    """One (statistic, mean, weight) for several, each centred at its own mean; None when
    no part has weight.

    Groups g with statistics centred at their own means m_g and weights S_g merge into
    the statistic of their union, centred at its mean M, by adding the rows
    sqrt(S_g) (m_g - M): the parallel-variance update of Chan, Golub and LeVeque, in
    square-root form. ``merge(statistics, shift_rows)`` does the adding.
    """
    parts = [part for part in parts if part[2] > 0.0]
    if not parts:
        return None
    weights = np.array([part[2] for part in parts])
    means = np.array([part[1] for part in parts])
    total = float(np.sum(weights))
    mean = weights @ means / total
    shifts = np.sqrt(weights)[:, None] * (means - mean)
    return merge([part[0] for part in parts], shifts), mean, total


def _stack_factors(factors, shifts) -> np.ndarray:
    stacked = np.vstack([*factors, shifts])
    exponents = power_of_two_exponents(stacked)
    if not np.any(exponents):
        return _r_factor(stacked)
    # Columns of raw values beyond the safe range: QR of the columns scaled by powers
    # of two, whose R is scaled back (exact: R's columns scale with A's).
    return np.ldexp(_r_factor(np.ldexp(stacked, -exponents)), exponents)


def combine(first: Factor, second: Factor) -> Factor:
    """The :class:`Factor` of the rows of both (how ``partial_fit`` adds a piece)."""
    if first.R.shape != second.R.shape or first.n_features != second.n_features:
        raise ValueError(
            f"cannot combine a factor of {first.n_features} features and "
            f"{first.R.shape[0] - first.n_features} targets with one of "
            f"{second.n_features} features and {second.R.shape[0] - second.n_features} targets"
        )
    parts = [(f.R, f.mean, f.total_weight) for f in (first, second)]
    R, mean, total = _merged(parts, _stack_factors)
    return Factor(R, mean, total, first.n_features)


def _chunks_of_blocks(source, block_statistic) -> Iterator[list]:
    """block_statistic of every block, MERGE_BLOCKS at a time in block order, computed on
    numba's threads (one unless the source is parallel), each with a single BLAS
    thread: OpenBLAS's own two threads made LAPACK's QR of a 4096 x 21 block 60x slower
    on our 2-core machine. A block's result does not depend on the thread computing it."""
    workers = numba.get_num_threads() if source.parallel is not False else 1

    def statistic(block):
        # NaN, infinity and overflow are looked for in the results (_checked_pass): no
        # warnings (NumPy's error state is per thread, so it is set here).
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return block_statistic(*block)

    blocks = source.row_blocks()
    with _single_threaded_blas(), ThreadPoolExecutor(workers) as pool:
        while chunk := list(islice(blocks, MERGE_BLOCKS)):
            # One block (small data): no thread to start, 0.1-3 ms per fit.
            mapped = pool.map(statistic, chunk) if len(chunk) > 1 else map(statistic, chunk)
            statistics = list(mapped)
            del chunk  # the blocks can go before the next ones are read
            yield statistics


_blas_lock = threading.Lock()
_blas_users = 0
_blas_limiter = None
# Found once: threadpoolctl's search of the loaded libraries (/proc/self/maps) took 8 ms,
# most of a small fit. The BLAS is NumPy's, loaded before fastlinreg is.
_blas_controller: ThreadpoolController | None = None


@contextmanager
def _single_threaded_blas():
    """BLAS limited to one thread while any pass runs. threadpoolctl's limit is
    process-wide, so concurrent fits share one limit, restored by the last to leave
    (nested threadpool_limits contexts would restore out of order)."""
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


def _centred(X, Y, weights) -> tuple[np.ndarray, np.ndarray, float]:
    """(sqrt(s) * ([X Y] - mean) as a new float64 array, mean, weight) of one block."""
    out = np.empty((X.shape[0], X.shape[1] + Y.shape[1]))
    weighted = weights is not None
    mean, weight = _jit.centred_block(X, Y, weights if weighted else _NO_WEIGHTS, weighted, out)
    return out, mean, weight


def triangular_factor(source) -> Factor:
    """One pass over ``source.row_blocks()``: the :class:`Factor` of all its rows.

    A source that computes its factor where its data lives (a Dask cluster) does it.
    The values are not read beforehand to check them: the factor vouches for them (see
    :func:`_checked_pass`), so X is read once.

    Raises
    ------
    ValueError
        When X or y holds NaN or infinity, or a column whose (weighted) norm exceeds
        :func:`fastlinreg.sources.squares_limit`; named by the source's
        ``check_values`` where it has one (arrays in memory), else by the pass itself
        (streamed files and Dask arrays check every value as they read it) or as
        :func:`sums_overflow`.
    """

    def factor_pass() -> Factor:
        if hasattr(source, "triangular_factor"):
            return source.triangular_factor()
        R, mean, total = _one_pass(source, _block_factor, _stack_factors)
        y_scale = getattr(source, "y_scale", 1.0)
        if y_scale != 1.0:  # the source's y is y / y_scale (a power of two): exact
            d = source.n_features
            R[:, d:] *= y_scale
            mean[d:] *= y_scale
        return Factor(R, mean, total, source.n_features)

    return _checked_pass(source, factor_pass)


def _checked_pass(source, factor_pass):
    """``factor_pass()`` (a :class:`Factor`), refused when the data was not fit to sum.

    NaN and infinity spread into every sum they enter, so they leave a block or the
    factor not finite (or make LAPACK fail on it); values so large that a column's norm
    (``sqrt(|R[:, j]|² + S mean_j²)``, computed without squaring raw values) exceeds
    the limit are beyond float64 too (squares that overflow are not: the pass scales
    such columns by powers of two). Then ``source.check_values()``, where the source has
    one, reads the data again to name the array, row and column (the error path only);
    otherwise, or if it finds nothing, the error is :func:`sums_overflow`.
    """
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            factor = factor_pass()
            # Each column's norm (uncentred), its squares scaled by powers of two: a
            # column of 1e-170 or 1e+160 is fine; one whose norm overflows is not.
            weighted_mean = np.sqrt(factor.total_weight) * factor.mean
            norms = column_norms(np.vstack([factor.R, weighted_mean]))
            fit_to_sum = (
                np.all(np.isfinite(factor.R))
                and np.all(np.isfinite(factor.mean))
                and np.all(norms <= squares_limit(len(norms)))
            )
    except (np.linalg.LinAlgError, FloatingPointError):  # NaN or overflow on the way
        fit_to_sum = False
    if not fit_to_sum:
        _name_bad_values(source)
        raise sums_overflow()
    return factor


def _name_bad_values(source) -> None:
    """Raise the source's own error naming a bad value, if it can find one."""
    check_values = getattr(source, "check_values", None)
    if check_values is not None:
        check_values()


def sums_overflow() -> ValueError:
    """The error for finite data whose (weighted) column norms overflow float64, where
    the source cannot name the value (see :func:`_name_bad_values`)."""
    return ValueError(
        "A column of X or y is beyond float64: the root of its (weighted) sum of squares "
        "overflows (values near 1e308, or sample weights so large that weight times value "
        "squared does). Rescale it, e.g. divide it by a power of two."
    )


class PrecomputedSource:
    """A source whose passes read the :class:`Factor` instead of the data: O(d² k) each.

    It answers ``loss_grad`` and ``hessian_vector`` like the data source it was
    computed from (the same numbers, to rounding), so a solver cannot tell them apart.
    """

    #: A pass costs O(d²): solvers may afford exact curvature and many iterations.
    cheap_passes = True

    def __init__(self, factor: Factor):
        d = factor.n_features
        self.factor = factor
        self.R_xx = factor.R[:d, :d]
        self.R_xy = factor.R[:d, d:]  # (d, k)
        # |R_yy[:, t]|² is the part of target t's squares that no w can explain: inf (or
        # 0) for y beyond the safe range, whose solvers use a factor of y / y_scale
        # instead (see ``fastlinreg._objective.Objective``).
        with np.errstate(over="ignore", under="ignore"):
            self.unexplained = np.sum(factor.R[d:, d:] ** 2, axis=0)
        self.x_mean = factor.mean[:d]
        self.y_mean = factor.mean[d:]
        self.n_features = d
        self.n_targets = factor.R.shape[0] - d

    def loss_grad(self, W: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """As :meth:`fastlinreg.sources.InMemorySource.loss_grad`, from the factor."""
        S = self.factor.total_weight
        E = self.R_xx @ W.T - self.R_xy  # (d, k)
        offset = self.y_mean - b - W @ self.x_mean  # mean residual of each target
        squares = np.sum(E**2, axis=0) + self.unexplained + S * offset**2
        gb = -2.0 * offset
        G = (2.0 / S) * (self.R_xx.T @ E).T + gb[:, None] * self.x_mean
        return float(np.sum(squares) / (S * self.n_targets)), G, gb

    def hessian_vector(self, V: np.ndarray, vb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The MSE's Hessian times (V, vb), V (k, d), vb (k,), from the factor."""
        S = self.factor.total_weight
        hb = 2.0 * (vb + V @ self.x_mean)
        hv = (2.0 / S) * (self.R_xx.T @ (self.R_xx @ V.T)).T + hb[:, None] * self.x_mean
        return hv, hb


def target_scale(factor: Factor) -> float:
    """A power of two by which the targets of ``factor`` are divided for the solvers to
    iterate on them (1.0 unless y is beyond the safe range: see
    :func:`power_of_two_exponents`), one for all targets."""
    d = factor.n_features
    values = np.concatenate([factor.R[:, d:].ravel(), factor.mean[d:]])
    return float(np.ldexp(1.0, power_of_two_exponents(values[:, None])[0]))


def scaled_targets(factor: Factor, y_scale: float) -> Factor:
    """The factor of [X, Y / y_scale] (y_scale a power of two: exact)."""
    d = factor.n_features
    R, mean = factor.R.copy(), factor.mean.copy()
    R[:, d:] /= y_scale
    mean[d:] /= y_scale
    return Factor(R, mean, factor.total_weight, d)


def feature_scaling(source, fit_intercept: bool, factor: Factor | None = None):
    """(center, scale, constant) of the columns for :class:`fastlinreg._objective.Objective`.

    center is the weighted mean when an intercept is fitted (0 otherwise: b stays
    fixed, so x cannot be shifted); scale is the root mean square of x - center.
    Read from ``factor`` when there is one, otherwise one pass over the data.
    constant (bool, (n_features,)) marks the columns without spread, which keep scale 1.
    """
    if factor is None:
        # A distributed source factors in one pass on its workers; others stream blocks.
        if hasattr(source, "triangular_factor"):
            factor = triangular_factor(source)
        else:
            factor = _checked_pass(source, lambda: _column_factor(source))
    d = factor.n_features
    S = factor.total_weight
    # Squares of each column scaled by a power of two 2**e (e = 0 for ordinary columns,
    # bit for bit the plain sums): columns of 1e-170 or 1e+160 get their true scale.
    R = factor.R[:d, :d]
    mean = factor.mean[:d]
    exponents = power_of_two_exponents(np.vstack([R, mean]))
    scaled_R, scaled_mean = np.ldexp(R, -exponents), np.ldexp(mean, -exponents)
    centred_squares = np.sum(scaled_R**2, axis=0)
    if fit_intercept:
        center = mean.copy()
        squares = centred_squares
        # A constant column centred is its rounding: dividing by that would blow it up.
        norms = np.ldexp(np.sqrt(squares), exponents)
        squares[norms <= CONSTANT_COLUMN_ROUNDINGS * centring_rounding(factor)] = 0.0
    else:
        center = np.zeros(d)
        squares = centred_squares + S * scaled_mean**2
    # Finite: the factor's column norms are within squares_limit (_checked_pass).
    scale = np.ldexp(np.sqrt(squares / S), exponents)
    constant = scale == 0.0
    scale[constant] = 1.0
    return center, scale, constant


# A centred column whose norm is at most this many times its centring rounding (see
# centring_rounding) holds nothing but that rounding: it is a constant column.
CONSTANT_COLUMN_ROUNDINGS = 16.0


def centring_rounding(factor: Factor) -> np.ndarray:
    """(n_features,) The norm of the rounding that centring leaves in each column of X.

    Each centred value x - mean carries an error of about eps * |mean| (the values and
    the mean are rounded), so a column's centred norm is uncertain by about
    eps * sqrt(S) * |mean|: a constant column whose mean is not exact in binary (0.1)
    comes out as a column of that size, not of zeros, and a column with a large offset
    is known only that well relative to its spread.
    """
    d = factor.n_features
    eps = np.finfo(np.float64).eps
    return eps * np.sqrt(factor.total_weight) * np.abs(factor.mean[:d])


def _column_factor(source) -> Factor:
    """The diagonal of a :class:`Factor` of X alone (column norms, means): one pass."""

    def block_norms(X, Y, weights):
        A, mean, weight = _centred(X, Y[:, :0], weights)
        # Columns beyond the safe range are scaled by powers of two in place (A is a
        # copy) before they are squared, and their norms scaled back.
        exponents = power_of_two_exponents(A)
        if np.any(exponents):
            A = np.ldexp(A, -exponents, out=A)
        # einsum: no squared copy of the block beside the centred one (gd scales its
        # columns in this pass, and a memmap's fit may grow memory by 10% of X at most).
        return np.ldexp(np.sqrt(np.einsum("ij,ij->j", A, A)), exponents), mean, weight

    def merge(norms, shifts):
        norms = np.asarray(norms)
        exponents = power_of_two_exponents(np.vstack([norms, shifts]))
        norms, shifts = np.ldexp(norms, -exponents), np.ldexp(shifts, -exponents)
        squares = np.sum(np.square(norms), axis=0) + np.sum(shifts**2, axis=0)
        return np.ldexp(np.sqrt(squares), exponents)

    norms, mean, total = _one_pass(source, block_norms, merge)
    return Factor(np.diag(norms), mean, total, source.n_features)
