"""Tests for fastlinreg.sources.file: files streamed in row batches, checked against the
whole-file readers (fastlinreg.sources._readers) and the in-memory source."""

from __future__ import annotations

import os
import re
import tracemalloc

import numpy as np
import pytest

from fastlinreg import FileSource
from fastlinreg.sources import InMemorySource, SliceableSource
from fastlinreg.sources import _factor as factor_pass
from fastlinreg.sources._readers import DataError, read_table, split_target

N_ROWS = 10_000
COLUMNS = ["x0", "x1", "y", "x2", "x3"]  # the target in the middle: X is spliced
TARGET = "y"
# Batch sizes: one that divides N_ROWS, one that does not, one larger than the file.
BATCHES = [1000, 777, 20_000]
FORMATS = [".csv", ".parquet", ".npy"]


def raises_exactly(error_type, message: str):
    """pytest.raises matching the whole message, not a prefix or a regex."""
    return pytest.raises(error_type, match=f"^{re.escape(message)}$")


def make_data(n=N_ROWS, seed=0) -> np.ndarray:
    """(n, 5) float64 of mixed scale, column 1 integer-valued."""
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((n, len(COLUMNS))) * [1.0, 50.0, 3.0, 0.01, 7.0] + [0, 0, 2, 1, 0]
    data[:, 1] = np.round(data[:, 1])
    return data


