"""The solvers through the estimator: the same answers as scikit-learn, the same
trajectory with and without the precomputed factor, weights, several targets, ridge
and elastic net, rank deficiency, scaling, stopping rules."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from problems import linear_problem
from sklearn import linear_model
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning

from fastlinreg import DivergenceError, LinearRegression, _solvers, kernels, reference
from fastlinreg.sources import _factor as factor_pass

SOLVERS = ["gd", "agd", "exact"]
# Iterative solvers stop at tol; exact is exact to rounding.
RTOL = {"gd": 1e-6, "agd": 1e-6, "exact": 1e-10}


def problem(n=300, d=6, n_targets=1, weighted=False, seed=0):
    X, Y = make_regression(
        n_samples=n, n_features=d, n_targets=n_targets, noise=10, bias=3.0, random_state=seed
    )
    X = X * np.linspace(0.5, 4.0, d)  # unequal column scales
    weights = np.random.default_rng(seed).integers(0, 4, n).astype(float) if weighted else None
    return X, Y, weights


def params(model):
    """[coef | intercept], one row per target (sklearn's intercept_ is 0.0 without one)."""
    coef = np.atleast_2d(model.coef_)
    return np.c_[coef, np.broadcast_to(model.intercept_, coef.shape[:1])]


def assert_same_fit(ours, theirs, rtol):
    got, expected = params(ours), params(theirs)
    assert_allclose(got, expected, rtol=0, atol=rtol * np.abs(expected).max())


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_targets", [1, 3])
def test_matches_sklearn_linear_regression(solver, fit_intercept, weighted, n_targets):
    X, Y, weights = problem(n_targets=n_targets, weighted=weighted)
    ours = LinearRegression(solver=solver, fit_intercept=fit_intercept).fit(X, Y, weights)
    theirs = linear_model.LinearRegression(fit_intercept=fit_intercept).fit(X, Y, weights)
    assert_same_fit(ours, theirs, RTOL[solver])
    assert np.shape(ours.coef_) == np.shape(theirs.coef_)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("weighted", [False, True])
def test_ridge_matches_sklearn_ridge(solver, weighted):
    X, y, weights = problem(weighted=weighted)
    alpha = 0.5
    total = len(y) if weights is None else weights.sum()
    ours = LinearRegression(solver=solver, alpha=alpha).fit(X, y, weights)
    # Ridge sums the squares where we average them: its alpha is ours times sum(s).
    theirs = linear_model.Ridge(alpha=alpha * total, solver="svd").fit(X, y, weights)
    assert_same_fit(ours, theirs, RTOL[solver])


@pytest.mark.parametrize("solver", ["gd", "agd"])
@pytest.mark.parametrize("precompute_", [True, False])
def test_elastic_net_matches_sklearn(solver, precompute_):
    X, y = make_regression(n_samples=300, n_features=8, n_informative=3, noise=10, random_state=3)
    alpha, l1_ratio = 2.0, 0.7
    ours = LinearRegression(
        solver=solver, alpha=alpha, l1_ratio=l1_ratio, precompute=precompute_, max_iter=20_000
    ).fit(X, y)
    theirs = linear_model.ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12, max_iter=100_000)
    theirs.fit(X, y)
    assert_same_fit(ours, theirs, 1e-5)
    # The proximal step zeroes exactly the coefficients that coordinate descent zeroes.
    assert_allclose(ours.coef_ == 0, theirs.coef_ == 0)
    assert 0 < np.sum(ours.coef_ == 0) < len(ours.coef_)


@pytest.mark.parametrize("solver", SOLVERS)
def test_sample_weight_is_repeating_rows(solver):
    X, y, _ = problem(n=120, d=4, seed=1)
    counts = np.random.default_rng(1).integers(0, 4, len(y))
    weighted = LinearRegression(solver=solver).fit(X, y, sample_weight=counts)
    repeated = LinearRegression(solver=solver).fit(np.repeat(X, counts, 0), np.repeat(y, counts))
    assert_same_fit(weighted, repeated, RTOL[solver])


