import matplotlib

matplotlib.use("Agg")

import copy  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402

from fastlinreg import LinearRegression, plot_loss  # noqa: E402
from fastlinreg.plotting import (  # noqa: E402
    plot_benchmark,
    plot_loss_vs_time,
    plot_predictions,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def models(regression_data):
    """Two fitted models of different solvers, max_iter epochs each."""
    return [
        LinearRegression(solver=solver, max_iter=max_iter, tol=None).fit(*regression_data)
        for solver, max_iter in [("gd", 30), ("agd", 20)]
    ]


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


@pytest.mark.slow
def test_importing_fastlinreg_does_not_import_matplotlib():
    code = "import fastlinreg, sys; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# plot_loss


def test_plot_loss_of_a_model(regression_data):
    model = LinearRegression(solver="gd", max_iter=30, tol=None).fit(*regression_data)
    ax = plot_loss(model, log=True, label="gd")
    assert ax.get_title() == "Epochs vs Loss"
    assert ax.get_xlabel() == "Epochs" and ax.get_yscale() == "log"
    (line,) = ax.get_lines()
    assert np.array_equal(line.get_ydata(), model.loss_history_)
    assert np.array_equal(line.get_xdata(), np.arange(30))


def test_plot_loss_of_a_history_on_given_axes():
    _, ax = plt.subplots()
    assert plot_loss([3.0, 2.0, 1.0], ax=ax) is ax
    assert list(ax.get_lines()[0].get_ydata()) == [3.0, 2.0, 1.0]


@pytest.mark.parametrize("bad", [[], [[1.0, 2.0]], LinearRegression()])
def test_plot_loss_rejects_what_is_not_a_history(bad):
    with pytest.raises(ValueError, match="loss history"):
        plot_loss(bad)


def test_plot_loss_unfitted_model_is_not_fitted_error():
    with pytest.raises(NotFittedError, match="not fitted"):
        plot_loss([LinearRegression()])


@pytest.mark.parametrize("bad", [["a", "b"], np.zeros((2, 3)), [np.array([])], {"x": []}])
def test_plot_loss_rejects_bad_histories(bad):
    with pytest.raises(ValueError, match="loss history"):
        plot_loss(bad)


def test_plot_loss_linear_by_default_and_labelled_by_solver(models):
    ax = plot_loss(models[0])
    assert ax.get_yscale() == "linear" and ax.get_ylabel() == "Loss (MSE)"
    assert ax.get_lines()[0].get_label() == "gd"
    assert legend_texts(ax) == ["gd"]


def test_plot_loss_of_a_bare_history_has_no_legend():
    ax = plot_loss(np.array([3.0, 2.0]))
    assert ax.get_legend() is None


@pytest.mark.parametrize("container", [list, tuple])
def test_plot_loss_several_models_on_one_axes(models, container):
    ax = plot_loss(container(models), log=True)
    lines = ax.get_lines()
    assert len(lines) == 2
    for line, model in zip(lines, models, strict=True):
        assert np.array_equal(line.get_ydata(), model.loss_history_)
        assert np.array_equal(line.get_xdata(), np.arange(model.n_iter_))
    assert legend_texts(ax) == ["gd", "agd"]
    assert ax.get_yscale() == "log" and ax.get_title() == "Epochs vs Loss"


def test_plot_loss_dict_keys_are_labels(models):
    ax = plot_loss({"plain": models[0], "accelerated": models[1].loss_history_})
    assert [line.get_label() for line in ax.get_lines()] == ["plain", "accelerated"]
    assert np.array_equal(ax.get_lines()[1].get_ydata(), models[1].loss_history_)
    assert legend_texts(ax) == ["plain", "accelerated"]


def test_plot_loss_list_of_arrays_with_labels():
    histories = [np.array([4.0, 2.0, 1.0]), np.array([4.0, 1.0])]
    ax = plot_loss(histories, labels=["a", "b"])
    assert [list(line.get_ydata()) for line in ax.get_lines()] == [[4.0, 2.0, 1.0], [4.0, 1.0]]
    assert legend_texts(ax) == ["a", "b"]


def test_plot_loss_models_sharing_a_solver_are_numbered(regression_data):
    fitted = [
        LinearRegression(max_iter=5, tol=None, learning_rate=lr).fit(*regression_data)
        for lr in (1e-3, 1e-2)
    ]
    ax = plot_loss(
        fitted + [LinearRegression(solver="agd", max_iter=5, tol=None).fit(*regression_data)]
    )
    assert legend_texts(ax) == ["gd #1", "gd #2", "agd"]


def test_plot_loss_adds_to_curves_already_on_the_axes(models):
    ax = plot_loss(models[0])
    assert plot_loss(models[1], ax=ax) is ax
    assert len(ax.get_lines()) == 2 and legend_texts(ax) == ["gd", "agd"]


def test_plot_loss_single_epoch_is_drawn_as_a_point(regression_data):
    model = LinearRegression(solver="exact").fit(*regression_data)
    (line,) = plot_loss(model).get_lines()
    assert line.get_marker() == "o" and len(line.get_ydata()) == 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"labels": ["only one"]}, "1 labels for 2 curves"),
        ({"label": "x", "labels": ["a", "b"]}, "not both"),
        ({"label": "x"}, "label names one curve; give labels"),
    ],
)
def test_plot_loss_rejects_labels_that_do_not_match(models, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_loss(models, **kwargs)


def test_plot_loss_dict_with_labels_is_rejected(models):
    with pytest.raises(ValueError, match="keys are its labels"):
        plot_loss({"a": models[0]}, labels=["b"])


# plot_loss_vs_time


def test_plot_loss_vs_time_of_a_model(models):
    ax = plot_loss_vs_time(models[0])
    (line,) = ax.get_lines()
    assert np.array_equal(line.get_xdata(), models[0].time_history_)
    assert np.array_equal(line.get_ydata(), models[0].loss_history_)
    assert ax.get_title() == "Loss vs wall time"
    assert ax.get_xlabel() == "Wall time (s)" and ax.get_ylabel() == "Loss (MSE)"
    assert ax.get_yscale() == "log" and ax.get_xscale() == "linear"
    assert legend_texts(ax) == ["gd"]


def test_plot_loss_vs_time_several_models_on_given_axes(models):
    _, ax = plt.subplots()
    assert plot_loss_vs_time(models, ax, log=False, labels=["GD", "AGD"]) is ax
    assert ax.get_yscale() == "linear"
    for line, model in zip(ax.get_lines(), models, strict=True):
        assert np.array_equal(line.get_xdata(), model.time_history_)
        assert np.array_equal(line.get_ydata(), model.loss_history_)
    assert legend_texts(ax) == ["GD", "AGD"]


def test_plot_loss_vs_time_dict(models):
    ax = plot_loss_vs_time({"first": models[0], "second": models[1]})
    assert legend_texts(ax) == ["first", "second"]


def test_plot_loss_vs_time_time_history_is_nondecreasing(models):
    (line,) = plot_loss_vs_time(models[1]).get_lines()
    assert np.all(np.diff(line.get_xdata()) >= 0)


@pytest.mark.parametrize("bad", [[3.0, 2.0], np.array([3.0, 2.0])])
def test_plot_loss_vs_time_rejects_bare_histories(bad):
    with pytest.raises(ValueError, match="time_history_"):
        plot_loss_vs_time(bad)


def test_plot_loss_vs_time_rejects_a_model_without_time_history(models):
    model = copy.copy(models[0])
    model.time_history_ = None
    with pytest.raises(ValueError, match="has no time_history_"):
        plot_loss_vs_time([models[1], model])
    del model.time_history_
    with pytest.raises(ValueError, match="has no time_history_"):
        plot_loss_vs_time(model)


def test_plot_loss_vs_time_rejects_histories_of_different_lengths(models):
    model = copy.copy(models[0])
    model.time_history_ = model.time_history_[:-1]
    with pytest.raises(ValueError, match="one entry per epoch"):
        plot_loss_vs_time(model)


def test_plot_loss_vs_time_rejects_an_unfitted_model():
    with pytest.raises(NotFittedError):
        plot_loss_vs_time(LinearRegression())


# plot_predictions


def test_plot_predictions_scatter_diagonal_and_r2(regression_data):
    X, y = regression_data
    model = LinearRegression(solver="exact").fit(X, y)
    _, ax = plt.subplots()
    assert plot_predictions(model, X, y, ax) is ax
    predicted = model.predict(X)
    (points,) = ax.collections
    assert np.allclose(points.get_offsets(), np.column_stack([y, predicted]))
    (diagonal,) = ax.get_lines()
    low, high = min(y.min(), predicted.min()), max(y.max(), predicted.max())
    assert np.allclose(diagonal.get_xdata(), [low, high])
    assert np.allclose(diagonal.get_ydata(), [low, high])
    assert ax.get_title() == f"Predicted vs actual, R² = {r2_score(y, predicted):.4f}"
    assert ax.get_xlabel() == "Actual" and ax.get_ylabel() == "Predicted"
    assert legend_texts(ax) == ["samples", "y = x"]


def test_plot_predictions_accepts_a_column_y(regression_data):
    X, y = regression_data
    model = LinearRegression(solver="exact").fit(X, y)
    ax = plot_predictions(model, X, y[:, None], target=0)
    assert np.allclose(ax.collections[0].get_offsets()[:, 0], y)


@pytest.fixture
def two_targets(regression_data):
    X, y = regression_data
    Y = np.column_stack([y, -2.0 * y + X[:, 0]])
    return LinearRegression(solver="exact").fit(X, Y), X, Y


def test_plot_predictions_multi_target_needs_target(two_targets):
    with pytest.raises(ValueError, match="predicts 2 targets; choose one with target"):
        plot_predictions(*two_targets)


def test_plot_predictions_chosen_target(two_targets):
    model, X, Y = two_targets
    ax = plot_predictions(model, X, Y, target=1)
    predicted = model.predict(X)[:, 1]
    assert np.allclose(ax.collections[0].get_offsets(), np.column_stack([Y[:, 1], predicted]))
    r2 = r2_score(Y[:, 1], predicted)
    assert ax.get_title() == f"Predicted vs actual (target 1), R² = {r2:.4f}"


@pytest.mark.parametrize("target", [2, -1, 0.5, "0", True])
def test_plot_predictions_rejects_a_bad_target(two_targets, target):
    with pytest.raises(ValueError, match="not a target index"):
        plot_predictions(*two_targets, target=target)


def test_plot_predictions_rejects_y_of_the_wrong_shape(regression_data, two_targets):
    X, y = regression_data
    model = LinearRegression(solver="exact").fit(X, y)
    with pytest.raises(ValueError, match="to match the predictions"):
        plot_predictions(model, X, y[:-1])
    with pytest.raises(ValueError, match="y has 1 targets but the model predicts 2"):
        plot_predictions(two_targets[0], X, y, target=0)


def test_plot_predictions_rejects_an_unfitted_model(regression_data):
    with pytest.raises(NotFittedError):
        plot_predictions(LinearRegression(), *regression_data)


# plot_benchmark


def row(implementation, shape, ms, gb=None, fraction=None, dtype="float64"):
    return SimpleNamespace(
        implementation=implementation,
        shape=shape,
        dtype=dtype,
        ms_per_epoch=ms,
        gb_per_s=gb,
        stream_fraction=fraction,
    )


@pytest.fixture
def bench_result():
    return SimpleNamespace(
        rows=[
            row("fastlinreg parallel", "1000x10", 0.05, 1.6, 1.2),
            row("fastlinreg serial", "1000x10", 0.1, 0.8, 2.5),
            row("numpy reference", "1000x10", 0.3, 0.27, 7.0),
            row("fastlinreg parallel", "1000000x10", 20.0, 4.0, 1.1),
            row("fastlinreg serial", "1000000x10", 80.0, 1.0, 4.4),
            row("numpy reference", "1000000x10", 150.0, 0.53, 8.2),
            row("scikit-learn SGD", "1000000x10", 900.0, None, None),
        ]
    )


def bars(ax):
    """{implementation: [(bar centre, height), ...]} of a bar chart."""
    return {
        container.get_label(): [
            (round(p.get_x() + p.get_width() / 2, 9), float(p.get_height())) for p in container
        ]
        for container in ax.containers
    }


def test_plot_benchmark_groups_by_shape_bars_by_implementation(bench_result):
    _, ax = plt.subplots()
    assert plot_benchmark(bench_result, ax) is ax
    width = 0.8 / 4
    centre = {i: (i - 1.5) * width for i in range(4)}
    assert bars(ax) == {
        "fastlinreg parallel": [(round(centre[0], 9), 0.05), (round(1 + centre[0], 9), 20.0)],
        "fastlinreg serial": [(round(centre[1], 9), 0.1), (round(1 + centre[1], 9), 80.0)],
        "numpy reference": [(round(centre[2], 9), 0.3), (round(1 + centre[2], 9), 150.0)],
        "scikit-learn SGD": [(round(1 + centre[3], 9), 900.0)],
    }
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1000x10", "1000000x10"]
    assert list(ax.get_xticks()) == [0, 1]
    assert ax.get_title() == "Epoch time by implementation"
    assert ax.get_ylabel() == "Time per epoch (ms)" and ax.get_yscale() == "linear"
    assert legend_texts(ax) == [
        "fastlinreg parallel",
        "fastlinreg serial",
        "numpy reference",
        "scikit-learn SGD",
    ]


def test_plot_benchmark_other_metric_skips_missing_values(bench_result):
    ax = plot_benchmark(bench_result, metric="gb_per_s", log=True)
    heights = {name: [h for _, h in values] for name, values in bars(ax).items()}
    # scikit-learn SGD has no GB/s: no bar, no legend entry, no slot.
    assert heights == {
        "fastlinreg parallel": [1.6, 4.0],
        "fastlinreg serial": [0.8, 1.0],
        "numpy reference": [0.27, 0.53],
    }
    assert ax.get_ylabel() == "Throughput (GB/s)" and ax.get_yscale() == "log"
    assert ax.containers[0].patches[0].get_width() == pytest.approx(0.8 / 3)


def test_plot_benchmark_stream_fraction_draws_the_bound(bench_result):
    ax = plot_benchmark(bench_result.rows, metric="stream_fraction")
    assert [h for _, h in bars(ax)["fastlinreg serial"]] == [2.5, 4.4]
    assert ax.get_ylabel() == "Epoch time / streaming-read bound"
    (bound,) = ax.get_lines()
    assert list(bound.get_ydata()) == [1.0, 1.0]
    assert "streaming-read bound" in legend_texts(ax)


def test_plot_benchmark_several_dtypes_are_separate_groups():
    rows = [
        row("serial", "100x2", 1.0, dtype="float64"),
        row("serial", "100x2", 0.6, dtype="float32"),
        row("parallel", "100x2", 0.5, dtype="float64"),
    ]
    ax = plot_benchmark(SimpleNamespace(rows=rows))
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["100x2\nfloat64", "100x2\nfloat32"]
    assert [h for _, h in bars(ax)["serial"]] == [1.0, 0.6]
    assert [h for _, h in bars(ax)["parallel"]] == [0.5]


@pytest.mark.parametrize(
    "rows, kwargs, match",
    [
        ([], {}, "no rows"),
        ([row("a", "1x1", 1.0)], {"metric": "seconds"}, "metric='seconds'"),
        ([row("a", "1x1", 1.0)], {"metric": "gb_per_s"}, "no row .* value for 'gb_per_s'"),
        ([row("a", "1x1", 1.0), row("a", "1x1", 2.0)], {}, "two rows for 'a'"),
    ],
)
def test_plot_benchmark_errors(rows, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_benchmark(SimpleNamespace(rows=rows), **kwargs)


# --- collecting the curves: one label as a string, nothing to plot ------------------------


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
