"""Plots. matplotlib is imported only when a plot is drawn."""

from __future__ import annotations

from typing import Any

import numpy as np


def plot_loss(
    model_or_history: Any, ax: Any = None, *, log: bool = False, label: str | None = None
):
    """The tutorial's "Epochs vs Loss" plot.

    Parameters
    ----------
    model_or_history : fitted LinearRegression or array-like of shape (n_epochs,)
        A model (its ``loss_history_`` is drawn) or a loss history.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure's Axes if None.
    log : bool, default=False
        Logarithmic loss axis.
    label : str, default=None
        Legend label of the curve.

    Returns
    -------
    ax : matplotlib Axes
    """
    history = np.asarray(getattr(model_or_history, "loss_history_", model_or_history))
    if history.ndim != 1 or history.size == 0:
        raise ValueError(
            f"expected a fitted model or a 1-D loss history, got shape {history.shape}"
        )
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    ax.plot(np.arange(history.size), history, label=label)
    ax.set_title("Epochs vs Loss")
    ax.set_xlabel("Epochs")
    ax.set_ylabel("Loss (MSE)")
    if log:
        ax.set_yscale("log")
    if label is not None:
        ax.legend()
    return ax
