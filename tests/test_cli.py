import os
import signal
import subprocess
import sys
import types
import warnings
import weakref

import numpy as np
import pytest
from problems import linear_problem
from sklearn.datasets import make_regression

import fastlinreg
from fastlinreg import cli, reference


def run(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "fastlinreg", *args], cwd=cwd, capture_output=True, text=True
    )


@pytest.mark.slow
def test_demo_prints_the_tutorial_run_and_writes_the_plot(tmp_path):
    result = run("demo", "--plot", "curve.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # The printed final loss is the reference's, on the tutorial's problem.
    X, y = make_regression(n_samples=100, n_features=2, noise=10, random_state=0)
    _, _, history = reference.fit(X, y.reshape(-1, 1), np.ones((2, 1)), 1.0, 0.01, 200)
    assert f"epoch  199  loss {history[-1]:12.4f}" in result.stdout
    assert "exact" in result.stdout
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_demo_without_plot(tmp_path):
    result = run("demo", "--plot", "", cwd=tmp_path)
    assert result.returncode == 0 and not list(tmp_path.iterdir())


@pytest.mark.slow
def test_bad_usage_exits_2(tmp_path):
    result = run("nonsense", cwd=tmp_path)
    assert result.returncode == 2 and "invalid choice" in result.stderr


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_bench_quick_prints_the_side_by_side_and_a_chart(tmp_path):
    result = run("bench", "--quick", "--plot", "bench.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("fastlinreg serial", "fastlinreg parallel", "numpy reference",
                 "scikit-learn SGD", "stream bound", "BLAS"):  # fmt: skip
        assert name in result.stdout
    assert (tmp_path / "bench.png").read_bytes()[:4] == b"\x89PNG"


# --- cli.main in this process: option values it cannot parse, a fit's warnings, R², Ctrl-C ---


@pytest.fixture
def train_csv(tmp_path):
    X, y, _ = linear_problem(40, 2, coef=[1.5, -2.0], intercept=0.3, noise=0.1)
    path = tmp_path / "train.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header="a,b,y", comments="")
    return path


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--learning-rate", "fast", "'fast' is neither a number nor 'auto'"),
        ("--precompute", "sometimes", "'sometimes': expected auto, true or false"),
        ("--parallel", "yes", "'yes': expected auto, true or false"),
    ],
)
def test_an_option_value_it_cannot_parse_is_one_line(train_csv, capsys, option, value, message):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["fit", str(train_csv), "--target", "y", "--save", "m.npz", option, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("fastlinreg fit: error:")


def test_a_fit_that_stops_early_says_so_in_its_summary(train_csv, tmp_path, capsys):
    model = tmp_path / "m.npz"
    argv = ["fit", str(train_csv), "--target", "y", "--save", str(model), "--quiet"]
    argv += ["--solver", "gd", "--precompute", "false", "--max-iter", "3"]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    assert "solver      gd, 3 epochs, converged: False" in captured.out
    assert "warning" not in captured.out  # warnings go to stderr, the summary to stdout
    [warning] = [line for line in captured.err.splitlines() if "warning" in line]
    assert warning.startswith("fastlinreg: warning:") and "stopped at max_iter=3" in warning
    assert model.exists()


def test_spill_dir_holds_the_binary_copy_and_is_checked_before_any_work(
    train_csv, tmp_path, monkeypatch, capsys
):
    import tempfile

    spill = tmp_path / "spill"
    spill.mkdir()
    folders = []
    mkstemp = tempfile.mkstemp

    def recorded(*args, **kwargs):
        folders.append(kwargs.get("dir"))
        return mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", recorded)
    argv = ["fit", str(train_csv), "--target", "y", "--save", str(tmp_path / "m.npz")]
    argv += ["--quiet", "--precompute", "false", "--spill-dir", str(spill)]
    assert cli.main(argv) == 0
    assert folders == [str(spill)] and list(spill.iterdir()) == []  # used, then removed
    capsys.readouterr()
    (tmp_path / "m.npz").unlink()
    argv[argv.index("--spill-dir") + 1] = str(tmp_path / "nowhere")
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"fastlinreg: error: --spill-dir {tmp_path / 'nowhere'}: no such folder\n"
    assert folders == [str(spill)] and not (tmp_path / "m.npz").exists()
    # What a user without write permission meets (CI runs as root, who may write anywhere).
    access = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode, **kw: path != str(spill) and access(path, mode, **kw)
    )
    argv[argv.index("--spill-dir") + 1] = str(spill)
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.endswith(": the folder is not writable\n")
    assert folders == [str(spill)] and not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("solver", ["exact", "gd"])
def test_r2_from_the_factor_is_the_r2_of_a_pass_over_the_file(train_csv, solver):
    from sklearn.metrics import r2_score

    from fastlinreg import FileSource, LinearRegression

    # A large mean of y: the factor's spread of y must not come from E[y²] - E[y]².
    data = np.loadtxt(train_csv, delimiter=",", skiprows=1)
    data[:, 2] += 1e9
    np.savetxt(train_csv, data, delimiter=",", header="a,b,y", comments="")
    source = FileSource(train_csv, "y")
    model = LinearRegression(solver=solver).fit(source)
    assert model._factor is not None
    from_factor = cli._r2(model, source)
    model._factor = None
    from_pass = cli._r2(model, source)
    expected = r2_score(data[:, 2], model.predict(data[:, :2]))
    assert from_factor == pytest.approx(expected, rel=1e-9)
    assert from_pass == pytest.approx(expected, rel=1e-9)


