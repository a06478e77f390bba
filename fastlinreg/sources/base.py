"""What a data source must provide: the protocol every solver and the estimator rely on.

A new source (a database cursor, ...) goes in a module of its own in this
package and offers every member of :class:`DataSource`; solvers then run on it unchanged.
Four capabilities are optional, and asked through ``isinstance`` against their runtime
protocols (never ``hasattr``):

- :class:`SliceableSource` (``rows(start, stop)``, for ``sgd``'s mini-batches):
  :class:`fastlinreg.sources.InMemorySource`, :class:`fastlinreg.sources.SparseSource`;
- :class:`FactoringSource` (``triangular_factor()``, the factor computed by the source
  rather than from ``row_blocks()`` here): :class:`fastlinreg.sources.DaskSource` (where
  the data lives), :class:`fastlinreg.sources.SparseSource` (from the sparse Gram);
- :class:`ColumnFactoringSource` (``column_factor()``, the columns' means and norms
  for feature scaling without dense blocks) and :class:`RowSquaresSource`
  (``largest_row_square()``, sgd's step bound without them):
  :class:`fastlinreg.sources.SparseSource`.

:class:`PassSource` is the part of the protocol a solver's objective reads (the passes
and the sizes they need). :class:`fastlinreg.sources.PrecomputedSource`, which answers
the passes from the triangular factor once it stands in for the rows, offers that part
only: it has no rows to count, give in blocks or check.

Shapes: n = n_samples rows, d = n_features, k = n_targets. Passes take and return
float64 arrays whatever the data's dtype.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, NoReturn, Protocol, runtime_checkable

import numpy as np

from ._tsqr import Factor


class PassSource(Protocol):
    """The passes of a fit and the sizes they need: what an objective reads."""

    @property
    def n_features(self) -> int:
        """d, the columns of X."""

    @property
    def n_targets(self) -> int:
        """k, the columns of Y (1 for a 1-D y)."""

    @property
    def total_weight(self) -> float:
        """S, the sum of the row weights (n without weights)."""

    @property
    def y_scale(self) -> float:
        """A power of two: the passes see Y / y_scale, so their losses are in units of
        y_scale² and their gradients of y_scale. 1.0 unless the source rescaled y (whose
        squares would otherwise underflow or overflow)."""

    @property
    def cheap_passes(self) -> bool:
        """True when a pass costs O(d² k) rather than a read of the data, so that solvers
        may afford exact curvature and many iterations."""

    def loss_grad(self, W: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """The (weighted) mean squared error over rows and targets and its gradients.

        Parameters
        ----------
        W : ndarray of shape (k, d), float64
        b : ndarray of shape (k,), float64

        Returns
        -------
        loss : float
            ``sum_t sum_i s_i r_it² / (S k)``, r = Y - X Wᵀ - b.
        G : ndarray of shape (k, d)
            ``G[t] = -2 / S Xᵀ (s r_t)``: the gradient of target t's MSE.
        gb : ndarray of shape (k,)
            ``gb[t] = -2 / S sum_i s_i r_it``.
        """

    def hessian_vector(self, V: np.ndarray, vb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The MSE's Hessian times the direction (V (k, d), vb (k,)), float64: (hv (k, d),
        hvb (k,)), the gradient at (V, vb) of the MSE against all-zero targets."""


class DataSource(PassSource, Protocol):
    """Rows of X (n, d), targets Y (n, k) and optional row weights, wherever they live:
    every member of :class:`PassSource`, and these."""

    @property
    def n_samples(self) -> int:
        """n, the rows. It may cost a pass (a CSV file is counted by reading it)."""

    @property
    def dtype(self) -> np.dtype:
        """X's dtype as the passes read it: float32 or float64."""

    @property
    def parallel(self) -> bool | None:
        """Passed to the kernels (None: each block's size decides); False also keeps the
        factor pass on one thread."""

    @property
    def checks_while_reading(self) -> bool:
        """True when every pass refuses NaN and infinity itself (streamed files, Dask), so
        that a caller need not call :meth:`check_values` first; False when the passes do
        not look (arrays in memory)."""

    def row_blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """One pass: the rows in consecutive blocks, in order, for the factor pass.

        Yields
        ------
        X : ndarray of shape (m, d), the source's dtype
        Y : ndarray of shape (m, k), X's dtype, column-major; Y / y_scale
        weights : ndarray of shape (m,), float64, or None without weights
        """

    def check_values(self) -> None:
        """Find and name the first bad value: NaN, infinity, or a column whose (weighted)
        norm is beyond float64 (see :func:`squares_limit`). Costs a read of the data
        (none where a pass already checked it all).

        Raises
        ------
        ValueError
            Naming the array (or file), the row and the column.
        """

    def repeated_passes(self) -> AbstractContextManager[DataSource]:
        """A context manager giving the source to run many passes on: a
        :class:`fastlinreg.FileSource` gives one over a binary copy of a text or Parquet
        file (removed on leaving), every other source itself."""


