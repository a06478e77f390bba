"""``LinearRegression``: scikit-learn parameters in, a solver call, fitted attributes out."""

from __future__ import annotations

import os
import time
import warnings
from contextlib import contextmanager, nullcontext
from numbers import Integral, Real

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _solvers, inference, kernels, persistence
from ._objective import Objective, feature_scaling
from .errors import PredictionOverflowWarning
from .sources import _factor as factor_pass
from .sources._powers_of_two import power_of_two_scale
from .sources.dask import is_dask_collection
from .sources.file import FileSource
from .sources.memory import InMemorySource
from .sources.precomputed import PrecomputedSource
from .sources.sparse import SparseSource

_FLOAT_DTYPES = [np.float64, np.float32]
# precompute="auto" factors X when the factor, (n_features + n_targets)² numbers, is
# small and the fit may run long enough to repay the pass (its cost in epochs by width:
# benchmarks/bench_precompute.py, docs/design.md).
_PRECOMPUTE_MAX_COLUMNS = 512
_PRECOMPUTE_MIN_EPOCHS = 100
# solver="auto" gives the exact answer (one pass, the factor) up to this many columns:
# a factor of 128 MiB. Near that width, gradient methods may need thousands of epochs
# (agd on a 3000 x 3000 file stopped unconverged at max_iter after 52 s; exact takes
# 11.4 s: python -m benchmarks.csv_files), while the pass costs about d / 2 epochs (460
# at 1000 columns: benchmarks/bench_precompute.py), at BLAS speed.
_EXACT_MAX_COLUMNS = 4096
# ... but for a sparse X only up to the factor's own limit: its factor comes from the
# sparse Gram matrix (cheap) only where that is accurate, and otherwise from dense
# blocks of rows (O(n d²) work, however sparse X is), where an epoch reads the stored
# entries only.
_SPARSE_EXACT_MAX_COLUMNS = _PRECOMPUTE_MAX_COLUMNS


class _Statistic:
    """A statistic of the fit (see :mod:`fastlinreg.inference`), read as an attribute:
    computed from the factor when first asked for, shaped per target like coef_."""

    def __init__(self, doc: str):
        self.__doc__ = doc

    def __set_name__(self, owner, name: str):
        self.field = name.removesuffix("_")

    def __get__(self, model, owner=None):
        if model is None:
            return self
        return model._per_target(getattr(model._inference_of_fit(), self.field))


