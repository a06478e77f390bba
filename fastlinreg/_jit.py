"""The @njit functions. No validation, no Python objects, no per-row allocation.

They trust their arguments: a wrong shape, dtype or layout is a wrong answer or a crash,
never a clear error. So three modules call them, each preparing the arrays as the
function's docstring states, and everything else goes through those three:

- ``fastlinreg.kernels``, the passes over X (``loss_grad_partials``,
  ``combine_partials``, ``predict_*``, ``streaming_sum``): it checks the user's arrays and
  guarantees X 2-D (n, d) float32/float64 in any memory order, targets Y (n, k) of X's
  dtype with each column contiguous, weights W (k, d) C-ordered float64, n >= 1 (k = 1 is
  the tutorial's single target);
- ``fastlinreg._solvers``, the epochs on the precomputed factor (``factor_epochs`` and
  its ``EPOCHS_*`` status codes), on the float64 arrays that
  ``fastlinreg._objective.Objective.factor_arrays`` builds from the factor;
- ``fastlinreg.sources._tsqr``, the factor of a block of rows for the precompute pass
  (``centred_block``, ``block_moments``, ``narrow_block_moments``), on the blocks a
  source hands out: going through ``kernels`` there would validate every block of every
  pass again.

Every pass cuts the rows into ``n_blocks`` blocks of ``row_block`` rows (the last one
shorter). Block ``blk`` writes only ``partial_*[blk]``; the caller combines the partials in
block order. No sum is reordered by the compiler (``_config.FASTMATH_FLAGS``), and the
fused pass has a single driver, run on one thread for a serial pass: results are
bit-for-bit identical for every thread count (docs/design.md, bit-reproducibility).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import config, njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from ._config import JIT_OPTIONS, configure_numba

configure_numba()


# A row's four lanes as one SIMD vector. _four_lane_dot's lanes are four chains of
# additions in a written order; nothing may be reassociated, so LLVM's loop vectorizer
# leaves them alone and only its SLP vectorizer could make them one vector, which numba
# turns off (numba #8705). _row_lanes_vector emits them as one <4 x double> accumulator:
# one vector multiply and one vector add per four numbers, each element the same IEEE
# multiplication and addition, in the same order, as the scalar code, so the same bits
# (float32 is widened to double first, as the scalar code widens each number; no
# fast-math flags, so nothing is contracted into a fused multiply-add). It reads the row
# and w as contiguous memory; _row_lanes_strided is the same sum for any strides. Here,
# not in a module of its own: numba's cache of a kernel is invalidated by changes to the
# kernel's file only, and the kernels here inline it.


def _row_lanes_in_python(X, i, w, chunks):
    """(a0, a1, a2, a3): a_l = sum over c < chunks of X[i, 4c + l] * w[4c + l], in c's
    order, each from 0.0."""
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    for c in range(chunks):
        j = 4 * c
        a0 += X[i, j] * w[j]
        a1 += X[i, j + 1] * w[j + 1]
        a2 += X[i, j + 2] * w[j + 2]
        a3 += X[i, j + 3] * w[j + 3]
    return a0, a1, a2, a3


# Compiled into their callers (numba does not let LLVM inline across its functions), so
# they need no cache of their own.
_INLINED = {**JIT_OPTIONS, "cache": False, "inline": "always"}
_row_lanes_strided = njit(**_INLINED)(_row_lanes_in_python)


@intrinsic
def _row_lanes_vector(typingctx, X, k, w, chunks):
    """:func:`_row_lanes_in_python` as one vector accumulator: X float32 or float64,
    2-D, its row k contiguous; w float64, contiguous."""
    if not (
        isinstance(X, types.Array)
        and X.ndim == 2
        and X.dtype in (types.float32, types.float64)
        and isinstance(w, types.Array)
        and w.ndim == 1
        and w.dtype == types.float64
        and isinstance(k, types.Integer)
        and isinstance(chunks, types.Integer)
    ):
        return None

    def codegen(context, builder, sig, args):
        x_type, k_type, w_type, chunks_type = sig.args
        x_array = context.make_array(x_type)(context, builder, args[0])
        w_array = context.make_array(w_type)(context, builder, args[2])
        k = context.cast(builder, args[1], k_type, types.intp)
        count = context.cast(builder, args[3], chunks_type, types.intp)
        element = context.get_data_type(x_type.dtype)
        lanes = ir.VectorType(ir.DoubleType(), 4)
        # Row k starts k * strides[0] bytes into X's data.
        stride = cgutils.unpack_tuple(builder, x_array.strides)[0]
        data = builder.bitcast(x_array.data, ir.IntType(8).as_pointer())
        start = builder.bitcast(builder.gep(data, [builder.mul(k, stride)]),
                                element.as_pointer())  # fmt: skip
        accumulator = cgutils.alloca_once_value(builder, ir.Constant(lanes, [0.0] * 4))
        # What numba promises of the arrays: unaligned ones (a byte buffer) get align 1.
        x_align = (4 if x_type.dtype == types.float32 else 8) if x_type.aligned else 1
        w_align = 8 if w_type.aligned else 1
        with cgutils.for_range(builder, count) as loop:
            offset = builder.mul(loop.index, ir.Constant(loop.index.type, 4))
            x_at = builder.bitcast(builder.gep(start, [offset]),
                                   ir.VectorType(element, 4).as_pointer())  # fmt: skip
            x = builder.load(x_at, align=x_align)
            if x_type.dtype == types.float32:
                x = builder.fpext(x, lanes)
            w_at = builder.bitcast(builder.gep(w_array.data, [offset]), lanes.as_pointer())
            product = builder.fmul(x, builder.load(w_at, align=w_align))
            builder.store(builder.fadd(builder.load(accumulator), product), accumulator)
        total = builder.load(accumulator)
        parts = [builder.extract_element(total, ir.Constant(ir.IntType(32), lane))
                 for lane in range(4)]  # fmt: skip
        return context.make_tuple(builder, sig.return_type, parts)

    return types.UniTuple(types.float64, 4)(X, k, w, chunks), codegen


# An intrinsic cannot run as Python: without the JIT, the scalar lanes.
_row_lanes = _row_lanes_strided if config.DISABLE_JIT else _row_lanes_vector  # type: ignore[attr-defined]


def _four_lane_dot(X, i, w, d):
    """sum_j X[i, j] * w[j] as four interleaved partial sums.

    The order of additions is written out, so the result never depends on how LLVM
    vectorizes (it may not reassociate: see ``_config.FASTMATH_FLAGS``), and four
    independent chains keep the floating-point units busy where one would wait. A
    contiguous row's four lanes are one vector (:func:`_row_lanes_vector`: the same
    operations in the same order, the same bits).
    """
    if d < 4:
        # Lane 0 alone (the others stay 0.0), as a plain loop: through the branches
        # below, predict took twice as long at d = 2 and 3.
        p = 0.0
        for j in range(d):
            p += X[i, j] * w[j]
        return (p + 0.0) + (0.0 + 0.0)
    if X.strides[1] == X.itemsize and w.strides[0] == w.itemsize:
        a0, a1, a2, a3 = _row_lanes(X, i, w, d // 4)
    else:
        a0, a1, a2, a3 = _row_lanes_strided(X, i, w, d // 4)
    j = d - d % 4
    while j < d:  # the last d % 4 numbers go to lane 0
        a0 += X[i, j] * w[j]
        j += 1
    return (a0 + a1) + (a2 + a3)


# The same function twice: called (the fused pass, the epochs on the factor), and
# inlined into predict's loop over rows, where the call cost more than a dot of ten
# numbers (predict on 256 MB at d = 2: 82 ms called, 11 ms inlined; d = 10: 24 and 10
# ms). Inlined everywhere, it made the fused pass compile in 16 s rather than 9. The
# inlined one is compiled into its callers, so it needs no cache of its own.
_row_dot = njit(**JIT_OPTIONS)(_four_lane_dot)
_inlined_row_dot = njit(**_INLINED)(_four_lane_dot)


@njit(**JIT_OPTIONS)
def _column_dot(X, j, v, m):
    """sum_i X[i, j] * v[i] for i < m, as four interleaved partial sums: the row dot of
    X's transpose (the same order of additions; one vector down a contiguous column)."""
    return _inlined_row_dot(X.T, j, v, m)