@pytest.mark.parametrize("solver", ["gd", "agd"])
@pytest.mark.parametrize("scale_features", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("n_targets", "fit_intercept"), [(1, True), (3, True), (2, False)])
def test_precompute_keeps_the_trajectory(
    solver, scale_features, weighted, n_targets, fit_intercept
):
    X, Y, weights = problem(n=2_000, d=5, n_targets=n_targets, weighted=weighted, seed=4)
    # A fixed step: "auto" estimates L differently with and without the factor.
    settings = dict(
        solver=solver,
        learning_rate=0.1 if scale_features else 0.02,
        scale_features=scale_features,
        fit_intercept=fit_intercept,
        max_iter=60,
        tol=None,
        alpha=0.1,
        l1_ratio=0.3,
    )
    passes = LinearRegression(precompute=False, **settings).fit(X, Y, weights)
    factored = LinearRegression(precompute=True, **settings).fit(X, Y, weights)
    assert_allclose(factored.loss_history_, passes.loss_history_, rtol=1e-9)
    assert_allclose(params(factored), params(passes), rtol=1e-9, atol=1e-9)
    assert passes.n_iter_ == factored.n_iter_ == 60


def test_all_targets_share_each_pass_over_X(monkeypatch):
    X, Y, _ = problem(n=500, d=5, n_targets=3)
    calls = []
    real = kernels.loss_grad

    def counting(X, y, w, b, **kwargs):
        calls.append((np.shape(y), bool(np.any(y))))
        return real(X, y, w, b, **kwargs)

    monkeypatch.setattr(kernels, "loss_grad", counting)
    model = LinearRegression(precompute=False, max_iter=30, tol=None).fit(X, Y)
    epochs = [shape for shape, has_targets in calls if has_targets]  # not power iteration
    assert epochs == [(500, 3)] * model.n_iter_
    assert model.n_iter_ == 30


def test_exact_rank_deficient_gives_minimum_norm():
    rng = np.random.default_rng(5)
    base = rng.standard_normal((50, 3))
    X = np.column_stack([base, base[:, 0], np.full(50, 2.0), 3 * base[:, 1]])
    y = base @ [1.0, -2.0, 0.5] + 4.0 + rng.standard_normal(50) * 0.1
    model = LinearRegression(solver="exact").fit(X, y)
    assert model.rank_ == 3
    # Minimum norm over the centred least-squares solutions, as lstsq/pinv give it.
    Xc = X - X.mean(0)
    expected = np.linalg.lstsq(Xc, y - y.mean(), rcond=None)[0]
    assert_allclose(model.coef_, expected, atol=1e-10)
    assert_allclose(model.coef_[0], model.coef_[3])  # the duplicate is shared equally
    assert model.coef_[4] == pytest.approx(0, abs=1e-12)
    assert_allclose(model.predict(X), X @ expected + y.mean() - X.mean(0) @ expected)


def test_exact_underdetermined_gives_minimum_norm():
    rng = np.random.default_rng(6)
    X, y = rng.standard_normal((5, 12)), rng.standard_normal(5)
    model = LinearRegression(solver="exact", fit_intercept=False).fit(X, y)
    assert model.rank_ == 5
    assert_allclose(model.coef_, np.linalg.pinv(X) @ y, atol=1e-12)


