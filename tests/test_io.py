"""Tests for fastlinreg.sources._readers: the readers behind the ``fastlinreg`` command."""

from __future__ import annotations

import os
import re
import sys

import numpy as np
import pytest

from fastlinreg import DataError, FileSource
from fastlinreg.outputs import PredictionWriter, write_predictions
from fastlinreg.sources._readers import MissingDependencyError, Table, read_table, split_target


def write_text(path, text: str, newline: str = "\n") -> str:
    """Write ``text`` byte for byte (``newline`` replaces each "\\n"), return the path."""
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return str(path)


def raises_exactly(error_type, message: str):
    """pytest.raises matching the whole message, not a prefix or a regex."""
    return pytest.raises(error_type, match=f"^{re.escape(message)}$")


def bits(a: np.ndarray) -> np.ndarray:
    """float64 values as their bit patterns: equality of these is bit-exactness."""
    return np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)


# --- CSV -------------------------------------------------------------------------------


def test_csv_round_trip(tmp_path):
    path = write_text(tmp_path / "data.csv", "a,b,c\n1,2.5,-3\n4e2,0.1,6\n")
    table = read_table(path)
    assert isinstance(table, Table)
    assert table.columns == ["a", "b", "c"]
    assert table.path == path
    assert table.data.dtype == np.float64
    np.testing.assert_array_equal(table.data, [[1, 2.5, -3], [400, 0.1, 6]])


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize("trailing", [True, False], ids=["trailing-newline", "no-trailing"])
def test_csv_line_ends(tmp_path, newline, trailing):
    text = "x,y\n1,2\n3,4" + ("\n" if trailing else "")
    table = read_table(write_text(tmp_path / "data.csv", text, newline))
    assert table.columns == ["x", "y"]
    np.testing.assert_array_equal(table.data, [[1, 2], [3, 4]])


def test_csv_quoted_header_names_with_spaces(tmp_path):
    path = write_text(tmp_path / "data.csv", '"living area","number of rooms",price\n1,2,3\n')
    table = read_table(path)
    assert table.columns == ["living area", "number of rooms", "price"]
    X, y, names = split_target(table, "living area")
    assert names == ["number of rooms", "price"]
    np.testing.assert_array_equal(y, [1.0])


def test_csv_spaces_after_commas_bom_blank_lines_and_quoted_numbers(tmp_path):
    text = '\ufeffa, b\n\n 1, "2"\n\n3 ,4\n\n'
    table = read_table(write_text(tmp_path / "data.csv", text, "\r\n"))
    assert table.columns == ["a", "b"]
    np.testing.assert_array_equal(table.data, [[1, 2], [3, 4]])


def test_csv_extension_is_case_insensitive(tmp_path):
    table = read_table(write_text(tmp_path / "DATA.CSV", "a\n1\n"))
    assert table.columns == ["a"]


def test_read_table_accepts_path_objects(tmp_path):
    write_text(tmp_path / "data.csv", "a\n1\n")
    table = read_table(tmp_path / "data.csv")
    assert table.path == str(tmp_path / "data.csv")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n1,2\n3,4,5\n", "line 3: 3 cells, the header has 2"),
        ("a,b\n1,2\n\n3\n", "line 4: 1 cells, the header has 2"),
        ("a,x2\n1,2\n3,\n", "line 3, column 'x2': empty cell"),
        ("a,x2\n1,2\n3,  \n", "line 3, column 'x2': empty cell"),
        ("a,x2\n1,2\n3,4\n5,6\n7,abc\n", "line 5, column 'x2': 'abc' is not a number"),
        ("a,x2\n1,1,5\n", "line 2: 3 cells, the header has 2"),
        ('a,x2\n1,"1,5"\n', "line 2, column 'x2': '1,5' is not a number"),
        ("a,x2\n1,NA\n", "line 2, column 'x2': missing value 'NA'"),
        ("a,x2\nnull,1\n", "line 2, column 'a': missing value 'null'"),
        ("a,x2\n1,2\n3,nan\n", "line 3, column 'x2': missing value (NaN)"),
        ("a,x2\n1,2\n3,NaN\n", "line 3, column 'x2': missing value (NaN)"),
        ("a,x2\n1,2\n\n\n-inf,1\n", "line 5, column 'a': infinite value (-inf)"),
        ("a,x2\n1,1e999\n", "line 2, column 'x2': infinite value (inf)"),
        # The line where a record starts, though a quoted cell spans two lines.
        ('a,b\n"1\n2",3\n4,x\n', "line 2, column 'a': '1\\n2' is not a number"),
        ('a,b\n"1\n2",3\n4,x\n'.replace('"1\n2"', "1"), "line 3, column 'b': 'x' is not a number"),
        ('a,b\n1,"2\n3,x\n', "line 2: malformed CSV (unexpected end of data)"),
        ('a,b\n1,"2"x\n', "line 2: malformed CSV (',' expected after '\"')"),
        ("a,,c\n1,2,3\n", "line 1: column 2 of the header has no name"),
        ("a,b,a\n1,2,3\n", ": column 'a' appears more than once"),
    ],
)
def test_csv_errors(tmp_path, text, message):
    path = write_text(tmp_path / "data.csv", text)
    separator = "" if message.startswith(":") else " "
    with raises_exactly(DataError, f"{path}{separator}{message}"):
        read_table(path)


