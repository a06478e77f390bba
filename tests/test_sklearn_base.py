"""scikit-learn's own dense ``LinearRegression`` tests, run against fastlinreg.

A port of ``sklearn/linear_model/tests/test_base.py`` (scikit-learn 1.9.1) in which
``LinearRegression`` is a fixture: fastlinreg's estimator in each configuration below,
called with exactly the arguments the original test passes. The bodies are kept as
they are upstream (same data, same assertions, same tolerances); each test carries the
original's name in a comment above it.

Configurations:

- "default": ``LinearRegression()`` with no arguments (the least-squares answer);
- "exact": ``solver="exact"``;
- "agd", "gd": ``solver="agd"`` / ``solver="gd"`` with ``tol=1e-12`` (tighter than the
  default 1e-9, to ask for the least-squares answer to the tests' tolerances; with seeds
  0-9 both tols passed and failed the same tests).

No tolerance is loosened for the iterative solvers.

"sgd" is left out: it is a stochastic method, not a least-squares solver, and is not
expected to reach these tolerances.

A ``ConvergenceWarning`` from "default" or "exact" fails the test: they must reach the
least-squares answer, not stop short of it. From "gd" and "agd" it is only shown (see
``_CONVERGENCE_IS_ERROR``); their assertions decide.

Ported only in part:

- test_linear_regression_sample_weights: the sparse X cases are dropped, and so is
  sklearn's ``tol=1e-16`` (there the ``cond`` of ``scipy.linalg.lstsq``; fastlinreg's
  ``tol`` is a convergence tolerance, and the default must be called without it).
- test_inplace_data_preprocessing: sparse X dropped, and the ``copy_X=False`` half
  (fastlinreg has no ``copy_X``; it never modifies X).
- test_linear_regression_sample_weight_consistency: sparse X dropped (xfail upstream).

Not ported:

- test_raises_value_error_if_positive_and_sparse: ``positive=True`` and sparse X.
- test_linear_regression_sparse: sparse X.
- test_linear_regression_sparse_equal_dense: sparse X.
- test_linear_regression_sparse_multiple_outcome: sparse X.
- test_linear_regression_positive: ``positive=True`` (fastlinreg has no ``positive``).
- test_linear_regression_positive_multiple_outcome: ``positive=True``.
- test_linear_regression_positive_vs_nonpositive: ``positive=True``.
- test_linear_regression_positive_vs_nonpositive_when_positive: ``positive=True``.
- test_preprocess_data: tests the private helper ``_preprocess_data``.
- test_preprocess_data_multioutput: private ``_preprocess_data`` (and sparse X).
- test_preprocess_data_weighted: private ``_preprocess_data`` (and sparse X).
- test_sparse_preprocess_data_offsets: private ``_preprocess_data`` on sparse X.
- test_csr_preprocess_data: private ``_preprocess_data`` on sparse X.
- test_preprocess_copy_data_no_checks: private ``_preprocess_data`` (``copy``).
- test_dtype_preprocess_data: private ``_preprocess_data``.
- test_preprocess_data_integer_array_api_on_float32_only_device: private
  ``_preprocess_data``, with torch on an MPS device.
- test_rescale_data: private helper ``_rescale_data``.
- test_fused_types_make_dataset: private helper ``make_dataset`` (SGD datasets).
- test_array_api_move_estimator_to: array API dispatch; fastlinreg is NumPy only.
- test_predict_proba_lr_large_values: tests ``LinearClassifierMixin``, not
  ``LinearRegression``.

The file asserts nothing on ``singular_`` (which fastlinreg does not have) or
``rank_`` (fastlinreg's is set by "exact" only), so no assertion had to be dropped
for them.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from scipy import linalg
from sklearn.datasets import make_regression
from sklearn.preprocessing import add_dummy_feature
from sklearn.utils._testing import assert_allclose, assert_array_almost_equal

import fastlinreg

CONFIGS = {
    "default": {},
    "exact": {"solver": "exact"},
    "agd": {"solver": "agd", "tol": 1e-12},
    "gd": {"solver": "gd", "tol": 1e-12},
}

# A ConvergenceWarning fails the test for "default" and "exact": they must reach the
# least-squares answer. gd and agd may stop short of ``tol`` (at ``max_iter``, or with
# their gradient down to rounding): their warning is only shown, and the assertions
# decide whether what they reached is the least-squares answer. (The mark is on the
# fixture's params, not a module-level ``pytestmark``: pytest applies a module's
# filterwarnings mark after a test's own, so no param could relax it.)
_CONVERGENCE_IS_ERROR = pytest.mark.filterwarnings("error::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(
    params=[
        pytest.param(name, marks=() if name in ("agd", "gd") else _CONVERGENCE_IS_ERROR)
        for name in CONFIGS
    ]
)
def LinearRegression(request):
    """fastlinreg's estimator in one configuration, called as sklearn's would be."""
    config = CONFIGS[request.param]

    def make(**params):
        return fastlinreg.LinearRegression(**{**config, **params})

    return make


def _global_random_seeds():
    """The seeds of sklearn/conftest.py: 42, or SKLEARN_TESTS_GLOBAL_RANDOM_SEED."""
    value = os.environ.get("SKLEARN_TESTS_GLOBAL_RANDOM_SEED")
    if value is None:
        return [42]
    if value == "all":
        return list(range(100))
    if "-" in value:
        start, stop = value.split("-")
        return list(range(int(start), int(stop) + 1))
    return [int(value)]


@pytest.fixture(params=_global_random_seeds())
def global_random_seed(request):
    return request.param


# test_linear_regression
def test_linear_regression(LinearRegression):
    # Test LinearRegression on a simple dataset.
    # a simple dataset
    X = [[1], [2]]
    Y = [1, 2]

    reg = LinearRegression()
    reg.fit(X, Y)

    assert_array_almost_equal(reg.coef_, [1])
    assert_array_almost_equal(reg.intercept_, [0])
    assert_array_almost_equal(reg.predict(X), [1, 2])

    # test it also for degenerate input
    X = [[1]]
    Y = [0]

    reg = LinearRegression()
    reg.fit(X, Y)
    assert_array_almost_equal(reg.coef_, [0])
    assert_array_almost_equal(reg.intercept_, [0])
    assert_array_almost_equal(reg.predict(X), [0])


# test_linear_regression_vs_lstsq
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_linear_regression_vs_lstsq(LinearRegression, dtype):
    """
    Check that LinearRegression is as good as `scipy.linalg.lstsq`.
    Non regression test for issue #33032.
    """
    rng = np.random.RandomState(1137)
    n_samples = 500_000

    x1 = rng.rand(n_samples)
    x2 = 0.3 * x1 + 0.1 * rng.rand(n_samples)
    X = np.column_stack([x1, x2])
    y = X @ [0.5, 2.0] + 0.1 * rng.rand(n_samples)

    X = X.astype(dtype)
    y = y.astype(dtype)

    coef_scipy = linalg.lstsq(X, y)[0]
    coef_sklearn = LinearRegression(fit_intercept=False).fit(X, y).coef_

    rmse_scipy = np.linalg.norm(y - X @ coef_scipy)
    rmse_sklearn = np.linalg.norm(y - X @ coef_sklearn)
    assert rmse_sklearn == pytest.approx(rmse_scipy, rel=1e-6)


# test_linear_regression_sample_weights (dense X only)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_linear_regression_sample_weights(LinearRegression, fit_intercept, global_random_seed):
    rng = np.random.RandomState(global_random_seed)

    # It would not work with under-determined systems
    n_samples, n_features = 6, 5

    X = rng.normal(size=(n_samples, n_features))
    y = rng.normal(size=n_samples)

    sample_weight = 1.0 + rng.uniform(size=n_samples)

    # LinearRegression with explicit sample_weight
    # (upstream also passes tol=1e-16, the `cond` of scipy.linalg.lstsq there: not
    # the same parameter as fastlinreg's convergence tolerance, so left out.)
    reg = LinearRegression(fit_intercept=fit_intercept)
    reg.fit(X, y, sample_weight=sample_weight)
    coefs1 = reg.coef_
    inter1 = reg.intercept_

    assert reg.coef_.shape == (X.shape[1],)  # sanity checks

    # Closed form of the weighted least square
    # theta = (X^T W X)^(-1) @ X^T W y
    W = np.diag(sample_weight)
    X_aug = X if not fit_intercept else add_dummy_feature(X)

    Xw = X_aug.T @ W @ X_aug
    yw = X_aug.T @ W @ y
    coefs2 = linalg.solve(Xw, yw)

    if not fit_intercept:
        assert_allclose(coefs1, coefs2)
    else:
        assert_allclose(coefs1, coefs2[1:])
        assert_allclose(inter1, coefs2[0])


# test_raises_value_error_if_sample_weights_greater_than_1d
@pytest.mark.parametrize("n_samples, n_features", [(2, 3), (3, 2)])
def test_raises_value_error_if_sample_weights_greater_than_1d(
    LinearRegression, n_samples, n_features
):
    # Sample weights must be either scalar or 1D
    rng = np.random.RandomState(0)
    X = rng.randn(n_samples, n_features)
    y = rng.randn(n_samples)
    sample_weights_OK = rng.randn(n_samples) ** 2 + 1
    sample_weights_OK_1 = 1.0
    sample_weights_OK_2 = 2.0

    reg = LinearRegression()

    # make sure the "OK" sample weights actually work
    reg.fit(X, y, sample_weights_OK)
    reg.fit(X, y, sample_weights_OK_1)
    reg.fit(X, y, sample_weights_OK_2)


# test_fit_intercept
def test_fit_intercept(LinearRegression):
    # Test assertions on betas shape.
    X2 = np.array([[0.38349978, 0.61650022], [0.58853682, 0.41146318]])
    X3 = np.array([[0.27677969, 0.70693172, 0.01628859], [0.08385139, 0.20692515, 0.70922346]])
    y = np.array([1, 1])

    lr2_without_intercept = LinearRegression(fit_intercept=False).fit(X2, y)
    lr2_with_intercept = LinearRegression().fit(X2, y)

    lr3_without_intercept = LinearRegression(fit_intercept=False).fit(X3, y)
    lr3_with_intercept = LinearRegression().fit(X3, y)

    assert lr2_with_intercept.coef_.shape == lr2_without_intercept.coef_.shape
    assert lr3_with_intercept.coef_.shape == lr3_without_intercept.coef_.shape
    assert lr2_without_intercept.coef_.ndim == lr3_without_intercept.coef_.ndim


# test_linear_regression_multiple_outcome
def test_linear_regression_multiple_outcome(LinearRegression):
    # Test multiple-outcome linear regressions
    rng = np.random.RandomState(0)
    X, y = make_regression(random_state=rng)

    Y = np.vstack((y, y)).T
    n_features = X.shape[1]

    reg = LinearRegression()
    reg.fit((X), Y)
    assert reg.coef_.shape == (2, n_features)
    Y_pred = reg.predict(X)
    reg.fit(X, y)
    y_pred = reg.predict(X)
    assert_array_almost_equal(np.vstack((y_pred, y_pred)).T, Y_pred, decimal=3)


# test_inplace_data_preprocessing (dense X; the copy_X=False half is not ported)
@pytest.mark.parametrize("use_sw", [True, False])
def test_inplace_data_preprocessing(LinearRegression, use_sw, global_random_seed):
    # Check that the data is not modified inplace by the linear regression
    # estimator.
    rng = np.random.RandomState(global_random_seed)
    original_X_data = rng.randn(10, 12)
    original_y_data = rng.randn(10, 2)
    original_sw_data = rng.rand(10)

    X = original_X_data.copy()
    y = original_y_data.copy()
    # XXX: Note hat y_sparse is not supported (broken?) in the current
    # implementation of LinearRegression.

    if use_sw:
        sample_weight = original_sw_data.copy()
    else:
        sample_weight = None

    # Do not allow inplace preprocessing of X and y:
    reg = LinearRegression()
    reg.fit(X, y, sample_weight=sample_weight)
    assert_allclose(X, original_X_data)
    assert_allclose(y, original_y_data)

    if use_sw:
        assert_allclose(sample_weight, original_sw_data)


# test_linear_regression_sample_weight_consistency (dense X only)
@pytest.mark.parametrize("X_shape", [(10, 5), (10, 20), (100, 100)])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_linear_regression_sample_weight_consistency(
    LinearRegression, X_shape, fit_intercept, global_random_seed
):
    """Test that the impact of sample_weight is consistent.

    Note that this test is stricter than the common test
    check_sample_weight_equivalence alone and also tests sparse X.
    It is very similar to test_enet_sample_weight_consistency.
    """
    rng = np.random.RandomState(global_random_seed)
    n_samples, n_features = X_shape

    X = rng.rand(n_samples, n_features)
    y = rng.rand(n_samples)
    params = dict(fit_intercept=fit_intercept)

    reg = LinearRegression(**params).fit(X, y, sample_weight=None)
    coef = reg.coef_.copy()
    if fit_intercept:
        intercept = reg.intercept_

    # 1) sample_weight=np.ones(..) must be equivalent to sample_weight=None,
    # a special case of check_sample_weight_equivalence(name, reg), but we also
    # test with sparse input.
    sample_weight = np.ones_like(y)
    reg.fit(X, y, sample_weight=sample_weight)
    assert_allclose(reg.coef_, coef, rtol=1e-6)
    if fit_intercept:
        assert_allclose(reg.intercept_, intercept)

    # 2) sample_weight=None should be equivalent to sample_weight = number
    sample_weight = 123.0
    reg.fit(X, y, sample_weight=sample_weight)
    assert_allclose(reg.coef_, coef, rtol=1e-6)
    if fit_intercept:
        assert_allclose(reg.intercept_, intercept)

    # 3) scaling of sample_weight should have no effect, cf. np.average()
    sample_weight = rng.uniform(low=0.01, high=2, size=X.shape[0])
    reg = reg.fit(X, y, sample_weight=sample_weight)
    coef = reg.coef_.copy()
    if fit_intercept:
        intercept = reg.intercept_

    reg.fit(X, y, sample_weight=np.pi * sample_weight)
    assert_allclose(reg.coef_, coef, rtol=1e-6)
    if fit_intercept:
        assert_allclose(reg.intercept_, intercept)

    # 4) setting elements of sample_weight to 0 is equivalent to removing these samples
    sample_weight_0 = sample_weight.copy()
    sample_weight_0[-5:] = 0
    y[-5:] *= 1000  # to make excluding those samples important
    reg.fit(X, y, sample_weight=sample_weight_0)
    coef_0 = reg.coef_.copy()
    if fit_intercept:
        intercept_0 = reg.intercept_
    reg.fit(X[:-5], y[:-5], sample_weight=sample_weight[:-5])
    assert_allclose(reg.coef_, coef_0, rtol=1e-5)
    if fit_intercept:
        assert_allclose(reg.intercept_, intercept_0)

    # 5) check that multiplying sample_weight by 2 is equivalent to repeating
    # corresponding samples twice
    X2 = np.concatenate([X, X[: n_samples // 2]], axis=0)
    y2 = np.concatenate([y, y[: n_samples // 2]])
    sample_weight_1 = sample_weight.copy()
    sample_weight_1[: n_samples // 2] *= 2
    sample_weight_2 = np.concatenate([sample_weight, sample_weight[: n_samples // 2]], axis=0)

    reg1 = LinearRegression(**params).fit(X, y, sample_weight=sample_weight_1)
    reg2 = LinearRegression(**params).fit(X2, y2, sample_weight=sample_weight_2)
    assert_allclose(reg1.coef_, reg2.coef_, rtol=1e-6)
    if fit_intercept:
        assert_allclose(reg1.intercept_, reg2.intercept_)
