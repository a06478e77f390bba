"""fastlinreg.outputs: every output goes through output_file, which follows links, writes
into FIFOs and devices, replaces regular files in one step keeping their mode, leaves
nothing behind on any exception, and names the user's path in every OSError; and
check_output refuses, before any work, what could not be written."""

from __future__ import annotations

import errno
import os
import stat
import sys
import threading
from types import SimpleNamespace

import numpy as np
import pytest

from fastlinreg import LinearRegression, load, outputs
from fastlinreg.outputs import (
    PredictionWriter,
    check_output,
    is_standard_output,
    output_file,
    write_predictions,
)

POSIX = pytest.mark.skipif(os.name != "posix", reason="POSIX files (links, FIFOs, devices)")
NOT_ROOT = pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0, reason="root may write whatever the mode says"
)
LINUX_DEVICES = pytest.mark.skipif(
    not (os.path.exists("/dev/full") and os.path.exists("/proc/self/fd")),
    reason="needs Linux's /dev/full and /proc/self/fd",
)
CSV = b"prediction\n1\n2.5\n"


def temporaries(*folders):
    return [name for folder in folders for name in os.listdir(folder) if name.endswith(".tmp")]


def fitted():
    X = np.arange(12.0).reshape(6, 2) ** 1.5
    return LinearRegression(solver="exact").fit(X, X @ [1.0, -1.0] + 2.0), X


class FifoReader:
    """A FIFO at ``path`` and a thread that reads it to the end (into ``data``)."""

    def __init__(self, path):
        os.mkfifo(path)
        self.data = b""
        self._thread = threading.Thread(target=self._read, args=(path,), daemon=True)
        self._thread.start()

    def _read(self, path):
        with open(path, "rb") as fifo:
            self.data = fifo.read()

    def join(self):
        self._thread.join(timeout=30)
        assert not self._thread.is_alive()
        return self.data


# --- regular files --------------------------------------------------------------------


def test_a_new_file_is_written_with_no_temporary_left(tmp_path):
    path = tmp_path / "out.bin"
    with output_file(path) as file:
        file.write(b"abc")
        assert path.exists() is False  # written beside it until the block ends
    assert path.read_bytes() == b"abc"
    assert os.listdir(tmp_path) == ["out.bin"]


@POSIX
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o604])
def test_a_replaced_file_keeps_its_permission_bits(tmp_path, mode):
    path = tmp_path / "pred.csv"
    path.write_text("old\n")
    path.chmod(mode)
    write_predictions(path, [1.0, 2.5])
    assert path.read_bytes() == CSV
    assert stat.S_IMODE(path.stat().st_mode) == mode


@POSIX
def test_a_replaced_file_keeps_its_group_when_the_process_may_give_it(tmp_path):
    other_groups = [g for g in os.getgroups() if g != os.getegid()]
    if not other_groups:
        pytest.skip("the process is in no group but its own")
    path = tmp_path / "pred.csv"
    path.write_text("old\n")
    os.chown(path, -1, other_groups[0])
    write_predictions(path, [1.0, 2.5])
    assert path.stat().st_gid == other_groups[0]


def test_owner_and_group_are_given_as_far_as_the_process_may(tmp_path, monkeypatch):
    """Not root: giving the owner fails, the group alone is tried; neither failure is an
    error (the file is written, with what the process could give)."""
    calls = []

    def fchown(fd, uid, gid):
        calls.append((uid, gid))
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "fchown", fchown, raising=False)
    path = tmp_path / "t"
    path.write_bytes(b"")
    fd = os.open(path, os.O_WRONLY)
    try:
        mine = os.fstat(fd)
        elsewhere = SimpleNamespace(
            st_uid=mine.st_uid + 1, st_gid=mine.st_gid + 1, st_mode=0o100640
        )
        outputs._keep_owner_and_mode(fd, str(path), elsewhere)
        assert calls == [(mine.st_uid + 1, mine.st_gid + 1), (-1, mine.st_gid + 1)]
        calls.clear()
        outputs._keep_owner_and_mode(fd, str(path), mine)  # same owner: nothing to give
        assert calls == []
    finally:
        os.close(fd)


def test_a_file_system_without_permission_bits_is_no_error(tmp_path, monkeypatch):
    path = tmp_path / "pred.csv"
    path.write_text("old\n")

    def chmod(*args, **kwargs):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "chmod", chmod)
    write_predictions(path, [1.0, 2.5])
    assert path.read_bytes() == CSV