@runtime_checkable
class SliceableSource(Protocol):
    """A :class:`DataSource` whose rows can be sliced without a pass: ``sgd``'s
    mini-batches. Asked with ``isinstance(source, SliceableSource)``."""

    #: (n,) float64 row weights, or None (every row weighs 1).
    sample_weight: np.ndarray | None

    def rows(self, start: int, stop: int) -> Any:
        """The source (of the same type) of rows [start, stop), the same y_scale."""


@runtime_checkable
class FactoringSource(Protocol):
    """A :class:`DataSource` that computes its triangular factor in a pass of its own
    instead of ``row_blocks()`` here: where its data lives (a Dask cluster), or from
    its sparse Gram matrix (a sparse X). Asked with ``isinstance(source,
    FactoringSource)``."""

    def triangular_factor(self) -> Factor | None:
        """The factor of all rows, in y's own units; refuses bad values as a pass does.
        None where the source cannot do better than ``row_blocks()`` for these rows
        (the factor pass then reads those)."""


@runtime_checkable
class BlockSummingSource(Protocol):
    """A :class:`DataSource` that adds up a function of its row blocks where its data
    lives (a Dask cluster: on the workers), instead of bringing ``row_blocks()`` here.
    Asked with ``isinstance(source, BlockSummingSource)``."""

    def sum_over_blocks(self, name: str, function: Any, size: int, **kwargs: Any) -> np.ndarray:
        """The sum, in block order, of ``function(X, Y, weights, skip=False, **kwargs)``
        (a float64 array of ``size``) over the row blocks as ``row_blocks()`` gives them;
        bad values are refused as a pass refuses them. ``name`` names the tasks."""


@runtime_checkable
class ColumnFactoringSource(Protocol):
    """A :class:`DataSource` that finds its columns' means and centred norms (feature
    scaling) without the dense blocks of ``row_blocks()``: a sparse X, whose blocks
    would be wide and mostly zeros. Asked with ``isinstance(source,
    ColumnFactoringSource)``."""

    def column_factor(self) -> Factor:
        """A :class:`Factor` of X alone (no targets) whose R may be the single row of
        the columns' centred, weighted norms: feature scaling reads only R's column
        norms, the means and the total weight. NaN and infinity propagate into it (the
        caller checks it and asks ``check_values`` to name them)."""


@runtime_checkable
class RowSquaresSource(Protocol):
    """A :class:`DataSource` that finds its largest row norm without the dense blocks of
    ``row_blocks()`` (sgd's step bound): a sparse X. Asked with ``isinstance(source,
    RowSquaresSource)``."""

    def largest_row_square(self, center: np.ndarray, scale: np.ndarray) -> float:
        """max_i |(x_i - center) / scale|² over the rows of positive weight (0.0 for
        none)."""


class ArrayShapes:
    """n_samples, n_features and n_targets of a source holding X (n, d) and Y (n, k)."""

    X: Any
    Y: Any

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_targets(self) -> int:
        return int(self.Y.shape[1])


def squares_limit(n_columns: int) -> float:
    """The largest sum of squares of X, or of y, that a fit of ``n_columns`` columns of X
    and y accepts: the diagonal of XᵀX and the loss at zero must be finite, with room
    (16 * columns) for the sums built from them."""
    return float(np.finfo(np.float64).max / (16.0 * n_columns))


def refuse_bad_values(source: DataSource) -> NoReturn:
    """Raise for data whose sums overflowed: the source's own error naming the value
    (:meth:`DataSource.check_values`), or, where it finds none (finite values whose
    weighted squares overflow), a ValueError saying so."""
    source.check_values()
    raise ValueError(
        "A column of X or y is beyond float64: the root of its (weighted) sum of squares "
        "overflows (values near 1e308, or sample weights so large that weight times value "
        "squared does). Rescale it, e.g. divide it by a power of two."
    )