def write_csv(path, data: np.ndarray, columns=COLUMNS, bad=None) -> str:
    """A CSV file of ``data`` (repr: exact); ``bad`` = (row, column, text) replaces one
    cell. Returns the path."""
    lines = [",".join(columns)]
    for row in data.tolist():
        lines.append(",".join(map(repr, row)))
    if bad is not None:
        i, j, text = bad
        cells = lines[1 + i].split(",")
        cells[j] = text
        lines[1 + i] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def write_parquet(path, data: np.ndarray, columns=COLUMNS, null=None) -> str:
    """A Parquet file, column 1 as int64, row groups that do not match the batches;
    ``null`` = (row, column) is a missing value."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    arrays = {}
    for j, name in enumerate(columns):
        values = data[:, j].astype(np.int64) if j == 1 else data[:, j]
        mask = None
        if null is not None and null[1] == j:
            mask = np.zeros(len(values), dtype=bool)
            mask[null[0]] = True
        arrays[name] = pa.array(values, mask=mask)
    pq.write_table(pa.table(arrays), str(path), row_group_size=2300)
    return str(path)


def write_npy(path, data: np.ndarray) -> str:
    np.save(str(path), data)
    return str(path)


def write_file(tmp_path, extension: str, data: np.ndarray) -> str:
    writer = {".csv": write_csv, ".parquet": write_parquet, ".npy": write_npy}[extension]
    return writer(tmp_path / f"data{extension}", data)


def target_of(extension: str) -> str:
    """The target column: named, or for .npy its index counted from the end."""
    return "-3" if extension == ".npy" else TARGET


def loaded(path: str, target: str):
    """X, y, feature names as the whole-file readers give them."""
    return split_target(read_table(path), target)


def assert_close(actual, expected, rtol):
    """Relative to the largest entry: entries near zero are compared at that scale."""
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape
    scale = max(float(np.max(np.abs(expected))), np.finfo(float).tiny)
    assert float(np.max(np.abs(actual - expected))) <= rtol * scale


# --- the same rows as the whole-file readers ----------------------------------------------


@pytest.mark.parametrize("extension", FORMATS)
@pytest.mark.parametrize("batch_rows", BATCHES)
def test_row_blocks_equal_the_whole_file(tmp_path, extension, batch_rows):
    path = write_file(tmp_path, extension, make_data())
    target = target_of(extension)
    X, y, names = loaded(path, target)
    source = FileSource(path, target, batch_rows=batch_rows)

    blocks = list(source.row_blocks())
    assert all(weights is None for _, _, weights in blocks)
    assert max(len(Xb) for Xb, _, _ in blocks) <= batch_rows
    for Xb, Yb, _ in blocks:
        assert Xb.dtype == Yb.dtype == np.float64
        assert Xb.flags.c_contiguous and Yb.flags.f_contiguous and Yb.shape == (len(Xb), 1)
    np.testing.assert_array_equal(np.concatenate([b[0] for b in blocks]), X)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in blocks])[:, 0], y)
    assert source.feature_names == names
    assert (source.n_samples, source.n_features, source.n_targets) == (N_ROWS, 4, 1)
    assert source.total_weight == float(N_ROWS)
    assert source.dtype == np.float64 and source.cheap_passes is False
    assert source.path == path


@pytest.mark.parametrize("extension", FORMATS)
def test_passes_equal_the_in_memory_source(tmp_path, extension):
    path = write_file(tmp_path, extension, make_data())
    X, y, _ = loaded(path, target_of(extension))
    memory = InMemorySource(X, y[:, None])
    rng = np.random.default_rng(1)
    W, b = rng.standard_normal((1, 4)), np.array([0.3])
    V, vb = rng.standard_normal((1, 4)), np.array([-1.2])
    expected_loss, expected_G, expected_gb = memory.loss_grad(W, b)
    expected_hv, expected_hvb = memory.hessian_vector(V, vb)
    for batch_rows in BATCHES:
        source = FileSource(path, target_of(extension), batch_rows=batch_rows, parallel=False)
        loss, G, gb = source.loss_grad(W, b)
        assert isinstance(loss, float)
        assert loss == pytest.approx(expected_loss, rel=1e-12)
        assert_close(G, expected_G, 1e-12)
        assert_close(gb, expected_gb, 1e-12)
        hv, hvb = source.hessian_vector(V, vb)
        assert_close(hv, expected_hv, 1e-12)
        assert_close(hvb, expected_hvb, 1e-12)


@pytest.mark.parametrize("extension", FORMATS)
def test_triangular_factor_equals_the_in_memory_one(tmp_path, extension):
    path = write_file(tmp_path, extension, make_data())
    X, y, _ = loaded(path, target_of(extension))
    expected = factor_pass.triangular_factor(InMemorySource(X, y[:, None]))
    for batch_rows in (1000, 777):
        factor = factor_pass.triangular_factor(
            FileSource(path, target_of(extension), batch_rows=batch_rows)
        )
        assert factor.total_weight == N_ROWS and factor.n_features == 4
        # R is unique up to the signs of its rows: R'R (the centred Gram matrix) is not.
        assert_close(factor.R.T @ factor.R, expected.R.T @ expected.R, 1e-10)
        assert_close(factor.mean, expected.mean, 1e-10)


def test_csv_layouts_match_read_table(tmp_path):
    """Blank lines, CRLF, quoted cells (one with a line break), spaces, a byte-order
    mark: the same rows and line numbers as read_table."""
    text = (
        '\ufeffa, "b",y\r\n\r\n1,2,3\r\n" 4",5,6\r\n\r\n7,"8\n",9\r\n10,11,12\r\n\r\n13,14,nan\r\n'
    )
    path = tmp_path / "layout.csv"
    path.write_bytes(text.encode("utf-8"))
    with pytest.raises(DataError) as expected:
        read_table(path)
    assert "line 10, column 'y'" in str(expected.value)
    source = FileSource(path, "y", batch_rows=2)
    with raises_exactly(DataError, str(expected.value)):
        _ = source.n_samples
    # Without the bad last row the rows are read as read_table reads them.
    path.write_bytes(text.rsplit("13", 1)[0].encode("utf-8"))
    X, y, names = loaded(str(path), "y")
    source = FileSource(path, "y", batch_rows=2)
    assert source.n_samples == 4 and source.feature_names == names == ["a", "b"]
    blocks = list(source.row_blocks())
    np.testing.assert_array_equal(np.concatenate([b[0] for b in blocks]), X)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in blocks])[:, 0], y)


def test_npy_dtypes_and_orders(tmp_path):
    """float32, int and Fortran-ordered files: the values read_table gives."""
    data = make_data(n=3001)
    for i, array in enumerate(
        [data.astype(np.float32), np.round(data * 10).astype(np.int32), np.asfortranarray(data)]
    ):
        path = write_npy(tmp_path / f"a{i}.npy", array)
        X, y, _ = loaded(path, "2")
        blocks = list(FileSource(path, 2, batch_rows=1000).row_blocks())
        np.testing.assert_array_equal(np.concatenate([b[0] for b in blocks]), X)
        np.testing.assert_array_equal(np.concatenate([b[1] for b in blocks])[:, 0], y)


def test_parquet_pandas_index_is_not_a_column(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame(make_data(n=50), columns=COLUMNS, index=np.arange(50) * 3)
    path = str(tmp_path / "frame.parquet")
    frame.to_parquet(path)
    X, y, names = loaded(path, TARGET)
    source = FileSource(path, TARGET, batch_rows=16)
    assert source.feature_names == names == ["x0", "x1", "x2", "x3"]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in source.row_blocks()]), X)


# --- memory -------------------------------------------------------------------------------


def traced_peak(function) -> int:
    """Peak bytes allocated (as tracemalloc sees them: NumPy's too) while it runs."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_pass_over_a_large_npy_file_holds_a_few_batches(tmp_path):
    path = str(tmp_path / "large.npy")
    data = np.random.default_rng(2).standard_normal((500_000, 10))  # 40 MB
    np.save(path, data)
    del data
    source = FileSource(path, "9", batch_rows=10_000)  # a batch: 800 kB
    W, b = np.ones((1, 9)), np.zeros(1)
    source.loss_grad(W, b)  # compile and warm up outside the measurement
    batch_bytes = 10_000 * 10 * 8
    assert traced_peak(lambda: source.loss_grad(W, b)) < 4 * batch_bytes
    assert traced_peak(lambda: source.hessian_vector(W, b)) < 4 * batch_bytes

    def every_block():
        for _ in source.row_blocks():
            pass

    assert traced_peak(every_block) < 4 * batch_bytes
    # The precompute pass keeps a block per thread and one more alive at once (it once
    # kept up to 2 * MERGE_BLOCKS: the group it merged and the next it collected).
    source = FileSource(path, "9", batch_rows=5_000)
    peak = traced_peak(lambda: factor_pass.triangular_factor(source))
    assert peak < 10 * batch_bytes < os.path.getsize(path) / 2  # measured: 5.2


def write_large_csv(path, copies):
    """A CSV file of ``copies`` times the same 1000 rows of make_data, written in pieces."""
    lines = "".join(",".join(map(repr, row)) + "\n" for row in make_data(n=1000).tolist())
    with open(path, "w", encoding="utf-8") as file:
        file.write(",".join(COLUMNS) + "\n")
        for _ in range(copies):
            file.write(lines)
    return path


def test_a_pass_over_a_large_csv_file_holds_a_few_batches(tmp_path):
    path = write_large_csv(tmp_path / "large.csv", copies=200)  # 200,000 rows, about 20 MB
    assert os.path.getsize(path) > 15e6
    source = FileSource(path, TARGET, batch_rows=10_000)
    W, b = np.ones((1, 4)), np.zeros(1)
    batch_bytes = 10_000 * 5 * 8
    assert traced_peak(lambda: source.n_samples) < 10 * batch_bytes  # a pass of its own
    assert source.n_samples == 200_000
    assert traced_peak(lambda: source.loss_grad(W, b)) < 10 * batch_bytes


# --- errors -------------------------------------------------------------------------------

# A bad cell in a later batch: row 9,500 of 10,000 (line 9,501 of a CSV file).
BAD_ROW = 9499


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "line 9501, column 'x2': 'abc' is not a number"),
        ("", "line 9501, column 'x2': empty cell"),
        ("NA", "line 9501, column 'x2': missing value 'NA'"),
        ("nan", "line 9501, column 'x2': missing value (NaN)"),
        ("-inf", "line 9501, column 'x2': infinite value (-inf)"),
    ],
)
def test_csv_bad_cell_in_a_later_batch(tmp_path, text, message):
    path = write_csv(tmp_path / "bad.csv", make_data(), bad=(BAD_ROW, 3, text))
    expected = f"{path} {message}"
    with raises_exactly(DataError, expected):
        read_table(path)
    source = FileSource(path, TARGET, batch_rows=1000)
    with raises_exactly(DataError, expected):
        list(source.row_blocks())
    with raises_exactly(DataError, expected):
        source.loss_grad(np.zeros((1, 4)), np.zeros(1))
    with raises_exactly(DataError, expected):
        _ = source.n_samples