def test_exact_zero_weight_rows_are_ignored():
    X, y, _ = problem(n=100, d=4)
    weights = np.where(np.arange(100) % 3 == 0, 0.0, 1.5)
    kept = weights > 0
    weighted = LinearRegression(solver="exact").fit(X, y, weights)
    dropped = LinearRegression(solver="exact").fit(X[kept], y[kept])
    assert_same_fit(weighted, dropped, 1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_exact_factor_is_independent_of_the_block_size(monkeypatch, weighted):
    from fastlinreg import _config

    X, y, weights = problem(n=1_000, d=5, weighted=weighted)
    one_block = LinearRegression(solver="exact").fit(X, y, weights)
    monkeypatch.setattr(_config, "FACTOR_BLOCK_BYTES", 1)  # 12-row blocks: 84 of them
    many_blocks = LinearRegression(solver="exact").fit(X, y, weights)
    assert_same_fit(many_blocks, one_block, 1e-12)


def test_badly_scaled_columns_need_feature_scaling():
    # Pontius-like: x and x² with x ~ 1e6 (x² ~ 1e12).
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 3e6, 40)
    X = np.column_stack([x, x**2])
    y = 0.7 + 1e-3 * x + 1e-9 * x**2 + rng.standard_normal(40) * 1e-3
    exact = LinearRegression(solver="exact").fit(X, y)
    scaled = LinearRegression(solver="gd", scale_features=True).fit(X, y)
    assert scaled.converged_
    # tol bounds the error in the coordinates gd iterates in: the coefficients, and the
    # intercept at the columns' means. The intercept at x = 0, far outside the data
    # (x ~ 1e6), is a difference of terms 1e3 times larger than itself, and has
    # correspondingly fewer digits (6 here).
    assert_allclose(scaled.coef_, exact.coef_, rtol=1e-8)
    mean = X.mean(axis=0)
    assert_allclose(
        scaled.intercept_ + scaled.coef_ @ mean, exact.intercept_ + exact.coef_ @ mean, rtol=1e-8
    )
    with pytest.warns(ConvergenceWarning):
        unscaled = LinearRegression(solver="gd", scale_features=False).fit(X, y)
    assert np.abs(params(unscaled) - params(exact)).max() > 1e-3 * np.abs(params(exact)).max()


def test_agd_takes_far_fewer_epochs_than_gd():
    X, y, _ = problem(n=400, d=6)
    X[:, 0] *= 30  # condition number ~1e3 without scaling
    settings = dict(scale_features=False, precompute=True, max_iter=200_000)
    gd = LinearRegression(solver="gd", **settings).fit(X, y)
    agd = LinearRegression(solver="agd", **settings).fit(X, y)
    assert gd.converged_ and agd.converged_
    assert agd.n_iter_ * 10 < gd.n_iter_
    assert_same_fit(agd, gd, 1e-6)


def test_tol_none_runs_max_iter_and_n_iter_no_change_counts_epochs():
    X, y, _ = problem()
    fixed = LinearRegression(solver="agd", tol=None, max_iter=37).fit(X, y)
    assert fixed.n_iter_ == 37 and not fixed.converged_
    # n_iter_no_change counts on passes over X; on the factor the bound is a certificate.
    quick = LinearRegression(solver="agd", n_iter_no_change=1, precompute=False).fit(X, y)
    patient = LinearRegression(solver="agd", n_iter_no_change=20, precompute=False).fit(X, y)
    assert quick.converged_ and patient.converged_
    assert patient.n_iter_ >= quick.n_iter_ + 19


@pytest.mark.parametrize("precompute_", [True, False])
def test_agd_with_too_large_a_step_raises_quickly(precompute_):
    X, y, _ = problem()
    model = LinearRegression(solver="agd").fit(X, y)
    before = params(model).copy()
    # With scaled features the Hessian's largest eigenvalue is 2 (1 + a correlation
    # term) <= 2 d, so a step of 5 is too large whatever the data.
    with pytest.raises(DivergenceError, match=r"rose from .* learning_rate=5.0"):
        model.set_params(learning_rate=5.0, precompute=precompute_, max_iter=50)
        model.fit(X, y)
    assert_allclose(params(model), before)  # the previous fit is kept


def test_exact_rejects_an_l1_penalty():
    X, y, _ = problem()
    with pytest.raises(ValueError, match="solver='exact' solves least squares and ridge"):
        LinearRegression(solver="exact", alpha=1.0, l1_ratio=0.5).fit(X, y)


@pytest.mark.parametrize("solver", SOLVERS)
def test_float32_data(solver):
    X, y, _ = problem()
    X32 = X.astype(np.float32)
    ours = LinearRegression(solver=solver).fit(X32, y.astype(np.float32))
    reference = LinearRegression(solver="exact").fit(X, y)
    # float32 end to end: coef_, intercept_ and predictions (accumulated in float64).
    assert ours.coef_.dtype == np.float32 and np.asarray(ours.intercept_).dtype == np.float32
    assert ours.predict(X32).dtype == np.float32
    assert_same_fit(ours, reference, 1e-5)
    multi = LinearRegression(solver=solver).fit(X32, np.c_[y, -y].astype(np.float32))
    assert multi.coef_.dtype == multi.intercept_.dtype == multi.predict(X32).dtype == np.float32