@pytest.mark.parametrize("error", [ValueError("bad cell"), KeyboardInterrupt(), SystemExit(143)])
def test_an_exception_mid_write_leaves_the_old_file_and_no_temporary(tmp_path, error):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(type(error)):
        with output_file(path) as file:
            file.write(b"new" * 10_000)
            raise error
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_a_keyboard_interrupt_mid_write_of_predictions_leaves_nothing(tmp_path, monkeypatch):
    """Ctrl-C while rows are formatted (inside PredictionWriter.write, not in the caller's
    code): the writer is aborted there, whatever the caller does next."""
    path = tmp_path / "pred.csv"
    path.write_bytes(b"old")
    writer = PredictionWriter(path)
    writer.write(np.arange(10.0))
    monkeypatch.setattr(outputs, "_WRITE_ROWS", 2)
    calls = []

    csv_lines = outputs._csv_lines

    def interrupted(rows):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return csv_lines(rows)

    monkeypatch.setattr(outputs, "_csv_lines", interrupted)
    with pytest.raises(KeyboardInterrupt):
        writer.write(np.arange(10.0))
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["pred.csv"]
    assert repr(writer).endswith("closed)")


@pytest.mark.parametrize("step", ["fsync", "replace"])
@pytest.mark.parametrize("error", [KeyboardInterrupt(), OSError(errno.EIO, "I/O error")])
def test_an_exception_while_finishing_leaves_the_old_file(tmp_path, monkeypatch, step, error):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")

    def fail(*args):
        raise error

    with pytest.raises(type(error)) as info:
        with output_file(path) as file:
            file.write(b"new")
            monkeypatch.setattr(os, step, fail)
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]
    if isinstance(error, OSError):  # the user's path, not the temporary file
        assert str(info.value) == f"[Errno 5] I/O error: '{path}'"


def test_an_interrupt_while_opening_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(outputs, "_keep_owner_and_mode", interrupted)
    with pytest.raises(KeyboardInterrupt):
        output_file(path).__enter__()
    assert os.listdir(tmp_path) == ["out.bin"]


def test_a_temporary_name_in_use_is_not_touched_and_the_error_names_the_path(tmp_path, monkeypatch):
    monkeypatch.setattr(outputs.secrets, "token_hex", lambda n: "cafe")
    path = tmp_path / "out.bin"
    taken = tmp_path / f".out.bin.{os.getpid()}.cafe.tmp"
    taken.write_bytes(b"someone's")
    with pytest.raises(FileExistsError) as info:
        with output_file(path):
            pass  # pragma: no cover - not reached
    assert info.value.filename == str(path)
    assert taken.read_bytes() == b"someone's"
    assert sorted(os.listdir(tmp_path)) == [taken.name]


def test_an_os_error_of_the_callers_own_is_not_renamed(tmp_path):
    """Only errors of the output name the output: a data file's error keeps its name."""
    path = tmp_path / "out.bin"
    with pytest.raises(FileNotFoundError) as info:
        with output_file(path):
            open(tmp_path / "data.csv")
    assert info.value.filename == str(tmp_path / "data.csv")
    assert os.listdir(tmp_path) == []


def test_an_os_error_without_a_number_is_raised_as_it_is():
    error = OSError("disk full")
    with pytest.raises(OSError) as info:
        outputs._raise_with_path(error, "out.csv")
    assert info.value is error


# --- links ----------------------------------------------------------------------------


@POSIX
def test_a_symlink_target_is_written_and_the_link_stays(tmp_path):
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir(), there.mkdir()
    target = there / "pred.csv"
    target.write_text("old\n")
    target.chmod(0o640)
    link = here / "pred.csv"
    link.symlink_to(target)
    write_predictions(link, [1.0, 2.5])
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == CSV
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert os.listdir(here) == ["pred.csv"] and os.listdir(there) == ["pred.csv"]


@POSIX
def test_a_chain_of_relative_links_is_followed(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "target.csv").write_text("old\n")
    (tmp_path / "sub" / "second").symlink_to("target.csv")
    (tmp_path / "first").symlink_to("sub/second")
    write_predictions(tmp_path / "first", [1.0, 2.5])
    assert (tmp_path / "sub" / "target.csv").read_bytes() == CSV
    assert os.readlink(tmp_path / "first") == "sub/second"
    assert os.readlink(tmp_path / "sub" / "second") == "target.csv"
    assert not temporaries(tmp_path, tmp_path / "sub")


@POSIX
def test_a_dangling_link_gets_its_target_created(tmp_path):
    link = tmp_path / "model.npz"
    link.symlink_to(tmp_path / "models" / "new.npz")
    (tmp_path / "models").mkdir()
    model, X = fitted()
    model.save(link)
    assert link.is_symlink()
    assert os.listdir(tmp_path / "models") == ["new.npz"]
    assert np.array_equal(load(link).predict(X), model.predict(X))