def test_csv_error_line_numbers_count_crlf_lines_once(tmp_path):
    path = write_text(tmp_path / "data.csv", "a,b\n1,2\n3,oops\n", "\r\n")
    with raises_exactly(DataError, f"{path} line 3, column 'b': 'oops' is not a number"):
        read_table(path)


def test_csv_error_line_numbers_count_a_record_start_after_quoted_newlines(tmp_path):
    path = write_text(tmp_path / "data.csv", 'a,b\n1,"2\n"\n3,\n')
    with raises_exactly(DataError, f"{path} line 4, column 'b': empty cell"):
        read_table(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty: a header row and rows of numbers are needed"),
        ("\n\n", "is empty: a header row and rows of numbers are needed"),
        ("a,b\n", "has a header but no rows of numbers"),
        ("a,b", "has a header but no rows of numbers"),
    ],
)
def test_csv_without_data(tmp_path, text, message):
    path = write_text(tmp_path / "data.csv", text)
    with raises_exactly(DataError, f"{path} {message}"):
        read_table(path)


def test_csv_not_utf8(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes("température,y\n1,2\n".encode("latin-1"))
    with raises_exactly(DataError, f"{path} is not UTF-8 text; save it as UTF-8"):
        read_table(str(path))


def test_errors_are_one_line_and_data_errors_are_value_errors(tmp_path):
    path = write_text(tmp_path / "data.csv", 'a,b\n"1\n2",3\n')
    with pytest.raises(DataError) as info:
        read_table(path)
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value).replace("\\n", "")


# --- any format ------------------------------------------------------------------------


def test_missing_file(tmp_path):
    path = str(tmp_path / "nothing.csv")
    with raises_exactly(FileNotFoundError, f"No such file: {path}"):
        read_table(path)


@pytest.mark.parametrize("name", ["nothing.parquet", "nothing.npy"])
def test_missing_file_other_formats(tmp_path, name):
    path = str(tmp_path / name)
    with raises_exactly(FileNotFoundError, f"No such file: {path}"):
        read_table(path)


def test_unsupported_extension(tmp_path):
    path = write_text(tmp_path / "data.xyz", "a\n1\n")
    with raises_exactly(
        DataError, f"{path}: unsupported file type '.xyz' (expected .csv, .parquet or .npy)"
    ):
        read_table(path)


def test_no_extension(tmp_path):
    path = write_text(tmp_path / "data", "a\n1\n")
    with raises_exactly(DataError, f"{path}: no file extension (expected .csv, .parquet or .npy)"):
        read_table(path)


def test_a_directory_is_an_os_error(tmp_path):
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    with pytest.raises(OSError):
        read_table(str(folder))


# --- Parquet ---------------------------------------------------------------------------


def write_parquet(path, columns: dict) -> str:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table(columns), path)
    return str(path)


