"""Dask arrays and data frames as a data source: the fused kernels mapped over chunks.

A :class:`DaskSource` offers the protocol of :class:`fastlinreg.sources.base.DataSource`
(``loss_grad``, ``hessian_vector``, ``row_blocks``, ...) for data held by Dask, and
computes its triangular factor on the workers (``triangular_factor``, the capability
:class:`fastlinreg.sources.base.FactoringSource`). Each pass
builds one graph: a task per row chunk runs the in-memory code on that chunk and returns
small partial sums, and a tree of tasks adds them in chunk order; one ``dask.compute``
runs it on whatever scheduler is active (threads by default, a ``dask.distributed``
cluster when a Client is the default). The tree's shape depends only on the number of
chunks and every chunk's result only on its rows, so a pass gives bit-identical results
on every run and every scheduler; they equal the in-memory pass over the same rows to
rounding (the sums are grouped differently).

Dask is optional (``pip install 'fastlinreg[dask]'``): this module imports it only
when a Dask input is actually used.
"""

from __future__ import annotations

import copy
import sys
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np

from .. import _config, kernels
from . import _tsqr as tsqr
from ._powers_of_two import power_of_two_scale
from ._tsqr import Factor
from .base import ArrayShapes

DASK_MISSING = "Dask inputs need dask: pip install 'fastlinreg[dask]'"

# Partial results added by one task of the reduction tree. Any fixed number keeps the
# result deterministic; 8 keeps the tree shallow (3 levels for 512 chunks) while each
# task still gets enough work to be worth scheduling.
SPLIT_EVERY = 8

# What the input check of a pass looks for, in the order errors are reported.
_PROBLEMS = (
    ("X", "nan"),
    ("X", "inf"),
    ("y", "nan"),
    ("y", "inf"),
    ("sample_weight", "nan"),
    ("sample_weight", "inf"),
    ("sample_weight", "negative"),
)


def is_dask_collection(obj: Any) -> bool:
    """Whether ``obj`` is a Dask collection (array, data frame, series, ...).

    Never imports Dask: an object whose class comes from Dask exists only once Dask has
    been imported, so without ``dask`` in ``sys.modules`` the answer is False. That keeps
    ``fit`` on NumPy input free of Dask's import time, and works without Dask installed.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlinreg.sources.dask import is_dask_collection
    >>> is_dask_collection(np.ones(3))
    False
    """
    if sys.modules.get("dask") is None:  # never imported, or blocked
        return False
    import dask

    return bool(dask.is_dask_collection(obj))


def require_dask() -> None:
    """Raise an ImportError that says how to install Dask when it is missing."""
    try:
        import dask.array  # noqa: F401
    except ImportError as error:
        raise ImportError(DASK_MISSING) from error


