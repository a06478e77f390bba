"""fastlinreg: gradient-descent linear regression as fast as the memory allows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_attributes
from .errors import DataError, DivergenceError, PredictionOverflowWarning

__version__ = "0.1.0"

# The other public names, with the module each comes from, imported on first use
# (PEP 562): `import fastlinreg` (and the command line's `predict` and `--version`) do
# not pay for scikit-learn, SciPy and pandas, about a second, before they need them.
_LAZY = {
    "FileSource": ".sources.file",
    "LinearRegression": ".estimator",
    "load": ".estimator",
    "open_npz": ".sources.sparse",
    "plot_benchmark": ".plotting",
    "plot_loss": ".plotting",
    "plot_loss_vs_time": ".plotting",
    "plot_predictions": ".plotting",
}

__all__ = [
    "DataError",
    "DivergenceError",
    "FileSource",
    "LinearRegression",
    "PredictionOverflowWarning",
    "load",
    "open_npz",
    "plot_benchmark",
    "plot_loss",
    "plot_loss_vs_time",
    "plot_predictions",
    "__version__",
]

if TYPE_CHECKING:
    from .estimator import LinearRegression, load
    from .plotting import plot_benchmark, plot_loss, plot_loss_vs_time, plot_predictions
    from .sources.file import FileSource
    from .sources.sparse import open_npz


__getattr__, __dir__ = lazy_attributes(__name__, __path__, _LAZY)
