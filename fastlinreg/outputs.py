"""Writing the ``fastlinreg`` command's output files: predictions as CSV, never half-written.

``write_predictions`` writes a CSV of predictions that reads back bit for bit;
:class:`PredictionWriter` writes the same file batch by batch. Both are also importable
from :mod:`fastlinreg.io`, where they were first.
"""

from __future__ import annotations

import os
import secrets
from typing import NoReturn

import numpy as np

from .io import DataError

__all__ = ["PredictionWriter", "write_predictions"]

# Rows of predictions formatted per write call: bounds the Python lists and the string.
_WRITE_ROWS = 4096


def write_predictions(path: str | os.PathLike[str], predictions) -> None:
    """Write predictions to a CSV file, exactly, replacing the file in one step.

    Parameters
    ----------
    path : str or path-like
        The CSV file. It is written to a temporary file beside it, then renamed over
        it, so a reader never sees a half-written file and a failed write leaves an
        existing file as it was.
    predictions : array-like of shape (n_samples,) or (n_samples, n_targets)
        Numbers; not modified. One column headed ``prediction`` for 1-D predictions,
        columns ``prediction_0``, ``prediction_1``, ... for 2-D ones. Each value is
        written as the shortest decimal that reads back to the same float64
        (``repr``), so :func:`read_table` returns them bit for bit.

    Raises
    ------
    DataError
        The predictions are not a 1-D or 2-D array of numbers.
    OSError
        The file cannot be written (the message names ``path``, not the temporary file).

    See Also
    --------
    PredictionWriter : the same file written batch by batch.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from fastlinreg.io import read_table, write_predictions
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "pred.csv")
    ...     write_predictions(path, np.array([0.1, 2.0 / 3.0]))
    ...     with open(path) as file:
    ...         print(file.read(), end="")
    ...     table = read_table(path)
    prediction
    0.1
    0.6666666666666666
    >>> table.data[:, 0].tolist() == [0.1, 2.0 / 3.0]
    True
    """
    path = os.fspath(path)
    # Checked before a temporary file exists: bad input touches nothing.
    header, rows = _prediction_rows(path, predictions)
    with PredictionWriter(path) as writer:
        writer._write_rows(header, rows)


