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
data larger than memory, :class:`fastlinreg.FileSource` reads the same
files in row batches with the same messages, and :class:`PredictionWriter` writes the
file of :func:`write_predictions` batch by batch.

Examples
--------
>>> import os, tempfile
>>> from fastlinreg.sources._readers import read_table, split_target
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
import io
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ..errors import DataError

__all__ = [
    "DataError",
    "MissingDependencyError",
    "Table",
    "read_table",
    "split_target",
]

EXPECTED_FORMATS = "expected .csv, .parquet or .npy"
# Cell texts read as "no value", compared case-insensitively; float() parses "nan" itself.
_MISSING_MARKERS = frozenset({"na", "n/a", "#n/a", "null", "none", "nil", "missing"})
# A CSV cell that is a number: an optional sign, ASCII digits with an optional fraction,
# an optional exponent, whitespace around. Stricter than float(), which also reads
# "1_000", non-ASCII digits and hex-free spellings such as "infinity": a cell reads the
# same with any CSV reader or none. (A quoted cell may end in a quoted line break.)
_NUMBER = re.compile(r"\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*", re.ASCII)
# float() spellings of NaN and infinities, refused with their own messages.
_NON_FINITE = frozenset({"nan", "inf", "infinity"})
# Bytes of CSV text read and handed to pyarrow at a time (cut at the last line end),
# and the blocks it parses them in. Reading the chunks here, not through pyarrow's
# streaming reader (which reads up to 32 blocks ahead: 20 to 40 MB whatever the batch),
# keeps a pass's memory to a chunk and a batch. pyarrow parses the blocks of a chunk on
# its threads in files of _CSV_THREADS_BYTES or more: 100 MB of 21 columns (2 cores,
# pyarrow 26) in 0.41 s rather than 0.66, but its threads' allocator arenas add 2 to 5
# MB to a pass, run to run (10 to 30% of a 16 MB file: too much there; under 8% from
# 64 MB on).
_CSV_CHUNK_BYTES = 1 << 20
_ARROW_BLOCK_BYTES = 1 << 18
_CSV_THREADS_BYTES = 64 << 20
# Files from _LARGE_CSV_BYTES on are read in chunks 8 times as large, parsed in blocks 4
# times as large: fewer calls into pyarrow, 335 rather than 230 MB/s on 200 MB of 21
# columns (2 cores, pyarrow 26; pandas.read_csv: 434), for about 12 MB more memory in a
# pass, under 5% of such a file.
_LARGE_CSV_BYTES = 256 << 20
# Each call into pyarrow costs about 30 ms per 3,000 columns whatever the rows, so a
# chunk of fewer rows than this grows (doubling, to _MAX_CSV_CHUNK_BYTES), its blocks
# with it: a 3,000-column file (56 KB lines) read at 13 MB/s in 1 MB chunks, 131 MB/s
# growing them (2 cores, pyarrow 26; docs/design.md). Files of a hundred columns or
# fewer never grow theirs.
_MIN_CHUNK_ROWS = 512
_MAX_CSV_CHUNK_BYTES = 64 << 20
# A line end: what Python's csv module (through open(newline="")) counts as one.
_LINE_END = re.compile(rb"\r\n|\r|\n")
# Rows checked at once for NaN/inf: bounds the boolean temporary, not the result.
_FINITE_CHECK_ROWS = 65536
# How many column names an error message lists before it cuts the list short.
_MAX_LISTED_COLUMNS = 12


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
          and blank lines (empty, or of spaces and tabs) are fine. A cell is a number
          written with ASCII digits: an optional sign, digits with an optional fraction
          (``12``, ``-0.5``, ``.5``, ``5.``), an optional exponent (``1e-3``,
          ``2.5E+10``), spaces around; nothing else (not ``1_000``, other digits than
          ASCII ones, hex floats, ``nan`` or ``inf``). The values are those of Python's
          ``float()`` of the text, bit for bit. pyarrow parses the file (about 150 MB/s
          on one core); one with quoted cells or an error is read again by Python's csv
          module (10 to 45 MB/s), which reads quoted cells and names the line of an
          error.
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
            raise DataError(f"{path}: no file extension ({EXPECTED_FORMATS})")
        raise DataError(f"{path}: unsupported file type '{extension}' ({EXPECTED_FORMATS})")
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
    index = columns.index(target) if target in columns else npy_index(table, target)
    if index is None:
        raise DataError(unknown_column_message(table, target))
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
    """Parse a CSV file with a header row into float64 (see :func:`read_table`).

    pyarrow parses it; a file it refuses (a bad cell, but also quoted cells, which it is
    not asked to read) is read again by the Python reader, which reads quoted cells and
    names the line and column of a bad one.
    """
    columns, header_lines = csv_head(path)
    try:
        blocks = list(arrow_csv_blocks(path, len(columns), header_lines))
    except ArrowRefused:
        return _read_csv_python(path, columns)
    if not blocks:
        raise DataError(f"{path} has a header but no rows of numbers")
    data = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    return Table(columns=columns, data=data, path=path)


