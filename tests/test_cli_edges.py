"""Edges of the ``fastlinreg`` command, run in this process (``cli.main``): option values
it cannot parse, warnings of a fit shown in its summary, and Ctrl-C."""

from __future__ import annotations

import numpy as np
import pytest

from fastlinreg import cli


@pytest.fixture
def train_csv(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 2))
    y = X @ [1.5, -2.0] + 0.3 + 0.1 * rng.standard_normal(40)
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
