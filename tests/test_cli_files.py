"""The command never destroys a user's file, and says what it does (issue 17).

Outputs that are inputs are refused before any work; links, FIFOs and devices are
written through, not replaced; permissions are kept; signals and a closed standard
output clean up and never lose a saved model. Run as whatever user CI runs as: the
cases that only root can set up (a device node) or only a non-root user can see (a
directory without write permission) are skipped for the other.
"""

import importlib
import os
import signal
import stat
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_regression

import fastlinreg

# Every test here runs the `fastlinreg` command in a fresh Python process.
pytestmark = pytest.mark.slow

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def command(*args):
    return [sys.executable, "-m", "fastlinreg", *args]


def run(*args, cwd, **kwargs):
    return subprocess.run(command(*args), cwd=cwd, capture_output=True, text=True, **kwargs)


def one_line_error(result, *fragments):
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastlinreg: error:"), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def folder(tmp_path):
    """train.csv (target y) and model.npz fitted on it, in tmp_path."""
    X, y = make_regression(n_samples=200, n_features=3, noise=1.0, random_state=0)
    rows = ["a,b,c,y"] + [
        ",".join(map(repr, [*x, t])) for x, t in zip(X.tolist(), y.tolist(), strict=True)
    ]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    result = run("fit", "train.csv", "--target", "y", "--save", "model.npz", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path


def contents(folder):
    return {path.name: path.read_bytes() for path in folder.iterdir()}


# --- outputs that are inputs -----------------------------------------------------------


@pytest.mark.parametrize(
    "args, named",
    [
        (("predict", "model.npz", "train.csv", "--out", "train.csv"), "train.csv"),
        (("predict", "model.npz", "train.csv", "--out", "model.npz"), "model.npz"),
        (("fit", "train.csv", "--target", "y", "--save", "train.csv"), "train.csv"),
        (("fit", "train.csv", "--target", "y", "--save", "m.npz", "--plot", "train.csv"),
         "train.csv"),
        (("fit", "train.csv", "--target", "y", "--save", "m.npz", "--plot", "m.npz"), "m.npz"),
    ],
)  # fmt: skip
def test_an_output_that_is_an_input_or_another_output_is_refused_before_any_work(
    folder, args, named
):
    before = contents(folder)
    one_line_error(run(*args, cwd=folder), named)
    assert contents(folder) == before  # nothing written, nothing replaced, no temporary


@pytest.mark.parametrize("link", ["symlink", "hard link"])
def test_an_output_that_is_an_input_through_a_link_is_refused(folder, link):
    (os.symlink if link == "symlink" else os.link)(folder / "train.csv", folder / "alias.csv")
    before = contents(folder)
    result = run("predict", "model.npz", "train.csv", "--out", "alias.csv", cwd=folder)
    one_line_error(result, "alias.csv", "train.csv")
    assert contents(folder) == before
    saved = run("fit", "alias.csv", "--target", "y", "--save", "train.csv", cwd=folder)
    one_line_error(saved, "train.csv")
    assert contents(folder) == before


def test_a_missing_output_folder_is_found_before_the_fit(folder):
    # A bad cell on the last line: a fit that ran would fail on it first.
    with open(folder / "train.csv", "a") as file:
        file.write("1,2,3,oops\n")
    result = run("fit", "train.csv", "--target", "y", "--save", "nodir/m.npz", cwd=folder)
    one_line_error(result, "nodir/m.npz")
    assert ".tmp" not in result.stderr and "oops" not in result.stderr


@pytest.mark.skipif(IS_ROOT, reason="root writes into any folder")
def test_an_unwritable_output_folder_is_found_before_the_fit(folder):
    locked = folder / "locked"
    locked.mkdir(mode=0o500)
    result = run("fit", "train.csv", "--target", "y", "--save", "locked/m.npz", cwd=folder)
    one_line_error(result, "locked/m.npz")


# --- what an output is: links, FIFOs, devices, permissions -----------------------------


def test_predictions_through_a_symlink_write_its_target_and_keep_the_link(folder):
    (folder / "real").mkdir()
    os.symlink("real/pred.csv", folder / "pred.csv")  # dangling: the target is created
    result = run("predict", "model.npz", "train.csv", "--out", "pred.csv", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert (folder / "pred.csv").is_symlink()
    assert (folder / "real" / "pred.csv").read_text().startswith("prediction\n")
    assert os.listdir(folder / "real") == ["pred.csv"]  # no temporary left beside it


def test_a_model_saved_through_a_symlink_writes_its_target(folder):
    os.symlink("model.npz", folder / "latest.npz")
    result = run("fit", "train.csv", "--target", "y", "--save", "latest.npz", "--max-iter",
                 "100", "--solver", "gd", cwd=folder)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (folder / "latest.npz").is_symlink()
    assert fastlinreg.load(folder / "model.npz").solver_ == "gd"


def test_predictions_into_a_fifo_reach_its_reader(folder):
    os.mkfifo(folder / "pipe")
    received = []
    reader = threading.Thread(target=lambda: received.append((folder / "pipe").read_text()))
    reader.start()
    result = run("predict", "model.npz", "train.csv", "--out", "pipe", cwd=folder, timeout=120)
    reader.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(os.stat(folder / "pipe").st_mode)
    assert received[0].startswith("prediction\n") and received[0].count("\n") == 201


def test_predictions_to_standard_output_with_the_summary_on_stderr(folder):
    result = run("predict", "model.npz", "train.csv", "--out", "-", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("prediction\n") and result.stdout.count("\n") == 201
    assert "200 predictions written to -" in result.stderr


@pytest.mark.skipif(not IS_ROOT, reason="making a device node needs root")
@pytest.mark.parametrize("device, minor", [("null", 3), ("full", 7)])
def test_a_device_is_written_into_not_replaced(folder, device, minor):
    # A private copy of /dev/null or /dev/full (major 1): the system's are not touched.
    node = folder / device
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    result = run("predict", "model.npz", "train.csv", "--out", device, cwd=folder)
    if device == "full":
        one_line_error(result, device, "No space left on device")
    else:
        assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(os.stat(node).st_mode)
    assert sorted(os.listdir(folder)) == sorted(["train.csv", "model.npz", device])


@pytest.mark.parametrize("which", ["--out", "--save"])
def test_an_existing_output_keeps_its_permissions(folder, which):
    target = folder / ("pred.csv" if which == "--out" else "model.npz")
    target.write_text("old") if which == "--out" else None
    os.chmod(target, 0o600)
    if which == "--out":
        result = run("predict", "model.npz", "train.csv", "--out", "pred.csv", cwd=folder)
    else:
        result = run("fit", "train.csv", "--target", "y", "--save", "model.npz", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert target.read_bytes() != b"old"


# --- stopping early --------------------------------------------------------------------


def predicting(folder, copies, signum, disposition):
    """A `predict` of ``copies`` times train.csv's rows, one row a batch, started with
    ``signum``'s disposition ``disposition`` ("SIG_DFL" as from a terminal, "SIG_IGN" as
    under nohup), once it is writing its temporary file. The disposition is set by a
    Python that then execs the command (dispositions survive exec; a preexec_fn is not
    safe in a test process that has threads)."""
    header, *rows = (folder / "train.csv").read_text().splitlines()
    (folder / "long.csv").write_text("\n".join([header, *rows * copies]) + "\n")
    setup = (
        f"import os, signal, sys; signal.signal({int(signum)}, signal.{disposition}); "
        "os.execv(sys.executable, sys.argv[1:])"
    )
    predict = ("predict", "model.npz", "long.csv", "--out", "pred.csv", "--batch-rows", "1")
    process = subprocess.Popen(
        [sys.executable, "-c", setup, *command(*predict)],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not any(name.endswith(".tmp") for name in os.listdir(folder)):
        assert process.poll() is None, "predict ended before its temporary file was seen"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    return process


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_predict_leaves_no_temporary_file(folder, signum):
    # One row per batch over 4,000 rows: about a second of writing even on a fast host
    # (200 rows took under 0.1 s, and the signal once arrived after predict had ended).
    # The signal's default disposition, as from a terminal: under a parent that ignores
    # it (CI started with nohup) the command rightly keeps it ignored (the next test).
    process = predicting(folder, 20, signum, "SIG_DFL")
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, stderr
    assert f"stopped by {signal.Signals(signum).name}" in stderr
    assert sorted(os.listdir(folder)) == ["long.csv", "model.npz", "train.csv"]


def test_a_signal_the_caller_ignores_stays_ignored(folder):
    # `nohup fastlinreg predict ...`: SIGHUP is ignored when the command starts, and the
    # terminal closing must not stop it (the command used to install its handler anyway).
    process = predicting(folder, 5, signal.SIGHUP, "SIG_IGN")
    process.send_signal(signal.SIGHUP)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert len(np.loadtxt(folder / "pred.csv", skiprows=1)) == 1000


def test_a_closed_standard_output_does_not_lose_the_model(folder):
    # The reading end closed before anything is printed: `fit ... | head -0`.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            command("fit", "train.csv", "--target", "y", "--save", "m.npz", "--quiet"),
            cwd=folder,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 128 + signal.SIGPIPE, result.stderr
    assert result.stderr == ""
    assert fastlinreg.load(folder / "m.npz").n_features_in_ == 3


# --- columns by name -------------------------------------------------------------------


def test_a_model_without_column_names_refuses_a_header_unless_by_position(tmp_path):
    X, y = make_regression(n_samples=50, n_features=2, random_state=0)
    fastlinreg.LinearRegression().fit(X, y).save(tmp_path / "m.npz")
    # Columns in another order than the model's features, under names it never saw.
    rows = ["b,a"] + [f"{x[1]!r},{x[0]!r}" for x in X.tolist()]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    refused = run("predict", "m.npz", "d.csv", "--out", "p.csv", cwd=tmp_path)
    one_line_error(refused, "without column names", "--by-position")
    assert not (tmp_path / "p.csv").exists()
    taken = run("predict", "m.npz", "d.csv", "--out", "p.csv", "--by-position", cwd=tmp_path)
    assert taken.returncode == 0, taken.stderr
    predictions = np.loadtxt(tmp_path / "p.csv", skiprows=1)
    model = fastlinreg.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(predictions, model.predict(X[:, ::-1]))
    # A .npy file has numbered columns, no names: by position is the only way.
    np.save(tmp_path / "d.npy", X)
    assert run("predict", "m.npz", "d.npy", "--out", "q.csv", cwd=tmp_path).returncode == 0


# --- what it says ----------------------------------------------------------------------


def test_version(tmp_path):
    result = run("--version", cwd=tmp_path)
    assert (
        result.returncode == 0 and result.stdout.strip() == f"fastlinreg {fastlinreg.__version__}"
    )


# What each command imports: predict and --version start without scikit-learn, SciPy's
# statistics and sparse matrices, pandas or matplotlib (about a second of start-up).
_HEAVY = ("sklearn", "pandas", "scipy.sparse", "scipy.stats", "matplotlib", "dask")
_IMPORTS = """
import sys
from fastlinreg.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as stop:
    status = stop.code
print(sorted(name for name in {heavy!r} if name in sys.modules))
sys.exit(status)
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["predict", "model.npz", "train.csv", "--out", "p.csv"],
        ["predict", "model.npz", "train.csv", "--out", "-", "--quiet"],
    ],
    ids=["version", "predict", "predict-to-stdout"],
)
def test_predict_and_version_import_no_scikit_learn_or_pandas(folder, args):
    code = _IMPORTS.format(heavy=_HEAVY)
    result = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=folder, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


@pytest.mark.parametrize("package", ["fastlinreg", "fastlinreg.sources"])
def test_every_public_name_of_the_lazy_packages_resolves(package):
    """The packages import their modules on first use of a name: each name of __all__
    resolves (and is listed by dir), an unknown one is an AttributeError."""
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None and name in dir(module)
    with pytest.raises(AttributeError, match=f"module '{package}' has no attribute 'nope'"):
        module.nope  # noqa: B018


def test_submodules_are_attributes_of_a_freshly_imported_package():
    """As before the packages became lazy: after ``import fastlinreg`` alone, its
    modules and the sources' are reached as attributes (imported then)."""
    code = (
        "import fastlinreg\n"
        "assert callable(fastlinreg.kernels.predict)\n"
        "assert fastlinreg.sources.memory.InMemorySource is fastlinreg.sources.InMemorySource\n"
        "assert not hasattr(fastlinreg, '__main__')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_predict_writes_what_the_loaded_estimator_predicts(folder):
    """predict reads the model file without the estimator: the same bits as
    fastlinreg.load(...).predict on the same rows."""
    assert run("predict", "model.npz", "train.csv", "--out", "p.csv", cwd=folder).returncode == 0
    X = pd.read_csv(folder / "train.csv").drop(columns="y")
    expected = fastlinreg.load(folder / "model.npz").predict(X)
    written = np.loadtxt(folder / "p.csv", delimiter=",", skiprows=1)
    assert np.array_equal(written, expected)


def test_the_summary_counts_epochs_and_rows_read_and_warns_on_stderr(folder):
    one = run("fit", "train.csv", "--target", "y", "--save", "m.npz", "--solver", "exact",
              cwd=folder)  # fmt: skip
    assert "exact, 1 epoch, converged: True" in one.stdout
    # The factor: one pass over the file's 200 rows, whatever the epochs.
    assert "(200 rows read," in one.stdout
    few = run("fit", "train.csv", "--target", "y", "--save", "m.npz", "--solver", "gd",
              "--precompute", "false", "--max-iter", "3", "--quiet", cwd=folder)  # fmt: skip
    assert few.returncode == 0, few.stderr
    assert "gd, 3 epochs, converged: False" in few.stdout
    assert "warning" not in few.stdout
    assert "fastlinreg: warning:" in few.stderr and "max_iter=3" in few.stderr
    # Passes over the file: each epoch reads its 200 rows, and so do the others.
    rows_read = int(few.stdout.split(" rows read")[0].rsplit("(", 1)[1])
    assert rows_read >= 3 * 200 and rows_read % 200 == 0


def test_predictions_beyond_float64_are_an_error_naming_the_row(tmp_path):
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    model = fastlinreg.LinearRegression(fit_intercept=False).fit(X, np.array([1.0, 1.0, 2.0]))
    model.save(tmp_path / "m.npz")  # coefficients (1, 1): 1e308 + 1e308 overflows
    np.save(tmp_path / "d.npy", np.array([[1.0, 2.0], [1e308, 1e308], [1.0, 1.0]]))
    result = run("predict", "m.npz", "d.npy", "--out", "p.csv", cwd=tmp_path)
    one_line_error(result, "d.npy", "row 2", "beyond float64")
    assert not (tmp_path / "p.csv").exists()
