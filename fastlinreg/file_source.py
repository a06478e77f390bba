"""A data file as a source: ``.npy``, ``.csv`` and ``.parquet`` streamed in row batches.

A :class:`FileSource` answers the passes of :class:`fastlinreg.sources.InMemorySource`
(``loss_grad``, ``hessian_vector``, ``row_blocks``) for a table in a file, reading it
front to back once per pass and holding at most one batch of rows at a time: data larger
than memory can be fitted (solvers ``gd``, ``agd`` and ``exact``; ``sgd`` slices rows and
needs the data in memory or memory-mapped).

The file is read as :func:`fastlinreg.io.read_table` reads it (the same formats, the
same float64 values bit for bit) and split as :func:`fastlinreg.io.split_target` splits
it; its errors carry the same one-line messages, naming the file and, for one cell, its
line (CSV) or row (Parquet, ``.npy``) and column.

Without a target (``target=None``) every column is a feature and the source gives
:meth:`FileSource.feature_batches` only: the rows to predict, a batch at a time, as
``fastlinreg predict`` reads its data file.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from fastlinreg.file_source import FileSource
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
import os
from collections.abc import Iterator, Sequence

import numpy as np

from . import _config, kernels
from .io import (
    _EXPECTED,
    DataError,
    Table,
    _append_csv_row,
    _check_finite,
    _csv_header,
    _csv_records,
    _first_line,
    _npy_index,
    _npy_shape,
    _parquet_data_columns,
    _parquet_errors,
    _pyarrow,
    _unknown_column_message,
)

__all__ = ["FileSource"]

_FORMATS = (".csv", ".parquet", ".npy")


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
        The file, read as :func:`fastlinreg.io.read_table` reads it (format by
        extension, any case): a CSV file with a header row, a Parquet file of integer
        and floating-point columns (needs pyarrow), or a 2-D numeric ``.npy`` array
        (memory-mapped, never unpickled). It must not change while the source is used.
    target : str or None
        The target column's name; for a ``.npy`` file also an index such as ``"-1"``
        (or the int ``-1``), as in :func:`fastlinreg.io.split_target`. None: no target,
        every column is a feature (rows to predict; :meth:`feature_batches` only).
    batch_rows : int, default=65536
        Rows read and converted at a time. Memory for a batch is about
        ``2 * batch_rows * n_columns * 8`` bytes (the rows as read and as X, y); a
        larger batch means fewer Python-level steps per pass.
    parallel : bool or None, default=None
        Passed to the kernels for every batch (None: each batch's size decides).

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
        CSV file is read through once the first time it is needed (see Notes).
    n_features : int
    n_targets : int
        1, or 0 without a target.
    dtype : numpy dtype
        float64: every format is read as float64, as ``read_table`` does.
    total_weight : float
        ``n_samples``: there are no sample weights (every row weighs 1).
    batch_rows : int
    parallel : bool or None
    cheap_passes : bool
        False: a pass reads the whole file.

    Raises
    ------
    FileNotFoundError
        ``"No such file: PATH"``, here or when a pass finds the file gone.
    DataError
        An unsupported extension, an unreadable header, schema or array header, an
        unknown target column (the message of :func:`fastlinreg.io.split_target`), or
        a target that is the only column. Bad cells are found by the passes.
    MissingDependencyError
        A Parquet file, and pyarrow is not installed.

    Notes
    -----
    **Errors in the data** (a cell that is not a number, a missing value, NaN or an
    infinity, a ragged CSV row) are found by the pass that reads them and raise
    :class:`fastlinreg.io.DataError` with ``read_table``'s message for that cell. A file
    with several problems reports the first one in file order, which can differ from
    the one ``read_table`` reports (it parses all of a CSV file before it looks for NaN).
    Once a pass has read the whole file, later passes skip the NaN/infinity check.

    **Row count of a CSV file**: only reading the records tells how many rows a CSV
    file has (blank lines and quoted line breaks make counting lines wrong), so the
    first use of ``n_samples`` (``fit`` asks at once) reads the whole file, parsing and
    checking every cell: a fit then fails on bad data before any solver work, at the
    cost of one extra pass. A completed pass records the count, so it is read only when
    ``n_samples`` comes first.

    **Memory**: ``loss_grad`` and ``hessian_vector`` reuse one batch buffer per pass.
    ``row_blocks`` gives new arrays per batch, cut into blocks of at most
    ``fastlinreg._config.rows_per_factor_block`` rows (the block of the in-memory
    precompute pass); :func:`fastlinreg.precompute.triangular_factor` keeps up to
    ``2 * precompute.MERGE_BLOCKS`` (32) blocks alive at once (the chunk it merges and
    the next it collects), so its pass holds at most about 32 blocks of 4 MB plus two
    batches, whatever the file's size. A Parquet file is decoded by pyarrow a row group
    at a time, so its passes also hold a few of the file's row groups, whatever
    ``batch_rows`` is (``pyarrow.parquet.write_table`` puts up to 1,048,576 rows in a
    group unless told otherwise by ``row_group_size``).

    **Changes**: the file's size and modification time are recorded when the source is
    made; a pass that finds them changed, or a row count that differs from the first,
    raises DataError: make a new source for a new file.

    **Without a target** the NaN/infinity and row-count checks are the same: every
    column is checked, as :func:`fastlinreg.io.read_table` checks it, so a bad cell in a
    column the caller then ignores is still an error.

    There are no sample weights, and :meth:`rows` (mini-batches of the ``sgd`` solver)
    is not available. A float64 ``.npy`` file fits faster through
    ``np.load(path, mmap_mode="r")`` (no per-batch copies) when it fits the page cache.
    """

    #: A pass reads the whole file: solvers should not spend passes on extras.
    cheap_passes = False

    def __init__(
        self,
        path: str | os.PathLike[str],
        target: str | None,
        *,
        batch_rows: int = 65536,
        parallel: bool | None = None,
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
        """(X rows, Y rows, None) in file order: the single pass of ``fastlinreg.precompute``.

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
            A bad cell, with the message of :func:`fastlinreg.io.read_table` (raised
            when the batch that holds it is read: earlier batches have been yielded).
        """
        if self._target_index is None:
            yield from self._checked_batches()
        else:
            for X, _ in self._xy_batches(reuse=False):
                yield X

    def rows(self, start: int, stop: int):
        """Not available: a file is streamed front to back, not sliced.

        Raises
        ------
        NotImplementedError
            Always. Mini-batches (``solver="sgd"``) need the data in memory, or a
            ``.npy`` file mapped with ``np.load(path, mmap_mode="r")``.
        """
        raise NotImplementedError(
            f"{self.path} is streamed front to back, so its rows cannot be sliced into "
            "mini-batches: solver='sgd' needs the data in memory or a memmap "
            "(np.load(path, mmap_mode='r') of a .npy file); use 'gd', 'agd' or 'exact'"
        )

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
            for data, numbers in reader():
                if check:
                    _check_finite(data, self._columns, where, numbers)
                n_rows += data.shape[0]
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
        for start, row in _csv_records(self.path):
            return _csv_header(self.path, row, start), None
        raise DataError(f"{self.path} is empty: a header row and rows of numbers are needed")

    def _csv_batches(self) -> Iterator[tuple[np.ndarray, Sequence[int]]]:
        """(rows (m, p), the line where each starts) per batch: the parsing of
        ``fastlinreg.io._read_csv`` (same rules, same messages), a batch at a time."""
        path, columns, batch_rows = self.path, self._columns, self.batch_rows
        # Each batch's values, 8 bytes each, then viewed as (m, p) without a copy.
        values = array.array("d")
        lines: list[int] = []  # the line where each row starts, for messages
        records = _csv_records(path)
        next(records, None)  # the header, read and checked by _csv_columns
        for start, row in records:
            _append_csv_row(path, start, row, columns, values)
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
        """The data columns (checked as ``fastlinreg.io`` checks them) and the row
        count, from the schema and metadata: no data is read."""
        pa, pq = _pyarrow()
        path = self.path
        with _parquet_errors(path, pa), pq.ParquetFile(path) as parquet:
            names = _parquet_data_columns(path, parquet, pa)
            n_rows = int(parquet.metadata.num_rows)
        return names, n_rows

    def _parquet_batches(self) -> Iterator[tuple[np.ndarray, Sequence[int]]]:
        """(rows (m, p), their row numbers from 1) per batch of ``iter_batches``."""
        pa, pq = _pyarrow()
        import pyarrow.compute as pc

        path, columns = self.path, self._columns
        first = 0  # rows before this batch
        # pre_buffer=False: pyarrow's default (True) reads ahead every row group it is
        # asked for, which for iter_batches is the whole file (64 MB allocated for a
        # 55 MB file with 10 row groups; 3 MB with False and 10,000-row groups). A
        # buffered stream reads a column chunk in pieces rather than whole (a file of
        # one 500,000-row group: 24 MB rather than 70). Memory is still bounded by the
        # file's row groups (a few of them), not by batch_rows. pyarrow 26, local disk.
        with (
            _parquet_errors(path, pa),
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
                    # Through NumPy, as fastlinreg.io does: integers beyond 2**53
                    # are rounded, not refused.
                    data[:, j] = column.to_numpy(zero_copy_only=False)
                yield data, range(first + 1, first + m + 1)
                first += m

    # --- NPY ---------------------------------------------------------------------------

    def _npy_columns(self) -> tuple[list[str], int | None]:
        """Columns ``"0"``, ``"1"``, ... and the row count from the array header, checked
        as ``fastlinreg.io`` checks it; no data is read."""
        n_rows, n_columns = _npy_shape(self.path)
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
            raise DataError(f"{path} is not a readable .npy file: {_first_line(error)}") from None
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


def _file_format(path: str) -> str:
    """The lowercase extension of a readable file, with ``read_table``'s checks."""
    extension = os.path.splitext(path)[1]
    if extension.lower() not in _FORMATS:
        if not extension:
            raise DataError(f"{path}: no file extension ({_EXPECTED})")
        raise DataError(f"{path}: unsupported file type '{extension}' ({_EXPECTED})")
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
    # A Table with no rows: the message helpers of fastlinreg.io take one.
    table = Table(columns=columns, data=np.empty((0, len(columns))), path=path)
    index = columns.index(target) if target in columns else _npy_index(table, target)
    if index is None:
        raise DataError(_unknown_column_message(table, target))
    if len(columns) == 1:
        raise DataError(
            f"{path} has only the column {columns[index]!r}: no feature columns are "
            "left once it is the target"
        )
    return index