class DaskSource(ArrayShapes):
    """X (n, d), targets Y (n, k) and optional row weights held by Dask, read chunk by chunk.

    Every pass is one ``dask.compute`` on the active scheduler. The first pass (or
    :meth:`check_values`) also checks the values: NaN or infinity in X, y or
    sample_weight, or a negative weight, raise ValueError naming the array.

    Parameters
    ----------
    X : dask array or dask DataFrame of shape (n_samples, n_features)
        float32 stays float32; other real numbers (int, bool, float16) are read as
        float64. Any chunking: it is rechunked lazily to a single chunk along the
        columns, and row chunks of unknown size are measured first (one extra pass).
        A DataFrame's column names are kept in ``feature_names``.
    Y : dask array, DataFrame, Series or array-like of shape (n_samples,) or (n_samples, n_targets)
        Rechunked to X's row chunks, lazily; each task converts its chunk to X's dtype.
    sample_weight : dask array, Series or array-like of shape (n_samples,), default=None
        Non-negative weights with a positive sum, read as float64 by each task; None
        weighs every row 1.
    parallel : bool or None, default=None
        Passed to the kernels for every chunk (None: each chunk's size decides).

    Attributes
    ----------
    X : dask array of shape (n_samples, n_features)
        As read: X's dtype (float32 or float64), one chunk along the columns.
    Y : dask array of shape (n_samples,) or (n_samples, n_targets)
        As given (any real dtype), in X's row chunks.
    sample_weight : dask array of shape (n_samples,) or None
        As given (any real dtype), in X's row chunks.
    feature_names : ndarray of shape (n_features,) of str, or None
        The columns of a DataFrame X when they are all strings (scikit-learn's rule for
        ``feature_names_in_``); None otherwise.
    dtype : numpy dtype
        X's dtype as read (float32 or float64).
    checks_while_reading : bool
        True: the first pass refuses bad values as it reads them.
    y_scale : float
        1.0: y is read as it is; the source of :meth:`repeated_passes` may read
        y / y_scale instead (a power of two, for y beyond 2**±256).

    Notes
    -----
    Y and the weights are converted (to X's dtype, a column per target, float64) inside
    the tasks, not by Dask layers: a layer such as ``y[:, None]`` is not fused with the
    tasks that read X, and would add a task per chunk to every pass.

    Every pass recomputes X from its graph: ``persist()`` the inputs first when they fit
    in the cluster's memory and the solver makes many passes. Rows are matched by
    position: the index of a dask DataFrame or Series is not used. The partition sizes
    of a DataFrame (or of an array with unknown chunk sizes) are measured when the
    source is made, which costs one pass over those inputs.
    """

    #: A pass reads all of X: solvers should not spend passes on extras.
    cheap_passes = False
    #: The first pass refuses NaN, infinity and negative weights as it reads them.
    checks_while_reading = True
    #: y is read as it is, except by the source of repeated_passes (see there).
    y_scale = 1.0

    def __init__(self, X, Y, sample_weight=None, *, parallel: bool | None = None):
        require_dask()
        import dask.array as da

        X, self.feature_names = _dask_array(X, "X")
        if not isinstance(X, da.Array):
            raise TypeError(f"X must be a dask array or dask DataFrame, got {type(X).__name__}")
        Y, _ = _dask_array(Y, "y")
        weights, _ = _dask_array(sample_weight, "sample_weight")
        X, Y, weights = _with_known_rows(X, Y, weights)

        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
        if X.dtype not in (np.float32, np.float64):
            if X.dtype.kind not in "biuf":
                raise TypeError(f"X must hold real numbers, got dtype {X.dtype}")
            X = X.astype(np.float64)
        n = X.shape[0]
        if n == 0:
            raise ValueError("X has 0 rows: there is nothing to fit")
        if len(X.chunks[1]) > 1:  # the kernels need whole rows
            X = X.rechunk({1: -1})
        rows = X.chunks[0]

        Y = _aligned(Y, "y", rows)
        if Y.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D or 2-D, got shape {Y.shape}")
        if Y.dtype.kind not in "biuf":
            raise TypeError(f"y must hold real numbers, got dtype {Y.dtype}")
        if sample_weight is not None:
            weights = _aligned(weights, "sample_weight", rows)
            if weights.ndim != 1:
                raise ValueError(f"sample_weight must have shape ({n},), got shape {weights.shape}")
            if weights.dtype.kind not in "biuf":
                raise TypeError(f"sample_weight must hold real numbers, got dtype {weights.dtype}")

        self.X, self.Y, self.sample_weight = X, Y, weights
        self.parallel = parallel
        self.dtype = np.dtype(X.dtype)
        self._checked = False
        self._total_weight: float | None = None

    @property
    def n_targets(self) -> int:
        return 1 if self.Y.ndim == 1 else int(self.Y.shape[1])

    @property
    def n_chunks(self) -> int:
        """Row chunks: the tasks of each pass that read the data."""
        return len(self.X.chunks[0])

    @property
    def total_weight(self) -> float:
        """The sum of the weights (n_samples without them): a pass over the weights only,
        made once."""
        if self._total_weight is None:
            weights = self.sample_weight
            self._total_weight = float(
                self.n_samples
                if weights is None
                else _compute(weights.sum(split_every=SPLIT_EVERY))
            )
        return self._total_weight

    def loss_grad(self, W: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """As :meth:`fastlinreg.sources.InMemorySource.loss_grad`: one pass over the chunks.

        Parameters
        ----------
        W : ndarray of shape (n_targets, n_features), float64
        b : ndarray of shape (n_targets,), float64

        Returns
        -------
        loss : float
            ``sum_t sum_i s_i r_it² / (S k)``, S the total weight.
        G : ndarray of shape (n_targets, n_features)
            ``G[t] = -2 / S X' (s r_t)``.
        gb : ndarray of shape (n_targets,)
            ``gb[t] = -2 / S sum(s r_t)``.
        """
        W = np.ascontiguousarray(W, dtype=np.float64)
        b = np.ascontiguousarray(b, dtype=np.float64)
        sq, xr, r, total = self._sums("loss-grad", _chunk_loss_grad, W, b, with_targets=True)
        return float(sq / (total * self.n_targets)), (-2.0 / total) * xr, (-2.0 / total) * r

    def hessian_vector(self, V: np.ndarray, vb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The MSE's Hessian times (V, vb), V (k, d), vb (k,): one pass over X's chunks.

        That is the gradient at (V, vb) of the MSE against all-zero targets; Y is not
        read (except by the input check of a first pass).
        """
        V = np.ascontiguousarray(V, dtype=np.float64)
        vb = np.ascontiguousarray(vb, dtype=np.float64)
        _, xr, r, total = self._sums(
            "hessian-vector", _chunk_hessian_vector, V, vb, with_targets=not self._checked
        )
        return (-2.0 / total) * xr, (-2.0 / total) * r

    def triangular_factor(self) -> Factor:
        """The :class:`fastlinreg.sources._tsqr.Factor` of all rows, in one pass.

        Each chunk is factored where it lies, in blocks of the same size as the
        in-memory pass (so a large chunk never needs a float64 copy of itself), and the
        chunks' factors are merged in chunk order by a tree of tasks. BLAS runs
        single-threaded throughout (:func:`fastlinreg.sources._tsqr.single_threaded_blas`).
        """
        p = self.n_features + self.n_targets
        parts = self._map_chunks("factor", _chunk_factor, p * p + p + 1, with_targets=True)
        with tsqr.single_threaded_blas():  # the threads of a local scheduler
            R, mean, total, problems = _unpack_factor(
                _compute(_tree(parts, _merge_factors, "factor-merge", n_columns=p)), p
            )
        self._raise_problems(problems)
        if not total > 0.0:
            raise ValueError("sample_weight sums to zero: there is nothing to fit")
        return Factor(R, mean, total, self.n_features)

    def row_blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """(X rows, Y rows, weights or None) of each row chunk in order, computed one at a time."""
        import dask

        check = not self._checked
        for i in range(self.n_chunks):
            weights = None if self.sample_weight is None else self.sample_weight.blocks[i]
            # One compute for the three: a task they share runs once.
            X, Y, weights = dask.compute(self.X.blocks[i], self.Y.blocks[i], weights)
            Y, weights = _targets(Y, X.dtype, self.y_scale), _weights(weights)
            if check:
                self._raise_problems(_find_problems(X, Y, weights), final=False)
            yield X, Y, weights
        if check:
            self._checked = True

    def repeated_passes(self) -> AbstractContextManager[DaskSource]:
        """The source itself (``persist()`` the inputs to spare the cluster the reads),
        or, when y's largest magnitude is beyond 2**±256 (1e-170, 1e+160: the squares
        in a loss would underflow or overflow), a copy of it that reads y divided by a
        power of two, ``y_scale``, as the in-memory source does. Finding that magnitude
        costs a pass over y."""
        largest = float(_compute(abs(self.Y).max(split_every=SPLIT_EVERY)))
        # NaN or infinity: left as it is, for the passes' check to name.
        y_scale = power_of_two_scale(np.array([[largest]])) if np.isfinite(largest) else 1.0
        if y_scale == 1.0:
            return nullcontext(self)
        source = copy.copy(self)
        source.y_scale = y_scale
        return nullcontext(source)

    def check_values(self) -> None:
        """Check every value, in one pass (unless a pass already did).

        A column whose norm overflows float64 is not named here: the passes' sums find
        it (see :func:`fastlinreg.sources.base.refuse_bad_values`).

        Raises
        ------
        ValueError
            When X, y or sample_weight holds NaN or infinity, or a weight is negative:
            the message names the array, the row and the chunk.
        """
        if self._checked:
            return
        parts = self._map_chunks("check", _chunk_problems, 0, with_targets=True, check=True)
        self._raise_problems(_compute(_tree(parts, _add_rows, "check-sum"))[0] > 0)

    def sum_over_blocks(self, name, function, size, **kwargs) -> np.ndarray:
        """``function(X, Y, weights, skip, **kwargs)`` of every chunk, on the workers,
        added by the fixed tree in chunk order (see
        :class:`fastlinreg.sources.base.BlockSummingSource`)."""
        parts = self._map_chunks(name, function, size, with_targets=True, **kwargs)
        row = _compute(_tree(parts, _add_rows, f"{name}-sum"))[0]
        self._raise_problems(row[size:] > 0)
        return row[:size]

    def _map_chunks(self, name, function, size, *, with_targets, check=None, **kwargs) -> list:
        """``function(X chunk, Y chunk or None, weights chunk or None, skip, **kwargs)``
        of every row chunk (tasks named ``fastlinreg-<name>``), each a float64 row
        (1, size + len(_PROBLEMS)), as a list of delayed objects in chunk order.

        The chunks are mapped by one ``blockwise`` over X, Y and the weights: Dask then
        optimizes them as one graph (a task that X and Y share, such as reading the
        file both come from, runs once per chunk) and fuses the mapped function with the
        tasks that make each chunk.
        """
        import dask.array as da

        args: list = [self.X, "ia"]
        if with_targets:
            args += [self.Y, "ib"[: self.Y.ndim]]
        if self.sample_weight is not None:
            args += [self.sample_weight, "i"]
        parts = da.blockwise(
            _chunk_call,
            "ij",
            *args,
            new_axes={"j": size + len(_PROBLEMS)},
            adjust_chunks={"i": 1},
            # Not concatenate=True: with it Dask copies every X chunk (np.concatenate of
            # its one column block) on every pass.
            concatenate=False,
            dtype=np.float64,
            meta=np.empty((0, 0)),
            token=f"fastlinreg-{name}",
            function=function,
            with_targets=with_targets,
            weighted=self.sample_weight is not None,
            check=not self._checked if check is None else check,
            y_scale=self.y_scale,
            **kwargs,
        )
        return parts.to_delayed().ravel().tolist()

    def _sums(self, name, function, W, b, *, with_targets):
        """(sum s r², X' s r, sum s r, S) over all chunks: ``function`` mapped, tree-summed."""
        k, d = W.shape
        parts = self._map_chunks(
            name,
            function,
            1 + k * d + k + 1,
            with_targets=with_targets,
            W=W,
            b=b,
            parallel=self.parallel,
        )
        row = _compute(_tree(parts, _add_rows, f"{name}-sum"))[0]
        self._raise_problems(row[-len(_PROBLEMS) :] > 0)
        total = row[1 + k * d + k]
        if not total > 0.0:
            raise ValueError("sample_weight sums to zero: there is nothing to fit")
        return row[0], row[1 : 1 + k * d].reshape(k, d), row[1 + k * d : 1 + k * d + k], total

    def _raise_problems(self, problems, final=True):
        """ValueError for the first problem found, in ``_PROBLEMS`` order; on none, and
        if ``final``, the data counts as checked."""
        for index, ((name, kind), found) in enumerate(zip(_PROBLEMS, problems, strict=True)):
            if not found:
                continue
            where = self._where(index)
            if kind == "nan":
                raise ValueError(f"Input {name} contains NaN{where}.")
            if kind == "inf":
                dtype = np.dtype(np.float64) if name == "sample_weight" else self.dtype
                raise ValueError(
                    f"Input {name} contains infinity or a value too large for {dtype!r}{where}."
                )
            raise ValueError(f"Input {name} contains negative values{where}.")
        if final:
            self._checked = True

    def _where(self, index) -> str:
        """ " at row R (chunk C)": the first value with problem ``_PROBLEMS[index]``.

        The passes only count problems (a sum over chunks); this pass, made only to word
        the error, finds the first chunk with one, then the row in it.
        """
        import dask

        name, kind = _PROBLEMS[index]
        parts = self._map_chunks("locate", _chunk_problems, 0, with_targets=True, check=True)
        counts = dask.compute(*parts)
        chunk = next(c for c, row in enumerate(counts) if row[0, index] > 0)
        array = {"X": self.X, "y": self.Y, "sample_weight": self.sample_weight}[name]
        values = np.asarray(array.blocks[chunk].compute())
        if name == "y":  # as the tasks read it: a float64 y may overflow a float32 X
            values = _targets(values, self.dtype, self.y_scale)
        values = values.reshape(values.shape[0], -1)
        bad = {"nan": np.isnan(values), "inf": np.isinf(values), "negative": values < 0.0}[kind]
        bad = bad.any(axis=1)
        start = int(sum(self.X.chunks[0][:chunk]))
        return f" at row {start + int(np.argmax(bad))} (chunk {chunk})"


# From here to "Client side", the functions run inside the tasks: module-level functions,
# so that a process-based cluster can pickle them by reference. Each chunk's
# result travels as one float64 row, [its numbers..., one count per _PROBLEMS entry],
# which a tree of tasks adds (or merges) in chunk order.


def _only_block(blocks):
    """The single block of a list of column blocks (a bare array passes through)."""
    if isinstance(blocks, list):
        if len(blocks) != 1:
            raise ValueError(f"expected one column chunk, got {len(blocks)}")
        return blocks[0]
    return blocks


def _chunk_call(X, *blocks, function, with_targets, weighted, check, y_scale, **kwargs):
    """Unpack blockwise's blocks into (X, Y / y_scale or None, weights or None) for
    ``function``, and append the chunk's problem counts (zeros when not ``check``)."""
    # The contracted (column) index arrives as a list of blocks: one, since the
    # columns are a single chunk.
    X = _only_block(X)
    Y = _targets(_only_block(blocks[0]), X.dtype, y_scale) if with_targets else None
    weights = _weights(blocks[-1]) if weighted else None
    problems = _find_problems(X, Y, weights) if check else np.zeros(len(_PROBLEMS), bool)
    numbers = function(X, Y, weights, skip=bool(problems.any()), **kwargs)
    return np.concatenate([numbers, problems.astype(np.float64)])[None, :]


def _targets(Y, dtype, y_scale: float) -> np.ndarray:
    """A chunk of y / y_scale as the kernels read it: (rows, targets), column-major, in
    X's dtype (a value beyond float32 becomes inf, which the input check then names).
    Divided in float64 before the cast: exact, y_scale being a power of two."""
    if y_scale != 1.0:
        Y = np.asarray(Y, dtype=np.float64) / y_scale
    with np.errstate(over="ignore"):
        return np.asfortranarray(Y if Y.ndim == 2 else Y[:, None], dtype=dtype)


def _weights(weights) -> np.ndarray | None:
    return None if weights is None else np.ascontiguousarray(weights, dtype=np.float64)


def _chunk_loss_grad(X, Y, weights, *, skip, W, b, parallel):
    """[sum s r², X' s r (k * d), sum s r (k), sum s] of one chunk."""
    k, d = W.shape
    weight = float(X.shape[0]) if weights is None else float(np.sum(weights))
    sums = np.zeros(1 + k * d + k + 1)
    sums[-1] = weight
    if skip or X.shape[0] == 0 or weight == 0.0:
        # Nothing to add (and the kernel would divide by the zero weight).
        return sums
    loss, G, gb = kernels.loss_grad(X, Y, W, b, sample_weight=weights, parallel=parallel)
    # The kernel returns means over the chunk's own weight: back to sums, so that
    # chunks of different weights add up.
    half = -0.5 * weight
    sums[0] = loss * weight * k
    sums[1 : 1 + k * d] = (G * half).ravel()
    sums[1 + k * d : 1 + k * d + k] = np.asarray(gb) * half
    return sums


def _chunk_hessian_vector(X, Y, weights, *, skip, W, b, parallel):
    """As :func:`_chunk_loss_grad` at (W, b) = (V, vb) against zero targets."""
    # A broadcast view (stride 0), as in the in-memory source: no chunk-sized array.
    zeros = np.broadcast_to(np.zeros((1, W.shape[0]), dtype=X.dtype), (X.shape[0], W.shape[0]))
    return _chunk_loss_grad(X, zeros, weights, skip=skip, W=W, b=b, parallel=parallel)


def _add_rows(*rows):
    """The sum of several partial rows, added left to right (a fixed order)."""
    total = rows[0]
    for row in rows[1:]:
        total = total + row  # a new array: a threaded scheduler may still hold the inputs
    return total


def _chunk_factor(X, Y, weights, *, skip):
    """[R (p * p), mean (p), weight] of one chunk; weight 0 when it has none."""
    p = X.shape[1] + Y.shape[1]
    if skip:  # a NaN would make LAPACK fail before the error could be reported
        return np.zeros(p * p + p + 1)
    block = _config.rows_per_factor_block(p)
    merged = None
    with tsqr.single_threaded_blas():
        starts = range(0, X.shape[0], block)
        per_merge = tsqr.blocks_per_merge(p)
        for first in range(0, len(starts), per_merge):
            group = []
            for start in starts[first : first + per_merge]:
                rows = slice(start, start + block)
                w = None if weights is None else weights[rows]
                if w is None or np.sum(w) > 0.0:
                    group.append(tsqr.block_factor(X[rows], Y[rows], w))
            merged = tsqr.merged(([] if merged is None else [merged]) + group, tsqr.stack_factors)
    return _pack_factor(merged, p)


def _merge_factors(*rows, n_columns):
    """One factor row for several, merged in order (their problem counts added)."""
    parts = [_unpack_factor(row, n_columns) for row in rows]
    problems = np.sum([part[3] for part in parts], axis=0)
    merged = None
    if not problems.any():
        with tsqr.single_threaded_blas():
            merged = tsqr.merged([part[:3] for part in parts], tsqr.stack_factors)
    return np.concatenate([_pack_factor(merged, n_columns), problems])[None, :]


def _pack_factor(merged, p) -> np.ndarray:
    if merged is None:
        return np.zeros(p * p + p + 1)
    R, mean, weight = merged
    return np.concatenate([R.ravel(), mean, [weight]])


def _unpack_factor(row, p):
    """(R, mean, weight, problem counts) of a factor row (1, p * p + p + 1 + problems)."""
    row = row[0]
    return (
        row[: p * p].reshape(p, p),
        row[p * p : p * p + p],
        float(row[p * p + p]),
        row[-len(_PROBLEMS) :],
    )


def _chunk_problems(X, Y, weights, *, skip):
    return np.zeros(0)  # _chunk_call appends the counts


def _find_problems(X, Y, weights) -> np.ndarray:
    """Flags in ``_PROBLEMS`` order for one chunk (Y or weights may be None)."""
    found = np.zeros(len(_PROBLEMS), dtype=bool)
    for position, values in enumerate((X, Y, weights)):
        if values is None or values.size == 0:
            continue
        # One float64 sum is finite for nearly all clean data and costs a read; only
        # then are the two element-wise tests (and their temporaries) needed.
        if np.isfinite(np.sum(values, dtype=np.float64)):
            continue
        found[2 * position] = np.isnan(values).any()
        found[2 * position + 1] = np.isinf(values).any()
    if weights is not None and weights.size:
        found[6] = bool(np.any(weights < 0.0))
    return found


def _n_rows(block) -> int:
    return int(block.shape[0])


# Client side: graph building.


def _delayed(function):
    import dask

    return dask.delayed(function, pure=False)


def _tree(parts: list, combine, name, **kwargs):
    """``combine`` applied to SPLIT_EVERY consecutive parts at a time, level by level,
    until one remains: a fixed tree in chunk order (tasks named ``fastlinreg-<name>``)."""
    while len(parts) > 1:
        parts = [
            _delayed(combine)(
                *parts[start : start + SPLIT_EVERY],
                dask_key_name=f"fastlinreg-{name}-{uuid.uuid4().hex}",
                **kwargs,
            )
            for start in range(0, len(parts), SPLIT_EVERY)
        ]
    return parts[0]


def _compute(obj):
    import dask

    return dask.compute(obj)[0]


def _dask_array(obj, name):
    """(dask array or None, feature names or None) of a Dask input; numpy-like inputs
    give (obj, None) untouched, None gives (None, None)."""
    if obj is None or not is_dask_collection(obj):
        return obj, None
    import dask.array as da

    if isinstance(obj, da.Array):
        return obj, None
    if _is_dask_frame(obj):
        names = None
        columns = getattr(obj, "columns", None)
        if columns is not None and len(columns) and all(isinstance(c, str) for c in columns):
            names = np.asarray(list(columns), dtype=object)
        # Row counts unknown for now: _with_known_rows measures all inputs in one pass.
        return obj.to_dask_array(), names
    raise TypeError(
        f"{name} must be a dask array, DataFrame or Series, got {type(obj).__module__}."
        f"{type(obj).__name__}"
    )


def _is_dask_frame(obj) -> bool:
    """Whether ``obj`` is a dask DataFrame or Series (dask.dataframe, and pandas, are only
    imported when such an object exists)."""
    if sys.modules.get("dask.dataframe") is None:
        return False
    import dask.dataframe as dd

    return isinstance(obj, dd.DataFrame | dd.Series)


def _with_known_rows(*arrays):
    """The arrays with their row-chunk sizes known, measured in one pass where unknown."""
    import dask
    import dask.array as da

    unknown = [
        position
        for position, array in enumerate(arrays)
        if isinstance(array, da.Array) and array.ndim and np.isnan(array.chunks[0]).any()
    ]
    if not unknown:
        return arrays
    blocks = [
        arrays[position]
        .to_delayed(optimize_graph=False)
        .reshape(len(arrays[position].chunks[0]), -1)[:, 0]
        for position in unknown
    ]
    counts = dask.compute([[_delayed(_n_rows)(block) for block in column] for column in blocks])[0]
    arrays = list(arrays)
    for position, rows in zip(unknown, counts, strict=True):
        array = arrays[position]
        chunks = (tuple(int(count) for count in rows),) + array.chunks[1:]
        arrays[position] = da.Array(array.dask, array.name, chunks, dtype=array.dtype)
    return tuple(arrays)


def _aligned(array, name, rows):
    """``array`` as a dask array with X's row chunks (``rows``), one chunk across."""
    import dask.array as da

    if not isinstance(array, da.Array):
        array = np.asarray(array)
        if array.ndim == 0:
            raise ValueError(f"{name} must be an array of shape ({sum(rows)}, ...), got a scalar")
    if array.shape[0] != sum(rows):
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{sum(rows)}, {array.shape[0]}] (X, {name})"
        )
    chunks = (rows,) + tuple((size,) for size in array.shape[1:])
    if isinstance(array, da.Array):
        return array if array.chunks == chunks else array.rechunk(chunks)
    return da.from_array(array, chunks=chunks)