def test_csv_ragged_row(tmp_path):
    path = write_csv(tmp_path / "ragged.csv", make_data(), bad=(BAD_ROW, 3, "1,2"))
    expected = f"{path} line 9501: 6 cells, the header has 5"
    with raises_exactly(DataError, expected):
        read_table(path)
    with raises_exactly(DataError, expected):
        _ = FileSource(path, TARGET, batch_rows=1000).n_samples


def test_csv_header_only_and_empty(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("a,y\n\n")
    with raises_exactly(DataError, f"{path} has a header but no rows of numbers"):
        _ = FileSource(path, "y").n_samples
    path.write_text("\n\n")
    with raises_exactly(DataError, f"{path} is empty: a header row and rows of numbers are needed"):
        FileSource(path, "y")


def test_parquet_null_and_nan_in_a_later_batch(tmp_path):
    data = make_data()
    path = write_parquet(tmp_path / "null.parquet", data, null=(BAD_ROW, 3))
    expected = f"{path} row 9500, column 'x2': missing value (null)"
    with raises_exactly(DataError, expected):
        read_table(path)
    with raises_exactly(DataError, expected):
        FileSource(path, TARGET, batch_rows=1000).loss_grad(np.zeros((1, 4)), np.zeros(1))
    data[BAD_ROW, 2] = np.nan
    path = write_parquet(tmp_path / "nan.parquet", data)
    expected = f"{path} row 9500, column 'y': missing value (NaN)"
    with raises_exactly(DataError, expected):
        read_table(path)
    with raises_exactly(DataError, expected):
        list(FileSource(path, TARGET, batch_rows=1000).row_blocks())


def test_npy_infinity_in_a_later_batch(tmp_path):
    data = make_data()
    data[BAD_ROW, 4] = np.inf
    path = write_npy(tmp_path / "inf.npy", data)
    expected = f"{path} row 9500, column '4': infinite value (inf)"
    with raises_exactly(DataError, expected):
        read_table(path)
    source = FileSource(path, "2", batch_rows=1000)
    with raises_exactly(DataError, expected):
        source.hessian_vector(np.zeros((1, 4)), np.zeros(1))


@pytest.mark.parametrize("extension", FORMATS)
def test_unknown_target_has_split_targets_message(tmp_path, extension):
    path = write_file(tmp_path, extension, make_data(n=20))
    for target in ("Y", "price", "7"):
        with pytest.raises(DataError) as expected:
            split_target(read_table(path), target)
        with raises_exactly(DataError, str(expected.value)):
            FileSource(path, target)


def test_only_column_as_target(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("y\n1\n2\n")
    with pytest.raises(DataError) as expected:
        split_target(read_table(path), "y")
    with raises_exactly(DataError, str(expected.value)):
        FileSource(path, "y")


def test_missing_file_and_unsupported_type(tmp_path):
    missing = str(tmp_path / "missing.csv")
    with raises_exactly(FileNotFoundError, f"No such file: {missing}"):
        FileSource(missing, "y")
    with raises_exactly(
        DataError,
        f"{tmp_path / 'data.txt'}: unsupported file type '.txt' (expected .csv, .parquet or .npy)",
    ):
        FileSource(tmp_path / "data.txt", "y")


def test_a_removed_or_rewritten_file_is_refused(tmp_path):
    path = write_npy(tmp_path / "a.npy", make_data(n=100))
    source = FileSource(path, "2", batch_rows=30)
    os.remove(path)
    with raises_exactly(FileNotFoundError, f"No such file: {path}"):
        source.loss_grad(np.zeros((1, 4)), np.zeros(1))
    write_npy(tmp_path / "a.npy", make_data(n=101))
    with pytest.raises(DataError, match="changed after it was opened"):
        list(source.row_blocks())


def test_bad_arguments_and_rows(tmp_path):
    path = write_csv(tmp_path / "a.csv", make_data(n=10))
    with pytest.raises(ValueError, match="batch_rows must be at least 1"):
        FileSource(path, TARGET, batch_rows=0)
    with pytest.raises(TypeError, match="batch_rows must be an int"):
        FileSource(path, TARGET, batch_rows=10.0)
    assert not isinstance(FileSource(path, TARGET), SliceableSource)  # no rows() for sgd


# --- without a target: feature_batches, the rows to predict -------------------------------


@pytest.mark.parametrize("extension", FORMATS)
@pytest.mark.parametrize("batch_rows", BATCHES)
def test_feature_batches_without_a_target_equal_read_table(tmp_path, extension, batch_rows):
    path = write_file(tmp_path, extension, make_data())
    table = read_table(path)
    source = FileSource(path, None, batch_rows=batch_rows)
    assert source.target is None and source.n_targets == 0
    assert source.feature_names == table.columns and source.n_features == 5
    batches = list(source.feature_batches())
    assert len(batches) == -(-N_ROWS // batch_rows)
    assert all(X.dtype == np.float64 and len(X) <= batch_rows for X in batches)
    np.testing.assert_array_equal(np.concatenate(batches), table.data)
    assert source.n_samples == N_ROWS
    # A second pass (the NaN checks are off once a pass has completed) reads the same.
    np.testing.assert_array_equal(np.concatenate(list(source.feature_batches())), table.data)
    assert "target=None" in repr(source)


@pytest.mark.parametrize("extension", FORMATS)
def test_feature_batches_with_a_target_drop_it(tmp_path, extension):
    path = write_file(tmp_path, extension, make_data())
    X, _, _ = loaded(path, target_of(extension))
    batches = list(FileSource(path, target_of(extension), batch_rows=777).feature_batches())
    assert all(b.flags.c_contiguous for b in batches)
    np.testing.assert_array_equal(np.concatenate(batches), X)


def test_feature_batches_of_npy_files_keep_the_memory_order(tmp_path):
    """float64: views of the map; other dtypes converted; Fortran order stays Fortran,
    as read_table keeps it (so predictions take the same kernel path)."""
    data = make_data(n=3001)
    for i, array in enumerate(
        [data, np.asfortranarray(data), data.astype(np.float32), np.asfortranarray(data, np.int32)]
    ):
        path = write_npy(tmp_path / f"a{i}.npy", array)
        table = read_table(path)
        batches = list(FileSource(path, None, batch_rows=1000).feature_batches())
        np.testing.assert_array_equal(np.concatenate(batches), table.data)
        rows_first = table.data.strides[0] >= table.data.strides[1]
        for X in batches:  # what the kernels look at to choose rows or columns first
            assert (X.strides[0] >= X.strides[1]) == rows_first
            assert X.flags.writeable == (array.dtype != np.float64)


@pytest.mark.parametrize(
    ("extension", "bad", "message"),
    [
        (".csv", (BAD_ROW, 3, "abc"), "line 9501, column 'x2': 'abc' is not a number"),
        (".csv", (BAD_ROW, 2, ""), "line 9501, column 'y': empty cell"),
        (".csv", (BAD_ROW, 0, "NA"), "line 9501, column 'x0': missing value 'NA'"),
        (".csv", (BAD_ROW, 4, "nan"), "line 9501, column 'x3': missing value (NaN)"),
        (".csv", (BAD_ROW, 3, "1,2"), "line 9501: 6 cells, the header has 5"),
        (".parquet", (BAD_ROW, 3, None), "row 9500, column 'x2': missing value (null)"),
        (".parquet", (BAD_ROW, 2, np.nan), "row 9500, column 'y': missing value (NaN)"),
        (".npy", (BAD_ROW, 4, np.inf), "row 9500, column '4': infinite value (inf)"),
    ],
)
def test_feature_batches_bad_cell_in_a_later_batch(tmp_path, extension, bad, message):
    """read_table's message, raised by the batch holding the cell (earlier ones came)."""
    data = make_data()
    i, j, value = bad
    if extension == ".csv":
        path = write_csv(tmp_path / "bad.csv", data, bad=bad)
    elif extension == ".parquet" and value is None:
        path = write_parquet(tmp_path / "bad.parquet", data, null=(i, j))
    else:
        data[i, j] = value
        path = write_file(tmp_path, extension, data)
    expected = f"{path} {message}"
    with raises_exactly(DataError, expected):
        read_table(path)
    batches = []
    with raises_exactly(DataError, expected):
        for X in FileSource(path, None, batch_rows=1000).feature_batches():
            batches.append(X)
    assert len(batches) == BAD_ROW // 1000


def test_a_source_without_a_target_cannot_be_fitted(tmp_path):
    from fastlinreg import LinearRegression

    path = write_npy(tmp_path / "a.npy", make_data(n=100))
    source = FileSource(path, None)
    message = r"needs a target column, and FileSource\(.*, target=None\) has none"
    for pass_ in (
        lambda: source.loss_grad(np.zeros((1, 5)), np.zeros(1)),
        lambda: source.hessian_vector(np.zeros((1, 5)), np.zeros(1)),
        lambda: list(source.row_blocks()),
    ):
        with pytest.raises(ValueError, match=message):
            pass_()
    # fit refuses it before any pass.
    with pytest.raises(ValueError, match=r"without a target column .*FileSource\(path, target\)"):
        LinearRegression(solver="exact").fit(source)
    with pytest.raises(TypeError, match=r"column name \(str\) or None, got float"):
        FileSource(path, 1.5)  # type: ignore[arg-type]


def test_feature_batches_of_a_large_csv_file_hold_a_few_batches(tmp_path):
    path = write_large_csv(tmp_path / "large.csv", copies=50)  # 50,000 rows, about 5 MB
    source = FileSource(path, None, batch_rows=10_000)

    def every_batch():
        for _ in source.feature_batches():
            pass

    assert traced_peak(every_batch) < 10 * 10_000 * 5 * 8


# --- LinearRegression.fit on a FileSource --------------------------------------------------


@pytest.mark.parametrize("extension", [".csv", ".npy"])
@pytest.mark.parametrize(
    "settings",
    [dict(solver="exact"), dict(solver="agd"), dict(solver="gd", precompute=False, max_iter=20)],
    ids=["exact", "agd", "gd-passes"],
)
def test_fit_streams_the_file_to_the_in_memory_fit(tmp_path, extension, settings):
    from fastlinreg import LinearRegression

    path = write_file(tmp_path, extension, make_data())
    source = FileSource(path, target_of(extension), batch_rows=1_500)
    X, y, _ = loaded(path, target_of(extension))
    streamed = LinearRegression(tol=None if "max_iter" in settings else 1e-9, **settings)
    streamed.fit(source)
    in_memory = LinearRegression(tol=streamed.tol, **settings).fit(X, y)
    assert_close(streamed.coef_, in_memory.coef_, 1e-10)
    assert_close(streamed.loss_history_, in_memory.loss_history_, 1e-10)
    assert list(streamed.feature_names_in_) == source.feature_names
    # partial_fit on pieces of files merges them like one fit.
    half = len(X) // 2
    first = write_npy(str(tmp_path / "first.npy"), np.column_stack([X[:half], y[:half]]))
    second = write_npy(str(tmp_path / "second.npy"), np.column_stack([X[half:], y[half:]]))
    pieces = LinearRegression(solver="exact")
    for piece in (first, second):
        pieces.partial_fit(FileSource(piece, "-1"))
    assert_close(pieces.coef_, LinearRegression(solver="exact").fit(X, y).coef_, 1e-10)
    with pytest.raises(ValueError, match="takes y from the file's target column"):
        LinearRegression().fit(source, y)
    with pytest.raises(ValueError, match="solver='sgd' needs rows it can slice"):
        LinearRegression(solver="sgd").fit(source)


# --- the row count, repeated passes, progress, values too large ----------------------------


def test_the_row_count_of_a_csv_file_is_known_after_a_pass(tmp_path):
    path = write_csv(tmp_path / "data.csv", make_data(n=100))
    source = FileSource(path, TARGET)
    assert not source.n_samples_known
    list(source.row_blocks())
    assert source.n_samples_known
    assert source.n_samples == 100
    # Asked before any pass, it makes one.
    source = FileSource(path, TARGET)
    assert source.n_samples == 100
    assert source.n_samples_known
    for extension in (".parquet", ".npy"):  # from the metadata, without a pass
        other = FileSource(write_file(tmp_path, extension, make_data(n=10)), target_of(extension))
        assert other.n_samples_known


def spills(folder) -> list[str]:
    return sorted(os.listdir(folder))


@pytest.mark.parametrize("batch_rows", [1000, 777])
def test_repeated_passes_of_a_csv_file_read_a_spilled_npy_copy(tmp_path, batch_rows):
    folder = tmp_path / "spill"
    folder.mkdir()
    path = write_csv(tmp_path / "data.csv", make_data())
    source = FileSource(path, TARGET, batch_rows=batch_rows, spill_dir=folder)
    W, b = np.ones((1, 4)), np.ones(1)
    with source.repeated_passes() as passes:
        [spill] = spills(folder)
        assert spill.endswith(".npy")
        assert passes.path == str(folder / spill)
        assert passes.feature_names == source.feature_names
        assert passes.target == source.target == TARGET
        assert passes.n_samples == source.n_samples == N_ROWS
        assert np.load(passes.path, mmap_mode="r").flags.c_contiguous
        # The same passes, bit for bit: the same values in the same batches.
        for name in ("loss_grad", "hessian_vector"):
            got, expected = getattr(passes, name)(W, b), getattr(source, name)(W, b)
            for got_part, expected_part in zip(got, expected, strict=True):
                np.testing.assert_array_equal(got_part, expected_part)
        for got, expected in zip(passes.row_blocks(), source.row_blocks(), strict=True):
            np.testing.assert_array_equal(got[0], expected[0])
            np.testing.assert_array_equal(got[1], expected[1])
    assert spills(folder) == []
    # Rows read: the spilling pass and every pass of either source.
    assert source.rows_read == passes.rows_read == 7 * N_ROWS


def test_fitting_through_the_spill_equals_fitting_the_csv_file(tmp_path):
    from fastlinreg import LinearRegression

    path = write_csv(tmp_path / "data.csv", make_data())
    source = FileSource(path, TARGET, batch_rows=1500, spill_dir=tmp_path)
    settings = dict(solver="agd", precompute=False, max_iter=15, tol=None)
    streamed = LinearRegression(**settings).fit(source)
    with source.repeated_passes() as passes:
        spilled = LinearRegression(**settings).fit(passes)
    np.testing.assert_array_equal(spilled.coef_, streamed.coef_)
    np.testing.assert_array_equal(spilled.loss_history_, streamed.loss_history_)
    assert list(spilled.feature_names_in_) == source.feature_names


def test_the_spill_is_removed_after_an_error_or_an_interrupt(tmp_path):
    folder = tmp_path / "spill"
    folder.mkdir()
    path = write_csv(tmp_path / "data.csv", make_data())
    source = FileSource(path, TARGET, spill_dir=folder)
    for error in (KeyboardInterrupt, ValueError):
        with pytest.raises(error), source.repeated_passes() as passes:
            assert os.path.exists(passes.path)
            raise error
        assert spills(folder) == []
    # A bad cell stops the spilling pass: its error, and no file left.
    bad = write_csv(tmp_path / "bad.csv", make_data(), bad=(9000, 2, "x"))
    source = FileSource(bad, TARGET, spill_dir=folder)
    with raises_exactly(DataError, f"{bad} line 9002, column 'y': 'x' is not a number"):
        with source.repeated_passes():
            pass  # pragma: no cover - not reached
    assert spills(folder) == []


def test_repeated_passes_of_other_files_and_without_a_target(tmp_path):
    source = FileSource(write_file(tmp_path, ".npy", make_data()), target_of(".npy"))
    with source.repeated_passes() as passes:
        assert passes is source
    source = FileSource(source.path, None)  # no target: no scale to find either
    with source.repeated_passes() as passes:
        assert passes is source
    source = FileSource(write_file(tmp_path, ".parquet", make_data()), TARGET, batch_rows=999)
    with source.repeated_passes() as passes:
        assert passes.path.endswith(".npy")
        assert passes.feature_names == source.feature_names
        for got, expected in zip(passes.row_blocks(), source.row_blocks(), strict=True):
            np.testing.assert_array_equal(got[0], expected[0])
            np.testing.assert_array_equal(got[1], expected[1])
    assert not os.path.exists(passes.path)
    path = write_csv(tmp_path / "data.csv", make_data(n=50))
    source = FileSource(path, None)
    with source.repeated_passes() as passes:
        assert passes.feature_names == COLUMNS and passes.target is None
        np.testing.assert_array_equal(
            np.concatenate(list(passes.feature_batches())), read_table(path).data
        )


@pytest.mark.parametrize(("extension", "unit"), [(".csv", "B/s"), (".npy", "rows/s")])
def test_progress_bars_on_stderr(tmp_path, capsys, monkeypatch, extension, unit):
    from fastlinreg.sources import file as file_source

    monkeypatch.setattr(file_source, "_PROGRESS_DELAY", 0.0)  # show even a short pass
    path = write_file(tmp_path, extension, make_data(n=100))
    list(FileSource(path, target_of(extension)).row_blocks())
    assert capsys.readouterr().err == ""  # progress=False: nothing
    list(FileSource(path, target_of(extension), progress=True).row_blocks())
    shown = capsys.readouterr().err
    assert os.path.basename(path) in shown
    assert unit in shown
    assert shown.endswith("\r")  # leave=False: the bar is wiped when the pass ends


@pytest.mark.parametrize(
    ("extension", "where"),
    [(".csv", "line 7002"), (".parquet", "row 7001"), (".npy", "row 7001")],
)
def test_check_values_names_the_largest_value_of_a_column_beyond_float64(
    tmp_path, extension, where
):
    data = make_data()
    data[5000, 3] = 1e300  # a column of large values whose norm is fine
    source = FileSource(write_file(tmp_path, extension, data), target_of(extension))
    source.check_values()  # nothing
    data[7000, 3] = -1e307  # the column's norm overflows: its largest value is named
    data[7500, 3] = 1e307  # as large, later
    data[8000, 0] = 1e300
    path = write_file(tmp_path, extension, data)
    column = "x2" if extension != ".npy" else "3"
    message = (
        f"{path} {where}, column '{column}': -1e+307 is too large: the root of the sum of "
        "squares of its column overflows float64; rescale the column, e.g. divide it by a "
        "power of two"
    )
    with raises_exactly(DataError, message):
        FileSource(path, target_of(extension)).check_values()
    if extension == ".csv":  # the Python reader's pass: the same
        lines = open(path).read().split("\n")
        lines[1] = '"' + lines[1].replace(",", '",', 1)  # a quoted cell in line 2
        quoted = write_text_file(tmp_path / "quoted.csv", "\n".join(lines))
        with raises_exactly(DataError, message.replace(path, quoted)):
            FileSource(quoted, TARGET).check_values()


def write_text_file(path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_fit_names_a_value_too_large(tmp_path):
    from fastlinreg import LinearRegression

    data = make_data(n=100)
    data[42, 4] = 1e307
    path = write_csv(tmp_path / "data.csv", data)
    with pytest.raises(DataError, match=r"data\.csv line 44, column 'x3': 1e\+307 is too large"):
        LinearRegression(solver="exact").fit(FileSource(path, TARGET))


# --- files it cannot read: not UTF-8, malformed CSV, no extension, truncated, rewritten ---


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
