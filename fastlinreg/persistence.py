"""Safe model files: save and load a fitted ``LinearRegression`` without pickle.

A model file is an uncompressed ``.npz`` archive (a zip of ``.npy`` arrays) that holds
nothing executable: it is read with ``allow_pickle=False``. Its members:

``header``
    0-d unicode array: a JSON object with ``"format": "fastlinreg-model"``,
    ``"format_version"`` (1), ``"fastlinreg_version"``, ``"estimator"``, ``"params"``
    (``get_params()``) and ``"attributes"`` (``n_iter_``, ``converged_``,
    ``learning_rate_``, ``rank_``, ``n_features_in_``, ``solver_`` (absent from files
    written before solver="auto"; it is then ``solver``) and, when fitted on named
    columns, ``feature_names_in_``).
``coef_``
    float32 or float64, shape (n_features,) or (n_targets, n_features), as fitted.
``intercept_``
    coef_'s dtype, shape () for a single target (``intercept_`` is then a NumPy
    scalar), else (n_targets,).
``loss_history_``, ``time_history_``
    float64, shape (n_iter_,).

The numbers live in binary arrays, not in text, so the loaded model's ``predict`` is
bit-identical to the saved one's. Pickling a model works as for any scikit-learn
estimator; this format is for files that may come from elsewhere.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
import zlib
from operator import index
from typing import TYPE_CHECKING, Any, NamedTuple, TypeGuard

import numpy as np

from .outputs import output_file

if TYPE_CHECKING:  # the estimator imports this module: no import back at run time
    from .estimator import LinearRegression

FORMAT = "fastlinreg-model"
FORMAT_VERSION = 1
_ESTIMATOR = "fastlinreg.LinearRegression"
_ARRAYS = ("coef_", "intercept_", "loss_history_", "time_history_")
_MEMBERS = frozenset(("header", *_ARRAYS))
# What numpy and zipfile raise on a damaged or foreign archive (a bad CRC, a truncated
# member, a mangled .npy header, a header that asks for a huge array, ...).
_READ_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    KeyError,
    zipfile.BadZipFile,
    zlib.error,
    struct.error,
    NotImplementedError,
    RuntimeError,
    OverflowError,
    MemoryError,
)


class _Invalid(Exception):
    """What is wrong with a model file (turned into a ValueError naming the file)."""


class _NewerFormat(Exception):
    """The file is a model file of a format version this fastlinreg cannot read."""


def save(model: LinearRegression, path: str | os.PathLike[str]) -> None:
    """Write a fitted model to ``path`` in a safe, non-executable format.

    The file is an ``.npz`` archive (see the module docstring) written to exactly
    ``path`` (no suffix is added) by :func:`fastlinreg.outputs.output_file`: a file is
    written to a temporary file in the same directory and then renamed, so ``path``
    never holds a half-written model; a symbolic link's target is written (the link
    stays); a FIFO or a device is written into; ``-`` is standard output. The model is
    not modified.

    Parameters
    ----------
    model : LinearRegression
        Fitted estimator. Its ``callback`` parameter must be None.
    path : str or os.PathLike
        Destination; an existing file is replaced (keeping its permission bits).

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the model is not fitted.
    ValueError
        If a parameter cannot be stored (a callback, or a value that is not None, a
        bool, a number or a string).
    OSError
        If ``path`` cannot be written (its directory is missing or not writable, ...);
        the message names ``path``, never the temporary file, and an existing file is
        left as it was.

    See Also
    --------
    fastlinreg.load : Read the model back.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from fastlinreg import LinearRegression, load
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> model = LinearRegression(solver="exact").fit(X, 2.0 * X[:, 0] + 1.0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "model.npz")
    ...     model.save(path)
    ...     loaded = load(path)
    >>> np.array_equal(loaded.predict(X), model.predict(X))
    True
    """
    from sklearn.utils.validation import check_is_fitted

    from . import __version__

    model_type = type(model)
    if f"{model_type.__module__.partition('.')[0]}.{model_type.__qualname__}" != _ESTIMATOR:
        raise TypeError(f"expected a fastlinreg.LinearRegression, got {type(model).__name__}")
    check_is_fitted(model)
    params = model.get_params(deep=False)
    if params["callback"] is not None:
        raise ValueError(
            "a callback cannot be saved (it is code, and the format holds none): "
            "set callback=None (model.set_params(callback=None)) before saving"
        )
    attributes: dict[str, Any] = {
        "n_iter_": index(model.n_iter_),
        "converged_": bool(model.converged_),
        "learning_rate_": None if model.learning_rate_ is None else float(model.learning_rate_),
        "rank_": None if model.rank_ is None else index(model.rank_),
        "n_features_in_": index(model.n_features_in_),
        "solver_": str(model.solver_),
    }
    if hasattr(model, "feature_names_in_"):
        attributes["feature_names_in_"] = [str(name) for name in model.feature_names_in_]
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fastlinreg_version": __version__,
        "estimator": _ESTIMATOR,
        "params": {name: _json_param(name, value) for name, value in params.items()},
        "attributes": attributes,
    }
    coef = np.asarray(model.coef_)
    if coef.dtype not in (np.float32, np.float64):
        raise ValueError(f"coef_ has dtype {coef.dtype}; expected float32 or float64")
    arrays = {
        "header": np.array(json.dumps(header)),
        "coef_": coef,
        "intercept_": np.asarray(model.intercept_, dtype=coef.dtype),
        "loss_history_": np.asarray(model.loss_history_, dtype=np.float64),
        "time_history_": np.asarray(model.time_history_, dtype=np.float64),
    }
    _write_archive(os.fsdecode(os.fspath(path)), arrays)


class SavedModel(NamedTuple):
    """What a model file holds, each part checked (:func:`read_model`)."""

    params: dict[str, Any]
    """The estimator's parameters as saved (checked by :func:`load_model` only)."""
    attributes: dict[str, Any]
    """The fitted attributes of the header, ``solver_`` filled in."""
    coef: np.ndarray
    intercept: np.ndarray
    """Shape () for a single target, else (n_targets,)."""
    loss_history: np.ndarray
    time_history: np.ndarray

    @property
    def feature_names(self) -> list[str] | None:
        return self.attributes.get("feature_names_in_")