def test_r2_of_a_pass_over_a_file_whose_target_is_tiny(train_csv):
    # y of 2**-600 (1e-181): its squares underflow, and the pass's R² was NaN (0 / 0).
    from fastlinreg import FileSource, LinearRegression

    data = np.loadtxt(train_csv, delimiter=",", skiprows=1)
    tiny = train_csv.parent / "tiny.csv"
    data[:, 2] = np.ldexp(data[:, 2], -600)
    np.savetxt(tiny, data, delimiter=",", header="a,b,y", comments="", fmt="%.17g")
    r2 = []
    for path in (train_csv, tiny):
        source = FileSource(path, "y")
        model = LinearRegression(solver="agd", precompute=False).fit(source)
        assert model._factor is None  # R² from a pass over the file
        r2.append(cli._r2(model, source))
    assert 0.99 < r2[0] < 1.0 and r2[1] == r2[0]


def test_ctrl_c_is_one_line_and_status_130(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_demo", interrupted)
    assert cli.main(["demo", "--plot", ""]) == 130
    captured = capsys.readouterr()
    assert captured.err == "fastlinreg: interrupted\n" and captured.out == ""


def test_ctrl_c_after_the_fit_keeps_the_saved_model(train_csv, tmp_path, monkeypatch, capsys):
    # The R² step (a pass over the file when there is no factor) comes after the save.
    def interrupted(model, source):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_r2", interrupted)
    model = tmp_path / "m.npz"
    argv = ["fit", str(train_csv), "--target", "y", "--save", str(model), "--quiet"]
    assert cli.main(argv) == 130
    assert capsys.readouterr().err == "fastlinreg: interrupted\n"
    from fastlinreg import load

    assert load(model).n_features_in_ == 2


@pytest.mark.parametrize("batch", [0, 3])  # the first of four batches, the last
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_whose_exception_python_swallowed_still_stops(
    train_csv, tmp_path, monkeypatch, capsys, batch, signum
):
    # A signal landing while Python runs a weakref callback or a __del__ has its
    # exception printed as "ignored", and the program went on: CI once saw a SIGTERM
    # during predict end in status 0 with the whole output written.
    model = tmp_path / "m.npz"
    assert cli.main(["fit", str(train_csv), "--target", "y", "--save", str(model)]) == 0
    capsys.readouterr()
    from fastlinreg import kernels

    predict_targets, calls = kernels.predict_targets, []

    class Dropped:
        pass

    def signalled_in_a_callback(*args):
        if len(calls) == batch:
            dropped = Dropped()
            reference = weakref.ref(dropped, lambda _: cli._on_signal(signum, None))
            del dropped  # the callback runs here; Python reports its exception, no more
            assert reference() is None
        calls.append(1)
        return predict_targets(*args)

    monkeypatch.setattr(kernels, "predict_targets", signalled_in_a_callback)
    out = tmp_path / "p.csv"
    argv = ["predict", str(model), str(train_csv), "--out", str(out), "--batch-rows", "10"]
    stopped = 130 if signum == signal.SIGINT else 128 + signum
    assert cli.main(argv) == stopped
    assert len(calls) == batch + 1  # it stopped at the next check, before another batch
    message = "interrupted" if signum == signal.SIGINT else "stopped by SIGTERM"
    assert capsys.readouterr().err == f"fastlinreg: {message}\n"  # no "Exception ignored"
    assert sorted(os.listdir(tmp_path)) == ["m.npz", "train.csv"]
    assert signal.getsignal(signal.SIGTERM) is not cli._on_signal  # handlers restored
    assert sys.unraisablehook is not cli._unraisable_unless_our_signal


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_swallowed_during_a_fit_leaves_no_model_file(
    train_csv, tmp_path, monkeypatch, capsys, signum
):
    from fastlinreg import LinearRegression

    fit = LinearRegression.fit

    class Dropped:
        pass

    def signalled_in_a_callback(self, *args, **kwargs):
        dropped = Dropped()
        reference = weakref.ref(dropped, lambda _: cli._on_signal(signum, None))
        del dropped  # the handler's exception is printed as ignored, and the fit goes on
        assert reference() is None
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(LinearRegression, "fit", signalled_in_a_callback)
    model = tmp_path / "m.npz"
    stopped = 130 if signum == signal.SIGINT else 128 + signum
    assert cli.main(["fit", str(train_csv), "--target", "y", "--save", str(model)]) == stopped
    message = "interrupted" if signum == signal.SIGINT else "stopped by SIGTERM"
    assert capsys.readouterr().err == f"fastlinreg: {message}\n"
    assert sorted(os.listdir(tmp_path)) == ["train.csv"]  # no model, no temporary file


def test_other_unraisable_exceptions_are_still_printed(monkeypatch):
    # The command's unraisablehook hides only its own stopping exceptions.
    seen = []
    monkeypatch.setattr(sys, "__unraisablehook__", seen.append)
    for error in (ValueError("a __del__ failed"), KeyboardInterrupt(), cli._Terminated(15)):
        cli._unraisable_unless_our_signal(types.SimpleNamespace(exc_value=error))
    assert [type(u.exc_value) for u in seen] == [ValueError]
