"""Edges of fastlinreg.sources.readers: PredictionWriter's state in its repr, closing with nothing
written, aborting after the temporary file is gone, .npy files of header version 2.0
and truncated ones, and a Parquet file without columns."""

from __future__ import annotations

import os

import numpy as np
import pytest

from fastlinreg import DataError, FileSource
from fastlinreg.outputs import PredictionWriter
from fastlinreg.sources.readers import read_table


def temporaries(folder):
    return [name for name in os.listdir(folder) if name.endswith(".tmp")]


def test_repr_tells_open_from_closed(tmp_path):
    writer = PredictionWriter(tmp_path / "p.csv")
    writer.write(np.arange(3.0))
    assert repr(writer).endswith("n_rows=3, open)")
    writer.close()
    assert repr(writer).endswith("n_rows=3, closed)")
    assert (tmp_path / "p.csv").read_text() == "prediction\n0.0\n1.0\n2.0\n"


def test_closing_without_a_batch_is_an_error_and_leaves_nothing(tmp_path):
    (tmp_path / "p.csv").write_text("old\n")
    writer = PredictionWriter(tmp_path / "p.csv")
    with pytest.raises(DataError, match="no batch was written"):
        writer.close()
    assert (tmp_path / "p.csv").read_text() == "old\n"
    assert not temporaries(tmp_path)
    with pytest.raises(ValueError, match="already closed"):
        writer.close()


def test_abort_after_the_temporary_file_vanished_is_quiet(tmp_path):
    writer = PredictionWriter(tmp_path / "p.csv")
    writer.write(np.ones(2))
    [temporary] = temporaries(tmp_path)
    os.remove(tmp_path / temporary)
    writer.abort()  # nothing left to remove: no error
    writer.abort()  # and a second abort does nothing
    assert not os.listdir(tmp_path)


def test_a_truncated_npy_table_is_one_data_error(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.arange(20.0).reshape(10, 2))
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(DataError, match="is not a readable .npy file: mmap length"):
        read_table(path)


def test_an_npy_file_of_header_version_2_is_read(tmp_path):
    # numpy writes version 2.0 when a header outgrows 64 kB (many fields); any reader of
    # .npy files must take it.
    path = tmp_path / "v2.npy"
    data = np.arange(12.0).reshape(4, 3)
    with open(path, "wb") as file:
        np.lib.format.write_array(file, data, version=(2, 0))
    assert np.array_equal(read_table(path).data, data)
    source = FileSource(path, "2")
    assert (source.n_samples, source.n_features) == (4, 2)


def test_a_parquet_file_without_columns_is_refused(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "empty.parquet"
    pq.write_table(pa.table({}), path)
    with pytest.raises(DataError, match="empty.parquet has no columns"):
        read_table(path)
