"""Edges of FileSource: text that is not UTF-8 or not valid CSV (in the header or in a
later row), a file without an extension, a truncated .npy, and a file rewritten to the
same size and time between two passes."""

from __future__ import annotations

import os

import numpy as np
import pytest

from fastlinreg import DataError, FileSource


def one_pass(source):
    return source.loss_grad(np.ones((1, source.n_features)), np.zeros(1))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b,\xe9\n1,2,3\n".encode("latin-1"), "is not UTF-8 text; save it as UTF-8"),
        (b'"a,b\n1,2\n', "line 1: malformed CSV"),
    ],
    ids=["latin-1", "open quote"],
)
def test_a_header_it_cannot_read_is_one_data_error(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as error:
        FileSource(path, "b")
    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("3,\xe9\n".encode("latin-1"), "is not UTF-8 text; save it as UTF-8"),
        (b'"3,4\n5,6\n', "line 5002: malformed CSV"),
    ],
    ids=["latin-1", "open quote"],
)
def test_rows_it_cannot_read_are_one_data_error_during_the_pass(tmp_path, rows, message):
    # 20 kB of good rows first: beyond what reading the header decodes.
    path = tmp_path / "bad.csv"
    path.write_bytes(b"a,b\n" + b"1,2\n" * 5000 + rows)
    source = FileSource(path, "b")  # the header is fine
    with pytest.raises(DataError, match=message):
        one_pass(source)


def test_a_file_without_an_extension_is_refused(tmp_path):
    path = tmp_path / "data"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"no file extension \(expected .csv, .parquet or .npy"):
        FileSource(path, "b")


def test_a_truncated_npy_file_is_refused_at_the_first_pass(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.arange(20.0).reshape(10, 2))
    path.write_bytes(path.read_bytes()[:-30])
    source = FileSource(path, "1")  # the header alone looks right
    with pytest.raises(DataError, match="is not a readable .npy file: mmap length"):
        one_pass(source)


def test_a_rewrite_to_the_same_size_and_time_is_still_noticed(tmp_path):
    # Size and modification time are the first check; a rewrite that keeps both (a
    # restored mtime) still cannot change the row count unnoticed.
    path = tmp_path / "s.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    source = FileSource(path, "b")
    one_pass(source)
    assert source.n_samples == 2
    status = os.stat(path)
    path.write_text("a,b\n1,23456\n")  # 12 bytes, as before, one row
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    with pytest.raises(DataError, match="changed while it was being read: 1 rows, 2 before"):
        one_pass(source)
