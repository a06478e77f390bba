"""One pass over the rows that makes every later epoch cost O(d²) instead of O(nd).

The pass computes the triangular factor R of the centred, weighted data [X Y]
(Q R = sqrt(s) * ([X Y] - mean), a "tall-skinny QR" block by block) together with the
weighted column means and the total weight S. Everything a solver needs follows exactly:

    sum_i s_i (y_i - x_i w - b)² = |R_xx w - R_xy|² + |R_yy|² + S (ȳ - b - x̄ w)²

R is the square root of the centred Gram matrix XᵀX: it carries the same information
without squaring the condition number, so the loss above is a sum of squares (no
cancellation, exact to rounding) and the exact solver keeps the accuracy of a QR
least-squares solve (the normal equations lose half the digits: 0 on NIST Filip).

This module runs the pass over any :class:`fastlinreg.sources.base.DataSource`
(:func:`triangular_factor`, :func:`column_factor`) and works on its result, a
:class:`Factor`; the arithmetic of one block and of a merge is in
:mod:`fastlinreg.sources._tsqr`, and :class:`fastlinreg.sources.PrecomputedSource`
answers the passes of a fit from the factor.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import chain, islice

import numpy as np

from . import _tsqr as tsqr
from ._powers_of_two import column_norms, power_of_two_exponents, power_of_two_scale
from ._tsqr import Factor
from .base import (
    ColumnFactoringSource,
    DataSource,
    FactoringSource,
    refuse_bad_values,
    squares_limit,
)

__all__ = [
    "CONSTANT_COLUMN_ROUNDINGS",
    "Factor",
    "centring_rounding",
    "column_factor",
    "combine",
    "scaled_targets",
    "target_scale",
    "triangular_factor",
]

# A centred column whose norm is at most this many times its centring rounding (see
# centring_rounding) holds nothing but that rounding: it is a constant column.
CONSTANT_COLUMN_ROUNDINGS = 16.0


def triangular_factor(source: DataSource) -> Factor:
    """One pass over ``source.row_blocks()``: the :class:`Factor` of all its rows, in y's
    own units. A :class:`fastlinreg.sources.base.FactoringSource` computes it itself
    (where its data lives, or from a sparse Gram matrix) unless it returns None. The
    values are not read beforehand to check them: the factor vouches for them (see
    :func:`_checked_pass`), so X is read once.

    Raises
    ------
    ValueError
        When X or y holds NaN or infinity, or a column whose (weighted) norm exceeds
        :func:`fastlinreg.sources.base.squares_limit`; named by the pass itself where
        the source checks while reading (files, Dask), else by its ``check_values``, or
        as :func:`fastlinreg.sources.base.refuse_bad_values` says.
    """

    def factor_pass() -> Factor:
        if isinstance(source, FactoringSource):
            factor = source.triangular_factor()
            if factor is not None:
                return factor
        R, mean, total = _one_pass(source, tsqr.block_factor, tsqr.stack_factors)
        if source.y_scale != 1.0:  # the source's y is y / y_scale (a power of two): exact
            d = source.n_features
            R[:, d:] *= source.y_scale
            mean[d:] *= source.y_scale
        return Factor(R, mean, total, source.n_features)

    return _checked_pass(source, factor_pass)


def column_factor(source: DataSource) -> Factor:
    """A :class:`Factor` good enough for feature scaling, in one checked pass: the
    source's own ``column_factor()`` where it has one (sparse X), the whole factor where
    the source computes it in place (a Dask cluster), else only its diagonal (each
    column's centred norm) and the means, from ``row_blocks()``."""
    if isinstance(source, ColumnFactoringSource):
        return _checked_pass(source, source.column_factor)
    if isinstance(source, FactoringSource):
        return triangular_factor(source)
    return _checked_pass(source, lambda: _diagonal_factor(source))


def combine(first: Factor, second: Factor) -> Factor:
    """The :class:`Factor` of the rows of both (how ``partial_fit`` adds a piece)."""
    if first.R.shape != second.R.shape or first.n_features != second.n_features:
        raise ValueError(
            f"cannot combine a factor of {first.n_features} features and "
            f"{first.R.shape[0] - first.n_features} targets with one of "
            f"{second.n_features} features and {second.R.shape[0] - second.n_features} targets"
        )
    parts = [(f.R, f.mean, f.total_weight) for f in (first, second)]
    R, mean, total = tsqr.merged(parts, tsqr.stack_factors)
    return Factor(R, mean, total, first.n_features)


def target_scale(factor: Factor) -> float:
    """A power of two by which the targets of ``factor`` are divided for the solvers to
    iterate on them (1.0 unless y is beyond the safe range: see
    :func:`fastlinreg.sources._powers_of_two.power_of_two_exponents`), one for all
    targets."""
    d = factor.n_features
    return power_of_two_scale(np.concatenate([factor.R[:, d:].ravel(), factor.mean[d:]])[:, None])


def scaled_targets(factor: Factor, y_scale: float) -> Factor:
    """The factor of [X, Y / y_scale] (y_scale a power of two: exact)."""
    d = factor.n_features
    R, mean = factor.R.copy(), factor.mean.copy()
    R[:, d:] /= y_scale
    mean[d:] /= y_scale
    return Factor(R, mean, factor.total_weight, d)


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


def _checked_pass(source: DataSource, factor_pass: Callable[[], Factor]) -> Factor:
    """``factor_pass()``, refused when the data was not fit to sum.

    NaN and infinity spread into every sum they enter, so they leave a block or the
    factor not finite (or make LAPACK fail on it); values so large that a column's norm
    (``sqrt(|R[:, j]|² + S mean_j²)``, computed without squaring raw values) exceeds
    the limit are beyond float64 too (squares that overflow are not: the pass scales
    such columns by powers of two). Then :func:`fastlinreg.sources.base.refuse_bad_values`
    reads the data again to name the array, row and column (the error path only).
    """
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            factor = factor_pass()
            # Each column's norm (uncentred), its squares scaled by powers of two: a
            # column of 1e-170 or 1e+160 is fine; one whose norm overflows is not.
            weighted_mean = np.sqrt(factor.total_weight) * factor.mean
            norms = column_norms(np.vstack([factor.R, weighted_mean]))
            fit_to_sum = bool(
                np.all(np.isfinite(factor.R))
                and np.all(np.isfinite(factor.mean))
                and np.all(norms <= squares_limit(len(norms)))
            )
    except (np.linalg.LinAlgError, FloatingPointError):  # NaN or overflow on the way
        fit_to_sum = False
    if not fit_to_sum:
        refuse_bad_values(source)
    return factor


def _one_pass(source: DataSource, block_statistic, merge):
    """Per-block (statistic, mean, weight), merged in groups of blocks, in order."""
    merged = None
    for chunk in statistics_of_blocks(source, block_statistic):
        # A block of zero weight is left out of the merge: a NaN in it must still count.
        if not all(np.isfinite(part[0]).all() and np.isfinite(part[1]).all() for part in chunk):
            raise FloatingPointError("a block of rows holds NaN or infinity")
        merged = tsqr.merged(([] if merged is None else [merged]) + chunk, merge)
    if merged is None:
        raise ValueError("sample_weight sums to zero: there is nothing to fit")
    return merged


def statistics_of_blocks(source: DataSource, block_statistic) -> Iterator[list]:
    """block_statistic of every block, in groups of ``tsqr.blocks_per_merge`` in block
    order, computed on
    numba's threads (one unless the source is parallel), each with a single BLAS thread
    (see :func:`fastlinreg.sources._tsqr.single_threaded_blas`). A block's result does not
    depend on the thread computing it.

    A block is handed to a thread as it is read and let go once its statistic is known:
    at most ``workers + 1`` blocks are alive at once, not a whole group (for a file, each
    block is a new array: 16 of 4 MB were 64 MB of a fit's peak memory)."""

    def statistic(block):
        # NaN, infinity and overflow are looked for in the results (_checked_pass): no
        # warnings (NumPy's error state is per thread, so it is set here).
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return block_statistic(*block)

    blocks = source.row_blocks()
    first_two = list(islice(blocks, 2))
    workers = _threads_for(source) if len(first_two) == 2 else 1
    one_at_a_time = workers == 1  # no thread to start
    blocks = chain(first_two, blocks)
    del first_two
    with tsqr.single_threaded_blas(), ThreadPoolExecutor(workers) as pool:
        results: Iterator = (
            map(statistic, blocks)
            if one_at_a_time
            else _in_order(pool, statistic, blocks, ahead=workers)
        )
        per_merge = tsqr.blocks_per_merge(source.n_features + source.n_targets)
        while group := list(islice(results, per_merge)):
            yield group


def _threads_for(source: DataSource) -> int:
    """numba's thread count for a parallel source, else 1 (numba is imported only then:
    a source of one block is factored on this thread)."""
    if source.parallel is False:
        return 1
    import numba

    return numba.get_num_threads()


def _in_order(pool: ThreadPoolExecutor, function, items, ahead: int) -> Iterator:
    """``function`` of each item, in order, computed by ``pool`` with at most ``ahead``
    items submitted and not yet returned (so at most ``ahead + 1`` items alive)."""
    pending: deque = deque()
    for item in items:
        pending.append(pool.submit(function, item))
        del item
        while len(pending) > ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _diagonal_factor(source: DataSource) -> Factor:
    """The diagonal of a :class:`Factor` of X alone (column norms, means): one pass."""

    def block_norms(X, Y, weights):
        A, mean, weight = tsqr.centred_block(X, Y[:, :0], weights)
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
