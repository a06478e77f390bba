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
    out = capsys.readouterr().out
    assert "solver      gd, 3 epochs, converged: False" in out
    [warning] = [line for line in out.splitlines() if line.startswith("warning")]
    assert "stopped at max_iter=3" in warning
    assert model.exists()


def test_ctrl_c_is_one_line_and_status_130(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_demo", interrupted)
    assert cli.main(["demo", "--plot", ""]) == 130
    captured = capsys.readouterr()
    assert captured.err == "fastlinreg: interrupted\n" and captured.out == ""