@njit(**JIT_OPTIONS)
def _block_forward(X, w, b, pred):
    """pred[i] = X[i] @ w + b for the rows of a block X (m, d), summed in float64 (pred
    may be float32), in X's memory order.

    Column-major X is read column by column into the same four lanes, added in the same
    order, as :func:`_row_dot` uses: a row's prediction has the same bits whatever the
    layout (so predict(X[rows]) is predict(X)[rows] when X[rows] changes the order).
    X is a view of the block, indexed from 0 (see :func:`_rows_loss_grad`).
    """
    m, d = X.shape
    if X.strides[0] >= X.strides[1]:
        for i in range(m):
            pred[i] = b + _inlined_row_dot(X, i, w, d)
        return
    lanes = np.zeros((4, m))
    full = d - d % 4  # columns from here on all go to lane 0, as in _row_dot
    for j in range(d):
        lane = j % 4 if j < full else 0
        wj = w[j]
        for i in range(m):
            lanes[lane, i] += X[i, j] * wj
    for i in range(m):
        pred[i] = b + ((lanes[0, i] + lanes[1, i]) + (lanes[2, i] + lanes[3, i]))


@njit(**JIT_OPTIONS)
def _rows_loss_grad(X, y, w, b, s, weighted, lanes, g):
    """One target over the rows of a row-major block X (m, d): writes sum x s r to g (d,),
    returns (sum s r², sum s r), with r = y - (X w + b) and s the row weights (read
    only when ``weighted``; else 1).

    Four rows at a time: four independent predictions (each in :func:`_row_dot`'s four
    lanes, so a row's residual has predict's bits) and one update of g per four rows,
    which LLVM vectorizes over the columns without reordering any sum. Every index
    counts up from 0 in a view of the block: numba then drops its negative-index
    wraparound, which would otherwise keep LLVM from vectorizing.
    """
    d = X.shape[1]
    # A width known at compile time unrolls the loops over the columns: rows of one to
    # four numbers are the ones where loop overhead costs most. The sums are the same.
    if d == 1:
        return _rows_of_width(X, y, w, b, s, weighted, lanes, g, 1)
    if d == 2:
        return _rows_of_width(X, y, w, b, s, weighted, lanes, g, 2)
    if d == 3:
        return _rows_of_width(X, y, w, b, s, weighted, lanes, g, 3)
    if d == 4:
        return _rows_of_width(X, y, w, b, s, weighted, lanes, g, 4)
    return _rows_of_width(X, y, w, b, s, weighted, lanes, g, d)