class LinearRegression(RegressorMixin, BaseEstimator):
    """Linear regression trained by gradient descent with fused Numba kernels.

    Each epoch is one pass over the rows of X computing the predictions, the mean
    squared error and both gradients; ``loss_history_`` records the objective of every
    epoch. The objective, for each target (mean over targets), is

        1 / sum(s) * sum_i s_i (y_i - x_i w - b)² + alpha (1 - l1_ratio) |w|²
        + 2 alpha l1_ratio |w|_1

    with s the sample weights: scikit-learn's ``ElasticNet`` objective times two (the
    plain mean squared error when ``alpha=0``), and ``Ridge(alpha=alpha * sum(s))``'s
    divided by sum(s) when ``l1_ratio=0``.

    Parameters
    ----------
    solver : {"auto", "gd", "agd", "sgd", "exact"}, default="auto"
        "auto": the least-squares (or penalized) answer by the surest road to it:
        "exact" when the factor of ``precompute`` fits in 128 MiB (n_features +
        n_targets <= 4096; 512 for sparse X) and the penalty has no L1 part;
        otherwise "agd" (on the
        factor up to 512 columns, on passes over X beyond them or with
        ``precompute=False``); and "gd", the tutorial's steps, when ``learning_rate``
        is a number. ``solver_`` says which ran.
        "gd": full-batch gradient descent, the tutorial's algorithm.
        "agd": Nesterov-accelerated gradient descent with step 1/L and adaptive
        restart; far fewer epochs than "gd" on ill-conditioned data.
        "sgd": mini-batch stochastic gradient descent (see ``batch_size``); a step
        after every batch, for data read in pieces.
        "exact": the least-squares (or ridge) solution from a single pass over the
        rows, through a numerically stable QR factor; minimum-norm when X is rank
        deficient (see ``rank_``). L2 penalty only.
    learning_rate : float or "auto", default="auto"
        Step size of "gd", "agd" and "sgd", in the coordinates the solver iterates in (the
        standardized columns when ``scale_features``). "auto" uses 1/L, with L the
        largest eigenvalue of the objective's Hessian: a step that cannot diverge.
        For "sgd", "auto" is 1/L(b), the curvature of a mini-batch of b =
        ``batch_size`` rows: L for one batch of all rows, up to the largest curvature
        of a single row for b = 1 (see ``fastlinreg._solvers.minibatch_smoothness``).
        A float is used as given; if it makes the loss rise, ``fit`` raises
        :class:`fastlinreg.DivergenceError`.
    max_iter : int or None, default=None
        Maximum number of epochs of "gd"/"agd". None: 1000 when every epoch is a
        pass over X, 100_000 when the epochs run on the precomputed factor (each then
        costs O(n_features²), in compiled code).
    tol : float or None, default=1e-9
        "gd"/"agd" on the factor (``precompute``) have converged when the distance to
        the solution, which the gradient bounds there (|gradient| / smallest
        curvature), is at most ``tol`` times the coefficients' norm, in the
        coordinates the solver iterates in (standardized columns when scaled): about
        -log10(tol) correct digits. Where rounding stops the gradient first (a
        condition number kappa of the standardized XᵀX beyond about 1e6 for the
        default tol), the fit stops there with a ConvergenceWarning naming kappa.
        On passes over X (no factor), they have converged when, for
        ``n_iter_no_change`` consecutive epochs, no parameter moved by more than
        ``tol`` times its own magnitude (or sqrt(eps) times the largest parameter's).
        "sgd" has converged when for ``n_iter_no_change`` consecutive epochs its epoch
        loss did not improve on the best by more than ``tol`` times it (the loss is
        noisy). None runs exactly ``max_iter``.
    n_iter_no_change : int, default=5
        Consecutive epochs that must meet ``tol`` on passes over X and for "sgd"
        (momentum can pause an accelerated fit for an epoch or two); on the factor the
        bound is a certificate and one epoch suffices.
    fit_intercept : bool, default=True
        Whether to learn the bias; if False it stays at ``intercept_init`` (default 0).
    alpha : float, default=0.0
        Penalty strength (see the objective above); 0 is plain least squares.
    l1_ratio : float, default=0.0
        Share of L1 in the penalty (elastic net, by a proximal step); "gd"/"agd" only.
    precompute : "auto" or bool, default="auto"
        First make one pass over X that factors it (a QR factor of the centred data:
        the square root of XᵀX); every epoch then costs O(n_features²) instead of a
        pass over X, with the same trajectory and losses (to rounding), and the stopping
        rule knows the smallest curvature (see ``tol``). "auto" does so when
        n_features + n_targets <= 512 and ``max_iter`` is None or at least 100 (the
        pass costs about as much as 8 epochs over X at 10 columns, 90 at 300 and 320
        at 511: see docs/design.md).
        "exact" always makes this pass.
    scale_features : "auto" or bool, default="auto"
        Iterate on standardized columns ((x - mean) / std, or x / rms without an
        intercept) and report coefficients for the original ones, so that badly scaled
        columns do not force a tiny step. "auto": on for "agd" and "sgd", and for "gd"
        with ``learning_rate="auto"``; off for "gd" with a number for a step (the
        tutorial's trajectory: the step is meant for X as it is).
    parallel : bool or None, default=None
        Run the multi-threaded kernels (True), the single-threaded ones (False), or
        decide by the size of X (None). Results are bit-identical either way.
    batch_size : int, default=1024
        Rows per mini-batch of "sgd" (consecutive rows: no copy of X).
    shuffle : bool, default=True
        "sgd" visits its mini-batches in a new random order every epoch (the batches
        stay contiguous; shuffle sorted rows once beforehand).
    lr_schedule : {"invscaling", "constant"}, default="invscaling"
        "sgd"'s step in epoch e: ``learning_rate / sqrt(e + 1)``, or constant.
    random_state : int, RandomState instance or None, default=None
        The batch order of "sgd"; an int makes fits reproducible.
    verbose : bool, default=False
        Show a progress bar (tqdm, on stderr) with the epoch, the loss and rows/s,
        for fits that last more than about a second.
    callback : callable or None, default=None
        Called after every epoch as ``callback(epoch, loss, coef, intercept)`` (coef of
        shape (n_targets, n_features), intercept (n_targets,), both float64, after the
        epoch's update; loss is the epoch's ``loss_history_`` entry). A true return
        value stops the fit there: ``converged_`` is then False and no
        ConvergenceWarning is raised. "exact" calls it once.
    cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3"}, default="nonrobust"
        The coefficients' covariance behind ``bse_``, ``pvalues_``, ``conf_int`` and
        ``summary``: classical, or statsmodels' heteroskedasticity-consistent ones,
        which cost ``fit`` one more pass over the rows (their p-values and intervals
        then use the normal law, as statsmodels' do). A robust type needs a fit through
        the factor without penalty, and every row in one ``fit`` (not ``partial_fit``).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Weights, in X's dtype.
    intercept_ : float or ndarray of shape (n_targets,)
        Bias, in X's dtype (a NumPy scalar for a single target).
    loss_history_ : ndarray of shape (n_iter_,)
        Objective at the start of each epoch (before its update; for "agd", at the
        point where the gradient is taken). "exact": the objective at the solution.
    time_history_ : ndarray of shape (n_iter_,)
        Seconds from the start of ``fit`` (validation, precompute pass and step size
        included) to each entry of ``loss_history_``.
    n_iter_ : int
        Epochs run (1 for "exact").
    converged_ : bool
        Whether ``tol`` was met (always False when ``tol`` is None; True for "exact").
    learning_rate_ : float or None
        The step actually used (None for "exact").
    solver_ : str
        The solver that ran: ``solver``, or what "auto" chose.
    rank_ : int or None
        Numerical rank of the centred X ("exact" only; None otherwise).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.
    params_, bse_, tvalues_, pvalues_ : ndarray of shape (n_params,) or (n_targets, n_params)
        Statistics of the least-squares fit, as statsmodels' OLS (WLS with
        ``sample_weight``, whose weights are analytic: row i's variance is σ²/w_i)
        reports them: estimates (the intercept first, when fitted), standard errors,
        t statistics, two-sided p-values. NaN for a parameter that a rank-deficient X
        does not identify (``summary`` names them).
    rsquared_, rsquared_adj_, fvalue_, f_pvalue_, ssr_, scale_ : float or ndarray
        R² (about the mean, or about 0 without an intercept), adjusted R², the F test
        of the model, the residual sum of squares and σ²'s estimate, per target.
    df_model_, df_resid_, nobs_ : int
        Degrees of freedom of the model and of the residuals; rows seen.

        Every statistic comes from the factor of the rows (``solver="exact"``, the
        default up to 4096 columns, or ``precompute=True``), without a further pass
        (except for a robust ``cov_type``), when first read; it is an AttributeError,
        saying why, for a fit without the factor, penalized or not converged (and
        after :func:`fastlinreg.load`, which keeps no factor). See ``summary``,
        ``conf_int`` and ``to_frame``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlinreg import LinearRegression
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> y = 2.0 * X[:, 0] + 1.0
    >>> model = LinearRegression().fit(X, y)
    >>> np.round(model.coef_, 6).tolist(), round(float(model.intercept_), 6)
    ([2.0], 1.0)
    >>> LinearRegression(solver="exact").fit(X, y).predict([[4.0]]).round(12).tolist()
    [9.0]
    """

    _parameter_constraints: dict = {
        "solver": [StrOptions({"auto", "gd", "agd", "sgd", "exact"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "fit_intercept": ["boolean"],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "precompute": ["boolean", StrOptions({"auto"})],
        "scale_features": ["boolean", StrOptions({"auto"})],
        "parallel": ["boolean", None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "lr_schedule": [StrOptions({"invscaling", "constant"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callback": [callable, None],
        "cov_type": [StrOptions(set(inference.COV_TYPES))],
    }

    def __init__(
        self,
        solver="auto",
        learning_rate="auto",
        max_iter=None,
        tol=1e-9,
        n_iter_no_change=5,
        fit_intercept=True,
        alpha=0.0,
        l1_ratio=0.0,
        precompute="auto",
        scale_features="auto",
        parallel=None,
        batch_size=1024,
        shuffle=True,
        lr_schedule="invscaling",
        random_state=None,
        verbose=False,
        callback=None,
        cov_type="nonrobust",
    ):
        self.solver = solver
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.fit_intercept = fit_intercept
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.precompute = precompute
        self.scale_features = scale_features
        self.parallel = parallel
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.lr_schedule = lr_schedule
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback
        self.cov_type = cov_type

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True
        return tags

    def fit(self, X, y=None, sample_weight=None, coef_init=None, intercept_init=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), Dask array, or FileSource
            Training data. float32 stays float32; other numbers are converted to
            float64. Never modified, and not copied when already float32/float64
            (``np.memmap`` included: the file is streamed). A Dask array or dataframe
            stays distributed. A :class:`fastlinreg.FileSource` streams a
            .csv/.parquet/.npy file in row batches (then y comes from its target
            column and must be None). A SciPy sparse matrix or array (any format;
            CSR is used as it is, others are converted to CSR once) is never densified:
            each epoch reads its stored entries, and the intercept and feature scaling
            are fitted without centring it.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values; all targets are fitted in the same passes over X.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights; a weight of 2 is the same as repeating the row.
        coef_init : array-like of shape (n_features,) or (n_targets, n_features), default=None
            Starting weights (zeros if None); ignored by "exact".
        intercept_init : float or array-like of shape (n_targets,), default=None
            Starting bias (zero if None); the fixed bias when ``fit_intercept=False``.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        return self._fit(X, y, sample_weight, coef_init, intercept_init, partial=False)

    def partial_fit(self, X, y=None, sample_weight=None):
        """Add a piece of the training data, and fit on every piece seen so far.

        For data that arrives in pieces or does not fit in memory at once. Each call
        makes one pass over the new rows only, merging their factor (the precomputed
        square root of the centred XᵀX, see ``precompute``) into the model's, then
        solves on the merged factor: with ``solver="exact"`` the model equals a single
        ``fit`` on all the rows (to rounding); "gd"/"agd" run their epochs on the
        factor, starting from the current coefficients. A ``fit`` starts afresh.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The new rows.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Their targets (the same number of targets every call).
        sample_weight : array-like of shape (n_samples,), default=None
            Their weights.

        Returns
        -------
        self : object
            Fitted estimator.

        Raises
        ------
        ValueError
            When the model does not fit through the factor (``precompute=False``), or
            when a previous fit did not keep one (a model fitted with passes over X, or
            loaded from a file).
        """
        return self._fit(X, y, sample_weight, None, None, partial=True)

    def _fit(self, X, y, sample_weight, coef_init, intercept_init, *, partial):
        # A fit that fails or is interrupted (KeyboardInterrupt included) leaves the
        # estimator exactly as it was: validation already set n_features_in_ and
        # feature_names_in_, so every attribute is put back, not only coef_.
        before = dict(self.__dict__)
        try:
            return self._fit_or_raise(X, y, sample_weight, coef_init, intercept_init, partial)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    def _fit_or_raise(self, X, y, sample_weight, coef_init, intercept_init, partial):
        started = time.perf_counter()
        self._check_params()
        accumulate, previous, continuing = self._partial_fit_state(partial)
        before_this_fit = getattr(self, "_rows_of_factor", (0, False))
        source, y_ndim = self._source(X, y, sample_weight, reset=not continuing)
        # Not n_samples: a CSV file learns its row count from its first pass, which is the
        # factor's or the first epoch's (asking now would cost a pass of its own).
        solver = self._chosen_solver(source)
        self._check_cov_type(solver, source, partial)
        coef0, intercept0 = self._starting_point(source, continuing, coef_init, intercept_init)
        factor = self._factor_of_rows(source, solver, partial, accumulate, previous)
        # Epochs read the source as often as they like: a text file is parsed once, into
        # a temporary binary copy, rather than at every pass.
        passes = source.repeated_passes() if factor is None else nullcontext(source)
        with passes as pass_source, _progress(self, pass_source, factor is None) as on_epoch:
            result = self._solve(
                solver, pass_source, factor, coef0, intercept0, on_epoch, started, partial
            )
        self._set_fitted(result, source.dtype, y_ndim, solver, factor)
        if factor is not None:  # what inference needs besides the factor: rows, weights
            rows, weighted = (0, False) if previous is None else before_this_fit
            self._rows_of_factor = (rows + source.n_samples, weighted or sample_weight is not None)
        if self.cov_type != "nonrobust" and self._why_no_inference() is None:
            self._inference = self._statistics(rows=source)  # its pass over the rows
        return self

    def _check_cov_type(self, solver, source, partial) -> None:
        """Refuse, before any pass, a robust cov_type that the fit could not honour."""
        if self.cov_type == "nonrobust":
            return
        if partial:
            raise ValueError(
                f"cov_type={self.cov_type!r} needs a pass over every row after the fit: "
                "use fit on all the rows (partial_fit sees one piece at a time)"
            )
        if self.alpha > 0 or not self._uses_factor(solver, source):
            raise ValueError(
                f"cov_type={self.cov_type!r} describes a least-squares fit through the "
                "factor of the rows: use alpha=0 with solver='exact' (or precompute=True)"
            )

    def _check_params(self) -> None:
        """The parameters, each on its own (scikit-learn's constraints) and together."""
        self._validate_params()
        if self.solver == "exact" and self.l1_ratio > 0 and self.alpha > 0:
            raise ValueError(
                "solver='exact' solves least squares and ridge only; an L1 penalty "
                f"(l1_ratio={self.l1_ratio}) needs solver='gd' or 'agd'"
            )
        if self.solver == "sgd" and self.precompute is True:
            raise ValueError(
                "precompute=True is for gd, agd and exact: sgd reads the data in mini-batches"
            )

    def _partial_fit_state(self, partial: bool):
        """(accumulate, previous factor, continuing) for a fit or a partial_fit.

        partial_fit accumulates the factor, unless precompute=False or sgd: then it runs
        its epochs on the new rows only, from the current coefficients (online learning).
        ``continuing``: this call goes on from the fitted model rather than starting anew.
        """
        accumulate = partial and (
            self.solver == "exact" or (self.solver != "sgd" and self.precompute is not False)
        )
        previous = getattr(self, "_factor", None) if accumulate else None
        fitted = hasattr(self, "coef_")
        if accumulate and previous is None and fitted:
            raise ValueError(
                "partial_fit cannot continue this model: its last fit kept no factor of "
                "the rows seen so far (precompute='auto' chose passes over X, or it was "
                "loaded from a file). Use precompute=True, or start again with partial_fit "
                "on a new estimator."
            )
        continuing = partial and fitted and (previous is not None or not accumulate)
        return accumulate, previous, continuing

    def _starting_point(self, source, continuing, coef_init, intercept_init):
        """(coef (k, d), intercept (k,)) float64 to start from: the fitted model's when
        continuing, else the given initial values (zeros when None)."""
        n_features, n_targets = source.n_features, source.n_targets
        if not continuing:
            return (
                _initial("coef_init", coef_init, (n_targets, n_features)),
                _initial("intercept_init", intercept_init, (n_targets,)),
            )
        if np.atleast_2d(self.coef_).shape != (n_targets, n_features):
            previous_targets = np.atleast_2d(self.coef_).shape[0]
            raise ValueError(f"y has {n_targets} target(s); the model has {previous_targets}")
        return (
            np.atleast_2d(self.coef_).astype(np.float64),
            np.atleast_1d(self.intercept_).astype(np.float64),
        )

    def _factor_of_rows(self, source, solver, partial, accumulate, previous):
        """The rows' triangular factor (with ``previous``'s rows when accumulating) if this
        fit goes through it, else None, the values then checked unless the passes do."""
        if accumulate or (not partial and self._uses_factor(solver, source)):
            # The factor vouches for the values (and names a bad one): one read of X.
            factor = factor_pass.triangular_factor(source)
            return factor if previous is None else factor_pass.combine(previous, factor)
        if not source.checks_while_reading:
            source.check_values()  # a read of its own: the kernels do not check
        return None

    def _set_fitted(self, result, dtype, y_ndim, solver, factor) -> None:
        """The fitted attributes, set only now and all at once. Float32 data gives
        float32 results (computed in float64), as scikit-learn does."""
        coef = result.coef.astype(dtype)
        intercept = result.intercept.astype(dtype)
        self.coef_ = coef.ravel() if y_ndim == 1 else coef
        self.intercept_ = intercept[0] if y_ndim == 1 else intercept
        self.loss_history_ = result.loss_history
        self.time_history_ = result.time_history
        self.n_iter_ = result.n_iter
        self.converged_ = result.converged
        self.learning_rate_ = result.learning_rate
        self.rank_ = result.rank
        self.solver_ = solver
        self._factor = factor  # what partial_fit continues from (None: it cannot)
        self._inference = None  # computed when first asked for (see _inference_of_fit)

    def _source(self, X, y, sample_weight, *, reset):
        """The data source of a fit, validated, and the number of dimensions of y."""
        if isinstance(X, FileSource):
            return self._file_source(X, y, sample_weight, reset=reset)
        if is_dask_collection(X) or is_dask_collection(y):
            return self._dask_source(X, y, sample_weight, reset=reset)
        _refuse_complex(X=X, y=y, sample_weight=sample_weight)
        _refuse_text(X=X, y=y)
        # NaN, infinity and values too large to square are refused by the source, naming
        # the row and column (scikit-learn names neither): see _fit_or_raise. Sparse X
        # of any format becomes CSR (a copy unless it is CSR already).
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse="csr",
            dtype=_FLOAT_DTYPES,
            multi_output=True,
            y_numeric=True,
            ensure_all_finite=False,
            reset=reset,
        )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
            sample_weight = _normalized_weights(sample_weight)
        Y = y.reshape(X.shape[0], -1)
        if scipy.sparse.issparse(X):
            return SparseSource(X, Y, sample_weight, parallel=self.parallel), y.ndim
        return InMemorySource(X, Y, sample_weight, parallel=self.parallel), y.ndim

    def _file_source(self, source, y, sample_weight, *, reset):
        """A data file streamed in row batches (``fastlinreg.FileSource``)."""
        if y is not None or sample_weight is not None:
            raise ValueError(
                "fit(FileSource(path, target)) takes y from the file's target column, and "
                "no sample_weight: pass y=None"
            )
        if source.n_targets == 0:
            raise ValueError(
                f"{source.path} is read without a target column (FileSource(path, None)): "
                "name the target to fit, FileSource(path, target)"
            )
        if self.solver == "sgd":
            raise ValueError(
                "solver='sgd' needs rows it can slice: use 'gd', 'agd' or 'exact' on a "
                "FileSource, or fit sgd on np.load(path, mmap_mode='r') of a .npy file"
            )
        self._set_features(source.n_features, source.feature_names, reset=reset)
        return source, 1

    def _set_features(self, n_features, feature_names, *, reset):
        """n_features_in_ and feature_names_in_ for sources scikit-learn cannot validate."""
        if reset:
            self.n_features_in_ = n_features
            if feature_names is not None:
                self.feature_names_in_ = np.asarray(feature_names, dtype=object)
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif n_features != self.n_features_in_:
            raise ValueError(
                f"X has {n_features} features, but LinearRegression is expecting "
                f"{self.n_features_in_} features as input."
            )

    def _dask_source(self, X, y, sample_weight, *, reset):
        """A DaskSource: X stays distributed; NaN, inf and negative weights are found
        during the first pass (scikit-learn's validation would compute X here)."""
        from .sources.dask import DaskSource, require_dask

        require_dask()
        if self.solver == "sgd":
            raise ValueError(
                "solver='sgd' steps after every mini-batch, which on a Dask array would be "
                "one computation each: use 'gd', 'agd' or 'exact' with Dask inputs"
            )
        if scipy.sparse.issparse(getattr(X, "_meta", None)):
            raise TypeError(
                "X is a Dask array of sparse chunks, which fastlinreg does not fit: its "
                "passes over Dask run the dense kernel on each chunk. Fit the SciPy "
                "matrix in memory (X.compute()), or a dense Dask array."
            )
        y_ndim = len(y.shape)
        source = DaskSource(X, y, sample_weight, parallel=self.parallel)
        self._set_features(source.n_features, source.feature_names, reset=reset)
        return source, y_ndim

    def _chosen_solver(self, source) -> str:
        """The solver a fit runs: ``solver``, or what "auto" picks for the source's
        n_features + n_targets columns (see the class docstring)."""
        n_columns = source.n_features + source.n_targets
        sparse = isinstance(source, SparseSource)
        if sparse and n_columns > _EXACT_MAX_COLUMNS and self._factor_requested():
            raise ValueError(
                f"solver='exact' and precompute=True build a dense factor of "
                f"(n_features + n_targets)² numbers: {n_columns} columns of sparse X is "
                f"beyond the {_EXACT_MAX_COLUMNS} they take. Use solver='agd', 'gd' or "
                "'sgd' (epochs over the stored entries), or 'auto', which picks 'agd'."
            )
        if self.solver != "auto":
            return self.solver
        if not isinstance(self.learning_rate, str):
            return "gd"  # a step size asks for the tutorial's steps
        exact_max = _SPARSE_EXACT_MAX_COLUMNS if sparse else _EXACT_MAX_COLUMNS
        if (
            (self.alpha > 0.0 and self.l1_ratio > 0.0)
            or self.precompute is False
            or n_columns > exact_max
        ):
            return "agd"
        return "exact"

    def _factor_requested(self) -> bool:
        """Whether the parameters ask for the factor whatever the data's width."""
        return self.solver == "exact" or (self.precompute is True and self.solver != "sgd")

    def _uses_factor(self, solver, source) -> bool:
        """Whether this fit goes through the precomputed factor (see ``precompute``)."""
        if solver == "exact" or self.precompute is True:
            return True
        if self.precompute is False or solver == "sgd":
            return False
        columns = source.n_features + source.n_targets
        # Also with fewer rows than columns: an epoch on the factor then costs more
        # arithmetic than a pass, but it runs compiled, and the factor gives the stopping
        # rule its certificate (passes over X have no smallest curvature to bound with).
        return columns <= _PRECOMPUTE_MAX_COLUMNS and (
            self.max_iter is None or self.max_iter >= _PRECOMPUTE_MIN_EPOCHS
        )

    def _solve(self, solver, source, factor, coef0, intercept0, callback, started, partial):
        """Translate the parameters into one solver call (on ``factor`` if not None)."""
        if solver == "exact":
            return _solvers.exact(
                factor,
                intercept0,
                fit_intercept=self.fit_intercept,
                alpha=self.alpha,
                callback=callback,
                started=started,
            )
        center, scale, constant = self._feature_scaling(solver, source, factor)

        def make_objective(data_source):
            return Objective(
                data_source,
                center,
                scale,
                fit_intercept=self.fit_intercept,
                alpha=self.alpha,
                l1_ratio=self.l1_ratio,
                constant=constant,
            )

        if solver == "sgd":
            return _solvers.sgd(
                make_objective,
                source,
                coef0,
                intercept0,
                learning_rate=self.learning_rate,
                schedule=self.lr_schedule,
                batch_size=self.batch_size,
                shuffle=self.shuffle,
                random_state=self.random_state,
                # partial_fit: one epoch over the new rows, as scikit-learn's SGD does.
                max_iter=1 if partial else (self.max_iter or 1000),
                tol=self.tol,
                n_iter_no_change=self.n_iter_no_change,
                callback=callback,
                started=started,
            )
        objective = make_objective(PrecomputedSource(factor) if factor is not None else source)
        max_iter = self.max_iter
        if max_iter is None:
            max_iter = 100_000 if factor is not None else 1000
        return _solvers.descend(
            objective,
            coef0,
            intercept0,
            accelerated=solver == "agd",
            learning_rate=self.learning_rate,
            max_iter=max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            callback=callback,
            started=started,
        )

    def _feature_scaling(self, solver, source, factor):
        """(center (d,), scale (d,), constant columns or None) of the coordinates the
        solver iterates in: the columns' own when ``scale_features`` is off."""
        scale_features = self.scale_features
        if scale_features == "auto":
            # gd keeps X as it is only for a step size of the user's: the tutorial.
            scale_features = solver in ("agd", "sgd") or self.learning_rate == "auto"
        if scale_features:
            return feature_scaling(source, self.fit_intercept, factor)
        return np.zeros(source.n_features), np.ones(source.n_features), None

    def save(self, path) -> None:
        """Write the fitted model to ``path`` in a safe, non-executable format.

        See :func:`fastlinreg.load`; ``predict`` of the loaded model is bit-identical.
        """
        persistence.save(self, path)

    def score(self, X, y, sample_weight=None):
        """R² of ``predict(X)`` against y: scikit-learn's ``r2_score``, as
        ``RegressorMixin.score`` computes it, but for y of any scale: a y beyond
        2**±256 (1e-170, 1e+160), whose squares would underflow to 0 (R² 1.0 whatever
        the fit) or overflow, is divided with its predictions by one power of two
        first (exact: R² does not change).
        """
        from sklearn.metrics import r2_score

        y_pred = self.predict(X)
        values = np.asarray(y)
        if values.dtype.kind in "iuf" and values.size and np.all(np.isfinite(values)):
            scale = power_of_two_scale(values.reshape(values.shape[0], -1).astype(np.float64))
            if scale != 1.0:
                return r2_score(values / scale, y_pred / scale, sample_weight=sample_weight)
        # Anything else as scikit-learn has it, errors included.
        return r2_score(y, y_pred, sample_weight=sample_weight)

    def predict(self, X):
        """Predict with the fitted linear model.

        Parameters
        ----------
        X : array-like or SciPy sparse matrix of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predictions, in X's dtype (float64 for non-float input).

        Warns
        -----
        PredictionOverflowWarning
            When a prediction is not finite: finite X and coefficients whose products
            or sums overflow X's dtype (NaN where infinities of both signs meet).
        """
        check_is_fitted(self)
        _refuse_text(X=X)
        X = validate_data(self, X, accept_sparse="csr", dtype=_FLOAT_DTYPES, reset=False)
        out = kernels.predict_targets(
            X, self.coef_, self.intercept_, parallel=self.parallel, sparse=scipy.sparse.issparse(X)
        )
        _warn_not_finite(out)
        return out.ravel() if np.ndim(self.coef_) == 1 else out

    # Classical inference (statistics of the least-squares fit), from the factor of the
    # rows: see fastlinreg.inference. Each is per target, like coef_.
    params_ = _Statistic("The intercept (first, when fitted) and coef_, in statsmodels' order.")
    bse_ = _Statistic("Standard errors of ``params_`` (NaN where not identified).")
    tvalues_ = _Statistic("t statistics, ``params_ / bse_``.")
    pvalues_ = _Statistic("Two-sided p-values of the t statistics (Student's t, df_resid_).")
    rsquared_ = _Statistic("R², about the mean with an intercept, about 0 without one.")
    rsquared_adj_ = _Statistic("R² adjusted for the degrees of freedom.")
    fvalue_ = _Statistic("F statistic of the model against the intercept alone (0 without one).")
    f_pvalue_ = _Statistic("p-value of ``fvalue_``.")
    ssr_ = _Statistic("(Weighted) residual sum of squares.")
    scale_ = _Statistic("Estimate of the error variance σ²: ``ssr_ / df_resid_``.")
    df_model_ = _Statistic("Degrees of freedom of the model: identified coefficients.")
    df_resid_ = _Statistic("Residual degrees of freedom: rows minus identified parameters.")
    nobs_ = _Statistic("Rows the fit saw (whatever their weights).")

    def conf_int(self, alpha=0.05):
        """Confidence intervals of ``params_``: shape (n_params, 2), or (n_targets,
        n_params, 2) for several targets; columns lower, upper (Student's t).

        Like every inference attribute (``bse_``, ``pvalues_``, ``summary``, ...), it
        needs a fit that went through the factor of the rows (``solver="exact"``, the
        default up to 4096 columns, or ``precompute=True``), without penalty, converged.
        """
        return self._per_target(self._inference_of_fit().conf_int(alpha))

    def summary(self, alpha=0.05) -> str:
        """A text table of the fit as statsmodels' ``OLS(...).fit().summary()`` prints it
        (``WLS`` with sample weights): R², F test, and per parameter its estimate,
        standard error, t, p-value and (1 - alpha) confidence interval. Print it."""
        result = self._inference_of_fit()
        n_targets = result.params.shape[0]
        names = ["y"] if np.ndim(self.coef_) == 1 else [f"y{t}" for t in range(n_targets)]
        return inference.summary_text(result, alpha, names)

    def to_frame(self, alpha=0.05):
        """The summary's parameter table as a pandas DataFrame (pandas must be installed):
        rows are parameters (a (target, parameter) MultiIndex for several targets)."""
        import pandas as pd

        result = self._inference_of_fit()
        columns = result.table(alpha)
        if np.ndim(self.coef_) == 1:
            names = list(result.param_names)
            return pd.DataFrame({k: v[0] for k, v in columns.items()}, index=names)
        index = pd.MultiIndex.from_product(
            [range(result.params.shape[0]), result.param_names], names=["target", "parameter"]
        )
        return pd.DataFrame({k: v.ravel() for k, v in columns.items()}, index=index)

    def _per_target(self, value):
        """``value`` (n_targets, ...) as coef_ is shaped: without that axis for one target."""
        if np.ndim(value) > 0 and np.ndim(self.coef_) == 1:
            return value[0]
        return value

    def _inference_of_fit(self):
        """The fit's :class:`fastlinreg.inference.Inference`, computed when first asked for.

        Raises AttributeError (so ``hasattr`` says False) naming why there is none."""
        check_is_fitted(self)
        if getattr(self, "_inference", None) is None:
            reason = self._why_no_inference()
            if reason is not None:
                raise AttributeError(f"no statistics for this fit: {reason}")
            self._inference = self._statistics(rows=None)
        return self._inference

    def _statistics(self, rows):
        """:func:`fastlinreg.inference.from_factor` of this fit; ``rows``, the fit's data
        source, for a robust cov_type's pass."""
        n_rows, weighted = self._rows_of_factor
        names = getattr(self, "feature_names_in_", None)
        return inference.from_factor(
            self._factor,
            np.atleast_2d(self.coef_).astype(np.float64),
            np.atleast_1d(self.intercept_).astype(np.float64),
            fit_intercept=self.fit_intercept,
            n_rows=n_rows,
            weighted=weighted,
            feature_names=(
                [str(n) for n in names]
                if names is not None
                else [f"x{j + 1}" for j in range(self.n_features_in_)]
            ),
            cov_type=self.cov_type,
            rows=rows,
        )

    def _why_no_inference(self, *, need_factor: bool = True) -> str | None:
        """Why this fit has no statistics (None: it has them), the estimates first."""
        if self.alpha > 0:
            return (
                f"the fit is penalized (alpha={self.alpha}), so its estimates are biased "
                "and least squares' standard errors and tests would be wrong. Fit with "
                "alpha=0."
            )
        if self.solver_ == "sgd":
            return (
                "sgd's coefficients are a stochastic approximation, not the least-squares "
                "estimates the statistics describe. Fit with solver='exact'."
            )
        if not self.converged_:
            return (
                "the fit did not converge (converged_ is False): its coefficients are not "
                "the least-squares estimates the statistics describe. Use solver='exact'."
            )
        if need_factor and getattr(self, "_factor", None) is None:
            return (
                "they come from the factor of the rows, which this model does not hold "
                f"(solver={self.solver_!r} ran on passes over X, or the model was read from "
                "a file). model.compute_statistics(X, y) builds it in one pass over the "
                "rows it was fitted on; or fit with solver='exact' (or precompute=True)."
            )
        return None

    def compute_statistics(self, X, y, sample_weight=None):
        """Give a fit that kept no factor of its rows its statistics (``bse_``,
        ``summary()``, ...): one pass over X, y and sample_weight, which must be the rows
        (and weights) the model was fitted on, builds the factor; a robust ``cov_type``
        makes one more. For gd or agd on passes over X (``precompute=False``, or beyond
        512 columns), and a model read by :func:`fastlinreg.load`.

        Raises
        ------
        ValueError
            For a fit whose coefficients are not least-squares estimates (penalized,
            sgd, not converged), or data of another shape than the fit's.
        """
        check_is_fitted(self)
        reason = self._why_no_inference(need_factor=False)
        if reason is not None:
            raise ValueError(f"no statistics for this fit: {reason}")
        source, _ = self._source(X, y, sample_weight, reset=False)
        fitted_targets = np.atleast_2d(self.coef_).shape[0]
        if source.n_targets != fitted_targets:
            raise ValueError(f"y has {source.n_targets} target(s); the model has {fitted_targets}")
        self._factor = factor_pass.triangular_factor(source)
        self._rows_of_factor = (source.n_samples, sample_weight is not None)
        self._inference = None
        if self.cov_type != "nonrobust":
            self._inference = self._statistics(rows=source)
        return self


def load(path: str | os.PathLike[str]) -> LinearRegression:
    """Read a model written by :meth:`LinearRegression.save`.

    The file is read without pickle, so loading it runs no code from it; everything in
    it is checked before a model is built.

    Parameters
    ----------
    path : str or os.PathLike
        A model file.

    Returns
    -------
    model : LinearRegression
        The fitted model; its ``predict`` is bit-identical to the saved model's.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a fastlinreg model file (another program's archive, a
        truncated or corrupted file, ...), or was written by a newer fastlinreg.

    See Also
    --------
    LinearRegression.save : Write a model file.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from fastlinreg import LinearRegression, load
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 5.0]])
    >>> model = LinearRegression().fit(X, X @ [2.0, -1.0] + 1.0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "model.npz")
    ...     model.save(path)
    ...     loaded = load(path)
    >>> loaded.n_features_in_, np.array_equal(loaded.coef_, model.coef_)
    (2, True)
    """
    return persistence.load_model(path, LinearRegression)


def _warn_not_finite(predictions: np.ndarray) -> None:
    """PredictionOverflowWarning naming how many predictions (n, k) are not finite, and
    the first row of one. A check of the output only, not of X."""
    not_finite = kernels.not_finite_predictions(predictions)
    if not_finite is None:
        return
    count, first_row = not_finite
    warnings.warn(
        f"{count} of {predictions.size} predictions are not finite (NaN or infinity), the "
        f"first in row {first_row}: X times coef_ overflows "
        f"{predictions.dtype} there (finite values whose products or sums exceed it).",
        PredictionOverflowWarning,
        stacklevel=3,
    )


@contextmanager
def _progress(model, source, reads_rows: bool):
    """The per-epoch callback of a fit: the progress bar (if verbose) and the user's.

    ``reads_rows``: the epochs pass over the source's rows, and the bar shows how many
    it reads a second; epochs on the factor read none, so it shows none.
    """
    bar = None
    if model.verbose:
        from tqdm.auto import tqdm

        # delay: nothing is shown for fits shorter than about a second.
        bar = tqdm(desc="fastlinreg", unit="epoch", delay=1.0, leave=False)
    started = time.perf_counter()

    def on_epoch(epoch, loss, coef, intercept):
        if bar is not None:
            postfix = {"loss": f"{loss:.6g}"}
            if reads_rows:  # by now a pass has read them all: the count is known
                seconds = max(time.perf_counter() - started, 1e-9)
                postfix["rows_s"] = f"{source.n_samples * (epoch + 1) / seconds:.3g}"
            bar.set_postfix(postfix, refresh=False)
            bar.update()
        return model.callback is not None and model.callback(epoch, loss, coef, intercept)

    try:
        yield on_epoch if (bar is not None or model.callback is not None) else None
    finally:
        if bar is not None:
            bar.close()


def _refuse_complex(**arrays):
    """A short message for complex arrays (scikit-learn's prints the whole array).

    Only arrays with a dtype are looked at: converting anything else (a list) here
    would copy it; scikit-learn's check still refuses those.
    """
    for name, values in arrays.items():
        dtype = getattr(values, "dtype", None)
        if isinstance(dtype, np.dtype) and dtype.kind == "c":
            raise ValueError(
                f"Complex data not supported: {name} is complex ({dtype}); fastlinreg "
                "fits real numbers only"
            )


def _refuse_text(**arrays):
    """scikit-learn's error for text data (check_array with dtype="numeric"), before any
    conversion: NumPy would turn numeric strings ("1.5") into numbers. Arrays of
    strings or bytes, object arrays and DataFrame columns holding any, and (nested)
    lists of them are text; numbers in object arrays (pandas) are not."""
    for name, values in arrays.items():
        if values is not None and _holds_text(values):
            raise ValueError(
                f"Input {name} holds text: dtype='numeric' is not compatible with arrays "
                "of bytes/strings. Convert your data to numeric values explicitly instead."
            )


def _holds_text(values) -> bool:
    dtype = getattr(values, "dtype", None)
    if isinstance(dtype, np.dtype):
        if dtype.kind in "USV":
            return True
        return dtype.kind == "O" and _any_text(np.asarray(values, dtype=object).ravel())
    dtypes = getattr(values, "dtypes", None)
    if dtypes is not None and hasattr(values, "columns"):  # a DataFrame: its columns
        return any(
            (isinstance(t, np.dtype) and t.kind in "USV")
            or (not isinstance(t, np.dtype) and "str" in str(t).lower())
            or (isinstance(t, np.dtype) and t.kind == "O" and _any_text(values.iloc[:, j]))
            for j, t in enumerate(dtypes)
        )
    if dtype is not None:  # a pandas Series, say: its dtype is pandas'
        return "str" in str(dtype).lower() or (
            str(dtype) == "object" and _any_text(np.asarray(values))
        )
    return isinstance(values, list | tuple) and _any_text(values)


def _any_text(values) -> bool:
    """Whether a sequence (nested lists, an object array's values) holds a str or bytes."""
    for value in values:
        if isinstance(value, str | bytes):
            return True
        if isinstance(value, list | tuple | np.ndarray) and _holds_text(value):
            return True
    return False


def _normalized_weights(weights: np.ndarray) -> np.ndarray:
    """The weights times a power of four that brings their largest into [0.25, 1), where
    it lies beyond 2**±256 (only their ratios count: the fit is the same, exactly; the
    factor's sqrt(weight) scales by the power of two). Tiny weights (1e-320, subnormal)
    would lose their sums to underflow, and huge ones overflow weight times value²."""
    largest = float(np.max(weights, initial=0.0))
    if largest == 0.0 or 2.0**-256 <= largest <= 2.0**256:
        return weights
    exponent = int(np.frexp(largest)[1])
    return np.ldexp(weights, -2 * ((exponent + 1) // 2))


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