@POSIX
def test_a_dangling_link_into_a_missing_directory_names_the_link(tmp_path):
    link = tmp_path / "out.csv"
    link.symlink_to(tmp_path / "nodir" / "out.csv")
    with pytest.raises(FileNotFoundError) as info:
        write_predictions(link, [1.0])
    assert info.value.filename == str(link)
    assert f"No such directory '{tmp_path / 'nodir'}'" in str(info.value)


@POSIX
def test_a_loop_of_links_is_an_error_naming_the_path(tmp_path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    for path in (tmp_path / "a", tmp_path / "a" / "x"):  # the loop at the end, or inside
        with pytest.raises(OSError) as info:
            write_predictions(path, [1.0])
        assert info.value.errno == errno.ELOOP and info.value.filename == str(path)
        with pytest.raises(OSError, match="Too many levels of symbolic links"):
            check_output(path)
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]


# --- FIFOs, devices, standard output -----------------------------------------------------


@POSIX
def test_a_fifo_reader_gets_the_predictions(tmp_path):
    fifo = tmp_path / "pred.fifo"
    reader = FifoReader(fifo)
    predictions = np.linspace(-1.0, 1.0, 20_000)  # more than a pipe holds at once
    write_predictions(fifo, predictions)
    data = reader.join()
    write_predictions(tmp_path / "whole.csv", predictions)
    assert data == (tmp_path / "whole.csv").read_bytes()
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert sorted(os.listdir(tmp_path)) == ["pred.fifo", "whole.csv"]


@POSIX
def test_a_model_saved_into_a_fifo_loads_back(tmp_path):
    """zipfile writes to a stream that cannot seek (sizes after each member)."""
    fifo = tmp_path / "model.fifo"
    reader = FifoReader(fifo)
    model, X = fitted()
    model.save(fifo)
    (tmp_path / "copy.npz").write_bytes(reader.join())
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert np.array_equal(load(tmp_path / "copy.npz").predict(X), model.predict(X))


@LINUX_DEVICES
def test_dev_full_is_an_error_naming_the_path(tmp_path):
    link = tmp_path / "full.csv"
    link.symlink_to("/dev/full")
    for path, rows in [("/dev/full", 3), ("/dev/full", 100_000), (str(link), 3)]:
        with pytest.raises(OSError) as info:
            write_predictions(path, np.arange(float(rows)))
        assert info.value.errno == errno.ENOSPC
        assert str(info.value) == f"[Errno 28] No space left on device: '{path}'"
    with pytest.raises(OSError, match="No space left on device: '/dev/full'"):
        fitted()[0].save("/dev/full")
    assert os.listdir(tmp_path) == ["full.csv"] and link.is_symlink()
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


@LINUX_DEVICES
def test_dev_null_takes_the_output_and_stays_a_device():
    write_predictions("/dev/null", [1.0, 2.0])
    fitted()[0].save("/dev/null")
    check_output("/dev/null")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_dash_is_standard_output(capsysbinary):
    print("before", flush=False)
    write_predictions("-", [1.0, 2.5])
    with output_file("-") as file:
        file.write(b"more\n")
    assert capsysbinary.readouterr().out == b"before\n" + CSV + b"more\n"
    assert not sys.stdout.closed
    check_output("-", inputs=["-"])


def test_a_model_saved_to_standard_output_loads_back(capsysbinary, tmp_path):
    model, X = fitted()
    model.save("-")
    (tmp_path / "copy.npz").write_bytes(capsysbinary.readouterr().out)
    assert np.array_equal(load(tmp_path / "copy.npz").predict(X), model.predict(X))


@pytest.mark.parametrize("failing", ["write", "flush"])
def test_an_error_on_standard_output_names_dash(monkeypatch, failing):
    class Broken:
        def write(self, data):
            if failing == "write":
                raise BrokenPipeError(errno.EPIPE, "Broken pipe")

        def flush(self):
            if failing == "flush":
                raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", SimpleNamespace(buffer=Broken(), flush=lambda: None))
    with pytest.raises(BrokenPipeError) as info:
        write_predictions("-", np.arange(10_000.0))  # more than a buffer: written at once
    assert str(info.value) == "[Errno 32] Broken pipe: '-'"


@LINUX_DEVICES
@pytest.mark.parametrize("name", ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"])
def test_dev_stdout_is_this_process_standard_output(capfd, name):
    """Written through a copy of descriptor 1, after what print wrote: the shell's
    redirection of it (a pipe, or a file, >> included) is respected, never replaced."""
    print("before")
    write_predictions(name, [1.0, 2.5])
    assert capfd.readouterr().out == "before\n" + CSV.decode()
    check_output(name)


@POSIX
def test_is_standard_output(tmp_path):
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "link").symlink_to("out.csv")
    assert is_standard_output("-")
    assert not is_standard_output(tmp_path / "link")
    assert not is_standard_output(tmp_path / "loop")
    if os.path.exists("/proc/self/fd"):
        (tmp_path / "stdout").symlink_to("/dev/stdout")
        assert is_standard_output("/dev/stdout") and is_standard_output(tmp_path / "stdout")
        assert not is_standard_output("/dev/stderr")