def test_parquet_round_trip(tmp_path):
    pa = pytest.importorskip("pyarrow")
    path = write_parquet(
        tmp_path / "data.parquet",
        {
            "x 1": pa.array([1, 2, 3], type=pa.int32()),
            "x2": pa.array([0.1, 0.2, 0.3], type=pa.float32()),
            "y": pa.array([1e300, -0.0, 2.0 / 3.0]),
            "big": pa.array([2**53 + 1, 0, -1], type=pa.int64()),
        },
    )
    table = read_table(path)
    assert table.columns == ["x 1", "x2", "y", "big"]
    assert table.data.dtype == np.float64
    np.testing.assert_array_equal(table.data[:, 0], [1, 2, 3])
    np.testing.assert_array_equal(table.data[:, 1], np.array([0.1, 0.2, 0.3], np.float32))
    assert np.array_equal(bits(table.data[:, 2]), bits(np.array([1e300, -0.0, 2.0 / 3.0])))
    np.testing.assert_array_equal(table.data[:, 3], [float(2**53 + 1), 0, -1])


def test_parquet_several_row_groups(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"a": np.arange(10.0), "b": np.arange(10)}), path, row_group_size=3)
    table = read_table(path)
    np.testing.assert_array_equal(table.data, np.column_stack([np.arange(10.0)] * 2))


def test_parquet_pandas_index_is_not_a_column(tmp_path):
    pytest.importorskip("pyarrow")
    pd = pytest.importorskip("pandas")
    path = tmp_path / "data.parquet"
    frame = pd.DataFrame({"a": [1.0, 2.0], "y": [3.0, 4.0]}, index=["r1", "r2"])
    frame.to_parquet(path)
    table = read_table(path)
    assert table.columns == ["a", "y"]
    np.testing.assert_array_equal(table.data, [[1, 3], [2, 4]])


def test_parquet_non_numeric_column(tmp_path):
    path = write_parquet(tmp_path / "data.parquet", {"a": [1.0, 2.0], "city": ["Oslo", "Rome"]})
    with raises_exactly(
        DataError,
        f"{path}: column 'city' has type string; only integer and floating-point "
        "columns can be read",
    ):
        read_table(path)


def test_parquet_null(tmp_path):
    path = write_parquet(tmp_path / "data.parquet", {"a": [1.0, 2.0, 3.0], "b": [1, 2, None]})
    with raises_exactly(DataError, f"{path} row 3, column 'b': missing value (null)"):
        read_table(path)


def test_parquet_nan(tmp_path):
    path = write_parquet(tmp_path / "data.parquet", {"a": [1.0, np.nan], "b": [1.0, 2.0]})
    with raises_exactly(DataError, f"{path} row 2, column 'a': missing value (NaN)"):
        read_table(path)


def test_parquet_no_rows(tmp_path):
    pa = pytest.importorskip("pyarrow")
    path = write_parquet(tmp_path / "data.parquet", {"a": pa.array([], type=pa.float64())})
    with raises_exactly(DataError, f"{path} has no rows"):
        read_table(path)


def test_parquet_duplicate_names(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "data.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array([1.0]), pa.array([2.0])], ["a", "a"]), path)
    with raises_exactly(DataError, f"{path}: column 'a' appears more than once"):
        read_table(str(path))


def test_not_a_parquet_file(tmp_path):
    pytest.importorskip("pyarrow")
    path = write_text(tmp_path / "data.parquet", "a,b\n1,2\n")
    with pytest.raises(DataError, match=f"^{re.escape(path)} is not a readable Parquet file: "):
        read_table(path)


def test_parquet_without_pyarrow(tmp_path, monkeypatch):
    path = write_text(tmp_path / "data.parquet", "not read")
    # A None entry makes `import pyarrow` raise ImportError, as if it were not installed.
    for name in ["pyarrow", "pyarrow.compute", "pyarrow.parquet"]:
        monkeypatch.setitem(sys.modules, name, None)
    with raises_exactly(DataError, "reading Parquet needs pyarrow: pip install pyarrow") as info:
        read_table(path)
    assert isinstance(info.value, MissingDependencyError)
    assert isinstance(info.value, ImportError)


# --- NPY -------------------------------------------------------------------------------


def write_npy(path, array) -> str:
    np.save(path, array)
    return str(path)


def test_npy_round_trip(tmp_path):
    array = np.random.default_rng(0).standard_normal((5, 3))
    path = write_npy(tmp_path / "data.npy", array)
    table = read_table(path)
    assert table.columns == ["0", "1", "2"]
    assert table.data.dtype == np.float64
    assert np.array_equal(bits(table.data), bits(array))
    # The mapped file is never written through the table.
    assert not table.data.flags.writeable


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.float32, ">f8"])
def test_npy_other_numeric_dtypes(tmp_path, dtype):
    array = np.arange(6).reshape(3, 2).astype(dtype)
    table = read_table(write_npy(tmp_path / "data.npy", array))
    assert table.data.dtype == np.float64
    np.testing.assert_array_equal(table.data, array.astype(np.float64))