def _read_csv_python(path: str, columns: list[str]) -> Table:
    """:func:`_read_csv` with Python's csv module and a float() per cell, after the
    header (``columns``, read): slower than pyarrow (45 MB/s), but it reads quoted
    cells and locates every error."""
    # The values, row after row, 8 bytes each: far leaner than lists of Python floats.
    values = array.array("d")
    lines = array.array("q")  # the line where each data row starts, for messages
    records = csv_records(path)
    next(records)  # the header
    for start, row in records:
        append_csv_row(path, start, row, columns, values)
        lines.append(start)
    if not lines:
        raise DataError(f"{path} has a header but no rows of numbers")
    data = np.frombuffer(values, dtype=np.float64).reshape(len(lines), len(columns))
    refuse_non_finite_cells(data, columns, f"{path} line", lines)
    return Table(columns=columns, data=data, path=path)


class ArrowRefused(Exception):
    """pyarrow could not read a CSV file as numbers: the Python reader must (see
    :func:`arrow_csv_blocks`)."""


class ReadPosition:
    """How many bytes of its file a reader has read (for progress bars): ``tell()``,
    which the reader sets when it opens the file."""

    def __init__(self) -> None:
        self.tell: Callable[[], int] = lambda: 0


class _ByteCount(io.RawIOBase):
    """A file read as it is, counting the bytes read."""

    def __init__(self, path: str):
        super().__init__()
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 (closed by close())
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = self._file.readinto(buffer)
        self.count += n
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


def csv_head(path: str) -> tuple[list[str], int]:
    """(the header's column names, checked; the physical lines up to its end): the first
    non-blank record, read by the Python reader."""
    for start, end, row in _csv_spans(path):
        return _csv_header(path, row, start), end
    raise DataError(f"{path} is empty: a header row and rows of numbers are needed")


