"""Statistics of the least-squares fit from the factor: statsmodels' numbers, NIST's
certified standard deviations, every data source, and refusals where they would be wrong."""

from __future__ import annotations

import re
import warnings

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import realdata
import scipy.sparse
import statsmodels.api as sm
from nist import DATASETS, load, lre
from problems import linear_problem

from fastlinreg import FileSource, LinearRegression, _config, inference
from fastlinreg.cli import main

STATISTICS = (
    "params",
    "bse",
    "tvalues",
    "rsquared",
    "rsquared_adj",
    "fvalue",
    "ssr",
    "scale",
    "df_model",
    "df_resid",
    "nobs",
)


def assert_statsmodels(model, results, rtol=1e-10, f_rtol=1e-10):
    """Every statistic of ``model`` equals statsmodels' ``results`` (OLS or WLS)."""
    for name in STATISTICS:
        np.testing.assert_allclose(
            getattr(model, name + "_"),
            getattr(results, name),
            rtol=f_rtol if name == "fvalue" else rtol,
            err_msg=name,
        )
    # p-values: tiny ones (1e-60) carry the t statistic's relative error times t².
    np.testing.assert_allclose(model.pvalues_, results.pvalues, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(model.f_pvalue_, results.f_pvalue, rtol=1e-8, atol=1e-14)
    # Interval ends are params ± q bse: relative to those two, not to an end near 0.
    size = (np.abs(results.params) + 3.0 * results.bse)[..., None]
    for alpha in (0.05, 0.01):
        error = np.abs(model.conf_int(alpha) - np.asarray(results.conf_int(alpha)))
        assert np.all(error <= rtol * size), (alpha, np.max(error / size))


CORPUS = realdata.corpus()


@pytest.mark.parametrize("data", CORPUS, ids=[data.name for data in CORPUS])
def test_real_data_equals_statsmodels_ols(data):
    model = LinearRegression().fit(data.X, data.y)
    assert model.solver_ == "exact"
    results = sm.OLS(data.y, sm.add_constant(data.X, has_constant="add")).fit()
    assert_statsmodels(model, results)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_random_designs_equal_statsmodels_ols_and_wls(fit_intercept, weighted):
    rng = np.random.default_rng(3)
    n, d = 300, 6
    # Columns far from centred and of different scales, like real data.
    X = rng.normal(size=(n, d)) * [1, 10, 1e3, 0.01, 5, 1] + [0, 100, 2e4, 1, -3, 0]
    y = X @ rng.normal(size=d) + 7.0 + rng.normal(scale=3.0, size=n)
    weights = rng.uniform(0.1, 5.0, size=n) if weighted else None
    model = LinearRegression(solver="exact", fit_intercept=fit_intercept)
    model.fit(X, y, sample_weight=weights)
    design = sm.add_constant(X) if fit_intercept else X
    if weighted:
        results = sm.WLS(y, design, weights=weights).fit()
        assert "WLS Regression Results" in model.summary()
    else:
        results = sm.OLS(y, design).fit()
        assert "OLS Regression Results" in model.summary()
    assert_statsmodels(model, results)
    assert ("R-squared (uncentered):" in model.summary()) is not fit_intercept


def test_weights_are_analytic_their_scale_changes_nothing():
    X, y = linear_problem(200, 4, seed=5)[:2]
    weights = np.random.default_rng(5).uniform(0.5, 2.0, size=200)
    one = LinearRegression(solver="exact").fit(X, y, sample_weight=weights)
    scaled = LinearRegression(solver="exact").fit(X, y, sample_weight=1e6 * weights)
    np.testing.assert_allclose(one.bse_, scaled.bse_, rtol=1e-12)
    assert one.nobs_ == scaled.nobs_ == 200  # rows, not the sum of the weights


def test_several_targets_are_each_their_own_regression():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(120, 3)) + 4.0
    Y = np.column_stack([X @ [1.0, 2.0, 3.0], X @ [0.0, -1.0, 0.5]]) + rng.normal(size=(120, 2))
    model = LinearRegression(solver="exact").fit(X, Y)
    assert model.bse_.shape == (2, 4)
    assert model.conf_int().shape == (2, 4, 2)
    for t in range(2):
        results = sm.OLS(Y[:, t], sm.add_constant(X)).fit()
        np.testing.assert_allclose(model.bse_[t], results.bse, rtol=1e-10)
        np.testing.assert_allclose(model.fvalue_[t], results.fvalue, rtol=1e-10)
        assert re.search(rf"Dep. Variable:\s+y{t}\s", model.summary())
    frame = model.to_frame()
    assert frame.index.names == ["target", "parameter"]
    np.testing.assert_array_equal(frame["std err"].to_numpy(), model.bse_.ravel())