@njit(inline="always", **JIT_OPTIONS)
def _rows_of_width(X, y, w, b, s, weighted, lanes, g, d):
    """:func:`_rows_loss_grad` for X of ``d`` columns (inlined, so d may be a constant)."""
    m = X.shape[0]
    g[:] = 0.0
    sq = 0.0
    rs = 0.0
    i = 0
    while i + 4 <= m:
        if lanes:
            p0 = _row_dot(X, i, w, d)
            p1 = _row_dot(X, i + 1, w, d)
            p2 = _row_dot(X, i + 2, w, d)
            p3 = _row_dot(X, i + 3, w, d)
        else:
            p0 = 0.0
            p1 = 0.0
            p2 = 0.0
            p3 = 0.0
            for j in range(d):
                wj = w[j]
                p0 += X[i, j] * wj
                p1 += X[i + 1, j] * wj
                p2 += X[i + 2, j] * wj
                p3 += X[i + 3, j] * wj
        r0 = y[i] - (b + p0)
        r1 = y[i + 1] - (b + p1)
        r2 = y[i + 2] - (b + p2)
        r3 = y[i + 3] - (b + p3)
        if weighted:
            q0 = s[i] * r0
            q1 = s[i + 1] * r1
            q2 = s[i + 2] * r2
            q3 = s[i + 3] * r3
        else:
            q0, q1, q2, q3 = r0, r1, r2, r3
        sq += (q0 * r0 + q1 * r1) + (q2 * r2 + q3 * r3)
        rs += (q0 + q1) + (q2 + q3)
        for j in range(d):
            g[j] += (X[i, j] * q0 + X[i + 1, j] * q1) + (X[i + 2, j] * q2 + X[i + 3, j] * q3)
        i += 4
    while i < m:
        if lanes:
            p0 = _row_dot(X, i, w, d)
        else:
            p0 = 0.0
            for j in range(d):
                p0 += X[i, j] * w[j]
        r = y[i] - (b + p0)
        q = s[i] * r if weighted else r
        sq += q * r
        rs += q
        for j in range(d):
            g[j] += X[i, j] * q
        i += 1
    return sq, rs


