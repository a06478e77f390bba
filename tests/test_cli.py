import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_regression

import fastlinreg
from fastlinreg import reference


def run(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "fastlinreg", *args], cwd=cwd, capture_output=True, text=True
    )


def test_demo_prints_the_tutorial_run_and_writes_the_plot(tmp_path):
    result = run("demo", "--plot", "curve.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # The printed final loss is the reference's, on the tutorial's problem.
    X, y = make_regression(n_samples=100, n_features=2, noise=10, random_state=0)
    _, _, history = reference.fit(X, y.reshape(-1, 1), np.ones((2, 1)), 1.0, 0.01, 200)
    assert f"epoch  199  loss {history[-1]:12.4f}" in result.stdout
    assert "exact" in result.stdout
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_without_plot(tmp_path):
    result = run("demo", "--plot", "", cwd=tmp_path)
    assert result.returncode == 0 and not list(tmp_path.iterdir())


def test_bad_usage_exits_2(tmp_path):
    result = run("nonsense", cwd=tmp_path)
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_unwritable_plot_path_is_one_clear_line(tmp_path):
    result = run("demo", "--plot", str(tmp_path / "missing" / "x.png"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("fastlinreg: error:") and "Traceback" not in result.stderr


def one_line_error(result, *fragments):
    """A user mistake: exit status 2 and one line naming what is wrong, no traceback."""
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("fastlinreg") and "error:" in lines[0], result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def write_csv(path, X, y, names):
    rows = [",".join([*names, "price"])]
    rows += [",".join(repr(float(v)) for v in [*x, t]) for x, t in zip(X, y, strict=True)]
    path.write_text("\n".join(rows) + "\n")


def test_help_explains_every_command(tmp_path):
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("demo", "fit", "predict", "bench"):
        assert command in result.stdout
    fit_help = run("fit", "--help", cwd=tmp_path).stdout
    for option in ("--target", "--save", "--solver", "--learning-rate", "--max-iter", "--alpha",
                   "--batch-rows"):  # fmt: skip
        assert option in fit_help
    predict_help = " ".join(run("predict", "--help", cwd=tmp_path).stdout.split())  # unwrapped
    for text in ("--out", "--batch-rows", "streamed in row batches"):
        assert text in predict_help


@pytest.mark.parametrize("solver", ["agd", "exact", None])  # None: no --solver ("auto")
def test_fit_then_predict_from_csv(tmp_path, solver):
    X, y = make_regression(n_samples=300, n_features=3, noise=5, random_state=1)
    write_csv(tmp_path / "train.csv", X, y, ["a", "b", "c"])
    choice = [] if solver is None else ["--solver", solver]
    fit = run("fit", "train.csv", "--target", "price", *choice, "--save", "m.npz",
              "--plot", "loss.png", cwd=tmp_path)  # fmt: skip
    assert fit.returncode == 0, fit.stderr
    ran = solver or "exact"  # what auto picks for 3 columns
    for fragment in ("300 rows, 3 features", f"solver      {ran}", "final loss", "R²",
                     "rows/s", "saved to m.npz", "loss plot written to loss.png"):  # fmt: skip
        assert fragment in fit.stdout
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"
    # Columns are matched by name: a reordered file without the target predicts the same.
    (tmp_path / "new.csv").write_text(
        "c,a,b\n" + "\n".join(f"{r[2]!r},{r[0]!r},{r[1]!r}" for r in X.tolist()) + "\n"
    )
    predict = run("predict", "m.npz", "new.csv", "--out", "pred.csv", cwd=tmp_path)
    assert predict.returncode == 0, predict.stderr
    lines = (tmp_path / "pred.csv").read_text().splitlines()
    assert lines[0] == "prediction" and len(lines) == 301
    model = fastlinreg.load(tmp_path / "m.npz")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        expected = model.predict(X)
    assert np.array_equal(np.array(lines[1:], dtype=float), expected)
    assert model.solver == (solver or "auto") and model.solver_ == ran
    assert list(model.feature_names_in_) == ["a", "b", "c"]
    # Streamed in batches of 7 rows: the same file.
    predict = run("predict", "m.npz", "new.csv", "--out", "pred7.csv", "--batch-rows", "7",
                  cwd=tmp_path)  # fmt: skip
    assert predict.returncode == 0, predict.stderr
    assert (tmp_path / "pred7.csv").read_bytes() == (tmp_path / "pred.csv").read_bytes()


def test_fit_from_npy_with_a_column_index_and_parquet(tmp_path):
    X, y = make_regression(n_samples=200, n_features=2, noise=5, random_state=2)
    np.save(tmp_path / "data.npy", np.column_stack([X, y]))
    fit = run("fit", "data.npy", "--target", "-1", "--save", "m.npz", "--solver", "exact",
              cwd=tmp_path)  # fmt: skip
    assert fit.returncode == 0, fit.stderr
    predict = run("predict", "m.npz", "data.npy", "--out", "p.csv", cwd=tmp_path)
    assert predict.returncode == 0, predict.stderr
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table({"x0": X[:, 0], "x1": X[:, 1], "y": y})
    pq.write_table(table, tmp_path / "data.parquet")
    fit = run("fit", "data.parquet", "--target", "y", "--save", "p.npz", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr


def test_user_mistakes_are_one_line(tmp_path):
    X, y = make_regression(n_samples=50, n_features=2, random_state=3)
    write_csv(tmp_path / "train.csv", X, y, ["a", "b"])
    one_line_error(run("fit", "nope.csv", "--target", "y", "--save", "m", cwd=tmp_path), "nope.csv")
    one_line_error(
        run("fit", "train.csv", "--target", "cost", "--save", "m", cwd=tmp_path), "'cost'"
    )
    (tmp_path / "bad.csv").write_text("a,b,price\n1,2,3\n4,x,6\n")
    one_line_error(
        run("fit", "bad.csv", "--target", "price", "--save", "m", cwd=tmp_path),
        "line 3", "'b'", "'x' is not a number",
    )  # fmt: skip
    one_line_error(
        run("fit", "train.csv", "--target", "price", "--save", "m", "--alpha", "-1", cwd=tmp_path),
        "alpha",
    )
    one_line_error(
        run("fit", "train.csv", "--target", "price", "--save", "m", "--solver", "sgd",
            cwd=tmp_path),
        "invalid choice",
    )  # fmt: skip
    one_line_error(
        run("fit", "train.csv", "--target", "price", "--save", "m", "--solver", "gd",
            "--learning-rate", "100", cwd=tmp_path),
        "diverged",
    )  # fmt: skip
    (tmp_path / "model.npz").write_text("not a model")
    one_line_error(
        run("predict", "model.npz", "train.csv", "--out", "p.csv", cwd=tmp_path),
        "not a fastlinreg model file",
    )
    assert run("fit", "train.csv", "--target", "price", "--save", "m.npz",
               cwd=tmp_path).returncode == 0  # fmt: skip
    (tmp_path / "other.csv").write_text("a,z\n1,2\n")
    one_line_error(run("predict", "m.npz", "other.csv", "--out", "p.csv", cwd=tmp_path), "'b'")
    # A bad cell in a later batch: status 2, and no output file at all.
    (tmp_path / "late.csv").write_text("a,b\n" + "1,2\n" * 30 + "3,x\n")
    one_line_error(
        run("predict", "m.npz", "late.csv", "--out", "p.csv", "--batch-rows", "4", cwd=tmp_path),
        "late.csv line 32, column 'b': 'x' is not a number",
    )
    assert not (tmp_path / "p.csv").exists()
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


def test_bench_quick_prints_the_side_by_side_and_a_chart(tmp_path):
    result = run("bench", "--quick", "--plot", "bench.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("fastlinreg serial", "fastlinreg parallel", "numpy reference",
                 "scikit-learn SGD", "stream bound", "BLAS"):  # fmt: skip
        assert name in result.stdout
    assert (tmp_path / "bench.png").read_bytes()[:4] == b"\x89PNG"
