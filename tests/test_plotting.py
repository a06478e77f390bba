import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fastlinreg import LinearRegression, plot_loss  # noqa: E402


def test_plot_loss_of_a_model(regression_data):
    model = LinearRegression(max_iter=30, tol=None).fit(*regression_data)
    ax = plot_loss(model, log=True, label="gd")
    assert ax.get_title() == "Epochs vs Loss"
    assert ax.get_xlabel() == "Epochs" and ax.get_yscale() == "log"
    (line,) = ax.get_lines()
    assert np.array_equal(line.get_ydata(), model.loss_history_)
    assert np.array_equal(line.get_xdata(), np.arange(30))


def test_plot_loss_of_a_history_on_given_axes():
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    assert plot_loss([3.0, 2.0, 1.0], ax=ax) is ax
    assert list(ax.get_lines()[0].get_ydata()) == [3.0, 2.0, 1.0]


@pytest.mark.parametrize("bad", [[], [[1.0, 2.0]], LinearRegression()])
def test_plot_loss_rejects_what_is_not_a_history(bad):
    with pytest.raises(ValueError, match="loss history"):
        plot_loss(bad)