@njit(**JIT_OPTIONS)
def _columns_loss_grad(X, y, w, b, s, weighted, scratch, g):
    """The same as :func:`_rows_loss_grad` for a column-major block, column by column:
    the block's predictions into ``scratch`` (m,), the same bits as the rows' (see
    :func:`_block_forward`), then its weighted residuals, then one sum per column in
    four interleaved lanes (the block is still in cache for that second read)."""
    m, d = X.shape
    _block_forward(X, w, b, scratch)
    sq = 0.0
    rs = 0.0
    for i in range(m):
        r = y[i] - scratch[i]
        q = s[i] * r if weighted else r
        scratch[i] = q
        sq += q * r
        rs += q
    for j in range(d):
        g[j] = _column_dot(X, j, scratch, m)
    return sq, rs


@njit(parallel=True, **JIT_OPTIONS)
def loss_grad_partials(
    X, Y, W, b, sample_weight, weighted, row_block, column_major, lanes,
    partial_sq, partial_r, partial_g,
):  # fmt: skip
    """Per-block partial sums of the fused pass, blocks spread over numba's threads.

    X (n, d); Y (n, k) of X's dtype; W (k, d) and b (k,) float64; sample_weight (n,)
    float64, read only when ``weighted``; ``column_major``: X's columns are contiguous.
    Block ``blk`` (rows [blk * row_block, ...)) writes sum s r² over its rows and targets
    to partial_sq[blk] (n_blocks,), sum s r to partial_r[blk] (n_blocks, k) and sum x s r
    to partial_g[blk] (n_blocks, k, d), all float64; nothing else is shared (numba issues
    #3681, #7133).

    The only driver of the pass: a serial pass is this function on one thread
    (``kernels.loss_grad``), so every thread count runs the same machine code for a
    block, and the bits of a block do not depend on who ran it.
    """
    n = X.shape[0]
    k = W.shape[0]
    for blk in prange(partial_sq.shape[0]):
        start = blk * row_block
        stop = min(start + row_block, n)
        Xb = X[start:stop]
        s = sample_weight[start:stop] if weighted else sample_weight
        scratch = np.empty(stop - start if column_major else 0)
        sq = 0.0
        for t in range(k):
            y = Y[start:stop, t]
            if column_major:
                sq_t, r_t = _columns_loss_grad(
                    Xb, y, W[t], b[t], s, weighted, scratch, partial_g[blk, t]
                )
            else:
                sq_t, r_t = _rows_loss_grad(
                    Xb, y, W[t], b[t], s, weighted, lanes, partial_g[blk, t]
                )
            sq += sq_t
            partial_r[blk, t] = r_t
        partial_sq[blk] = sq


