"""Plots: loss curves, predictions and benchmark charts.

matplotlib is imported only when a plot is drawn, so ``import fastlinreg`` does not
import it. Every function draws on ``ax`` (a new figure's Axes if None) and returns
the Axes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Integral
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_NOT_FITTED = (
    "This %(name)s instance is not fitted yet: it has no loss history. "
    "Call 'fit' before plotting it."
)
# Benchmark metrics (attributes of a row of a fastlinreg.bench result) and their axis label.
_BENCHMARK_METRICS = {
    "ms_per_epoch": "Time per epoch (ms)",
    "gb_per_s": "Throughput (GB/s)",
    "stream_fraction": "Epoch time / streaming-read bound",
}


def plot_loss(
    models_or_histories: Any,
    ax: Axes | None = None,
    *,
    log: bool = False,
    labels: Sequence[str | None] | None = None,
    label: str | None = None,
) -> Axes:
    """The tutorial's "Epochs vs Loss" plot, for one model or several on one Axes.

    Parameters
    ----------
    models_or_histories : fitted LinearRegression, array-like of shape (n_epochs,), \
list, tuple or dict of them
        A model (its ``loss_history_`` is drawn) or a loss history; or several, one
        curve each: a list or tuple of models or of 1-D ndarrays, or a dict
        {label: model or history}. A plain list of numbers is one history.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure's Axes if None.
    log : bool, default=False
        Logarithmic loss axis.
    labels : sequence of str, default=None
        Legend labels, one per curve (a dict's keys are its labels). By default a
        model is labelled by its ``solver_`` (numbered when several share one) and a
        bare history is not labelled.
    label : str, default=None
        Legend label of a single curve (the same as ``labels=[label]``).

    Returns
    -------
    ax : matplotlib Axes
        One line per curve: x the epoch index ``0 .. n_epochs - 1``, y the loss.

    Raises
    ------
    ValueError
        If a history is empty or not 1-D, a model is not fitted (``NotFittedError``),
        or the labels do not match the curves.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> from fastlinreg.plotting import plot_loss
    >>> ax = plot_loss({"gd": [4.0, 2.0, 1.0], "agd": [4.0, 1.0]}, Figure().subplots(), log=True)
    >>> [line.get_label() for line in ax.get_lines()], ax.get_yscale()
    (['gd', 'agd'], 'log')
    """
    curves = [
        (name, _loss_history(item))
        for name, item in _collect(models_or_histories, labels, label, histories_allowed=True)
    ]
    lines = [(name, np.arange(history.size), history) for name, history in curves]
    return _loss_curves(_axes(ax), lines, "Epochs vs Loss", "Epochs", log)


def plot_loss_vs_time(
    models: Any,
    ax: Axes | None = None,
    *,
    log: bool = True,
    labels: Sequence[str | None] | None = None,
) -> Axes:
    """Loss against wall time since the start of ``fit``, for one model or several.

    Parameters
    ----------
    models : fitted LinearRegression, or list, tuple or dict of them
        Models with ``loss_history_`` and ``time_history_`` of shape (n_iter_,); a
        dict is {label: model}.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure's Axes if None.
    log : bool, default=True
        Logarithmic loss axis.
    labels : sequence of str, default=None
        Legend labels, one per model; by default each model's ``solver_`` (numbered
        when several share one).

    Returns
    -------
    ax : matplotlib Axes
        One line per model: x ``time_history_`` (s), y ``loss_history_``.

    Raises
    ------
    ValueError
        If a model is not fitted (``NotFittedError``), has no ``time_history_`` (a bare
        loss history has none) or its histories differ in length, or the labels do
        not match the models.

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> from fastlinreg import LinearRegression
    >>> from fastlinreg.plotting import plot_loss_vs_time
    >>> X, y = np.arange(8.0).reshape(4, 2), np.arange(4.0)
    >>> models = [LinearRegression(solver=s).fit(X, y) for s in ("gd", "agd")]
    >>> ax = plot_loss_vs_time(models, Figure().subplots())
    >>> [line.get_label() for line in ax.get_lines()], ax.get_xlabel()
    (['gd', 'agd'], 'Wall time (s)')
    """
    curves = []
    for name, model in _collect(models, labels, None, histories_allowed=False):
        if not _is_model(model):
            raise ValueError(
                "plot_loss_vs_time needs fitted models (with time_history_), got "
                f"{type(model).__name__}; plot a bare loss history with plot_loss"
            )
        history = _loss_history(model)
        times = getattr(model, "time_history_", None)
        if times is None:
            raise ValueError(
                f"{type(model).__name__} ({name}) has no time_history_: "
                "plot_loss_vs_time needs the wall time of each loss"
            )
        times = np.asarray(times, dtype=np.float64)
        if times.shape != history.shape:
            raise ValueError(
                f"time_history_ has shape {times.shape} but loss_history_ {history.shape}; "
                "they should have one entry per epoch each"
            )
        curves.append((name, times, history))
    return _loss_curves(_axes(ax), curves, "Loss vs wall time", "Wall time (s)", log)


def _loss_curves(ax: Axes, lines: list, title: str, xlabel: str, log: bool) -> Axes:
    """Draw (label, x, loss) lines on ax with the loss axis and the legend."""
    for name, x, history in lines:
        # A one-epoch history ("exact") is a single point: a line would not show it.
        marker = "o" if history.size == 1 else None
        ax.plot(x, history, marker=marker, label=name)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Loss (MSE)")
    if log:
        ax.set_yscale("log")
    _legend(ax, lines)
    return ax


def plot_predictions(
    model: Any, X: Any, y: Any, ax: Axes | None = None, *, target: int | None = None
) -> Axes:
    """Predicted against actual values, with the y = x diagonal and R² in the title.

    Parameters
    ----------
    model : fitted LinearRegression
        Any fitted regressor with ``predict``.
    X : array-like of shape (n_samples, n_features)
        Samples.
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        True target values.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure's Axes if None.
    target : int, default=None
        Which target to draw for a multi-target model (required there); None or 0
        for a single target.

    Returns
    -------
    ax : matplotlib Axes
        A scatter of (actual, predicted), one point per sample, and the diagonal
        line; the title gives ``sklearn.metrics.r2_score`` of that target.

    Raises
    ------
    ValueError
        If the model is not fitted (``NotFittedError``), y does not match the
        predictions' shape, or ``target`` is missing (multi-target) or out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> from fastlinreg import LinearRegression
    >>> from fastlinreg.plotting import plot_predictions
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([1.0, 3.0, 5.0, 7.0])
    >>> model = LinearRegression(solver="exact").fit(X, y)
    >>> plot_predictions(model, X, y, Figure().subplots()).get_title()
    'Predicted vs actual, R² = 1.0000'
    """
    from sklearn.metrics import r2_score
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    predicted = np.asarray(model.predict(X))
    actual = np.asarray(y, dtype=np.float64)
    n_samples = predicted.shape[0]
    if actual.ndim not in (1, 2) or actual.shape[0] != n_samples:
        raise ValueError(
            f"y has shape {actual.shape}; expected ({n_samples},) or ({n_samples}, n_targets) "
            "to match the predictions"
        )
    predicted = predicted.reshape(n_samples, -1)
    actual = actual.reshape(n_samples, -1)
    n_targets = predicted.shape[1]
    if actual.shape[1] != n_targets:
        raise ValueError(f"y has {actual.shape[1]} targets but the model predicts {n_targets}")
    if target is None:
        if n_targets > 1:
            raise ValueError(
                f"the model predicts {n_targets} targets; choose one with target=0..."
                f"{n_targets - 1}"
            )
        column = 0
    elif (
        not isinstance(target, Integral) or isinstance(target, bool) or not 0 <= target < n_targets
    ):
        raise ValueError(f"target={target!r} is not a target index in 0..{n_targets - 1}")
    else:
        column = int(target)
    actual, predicted = actual[:, column], predicted[:, column]
    r2 = r2_score(actual, predicted)

    ax = _axes(ax)
    ax.scatter(actual, predicted, s=12, alpha=0.6, label="samples")
    low = float(min(actual.min(), predicted.min()))
    high = float(max(actual.max(), predicted.max()))
    ax.plot([low, high], [low, high], linestyle="--", color="0.4", label="y = x")
    which = f" (target {column})" if n_targets > 1 else ""
    ax.set_title(f"Predicted vs actual{which}, R² = {r2:.4f}")
    ax.set_xlabel("Actual")
    ax.set_ylabel("Predicted")
    ax.legend()
    return ax


def plot_benchmark(
    result: Any, ax: Axes | None = None, *, metric: str = "ms_per_epoch", log: bool = False
) -> Axes:
    """A grouped bar chart of a benchmark: a group per shape, a bar per implementation.

    Parameters
    ----------
    result : object with ``rows``, or sequence of rows
        A ``fastlinreg.bench`` result. Each row has ``implementation`` (str),
        ``shape`` (str, e.g. "1000000x10"), ``dtype`` (str) and the metrics
        ``ms_per_epoch`` (float), ``gb_per_s`` and ``stream_fraction`` (float or None).
    ax : matplotlib Axes, default=None
        Where to draw; a new figure's Axes if None.
    metric : {"ms_per_epoch", "gb_per_s", "stream_fraction"}, default="ms_per_epoch"
        The row attribute drawn as bar height. "stream_fraction" (epoch time over the
        streaming-read bound) also draws the bound, 1, as a dashed line.
    log : bool, default=False
        Logarithmic metric axis (times of different shapes differ by orders of
        magnitude).

    Returns
    -------
    ax : matplotlib Axes
        ``ax.containers`` holds one bar container per implementation, labelled with
        it, in order of first appearance; groups are the shapes in order of first
        appearance ("shape\\ndtype" when the rows have several dtypes). A row whose
        metric is None or NaN has no bar.

    Raises
    ------
    ValueError
        If there are no rows, ``metric`` is unknown, no row has a value for it, or
        two rows share implementation, shape and dtype.

    Examples
    --------
    >>> from types import SimpleNamespace as Row
    >>> from matplotlib.figure import Figure
    >>> from fastlinreg.plotting import plot_benchmark
    >>> rows = [
    ...     Row(implementation=name, shape="1000x10", dtype="float64", ms_per_epoch=ms,
    ...         gb_per_s=None, stream_fraction=None)
    ...     for name, ms in [("serial", 2.0), ("parallel", 0.5)]
    ... ]
    >>> ax = plot_benchmark(Row(rows=rows), Figure().subplots())
    >>> [(bars.get_label(), float(bars.patches[0].get_height())) for bars in ax.containers]
    [('serial', 2.0), ('parallel', 0.5)]
    """
    if metric not in _BENCHMARK_METRICS:
        raise ValueError(f"metric={metric!r}; expected one of {sorted(_BENCHMARK_METRICS)}")
    rows = list(getattr(result, "rows", result))
    if not rows:
        raise ValueError("the benchmark result has no rows to plot")
    several_dtypes = len({row.dtype for row in rows}) > 1

    def group(row: Any) -> str:
        return f"{row.shape}\n{row.dtype}" if several_dtypes else str(row.shape)

    values: dict[tuple[str, str], float] = {}
    seen: set[tuple[str, str]] = set()
    for row in rows:
        key = (group(row), str(row.implementation))
        if key in seen:
            raise ValueError(
                f"two rows for {row.implementation!r} at shape {row.shape} {row.dtype}"
            )
        seen.add(key)
        value = getattr(row, metric)
        if value is not None and np.isfinite(value):
            values[key] = float(value)
    if not values:
        raise ValueError(f"no row of the benchmark result has a value for {metric!r}")
    groups = list(dict.fromkeys(group(row) for row in rows))
    # Implementations without a single value take no slot in the groups.
    implementations = [
        name
        for name in dict.fromkeys(str(row.implementation) for row in rows)
        if any((g, name) in values for g in groups)
    ]

    ax = _axes(ax)
    width = 0.8 / len(implementations)
    for i, name in enumerate(implementations):
        offset = (i - (len(implementations) - 1) / 2) * width
        present = [g for g in range(len(groups)) if (groups[g], name) in values]
        ax.bar(
            [g + offset for g in present],
            [values[groups[g], name] for g in present],
            width,
            label=name,
        )
    if metric == "stream_fraction":
        ax.axhline(1.0, linestyle="--", color="0.4", label="streaming-read bound")
    ax.set_xticks(range(len(groups)), groups)
    ax.set_title("Epoch time by implementation")
    ax.set_xlabel("Shape (rows x columns)")
    ax.set_ylabel(_BENCHMARK_METRICS[metric])
    if log:
        ax.set_yscale("log")
    ax.legend()
    return ax


def _axes(ax: Axes | None) -> Axes:
    """``ax``, or the Axes of a new pyplot figure (matplotlib imported only here)."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def _legend(ax: Axes, curves: Sequence[tuple[Any, ...]]) -> None:
    """A legend when some curve is labelled (an empty legend would only warn)."""
    if any(curve[0] is not None for curve in curves):
        ax.legend()


