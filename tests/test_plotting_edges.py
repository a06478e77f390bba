"""Edges of the plotting helpers' curve collection: one label as a string, nothing to
plot."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from fastlinreg.plotting import plot_loss, plot_loss_vs_time


def test_a_single_string_of_labels_names_the_one_curve():
    ax = plot_loss([4.0, 2.0, 1.0], Figure().subplots(), labels="tutorial")
    [line] = ax.get_lines()
    assert line.get_label() == "tutorial" and list(line.get_ydata()) == [4.0, 2.0, 1.0]


def test_nothing_to_plot_is_refused():
    with pytest.raises(ValueError, match="an empty dict: no model or loss history to plot"):
        plot_loss({}, Figure().subplots())
    # For plot_loss, () is one (empty) history; for models it is no model at all.
    with pytest.raises(ValueError, match=r"1-D loss history, got shape \(0,\)"):
        plot_loss((), Figure().subplots())
    with pytest.raises(ValueError, match="an empty sequence: no model to plot"):
        plot_loss_vs_time([], Figure().subplots())