def test_npy_fortran_order(tmp_path):
    array = np.asfortranarray(np.arange(6.0).reshape(3, 2))
    table = read_table(write_npy(tmp_path / "data.npy", array))
    np.testing.assert_array_equal(table.data, array)
    X, y, _ = split_target(table, "0")
    assert X.flags.c_contiguous
    np.testing.assert_array_equal(X, array[:, 1:])


def test_npy_object_array(tmp_path):
    path = write_npy(tmp_path / "data.npy", np.array([[1, "a"], [2, None]], dtype=object))
    with raises_exactly(
        DataError,
        f"{path} holds Python objects (dtype object); only integer and floating-point "
        "arrays can be read",
    ):
        read_table(path)


@pytest.mark.parametrize("dtype", [bool, complex, "U3"])
def test_npy_non_numeric_dtype(tmp_path, dtype):
    array = np.zeros((2, 2), dtype=dtype)
    path = write_npy(tmp_path / "data.npy", array)
    with raises_exactly(
        DataError,
        f"{path} has dtype {array.dtype}; only integer and floating-point arrays can be read",
    ):
        read_table(path)


def test_npy_structured(tmp_path):
    array = np.zeros(3, dtype=[("a", "f8"), ("b", "i4")])
    path = write_npy(tmp_path / "data.npy", array)
    with pytest.raises(DataError, match=f"^{re.escape(path)} has dtype "):
        read_table(path)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((4,), "holds a 1-D array of shape (4,); a 2-D array (rows, columns) is needed"),
        ((2, 2, 2), "holds a 3-D array of shape (2, 2, 2); a 2-D array (rows, columns) is needed"),
        ((0, 3), "has no rows"),
        ((3, 0), "has no columns"),
    ],
)
def test_npy_bad_shape(tmp_path, shape, message):
    path = write_npy(tmp_path / "data.npy", np.zeros(shape))
    with raises_exactly(DataError, f"{path} {message}"):
        read_table(path)


def test_npy_nan_and_inf(tmp_path):
    array = np.ones((4, 3))
    array[2, 1] = np.inf
    array[3, 0] = np.nan
    path = write_npy(tmp_path / "data.npy", array)
    with raises_exactly(DataError, f"{path} row 3, column '1': infinite value (inf)"):
        read_table(path)


def test_not_a_npy_file(tmp_path):
    path = write_text(tmp_path / "data.npy", "a,b\n1,2\n")
    with pytest.raises(DataError, match=f"^{re.escape(path)} is not a readable .npy file: "):
        read_table(path)


# --- split_target ----------------------------------------------------------------------


def test_split_target_by_name(tmp_path):
    path = write_text(tmp_path / "data.csv", "a,price,b\n1,10,2\n3,30,4\n")
    table = read_table(path)
    before = table.data.copy()
    X, y, names = split_target(table, "price")
    assert names == ["a", "b"]
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(y, [10, 30])
    assert X.dtype == y.dtype == np.float64
    assert X.flags.c_contiguous and y.ndim == 1
    assert not np.shares_memory(X, table.data) and not np.shares_memory(y, table.data)
    np.testing.assert_array_equal(table.data, before)
    assert table.columns == ["a", "price", "b"]