# --- check_output ---------------------------------------------------------------------


def test_check_output_accepts_a_new_or_existing_file(tmp_path, monkeypatch):
    check_output(tmp_path / "new.csv", inputs=[tmp_path / "missing.csv"])
    (tmp_path / "old.csv").write_text("x\n")
    check_output(tmp_path / "old.csv", inputs=[tmp_path / "other.csv"])
    monkeypatch.chdir(tmp_path)
    check_output("relative.csv", inputs=["old.csv"])
    write_predictions("relative.csv", [1.0, 2.5])
    assert (tmp_path / "relative.csv").read_bytes() == CSV


@pytest.mark.parametrize("how", ["same path", "symlink", "hard link", "input is a link"])
def test_check_output_refuses_an_input(tmp_path, how):
    data = tmp_path / "in.csv"
    data.write_text("x,y\n1,2\n")
    out = tmp_path / "out.csv"
    if how == "same path":
        out = data
    elif how == "symlink":
        out.symlink_to(data)
    elif how == "hard link":
        os.link(data, out)
    else:
        out.write_text("old\n")
        data.unlink()
        data.symlink_to(out)
    with pytest.raises(ValueError) as info:
        check_output(out, inputs=[("model file", tmp_path / "m.npz"), ("data file", data)])
    assert str(info.value) == f"--out {out} is the data file {data}: choose another output file"
    with pytest.raises(ValueError, match=f"^--save {out} is the input file {data}: choose"):
        check_output(out, inputs=[data], option="--save")


def test_check_output_refuses_a_directory(tmp_path):
    with pytest.raises(IsADirectoryError) as info:
        check_output(tmp_path, option="--save")
    assert info.value.errno == errno.EISDIR and info.value.filename == str(tmp_path)
    assert str(info.value) == f"[Errno 21] Is a directory: '{tmp_path}'"


def test_check_output_refuses_a_missing_directory(tmp_path):
    path = str(tmp_path / "nodir" / "m.npz")
    with pytest.raises(FileNotFoundError) as info:
        check_output(path)
    assert info.value.filename == path and info.value.errno == errno.ENOENT
    assert str(info.value) == f"[Errno 2] No such directory '{tmp_path / 'nodir'}': '{path}'"


def test_check_output_refuses_a_path_through_a_file(tmp_path):
    (tmp_path / "file").write_text("x\n")
    path = str(tmp_path / "file" / "m.npz")
    with pytest.raises(NotADirectoryError) as info:
        check_output(path)
    assert info.value.filename == path


@NOT_ROOT
def test_check_output_refuses_an_unwritable_directory(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "m.npz").write_bytes(b"old")
    folder.chmod(0o500)
    try:
        for path in (folder / "new.npz", folder / "m.npz"):
            with pytest.raises(PermissionError) as info:
                check_output(path, option="--save")
            assert info.value.filename == str(path)
            assert f"Permission denied to create files in '{folder}'" in str(info.value)
            with pytest.raises(PermissionError):  # and nothing is written
                fitted()[0].save(path)
        assert (folder / "m.npz").read_bytes() == b"old"
    finally:
        folder.chmod(0o700)
    assert os.listdir(folder) == ["m.npz"]


@NOT_ROOT
def test_check_output_refuses_a_read_only_file(tmp_path):
    path = tmp_path / "pred.csv"
    path.write_text("old\n")
    path.chmod(0o444)
    with pytest.raises(PermissionError) as info:
        check_output(path)
    assert str(info.value) == f"[Errno 13] Permission denied: '{path}'"
    with pytest.raises(PermissionError):
        write_predictions(path, [1.0])
    assert path.read_text() == "old\n"


@POSIX
def test_check_output_accepts_a_fifo_in_a_read_only_directory(tmp_path, monkeypatch):
    """A FIFO is written into: no temporary file, so its directory need not be writable."""
    fifo = tmp_path / "p"
    os.mkfifo(fifo)
    folder_access = []
    real_access = os.access

    def access(path, mode, **kwargs):
        if os.fspath(path) == str(tmp_path):
            folder_access.append(mode)
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    check_output(fifo)
    assert folder_access == []
    with pytest.raises(PermissionError):
        check_output(tmp_path / "new.csv")
