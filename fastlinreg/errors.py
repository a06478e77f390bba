"""The errors and warnings fastlinreg raises for its users to catch, in one place."""


class DataError(ValueError):
    """A data file's content is wrong: its message says which file, and where.

    A :class:`ValueError`; the ``fastlinreg`` command catches ``(OSError, DataError)``
    and prints ``str(error)``, which is always one self-contained line.
    """


class DivergenceError(ValueError):
    """Gradient descent diverged: its loss rose or became non-finite."""


class PredictionOverflowWarning(RuntimeWarning):
    """``predict`` gave predictions that are not finite (NaN or infinity) for finite X:
    the products of X and the coefficients, or their sums, overflow."""
