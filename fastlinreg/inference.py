"""Classical inference for least squares from the single-pass factor: standard errors,
t tests, confidence intervals, R² and the F test, as statsmodels' OLS and WLS report them.

Everything follows from the factor R of the centred, weighted [X Y] (see
:mod:`fastlinreg.sources._factor`), its weighted means x̄ and ȳ, the total weight S and
the number of rows n, with no further pass over the rows:

- the weighted residual sum of squares at (w, b) is
  |R_xx w - R_xy|² + |R_yy|² + S (ȳ - b - x̄ w)² (the identity the solvers minimise);
- with an intercept, cov(w) = σ² (R_xxᵀ R_xx)⁻¹ and var(b) = σ² (1/S + x̄ᵀ (R_xxᵀ R_xx)⁻¹ x̄)
  (b = ȳ - x̄ w, and ȳ is uncorrelated with w), σ² = RSS / (n - rank - 1);
- without one, X is not centred: its factor is the one of [R_xx; sqrt(S) x̄ᵀ] (whose
  Gram matrix is the uncentred XᵀWX, formed without squaring the condition number), and
  σ² = RSS / (n - rank).

Sample weights are analytic weights, as in statsmodels' ``WLS(y, X, weights=w)``: row i's
error variance is σ² / w_i, n counts the rows (whatever their weights), and scaling every
weight by one number changes nothing. (Frequency weights, where a weight counts repeated
rows and n is their sum, are statsmodels' ``GLM(freq_weights=...)``: not these.)

Rank deficiency: the coefficients' covariance is σ² times the pseudo-inverse, as in
statsmodels, but only estimable parameters get numbers: a coefficient (or the intercept)
that the data do not identify (its unit vector not in the row space of X) has NaN
standard error, t and p-values, and is named in :attr:`Inference.not_identified`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy import stats

from ._solvers import _back_substitution, svd_rank
from .sources._factor import (
    CONSTANT_COLUMN_ROUNDINGS,
    Factor,
    centring_rounding,
    scaled_targets,
    statistics_of_blocks,
    target_scale,
)
from .sources._powers_of_two import column_norms
from .sources.base import BlockSummingSource, DataSource

__all__ = ["COV_TYPES", "Inference", "from_factor"]

#: The covariance types: classical, and statsmodels' heteroskedasticity-consistent ones.
COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3")
# The power of (1 - leverage) that divides each residual in the robust covariances.
_LEVERAGE_POWER = {"HC0": 0.0, "HC1": 0.0, "HC2": 0.5, "HC3": 1.0}

# The robust pass works through a block in chunks of this many bytes of X: its NumPy
# temporaries (a few per chunk, each as large) then stay in the core's cache (a 4 MB
# block of 10 columns: 7.6 ms whole, 3.5 ms in chunks of 4096-8192 rows, timed here).
_MEAT_CHUNK_BYTES = 1 << 19

# A unit vector whose part outside the row space of X is at most this (relative) is in
# it: the parameter is identified. Far above the rounding of an SVD (1e-13), far below
# any real part outside it.
_IDENTIFIED_TOLERANCE = 1e-8


@dataclass(frozen=True)
class Inference:
    """The inference of a least-squares fit, per target (leading axis k = n_targets).

    ``params`` and ``bse`` are (k, p), p = n_features (+ 1 for the intercept, which comes
    first, named "const", as after statsmodels' ``add_constant``).
    """

    params: np.ndarray
    bse: np.ndarray
    param_names: tuple[str, ...]
    not_identified: tuple[str, ...]
    nobs: int
    df_model: int
    df_resid: int
    ssr: np.ndarray
    tss: np.ndarray
    fvalue: np.ndarray
    fit_intercept: bool
    weighted: bool
    cov_type: str

    @property
    def use_t(self) -> bool:
        """Student's t for p-values and intervals; the normal law for the robust
        covariances, whose standard errors are asymptotic (statsmodels' default)."""
        return self.cov_type == "nonrobust"

    @property
    def _law(self):
        """The law of the t statistics: Student's t with df_resid degrees of freedom, or
        the normal law for a robust covariance."""
        return stats.t(self.df_resid) if self.use_t else stats.norm()

    @property
    def tvalues(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.params / self.bse

    @property
    def pvalues(self) -> np.ndarray:
        """Two-sided, Student's t with df_resid degrees of freedom (normal: robust)."""
        return 2.0 * self._law.sf(np.abs(self.tvalues))

    @property
    def scale(self) -> np.ndarray:
        """(k,) The estimate of σ²: the residual sum of squares over df_resid."""
        return self.ssr / self.df_resid

    @property
    def rsquared(self) -> np.ndarray:
        """(k,) 1 - RSS / TSS, TSS about ȳ with an intercept, about 0 without one."""
        return 1.0 - self.ssr / self.tss

    @property
    def rsquared_adj(self) -> np.ndarray:
        return 1.0 - (self.nobs - self.fit_intercept) / self.df_resid * (1.0 - self.rsquared)

    @property
    def f_pvalue(self) -> np.ndarray:
        return stats.f.sf(self.fvalue, self.df_model, self.df_resid)

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        """(k, p, 2) The (1 - alpha) confidence intervals: params ± t(1 - alpha/2) bse."""
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        half = self._law.ppf(1.0 - alpha / 2.0) * self.bse
        return np.stack([self.params - half, self.params + half], axis=-1)

    def table(self, alpha: float = 0.05) -> dict[str, np.ndarray]:
        """The coefficient table's columns, (k, p) each, under statsmodels' headers: coef,
        std err, t (z for a robust covariance), its p-value, the interval's ends."""
        intervals = self.conf_int(alpha)
        statistic = "t" if self.use_t else "z"
        return {
            "coef": self.params,
            "std err": self.bse,
            statistic: self.tvalues,
            f"P>|{statistic}|": self.pvalues,
            f"[{alpha / 2:g}": intervals[..., 0],
            f"{1 - alpha / 2:g}]": intervals[..., 1],
        }


def from_factor(
    factor: Factor,
    coef: np.ndarray,
    intercept: np.ndarray,
    *,
    fit_intercept: bool,
    n_rows: int,
    weighted: bool,
    feature_names: list[str],
    cov_type: str = "nonrobust",
    rows: DataSource | None = None,
) -> Inference:
    """The :class:`Inference` of the fit (coef (k, d), intercept (k,)) to the rows whose
    factor is ``factor`` (n_rows of them). A robust ``cov_type`` (see COV_TYPES) costs
    one pass over ``rows``, the fit's data source.

    Raises
    ------
    ValueError
        When no degree of freedom is left for the residual variance (n_rows at most the
        number of identified parameters).
    """
    d = factor.n_features
    # In units of y / y_scale, so that the squares neither underflow nor overflow (see
    # fastlinreg.sources._factor.target_scale); standard errors are scaled back.
    y_scale = target_scale(factor)
    scaled = factor if y_scale == 1.0 else scaled_targets(factor, y_scale)
    W, b = np.asarray(coef) / y_scale, np.asarray(intercept) / y_scale
    R, S = scaled.R, scaled.total_weight
    x_mean, y_mean = scaled.mean[:d], scaled.mean[d:]

    left_by_x = R[:d, d:] - R[:d, :d] @ W.T
    ssr = (
        np.sum(left_by_x**2, axis=0)
        + np.sum(R[d:, d:] ** 2, axis=0)
        + S * (y_mean - b - W @ x_mean) ** 2
    )
    tss = np.sum(R[:, d:] ** 2, axis=0) + (0.0 if fit_intercept else S * y_mean**2)

    inverse, forward, norms, identified = _inverse_factor(scaled, fit_intercept)
    rank = inverse.shape[1]
    df_resid = n_rows - rank - int(fit_intercept)
    if df_resid <= 0:
        raise ValueError(
            f"{n_rows} rows leave no degree of freedom for the residual variance: the "
            f"model has {rank + int(fit_intercept)} identified parameters"
        )
    # The coefficients' covariance is G C Gᵀ, G = D⁻¹ B, with C = σ² I (classical) or
    # the robust "meat" K in the coordinates v = Bᵀ D⁻¹ (x - x̄) (see _robust_meat).
    G = inverse / norms[:, None]
    along_mean = inverse.T @ (x_mean / norms)  # Gᵀ x̄: b = ȳ - x̄ᵀ w
    if cov_type == "nonrobust":
        sigma2 = ssr / df_resid
        coef_variance = sigma2[:, None] * np.sum(G**2, axis=1)
        # b = ȳ - x̄ᵀ w, with ȳ's variance σ²/S and ȳ uncorrelated with w's estimate.
        intercept_variance = sigma2 * (1.0 / S + along_mean @ along_mean)
        with np.errstate(divide="ignore", invalid="ignore"):
            fvalue = ((tss - ssr) / rank) / sigma2
    else:
        center = x_mean if fit_intercept else np.zeros(d)
        meat, mean_meat, mean_sum = _robust_meat(
            rows, W, b, y_scale, inverse, norms, center, S, fit_intercept, cov_type
        )
        correction = n_rows / df_resid if cov_type == "HC1" else 1.0  # HC1: HC0 × n/df
        meat, mean_meat, mean_sum = correction * meat, correction * mean_meat, correction * mean_sum
        coef_variance = np.stack([np.sum((G @ K) * G, axis=1) for K in meat])
        # var(ȳ) - 2 cov(ȳ, x̄ᵀ w) + var(x̄ᵀ w), ȳ's part with the bread 1/S.
        intercept_variance = (
            mean_sum / S**2
            - 2.0 * (mean_meat @ along_mean) / S
            + np.array([along_mean @ K @ along_mean for K in meat])
        )
        # The Wald test of w = 0 with this covariance: φ = G⁺ w, F = φᵀ K⁻¹ φ / r.
        phi = (forward @ (norms[:, None] * W.T)).T  # (k, r)
        fvalue = np.array([p @ np.linalg.solve(K, p) for p, K in zip(phi, meat, strict=True)])
        fvalue /= rank
    bse = np.sqrt(coef_variance)  # (k, d)
    bse[:, ~identified] = np.nan
    params = np.asarray(coef, np.float64)
    names = list(feature_names)
    if fit_intercept:
        intercept_identified = rank == d or _in_row_space(inverse, norms, x_mean)
        intercept_spread = np.sqrt(intercept_variance) if intercept_identified else np.nan
        bse = np.column_stack([np.broadcast_to(intercept_spread, len(ssr)), bse])
        params = np.column_stack([np.asarray(intercept, np.float64), params])
        names.insert(0, "const")
        identified = np.concatenate([[intercept_identified], identified])
    return Inference(
        params=params,
        bse=bse * y_scale,
        param_names=tuple(names),
        not_identified=tuple(n for n, ok in zip(names, identified, strict=True) if not ok),
        nobs=int(n_rows),
        df_model=rank,
        df_resid=df_resid,
        ssr=ssr * y_scale**2,
        tss=tss * y_scale**2,
        fvalue=fvalue,
        fit_intercept=fit_intercept,
        weighted=weighted,
        cov_type=cov_type,
    )


def _robust_meat(rows, W, b, y_scale, inverse, norms, center, S, fit_intercept, cov_type):
    """One pass over the rows of ``rows`` (in block order: deterministic; on the workers
    of a Dask source) for the heteroskedasticity-consistent covariance, statsmodels'
    HC0-HC3: per target, (Σ u² v vᵀ (k, r, r), Σ u² v (k, r), Σ u² (k,)), the sandwich's
    middle in the coordinates where its bread is the identity and 1/S (see
    :func:`_block_meat`)."""
    k, r = W.shape[0], inverse.shape[1]
    size = k * r * r + k * r + k
    settings = dict(
        W=W, b=b, to_our_units=rows.y_scale / y_scale, inverse=inverse, norms=norms,
        center=center, S=S, fit_intercept=fit_intercept, power=_LEVERAGE_POWER[cov_type],
    )  # fmt: skip
    if isinstance(rows, BlockSummingSource):
        total = rows.sum_over_blocks("robust-covariance", _block_meat, size, **settings)
    else:

        def meat(X, Y, weights):
            # NumPy's default warnings, which the threads' error state turns off.
            with np.errstate(divide="warn", over="warn", invalid="warn"):
                return _block_meat(X, Y, weights, skip=False, **settings)

        total = np.zeros(size)
        for group in statistics_of_blocks(rows, meat):  # on threads, summed in block order
            for sums in group:
                total += sums
    return (
        total[: k * r * r].reshape(k, r, r),
        total[k * r * r : k * r * r + k * r].reshape(k, r),
        total[k * r * r + k * r :],
    )


def _block_meat(X, Y, weights, *, skip, **settings) -> np.ndarray:
    """One block's (Σ u² v vᵀ, Σ u² v, Σ u²), flattened, with v_i = Bᵀ D⁻¹ (x_i - center),
    the residual e_i in units of y / y_scale (Y arrives as y / the source's y_scale), the
    leverage h_i = w_i (1/S + |v_i|²) (no 1/S without an intercept) and
    u_i = w_i e_i / (1 - h_i)^power (0 for HC0 and HC1, 1/2 for HC2, 1 for HC3): the sums
    of its chunks of rows (fixed by the block's shape), in order. ``settings``: those of
    :func:`_chunk_meat`."""
    k, r = settings["W"].shape[0], settings["inverse"].shape[1]
    sums = np.zeros(k * r * r + k * r + k)
    if skip:
        return sums
    rows = max(1, _MEAT_CHUNK_BYTES // (8 * max(1, X.shape[1])))
    for start in range(0, X.shape[0], rows):
        chunk = slice(start, start + rows)
        weights_chunk = None if weights is None else weights[chunk]
        sums += _chunk_meat(X[chunk], Y[chunk], weights_chunk, **settings)
    return sums


def _chunk_meat(
    X, Y, weights, *, W, b, to_our_units, inverse, norms, center, S, fit_intercept, power
) -> np.ndarray:
    """:func:`_block_meat` of one chunk of rows (at least one)."""
    k, r = W.shape[0], inverse.shape[1]
    sums = np.empty(k * r * r + k * r + k)
    X = np.asarray(X, dtype=np.float64)
    # np.dot, not @: matmul holds the GIL (see sources._tsqr._gram_without_copy), and
    # this runs on the pass's threads.
    V = np.dot((X - center) / norms, inverse)
    w = np.ones(X.shape[0]) if weights is None else weights
    E = np.asarray(Y, dtype=np.float64) * to_our_units - (np.dot(X, W.T) + b)
    leverage = w * (np.sum(V**2, axis=1) + (1.0 / S if fit_intercept else 0.0))
    U2 = (w[:, None] * E) ** 2 / ((1.0 - leverage) ** (2.0 * power))[:, None]
    for t in range(k):  # BLAS products: an einsum of three operands would not be one
        sums[t * r * r : (t + 1) * r * r] = np.dot(V.T, V * U2[:, t, None]).ravel()
    sums[k * r * r : k * r * r + k * r] = np.dot(U2.T, V).ravel()
    sums[k * r * r + k * r :] = U2.sum(axis=0)
    return sums


def _inverse_factor(factor: Factor, fit_intercept: bool):
    """(B (d, r), B⁺ (r, d), norms (d,), identified (d,)): the column-scaled factor
    A / norms of X (centred with an intercept, else stacked with sqrt(S) x̄ᵀ) has
    pseudo-inverse Gram (AᵀA)⁺ = D⁻¹ B Bᵀ D⁻¹, D = diag(norms), r its rank; identified
    marks the columns whose unit vector lies in the row space.

    Rank as :func:`fastlinreg._solvers.exact` decides it: a constant column (one that
    centring left as rounding) is dropped, and singular values below the rounding floor.
    """
    d = factor.n_features
    A = factor.R[:d, :d]
    rounding = centring_rounding(factor) if fit_intercept else np.zeros(d)
    constant = column_norms(A) <= CONSTANT_COLUMN_ROUNDINGS * rounding
    A = np.where(constant, 0.0, A)
    if not fit_intercept:
        stacked = np.vstack([A, np.sqrt(factor.total_weight) * factor.mean[:d]])
        A = scipy.linalg.qr(stacked, mode="r")[0][:d]  # (d + 1, d): its last row is 0
    norms = column_norms(A)
    norms[norms == 0.0] = 1.0
    scaled = A / norms
    eps = np.finfo(np.float64).eps
    centring_floor = float(np.max(rounding / norms, initial=0.0))
    if not constant.any():
        inverse = _back_substitution(scaled, np.eye(d), max(eps, centring_floor))
        if inverse is not None:
            return inverse, scaled, norms, np.ones(d, dtype=bool)
    _, s, Vt = np.linalg.svd(scaled)
    rank = svd_rank(s, scaled.shape, centring_floor)
    V = Vt[:rank].T
    identified = 1.0 - np.sum(V**2, axis=1) <= _IDENTIFIED_TOLERANCE
    return V / s[:rank], s[:rank, None] * Vt[:rank], norms, identified


def _in_row_space(inverse: np.ndarray, norms: np.ndarray, vector: np.ndarray) -> bool:
    """Whether ``vector`` (a linear function of the coefficients) is estimable: in the
    row space spanned by the columns of ``inverse`` (in scaled coordinates)."""
    z = vector / norms
    basis, _ = np.linalg.qr(inverse)
    outside = z - basis @ (basis.T @ z)
    size = max(float(np.linalg.norm(z)), 1.0)
    return bool(np.linalg.norm(outside) <= _IDENTIFIED_TOLERANCE * size)


def summary_text(result: Inference, alpha: float, target_names: list[str]) -> str:
    """statsmodels' ``summary()`` layout (its model block and coefficient table) for each
    target. The residual tests statsmodels adds below (Omnibus, Jarque-Bera,
    Durbin-Watson) need the residuals themselves, a pass over the rows: not printed."""
    model = "WLS" if result.weighted else "OLS"
    width = 78
    columns = result.table(alpha)
    # Digits per column, and fixed-point whatever the size for t and its p-value.
    styles = [(4, False), (3, False), (3, True), (3, True), (3, False), (3, False)]
    name_width = max([10, *(len(n) for n in result.param_names)])
    blocks = []
    for t, target in enumerate(target_names):
        left = [
            ("Dep. Variable:", target),
            ("Model:", model),
            ("Method:", "Least Squares"),
            ("No. Observations:", str(result.nobs)),
            ("Df Residuals:", str(result.df_resid)),
            ("Df Model:", str(result.df_model)),
            ("Covariance Type:", result.cov_type),
        ]
        about = "" if result.fit_intercept else " (uncentered)"  # R² about 0 then
        right = [
            (f"R-squared{about}:", _g(result.rsquared[t], 3, fixed=True)),
            (f"Adj. R-squared{about}:", _g(result.rsquared_adj[t], 3, fixed=True)),
            ("F-statistic:", f"{result.fvalue[t]:#.4g}"),
            ("Prob (F-statistic):", f"{result.f_pvalue[t]:#.3g}"),
            ("Resid. std. error:", f"{np.sqrt(result.scale[t]):#.4g}"),
            ("Residual SS:", f"{result.ssr[t]:#.4g}"),
            ("", ""),
        ]
        lines = [f"{model} Regression Results".center(width), "=" * width]
        for (lk, lv), (rk, rv) in zip(left, right, strict=True):
            lines.append(f"{lk:<20}{lv:>19}   {rk:<28}{rv:>8}".rstrip())
        lines.append("=" * width)
        first, *others = columns
        lines.append(f"{'':<{name_width}}{first:>12}" + "".join(f"{h:>11}" for h in others))
        lines.append("-" * max(width, name_width + 67))
        for j, name in enumerate(result.param_names):
            cells = [
                _g(values[t, j], digits, fixed)
                for values, (digits, fixed) in zip(columns.values(), styles, strict=True)
            ]
            rest = "".join(f"{c:>11}" for c in cells[1:])
            lines.append(f"{name:<{name_width}}{cells[0]:>12}{rest}")
        lines.append("=" * max(width, name_width + 67))
        notes = [
            "Standard errors assume that the errors' covariance is correctly specified."
            if result.use_t
            else f"Standard errors are heteroskedasticity robust ({result.cov_type})."
        ]
        if result.weighted:
            notes.append("Weights are analytic (as statsmodels' WLS): row i's variance is σ²/w_i.")
        if result.not_identified:
            notes.append(
                "X is rank deficient: not identified by the data (NaN above, their "
                "coefficients one solution of many): " + ", ".join(result.not_identified)
            )
        lines += ["Notes:"] + [f"[{i}] {note}" for i, note in enumerate(notes, start=1)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _g(value: float, digits: int, fixed: bool = False) -> str:
    """statsmodels' number style: fixed-point with ``digits`` decimals for ordinary
    magnitudes, else ``digits`` significant digits in exponent form."""
    value = float(value)
    if not np.isfinite(value):
        return str(value)
    if value == 0.0 or fixed or 1e-4 <= abs(value) < 1e4:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}g}"
