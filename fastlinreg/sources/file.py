"""A data file as a source: ``.npy``, ``.csv`` and ``.parquet`` streamed in row batches.

A :class:`FileSource` answers the passes of :class:`fastlinreg.sources.InMemorySource`
(``loss_grad``, ``hessian_vector``, ``row_blocks``) for a table in a file, reading it
front to back once per pass and holding at most one batch of rows at a time: data larger
than memory can be fitted (solvers ``gd``, ``agd`` and ``exact``; ``sgd`` slices rows and
needs the data in memory or memory-mapped).

The file is read as the readers' ``read_table`` reads it (the same formats, the same
float64 values bit for bit) and split as their ``split_target`` splits it; its errors
carry the same one-line messages, naming the file and, for one cell, its line (CSV) or
row (Parquet, ``.npy``) and column.

Without a target (``target=None``) every column is a feature and the source gives
:meth:`FileSource.feature_batches` only: the rows to predict, a batch at a time, as
``fastlinreg predict`` reads its data file.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from fastlinreg import FileSource
>>> with tempfile.TemporaryDirectory() as folder:
...     path = os.path.join(folder, "houses.csv")
...     with open(path, "w") as file:
...         _ = file.write("area,price,rooms\\n50,100,2\\n80,160.5,3\\n70,140,3\\n")
...     source = FileSource(path, "price", batch_rows=2)
...     blocks = list(source.row_blocks())
...     loss, G, gb = source.loss_grad(np.zeros((1, 2)), np.zeros(1))
...     rows = list(FileSource(path, None, batch_rows=2).feature_batches())
>>> source.n_samples, source.n_features, source.feature_names
(3, 2, ['area', 'rooms'])
>>> [X.shape for X, Y, weights in blocks]
[(2, 2), (1, 2)]
>>> float(loss) == (100.0**2 + 160.5**2 + 140.0**2) / 3
True
>>> [X.tolist() for X in rows]  # target=None: every column, to predict
[[[50.0, 100.0, 2.0], [80.0, 160.5, 3.0]], [[70.0, 140.0, 3.0]]]
"""

from __future__ import annotations

import array
import copy
import os
import struct
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from tqdm import tqdm

from .. import _config, kernels
from ..errors import DataError
from ._powers_of_two import column_norms, max_abs, power_of_two_scale
from ._readers import (
    EXPECTED_FORMATS,
    ArrowRefused,
    ReadPosition,
    Table,
    append_csv_row,
    arrow_csv_blocks,
    csv_head,
    csv_records,
    first_line,
    import_pyarrow,
    npy_index,
    npy_shape,
    parquet_data_columns,
    parquet_errors,
    refuse_non_finite_cells,
    unknown_column_message,
)
from .base import squares_limit

__all__ = ["FileSource"]

_FORMATS = (".csv", ".parquet", ".npy")
# Seconds a pass runs before its progress bar shows: shorter passes show nothing.
_PROGRESS_DELAY = 1.0