@pytest.mark.parametrize("name", DATASETS)
def test_nist_certified_standard_deviations_residual_sd_and_rsquared(name):
    problem = load(name)
    model = LinearRegression(solver="exact", fit_intercept=problem.fit_intercept)
    model.fit(problem.X, problem.y)
    # As many digits as the coefficients are held to (test_nist.py): 7.67 or more
    # here (Filip), 13 or more for most; a certified 0 (Wampler1, 2) counts absolute.
    assert lre(model.bse_, problem.certified_bse).min() >= 7.0
    assert lre(np.sqrt(model.scale_), problem.certified_residual_sd) >= 7.0
    assert lre(model.rsquared_, problem.certified_rsquared) >= 7.0
    if name == "Longley":  # magnitudes beyond 1e4 print in exponent form
        assert "const       -3.482e+06    8.9e+05" in model.summary()


@pytest.mark.filterwarnings("ignore:The design matrix is rank-deficient")
def test_rank_deficient_x_names_what_is_not_identified():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 80)) + 3.0
    X = np.column_stack([a, b, a + b, rng.normal(size=80)])  # a, b, a + b: one too many
    y = X[:, 0] - 2.0 * X[:, 3] + rng.normal(size=80)
    model = LinearRegression(solver="exact").fit(X, y)
    assert model.rank_ == 3 and model.df_model_ == 3 and model.df_resid_ == 76
    ols = sm.OLS(y, sm.add_constant(X)).fit()
    assert ols.df_model == 3
    # a, b and a + b are not identified; the intercept and the fourth column are, with
    # statsmodels' (pseudo-inverse) standard errors.
    assert np.isnan(model.bse_[1:4]).all() and np.isnan(model.pvalues_[1:4]).all()
    np.testing.assert_allclose(model.bse_[[0, 4]], ols.bse[[0, 4]], rtol=1e-9)
    np.testing.assert_allclose(model.rsquared_, ols.rsquared, rtol=1e-12)
    np.testing.assert_allclose(model.fvalue_, ols.fvalue, rtol=1e-10)
    assert "not identified by the data" in model.summary()
    assert "x1, x2, x3" in model.summary()


@pytest.mark.filterwarnings("ignore:The design matrix is rank-deficient")
def test_an_intercept_collinear_with_the_columns_is_not_identified():
    # Two one-hot columns sum to 1: the intercept and both columns are not identified,
    # their differences are. statsmodels gives the pseudo-inverse's numbers for all.
    rng = np.random.default_rng(1)
    group = rng.integers(0, 2, size=60)
    X = np.column_stack([group, 1 - group, rng.normal(size=60)]).astype(float)
    y = 2.0 * group + X[:, 2] + rng.normal(size=60)
    model = LinearRegression(solver="exact").fit(X, y)
    assert np.isnan(model.bse_[:3]).all()
    ols = sm.OLS(y, sm.add_constant(X, has_constant="add")).fit()
    np.testing.assert_allclose(model.bse_[3], ols.bse[3], rtol=1e-9)
    np.testing.assert_allclose(model.rsquared_, ols.rsquared, rtol=1e-12)


