"""Writing the ``fastlinreg`` command's output files: never half-written, never a link or
a device replaced by a regular file.

:func:`output_file` is the one way the project writes a file (predictions, model files,
plots): a context manager that yields a binary file object and decides, from what the
path names, how the bytes get there:

- ``-`` is standard output (flushed at the end, not closed);
- a symbolic link (or a chain of them, or a dangling one) is followed: its target is
  written as below and the link stays a link; ``/dev/stdout``, ``/dev/fd/N`` and
  ``/proc/self/fd/N`` name this process's descriptor N, which is written to as it is
  (a copy of it: the shell's redirection, ``>>`` included, is respected);
- an existing file that is not a regular file (a FIFO, ``/dev/null``, a terminal, a
  block device) is opened and written into, never replaced;
- a regular file, or a new one, is written to a temporary file beside it (same folder,
  so the rename stays on one file system), flushed, synced and renamed over it: a reader
  never sees a half-written file. An existing file keeps its permission bits and, as
  far as the process may, its owner and group; a new one gets ``0o666`` minus the umask.

On any exception (``KeyboardInterrupt`` too) the temporary file is removed and an
existing file is left as it was. Every ``OSError`` names the path as the user gave it,
never the temporary file. :func:`check_output` makes the same checks before any work
(and refuses an output that is one of the command's inputs), so that a long fit does not
end in a refusal to write its model.

``write_predictions`` writes a CSV of predictions that reads back bit for bit;
:class:`PredictionWriter` writes the same file batch by batch. Both are also importable
from :mod:`fastlinreg.sources._readers`, where they were first.
"""

from __future__ import annotations

import errno
import io
import os
import re
import secrets
import stat
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, NoReturn

import numpy as np

from .errors import DataError

__all__ = [
    "PredictionWriter",
    "check_folder",
    "check_output",
    "is_standard_output",
    "output_file",
    "write_predictions",
]

# Rows of predictions formatted per write call: bounds the text of one call.
_WRITE_ROWS = 65536
# Links followed before giving up with ELOOP (Linux's own limit).
_MAX_LINKS = 40
# The folder of this process's descriptors, as os.path.realpath writes it
# (/dev/fd and /proc/self/fd both lead there on Linux).
_DESCRIPTOR_FOLDER = re.compile(r"/proc/(\d+)/fd")


def check_output(
    path: str | os.PathLike[str],
    *,
    inputs: Iterable[str | os.PathLike[str] | tuple[str, str | os.PathLike[str]]] = (),
    option: str = "--out",
) -> None:
    """Refuse, before any work, an output file that could not be written.

    The checks :func:`output_file` makes when it opens ``path``, made early (so that an
    hour's fit does not end in a refusal to write its model), and one more: the output
    must not be one of ``inputs`` (through symbolic links and hard links too). ``-``
    (standard output) is always fine.

    Parameters
    ----------
    path : str or path-like
        The output file, as the user gave it.
    inputs : iterable of paths or of (description, path) pairs
        The command's input files, e.g. ``[("data file", "in.csv"), ("model file",
        "m.npz")]``; a bare path is described as "input file". Inputs that do not exist
        are skipped (reading them will fail on its own).
    option : str
        The option that named ``path``, for the message (``"--out"``, ``"--save"``).

    Raises
    ------
    ValueError
        ``path`` is the same file as an input: ``"--out in.csv is the data file in.csv:
        choose another output file"``.
    IsADirectoryError, FileNotFoundError, PermissionError, OSError
        ``path`` is a directory; its directory does not exist; it, or its directory
        (where the temporary file goes), is not writable; a loop of symbolic links. The
        error's ``filename`` is ``path`` as given.

    Examples
    --------
    >>> import os, tempfile
    >>> from fastlinreg.outputs import check_output
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     data = os.path.join(folder, "in.csv")
    ...     with open(data, "w") as file:
    ...         _ = file.write("x,y\\n1,2\\n")
    ...     check_output(os.path.join(folder, "out.csv"), inputs=[("data file", data)])
    ...     try:
    ...         check_output(data, inputs=[("data file", data)])
    ...     except ValueError as error:
    ...         print(str(error).replace(folder, "..."))
    --out .../in.csv is the data file .../in.csv: choose another output file
    """
    name = os.fsdecode(os.fspath(path))
    if name == "-":
        return
    for item in inputs:
        what, source = item if isinstance(item, tuple) else ("input file", item)
        source_name = os.fsdecode(os.fspath(source))
        if _same_file(name, source_name):
            raise ValueError(
                f"{option} {name} is the {what} {source_name}: choose another output file"
            )
    _inspect(name)