@pytest.mark.parametrize(
    ("n", "d", "max_iter", "expected"),
    [(1_000, 10, None, True), (10, 20, None, True), (1_000, 600, None, False),
     (1_000, 10, 3, False), (1_000, 10, 100, True)],
)  # fmt: skip
def test_precompute_auto_uses_the_factor_when_it_is_small(monkeypatch, n, d, max_iter, expected):
    used = []
    real = factor_pass.triangular_factor
    monkeypatch.setattr(factor_pass, "triangular_factor", lambda s: used.append(1) or real(s))
    X, y, _ = problem(n=n, d=d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        LinearRegression(solver="agd", max_iter=max_iter).fit(X, y)
    assert bool(used) is expected


def test_sample_weight_errors():
    X, y, _ = problem(n=20)
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        LinearRegression().fit(X, y, sample_weight=np.r_[-1.0, np.ones(19)])
    with pytest.raises(ValueError, match="Sample weights must contain at least one non-zero"):
        LinearRegression().fit(X, y, sample_weight=np.zeros(20))
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(19,\), expected \(20,\)"):
        LinearRegression().fit(X, y, sample_weight=np.ones(19))


@pytest.mark.parametrize("precompute_", [False, True])
def test_agd_trajectory_equals_reference(precompute_):
    X, y = make_regression(n_samples=300, n_features=4, noise=10, random_state=1)
    X[:, 0] *= 10  # ill-conditioned enough for restarts to happen
    w0, b0, lr, epochs = np.linspace(-1, 1, 4), 0.5, 0.004, 80
    model = LinearRegression(
        solver="agd",
        scale_features=False,
        precompute=precompute_,
        learning_rate=lr,
        max_iter=epochs,
        tol=None,
    ).fit(X, y, coef_init=w0, intercept_init=b0)
    w, b, history = reference.fit_accelerated(X, y[:, None], w0[:, None], b0, lr, epochs)
    assert_allclose(model.loss_history_, history, rtol=1e-10)
    assert_allclose(model.coef_, w[:, 0], rtol=1e-10)
    assert model.intercept_ == pytest.approx(float(b[0]), rel=1e-10)


@pytest.mark.parametrize("solver", ["gd", "agd"])
@pytest.mark.parametrize("precompute_", [True, False])
def test_iterative_solvers_converge_on_rank_deficient_data(solver, precompute_):
    # A duplicated and a constant column: directions no step moves along, and
    # coefficients that rounding nudges at random, must not stall the stopping rule.
    rng = np.random.default_rng(5)
    base = rng.standard_normal((200, 3))
    X = np.column_stack([base, base[:, 0], np.full(200, 2.0)])
    y = base @ [1.0, -2.0, 0.5] + 4.0 + rng.standard_normal(200) * 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = LinearRegression(solver=solver, precompute=precompute_).fit(X, y)
    exact = LinearRegression(solver="exact").fit(X, y)
    assert model.converged_
    assert_allclose(model.predict(X), exact.predict(X), atol=1e-7)


@pytest.mark.parametrize("solver", SOLVERS)
def test_callback_sees_every_epoch_and_can_stop(solver):
    X, y, _ = problem()
    seen = []

    def callback(epoch, loss, coef, intercept):
        seen.append((epoch, loss, coef.copy(), intercept.copy()))
        return epoch == 4  # stop after the fifth epoch

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # a stop is not a failure
        model = LinearRegression(solver=solver, callback=callback).fit(X, y)
    assert [s[0] for s in seen] == list(range(model.n_iter_))
    assert_allclose([s[1] for s in seen], model.loss_history_)
    assert_allclose(seen[-1][2], np.atleast_2d(model.coef_))
    assert_allclose(seen[-1][3], np.atleast_1d(model.intercept_))
    if solver != "exact":
        assert model.n_iter_ == 5 and not model.converged_
    assert model.time_history_.shape == model.loss_history_.shape
    assert np.all(np.diff(model.time_history_) >= 0) and model.time_history_[0] >= 0


def test_verbose_shows_a_progress_bar_only_for_long_fits(capsys):
    import time

    X, y, _ = problem()
    LinearRegression(verbose=True).fit(X, y)
    assert "fastlinreg" not in capsys.readouterr().err  # under a second: nothing

    def slow(epoch, *_):
        time.sleep(0.4)
        return epoch == 3

    LinearRegression(solver="gd", verbose=True, callback=slow).fit(X, y)
    err = capsys.readouterr().err
    # Epochs on the factor read no rows: the bar shows no rows/s.
    assert "fastlinreg" in err and "loss=" in err and "rows_s=" not in err
    LinearRegression(solver="gd", precompute=False, verbose=True, callback=slow).fit(X, y)
    err = capsys.readouterr().err
    assert "fastlinreg" in err and "loss=" in err and "rows_s=" in err


@pytest.mark.parametrize("solver", ["gd", "agd", "sgd"])
def test_a_constant_column_costs_no_epochs_on_passes(solver):
    # Centred, a constant column's gradient is rounding (about eps * |x| * sum |r|); agd
    # chased it for all 1000 epochs. It is zero now, so the fit is the one without it.
    rng = np.random.default_rng(3)
    X = rng.standard_normal((85, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 1.0 + 0.1 * rng.standard_normal(85)
    with_column = np.insert(X, 1, -460.43, axis=1)
    settings = dict(solver=solver, precompute=False, scale_features=True, random_state=0)
    model = LinearRegression(**settings).fit(with_column, y)
    without = LinearRegression(**settings).fit(X, y)
    assert model.converged_ and model.n_iter_ == without.n_iter_
    assert model.coef_[1] == 0.0
    assert_allclose(np.delete(model.coef_, 1), without.coef_, rtol=1e-12)
    if solver == "sgd":
        return  # its decaying step takes thousands of epochs to the ridge answer
    # The penalty still pulls it: from a start of 1 it goes to 0 with alpha > 0.
    ridge = LinearRegression(alpha=0.1, **settings).fit(
        with_column, y, coef_init=[0.0, 1.0, 0.0, 0.0]
    )
    assert abs(ridge.coef_[1]) < 1e-6


def test_sgd_trajectory_equals_reference():
    X, y = make_regression(n_samples=1_000, n_features=4, noise=10, random_state=1)
    w0, b0, lr = np.linspace(-1, 1, 4), 0.5, 0.01
    model = LinearRegression(
        solver="sgd",
        batch_size=64,
        shuffle=False,
        lr_schedule="constant",
        scale_features=False,
        learning_rate=lr,
        max_iter=7,
        tol=None,
    ).fit(X, y, coef_init=w0, intercept_init=b0)
    w, b, history = reference.fit_sgd(X, y[:, None], w0[:, None], b0, lr, 7, 64)
    assert_allclose(model.loss_history_, history, rtol=1e-10)
    assert_allclose(model.coef_, w[:, 0], rtol=1e-10)
    assert model.intercept_ == pytest.approx(float(b[0]), rel=1e-10)


def test_sgd_is_reproducible_and_reaches_the_answer():
    X, y, _ = problem(n=20_000, d=8)
    settings = dict(solver="sgd", batch_size=256)
    first = LinearRegression(random_state=3, **settings).fit(X, y)
    again = LinearRegression(random_state=3, **settings).fit(X, y)
    other = LinearRegression(random_state=4, **settings).fit(X, y)
    assert np.array_equal(params(first), params(again))
    assert not np.array_equal(params(first), params(other))  # the batch order matters
    exact = LinearRegression(solver="exact").fit(X, y)
    assert first.converged_
    assert_same_fit(first, exact, 1e-2)  # SGD's noise, not an exact solver


@pytest.mark.parametrize(
    ("n", "d", "batch_size"), [(10_000, 10, 1), (3_000, 50, 1), (3_000, 50, 4)]
)
def test_sgd_auto_step_is_stable_for_small_batches(n, d, batch_size):
    # 1/L of the whole objective made one-row SGD diverge on plain data like this
    # (a row's own curvature is about d + 1 times L on average): "auto" is 1/L(b) now.
    rng = np.random.default_rng(7)
    X = rng.standard_normal((n, d))
    y = X @ np.linspace(-1, 1, d) + 0.5 + 0.1 * rng.standard_normal(n)
    model = LinearRegression(solver="sgd", batch_size=batch_size, random_state=0, max_iter=15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    assert np.all(np.diff(model.loss_history_[:3]) < 0)
    exact = LinearRegression(solver="exact").fit(X, y)
    assert_same_fit(model, exact, 0.05)


def test_sgd_auto_step_is_that_of_its_batches():
    X, y, _ = problem(n=2_000, d=6)
    whole = LinearRegression(solver="sgd", batch_size=2_000, max_iter=1, tol=None).fit(X, y)
    agd = LinearRegression(solver="agd", max_iter=1, tol=None).fit(X, y)  # step 1/L
    assert whole.learning_rate_ == pytest.approx(agd.learning_rate_, rel=1e-9)
    rows = LinearRegression(solver="sgd", batch_size=1, max_iter=1, tol=None).fit(X, y)
    standardized = (X - X.mean(axis=0)) / X.std(axis=0)
    largest_row = 2.0 * (np.max(np.sum(standardized**2, axis=1)) + 1.0)
    assert rows.learning_rate_ == pytest.approx(1.0 / largest_row, rel=1e-9)
    assert _solvers.minibatch_smoothness(3.0, 30.0, 10, 10) == 3.0
    assert _solvers.minibatch_smoothness(3.0, 30.0, 1, 10) == 30.0
    expected = (11 * 4 * 3.0 + 6 * 30.0) / (5 * 10)
    assert _solvers.minibatch_smoothness(3.0, 30.0, 5, 11) == pytest.approx(expected)


def test_sgd_partial_fit_is_one_epoch_over_the_piece():
    X, y, _ = problem(n=4_000, d=5)
    settings = dict(solver="sgd", batch_size=500, random_state=0, tol=None)
    model = LinearRegression(**settings).partial_fit(X[:2000], y[:2000])
    assert model.n_iter_ == 1
    start = params(model)[0]
    model.partial_fit(X[2000:], y[2000:])
    expected = LinearRegression(max_iter=1, **settings).fit(
        X[2000:], y[2000:], coef_init=start[:-1], intercept_init=start[-1]
    )
    assert_allclose(params(model), params(expected), rtol=1e-12)


def test_sgd_errors():
    X, y, _ = problem()
    with pytest.raises(ValueError, match="precompute=True is for gd, agd and exact"):
        LinearRegression(solver="sgd", precompute=True).fit(X, y)
    with pytest.raises(DivergenceError, match="Stochastic gradient descent diverged"):
        LinearRegression(solver="sgd", learning_rate=50.0, batch_size=32).fit(X, y)


# --- divergence, SGD's batches of zero weight and its callback, underflowing columns ------


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("precompute", [False, True])  # passes over X, compiled epochs
def test_a_step_that_overflows_the_coefficients_is_divergence(precompute):
    # The first loss is finite; the step of 1e308 times a gradient of ~1e6 overflows to
    # inf, which is caught right after that step (epoch 1), before another pass.
    X, y, _ = linear_problem(60, 3, intercept=0.5, noise=0.1)
    y = y * 1e6
    model = LinearRegression(learning_rate=1e308, precompute=precompute, max_iter=10)
    with pytest.raises(DivergenceError, match="at epoch 1: the loss became non-finite") as e:
        model.fit(X, y)
    assert "learning_rate=1e+308, which is too large" in str(e.value)
    assert not hasattr(model, "coef_")


def test_divergence_with_the_automatic_rate_asks_for_a_report():
    # 1/L cannot make the loss rise on a quadratic: if it does, it is numerical trouble
    # in the data, and the message says so instead of suggesting a smaller rate.
    with pytest.raises(DivergenceError, match="automatic learning rate 0.25.*please report"):
        _solvers._check_divergence(float("nan"), [1.0], 4, 0.25, True)
    with pytest.raises(DivergenceError, match="rose from 1 to 2 with the automatic"):
        _solvers._check_divergence(2.0, [1.0], 4, 0.25, True)
    _solvers._check_divergence(1.0 + 1e-9, [1.0], 4, 0.25, True)  # rounding: no error


def test_sgd_skips_a_batch_of_zero_weight():
    # Rows of weight 0 are absent rows: a whole batch of them is skipped, and the fit is
    # the fit on the other rows with the same batches.
    X, y, _ = linear_problem(40, 3, intercept=0.5, noise=0.1)
    weights = np.r_[np.zeros(10), np.ones(30)]
    settings = dict(solver="sgd", batch_size=10, shuffle=False, max_iter=20, tol=None)
    weighted = LinearRegression(**settings).fit(X, y, sample_weight=weights)
    without = LinearRegression(**settings).fit(X[10:], y[10:])
    assert_allclose(weighted.coef_, without.coef_, rtol=1e-10)
    assert_allclose(weighted.intercept_, without.intercept_, rtol=1e-10)
    assert_allclose(weighted.loss_history_, without.loss_history_, rtol=1e-10)


def test_a_callback_stops_sgd_without_a_warning():
    X, y, _ = linear_problem(60, 3, intercept=0.5, noise=0.1)
    seen = []

    def stop_at_epoch_2(epoch, loss, coef, intercept):
        seen.append((epoch, loss, coef.shape, intercept.shape))
        return epoch == 2

    model = LinearRegression(solver="sgd", random_state=0, callback=stop_at_epoch_2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(X, y)
    assert model.n_iter_ == 3 and not model.converged_
    assert [epoch for epoch, *_ in seen] == [0, 1, 2]
    assert [loss for _, loss, *_ in seen] == list(model.loss_history_)
    assert seen[-1][2:] == ((1, 3), (1,))


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_unscaled_gd_on_columns_whose_squares_underflow_says_so(fit_intercept):
    # scale_features=False iterates on X as it is: columns of 1e-170 have curvatures
    # (mean squares) that underflow to 0, which looked like columns without data, and
    # the fit returned coefficients near 0 without a word. Now it warns, as for columns
    # whose scales are too far apart (scale_features=True fits them: test_scaling.py).
    X, y, _ = linear_problem(60, 3, intercept=0.5, noise=0.1)
    model = LinearRegression(
        solver="gd", scale_features=False, precompute=True, max_iter=50, fit_intercept=fit_intercept
    )
    with pytest.warns(ConvergenceWarning, match="too far apart for unscaled steps"):
        model.fit(np.ldexp(X, -565), y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.set_params(max_iter=5000).fit(X, y)  # ordinary columns: no such warning


def test_exact_on_many_features_solves_by_back_substitution_where_it_is_safe(monkeypatch):
    # From 512 features a well-conditioned R is solved in O(d²), not by its SVD (17.5 s
    # at 3000 features): the least-squares answer all the same. A duplicated column
    # (rank deficient) is left to the SVD, which finds the rank and the minimum norm.
    taken = []
    back_substitution = _solvers._back_substitution

    def recorded(*args):
        theta = back_substitution(*args)
        taken.append(theta is not None)
        return theta

    monkeypatch.setattr(_solvers, "_back_substitution", recorded)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1500, 600)) + 5.0
    y = X @ rng.standard_normal(600) + 3.0 + rng.standard_normal(1500)
    model = LinearRegression().fit(X, y)
    expected = np.linalg.lstsq(np.column_stack([X, np.ones(1500)]), y, rcond=None)[0]
    assert taken == [True] and model.solver_ == "exact" and model.rank_ == 600
    assert_allclose(model.coef_, expected[:-1], rtol=0, atol=1e-12 * np.abs(expected).max())
    assert_allclose(model.intercept_, expected[-1], rtol=1e-12)
    X[:, 7] = X[:, 3]
    model = LinearRegression().fit(X, y)
    expected = np.linalg.lstsq(np.column_stack([X, np.ones(1500)]), y, rcond=None)[0]
    assert taken == [True, False] and model.rank_ == 599
    assert_allclose(model.coef_, expected[:-1], rtol=0, atol=1e-10 * np.abs(expected).max())
