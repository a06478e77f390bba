"""Data files for the ``fastlinreg`` command: read a table, split off the target, write predictions.

``read_table`` reads ``.csv``, ``.parquet`` and ``.npy`` files (by extension, any case)
into a :class:`Table` of float64 columns; ``split_target`` turns a table into ``X``, ``y``
and the feature names; ``write_predictions`` writes a CSV of predictions that reads back
bit for bit.

Errors are meant to be printed as they are, one line each (``str(error)``):

- a missing file raises :class:`FileNotFoundError` ``"No such file: PATH"``; other I/O
  problems raise the :class:`OSError` the system gave;
- everything wrong with a file's content (or a missing optional reader) raises
  :class:`DataError`, a :class:`ValueError`. So a command catches ``(OSError, DataError)``.

Messages name the file as it was given and, for one cell, where it is: ``line N`` in a
CSV file (the physical line where the record starts, the header being line 1), ``row N``
in a Parquet or ``.npy`` file (the N-th row of data, counted from 1), and the column's
name. Missing values (empty cells, ``NA``, ``null``, NaN) and infinities are errors: the
estimator refuses them anyway, and here the message can say where they are.

Loading is plain (the whole table in memory, or a ``.npy`` file mapped read-only); for
data larger than memory, :class:`fastlinreg.file_source.FileSource` reads the same
files in row batches with the same messages, and :class:`PredictionWriter` writes the
file of :func:`write_predictions` batch by batch.

Examples
--------
>>> import os, tempfile
>>> from fastlinreg.io import read_table, split_target
>>> with tempfile.TemporaryDirectory() as folder:
...     path = os.path.join(folder, "houses.csv")
...     with open(path, "w") as file:
...         _ = file.write("area,rooms,price\\n50,2,100\\n80,3,160.5\\n")
...     table = read_table(path)
>>> table.columns
['area', 'rooms', 'price']
>>> X, y, feature_names = split_target(table, "price")
>>> X
array([[50.,  2.],
       [80.,  3.]])
>>> y
array([100. , 160.5])
>>> feature_names
['area', 'rooms']
"""

from __future__ import annotations

import array
import csv
import difflib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DataError",
    "MissingDependencyError",
    "PredictionWriter",
    "Table",
    "read_table",
    "split_target",
    "write_predictions",
]

_EXPECTED = "expected .csv, .parquet or .npy"
# Cell texts read as "no value", compared case-insensitively; float() parses "nan" itself.
_MISSING_MARKERS = frozenset({"na", "n/a", "#n/a", "null", "none", "nil", "missing"})
# Rows checked at once for NaN/inf: bounds the boolean temporary, not the result.
_FINITE_CHECK_ROWS = 65536
# How many column names an error message lists before it cuts the list short.
_MAX_LISTED_COLUMNS = 12


class DataError(ValueError):
    """A data file's content is wrong: its message says which file, and where.

    A :class:`ValueError`; the ``fastlinreg`` command catches ``(OSError, DataError)``
    and prints ``str(error)``, which is always one self-contained line.
    """


class MissingDependencyError(DataError, ImportError):
    """An optional package needed to read a file is not installed.

    Both a :class:`DataError` (so the command reports it like a bad file) and an
    :class:`ImportError` (so code that checks for optional packages recognises it).
    """


@dataclass(eq=False)
class Table:
    """Named float64 columns read from a file.

    Attributes
    ----------
    columns : list of str
        Column names, unique and non-empty: the header of a CSV file, the field names of
        a Parquet file, ``"0"``, ``"1"``, ... for a ``.npy`` file.
    data : ndarray of shape (n_rows, n_columns), float64
        The values, all finite. For a ``.npy`` file that is already float64 this is a
        read-only view of the memory-mapped file; treat it as read-only in any case.
    path : str
        The file it was read from, as given.
    """

    columns: list[str]
    data: np.ndarray
    path: str


