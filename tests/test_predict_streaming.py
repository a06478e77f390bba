"""``fastlinreg predict`` streams its data file: batch by batch, the same bytes as the
whole-file command it replaced, no output file unless every row was predicted, and
memory bounded by the batch, not the file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import rss

from fastlinreg import DataError, LinearRegression, load, outputs
from fastlinreg.cli import main
from fastlinreg.sources import _readers as readers

N_ROWS = 1941  # 20 batches of 97 rows, then one of 1 row
BATCH_ROWS = 97
FORMATS = [".csv", ".parquet", ".npy"]


# --- the oracle: the whole-file command as it was ------------------------------------------


def whole_file_predict(model_path, data_path, out) -> None:
    """The former ``fastlinreg predict``: read_table, select the model's columns by name,
    one model.predict, write_predictions."""
    model = load(model_path)
    table = readers.read_table(data_path)
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        X = table.data
    else:
        X = np.ascontiguousarray(table.data[:, [table.columns.index(n) for n in names]])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        predictions = model.predict(X)
    outputs.write_predictions(out, predictions)


# --- data and models --------------------------------------------------------------------


def make_data(n=N_ROWS, p=5, seed=0) -> np.ndarray:
    """(n, p) float64 of mixed scale and sign: the last bits of predictions differ if
    the kernel adds in another order."""
    rng = np.random.default_rng(seed)
    scale = 10.0 ** rng.integers(-3, 4, p)
    return rng.standard_normal((n, p)) * scale + rng.standard_normal(p)


def write_data(folder, extension, data, columns, *, order="C", dtype=np.float64) -> str:
    """``data`` as a file with these column names (``.npy``: the names are 0, 1, ...)."""
    path = str(folder / f"data{extension}")
    if extension == ".csv":
        lines = [",".join(columns)] + [",".join(map(repr, row)) for row in data.tolist()]
        with open(path, "w", encoding="utf-8") as file:
            file.write("\n".join(lines) + "\n")
    elif extension == ".parquet":
        pa = pytest.importorskip("pyarrow")
        pq = pytest.importorskip("pyarrow.parquet")
        table = pa.table({name: data[:, j] for j, name in enumerate(columns)})
        pq.write_table(table, path, row_group_size=500)  # groups that are not batches
    else:
        np.save(path, np.asarray(data, dtype=dtype, order=order))
    return path


def fitted(folder, name, *, names=None, n_targets=1, dtype=np.float64) -> str:
    """A saved model of 4 features: named (fitted on a DataFrame) or not, of one target
    (coef_ 1-D) or several (2-D), float32 or float64. Returns the model file."""
    rng = np.random.default_rng(1)
    X = make_data(n=200, p=4, seed=2).astype(dtype)
    Y = X @ rng.standard_normal((4, n_targets)) + rng.standard_normal((200, n_targets))
    y = Y[:, 0] if n_targets == 1 else Y
    if names is not None:
        pd = pytest.importorskip("pandas")
        X = pd.DataFrame(X, columns=names)
    model = LinearRegression(solver="exact").fit(X, y.astype(dtype))
    assert model.coef_.dtype == dtype
    path = str(folder / f"{name}.npz")
    model.save(path)
    return path


def predict(*args) -> int:
    return main(["predict", *map(str, args)])


def one_line_error(capsys, code, *fragments) -> str:
    """Exit status 2 and one line on stderr holding every fragment."""
    captured = capsys.readouterr()
    assert code == 2, captured.out + captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastlinreg: error: "), captured.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def count_batches(monkeypatch):
    """How many batches PredictionWriter.write was given."""
    calls = []
    write = outputs.PredictionWriter.write

    def counted(self, predictions):
        calls.append(len(predictions))
        return write(self, predictions)

    monkeypatch.setattr(outputs.PredictionWriter, "write", counted)
    return calls


# --- the same output as the whole-file command ---------------------------------------------


@pytest.mark.parametrize("extension", FORMATS)
@pytest.mark.parametrize(
    "model",
    ["named", "named-multi-float32", "unnamed-multi-float32"],
)
def test_streamed_predictions_are_the_whole_file_bytes(
    tmp_path, capsys, count_batches, extension, model
):
    """Several batches (and a last one of 1 row), columns picked by name in another order
    than the file's, float32 and multi-target models: byte-identical output files, so
    bitwise-equal predictions."""
    data = make_data()
    by_position = []
    if extension == ".npy":
        columns = [str(j) for j in range(5)]
        names = ["3", "0", "4", "1"]  # the file's column 2 (say, the target) is left out
    else:
        columns = ["x2", "target", "x0", "x3", "x1"]
        names = ["x0", "x1", "x2", "x3"]
    if model == "named":
        model_path = fitted(tmp_path, model, names=names)
    elif model == "named-multi-float32":
        model_path = fitted(tmp_path, model, names=names, n_targets=3, dtype=np.float32)
    else:  # no names: the file's columns are the features, in the file's order
        model_path = fitted(tmp_path, model, n_targets=2, dtype=np.float32)
        data = data[:, :4]
        columns = columns[:4]
        by_position = ["--by-position"]  # which a file with names needs
    data_path = write_data(tmp_path, extension, data, columns)
    whole_file_predict(model_path, data_path, tmp_path / "whole.csv")

    assert predict(model_path, data_path, "--out", tmp_path / "pred.csv",
                   "--batch-rows", BATCH_ROWS, *by_position) == 0  # fmt: skip
    assert capsys.readouterr().out == f"{N_ROWS} predictions written to {tmp_path / 'pred.csv'}\n"
    assert (tmp_path / "pred.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert sum(count_batches) == N_ROWS and len(count_batches) >= -(-N_ROWS // BATCH_ROWS)
    assert max(count_batches) <= BATCH_ROWS
    header = (tmp_path / "pred.csv").read_text().split("\n", 1)[0]
    assert header == {"named": "prediction", "named-multi-float32": "prediction_0,"
                      "prediction_1,prediction_2", "unnamed-multi-float32":
                      "prediction_0,prediction_1"}[model]  # fmt: skip


@pytest.mark.parametrize(
    ("dtype", "order"),
    [(np.float64, "C"), (np.float64, "F"), (np.float32, "F"), (np.int32, "F")],
)
def test_npy_dtypes_and_orders_give_the_whole_file_bytes(tmp_path, capsys, dtype, order):
    """An unnamed model reads the batches as they are: mapped views (float64) or
    conversions, Fortran order kept down to a last batch of one row (the kernels add a
    row's terms in another order for C and Fortran arrays)."""
    model_path = fitted(tmp_path, "m", n_targets=1)
    data = make_data(p=4)
    if dtype == np.int32:
        data = np.round(data * 100)
    data_path = write_data(tmp_path, ".npy", data, None, order=order, dtype=dtype)
    whole_file_predict(model_path, data_path, tmp_path / "whole.csv")
    for batch_rows in (BATCH_ROWS, 1, N_ROWS - 1):
        out = tmp_path / f"pred{batch_rows}.csv"
        assert predict(model_path, data_path, "--out", out, "--batch-rows", batch_rows) == 0
        assert out.read_bytes() == (tmp_path / "whole.csv").read_bytes(), batch_rows
    capsys.readouterr()


def test_default_batch_and_one_row_file(tmp_path, capsys):
    model_path = fitted(tmp_path, "m", names=["a", "b", "c", "d"])
    (tmp_path / "one.csv").write_text("d,c,b,a\n1,2,3,4\n")
    assert predict(model_path, tmp_path / "one.csv", "--out", tmp_path / "pred.csv") == 0
    whole_file_predict(model_path, tmp_path / "one.csv", tmp_path / "whole.csv")
    assert (tmp_path / "pred.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert capsys.readouterr().out.startswith("1 predictions written to")


# --- errors: one line, exit status 2, no output file -----------------------------------------


def bad_file(folder, extension) -> tuple[str, str]:
    """A file whose row 1500 (of 1941) is bad, in a column the model does not use:
    (path, the message's tail). Every column is checked, as read_table checks them."""
    data = make_data()
    columns = ["x0", "x1", "x2", "x3", "target"]
    if extension == ".csv":
        path = write_data(folder, extension, data, columns)
        lines = open(path, encoding="utf-8").read().split("\n")
        cells = lines[1500].split(",")
        cells[4] = "abc"
        lines[1500] = ",".join(cells)
        with open(path, "w", encoding="utf-8") as file:
            file.write("\n".join(lines))
        return path, "line 1501, column 'target': 'abc' is not a number"
    if extension == ".parquet":
        pa = pytest.importorskip("pyarrow")
        pq = pytest.importorskip("pyarrow.parquet")
        mask = np.zeros(N_ROWS, dtype=bool)
        mask[1499] = True
        arrays = {name: pa.array(data[:, j]) for j, name in enumerate(columns)}
        arrays["x2"] = pa.array(data[:, 2], mask=mask)
        path = str(folder / "data.parquet")
        pq.write_table(pa.table(arrays), path, row_group_size=500)
        return path, "row 1500, column 'x2': missing value (null)"
    data[1499, 4] = np.nan
    return write_data(folder, extension, data, None), "row 1500, column '4': missing value (NaN)"


@pytest.mark.parametrize("extension", FORMATS)
@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_a_bad_cell_in_a_later_batch_leaves_no_partial_output(
    tmp_path, capsys, count_batches, extension, existing
):
    """15 batches are predicted and written before the bad cell: they go to a temporary
    file, removed on the error; an older output file is left as it was."""
    model_path = fitted(tmp_path, "m", names=["0", "1", "2", "3"] if extension == ".npy"
                        else ["x0", "x1", "x2", "x3"])  # fmt: skip
    data_path, message = bad_file(tmp_path, extension)
    with pytest.raises(DataError) as expected:
        readers.read_table(data_path)
    assert str(expected.value) == f"{data_path} {message}"
    out = tmp_path / "out" / "pred.csv"
    out.parent.mkdir()
    if existing:
        out.write_text("prediction\n1.0\n")
    code = predict(model_path, data_path, "--out", out, "--batch-rows", BATCH_ROWS)
    line = one_line_error(capsys, code)
    assert line == f"fastlinreg: error: {data_path} {message}"
    assert len(count_batches) >= 1499 // BATCH_ROWS  # written, then thrown away
    assert os.listdir(out.parent) == (["pred.csv"] if existing else [])
    if existing:
        assert out.read_text() == "prediction\n1.0\n"


def test_column_errors_come_before_any_output(tmp_path, capsys):
    named = fitted(tmp_path, "named", names=["a", "b", "c", "d"])
    unnamed = fitted(tmp_path, "unnamed")
    (tmp_path / "data.csv").write_text("a,z,c,d\n1,2,3,4\n")
    out = tmp_path / "out" / "pred.csv"
    out.parent.mkdir()
    code = predict(named, tmp_path / "data.csv", "--out", out)
    one_line_error(
        capsys, code, f"{tmp_path / 'data.csv'} lacks the model's feature column(s): 'b'"
    )
    np.save(tmp_path / "data.npy", make_data(n=10, p=5))
    code = predict(unnamed, tmp_path / "data.npy", "--out", out)
    one_line_error(capsys, code, "data.npy has 5 columns; the model expects 4 features")
    code = predict(named, tmp_path / "missing.csv", "--out", out)
    one_line_error(capsys, code, f"No such file: {tmp_path / 'missing.csv'}")
    code = predict(named, tmp_path / "data.csv", "--out", out, "--batch-rows", 0)
    one_line_error(capsys, code, "batch_rows must be at least 1, got 0")
    assert os.listdir(out.parent) == []
    code = predict(unnamed, tmp_path / "data.csv", "--out", tmp_path / "no" / "pred.csv")
    one_line_error(capsys, code, "No such directory", str(tmp_path / "no" / "pred.csv"))
    code = predict(unnamed, tmp_path / "data.csv", "--out", out.parent)
    one_line_error(capsys, code, f"Is a directory: '{out.parent}'")
    code = predict(unnamed, tmp_path / "data.csv", "--out", out)
    one_line_error(capsys, code, "fitted without column names", "--by-position")
    assert os.listdir(out.parent) == []


def test_a_failed_write_names_the_output_and_removes_the_temporary(tmp_path, capsys, monkeypatch):
    """A disk that fills up in a later batch: the OSError names --out, nothing is left."""
    model_path = fitted(tmp_path, "m")
    data_path = write_data(tmp_path, ".npy", make_data(p=4), None)
    out = tmp_path / "out" / "pred.csv"
    out.parent.mkdir()

    writes = []
    write = outputs._FileSink.write

    def full_disk(self, data):
        """The temporary file's second write to the disk (a later batch) fails."""
        writes.append(len(data))
        if len(writes) == 2:
            outputs._raise_with_path(OSError(28, "No space left on device"), self._path)
        return write(self, data)

    monkeypatch.setattr(outputs._FileSink, "write", full_disk)
    code = predict(model_path, data_path, "--out", out, "--batch-rows", BATCH_ROWS)
    line = one_line_error(capsys, code)
    assert line == f"fastlinreg: error: [Errno 28] No space left on device: '{out}'"
    assert os.listdir(out.parent) == []


# --- memory: bounded by the batch, not the file ----------------------------------------------

MEMORY_SCRIPT = r"""
import os, sys, warnings
import numpy as np
from fastlinreg import LinearRegression
from fastlinreg.cli import main
from fastlinreg import FileSource
from rss import peak_growth

folder, batch_rows = sys.argv[1], sys.argv[2]
d = 10
names = [f"x{j}" for j in range(d)] + ["y"]
rng = np.random.default_rng(0)

def write(path, n):
    # Written in pieces: the test's own memory stays out of the way too.
    extension = os.path.splitext(path)[1]
    if extension == ".npy":
        X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, d + 1))
        for start in range(0, n, 50_000):
            X[start:start + 50_000] = rng.standard_normal((min(50_000, n - start), d + 1))
        X.flush()
    elif extension == ".csv":
        block = rng.standard_normal((10_000, d + 1)).round(6)
        text = "".join(",".join(map(repr, row)) + "\n" for row in block.tolist())
        with open(path, "w") as file:
            file.write(",".join(names) + "\n")
            for _ in range(n // 10_000):
                file.write(text)
    else:
        import pyarrow as pa, pyarrow.parquet as pq
        schema = pa.schema([(name, pa.float64()) for name in names])
        with pq.ParquetWriter(path, schema) as writer:
            # Row groups of 10,000 rows (0.9 MB): pyarrow decodes a group at a time.
            for _ in range(n // 10_000):
                block = rng.standard_normal((10_000, d + 1))
                writer.write_table(pa.table({c: block[:, j] for j, c in enumerate(names)}))

warnings.simplefilter("ignore")
for extension, n in [(".npy", 400_000), (".csv", 300_000), (".parquet", 400_000)]:
    if extension == ".parquet":
        try:
            import pyarrow
        except ImportError:
            continue
    small, big = (os.path.join(folder, name + extension) for name in ("small", "big"))
    write(small, 20_000)
    write(big, n)
    target = "-1" if extension == ".npy" else "y"
    model = os.path.join(folder, "model.npz")
    LinearRegression(solver="exact").fit(FileSource(small, target)).save(model)
    out = os.path.join(folder, "pred.csv")
    # Warm up on the small file: compiled kernels, imports, the allocators' pools.
    assert main(["predict", model, small, "--out", out, "--batch-rows", batch_rows]) == 0
    code, grown = peak_growth(
        lambda: main(["predict", model, big, "--out", out, "--batch-rows", batch_rows])
    )
    assert code == 0
    with open(out) as file:
        assert sum(1 for _ in file) == n + 1
    print(extension, os.path.getsize(big), grown, file=sys.stderr)
    for path in (small, big, out):
        os.remove(path)
"""


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="RssAnon is Linux's")
def test_predict_memory_is_bounded_by_the_batch_not_the_file(tmp_path):
    """Files of 31 to 43 MB, batches of 10,000 rows (0.9 MB): anonymous memory grows
    by under 10% of the file (the whole-file command grew by more than the file: the
    table, its selected columns, the predictions and their Python floats). The CSV file
    is 31 MB, not 15: the pass's allocators sometimes keep one more chunk (0.9 MB), 6%
    of a 15 MB file, which crossed the bound now and then."""
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(tmp_path), "10000"],
        capture_output=True,
        text=True,
        env=rss.environment(),
    )
    assert result.returncode == 0, result.stderr
    growth = {}
    for line in result.stderr.splitlines():
        match = re.fullmatch(r"(\.\w+) (\d+) (-?\d+)", line)
        if match:
            size, grown = int(match[2]), int(match[3])
            assert size > 15e6
            growth[match[1]] = grown / size
    assert set(growth) >= {".npy", ".csv"}, result.stderr
    assert all(fraction < 0.10 for fraction in growth.values()), growth
