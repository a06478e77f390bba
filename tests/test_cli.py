import subprocess
import sys

import numpy as np
from sklearn.datasets import make_regression

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