def test_every_source_gives_the_in_memory_numbers(tmp_path):
    X, y = linear_problem(2000, 5, seed=7)[:2]
    X = X * [1, 1e3, 1, 1, 1] + [0, 5e3, 0, 0, 1]
    y = y + np.random.default_rng(1).normal(size=2000)
    memory = LinearRegression(solver="exact").fit(X, y)
    np.save(tmp_path / "X.npy", X)
    mapped = LinearRegression(solver="exact").fit(np.load(tmp_path / "X.npy", mmap_mode="r"), y)
    sparse = LinearRegression(solver="exact").fit(scipy.sparse.csr_matrix(X), y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dask's own chatter
        chunked = LinearRegression(solver="exact").fit(
            da.from_array(X, chunks=(500, 5)), da.from_array(y, chunks=500)
        )
    frame = pd.DataFrame(np.column_stack([X, y]), columns=[*"abcde", "y"])
    frame.to_csv(tmp_path / "data.csv", index=False)
    streamed = LinearRegression(solver="exact").fit(
        FileSource(tmp_path / "data.csv", "y", batch_rows=300)
    )
    for model in (mapped, sparse, chunked, streamed):
        np.testing.assert_allclose(model.bse_, memory.bse_, rtol=1e-9)
        np.testing.assert_allclose(model.fvalue_, memory.fvalue_, rtol=1e-9)
        assert model.nobs_ == 2000
    assert streamed.to_frame().index.tolist() == ["const", *"abcde"]


def test_partial_fit_pieces_count_every_row():
    X, y = linear_problem(600, 3, seed=2)[:2]
    y = y + np.random.default_rng(0).normal(size=600)
    whole = LinearRegression(solver="exact").fit(X, y)
    pieces = LinearRegression(solver="exact")
    for rows in np.array_split(np.arange(600), 3):
        pieces.partial_fit(X[rows], y[rows])
    assert pieces.nobs_ == 600
    np.testing.assert_allclose(pieces.bse_, whole.bse_, rtol=1e-10)
    # A new fit starts the count afresh.
    assert pieces.fit(X[:100], y[:100]).nobs_ == 100


def test_a_converged_gradient_fit_on_the_factor_has_the_statistics_of_its_coefficients():
    X, y = linear_problem(400, 3, seed=4)[:2]
    y = y + np.random.default_rng(4).normal(size=400)
    exact = LinearRegression(solver="exact").fit(X, y)
    agd = LinearRegression(solver="agd", precompute=True, tol=1e-12).fit(X, y)
    assert agd.converged_
    np.testing.assert_allclose(agd.bse_, exact.bse_, rtol=1e-8)


def test_feature_names_and_the_frame():
    X, y = linear_problem(100, 2, seed=1)[:2]
    y = y + np.random.default_rng(1).normal(size=100)
    frame = pd.DataFrame(X, columns=["income", "year"])
    model = LinearRegression().fit(frame, y)
    table = model.to_frame(alpha=0.1)
    assert table.index.tolist() == ["const", "income", "year"]
    assert table.columns.tolist() == ["coef", "std err", "t", "P>|t|", "[0.05", "0.95]"]
    np.testing.assert_array_equal(table["coef"], model.params_)
    np.testing.assert_array_equal(table["0.95]"], model.conf_int(0.1)[:, 1])
    text = model.summary()
    assert "income" in text and "[0.025" in text and "0.975]" in text


def test_float32_x_gives_float64_statistics_of_its_fit():
    X, y = linear_problem(300, 3, seed=6)[:2]
    y = y + np.random.default_rng(6).normal(size=300)
    model = LinearRegression(solver="exact").fit(X.astype(np.float32), y.astype(np.float32))
    results = sm.OLS(y.astype(np.float32).astype(np.float64), sm.add_constant(
        X.astype(np.float32).astype(np.float64))).fit()  # fmt: skip
    # The fit is computed in float64 and returned as float32 (as scikit-learn does):
    # its statistics are those of the float32 coefficients.
    np.testing.assert_allclose(model.bse_, results.bse, rtol=1e-6)


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"solver": "agd", "precompute": False}, "does not hold"),
        ({"solver": "gd", "precompute": False}, "solver='gd' ran on passes"),
        ({"solver": "sgd", "max_iter": 5}, "stochastic approximation"),
        ({"alpha": 0.1}, "penalized (alpha=0.1)"),
        ({"solver": "gd", "precompute": True, "max_iter": 3}, "did not converge"),
    ],
)
def test_no_statistics_where_they_would_be_wrong(params, fragment):
    X, y = linear_problem(200, 3, seed=0)[:2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the ConvergenceWarning of max_iter=3
        model = LinearRegression(**params).fit(X, y)
    for attribute in ("bse_", "pvalues_", "rsquared_"):
        assert not hasattr(model, attribute)
    with pytest.raises(AttributeError, match=re.escape(fragment)):
        model.summary()
    with pytest.raises(AttributeError, match=re.escape(fragment)):
        model.conf_int()


def test_before_fit_and_after_load(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        LinearRegression().summary()
    X, y = linear_problem(50, 2, seed=0)[:2]
    model = LinearRegression().fit(X, y)
    model.save(tmp_path / "m.npz")
    from fastlinreg import load as load_model

    with pytest.raises(AttributeError, match="read from a file"):
        _ = load_model(tmp_path / "m.npz").bse_


def test_no_residual_degrees_of_freedom_is_an_error():
    X = np.array([[0.0], [1.0]])
    model = LinearRegression(solver="exact").fit(X, [1.0, 3.0])
    with pytest.raises(ValueError, match="2 rows leave no degree of freedom"):
        _ = model.bse_


def test_conf_int_alpha_is_checked():
    X, y = linear_problem(50, 2, seed=0)[:2]
    model = LinearRegression().fit(X, y + np.random.default_rng(0).normal(size=50))
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\)"):
        model.conf_int(1.5)


def test_the_command_prints_the_summary(tmp_path, capsys):
    X, y = linear_problem(500, 2, seed=3)[:2]
    y = y + np.random.default_rng(3).normal(size=500)
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": y}).to_csv(tmp_path / "d.csv", index=False)
    model_path = str(tmp_path / "m.npz")
    assert main(["fit", str(tmp_path / "d.csv"), "--target", "y", "--save", model_path,
                 "--quiet", "--summary", "--solver", "agd"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    expected = LinearRegression().fit(pd.DataFrame({"a": X[:, 0], "b": X[:, 1]}), y)
    assert "OLS Regression Results" in out
    assert f"{expected.bse_[1]:.3f}" in out
    refused = ["fit", str(tmp_path / "d.csv"), "--target", "y", "--save", model_path]
    assert main([*refused, "--summary", "--alpha", "0.5"]) == 2
    assert "cannot go with --alpha" in capsys.readouterr().err
    assert main([*refused, "--cov-type", "HC1"]) == 2
    assert "--cov-type chooses the standard errors that --summary prints" in (
        capsys.readouterr().err
    )
    assert main([*refused, "--quiet", "--summary", "--cov-type", "HC3"]) == 0
    robust = LinearRegression(cov_type="HC3").fit(pd.DataFrame({"a": X[:, 0], "b": X[:, 1]}), y)
    out = capsys.readouterr().out
    assert "HC3" in out and f"{robust.bse_[2]:.3f}" in out
    unconverged = [*refused, "--summary", "--solver", "gd", "--max-iter", "2", "--quiet"]
    assert main(unconverged) == 2
    assert "did not converge (converged_ is False)" in capsys.readouterr().err
    from fastlinreg import load as load_model

    assert load_model(model_path).n_iter_ == 2  # the model was saved before the refusal


def heteroskedastic_problem(n=400, seed=0):
    """Columns of unlike scales and offsets, errors whose spread grows with the first."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [1.0, 10.0, 100.0] + [0.0, 50.0, -300.0]
    y = X @ [1.0, 2.0, 3.0] + 5.0 + rng.normal(size=n) * (1.0 + np.abs(X[:, 0]))
    return X, y, rng.uniform(0.2, 3.0, size=n)


@pytest.mark.parametrize("cov_type", ["HC0", "HC1", "HC2", "HC3"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_robust_covariances_equal_statsmodels(cov_type, fit_intercept, weighted):
    X, y, weights = heteroskedastic_problem()
    weights = weights if weighted else None
    model = LinearRegression(solver="exact", fit_intercept=fit_intercept, cov_type=cov_type)
    model.fit(X, y, sample_weight=weights)
    design = sm.add_constant(X) if fit_intercept else X
    regression = sm.OLS(y, design) if weights is None else sm.WLS(y, design, weights=weights)
    results = regression.fit(cov_type=cov_type)
    # Robust: z statistics and the normal law, as statsmodels' default use_t=False.
    assert_statsmodels(model, results, rtol=1e-10)
    text = model.summary()
    assert re.search(rf"Covariance Type:\s+{cov_type}\s", text) and "P>|z|" in text
    assert model.to_frame().columns[2:4].tolist() == ["z", "P>|z|"]


@pytest.mark.parametrize("cov_type", ["HC1", "HC3"])
def test_the_robust_pass_sums_a_block_in_chunks_of_rows(monkeypatch, cov_type):
    """A block is worked through in chunks of rows (inference._MEAT_CHUNK_BYTES): chunks
    of 7 rows, the last one short, with weights, give statsmodels' numbers as one chunk
    per block does."""
    X, y, weights = heteroskedastic_problem()
    whole = LinearRegression(cov_type=cov_type).fit(X, y, sample_weight=weights)
    monkeypatch.setattr(inference, "_MEAT_CHUNK_BYTES", 7 * 8 * X.shape[1])
    chunked = LinearRegression(cov_type=cov_type).fit(X, y, sample_weight=weights)
    results = sm.WLS(y, sm.add_constant(X), weights=weights).fit(cov_type=cov_type)
    assert_statsmodels(chunked, results, rtol=1e-10)
    np.testing.assert_allclose(chunked.bse_, whole.bse_, rtol=1e-12)


def test_the_robust_pass_on_threads_is_the_serial_pass_bit_for_bit(monkeypatch):
    """Blocks of 256 rows (12 of them) on numba's threads, summed in block order: the
    same bits as on the caller's thread alone, and statsmodels' numbers."""
    monkeypatch.setattr(_config, "rows_per_factor_block", lambda n_columns: 256)
    X, y, weights = heteroskedastic_problem(n=3000, seed=5)
    threaded = LinearRegression(cov_type="HC3").fit(X, y, sample_weight=weights)
    serial = LinearRegression(cov_type="HC3", parallel=False).fit(X, y, sample_weight=weights)
    np.testing.assert_array_equal(serial.bse_, threaded.bse_)
    results = sm.WLS(y, sm.add_constant(X), weights=weights).fit(cov_type="HC3")
    assert_statsmodels(threaded, results, rtol=1e-10)


@pytest.mark.parametrize("data", CORPUS[:8], ids=[data.name for data in CORPUS[:8]])
def test_real_data_hc3_equals_statsmodels(data):
    model = LinearRegression(cov_type="HC3").fit(data.X, data.y)
    results = sm.OLS(data.y, sm.add_constant(data.X, has_constant="add")).fit(cov_type="HC3")
    # The robust F is a Wald test through the inverse of the robust covariance:
    # statsmodels' is 5.4e-10 from the value in 50-digit arithmetic on copper (mpmath),
    # fastlinreg's 4e-15.
    assert_statsmodels(model, results, f_rtol=1e-9)


def test_the_robust_pass_streams_from_every_source_and_is_deterministic(tmp_path):
    X, y, weights = heteroskedastic_problem(n=3000, seed=4)
    memory = LinearRegression(cov_type="HC1").fit(X, y)
    again = LinearRegression(cov_type="HC1").fit(X, y)
    np.testing.assert_array_equal(again.bse_, memory.bse_)  # the same bits, twice
    frame = pd.DataFrame(np.column_stack([X, y]), columns=["a", "b", "c", "y"])
    frame.to_csv(tmp_path / "data.csv", index=False)
    streamed = LinearRegression(cov_type="HC1").fit(
        FileSource(tmp_path / "data.csv", "y", batch_rows=256)
    )
    sparse = LinearRegression(cov_type="HC1").fit(scipy.sparse.csr_matrix(X), y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chunked = LinearRegression(cov_type="HC1").fit(
            da.from_array(X, chunks=(700, 3)), da.from_array(y, chunks=700)
        )
    for model in (streamed, sparse, chunked):
        np.testing.assert_allclose(model.bse_, memory.bse_, rtol=1e-10)
        np.testing.assert_allclose(model.fvalue_, memory.fvalue_, rtol=1e-10)


def test_robust_covariances_need_one_least_squares_fit_over_every_row():
    X, y, _ = heteroskedastic_problem(n=100)
    for params in ({"alpha": 0.5}, {"solver": "agd", "precompute": False}, {"solver": "sgd"}):
        with pytest.raises(ValueError, match="describes a least-squares fit through the factor"):
            LinearRegression(cov_type="HC0", **params).fit(X, y)
    with pytest.raises(ValueError, match="partial_fit sees one piece at a time"):
        LinearRegression(cov_type="HC0").partial_fit(X, y)
    with pytest.raises(ValueError, match="cov_type"):
        LinearRegression(cov_type="HC9").fit(X, y)


def test_the_readme_summary_is_what_the_code_prints():
    import pathlib

    readme = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    block = readme.split("OLS Regression Results", 1)[1].split("...", 1)[0]
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True, scaled=False, as_frame=True)
    printed = LinearRegression().fit(X, y).summary()
    lines = [line.rstrip() for line in printed.splitlines()]
    for line in block.strip("\n").splitlines():
        assert line.rstrip() in lines


def test_compute_statistics_for_a_fit_on_passes_and_a_loaded_model(tmp_path):
    X, y, _ = heteroskedastic_problem(n=500, seed=8)
    exact = LinearRegression(solver="exact").fit(X, y)
    passes = LinearRegression(solver="agd", precompute=False, tol=1e-12, max_iter=20_000)
    passes.fit(X, y)
    assert passes.converged_ and not hasattr(passes, "bse_")
    assert passes.compute_statistics(X, y) is passes
    np.testing.assert_allclose(passes.bse_, exact.bse_, rtol=1e-6)
    exact.save(tmp_path / "m.npz")
    from fastlinreg import load as load_model

    loaded = load_model(tmp_path / "m.npz")
    loaded.set_params(cov_type="HC2").compute_statistics(X, y)
    robust = LinearRegression(cov_type="HC2").fit(X, y)
    np.testing.assert_allclose(loaded.bse_, robust.bse_, rtol=1e-12)
    with pytest.raises(ValueError, match="y has 2 target"):
        loaded.compute_statistics(X, np.column_stack([y, y]))
    with pytest.raises(ValueError, match="features"):
        loaded.compute_statistics(X[:, :2], y)
    penalized = LinearRegression(alpha=1.0).fit(X, y)
    with pytest.raises(ValueError, match="penalized"):
        penalized.compute_statistics(X, y)