@pytest.mark.parametrize(
    ("target", "index"), [("-1", 3), ("3", 3), ("0", 0), ("-4", 0), ("1", 1), ("-2", 2)]
)
def test_split_target_npy_integer_index(tmp_path, target, index):
    array = np.arange(12.0).reshape(3, 4)
    table = read_table(write_npy(tmp_path / "data.npy", array))
    X, y, names = split_target(table, target)
    np.testing.assert_array_equal(y, array[:, index])
    np.testing.assert_array_equal(X, np.delete(array, index, axis=1))
    assert names == [str(j) for j in range(4) if j != index]
    assert X.flags.c_contiguous and X.flags.writeable


@pytest.mark.parametrize("target", ["4", "-5", "13", "x"])
def test_split_target_npy_unknown(tmp_path, target):
    path = write_npy(tmp_path / "data.npy", np.zeros((2, 4)))
    with raises_exactly(
        DataError,
        f"{path} has no column '{target}' (columns: 0, 1, 2, 3; or an index from -4 to -1)",
    ):
        split_target(read_table(path), target)


def test_split_target_unknown_column(tmp_path):
    path = write_text(tmp_path / "data.csv", "a,b,c\n1,2,3\n")
    with raises_exactly(DataError, f"{path} has no column 'price' (columns: a, b, c)"):
        split_target(read_table(path), "price")


def test_split_target_integer_index_is_only_for_npy(tmp_path):
    path = write_text(tmp_path / "data.csv", "a,b,c\n1,2,3\n")
    with raises_exactly(DataError, f"{path} has no column '-1' (columns: a, b, c)"):
        split_target(read_table(path), "-1")


def test_split_target_suggests_a_close_name(tmp_path):
    path = write_text(tmp_path / "data.csv", "area,Price\n1,2\n")
    with raises_exactly(
        DataError, f"{path} has no column 'price' (columns: area, Price); did you mean 'Price'?"
    ):
        split_target(read_table(path), "price")


def test_split_target_truncates_a_long_column_list(tmp_path):
    names = [f"x{j}" for j in range(30)]
    path = write_text(tmp_path / "data.csv", ",".join(names) + "\n" + ",".join(["1"] * 30) + "\n")
    listed = ", ".join(names[:12])
    with raises_exactly(
        DataError, f"{path} has no column 'y' (columns: {listed}, ... (30 in all))"
    ):
        split_target(read_table(path), "y")


def test_split_target_only_column(tmp_path):
    path = write_text(tmp_path / "data.csv", "y\n1\n2\n")
    with raises_exactly(
        DataError,
        f"{path} has only the column 'y': no feature columns are left once it is the target",
    ):
        split_target(read_table(path), "y")


# --- write_predictions -----------------------------------------------------------------


def awkward_values(shape) -> np.ndarray:
    """Values whose shortest decimal forms are long, tiny, huge, negative zero."""
    rng = np.random.default_rng(1)
    values = rng.standard_normal(shape) * 10.0 ** rng.integers(-300, 300, shape)
    flat = values.reshape(-1)
    flat[:4] = [-0.0, 5e-324, 1.7976931348623157e308, 0.1 + 0.2]
    return values


def test_write_predictions_round_trips_bit_exactly(tmp_path):
    predictions = awkward_values(1000)
    before = predictions.copy()
    path = str(tmp_path / "pred.csv")
    write_predictions(path, predictions)
    table = read_table(path)
    assert table.columns == ["prediction"]
    assert np.array_equal(table.data[:, 0], predictions)
    assert np.array_equal(bits(table.data[:, 0]), bits(predictions))
    assert np.array_equal(bits(predictions), bits(before))


def test_write_predictions_2d(tmp_path):
    predictions = awkward_values((50, 3))
    path = str(tmp_path / "pred.csv")
    write_predictions(path, predictions)
    table = read_table(path)
    assert table.columns == ["prediction_0", "prediction_1", "prediction_2"]
    assert np.array_equal(bits(table.data), bits(predictions))


def test_write_predictions_2d_one_column(tmp_path):
    path = tmp_path / "pred.csv"
    write_predictions(path, np.array([[1.5], [2.0]]))
    assert path.read_text() == "prediction_0\n1.5\n2\n"


def test_write_predictions_text(tmp_path):
    path = tmp_path / "pred.csv"
    write_predictions(path, [1, 2.5, -0.0])
    assert path.read_bytes() == b"prediction\n1\n2.5\n-0\n"