def read_table(path: str | os.PathLike[str]) -> Table:
    """Read a ``.csv``, ``.parquet`` or ``.npy`` file into a :class:`Table`.

    Parameters
    ----------
    path : str or path-like
        The file; its extension (any case) says how to read it.

        - ``.csv``: comma-separated, UTF-8 (a byte-order mark is fine), a header row of
          column names, then one row of numbers per line; quoted fields, CRLF line ends
          and blank lines are fine.
        - ``.parquet``: integer and floating-point columns only, no nulls; needs
          pyarrow. A pandas index stored in the file is not read as a column.
        - ``.npy``: a 2-D integer or floating-point array, loaded without pickle;
          its columns are named ``"0"``, ``"1"``, ...

    Returns
    -------
    Table
        The columns' names and their values as float64.

    Raises
    ------
    FileNotFoundError
        ``"No such file: PATH"``.
    OSError
        Any other problem reading the file.
    DataError
        An unsupported extension, or content that is not a table of finite numbers:
        the message names the file and, for one cell, its line (CSV) or row (Parquet,
        ``.npy``) counted from 1, and its column.
    MissingDependencyError
        A Parquet file, and pyarrow is not installed (a :class:`DataError` too).
    """
    path = os.fspath(path)
    extension = os.path.splitext(path)[1]
    readers = {".csv": _read_csv, ".parquet": _read_parquet, ".npy": _read_npy}
    reader = readers.get(extension.lower())
    if reader is None:
        if not extension:
            raise DataError(f"{path}: no file extension ({_EXPECTED})")
        raise DataError(f"{path}: unsupported file type '{extension}' ({_EXPECTED})")
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path}")
    try:
        return reader(path)
    except FileNotFoundError:
        # Removed between the check and the read.
        raise FileNotFoundError(f"No such file: {path}") from None