@njit(**JIT_OPTIONS)
def combine_partials(partial_sq, partial_r, partial_g, r_out, g_out):
    """Sum the partials in block order: returns sum s r²; writes sum s r to r_out (k,)
    and sum x s r to g_out (k, d)."""
    k = partial_r.shape[1]
    sq_sum = 0.0
    r_out[:] = 0.0
    g_out[:, :] = 0.0
    for blk in range(partial_sq.shape[0]):
        sq_sum += partial_sq[blk]
        for t in range(k):
            r_out[t] += partial_r[blk, t]
    # The gradient may have other blocks than the rows' sums (one, from csc_gradient).
    n_blocks, k, d = partial_g.shape
    for blk in range(n_blocks):
        for t in range(k):
            for j in range(d):
                g_out[t, j] += partial_g[blk, t, j]
    return sq_sum


@njit(**JIT_OPTIONS)
def _block_predict(X, w, b, start, stop, out):
    # Sums in float64; a float32 out rounds each finished prediction once, on storing it.
    _block_forward(X[start:stop], w, b, out[start:stop])


@njit(**JIT_OPTIONS)
def predict_serial(X, w, b, row_block, out):
    """out[i] = X[i] @ w + b, written in place into out (n,) of any float dtype."""
    n = X.shape[0]
    n_blocks = (n + row_block - 1) // row_block
    for k in range(n_blocks):
        start = k * row_block
        _block_predict(X, w, b, start, min(start + row_block, n), out)


@njit(parallel=True, **JIT_OPTIONS)
def predict_parallel(X, w, b, row_block, out):
    """The same as :func:`predict_serial`, blocks spread over threads."""
    n = X.shape[0]
    n_blocks = (n + row_block - 1) // row_block
    for k in prange(n_blocks):
        start = k * row_block
        _block_predict(X, w, b, start, min(start + row_block, n), out)


@njit(**JIT_OPTIONS)
def centred_block(X, Y, sample_weight, weighted, out):
    """One block of rows for the precompute pass, centred and weighted, in one go.

    X (m, d) and Y (m, k) any float dtype and order, sample_weight (m,) float64 read
    only when ``weighted``. Writes out[i] = sqrt(s_i) * ([X Y][i] - mean) into
    ``out`` (m, d + k) float64; returns (mean (d + k,), sum of the weights).
    """
    m, d = X.shape
    k = Y.shape[1]
    sums = np.zeros(d + k)
    weight = 0.0
    for i in range(m):
        s = sample_weight[i] if weighted else 1.0
        weight += s
        for j in range(d):
            sums[j] += s * X[i, j]
        for t in range(k):
            sums[d + t] += s * Y[i, t]
    # A product with the reciprocal: what LLVM makes of the division anyway (fastmath
    # "arcp"), written out so that the NumPy twin can make the same.
    mean = sums * (1.0 / weight) if weight > 0.0 else sums
    for i in range(m):
        root = np.sqrt(sample_weight[i]) if weighted else 1.0
        for j in range(d):
            out[i, j] = root * (X[i, j] - mean[j])
        for t in range(k):
            out[i, d + t] = root * (Y[i, t] - mean[d + t])
    return mean, weight