def test_write_predictions_float32_reads_back_the_same_value(tmp_path):
    predictions = np.array([0.1, 1 / 3, 1e-30], dtype=np.float32)
    path = str(tmp_path / "pred.csv")
    write_predictions(path, predictions)
    np.testing.assert_array_equal(read_table(path).data[:, 0], predictions.astype(np.float64))


def test_write_predictions_replaces_a_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "pred.csv"
    path.write_text("old content\n")
    write_predictions(path, np.array([1.0]))
    assert path.read_text() == "prediction\n1\n"
    assert os.listdir(tmp_path) == ["pred.csv"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_write_predictions_permissions_follow_the_umask(tmp_path):
    umask = os.umask(0o022)
    try:
        path = tmp_path / "pred.csv"
        write_predictions(path, np.array([1.0]))
        assert path.stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(umask)


@pytest.mark.parametrize(
    ("predictions", "message"),
    [
        (np.array(["a", "b"]), "must be numbers, got an array of dtype <U1"),
        (np.array([None]), "must be numbers, got an array of dtype object"),
        (np.zeros((2, 2, 2)), "must be 1-D or 2-D with at least one column, got shape (2, 2, 2)"),
        (np.float64(1.0), "must be 1-D or 2-D with at least one column, got shape ()"),
        (np.zeros((2, 0)), "must be 1-D or 2-D with at least one column, got shape (2, 0)"),
    ],
)
def test_write_predictions_bad_input_leaves_the_file_alone(tmp_path, predictions, message):
    path = tmp_path / "pred.csv"
    path.write_text("old content\n")
    with raises_exactly(DataError, f"predictions for {path} {message}"):
        write_predictions(path, predictions)
    assert path.read_text() == "old content\n"
    assert os.listdir(tmp_path) == ["pred.csv"]


def test_write_predictions_missing_folder_names_the_file(tmp_path):
    path = str(tmp_path / "no such folder" / "pred.csv")
    with pytest.raises(FileNotFoundError) as info:
        write_predictions(path, np.array([1.0]))
    assert info.value.filename == path
    assert "tmp" not in str(info.value).replace(str(tmp_path), "")


def test_write_predictions_to_a_directory(tmp_path):
    with raises_exactly(IsADirectoryError, f"[Errno 21] Is a directory: '{tmp_path}'") as info:
        write_predictions(tmp_path, np.array([1.0]))
    assert info.value.filename == str(tmp_path)


# --- PredictionWriter: the same file, batch by batch --------------------------------------


@pytest.mark.parametrize(
    "predictions",
    # 9000 rows: more than a write call formats at once (io._WRITE_ROWS).
    [awkward_values(9000), awkward_values((300, 3)), awkward_values((5, 1))],
    ids=["1-D", "2-D", "one column"],
)
@pytest.mark.parametrize("cuts", [[0, 1, 2, 2, 97], [4096 + 3], []], ids=["small", "big", "one"])
def test_prediction_writer_writes_write_predictions_bytes(tmp_path, predictions, cuts):
    """Any split into batches (empty ones too) gives write_predictions' file byte for byte."""
    whole = tmp_path / "whole.csv"
    write_predictions(whole, predictions)
    path = tmp_path / "batches.csv"
    with PredictionWriter(path) as writer:
        for batch in np.split(predictions, [c for c in cuts if c < len(predictions)]):
            writer.write(batch)
    assert path.read_bytes() == whole.read_bytes()
    assert writer.n_rows == len(predictions)
    assert sorted(os.listdir(tmp_path)) == ["batches.csv", "whole.csv"]


def test_prediction_writer_float32_and_integers(tmp_path):
    for i, predictions in enumerate(
        [np.array([0.1, 1 / 3, 1e-30], dtype=np.float32), np.array([1, -2, 3])]
    ):
        whole, batches = tmp_path / f"whole{i}.csv", tmp_path / f"batches{i}.csv"
        write_predictions(whole, predictions)
        with PredictionWriter(batches) as writer:
            writer.write(predictions[:1])
            writer.write(predictions[1:])
        assert batches.read_bytes() == whole.read_bytes()


def test_prediction_writer_shows_nothing_until_closed(tmp_path):
    """Rows go to a hidden temporary file beside the output, renamed by close()."""
    path = tmp_path / "pred.csv"
    path.write_text("old content\n")
    writer = PredictionWriter(path)
    writer.write(np.array([1.0, 2.0]))
    assert path.read_text() == "old content\n"
    (temporary,) = set(os.listdir(tmp_path)) - {"pred.csv"}
    assert temporary.startswith(".pred.csv.") and temporary.endswith(".tmp")
    writer.close()
    assert path.read_text() == "prediction\n1\n2\n"
    assert os.listdir(tmp_path) == ["pred.csv"]
    with pytest.raises(ValueError, match="already closed"):
        writer.close()
    with pytest.raises(ValueError, match="is closed"):
        writer.write(np.array([3.0]))


@pytest.mark.parametrize("existing", [False, True])
def test_prediction_writer_error_in_a_later_batch_leaves_no_output(tmp_path, existing):
    """An exception in the with block (a bad cell found in batch 3, say) removes the
    temporary file: no half-written output under the final name, an old one untouched."""
    path = tmp_path / "pred.csv"
    if existing:
        path.write_text("old content\n")
    with pytest.raises(DataError, match="bad cell"):
        with PredictionWriter(path) as writer:
            writer.write(np.arange(5.0))
            writer.write(np.arange(5.0))
            raise DataError("bad cell")
    assert os.listdir(tmp_path) == (["pred.csv"] if existing else [])
    if existing:
        assert path.read_text() == "old content\n"
    with pytest.raises(KeyboardInterrupt):
        with PredictionWriter(path) as writer:
            writer.write(np.arange(5.0))
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == (["pred.csv"] if existing else [])


def test_prediction_writer_abort(tmp_path):
    path = tmp_path / "pred.csv"
    writer = PredictionWriter(path)
    writer.write(np.array([1.0]))
    writer.abort()
    writer.abort()  # a second time does nothing
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (np.zeros((2, 3)), "must have the columns of the first batch (prediction_0,prediction_1), "
         "got prediction_0,prediction_1,prediction_2"),
        (np.zeros(2), "must have the columns of the first batch (prediction_0,prediction_1), "
         "got prediction"),
        (np.array(["a"]), "must be numbers, got an array of dtype <U1"),
    ],
)  # fmt: skip
def test_prediction_writer_refuses_a_batch_unlike_the_first(tmp_path, second, message):
    path = tmp_path / "pred.csv"
    with raises_exactly(DataError, f"predictions for {path} {message}"):
        with PredictionWriter(path) as writer:
            writer.write(np.zeros((2, 2)))
            writer.write(second)
    assert os.listdir(tmp_path) == []