class FileSource:
    """The rows of a ``.csv``, ``.parquet`` or ``.npy`` file, streamed in batches.

    Features are every column but the target, in file order; the target is the one
    column of ``Y``. Every pass reads the file from the start, ``batch_rows`` rows at a
    time, so memory holds one batch (not the file) whatever its size.

    With ``target=None`` there is no ``Y``: every column is a feature, and only
    :meth:`feature_batches` is available (the passes of a fit need a target).

    Parameters
    ----------
    path : str or path-like
        The file, read as :func:`fastlinreg.sources._readers.read_table` reads it (format by
        extension, any case): a CSV file with a header row, a Parquet file of integer
        and floating-point columns (needs pyarrow), or a 2-D numeric ``.npy`` array
        (memory-mapped, never unpickled). It must not change while the source is used.
    target : str or None
        The target column's name; for a ``.npy`` file also an index such as ``"-1"``
        (or the int ``-1``), as in ``fastlinreg.sources._readers.split_target``. None: no
        target, every column is a feature (rows to predict; :meth:`feature_batches` only).
    batch_rows : int, default=65536
        Rows read and converted at a time. Memory for a batch is about
        ``2 * batch_rows * n_columns * 8`` bytes (the rows as read and as X, y); a
        larger batch means fewer Python-level steps per pass.
    parallel : bool or None, default=None
        Passed to the kernels for every batch (None: each batch's size decides).
    spill_dir : str or path-like or None, default=None
        Where :meth:`repeated_passes` writes its temporary ``.npy`` copy of a CSV
        file (None: ``tempfile.gettempdir()``).
    progress : bool, default=False
        Show a progress bar on stderr for every pass that lasts over a second: bytes
        of a CSV file (with rate and time left), rows of a Parquet or ``.npy`` file.
        It is removed when the pass ends.

    Attributes
    ----------
    path : str
        The file, as given: every message names it so.
    target : str or None
        The target column's name (for a ``.npy`` file, its index as a string: ``"4"``
        for ``"-1"`` in a file of 5 columns); None without a target.
    feature_names : list of str
        The other columns' names (every column's without a target), in file order: the
        columns of ``X``.
    n_samples : int
        Rows of data. Read from the header (``.npy``) or the metadata (Parquet); a
        CSV file's is known after its first complete pass, and asking before that
        makes one (see Notes).
    n_samples_known : bool
        Whether ``n_samples`` is known without a pass.
    rows_read : int
        Rows read by the passes so far (counted as they are read; a pass that stops
        early counts what it read), those of the copy of :meth:`repeated_passes`
        included.
    n_features : int
    n_targets : int
        1, or 0 without a target.
    dtype : numpy dtype
        float64: every format is read as float64, as ``read_table`` does.
    total_weight : float
        ``n_samples``: there are no sample weights (every row weighs 1).
    batch_rows : int
    parallel : bool or None
    spill_dir : str or None
    progress : bool
    cheap_passes : bool
        False: a pass reads the whole file.
    checks_while_reading : bool
        True: every pass refuses a bad cell as it reads it.
    y_scale : float
        1.0: the target is read as it is; the source of :meth:`repeated_passes` may
        read y / y_scale instead (a power of two, for y beyond 2**±256).

    Raises
    ------
    FileNotFoundError
        ``"No such file: PATH"``, here or when a pass finds the file gone.
    DataError
        An unsupported extension, an unreadable header, schema or array header, an
        unknown target column (the message of :func:`fastlinreg.sources._readers.split_target`), or
        a target that is the only column. Bad cells are found by the passes.
    MissingDependencyError
        A Parquet file, and pyarrow is not installed.

    Notes
    -----
    **Errors in the data** (a cell that is not a number, a missing value, NaN or an
    infinity, a ragged CSV row) are found by the pass that reads them and raise
    :class:`fastlinreg.DataError` with ``read_table``'s message for that cell. A file
    with several problems reports the first one in file order, which can differ from
    the one ``read_table`` reports (it parses all of a CSV file before it looks for NaN).
    Once a pass has read the whole file, later passes skip the NaN/infinity check.

    **Row count of a CSV file**: only reading the records tells how many rows a CSV
    file has (blank lines and quoted line breaks make counting lines wrong). A
    completed pass records the count; ``n_samples`` asked before any pass has completed
    makes a pass of its own (parsing and checking every cell), so a caller that can
    wait checks ``n_samples_known`` first.

    **Parsing a CSV file**: pyarrow parses it (``pyarrow.csv.read_csv`` on chunks of
    1 MB of whole lines, their numbers copied into the batches). Cells are numbers of a
    strict grammar: an optional sign, ASCII digits with an optional fraction and
    exponent, whitespace around (``"1_000"``, non-ASCII digits and hex floats are not
    numbers), read to the same float64 as ``float()``. From where pyarrow stops (a bad
    cell, or a quoted one, which it is not asked to read), the Python reader of
    ``read_table`` takes over (several times slower): it reads quoted cells and names the line
    and column of a bad one. A file with quoted cells is read by it alone on later
    passes. The rows given before are pyarrow's: the same values.

    **Many passes**: :meth:`repeated_passes` reads a CSV or Parquet file once into a
    temporary ``.npy`` file and answers the passes from it, memory-mapped.

    **Memory**: ``loss_grad`` and ``hessian_vector`` reuse one batch buffer per pass.
    ``row_blocks`` gives new arrays per batch, cut into blocks of at most
    ``fastlinreg._config.rows_per_factor_block`` rows (the block of the in-memory
    precompute pass); :func:`fastlinreg.sources._factor.triangular_factor` keeps a
    block per thread and one more alive at once, so its pass holds a few blocks of
    4 MB and the two batches they come from, whatever the file's size. A Parquet file
    is decoded by pyarrow a row group at a time, so its passes also hold a few of the
    file's row groups, whatever ``batch_rows`` is (``pyarrow.parquet.write_table`` puts
    up to 1,048,576 rows in a group unless told otherwise by ``row_group_size``). A
    CSV pass also holds a chunk of text (1 MB; more for long lines, to 64 MB or one
    line) and its numbers.

    **Changes**: the file's size and modification time are recorded when the source is
    made; a pass that finds them changed, or a row count that differs from the first,
    raises DataError: make a new source for a new file.

    **Without a target** the NaN/infinity and row-count checks are the same: every
    column is checked, as :func:`fastlinreg.sources._readers.read_table` checks it, so a bad
    cell in a column the caller then ignores is still an error.

    There are no sample weights, and no ``rows`` to slice (a file is streamed front to
    back): the ``sgd`` solver's mini-batches need the data in memory or memory-mapped.
    A float64 ``.npy`` file fits faster through
    ``np.load(path, mmap_mode="r")`` (no per-batch copies) when it fits the page cache.
    """

    #: A pass reads the whole file: solvers should not spend passes on extras.
    cheap_passes = False
    #: Every pass refuses a bad cell as it reads it (see the Notes).
    checks_while_reading = True
    #: y is read as it is, except by the source of repeated_passes (see there).
    y_scale = 1.0

    def __init__(
        self,
        path: str | os.PathLike[str],
        target: str | None,
        *,
        batch_rows: int = 65536,
        parallel: bool | None = None,
        spill_dir: str | os.PathLike[str] | None = None,
        progress: bool = False,
    ):
        path = os.fspath(path)
        if isinstance(batch_rows, bool) or not isinstance(batch_rows, (int, np.integer)):
            raise TypeError(f"batch_rows must be an int, got {type(batch_rows).__name__}")
        if batch_rows < 1:
            raise ValueError(f"batch_rows must be at least 1, got {batch_rows}")
        if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
            target = str(int(target))  # an index into a .npy file's columns
        if target is not None and not isinstance(target, str):
            raise TypeError(
                f"target must be a column name (str) or None, got {type(target).__name__}"
            )
        self.path = path
        self.batch_rows = int(batch_rows)
        self.parallel = parallel
        self.spill_dir = None if spill_dir is None else os.fspath(spill_dir)
        self.progress = bool(progress)
        # A CSV file's: the physical lines up to the end of its header (pyarrow skips
        # them); whether pyarrow refused it, so that the Python reader reads it.
        self._header_lines = 0
        self._csv_python = False
        # How far the pass in progress has read the CSV file, for its progress bar.
        self._csv_position = ReadPosition()
        # Rows read by every pass: a list, shared with the copy of repeated_passes.
        self._rows_read = [0]
        self._format = _file_format(path)
        self._stamp = _stamp(path)
        try:
            columns, n_rows = {
                ".csv": self._csv_columns,
                ".parquet": self._parquet_columns,
                ".npy": self._npy_columns,
            }[self._format]()
        except FileNotFoundError:  # removed between the check and the read
            raise FileNotFoundError(f"No such file: {path}") from None
        self._columns = columns
        self.target: str | None
        self._target_index: int | None
        if target is None:
            self._target_index = self.target = None
            self.feature_names = list(columns)
        else:
            t = self._target_index = _target_index(path, columns, target)
            self.target = columns[t]
            self.feature_names = columns[:t] + columns[t + 1 :]
        self._n_samples: int | None = n_rows
        # NaN/inf checks stop once a pass has read (and checked) the whole file.
        self._checked = False

    def __repr__(self) -> str:
        return f"FileSource({self.path!r}, target={self.target!r}, batch_rows={self.batch_rows})"

    # --- the attributes of a source ----------------------------------------------------

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.float64)

    @property
    def n_samples(self) -> int:
        if self._n_samples is None:
            # A CSV file: one checking pass counts its records (see the class Notes).
            for _ in self._checked_batches():
                pass
        assert self._n_samples is not None
        return self._n_samples

    @property
    def n_samples_known(self) -> bool:
        """Whether ``n_samples`` is known without a pass: always for ``.npy`` and Parquet
        files, after the first complete pass for a CSV file."""
        return self._n_samples is not None

    @property
    def rows_read(self) -> int:
        return self._rows_read[0]

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def n_targets(self) -> int:
        return 0 if self._target_index is None else 1

    @property
    def total_weight(self) -> float:
        return float(self.n_samples)

    # --- passes ------------------------------------------------------------------------

    def loss_grad(self, W: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """The MSE and its gradients, as :meth:`fastlinreg.sources.InMemorySource.loss_grad`.

        One pass: the fused kernel runs on each batch, and the batches' sums are added
        in file order (the same numbers as one kernel call on the whole file, to
        rounding: the sums are grouped differently).

        Parameters
        ----------
        W : ndarray of shape (1, n_features), float64
        b : ndarray of shape (1,), float64

        Returns
        -------
        loss : float
            ``sum(r²) / n``, r = y - X W' - b.
        G : ndarray of shape (1, n_features)
            ``-2 / n X' r``.
        gb : ndarray of shape (1,)
            ``-2 / n sum(r)``.
        """
        self._need_target("loss_grad")
        return self._mean_over_batches(W, b, zero_targets=False)

    def hessian_vector(self, V: np.ndarray, vb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The MSE's Hessian times (V, vb), V (1, d), vb (1,): one pass over the file.

        That is the gradient at (V, vb) of the MSE against all-zero targets (the
        target column is read and checked, not used).
        """
        self._need_target("hessian_vector")
        _, hv, hvb = self._mean_over_batches(V, vb, zero_targets=True)
        return hv, hvb

    def row_blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray, None]]:
        """(X rows, Y rows, None) in file order: the single pass of the precompute solvers.

        Yields
        ------
        X : ndarray of shape (m, n_features), float64, C-contiguous
        Y : ndarray of shape (m, 1), float64 (column-major, trivially)
        None
            No sample weights.

        Each batch is a new pair of arrays, handed out in blocks of at most
        ``min(batch_rows, _config.rows_per_factor_block(n_features + 1))`` rows (views
        of the batch): a consumer that keeps several blocks, as the precompute pass
        keeps up to 32, then pins at most 32 factor blocks' worth of memory rather
        than 32 batches (see the class Notes).
        """
        self._need_target("row_blocks")
        block = min(self.batch_rows, _config.rows_per_factor_block(self.n_features + 1))
        for X, Y in self._xy_batches(reuse=False):
            for start in range(0, X.shape[0], block):
                yield X[start : start + block], Y[start : start + block], None

    def feature_batches(self) -> Iterator[np.ndarray]:
        """The rows' features, a batch at a time, in file order: one pass over the file.

        With or without a target; the rows to predict when there is none.

        Yields
        ------
        X : ndarray of shape (m, n_features), float64
            At most ``batch_rows`` rows; each batch is its own array (or view), still
            valid after the next is read. With a target, a new C-contiguous array
            without the target column. Without one, the rows as read: a new
            C-contiguous array for CSV and Parquet; for a ``.npy`` file, in the file's
            memory order (C or Fortran), a read-only view of the mapped file (float64)
            or a converted copy (other dtypes).

        Raises
        ------
        DataError
            A bad cell, with the message of :func:`fastlinreg.sources._readers.read_table` (raised
            when the batch that holds it is read: earlier batches have been yielded).
        """
        if self._target_index is None:
            yield from self._checked_batches()
        else:
            for X, _ in self._xy_batches(reuse=False):
                yield X

    @contextmanager
    def repeated_passes(self) -> Iterator[FileSource]:
        """A context manager: a source of the same rows for a solver that makes many passes.

        For a CSV or Parquet file, one pass reads it into a temporary ``.npy`` file
        (float64, C order) in ``spill_dir``, and the source given answers every pass
        from that file, memory-mapped: the same ``feature_names``, ``target``,
        ``n_samples`` and float64 values, bit for bit, with no parsing or decoding. The
        file takes ``8 * n_samples * (n_features + 1)`` bytes, and is removed on leaving
        the block, whatever ends it (an error, KeyboardInterrupt). A bad cell stops that
        pass with its DataError. A ``.npy`` file is not copied: it gives the source
        itself (or, for a target beyond the safe range, see below, a copy of it).

        A pass over the copy skips parsing and decoding: many times faster than over a
        CSV file, several times faster than over a Parquet file.

        A target whose largest magnitude is beyond 2**±256 (1e-170, 1e+160: the
        squares in a loss would underflow or overflow) is read divided by a power of
        two, ``y_scale``, as the in-memory source reads it; the copying pass finds its
        largest value (for a ``.npy`` file, a pass of its own; the source given is then
        this one, or a copy of it reading y / y_scale).

        Yields
        ------
        FileSource

        Examples
        --------
        >>> with source.repeated_passes() as passes:  # doctest: +SKIP
        ...     model.fit(passes)
        """
        t = self._target_index
        if self._format == ".npy":
            if t is None:
                yield self
                return
            batches = self._checked_batches()
            largest = max((float(max_abs(data[:, t : t + 1])[0]) for data in batches), default=0.0)
            y_scale = power_of_two_scale(np.array([[largest]]))
            if y_scale == 1.0:
                yield self
                return
            source = copy.copy(self)
            source.y_scale = y_scale
            yield source
            return
        folder = tempfile.gettempdir() if self.spill_dir is None else self.spill_dir
        descriptor, spill = tempfile.mkstemp(prefix="fastlinreg-", suffix=".npy", dir=folder)
        try:
            with os.fdopen(descriptor, "wb") as file:
                n_columns = len(self._columns)
                # The header's size for the longest row count: the real one, written
                # once the rows are counted, is padded to it.
                header_size = len(_npy_header((10**19, n_columns)))
                file.seek(header_size)
                n_rows = 0
                largest = 0.0  # of the target's magnitudes
                for data in self._checked_batches():
                    file.write(np.ascontiguousarray(data).data)
                    n_rows += data.shape[0]
                    if t is not None:
                        largest = max(largest, float(max_abs(data[:, t : t + 1])[0]))
                file.seek(0)
                file.write(_npy_header((n_rows, n_columns), header_size))
            target = None if self._target_index is None else str(self._target_index)
            source = FileSource(
                spill,
                target,
                batch_rows=self.batch_rows,
                parallel=self.parallel,
                progress=self.progress,
            )
            source._columns = self._columns
            source.target, source.feature_names = self.target, self.feature_names
            source._rows_read = self._rows_read
            source.y_scale = power_of_two_scale(np.array([[largest]]))
            yield source
        finally:
            os.remove(spill)

    def check_values(self) -> None:
        """Refuse a column whose norm overflows float64, naming its largest value: one pass.

        The estimator's precompute calls it when the factor of the data is not finite
        or its columns' norms are beyond the limit, so that the error names the value.
        The test is the one of :meth:`fastlinreg.sources.InMemorySource.check_values`:
        a column (of X or the target) whose norm, the root of its sum of squares
        (computed without overflow), exceeds ``base.squares_limit(n_columns)``
        (about 1e306 for a few columns: values near the largest float64).

        Raises
        ------
        DataError
            Naming the file, the line (CSV) or row (others) and the column of the
            largest value of the first such column (its first occurrence); or a bad
            cell's DataError, as any pass.
        """
        n_columns = len(self._columns)
        norms = np.zeros(n_columns)
        largest = np.zeros(n_columns)  # each column's value of largest magnitude...
        where = np.zeros(n_columns, dtype=np.int64)  # ... and its first row (from 0)
        first = 0  # rows before this batch
        for data in self._checked_batches():
            norms = column_norms(np.vstack([norms, column_norms(data)]))
            rows = np.argmax(np.abs(data), axis=0)
            values = data[rows, np.arange(n_columns)]
            larger = np.abs(values) > np.abs(largest)
            largest[larger] = values[larger]
            where[larger] = first + rows[larger]
            first += data.shape[0]
        for j in np.flatnonzero(~(norms <= squares_limit(n_columns)))[:1]:
            row = int(where[j])
            place = f"line {self._csv_line(row)}" if self._format == ".csv" else f"row {row + 1}"
            raise DataError(
                f"{self.path} {place}, column {self._columns[j]!r}: {largest[j]:.3g} is too "
                "large: the root of the sum of squares of its column overflows float64; "
                "rescale the column, e.g. divide it by a power of two"
            )

    def _csv_line(self, row: int) -> int:
        """The line where data row ``row`` (from 0) of the CSV file starts: the Python
        reader reads up to it (on error paths only)."""
        records = csv_records(self.path)
        next(records)  # the header
        for _ in range(row):
            next(records)
        return next(records)[0]

    # --- the pass machinery ------------------------------------------------------------

    def _need_target(self, what: str) -> None:
        """Refuse the passes of a fit on a source without a target."""
        if self._target_index is None:
            raise ValueError(
                f"{what} needs a target column, and FileSource({self.path!r}, target=None) "
                "has none: give the target's name, or use feature_batches() to predict"
            )

    def _mean_over_batches(self, W, b, *, zero_targets: bool):
        """(loss, G, gb) of the whole file from the kernel's per-batch means.

        ``kernels.loss_grad`` returns means over a batch of m rows (loss = sum r² / (m k),
        G = -2 / m X'r, gb = -2 / m sum r): times m they are the batch's sums, which add
        up over batches and are divided by n at the end.
        """
        W = np.ascontiguousarray(W, dtype=np.float64)
        b = np.ascontiguousarray(b, dtype=np.float64)
        k = W.shape[0] if W.ndim == 2 else 1
        # One zero row broadcast to every batch: no batch-sized array of zeros.
        zero_row = np.zeros((1, k))
        squares = 0.0
        xr = np.zeros(W.shape)
        r = np.zeros(b.shape)
        n = 0
        for X, Y in self._xy_batches(reuse=True):
            m = X.shape[0]
            targets = np.broadcast_to(zero_row, (m, k)) if zero_targets else Y
            loss, G, gb = kernels.loss_grad(X, targets, W, b, parallel=self.parallel)
            squares += loss * m
            xr += G * m
            r += np.asarray(gb) * m
            n += m
        return float(squares / n), xr / n, r / n

    def _xy_batches(self, *, reuse: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(X (m, d) C-contiguous, Y (m, 1)) float64 per batch, in file order.

        ``reuse``: fill the same two buffers for every batch (for passes that use a
        batch and let it go), rather than new arrays (for callers that may keep them).
        """
        t, d = self._target_index, self.n_features
        assert t is not None  # the passes that get here check it
        buffers = None
        for data in self._checked_batches():
            m = data.shape[0]
            if reuse:
                if buffers is None:  # sized for a full batch, sliced for a shorter one
                    buffers = np.empty((self.batch_rows, d)), np.empty((self.batch_rows, 1))
                X, Y = buffers[0][:m], buffers[1][:m]
            else:
                X, Y = np.empty((m, d)), np.empty((m, 1))
            # The one copy of the batch: drops the target column, makes X C-contiguous.
            X[:, :t] = data[:, :t]
            X[:, t:] = data[:, t + 1 :]
            Y[:, 0] = data[:, t]
            if self.y_scale != 1.0:
                Y /= self.y_scale  # exact: a power of two
            yield X, Y

    def _checked_batches(self) -> Iterator[np.ndarray]:
        """The file's rows (m, n_columns) float64 per batch, every column, checked.

        Wraps the reader of the format: NaN/infinity checks (until a pass has
        completed), the row count, and the checks that the file did not change.
        """
        self._check_unchanged()
        check = not self._checked
        where = f"{self.path} {'line' if self._format == '.csv' else 'row'}"
        reader = {
            ".csv": self._csv_batches,
            ".parquet": self._parquet_batches,
            ".npy": self._npy_batches,
        }[self._format]
        n_rows = 0
        try:
            with self._progress_bar() as bar:
                for data, numbers in reader():
                    # pyarrow's batches (numbers None) come checked.
                    if check and numbers is not None:
                        refuse_non_finite_cells(data, self._columns, where, numbers)
                    n_rows += data.shape[0]
                    self._rows_read[0] += data.shape[0]
                    if self._format == ".csv":
                        bar.update(self._csv_position.tell() - bar.n)
                    else:
                        bar.update(data.shape[0])
                    yield data
        except FileNotFoundError:
            raise FileNotFoundError(f"No such file: {self.path}") from None
        self._check_unchanged()
        if n_rows == 0:  # only a CSV file gets here: the others' headers say n > 0
            raise DataError(f"{self.path} has a header but no rows of numbers")
        if self._n_samples is None:
            self._n_samples = n_rows
        elif n_rows != self._n_samples:
            raise DataError(
                f"{self.path} changed while it was being read: {n_rows} rows, "
                f"{self._n_samples} before; make a new FileSource for it"
            )
        self._checked = True

    def _progress_bar(self) -> tqdm:
        """A pass's progress bar (a silent one unless ``progress``): bytes of a CSV
        file, rows of the others."""
        name = os.path.basename(self.path)
        if self._format == ".csv":
            total, unit = self._stamp[0], "B"
        else:
            total, unit = self.n_samples, " rows"
        return tqdm(
            total=total,
            desc=name,
            unit=unit,
            unit_scale=True,
            unit_divisor=1024 if unit == "B" else 1000,
            delay=_PROGRESS_DELAY,
            leave=False,
            file=sys.stderr,
            disable=not self.progress,
        )

    def _check_unchanged(self) -> None:
        """Refuse a file whose size or modification time differ from the first look:
        the row count, columns and checks recorded would not be its own."""
        if _stamp(self.path) != self._stamp:
            raise DataError(
                f"{self.path} changed after it was opened (size or modification time); "
                "make a new FileSource for it"
            )

    # --- CSV ---------------------------------------------------------------------------

    def _csv_columns(self) -> tuple[list[str], int | None]:
        """The header's column names (the first non-blank record); the rows uncounted."""
        columns, self._header_lines = csv_head(self.path)
        return columns, None

    def _csv_batches(self) -> Iterator[tuple[np.ndarray, Sequence[int] | None]]:
        """(rows (m, p), the line where each starts or None) per batch of ``batch_rows``
        rows: the parsing of the readers' ``_read_csv`` (same rules, same values, same
        messages), a batch at a time.

        pyarrow parses the file (its batches come checked, without line numbers); from
        where it refuses it, the Python reader takes over (and on later passes reads
        it all): it reads what pyarrow is not asked to (quoted cells) or names the
        line and column of the bad cell.
        """
        done = 0  # rows given
        if not self._csv_python:
            try:
                blocks = arrow_csv_blocks(
                    self.path, len(self._columns), self._header_lines, self._csv_position
                )
                for data in _rebatched(blocks, self.batch_rows):
                    yield data, None
                    done += data.shape[0]
                return
            except ArrowRefused:
                self._csv_python = True
        yield from self._python_csv_batches(done)

    def _python_csv_batches(self, skip: int) -> Iterator[tuple[np.ndarray, Sequence[int]]]:
        """:meth:`_csv_batches` by the Python reader, after its first ``skip`` rows
        (which pyarrow gave)."""
        path, columns, batch_rows = self.path, self._columns, self.batch_rows
        # Each batch's values, 8 bytes each, then viewed as (m, p) without a copy.
        values = array.array("d")
        lines: list[int] = []  # the line where each row starts, for messages
        records = csv_records(path, self._csv_position)
        next(records, None)  # the header, read and checked by _csv_columns
        for _ in range(skip):
            next(records)
        for start, row in records:
            append_csv_row(path, start, row, columns, values)
            lines.append(start)
            if len(lines) == batch_rows:
                batch = np.frombuffer(values, dtype=np.float64).reshape(-1, len(columns))
                batch_lines = lines
                values, lines = array.array("d"), []  # the old ones go with the batch
                yield batch, batch_lines
        if lines:
            yield np.frombuffer(values, dtype=np.float64).reshape(-1, len(columns)), lines

    # --- Parquet -----------------------------------------------------------------------

    def _parquet_columns(self) -> tuple[list[str], int | None]:
        """The data columns (checked as ``fastlinreg.sources._readers`` checks them) and the row
        count, from the schema and metadata: no data is read."""
        pa, pq = import_pyarrow()
        path = self.path
        with parquet_errors(path, pa), pq.ParquetFile(path) as parquet:
            names = parquet_data_columns(path, parquet, pa)
            n_rows = int(parquet.metadata.num_rows)
        return names, n_rows

    def _parquet_batches(self) -> Iterator[tuple[np.ndarray, Sequence[int]]]:
        """(rows (m, p), their row numbers from 1) per batch of ``iter_batches``."""
        pa, pq = import_pyarrow()
        import pyarrow.compute as pc

        path, columns = self.path, self._columns
        first = 0  # rows before this batch
        # pre_buffer=False: pyarrow's default reads ahead every row group asked for, i.e.
        # the whole file for iter_batches; a buffered stream reads a column chunk in
        # pieces. Memory is then a few row groups, not the file (nor batch_rows).
        with (
            parquet_errors(path, pa),
            pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 16) as parquet,
        ):
            # Without pandas metadata the index columns are not added back.
            batches = parquet.iter_batches(
                batch_size=self.batch_rows, columns=columns, use_pandas_metadata=False
            )
            for batch in batches:
                m = batch.num_rows
                if m == 0:
                    continue
                data = np.empty((m, len(columns)))
                for j, name in enumerate(columns):
                    column = batch.column(name)
                    if column.null_count:
                        row = first + pc.index(pc.is_null(column), True).as_py()
                        raise DataError(
                            f"{path} row {row + 1}, column {name!r}: missing value (null)"
                        )
                    # Through NumPy, as fastlinreg.sources._readers does: integers beyond 2**53
                    # are rounded, not refused.
                    data[:, j] = column.to_numpy(zero_copy_only=False)
                yield data, range(first + 1, first + m + 1)
                first += m

    # --- NPY ---------------------------------------------------------------------------

    def _npy_columns(self) -> tuple[list[str], int | None]:
        """Columns ``"0"``, ``"1"``, ... and the row count from the array header, checked
        as ``fastlinreg.sources._readers`` checks it; no data is read."""
        n_rows, n_columns = npy_shape(self.path)
        return [str(j) for j in range(n_columns)], n_rows

    def _npy_batches(self) -> Iterator[tuple[np.ndarray, Sequence[int]]]:
        """(rows (m, p), their row numbers from 1) per batch of the mapped array.

        The map is made per pass (and dropped after it): the page cache, not this
        process, holds what was read. A float64 batch is a view of the map; other
        dtypes are converted one batch at a time, in the file's memory order.
        """
        path = self.path
        try:
            mapped = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as error:
            raise DataError(f"{path} is not a readable .npy file: {first_line(error)}") from None
        n_rows, n_columns = mapped.shape
        # A Fortran-ordered file of several rows converts to columns-first batches, as
        # read_table converts the whole file, so the kernels read a batch as they read
        # that table (columns first) and predict the same bits. A (1, p) array of
        # either order has strides (8, 8), which they take as rows first: a one-row
        # batch is made a slice of a two-row array to keep its column stride.
        fortran = n_rows > 1 and mapped.flags.f_contiguous
        for first in range(0, n_rows, self.batch_rows):
            rows = mapped[first : first + self.batch_rows]
            m = rows.shape[0]
            if fortran and rows.dtype != np.float64:
                data = np.empty((max(m, 2), n_columns), order="F")[:m]
                data[...] = rows
            else:  # a float64 view keeps the map's strides (8, 8 n) even for one row
                data = np.asarray(rows, dtype=np.float64)
            yield data, range(first + 1, first + m + 1)


def _rebatched(blocks: Iterator[np.ndarray], batch_rows: int) -> Iterator[np.ndarray]:
    """The rows of ``blocks`` (arrays of rows) in new arrays of ``batch_rows`` rows, the
    last one shorter: each block is copied once, into the batch it falls in."""
    batch: np.ndarray | None = None
    held = 0  # rows in batch
    for block in blocks:
        start = 0
        while start < block.shape[0]:
            if batch is None:
                batch = np.empty((batch_rows, block.shape[1]))
            take = min(batch_rows - held, block.shape[0] - start)
            batch[held : held + take] = block[start : start + take]
            held += take
            start += take
            if held == batch_rows:
                yield batch
                batch, held = None, 0
    if batch is not None:
        yield batch[:held]


def _npy_header(shape: tuple[int, int], size: int = 0) -> bytes:
    """The header of a ``.npy`` file (format 1.0) of float64 in C order of that shape,
    padded with spaces to ``size`` bytes (or the next multiple of 64)."""
    text = repr({"descr": "<f8", "fortran_order": False, "shape": shape})
    size = max(size, -(-(len(text) + 11) // 64) * 64)
    body = text.ljust(size - 11) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body.encode("latin-1")


def _file_format(path: str) -> str:
    """The lowercase extension of a readable file, with ``read_table``'s checks."""
    extension = os.path.splitext(path)[1]
    if extension.lower() not in _FORMATS:
        if not extension:
            raise DataError(f"{path}: no file extension ({EXPECTED_FORMATS})")
        raise DataError(f"{path}: unsupported file type '{extension}' ({EXPECTED_FORMATS})")
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path}")
    return extension.lower()


def _stamp(path: str) -> tuple[int, int]:
    """(size, modification time in ns): what tells that a file was rewritten."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"No such file: {path}") from None
    return status.st_size, status.st_mtime_ns


def _target_index(path: str, columns: list[str], target: str) -> int:
    """The target's column, with the rules and messages of ``io.split_target``."""
    # A Table with no rows: the message helpers of fastlinreg.sources._readers take one.
    table = Table(columns=columns, data=np.empty((0, len(columns))), path=path)
    index = columns.index(target) if target in columns else npy_index(table, target)
    if index is None:
        raise DataError(unknown_column_message(table, target))
    if len(columns) == 1:
        raise DataError(
            f"{path} has only the column {columns[index]!r}: no feature columns are "
            "left once it is the target"
        )
    return index
