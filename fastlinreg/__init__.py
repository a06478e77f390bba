"""fastlinreg: gradient-descent linear regression as fast as the memory allows."""

from . import _config  # noqa: F401  (sets the thread-safe threading layer first)
from .errors import DataError, DivergenceError, PredictionOverflowWarning
from .estimator import LinearRegression, load
from .plotting import plot_benchmark, plot_loss, plot_loss_vs_time, plot_predictions
from .sources import FileSource
from .sources.sparse import open_npz

__version__ = "0.1.0"
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