def test_prediction_writer_without_a_batch_writes_nothing(tmp_path):
    path = tmp_path / "pred.csv"
    with raises_exactly(DataError, f"predictions for {path}: no batch was written"):
        with PredictionWriter(path):
            pass
    assert os.listdir(tmp_path) == []


def test_prediction_writer_bad_paths_name_the_file(tmp_path):
    path = str(tmp_path / "no such folder" / "pred.csv")
    with pytest.raises(FileNotFoundError) as info:
        PredictionWriter(path)
    assert info.value.filename == path
    assert str(info.value) == f"[Errno 2] No such directory {os.path.dirname(path)!r}: {path!r}"
    with raises_exactly(IsADirectoryError, f"[Errno 21] Is a directory: '{tmp_path}'"):
        PredictionWriter(tmp_path)
    assert os.listdir(tmp_path) == []


# --- PredictionWriter's repr, close and abort; .npy version 2.0 and truncated; empty Parquet ---


def temporaries(folder):
    return [name for name in os.listdir(folder) if name.endswith(".tmp")]


def test_repr_tells_open_from_closed(tmp_path):
    writer = PredictionWriter(tmp_path / "p.csv")
    writer.write(np.arange(3.0))
    assert repr(writer).endswith("n_rows=3, open)")
    writer.close()
    assert repr(writer).endswith("n_rows=3, closed)")
    assert (tmp_path / "p.csv").read_text() == "prediction\n0\n1\n2\n"


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