def read_model(path: str | os.PathLike[str]) -> SavedModel:
    """The content of the model file ``path``: the format, the fitted attributes and the
    arrays checked as :func:`fastlinreg.load` checks them, but not the estimator's
    parameters, which need the estimator (and scikit-learn) to check and which a
    prediction does not read. ``fastlinreg predict`` reads models this way: it starts
    without importing scikit-learn.

    Raises FileNotFoundError, or ValueError naming the file and what is wrong with it.
    """
    return _read_checked(path, _checked_model)


def load_model(
    path: str | os.PathLike[str], model_class: type[LinearRegression]
) -> LinearRegression:
    """A ``model_class`` instance read from ``path`` and checked, parameters included
    (see :func:`fastlinreg.load`, which passes :class:`fastlinreg.LinearRegression`)."""
    return _read_checked(path, lambda header, arrays: _rebuild(header, arrays, model_class))


def _read_checked(path: str | os.PathLike[str], build):
    """``build(header, arrays)`` of the model file ``path``, what is wrong with the file
    raised as a ValueError that names it."""
    name = os.fsdecode(os.fspath(path))
    with open(name, "rb") as file:  # a missing file raises FileNotFoundError here
        try:
            header, arrays = _read(file)
            return build(header, arrays)
        except _NewerFormat as error:
            raise ValueError(f"{name}: {error}") from None
        except _Invalid as error:
            raise ValueError(f"{name}: not a fastlinreg model file: {error}") from None