class PredictionWriter:
    """A CSV file of predictions written batch by batch, and only complete or not at all.

    The file :func:`write_predictions` writes, byte for byte, for the batches' rows one
    after the other, without holding more than one batch: rows go to a temporary file
    beside ``path`` (same folder, so the final rename stays on one file system), which
    replaces ``path`` when the writer is closed after the last batch. If anything goes
    wrong before that (an error while the batches are computed, in a ``with`` block or
    passed to :meth:`abort`), the temporary file is removed and an existing ``path`` is
    left as it was: no half-written file ever has the final name.

    Parameters
    ----------
    path : str or path-like
        The CSV file to write; the temporary file is created at once (``OSError``
        naming ``path`` if it cannot be).

    Attributes
    ----------
    path : str
    n_rows : int
        Rows written so far.

    Raises
    ------
    DataError
        A batch that is not a 1-D or 2-D array of numbers, or whose number of
        columns (or dimensions) differs from the first batch's; or :meth:`close`
        before any batch was written.
    OSError
        The file cannot be written; the message names ``path``, not the temporary file.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from fastlinreg.io import PredictionWriter
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "pred.csv")
    ...     with PredictionWriter(path) as writer:
    ...         writer.write(np.array([[0.5, 1.0], [2.0, 3.0]]))
    ...         writer.write(np.array([[-1.0, 0.25]]))
    ...     with open(path) as file:
    ...         print(file.read(), end="")
    prediction_0,prediction_1
    0.5,1.0
    2.0,3.0
    -1.0,0.25
    >>> writer.n_rows
    3
    """

    def __init__(self, path: str | os.PathLike[str]):
        path = os.fspath(path)
        if os.path.isdir(path):
            raise IsADirectoryError(f"{path} is a directory")
        folder, name = os.path.split(path)
        temporary = os.path.join(folder, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            # os.open with mode 0o666 lets the umask decide the permissions, as for any
            # new file (tempfile.mkstemp would leave the result readable by its owner
            # only); O_BINARY keeps Windows from turning "\n" into "\r\n".
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            fd = os.open(temporary, flags, 0o666)
        except OSError as error:
            _raise_with_path(error, path)
        self.path = path
        self.n_rows = 0
        self._temporary: str | None = temporary
        self._file = open(fd, "w", encoding="utf-8", newline="")
        self._header: str | None = None

    def __repr__(self) -> str:
        state = "open" if self._temporary is not None else "closed"
        return f"PredictionWriter({self.path!r}, n_rows={self.n_rows}, {state})"

    def __enter__(self) -> PredictionWriter:
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        if error_type is None:
            self.close()
        else:
            self.abort()

    def write(self, predictions) -> None:
        """Append a batch of predictions (array-like of shape (m,) or (m, n_targets)).

        The first batch decides the header (``prediction``, or ``prediction_0``, ...);
        every later batch must have as many columns. The values are formatted as
        :func:`write_predictions` formats them (``repr`` of the float64 value).
        """
        header, rows = _prediction_rows(self.path, predictions)
        if self._header is not None and header != self._header:
            raise DataError(
                f"predictions for {self.path} must have the columns of the first batch "
                f"({self._header}), got {header}"
            )
        self._write_rows(header, rows)

    def close(self) -> None:
        """Finish the file: flush, sync, and rename it to ``path``.

        The last step of a writer whose batches are all written. On failure the
        temporary file is removed and ``path`` is left as it was.
        """
        if self._temporary is None:
            raise ValueError(f"the PredictionWriter for {self.path} is already closed")
        try:
            if self._header is None:
                raise DataError(f"predictions for {self.path}: no batch was written")
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self._temporary, self.path)
            self._temporary = None
        except BaseException as error:
            self.abort()
            if isinstance(error, OSError):
                _raise_with_path(error, self.path)
            raise

    def abort(self) -> None:
        """Give up: close and remove the temporary file; ``path`` is not touched.

        Does nothing for a writer already closed or aborted.
        """
        temporary, self._temporary = self._temporary, None
        if temporary is None:
            return
        try:
            self._file.close()
        except OSError:
            pass
        try:
            os.remove(temporary)
        except OSError:
            pass

    def _write_rows(self, header: str, rows: np.ndarray) -> None:
        """Write the header (first call) and rows (float64, 2-D), naming ``path`` in
        an OSError; on one, the temporary file is removed."""
        if self._temporary is None:
            raise ValueError(f"the PredictionWriter for {self.path} is closed")
        try:
            if self._header is None:
                self._file.write(header + "\n")
                self._header = header
            # A few thousand rows per write call: the Python lists and the string of a
            # chunk stay small however many rows a batch (or write_predictions) has.
            for start in range(0, rows.shape[0], _WRITE_ROWS):
                chunk = rows[start : start + _WRITE_ROWS].tolist()
                self._file.write("".join(",".join(map(repr, row)) + "\n" for row in chunk))
        except OSError as error:
            self.abort()
            _raise_with_path(error, self.path)
        self.n_rows += rows.shape[0]


def _prediction_rows(path: str, predictions) -> tuple[str, np.ndarray]:
    """(header line, float64 rows (m, n_columns)) of predictions, checked."""
    values = np.asarray(predictions)
    if values.dtype.kind not in "iuf":
        raise DataError(
            f"predictions for {path} must be numbers, got an array of dtype {values.dtype}"
        )
    if values.ndim == 1:
        return "prediction", values.astype(np.float64).reshape(-1, 1)
    if values.ndim == 2 and values.shape[1] > 0:
        header = ",".join(f"prediction_{j}" for j in range(values.shape[1]))
        return header, values.astype(np.float64)
    raise DataError(
        f"predictions for {path} must be 1-D or 2-D with at least one column, "
        f"got shape {tuple(values.shape)}"
    )


def _raise_with_path(error: OSError, path: str) -> NoReturn:
    """Raise the same kind of OSError, naming ``path`` instead of the temporary file."""
    if error.errno is None or error.strerror is None:
        raise error
    raise type(error)(error.errno, error.strerror, path) from error