def _is_model(obj: Any) -> bool:
    return hasattr(obj, "fit") or hasattr(obj, "loss_history_")


def _collect(
    obj: Any,
    labels: Sequence[str | None] | None,
    label: str | None,
    *,
    histories_allowed: bool,
) -> list[tuple[str | None, Any]]:
    """The curves to draw: (label, model or history) pairs, with default labels.

    One curve, or several from a dict {label: item}, a list or a tuple. With
    ``histories_allowed`` a list or tuple is several curves only when it holds models or
    ndarrays, so that ``[3.0, 2.0, 1.0]`` stays one history.
    """
    if isinstance(labels, str):
        labels = [labels]
    if label is not None:
        if labels is not None:
            raise ValueError("give either label (one curve) or labels (one per curve), not both")
        labels = [label]
    if isinstance(obj, Mapping):
        if labels is not None:
            raise ValueError("a dict's keys are its labels: labels cannot be given with it")
        if not obj:
            raise ValueError("an empty dict: no model or loss history to plot")
        return [(str(key), item) for key, item in obj.items()]
    several = isinstance(obj, (list, tuple)) and (
        not histories_allowed or any(_is_model(o) or isinstance(o, np.ndarray) for o in obj)
    )
    items = list(obj) if several else [obj]
    if not items:
        raise ValueError("an empty sequence: no model to plot")
    if labels is None:
        # The solver that ran (solver_: what "auto" chose), for fitted models.
        names: list[str | None] = [
            str(getattr(item, "solver_", item.solver)) if hasattr(item, "solver") else None
            for item in items
        ]
        # Models that share a solver are told apart by number ("gd #1", "gd #2").
        counts = {name: names.count(name) for name in names if name is not None}
        seen: dict[str, int] = {}
        for i, name in enumerate(names):
            if name is not None and counts[name] > 1:
                seen[name] = seen.get(name, 0) + 1
                names[i] = f"{name} #{seen[name]}"
    else:
        names = [None if name is None else str(name) for name in labels]
        if label is not None and len(items) > 1:
            raise ValueError(f"label names one curve; give labels=[...] for {len(items)} curves")
        if len(names) != len(items):
            raise ValueError(f"{len(names)} labels for {len(items)} curves")
    return list(zip(names, items, strict=True))


def _loss_history(item: Any) -> np.ndarray:
    """The loss history of a fitted model, or ``item`` itself as a 1-D float array."""
    if hasattr(item, "fit"):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(item, "loss_history_", msg=_NOT_FITTED)
    history = getattr(item, "loss_history_", item)
    try:
        history = np.asarray(history, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"expected a fitted model or a 1-D loss history, got {type(history).__name__}"
        ) from error
    if history.ndim != 1 or history.size == 0:
        raise ValueError(
            f"expected a fitted model or a 1-D loss history, got shape {history.shape}"
        )
    return history