def _json_param(name: str, value: Any) -> Any:
    """A parameter as a JSON value that reads back as the same Python value."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return index(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    raise ValueError(
        f"parameter {name}={value!r} cannot be saved: only None, bools, numbers and strings can"
    )


def _write_archive(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as an .npz archive to the output ``path`` (see
    :func:`fastlinreg.outputs.output_file`: a file is replaced in one step)."""
    with output_file(path) as file:
        # What np.savez writes, but with allow_pickle=False: nothing executable can slip
        # in. (np.savez on a name would also append ".npz" to it.) On a stream that
        # cannot seek (standard output, a FIFO), zipfile puts each member's sizes and
        # CRC after its data; a file written so reads back the same.
        with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED) as archive:
            for key, array in arrays.items():
                with archive.open(f"{key}.npy", mode="w", force_zip64=True) as member:
                    np.lib.format.write_array(member, array, allow_pickle=False)


def _read(file) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header and the arrays of an open model file, read without pickle."""
    try:
        with zipfile.ZipFile(file) as archive:
            # Check every member's CRC first: a damaged file then fails here, cleanly,
            # rather than in numpy (or after numpy allocated what a mangled header asks).
            damaged = archive.testzip()
        if damaged is not None:
            raise _Invalid(f"corrupted (bad checksum in {damaged!r})")
        file.seek(0)
        with np.load(file, allow_pickle=False) as npz:
            members = set(npz.files)
            if "header" not in members:
                raise _Invalid(f"no 'header' array (it holds {sorted(members)})")
            # A member not named *.npy comes back as raw bytes, not as an array.
            header_array = npz["header"]
            if not (
                isinstance(header_array, np.ndarray)
                and header_array.dtype.kind == "U"
                and header_array.shape == ()
            ):
                raise _Invalid("the 'header' array is not a string")
            header = _parse_header(str(header_array[()]))
            missing = sorted(_MEMBERS - members)
            if missing:
                raise _Invalid(f"missing arrays {missing}")
            unexpected = sorted(members - _MEMBERS)
            if unexpected:
                raise _Invalid(f"unexpected arrays {unexpected}")
            arrays = {key: npz[key] for key in _ARRAYS}
    except zipfile.BadZipFile as error:
        raise _Invalid(f"not a valid .npz (zip) archive ({error})") from None
    except _READ_ERRORS as error:
        raise _Invalid(f"unreadable ({type(error).__name__}: {error})") from None
    return header, arrays


def _parse_header(text: str) -> dict[str, Any]:
    """The header's JSON object, with its format marker and version checked."""
    try:
        header = json.loads(text)
    except ValueError as error:
        raise _Invalid(f"the header is not JSON ({error})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _Invalid(f"no format marker {FORMAT!r} in the header")
    version = header.get("format_version")
    if not _is_int(version) or version < 1:
        raise _Invalid(f"format_version is {version!r}; expected a positive integer")
    if version > FORMAT_VERSION:
        from . import __version__

        raise _NewerFormat(
            f"written by a newer fastlinreg ({header.get('fastlinreg_version')!r}, model "
            f"format {version}); fastlinreg {__version__} reads format {FORMAT_VERSION} "
            "only: upgrade fastlinreg to load it"
        )
    if header.get("estimator") != _ESTIMATOR:
        raise _Invalid(f"estimator is {header.get('estimator')!r}; expected {_ESTIMATOR!r}")
    for key in ("params", "attributes"):
        if not isinstance(header.get(key), dict):
            raise _Invalid(f"the header has no {key!r} object")
    if not isinstance(header.get("fastlinreg_version"), str):
        raise _Invalid("the header has no fastlinreg_version string")
    return header


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _float_array(arrays: dict[str, np.ndarray], key: str, dtypes, ndims) -> np.ndarray:
    """``arrays[key]``, checked to be a float array of one of ``dtypes`` and ``ndims``."""
    array = arrays[key]
    if not isinstance(array, np.ndarray):
        raise _Invalid(f"{key} is not an .npy array")
    # Byte order aside (any is read), the dtype is kept exactly: float32 stays float32.
    native = array.dtype.newbyteorder("=")
    if array.dtype.kind != "f" or native not in dtypes:
        raise _Invalid(f"{key} has dtype {array.dtype}; expected {' or '.join(map(str, dtypes))}")
    if array.ndim not in ndims:
        raise _Invalid(f"{key} has shape {array.shape}; expected {max(ndims)} dimensions or fewer")
    return array.astype(native, copy=False)


_SOLVERS_THAT_RUN = {"gd", "agd", "sgd", "exact"}


def _rebuild(
    header: dict[str, Any], arrays: dict[str, np.ndarray], model_class
) -> LinearRegression:
    """A fitted ``model_class`` from a checked header and the raw arrays, checked here."""
    model = _unfitted_model(header["params"], model_class)
    saved = _checked_model(header, arrays)
    attributes = saved.attributes
    # The attributes in the order fit sets them (validate_data first).
    model.n_features_in_ = attributes["n_features_in_"]
    if saved.feature_names is not None:
        model.feature_names_in_ = np.asarray(saved.feature_names, dtype=object)
    model.coef_ = saved.coef
    model.intercept_ = saved.intercept[()] if saved.coef.ndim == 1 else saved.intercept
    model.loss_history_ = saved.loss_history
    model.time_history_ = saved.time_history
    for name in ("n_iter_", "converged_", "learning_rate_", "rank_", "solver_"):
        setattr(model, name, attributes[name])
    return model


def _checked_model(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> SavedModel:
    """The attributes and arrays of a checked header and the raw arrays, checked here."""
    attributes = _checked_attributes(header["attributes"], header["params"])
    arrays_checked = _checked_arrays(arrays, attributes["n_features_in_"], attributes["n_iter_"])
    return SavedModel(header["params"], attributes, *arrays_checked)


def _unfitted_model(params: dict[str, Any], model_class) -> LinearRegression:
    """``model_class(**params)``, its parameters checked as fit checks them."""
    known = model_class().get_params(deep=False)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise _Invalid(f"unknown parameters {unknown}")
    if params.get("callback") is not None:
        raise _Invalid("callback is not None")
    model = model_class(**params)
    try:
        model._validate_params()
    except ValueError as error:  # sklearn's InvalidParameterError
        raise _Invalid(f"invalid parameters ({error})") from None
    return model


def _checked_attributes(attributes: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The header's fitted attributes, each checked and consistent with the others and
    with the solver that left them; ``solver_`` filled in for files that lack it."""
    expected = {"n_iter_", "converged_", "learning_rate_", "rank_", "n_features_in_"}
    missing = sorted(expected - set(attributes))
    if missing:
        raise _Invalid(f"missing attributes {missing}")
    unexpected = sorted(set(attributes) - expected - {"feature_names_in_", "solver_"})
    if unexpected:
        raise _Invalid(f"unexpected attributes {unexpected}")
    n_iter = attributes["n_iter_"]
    converged = attributes["converged_"]
    learning_rate = attributes["learning_rate_"]
    rank = attributes["rank_"]
    n_features = attributes["n_features_in_"]
    solver = attributes.get("solver_", params.get("solver"))
    if not _is_int(n_iter) or n_iter < 1:
        raise _Invalid(f"n_iter_ is {n_iter!r}; expected a positive integer")
    if not isinstance(converged, bool):
        raise _Invalid(f"converged_ is {converged!r}; expected a bool")
    if learning_rate is not None and not (
        isinstance(learning_rate, float) and np.isfinite(learning_rate) and learning_rate > 0
    ):
        raise _Invalid(f"learning_rate_ is {learning_rate!r}; expected a positive float or None")
    if rank is not None and not (_is_int(rank) and rank >= 0):
        raise _Invalid(f"rank_ is {rank!r}; expected a non-negative integer or None")
    _check_solver(solver, params.get("solver", "auto"), n_iter, converged, learning_rate, rank)
    if not _is_int(n_features) or n_features < 1:
        raise _Invalid(f"n_features_in_ is {n_features!r}; expected a positive integer")
    if rank is not None and rank > n_features:
        raise _Invalid(f"rank_ is {rank}; the rank cannot exceed n_features_in_={n_features}")
    feature_names = attributes.get("feature_names_in_")
    if feature_names is not None:
        if not isinstance(feature_names, list) or not all(
            isinstance(name, str) for name in feature_names
        ):
            raise _Invalid("feature_names_in_ is not a list of strings")
        if len(feature_names) != n_features:
            raise _Invalid(f"{len(feature_names)} feature names for n_features_in_={n_features}")
    return {**attributes, "solver_": solver}


def _check_solver(solver, requested, n_iter, converged, learning_rate, rank) -> None:
    """``solver_`` is one that runs, the one ``solver`` (``requested``) leads to, and the
    other attributes are what it leaves (_solvers.py): "exact" one step, converged, a rank
    and no step size; the others a step size and no rank. "auto" never picks "sgd"."""
    if solver not in _SOLVERS_THAT_RUN:
        raise _Invalid(f"solver_ is {solver!r}; expected one of {sorted(_SOLVERS_THAT_RUN)}")
    if requested == "auto":
        if solver == "sgd":
            raise _Invalid("solver_ is 'sgd' for solver='auto', which never picks it")
    elif solver != requested:
        raise _Invalid(f"solver_ is {solver!r} for solver={requested!r}")
    if solver == "exact":
        if n_iter != 1 or not converged or learning_rate is not None or rank is None:
            raise _Invalid(
                f"n_iter_={n_iter}, converged_={converged}, learning_rate_={learning_rate!r}"
                f", rank_={rank!r} for solver 'exact' (which leaves 1, True, None and a rank)"
            )
    elif learning_rate is None or rank is not None:
        raise _Invalid(
            f"learning_rate_={learning_rate!r}, rank_={rank!r} for solver {solver!r} "
            "(which leaves a step size and no rank)"
        )


def _checked_arrays(arrays: dict[str, np.ndarray], n_features: int, n_iter: int):
    """(coef_, intercept_, loss_history_, time_history_): dtypes, shapes and values checked
    against each other and the attributes."""
    coef = _float_array(arrays, "coef_", (np.float32, np.float64), (1, 2))
    intercept = _float_array(arrays, "intercept_", (np.float32, np.float64), (0, 1))
    loss_history = _float_array(arrays, "loss_history_", (np.float64,), (1,))
    time_history = _float_array(arrays, "time_history_", (np.float64,), (1,))
    if coef.shape[-1] != n_features or coef.shape[0] == 0:
        raise _Invalid(f"coef_ has shape {coef.shape} for n_features_in_={n_features}")
    intercept_shape = () if coef.ndim == 1 else coef.shape[:1]
    if intercept.dtype != coef.dtype:
        raise _Invalid(f"intercept_ has dtype {intercept.dtype}; coef_ has {coef.dtype}")
    if intercept.shape != intercept_shape:
        raise _Invalid(
            f"intercept_ has shape {intercept.shape}; expected {intercept_shape} for coef_ "
            f"of shape {coef.shape}"
        )
    for key, history in (("loss_history_", loss_history), ("time_history_", time_history)):
        if history.shape != (n_iter,):
            raise _Invalid(f"{key} has shape {history.shape}; expected ({n_iter},) (n_iter_)")
    # A fit that meets NaN or infinity stops with an error (_solvers.py: divergence), so
    # a model never holds one; loaded, it would predict NaN for every row.
    for key, values in (
        ("coef_", coef),
        ("intercept_", intercept),
        ("loss_history_", loss_history),
        ("time_history_", time_history),
    ):
        if not np.all(np.isfinite(values)):
            raise _Invalid(f"{key} holds NaN or infinity")
    if np.any(time_history < 0.0):
        raise _Invalid("time_history_ holds a negative time (seconds since the fit began)")
    return coef, intercept, loss_history, time_history