def arrow_csv_blocks(
    path: str, n_columns: int, header_lines: int, position: ReadPosition | None = None
) -> Iterator[np.ndarray]:
    """The data rows of a CSV file as new (m, n_columns) float64 C-contiguous arrays of
    finite values, in file order, parsed by pyarrow a chunk of the file at a time.

    ``header_lines``: the physical lines up to the end of the header (blank lines
    included), skipped. ``position``: set to tell how far the file has been read.

    Raises ArrowRefused, after the blocks before it, at anything it cannot read as
    numbers of the cell grammar, which the Python reader then reads or locates. pyarrow
    reads cells as numbers by a grammar close to ``_NUMBER``: it refuses "1_000", non-ASCII
    digits, hex floats and empty cells, and what it accepts beyond ``_NUMBER`` is NaN and
    infinities, which are refused here. Quoting is off, so a quoted cell keeps its
    quotes and is refused (pyarrow reads '"1"2' as 12 where a CSV reader finds malformed
    CSV); so every line end ends a row, and the file can be cut into chunks at any line
    end. Lines of spaces and tabs are skipped, as empty lines are.
    """
    try:
        import pyarrow as pa
        import pyarrow.csv as pa_csv
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        raise ArrowRefused from None
    names = [str(j) for j in range(n_columns)]
    size = os.path.getsize(path)
    large = size >= _LARGE_CSV_BYTES
    chunk_bytes = _CSV_CHUNK_BYTES * 8 if large else _CSV_CHUNK_BYTES
    read_options = pa_csv.ReadOptions(
        use_threads=size >= _CSV_THREADS_BYTES,
        block_size=_ARROW_BLOCK_BYTES * 4 if large else _ARROW_BLOCK_BYTES,
        column_names=names,
    )
    parse_options = pa_csv.ParseOptions(
        quote_char=False, newlines_in_values=False, invalid_row_handler=_skip_blank_row
    )
    convert_options = pa_csv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.float64()),
        null_values=[],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    chunk = bytearray(chunk_bytes)
    with open(path, "rb") as file:
        if position is not None:
            position.tell = file.tell
        try:
            file.seek(_offset_after_lines(file, header_lines))
            held = 0  # bytes of a line cut short, at the start of chunk
            while True:
                n = file.readinto(memoryview(chunk)[held:])
                end = held + n
                if n == 0:  # the end of the file: the rest
                    cut = end
                else:  # up to the last line end; the rest goes with the next chunk
                    cut = max(chunk.rfind(b"\n", 0, end), chunk.rfind(b"\r", 0, end)) + 1
                    if cut == 0:  # a line longer than the chunk: a longer chunk
                        # A new one: pyarrow may hold the old one's buffer a while.
                        chunk = chunk + bytes(len(chunk))
                        held = end
                        continue
                block = _arrow_csv_block(
                    memoryview(chunk)[:cut],
                    pa,
                    pa_csv,
                    n_columns,
                    (read_options, parse_options, convert_options),
                )
                if block is not None:
                    yield block
                    if n and len(block) < _MIN_CHUNK_ROWS and len(chunk) < _MAX_CSV_CHUNK_BYTES:
                        chunk = chunk + bytes(len(chunk))  # a new one, as above
                        read_options.block_size = max(read_options.block_size, len(chunk) // 4)
                held = end - cut
                chunk[:held] = chunk[cut:end]
                if n == 0:
                    break
        finally:
            if position is not None:  # the file is closed: the count stays where it is
                read = file.tell()
                position.tell = lambda: read


def _arrow_csv_block(text: memoryview, pa, pa_csv, n_columns: int, options) -> np.ndarray | None:
    """The rows of ``text`` (whole lines of a CSV file, no header) parsed by pyarrow: an
    (m, n_columns) float64 array of finite values, None for no rows; ArrowRefused for
    anything else."""
    if not text:
        return None
    read_options, parse_options, convert_options = options
    try:
        table = pa_csv.read_csv(
            pa.BufferReader(pa.py_buffer(text)),
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
    except pa.ArrowInvalid:  # what it cannot parse or convert
        raise ArrowRefused from None
    if not table.num_rows:
        return None
    block = np.empty((table.num_rows, n_columns))
    for j in range(n_columns):
        column = table.column(j)
        if column.null_count:  # pragma: no cover - null_values=[]: pyarrow makes none
            raise ArrowRefused  # (an empty cell is an error); to be sure
        # From the chunks' data buffers: pyarrow's to_numpy imports pandas (0.2 s).
        start = 0
        for chunk in column.chunks:
            values = chunk.buffers()[1]
            stop = start + len(chunk)
            block[start:stop, j] = np.frombuffer(
                values, dtype=np.float64, count=len(chunk), offset=8 * chunk.offset
            )
            start = stop
    if not np.isfinite(block).all():
        raise ArrowRefused
    return block


def _offset_after_lines(file, count: int) -> int:
    """The byte offset after the first ``count`` lines of a binary file (read from its
    start; lines end as Python's csv module counts them: CRLF, LF or CR)."""
    offset = 0
    piece = b""
    while count > 0:
        more = file.read(1 << 16)
        if not more:
            break
        # Keep a last CR with the next piece: it may be the start of a CRLF.
        piece = piece + more
        scan_to = len(piece) - 1 if piece.endswith(b"\r") else len(piece)
        consumed = 0
        for match in _LINE_END.finditer(piece, 0, scan_to):
            consumed = match.end()
            count -= 1
            if count == 0:
                break
        offset += consumed
        piece = piece[consumed:]
    else:
        return offset
    return offset + len(piece)  # fewer lines than that: the whole file


def _skip_blank_row(row) -> str:
    """pyarrow's verdict on a row of another number of cells than the header: a line of
    spaces and tabs is blank (skipped); any other is refused."""
    return "skip" if not row.text.strip(" \t") else "error"


def csv_records(path: str, position: ReadPosition | None = None) -> Iterator[tuple[int, list[str]]]:
    """(the line where it starts, its cells) of every non-blank record of a CSV file,
    the header included; malformed CSV and non-UTF-8 text as a DataError. ``position``:
    set to tell how far the file has been read."""
    for start, _, row in _csv_spans(path, position):
        yield start, row


def _csv_spans(
    path: str, position: ReadPosition | None = None
) -> Iterator[tuple[int, int, list[str]]]:
    """(the line where it starts, the line where it ends, its cells) of every record of
    :func:`csv_records`. A blank line, or one of whitespace only, is no record."""
    line = 1  # where the next record starts
    try:
        # newline="" as the csv module requires: it handles CRLF and quoted newlines.
        if position is None:
            text = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115
        else:
            raw = _ByteCount(path)
            position.tell = lambda: raw.count
            text = io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8-sig", newline="")
        with text:
            reader = csv.reader(text, strict=True, skipinitialspace=True)
            for row in reader:
                start, line = line, reader.line_num + 1
                # Not a blank line: the csv module gives [] for an empty one, and one
                # cell for a line of spaces, which is blank too.
                if row and (len(row) > 1 or row[0].strip()):
                    yield start, line - 1, row
    except csv.Error as error:
        raise DataError(f"{path} line {line}: malformed CSV ({error})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text; save it as UTF-8") from None


def append_csv_row(
    path: str, line: int, row: list[str], columns: list[str], values: array.array
) -> None:
    """Append a data row's numbers to ``values``; a DataError naming the line (and the
    cell) when it has another number of cells than the header or a cell is no number."""
    if len(row) != len(columns):
        raise DataError(f"{path} line {line}: {len(row)} cells, the header has {len(columns)}")
    if not all(map(_NUMBER.fullmatch, row)):
        raise _csv_cell_error(path, line, columns, row)
    values.extend(map(float, row))  # a cell of the grammar is one float() reads


def _csv_header(path: str, row: list[str], line: int) -> list[str]:
    """Column names from a header row: trimmed, non-empty and unique."""
    names = [name.strip() for name in row]
    for j, name in enumerate(names):
        if not name:
            raise DataError(f"{path} line {line}: column {j + 1} of the header has no name")
    _check_unique(path, names)
    return names


def _csv_cell_error(path: str, line: int, columns: list[str], row: list[str]) -> DataError:
    """The error for the first cell of a row that is not a number (``_NUMBER``)."""
    for name, cell in zip(columns, row, strict=True):
        if _NUMBER.fullmatch(cell):
            continue
        where = f"{path} line {line}, column {name!r}"
        text = cell.strip()
        if not text:
            return DataError(f"{where}: empty cell")
        if text.lower() in _MISSING_MARKERS:
            return DataError(f"{where}: missing value {text!r}")
        if text.lower().lstrip("+-") in _NON_FINITE:  # the messages of refuse_non_finite_cells
            return DataError(f"{where}: {_non_finite_value(float(text))}")
        return DataError(f"{where}: {text!r} is not a number")
    raise AssertionError("a row that failed to parse parsed")  # pragma: no cover


# --- Parquet ---------------------------------------------------------------------------


def _read_parquet(path: str) -> Table:
    """Read a Parquet file's integer and floating-point columns (see :func:`read_table`)."""
    pa, pq = import_pyarrow()
    import pyarrow.compute as pc

    with parquet_errors(path, pa), pq.ParquetFile(path) as parquet:
        names = parquet_data_columns(path, parquet, pa)
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
    refuse_non_finite_cells(data, names, f"{path} row", None)
    return Table(columns=names, data=data, path=path)


@contextmanager
def parquet_errors(path: str, pa) -> Iterator[None]:
    """pyarrow's errors as one-line DataErrors naming the file (OS errors stay)."""
    try:
        yield
    except pa.ArrowException as error:
        if isinstance(error, OSError):
            raise
        raise DataError(f"{path} is not a readable Parquet file: {first_line(error)}") from None


def import_pyarrow():
    """(pyarrow, pyarrow.parquet), or a MissingDependencyError saying how to install it."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        error = MissingDependencyError("reading Parquet needs pyarrow: pip install pyarrow")
        error.name = "pyarrow"
        raise error from None
    return pa, pq


def parquet_data_columns(path: str, parquet, pa) -> list[str]:
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


def npy_shape(path: str) -> tuple[int, int]:
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
            raise DataError(f"{path} is not a readable .npy file: {first_line(error)}") from None
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
    _, n_columns = npy_shape(path)
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as error:
        raise DataError(f"{path} is not a readable .npy file: {first_line(error)}") from None
    # A float64 file stays mapped (a read-only view); other dtypes are converted.
    data = np.asarray(mapped, dtype=np.float64)
    columns = [str(j) for j in range(n_columns)]
    refuse_non_finite_cells(data, columns, f"{path} row", None)
    return Table(columns=columns, data=data, path=path)


def npy_index(table: Table, target: str) -> int | None:
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


def refuse_non_finite_cells(data: np.ndarray, columns: list[str], where: str, lines) -> None:
    """Refuse NaN and infinities, naming the first: ``{where} {number}, column ...``.

    ``lines`` maps row indices to the numbers in messages (CSV lines); None counts rows
    from 1.
    """
    for start in range(0, data.shape[0], _FINITE_CHECK_ROWS):
        bad = ~np.isfinite(data[start : start + _FINITE_CHECK_ROWS])
        if bad.any():
            i, j = np.argwhere(bad)[0]
            row = start + int(i)
            number = lines[row] if lines is not None else row + 1
            what = _non_finite_value(float(data[row, j]))
            raise DataError(f"{where} {number}, column {columns[j]!r}: {what}")


def _non_finite_value(value: float) -> str:
    """What a NaN or an infinity in a cell is called in messages."""
    return "missing value (NaN)" if np.isnan(value) else f"infinite value ({value})"


def unknown_column_message(table: Table, target: str) -> str:
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


def first_line(error: BaseException) -> str:
    """An error's message cut to its first line, for one-line messages."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
