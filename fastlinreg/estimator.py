"""``LinearRegression``: scikit-learn parameters in, a solver call, fitted attributes out."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import kernels, solvers
from .sources import InMemorySource

_FLOAT_DTYPES = [np.float64, np.float32]


class LinearRegression(RegressorMixin, BaseEstimator):
    """Linear regression trained by gradient descent with fused Numba kernels.

    Each epoch is one pass over the rows of X computing the predictions, the mean
    squared error and both gradients; ``loss_history_`` records the loss of every epoch.

    Parameters
    ----------
    solver : {"gd"}, default="gd"
        "gd": full-batch gradient descent.
    learning_rate : float or "auto", default="auto"
        Step size. "auto" uses 1/L, with L the largest eigenvalue of the loss's Hessian
        (power iteration through the kernels): a step that cannot diverge. A float is
        used as given; if it makes the loss rise, ``fit`` raises
        :class:`fastlinreg.DivergenceError`.
    max_iter : int, default=1000
        Maximum number of epochs.
    tol : float or None, default=1e-8
        Stop when no parameter changes by more than ``tol`` times the largest parameter
        magnitude in one epoch. None runs exactly ``max_iter`` epochs.
    fit_intercept : bool, default=True
        Whether to learn the bias; if False it stays at ``intercept_init`` (default 0).
    parallel : bool or None, default=None
        Run the multi-threaded kernels (True), the single-threaded ones (False), or
        decide by the size of X (None). Results are bit-identical either way.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Weights, in X's dtype.
    intercept_ : float or ndarray of shape (n_targets,)
        Bias.
    loss_history_ : ndarray of shape (n_iter_,)
        Mean squared error at the start of each epoch (before its update).
    n_iter_ : int
        Epochs run.
    converged_ : bool
        Whether ``tol`` was met (always False when ``tol`` is None).
    learning_rate_ : float
        The step actually used.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlinreg import LinearRegression
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> y = 2.0 * X[:, 0] + 1.0
    >>> model = LinearRegression().fit(X, y)
    >>> np.round(model.coef_, 6).tolist(), round(float(model.intercept_), 6)
    ([2.0], 1.0)
    """

    _parameter_constraints: dict = {
        "solver": [StrOptions({"gd"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "fit_intercept": ["boolean"],
        "parallel": ["boolean", None],
    }

    def __init__(
        self,
        solver="gd",
        learning_rate="auto",
        max_iter=1000,
        tol=1e-8,
        fit_intercept=True,
        parallel=None,
    ):
        self.solver = solver
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.parallel = parallel

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y, coef_init=None, intercept_init=None):
        """Fit the model by gradient descent.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. float32 stays float32; other numbers are converted to
            float64. Never modified, and not copied when already float32/float64.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.
        coef_init : array-like of shape (n_features,) or (n_targets, n_features), default=None
            Starting weights (zeros if None).
        intercept_init : float or array-like of shape (n_targets,), default=None
            Starting bias (zero if None).

        Returns
        -------
        self : object
            Fitted estimator.
        """
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=_FLOAT_DTYPES, multi_output=True, y_numeric=True)
        n_samples, n_features = X.shape
        Y = y.reshape(n_samples, -1)
        n_targets = Y.shape[1]
        coef0 = _initial("coef_init", coef_init, (n_targets, n_features))
        intercept0 = _initial("intercept_init", intercept_init, (n_targets,))
        source = InMemorySource(X, Y, parallel=self.parallel)
        result = solvers.gd(
            source,
            coef0.T,
            intercept0,
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            tol=self.tol,
            fit_intercept=self.fit_intercept,
        )
        # Attributes are set only now: a fit that raised leaves no half-fitted model.
        coef = result.coef.T.astype(X.dtype)
        self.coef_ = coef.ravel() if y.ndim == 1 else coef
        self.intercept_ = float(result.intercept[0]) if y.ndim == 1 else result.intercept
        self.loss_history_ = result.loss_history
        self.n_iter_ = result.n_iter
        self.converged_ = result.converged
        self.learning_rate_ = result.learning_rate
        return self

    def predict(self, X):
        """Predict with the fitted linear model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predictions, in X's dtype (float64 for non-float input).
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=_FLOAT_DTYPES, reset=False)
        coef = np.atleast_2d(self.coef_)
        intercept = np.atleast_1d(self.intercept_)
        out = np.empty((X.shape[0], coef.shape[0]), dtype=X.dtype, order="F")
        for t in range(coef.shape[0]):
            kernels.predict(X, coef[t], intercept[t], parallel=self.parallel, out=out[:, t])
        return out.ravel() if np.ndim(self.coef_) == 1 else out


def _initial(name, value, shape):
    """A starting value as a float64 array of ``shape`` (zeros when None), validated.

    ``shape`` is (n_targets, ...); with one target the leading axis may be left out.
    """
    if value is None:
        return np.zeros(shape)
    array = np.asarray(value, dtype=np.float64)
    accepted = [shape, shape[1:]] if shape[0] == 1 else [shape]
    if array.shape not in accepted:
        raise ValueError(
            f"{name} has shape {array.shape}; expected " + " or ".join(str(s) for s in accepted)
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinity")
    return array.reshape(shape).copy()