def is_standard_output(path: str | os.PathLike[str]) -> bool:
    """Whether :func:`output_file` would write ``path`` to this process's standard
    output: ``-``, or a link to descriptor 1 (``/dev/stdout``, ``/dev/fd/1``), where a
    command should then not print its own messages.

    Examples
    --------
    >>> from fastlinreg.outputs import is_standard_output
    >>> is_standard_output("-"), is_standard_output("predictions.csv")
    (True, False)
    """
    name = os.fsdecode(os.fspath(path))
    if name == "-":
        return True
    try:
        return _follow_links(name)[1] == 1
    except OSError:  # a loop of links: output_file will say so
        return False


@contextmanager
def output_file(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file to write the output ``path`` through; it is complete when the
    ``with`` block ends without an exception.

    Parameters
    ----------
    path : str or path-like
        ``-`` for standard output, or a file; see the module docstring for links,
        FIFOs and devices.

    Yields
    ------
    file : io.BufferedWriter
        Write bytes to it; do not close it. It is seekable when a temporary file is
        behind it, not for standard output, a FIFO or a device (``zipfile`` writes to
        either).

    Raises
    ------
    OSError
        ``path`` cannot be written (see :func:`check_output`), or a write, the sync or
        the rename failed; the message names ``path``, never the temporary file. An
        existing file is then as it was, and no temporary file is left.

    Examples
    --------
    >>> import os, tempfile
    >>> from fastlinreg.outputs import output_file
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "out.txt")
    ...     with output_file(path) as file:
    ...         _ = file.write(b"complete, or not at all\\n")
    ...     with open(path) as file:
    ...         print(file.read(), end="")
    complete, or not at all
    """
    output = _Output(os.fsdecode(os.fspath(path)))
    try:
        yield output.file
    except BaseException:
        output.abort()
        raise
    output.commit()


def write_predictions(path: str | os.PathLike[str], predictions) -> None:
    """Write predictions to a CSV file, exactly, replacing the file in one step.

    Parameters
    ----------
    path : str or path-like
        The CSV file, written by :func:`output_file`: to a temporary file beside it,
        then renamed over it, so a reader never sees a half-written file and a failed
        write leaves an existing file as it was. ``-`` is standard output; a symbolic
        link's target is written; a FIFO or a device is written into.
    predictions : array-like of shape (n_samples,) or (n_samples, n_targets)
        Numbers; not modified. One column headed ``prediction`` for 1-D predictions,
        columns ``prediction_0``, ``prediction_1``, ... for 2-D ones. Each value is
        written as the shortest decimal that reads back to the same float64 (the
        digits of Python's ``repr``, though ``1.0`` is written ``1`` and ``1e-05``
        ``0.00001``), so :func:`read_table` returns them bit for bit.

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
    >>> from fastlinreg.sources._readers import read_table
    >>> from fastlinreg.outputs import write_predictions
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
    path = os.fsdecode(os.fspath(path))
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
        The CSV file to write, as :func:`output_file` writes it (``-`` is standard
        output; a symbolic link's target is written; a FIFO or a device is written
        into, as the batches come). The temporary file is created (or the FIFO or
        device opened) at once, ``OSError`` naming ``path`` if it cannot be.

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
    >>> from fastlinreg.outputs import PredictionWriter
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "pred.csv")
    ...     with PredictionWriter(path) as writer:
    ...         writer.write(np.array([[0.5, 1.0], [2.0, 3.0]]))
    ...         writer.write(np.array([[-1.0, 0.25]]))
    ...     with open(path) as file:
    ...         print(file.read(), end="")
    prediction_0,prediction_1
    0.5,1
    2,3
    -1,0.25
    >>> writer.n_rows
    3
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = os.fsdecode(os.fspath(path))
        self.n_rows = 0
        self._header: str | None = None
        self._output: _Output | None = _Output(self.path)

    def __repr__(self) -> str:
        state = "open" if self._output is not None else "closed"
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
        :func:`write_predictions` formats them (the shortest decimal of the float64
        value).
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
        output, self._output = self._output, None
        if output is None:
            raise ValueError(f"the PredictionWriter for {self.path} is already closed")
        if self._header is None:
            output.abort()
            raise DataError(f"predictions for {self.path}: no batch was written")
        output.commit()

    def abort(self) -> None:
        """Give up: close and remove the temporary file; ``path`` is not touched.

        Does nothing for a writer already closed or aborted.
        """
        output, self._output = self._output, None
        if output is not None:
            output.abort()

    def _write_rows(self, header: str, rows: np.ndarray) -> None:
        """Write the header (first call) and rows (float64, 2-D); on any exception
        (an OSError names ``path``) the writer is aborted."""
        if self._output is None:
            raise ValueError(f"the PredictionWriter for {self.path} is closed")
        file = self._output.file
        try:
            if self._header is None:
                file.write(header.encode() + b"\n")
                self._header = header
            # A bounded number of rows per write call: the text of a chunk stays small
            # however many rows a batch (or write_predictions) has.
            for start in range(0, rows.shape[0], _WRITE_ROWS):
                file.write(_csv_lines(rows[start : start + _WRITE_ROWS]))
        except BaseException:
            self.abort()
            raise
        self.n_rows += rows.shape[0]