@njit(**JIT_OPTIONS)
def block_moments(X, Y, sums, cross, y_squares):
    """Column sums of [X Y] (d + k,), X'Y (d, k) and Y'Y (k, k) of one block of float64
    X (m, d) and Y (m, k), into float64 arrays, overwritten.

    Written out rather than left to BLAS, whose dot and gemv split long sums over its
    threads (and so gave different bits in different threads). X'Y is summed into a
    contiguous (k, d) array, copied at the end into ``cross`` (a strided view of the
    caller's Gram matrix): LLVM vectorizes the loop over the columns only into
    contiguous sums.
    """
    m, d = X.shape
    k = Y.shape[1]
    sums[:] = 0.0
    y_squares[:, :] = 0.0
    cross_t = np.zeros((k, d))
    for i in range(m):
        for j in range(d):
            sums[j] += X[i, j]
        for t in range(k):
            y_t = Y[i, t]
            sums[d + t] += y_t
            for j in range(d):
                cross_t[t, j] += X[i, j] * y_t
            for u in range(k):
                y_squares[u, t] += Y[i, u] * y_t
    # An element loop: numba compiles an array assignment into a strided view into far
    # more code (it tripled this kernel's compile time).
    for t in range(k):
        for j in range(d):
            cross[j, t] = cross_t[t, j]


# Rows of narrow_block_moments's chunks: a chunk of a few columns stays in L1 while
# each of its sums goes through it.
MOMENT_CHUNK_ROWS = 256


@njit(**JIT_OPTIONS)
def narrow_block_moments(X, Y, sums, cross, y_squares):
    """:func:`block_moments` for narrow X (the caller decides: a few columns), with the
    same sums in the same order (the same bits), column by column: each sum is kept in a
    register through a chunk of MOMENT_CHUNK_ROWS rows (in L1) at a time. Y has at least
    one column. On rows of one to three numbers, block_moments's loop over the columns
    cost more than the arithmetic; on wide rows, these chains, one addition waiting for
    the last, are the slower (docs/design.md, Measurements).
    """
    m, d = X.shape
    k = Y.shape[1]
    sums[:] = 0.0
    cross[:, :] = 0.0
    y_squares[:, :] = 0.0
    for start in range(0, m, MOMENT_CHUNK_ROWS):
        stop = min(start + MOMENT_CHUNK_ROWS, m)
        for j in range(d):
            # Two chains in one loop (a column's sum and its product with the first
            # target): each waits on its own last addition, so two run in the time of one.
            total = sums[j]
            product = cross[j, 0]
            for i in range(start, stop):
                total += X[i, j]
                product += X[i, j] * Y[i, 0]
            sums[j] = total
            cross[j, 0] = product
            for t in range(1, k):
                product = cross[j, t]
                for i in range(start, stop):
                    product += X[i, j] * Y[i, t]
                cross[j, t] = product
        for t in range(k):
            total = sums[d + t]
            square = y_squares[t, t]
            for i in range(start, stop):
                total += Y[i, t]
                square += Y[i, t] * Y[i, t]
            sums[d + t] = total
            y_squares[t, t] = square
            for u in range(k):
                if u != t:
                    product = y_squares[u, t]
                    for i in range(start, stop):
                        product += Y[i, u] * Y[i, t]
                    y_squares[u, t] = product


# The bound may reorder its additions (its value is irrelevant), so LLVM vectorizes it
# fully and it reads at memory speed.
@njit(parallel=True, **{**JIT_OPTIONS, "fastmath": {"reassoc", "contract", "nsz", "arcp"}})
def streaming_sum(flat, block):
    """Sum of a 1-D array, in parallel blocks: the cost of reading it once from memory.

    The benchmarks time it on a flat view of X as the streaming-read bound of an epoch.
    """
    n = flat.shape[0]
    n_blocks = (n + block - 1) // block
    partial = np.zeros(n_blocks)
    for k in prange(n_blocks):
        # In flat's own dtype, so that float32 is read at float32 speed.
        partial[k] = flat[k * block : min((k + 1) * block, n)].sum()
    return partial.sum()