def split_target(table: Table, target: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Split a table into the features ``X`` and the target column ``y``.

    Parameters
    ----------
    table : Table
        As :func:`read_table` returns it; not modified.
    target : str
        The target column's name. For a table read from a ``.npy`` file an integer
        index is accepted too, negative ones counting from the end (``"-1"``: the last
        column).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64, C-contiguous
        Every other column, in file order; a new array.
    y : ndarray of shape (n_samples,), float64
        The target column; a new array.
    feature_names : list of str
        The names of the columns of ``X``.

    Raises
    ------
    DataError
        The table has no such column (the message lists the columns it has), or the
        target is its only column.
    """
    columns = table.columns
    n_columns = len(columns)
    index = columns.index(target) if target in columns else _npy_index(table, target)
    if index is None:
        raise DataError(_unknown_column_message(table, target))
    if n_columns == 1:
        raise DataError(
            f"{table.path} has only the column {columns[index]!r}: no feature columns are "
            "left once it is the target"
        )
    data = table.data
    n_rows = data.shape[0]
    X = np.empty((n_rows, n_columns - 1), dtype=np.float64)
    X[:, :index] = data[:, :index]
    X[:, index:] = data[:, index + 1 :]
    y = np.array(data[:, index], dtype=np.float64)
    feature_names = columns[:index] + columns[index + 1 :]
    return X, y, feature_names


# --- CSV -------------------------------------------------------------------------------


def _read_csv(path: str) -> Table:
    """Parse a CSV file with a header row into float64 (see :func:`read_table`)."""
    # The values, row after row, 8 bytes each: far leaner than lists of Python floats.
    values = array.array("d")
    lines = array.array("q")  # the line where each data row starts, for messages
    columns: list[str] | None = None
    for start, row in _csv_records(path):
        if columns is None:
            columns = _csv_header(path, row, start)
            continue
        _append_csv_row(path, start, row, columns, values)
        lines.append(start)
    if columns is None:
        raise DataError(f"{path} is empty: a header row and rows of numbers are needed")
    if not lines:
        raise DataError(f"{path} has a header but no rows of numbers")
    data = np.frombuffer(values, dtype=np.float64).reshape(len(lines), len(columns))
    _check_finite(data, columns, f"{path} line", lines)
    return Table(columns=columns, data=data, path=path)


def _csv_records(path: str) -> Iterator[tuple[int, list[str]]]:
    """(the line where it starts, its cells) of every non-blank record of a CSV file,
    the header included; malformed CSV and non-UTF-8 text as a DataError."""
    line = 1  # where the next record starts
    try:
        # newline="" as the csv module requires: it handles CRLF and quoted newlines.
        with open(path, encoding="utf-8-sig", newline="") as file:
            reader = csv.reader(file, strict=True, skipinitialspace=True)
            for row in reader:
                start, line = line, reader.line_num + 1
                if row:  # not a blank line
                    yield start, row
    except csv.Error as error:
        raise DataError(f"{path} line {line}: malformed CSV ({error})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text; save it as UTF-8") from None


def _append_csv_row(
    path: str, line: int, row: list[str], columns: list[str], values: array.array
) -> None:
    """Append a data row's numbers to ``values``; a DataError naming the line (and the
    cell) when it has another number of cells than the header or a cell is no number."""
    if len(row) != len(columns):
        raise DataError(f"{path} line {line}: {len(row)} cells, the header has {len(columns)}")
    try:
        values.extend(map(float, row))
    except ValueError:
        raise _csv_cell_error(path, line, columns, row) from None


def _csv_header(path: str, row: list[str], line: int) -> list[str]:
    """Column names from a header row: trimmed, non-empty and unique."""
    names = [name.strip() for name in row]
    for j, name in enumerate(names):
        if not name:
            raise DataError(f"{path} line {line}: column {j + 1} of the header has no name")
    _check_unique(path, names)
    return names


def _csv_cell_error(path: str, line: int, columns: list[str], row: list[str]) -> DataError:
    """The error for the first cell of a row that float() does not read."""
    for name, cell in zip(columns, row, strict=True):
        try:
            float(cell)
        except ValueError:
            where = f"{path} line {line}, column {name!r}"
            text = cell.strip()
            if not text:
                return DataError(f"{where}: empty cell")
            if text.lower() in _MISSING_MARKERS:
                return DataError(f"{where}: missing value {text!r}")
            return DataError(f"{where}: {text!r} is not a number")
    raise AssertionError("a row that failed to parse parsed")  # pragma: no cover


# --- Parquet ---------------------------------------------------------------------------


def _read_parquet(path: str) -> Table:
    """Read a Parquet file's integer and floating-point columns (see :func:`read_table`)."""
    pa, pq = _pyarrow()
    import pyarrow.compute as pc

    with _parquet_errors(path, pa), pq.ParquetFile(path) as parquet:
        names = _parquet_data_columns(path, parquet, pa)
        # Without pandas metadata the index columns are not added back.
        table = parquet.read(columns=names, use_pandas_metadata=False)
    names = table.column_names
    data = np.empty((table.num_rows, len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        column = table.column(j)
        if column.null_count:
            row = pc.index(pc.is_null(column), True).as_py()
            raise DataError(f"{path} row {row + 1}, column {name!r}: missing value (null)")
        # Through NumPy, not pa.cast: a safe cast refuses integers beyond 2**53, which
        # float64 rounds, as it does for every other reader here.
        data[:, j] = column.to_numpy()
    _check_finite(data, names, f"{path} row", None)
    return Table(columns=names, data=data, path=path)


@contextmanager
def _parquet_errors(path: str, pa) -> Iterator[None]:
    """pyarrow's errors as one-line DataErrors naming the file (OS errors stay)."""
    try:
        yield
    except pa.ArrowException as error:
        if isinstance(error, OSError):
            raise
        raise DataError(f"{path} is not a readable Parquet file: {_first_line(error)}") from None


def _pyarrow():
    """(pyarrow, pyarrow.parquet), or a MissingDependencyError saying how to install it."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        error = MissingDependencyError("reading Parquet needs pyarrow: pip install pyarrow")
        error.name = "pyarrow"
        raise error from None
    return pa, pq


def _parquet_data_columns(path: str, parquet, pa) -> list[str]:
    """The names of an open Parquet file's data columns (not a pandas index), checked:
    unique, integer or floating point, at least one, and at least one row."""
    schema = parquet.schema_arrow
    index_columns = _pandas_index_columns(schema)
    names = [name for name in schema.names if name not in index_columns]
    _check_unique(path, names)
    for name in names:
        kind = schema.field(name).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            raise DataError(
                f"{path}: column {name!r} has type {kind}; only integer and "
                "floating-point columns can be read"
            )
    if not names:
        raise DataError(f"{path} has no columns")
    if parquet.metadata.num_rows == 0:
        raise DataError(f"{path} has no rows")
    return names


def _pandas_index_columns(schema) -> set[str]:
    """Names of the columns that hold a pandas index (not data) in a Parquet file."""
    metadata = schema.pandas_metadata or {}
    # A RangeIndex is stored as a dict of start/stop/step, not as a column.
    return {name for name in metadata.get("index_columns", []) if isinstance(name, str)}


# --- NPY -------------------------------------------------------------------------------


def _npy_shape(path: str) -> tuple[int, int]:
    """(rows, columns) of a 2-D numeric ``.npy`` file, from its header alone: the dtype
    and shape are checked before any data is touched (and nothing is unpickled)."""
    with open(path, "rb") as file:
        try:
            version = np.lib.format.read_magic(file)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(file)
            else:  # 2.0 and 3.0 share the layout; 3.0 only allows UTF-8 field names.
                shape, _, dtype = np.lib.format.read_array_header_2_0(file)
        except ValueError as error:
            raise DataError(f"{path} is not a readable .npy file: {_first_line(error)}") from None
    if dtype.hasobject:
        raise DataError(
            f"{path} holds Python objects (dtype {dtype}); only integer and floating-point "
            "arrays can be read"
        )
    if dtype.kind not in "iuf":
        raise DataError(
            f"{path} has dtype {dtype}; only integer and floating-point arrays can be read"
        )
    if len(shape) != 2:
        raise DataError(
            f"{path} holds a {len(shape)}-D array of shape {tuple(shape)}; "
            "a 2-D array (rows, columns) is needed"
        )
    if shape[1] == 0:
        raise DataError(f"{path} has no columns")
    if shape[0] == 0:
        raise DataError(f"{path} has no rows")
    return int(shape[0]), int(shape[1])


def _read_npy(path: str) -> Table:
    """Map a 2-D numeric ``.npy`` array, never unpickling (see :func:`read_table`)."""
    _, n_columns = _npy_shape(path)
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as error:
        raise DataError(f"{path} is not a readable .npy file: {_first_line(error)}") from None
    # A float64 file stays mapped (a read-only view); other dtypes are converted.
    data = np.asarray(mapped, dtype=np.float64)
    columns = [str(j) for j in range(n_columns)]
    _check_finite(data, columns, f"{path} row", None)
    return Table(columns=columns, data=data, path=path)


def _npy_index(table: Table, target: str) -> int | None:
    """The column an integer target names in a ``.npy`` table, or None."""
    if not table.path.lower().endswith(".npy"):
        return None
    try:
        index = int(target)
    except ValueError:
        return None
    n_columns = len(table.columns)
    if -n_columns <= index < n_columns:
        return index % n_columns
    return None


# --- shared ----------------------------------------------------------------------------


def _check_unique(path: str, names: list[str]) -> None:
    """Refuse repeated column names: a target name must pick one column."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(f"{path}: column {name!r} appears more than once")
        seen.add(name)


def _check_finite(data: np.ndarray, columns: list[str], where: str, lines) -> None:
    """Refuse NaN and infinities, naming the first: ``{where} {number}, column ...``.

    ``lines`` maps row indices to the numbers in messages (CSV lines); None counts rows
    from 1.
    """
    for start in range(0, data.shape[0], _FINITE_CHECK_ROWS):
        bad = ~np.isfinite(data[start : start + _FINITE_CHECK_ROWS])
        if bad.any():
            i, j = np.argwhere(bad)[0]
            row = start + int(i)
            value = float(data[row, j])
            number = lines[row] if lines is not None else row + 1
            what = "missing value (NaN)" if np.isnan(value) else f"infinite value ({value})"
            raise DataError(f"{where} {number}, column {columns[j]!r}: {what}")


def _unknown_column_message(table: Table, target: str) -> str:
    """``"PATH has no column 'x' (columns: a, b, c)"``, with hints where they help."""
    columns = table.columns
    listed = ", ".join(columns[:_MAX_LISTED_COLUMNS])
    if len(columns) > _MAX_LISTED_COLUMNS:
        listed += f", ... ({len(columns)} in all)"
    if table.path.lower().endswith(".npy"):
        # Names are numbers there: a "close" one would be a guess, not a hint.
        listed += f"; or an index from {-len(columns)} to -1"
        return f"{table.path} has no column {target!r} (columns: {listed})"
    message = f"{table.path} has no column {target!r} (columns: {listed})"
    close = difflib.get_close_matches(target, columns, n=1)
    if not close:
        lowered = {name.lower(): name for name in columns}
        close = [lowered[target.lower()]] if target.lower() in lowered else []
    if close:
        message += f"; did you mean {close[0]!r}?"
    return message


def _first_line(error: BaseException) -> str:
    """An error's message cut to its first line, for one-line messages."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


# The writers moved to fastlinreg.outputs; imported last, as that module needs DataError.
from .outputs import PredictionWriter, write_predictions  # noqa: E402