def _csv_lines(rows: np.ndarray) -> bytes:
    """CSV lines of float64 rows, each value the shortest decimal that reads back to the
    same float64 (pyarrow's cast, double-conversion's shortest form: ``1`` for 1.0,
    ``0.00001``, ``1e+22``), about 4 times as fast as Python's ``repr`` of each value."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    # Arrays made from the columns' buffers: pa.table or pa.array on NumPy arrays would
    # import pandas (0.2 s of every fastlinreg predict).
    columns = [np.ascontiguousarray(rows[:, j]) for j in range(rows.shape[1])]
    batch = pa.RecordBatch.from_arrays(
        [pa.Array.from_buffers(pa.float64(), len(c), [None, pa.py_buffer(c)]) for c in columns],
        names=[""] * len(columns),
    )
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(batch, sink, write_options=pa_csv.WriteOptions(include_header=False))
    return sink.getvalue().to_pybytes()


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


class _Output:
    """One output being written: the binary ``file``, then :meth:`commit` or :meth:`abort`.

    Opening it makes :func:`check_output`'s checks and creates the temporary file (for a
    regular file) or opens what ``path`` names (a FIFO, a device, a descriptor).
    """

    file: io.BufferedWriter[Any]

    def __init__(self, path: str):
        self.path = path
        self._temporary: str | None = None  # set while a temporary file is to be renamed
        self._target = path
        if path == "-":
            _flush_standard_streams()
            self.file = io.BufferedWriter(_StreamSink(sys.stdout.buffer, path))
            return
        target, descriptor, status = _inspect(path)
        self._target = target
        fd = -1
        try:
            if descriptor is not None:
                # What the shell set up (a pipe, a terminal, a file opened with > or >>)
                # is written to through a copy of the descriptor: same offset, same flags.
                _flush_standard_streams()
                fd = os.dup(descriptor)
            elif status is not None and not stat.S_ISREG(status.st_mode):
                # A FIFO or a device: written into. No O_CREAT (it exists), no O_TRUNC.
                fd = os.open(target, os.O_WRONLY | getattr(os, "O_BINARY", 0))
            else:
                folder, name = os.path.split(target)
                temporary = os.path.join(
                    folder, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
                )
                # Mode 0o666 lets the umask decide, as for any new file (tempfile.mkstemp
                # would leave it readable by its owner only); O_BINARY keeps Windows from
                # turning "\n" into "\r\n".
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
                fd = os.open(temporary, flags, 0o666)
                self._temporary = temporary
                if status is not None:
                    _keep_owner_and_mode(fd, temporary, status)
            self.file = io.BufferedWriter(_FileSink(fd, path))
        except BaseException as error:
            if fd >= 0:
                os.close(fd)
            self._remove_temporary()
            if isinstance(error, OSError):
                _raise_with_path(error, path)
            raise

    def commit(self) -> None:
        """Flush (and sync) what was written; rename the temporary file over the target.

        On any failure the output is aborted and the error re-raised (an OSError naming
        the user's path).
        """
        try:
            self.file.flush()
            if self._temporary is not None:
                os.fsync(self.file.fileno())
            elif isinstance(self.file.raw, _FileSink):
                try:
                    os.fsync(self.file.fileno())
                except OSError:
                    pass  # EINVAL on a pipe or a terminal: nothing to sync
            self.file.close()  # standard output: flushed, not closed (see _StreamSink)
            if self._temporary is not None:
                os.replace(self._temporary, self._target)
                self._temporary = None
        except BaseException as error:
            self.abort()
            if isinstance(error, OSError):
                _raise_with_path(error, self.path)
            raise

    def abort(self) -> None:
        """Give up: close the file and remove the temporary one (the target is not
        touched). Does nothing after :meth:`commit` or a first :meth:`abort`."""
        try:
            self.file.close()
        except OSError:
            pass  # the error that made us abort, again (ENOSPC, EPIPE): already raised
        self._remove_temporary()

    def _remove_temporary(self) -> None:
        temporary, self._temporary = self._temporary, None
        if temporary is not None:
            try:
                os.remove(temporary)
            except OSError:
                pass


class _FileSink(io.FileIO):
    """A descriptor to write to, whose write errors name the user's path."""

    def __init__(self, fd: int, path: str):
        super().__init__(fd, "wb")
        self._path = path

    def write(self, data) -> int | None:  # type: ignore[override]
        try:
            return super().write(data)
        except OSError as error:
            _raise_with_path(error, self._path)


class _StreamSink(io.RawIOBase):
    """Standard output's binary stream, written to (errors naming ``-``) and flushed
    when closed, but never closed itself."""

    def __init__(self, stream, path: str):
        self._stream = stream
        self._path = path

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        try:
            self._stream.write(data)
        except OSError as error:
            _raise_with_path(error, self._path)
        return len(data)

    def flush(self) -> None:
        super().flush()
        try:
            self._stream.flush()
        except OSError as error:
            _raise_with_path(error, self._path)


def _inspect(path: str) -> tuple[str, int | None, os.stat_result | None]:
    """Where ``path`` leads (links followed), checked to be writable: (target, this
    process's descriptor it names or None, the target's status or None if new)."""
    try:
        target, descriptor = _follow_links(path)
        if descriptor is not None:
            return target, descriptor, None
        try:
            status: os.stat_result | None = os.stat(target)
        except FileNotFoundError:
            status = None
    except OSError as error:
        _raise_with_path(error, path)
    if status is not None and stat.S_ISDIR(status.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    if status is not None and not _may(target, os.W_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
    if status is None or stat.S_ISREG(status.st_mode):
        # The temporary file is created beside the target: its folder must take it.
        folder = os.path.dirname(target) or os.curdir
        if not os.path.isdir(folder):  # os.stat said ENOENT: the folder is missing
            raise FileNotFoundError(errno.ENOENT, f"No such directory {folder!r}", path)
        if not _may(folder, os.W_OK | os.X_OK):
            raise PermissionError(
                errno.EACCES, f"Permission denied to create files in {folder!r}", path
            )
    return target, None, status


def _follow_links(path: str) -> tuple[str, int | None]:
    """The path at the end of ``path``'s chain of symbolic links, or this process's
    descriptor number where the chain reaches one (``/dev/stdout``, ``/dev/fd/1``)."""
    current = path
    for _ in range(_MAX_LINKS):
        if not os.path.islink(current):
            return current, None
        folder = os.path.dirname(current)
        # /proc/self/fd/N reads as the file the descriptor has open, which may not be
        # the file the descriptor writes to (a pipe, a deleted file, one opened with >>).
        match = _DESCRIPTOR_FOLDER.fullmatch(os.path.realpath(folder or os.curdir))
        if match is not None and int(match.group(1)) == os.getpid():
            return current, int(os.path.basename(current))
        # Joined, not normalised: the system resolves ".." in the link as it would.
        current = os.path.join(folder, os.readlink(current))
    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)


def check_folder(path: str, option: str) -> None:
    """Refuse (ValueError naming ``option`` and ``path``), before any work, a folder that
    does not exist or that this process cannot create files in, as :func:`check_output`
    checks an output's folder."""
    if not os.path.isdir(path):
        raise ValueError(f"{option} {path}: no such folder")
    if not _may(path, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {path}: the folder is not writable")


def _may(path: str, mode: int) -> bool:
    """os.access, with the effective ids where the system can (a setuid process)."""
    return os.access(path, mode, effective_ids=os.access in os.supports_effective_ids)


def _same_file(first: str, second: str) -> bool:
    """Whether two paths are one file (links followed); False if either is missing."""
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


def _keep_owner_and_mode(fd: int, temporary: str, status: os.stat_result) -> None:
    """Give the temporary file the replaced file's owner, group and permission bits,
    as far as this process may: the rename puts a new file in the old one's place."""
    created = os.fstat(fd)
    if (created.st_uid, created.st_gid) != (status.st_uid, status.st_gid):
        try:
            os.fchown(fd, status.st_uid, status.st_gid)
        except OSError:
            try:  # not root: the group may still be one of ours to give
                os.fchown(fd, -1, status.st_gid)
            except OSError:
                pass
    try:
        # After fchown, which clears set-user-ID bits. By name: os.fchmod is POSIX only.
        os.chmod(temporary, stat.S_IMODE(status.st_mode))
    except OSError:
        pass  # a file system without permission bits (FAT, some network shares)


def _flush_standard_streams() -> None:
    """Flush Python's standard output and error before writing past their buffers."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()


def _raise_with_path(error: OSError, path: str) -> NoReturn:
    """Raise the same kind of OSError, naming ``path`` instead of the temporary file."""
    if error.errno is None or error.strerror is None:
        raise error
    raise type(error)(error.errno, error.strerror, path) from error