# Epochs on the precomputed factor (``fastlinreg._solvers``): O(d² k) arithmetic each,
# far less than the interpreter's cost of an epoch in Python (docs/design.md).
# Status codes of factor_epochs, read by _solvers._descend_on_factor.
EPOCHS_RUNNING = 0  # every epoch asked for ran; not converged yet
EPOCHS_CONVERGED = 1  # the distance to the solution is certified below tol
EPOCHS_AT_FLOOR = 2  # the gradient is down to its own rounding: no epoch can improve it
EPOCHS_ROSE = 3  # the loss rose after a plain step, or became non-finite
EPOCHS_NOT_FINITE = 4  # the parameters became non-finite


@njit(**JIT_OPTIONS)
def factor_epochs(
    A,
    At,
    Rxy,
    unexplained,
    ybar,
    c,
    inv_scale,
    data_columns,
    S,
    l2,
    l1,
    fit_intercept,
    accelerated,
    lr,
    tol,
    L,
    mu,
    floor_factor,
    g0_norm,
    stall_epochs,
    theta,
    beta,
    y_theta,
    y_beta,
    scalars,
    history,
    theta_record,
    beta_record,
):
    """Up to len(history) epochs of gd/agd on the factor, in solver coordinates.

    The objective of ``fastlinreg._objective.Objective`` over a PrecomputedSource, per
    target t (theta_t in solver coordinates, w = theta * inv_scale):

        |A theta_t - Rxy_t|² + unexplained_t + S (ybar_t - beta_t - c theta_t)²

    over S k, plus the penalties; A = R_xx * inv_scale (At its transpose, C-ordered, so
    that both products read rows in four-lane sums). The epoch's logic is
    ``_solvers.descend``'s, line for line. theta, beta (the iterate), y_theta, y_beta
    (agd's extrapolated point) and scalars = [momentum_time, plain_step, previous loss,
    first loss, relative bound, the loss that rose, best bound, epochs since it halved]
    are updated in place so that a fit can run in chunks.
    tol < 0: no convergence test. After each epoch the iterate is copied to
    theta_record/beta_record when they have room (the user's callback reads them).

    Convergence is certified by the gradient (mapping) at the point it was taken: on a
    quadratic with smallest curvature mu, |point - solution| <= |gradient| / mu (2 / mu
    with the L1 step), and the step that follows only shrinks that distance. When the
    columns are centred (c = 0) the intercept is a coordinate of its own, of curvature
    2, and its part of the bound is |g_beta| / 2. Converged when the bound is at most
    tol |theta|. At the floor when it is below the rounding of the gradient itself,
    floor_factor (L |theta| + g0_norm) / mu (+ floor_factor |offset terms| for the
    intercept), or when the best bound has not halved for stall_epochs epochs.

    Returns (status, epochs run).
    """
    k, d = theta.shape
    E = np.empty(d)
    new_theta = np.empty((k, d))
    new_beta = np.empty(k)
    momentum_time = scalars[0]
    plain_step = scalars[1] != 0.0
    previous = scalars[2]
    first = scalars[3]
    record = theta_record.shape[0]
    decoupled = fit_intercept
    for j in range(d):
        decoupled = decoupled and c[j] == 0.0
    for epoch in range(history.shape[0]):
        squares = 0.0
        penalty = 0.0
        gradient_squares = 0.0  # of the gradient mapping (point - new) / lr, theta's
        intercept_squares = 0.0  # and beta's
        intercept_terms = 0.0  # the size of the terms the intercept's gradient sums
        point_norm = 0.0  # |y_theta|, the scale of the gradient's rounding
        for t in range(k):
            offset = ybar[t] - y_beta[t]
            for j in range(d):
                offset -= c[j] * y_theta[t, j]
            point = y_theta[t]
            for i in range(d):
                E[i] = _row_dot(A, i, point, d) - Rxy[i, t]
            sq = 0.0
            for i in range(d):
                sq += E[i] * E[i]
            squares += sq + unexplained[t] + S * offset * offset
            gb = -2.0 * offset
            for j in range(d):
                point_norm += y_theta[t, j] * y_theta[t, j]
                w = y_theta[t, j] * inv_scale[j]
                penalty += l2 * w * w + l1 * abs(w)
                g = 2.0 * l2 * w * inv_scale[j]
                if data_columns[j]:
                    g += (2.0 / S) * _row_dot(At, j, E, d) + gb * c[j]
                z = y_theta[t, j] - lr * g
                if l1 > 0.0:
                    shrunk = max(abs(z) - lr * l1 * inv_scale[j], 0.0)
                    z = shrunk if z > 0.0 else -shrunk
                new_theta[t, j] = z
                mapped = (y_theta[t, j] - z) / lr
                gradient_squares += mapped * mapped
            if fit_intercept:
                new_beta[t] = y_beta[t] - lr * gb
                intercept_squares += gb * gb
                intercept_terms += 2.0 * (abs(ybar[t]) + abs(y_beta[t]) + abs(offset))
            else:
                new_beta[t] = y_beta[t]
        loss = (squares / S + penalty) / k
        if plain_step or not np.isfinite(loss):
            rose = False
            if np.isfinite(previous):
                rose = loss - previous > 1e-7 * previous + 1e-20 * first
            if rose or not np.isfinite(loss):
                scalars[5] = loss
                return EPOCHS_ROSE, epoch
        history[epoch] = loss
        if not np.isfinite(first):
            first = loss
            scalars[3] = loss
        previous = loss
        momentum = 0.0
        if accelerated:
            uphill = 0.0
            for t in range(k):
                for j in range(d):
                    uphill += (y_theta[t, j] - new_theta[t, j]) * (new_theta[t, j] - theta[t, j])
                uphill += (y_beta[t] - new_beta[t]) * (new_beta[t] - beta[t])
            if uphill > 0.0:
                momentum_time = 1.0
            next_time = (1.0 + np.sqrt(1.0 + 4.0 * momentum_time * momentum_time)) / 2.0
            momentum = (momentum_time - 1.0) / next_time
            momentum_time = next_time
            plain_step = momentum == 0.0
        finite = True
        theta_norm = 0.0
        for t in range(k):
            for j in range(d):
                z = new_theta[t, j]
                y_theta[t, j] = z + momentum * (z - theta[t, j])
                theta[t, j] = z
                theta_norm += z * z
                finite = finite and np.isfinite(z)
            z = new_beta[t]
            y_beta[t] = z + momentum * (z - beta[t])
            beta[t] = z
            finite = finite and np.isfinite(z)
        if epoch < record:
            theta_record[epoch] = theta
            beta_record[epoch] = beta
        scalars[0] = momentum_time
        scalars[1] = 1.0 if plain_step else 0.0
        scalars[2] = previous
        if not finite:
            return EPOCHS_NOT_FINITE, epoch + 1
        if tol >= 0.0 and mu > 0.0:
            prox_factor = 2.0 if l1 > 0.0 else 1.0
            floor = floor_factor * (L * np.sqrt(point_norm) + g0_norm) * prox_factor / mu
            if decoupled:
                bound = (
                    prox_factor * np.sqrt(gradient_squares) / mu + np.sqrt(intercept_squares) / 2.0
                )
                floor += floor_factor * intercept_terms / 2.0
            else:
                bound = prox_factor * np.sqrt(gradient_squares + intercept_squares) / mu
                floor += floor_factor * intercept_terms / mu
            theta_norm = np.sqrt(theta_norm)
            scalars[4] = bound / theta_norm if theta_norm > 0.0 else np.inf
            if bound <= tol * theta_norm:
                return EPOCHS_CONVERGED, epoch + 1
            if bound <= 0.5 * scalars[6]:
                scalars[6] = bound
                scalars[7] = 0.0
            else:
                scalars[7] += 1.0
            if bound <= floor or scalars[7] >= stall_epochs:
                return EPOCHS_AT_FLOOR, epoch + 1
    return EPOCHS_RUNNING, history.shape[0]
