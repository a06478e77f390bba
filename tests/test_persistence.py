"""Safe model files: round trips are bit-identical, bad files give a clear ValueError."""

from __future__ import annotations

import copy
import json
import os
import pickle
import threading
import zipfile

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

import fastlinreg
from fastlinreg import LinearRegression, load, persistence

NOT_A_MODEL = "not a fastlinreg model file"
FITTED = [
    "n_features_in_",
    "coef_",
    "intercept_",
    "loss_history_",
    "time_history_",
    "n_iter_",
    "converged_",
    "learning_rate_",
    "rank_",
    "solver_",
]


def problem(n=60, d=4, targets=None, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d)).astype(dtype)
    W = rng.standard_normal((targets or 1, d))
    Y = X @ W.T + rng.standard_normal((n, targets or 1)) * 0.1 + 0.7
    return X, (Y[:, 0] if targets is None else Y).astype(dtype)


def fitted(solver="gd", targets=None, dtype=np.float64, **params):
    X, y = problem(targets=targets, dtype=dtype)
    return LinearRegression(solver=solver, **params).fit(X, y), X


def assert_same_model(loaded, model):
    assert type(loaded) is LinearRegression
    assert loaded.get_params() == model.get_params()
    for name in FITTED + ["feature_names_in_"]:
        assert hasattr(loaded, name) == hasattr(model, name), name
        if not hasattr(model, name):
            continue
        a, b = getattr(loaded, name), getattr(model, name)
        assert type(a) is type(b), name
        if isinstance(b, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape, name
            assert np.array_equal(a, b), name
        else:
            assert a == b, name


def saved(model, tmp_path, name="model.flr"):
    path = tmp_path / name
    model.save(path)
    return path


def rewrite(path, header=None, arrays=None):
    """Rewrite a model file with the header edited by ``header(dict)`` and the arrays
    by ``arrays(dict)`` (each edits in place)."""
    with np.load(path, allow_pickle=False) as npz:
        members = {key: npz[key] for key in npz.files}
    content = json.loads(str(members["header"]))
    if header is not None:
        header(content)
    members["header"] = np.array(json.dumps(content))
    if arrays is not None:
        arrays(members)
    with open(path, "wb") as file:
        np.savez(file, **members)


# --- round trips ---------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["gd", "agd", "exact"])
@pytest.mark.parametrize("targets", [None, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip_is_bit_identical(tmp_path, solver, targets, dtype):
    model, X = fitted(solver, targets, dtype)
    loaded = load(saved(model, tmp_path))
    assert_same_model(loaded, model)
    assert loaded.coef_.dtype == dtype
    assert loaded.coef_.shape == ((4,) if targets is None else (targets, 4))
    assert np.array_equal(loaded.predict(X), model.predict(X))
    assert loaded.predict(X).dtype == model.predict(X).dtype
    X_new = problem(seed=1, dtype=dtype)[0]
    assert np.array_equal(loaded.predict(X_new), model.predict(X_new))


@pytest.mark.parametrize("targets", [None, 2])
def test_round_trip_without_intercept(tmp_path, targets):
    model, X = fitted("agd", targets, fit_intercept=False)
    loaded = load(saved(model, tmp_path))
    assert loaded.fit_intercept is False
    assert_same_model(loaded, model)
    assert np.array_equal(loaded.predict(X), model.predict(X))


def test_round_trip_keeps_parameters(tmp_path):
    model, X = fitted(
        "gd",
        learning_rate=0.01,
        max_iter=50,
        tol=None,
        alpha=0.25,
        l1_ratio=0.5,
        precompute=False,
        scale_features=True,
        parallel=False,
        n_iter_no_change=3,
    )
    loaded = load(saved(model, tmp_path))
    assert loaded.get_params() == model.get_params()
    assert {k: type(v) for k, v in loaded.get_params().items()} == {
        k: type(v) for k, v in model.get_params().items()
    }
    assert_same_model(loaded, model)
    assert np.array_equal(loaded.predict(X), model.predict(X))


def test_round_trip_feature_names(tmp_path):
    X, y = problem()
    frame = pd.DataFrame(X, columns=["alpha", "béta", "gamma δ", "4"])
    model = LinearRegression(solver="exact").fit(frame, y)
    loaded = load(saved(model, tmp_path))
    assert loaded.feature_names_in_.dtype == object
    assert list(loaded.feature_names_in_) == ["alpha", "béta", "gamma δ", "4"]
    assert_same_model(loaded, model)
    assert np.array_equal(loaded.predict(frame), model.predict(frame))
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(frame.rename(columns={"alpha": "other"}))


def test_loaded_model_can_be_refitted_and_saved_again(tmp_path):
    model, X = fitted("agd")
    loaded = load(saved(model, tmp_path))
    again = load(saved(loaded, tmp_path, "again.flr"))
    assert_same_model(again, model)
    refitted = loaded.fit(*problem(seed=2))
    assert refitted.n_features_in_ == 4


def test_pickle_round_trip_is_bit_identical():
    for solver, targets in [("gd", None), ("agd", 2), ("exact", None)]:
        model, X = fitted(solver, targets)
        loaded = pickle.loads(pickle.dumps(model))
        assert_same_model(loaded, model)
        assert np.array_equal(loaded.predict(X), model.predict(X))


def test_load_of_pickled_model_file_is_refused(tmp_path):
    model, _ = fitted()
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    with pytest.raises(ValueError, match=NOT_A_MODEL):
        load(path)


# --- the file --------------------------------------------------------------------------


def test_file_holds_no_pickles_and_the_documented_members(tmp_path):
    X, y = problem()
    model = LinearRegression().fit(pd.DataFrame(X, columns=list("abcd")), y)
    path = saved(model, tmp_path)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == sorted(
            f"{key}.npy"
            for key in ["header", "coef_", "intercept_", "loss_history_", "time_history_"]
        )
    with np.load(path, allow_pickle=False) as npz:
        members = {key: npz[key] for key in npz.files}
    for array in members.values():
        assert array.dtype.kind in "fU", array.dtype
    header = json.loads(str(members["header"]))
    assert header["format"] == "fastlinreg-model"
    assert header["format_version"] == 1
    assert header["fastlinreg_version"] == fastlinreg.__version__
    assert header["params"] == model.get_params()
    assert header["attributes"]["feature_names_in_"] == list("abcd")
    assert header["attributes"]["n_iter_"] == model.n_iter_
    assert members["intercept_"].shape == ()
    assert members["intercept_"][()] == model.intercept_


def test_save_writes_exactly_the_given_path(tmp_path):
    model, _ = fitted()
    model.save(str(tmp_path / "no_suffix"))
    persistence.save(model, tmp_path / "pathlike.npz")
    assert sorted(os.listdir(tmp_path)) == ["no_suffix", "pathlike.npz"]
    assert_same_model(load(str(tmp_path / "no_suffix")), model)
    assert_same_model(load(tmp_path / "pathlike.npz"), model)


def test_save_replaces_an_existing_file(tmp_path):
    first, _ = fitted("gd")
    second, X = fitted("exact", targets=2)
    path = saved(first, tmp_path)
    second.save(path)
    assert_same_model(load(path), second)
    assert os.listdir(tmp_path) == [path.name]


def test_failed_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    first, X = fitted("gd")
    path = saved(first, tmp_path)
    before = path.read_bytes()
    second, _ = fitted("agd")
    calls = []

    def fail_midway(file, array, **kwargs):
        calls.append(array.shape)
        if len(calls) == 3:
            raise OSError("disk full")
        return write_array(file, array, **kwargs)

    write_array = np.lib.format.write_array
    monkeypatch.setattr(np.lib.format, "write_array", fail_midway)
    with pytest.raises(OSError, match="disk full"):
        second.save(path)
    assert len(calls) == 3
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [path.name]


def test_save_does_not_modify_the_model(tmp_path):
    X, y = problem(targets=2, dtype=np.float32)
    model = LinearRegression(solver="agd").fit(pd.DataFrame(X, columns=list("wxyz")), y)
    state = copy.deepcopy(vars(model))
    arrays = {k: v for k, v in vars(model).items() if isinstance(v, np.ndarray)}
    flags = {k: (v.flags.writeable, v.flags.c_contiguous) for k, v in arrays.items()}
    model.save(tmp_path / "m")
    assert vars(model).keys() == state.keys()
    for key, value in vars(model).items():
        if isinstance(value, np.ndarray):
            assert value is arrays[key], key
            assert (value.flags.writeable, value.flags.c_contiguous) == flags[key]
            assert value.dtype == state[key].dtype and np.array_equal(value, state[key]), key
        elif key == "_factor":  # partial_fit's accumulated factor (not saved)
            assert np.array_equal(value.R, state[key].R), key
            assert np.array_equal(value.mean, state[key].mean), key
        else:
            assert value == state[key] and type(value) is type(state[key]), key


# --- refusals on save --------------------------------------------------------------------


def test_save_refuses_an_unfitted_model(tmp_path):
    with pytest.raises(NotFittedError):
        LinearRegression().save(tmp_path / "m")
    assert os.listdir(tmp_path) == []


def test_save_refuses_a_callback(tmp_path):
    model, _ = fitted(callback=lambda *args: False)
    with pytest.raises(ValueError, match="callback cannot be saved.*callback=None"):
        model.save(tmp_path / "m")
    assert os.listdir(tmp_path) == []
    model.set_params(callback=None)
    model.save(tmp_path / "m")
    assert load(tmp_path / "m").callback is None


def test_save_refuses_a_parameter_json_cannot_hold(tmp_path):
    model, _ = fitted()
    model.set_params(learning_rate=[0.1])
    with pytest.raises(ValueError, match=r"learning_rate=\[0.1\] cannot be saved"):
        model.save(tmp_path / "m")


def test_save_refuses_other_objects(tmp_path):
    with pytest.raises(TypeError, match="LinearRegression"):
        persistence.save(object(), tmp_path / "m")


# --- refusals on load --------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "absent.npz")


def test_text_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("coef_ = [1, 2, 3]\n")
    with pytest.raises(ValueError, match=f"notes.txt: {NOT_A_MODEL}: not a valid .npz"):
        load(path)


def test_empty_file_and_plain_npy(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    np.save(tmp_path / "plain.npy", np.ones(3))
    for name in ["empty", "plain.npy"]:
        with pytest.raises(ValueError, match=NOT_A_MODEL):
            load(tmp_path / name)


def test_foreign_npz(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "foreign.npz"
    np.savez(path, coef=rng.standard_normal(4), weights=rng.standard_normal((3, 3)))
    with pytest.raises(ValueError, match=f"{NOT_A_MODEL}: no 'header' array"):
        load(path)
    # Even one that happens to have a member of that name.
    np.savez(path, header=rng.standard_normal(2))
    with pytest.raises(ValueError, match=f"{NOT_A_MODEL}: the 'header' array is not a string"):
        load(path)
    np.savez(path, header=np.array('{"format": "something-else"}'))
    with pytest.raises(ValueError, match=f"{NOT_A_MODEL}: no format marker"):
        load(path)


def test_foreign_zip(tmp_path):
    path = tmp_path / "foreign.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("header", b"hello")
        archive.writestr("readme.txt", b"hello")
    with pytest.raises(ValueError, match=NOT_A_MODEL):
        load(path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.99])
def test_truncated_file(tmp_path, keep):
    model, _ = fitted("agd", targets=2)
    path = saved(model, tmp_path)
    content = path.read_bytes()
    path.write_bytes(content[: int(len(content) * keep)])
    with pytest.raises(ValueError, match=NOT_A_MODEL):
        load(path)


def test_flipped_byte_in_the_data_is_detected(tmp_path):
    model, _ = fitted("exact")
    path = saved(model, tmp_path)
    content = bytearray(path.read_bytes())
    # A coefficient's last byte, inside the stored coef_ member.
    at = content.index(np.ascontiguousarray(model.coef_).tobytes()) + 7
    content[at] ^= 0x01
    path.write_bytes(bytes(content))
    with pytest.raises(ValueError, match=f"{NOT_A_MODEL}: corrupted"):
        load(path)


def test_every_flipped_byte_is_refused_or_harmless(tmp_path):
    """A flip is caught by a checksum or a check, or lands in zip metadata numpy ignores
    (a timestamp, say): then the model must still be the same. Never another error."""
    model, X = fitted("exact")
    path = saved(model, tmp_path)
    content = path.read_bytes()
    damaged = tmp_path / "damaged"
    refused = 0
    for at in range(len(content)):
        flipped = bytearray(content)
        flipped[at] ^= 0xFF
        damaged.write_bytes(bytes(flipped))
        try:
            loaded = load(damaged)
        except ValueError as error:
            assert NOT_A_MODEL in str(error), (at, str(error))
            refused += 1
        else:
            assert_same_model(loaded, model)
            assert np.array_equal(loaded.predict(X), model.predict(X))
    assert refused > 0.8 * len(content)  # 90% when written


def test_newer_format_version(tmp_path):
    model, _ = fitted()
    path = saved(model, tmp_path)

    def newer(header):
        header["format_version"] = 2
        header["fastlinreg_version"] = "9.0.0"

    rewrite(path, header=newer)
    with pytest.raises(ValueError, match=r"written by a newer fastlinreg \('9.0.0'.*upgrade"):
        load(path)


def edit(key, value):
    def apply(header):
        header[key] = value

    return apply


def edit_attribute(key, value):
    def apply(header):
        header["attributes"][key] = value

    return apply


def edit_param(key, value):
    def apply(header):
        header["params"][key] = value

    apply.param = key  # type: ignore[attr-defined]
    return apply


def assert_refused(path, header, message):
    """``load`` refuses the file with ``message``, in one line; so does ``read_model``
    (what ``fastlinreg predict`` reads), except where only a parameter was edited: it
    reads none but ``solver`` (which ``solver_`` must agree with), so it refuses a
    file whose ``solver`` was edited (its own message) and reads one with another
    parameter edited."""
    with pytest.raises(ValueError, match=f"^{path}: {NOT_A_MODEL}: {message}") as info:
        load(path)
    assert len(str(info.value).splitlines()) == 1
    param = getattr(header, "param", None)
    if param is None or param == "solver":
        expected = message if param is None else ".*solver"
        with pytest.raises(ValueError, match=f"^{path}: {NOT_A_MODEL}: {expected}") as info:
            persistence.read_model(path)
        assert len(str(info.value).splitlines()) == 1
    else:
        persistence.read_model(path)


def drop(key):
    def apply(members):
        del members[key]

    return apply


def replace(key, value):
    def apply(members):
        members[key] = value

    return apply


@pytest.mark.parametrize(
    "header, arrays, message",
    [
        (edit("format_version", 0), None, "format_version is 0"),
        (edit("format_version", "1"), None, "format_version is '1'"),
        (edit("format_version", True), None, "format_version is True"),
        (edit("estimator", "sklearn.Ridge"), None, "estimator is 'sklearn.Ridge'"),
        (edit("params", None), None, "the header has no 'params' object"),
        (edit("attributes", []), None, "the header has no 'attributes' object"),
        (edit("fastlinreg_version", 1), None, "the header has no fastlinreg_version string"),
        (edit_param("solver", "bogus"), None, "invalid parameters"),
        (edit_param("warm_start", True), None, r"unknown parameters \['warm_start'\]"),
        (edit_param("callback", "print"), None, "callback is not None"),
        (edit_attribute("n_features_in_", 5), None, r"coef_ has shape \(4,\)"),
        (edit_attribute("n_features_in_", "4"), None, "n_features_in_ is '4'"),
        (edit_attribute("n_iter_", 3), None, r"loss_history_ has shape \(\d+,\); expected \(3,\)"),
        (edit_attribute("n_iter_", 0), None, "n_iter_ is 0"),
        (edit_attribute("converged_", 1), None, "converged_ is 1"),
        (edit_attribute("learning_rate_", -1.0), None, "learning_rate_ is -1.0"),
        (edit_attribute("rank_", 1.5), None, "rank_ is 1.5"),
        (edit_attribute("solver_", "auto"), None, "solver_ is 'auto'"),
        (edit_attribute("feature_names_in_", ["a", "b"]), None, "2 feature names"),
        (
            edit_attribute("feature_names_in_", [1, 2, 3, 4]),
            None,
            "feature_names_in_ is not a list",
        ),
        (edit_attribute("extra_", 1), None, r"unexpected attributes \['extra_'\]"),
        (None, drop("coef_"), r"missing arrays \['coef_'\]"),
        (None, drop("time_history_"), r"missing arrays \['time_history_'\]"),
        (None, replace("other", np.zeros(2)), r"unexpected arrays \['other'\]"),
        (None, replace("coef_", np.arange(4)), "coef_ has dtype int64"),
        (None, replace("coef_", np.zeros(4, np.float16)), "coef_ has dtype float16"),
        (None, replace("coef_", np.zeros((1, 1, 4))), r"coef_ has shape \(1, 1, 4\)"),
        (None, replace("coef_", np.zeros((2, 4))), r"intercept_ has shape \(\)"),
        (None, replace("intercept_", np.zeros(1)), r"intercept_ has shape \(1,\)"),
        (None, replace("intercept_", np.array(1.0, np.float32)), "intercept_ has dtype"),
        (None, replace("loss_history_", np.array(["a"])), "loss_history_ has dtype <U1"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_inconsistent_content(tmp_path, header, arrays, message):
    model, _ = fitted()
    path = saved(model, tmp_path)
    rewrite(path, header=header, arrays=arrays)
    assert_refused(path, header, message)


def scale(key, factor, at=0):
    """Multiply one value of an array member (NaN, inf or a negative number in)."""

    def apply(members):
        values = members[key].copy()
        values.reshape(-1)[at] *= factor
        members[key] = values

    return apply


def set_value(key, value, at=0):
    def apply(members):
        values = members[key].copy()
        values.reshape(-1)[at] = value
        members[key] = values

    return apply


@pytest.mark.parametrize(
    "solver, targets, header, arrays, message",
    [
        # What no fit leaves: ranks beyond the features, a step size for "exact", ...
        ("exact", None, edit_attribute("rank_", 99), None,
         r"rank_ is 99; the rank cannot exceed n_features_in_=4"),
        ("exact", None, edit_attribute("rank_", -1), None, "rank_ is -1"),
        ("exact", None, edit_attribute("rank_", None), None,
         r"n_iter_=1, converged_=True, learning_rate_=None, rank_=None for solver 'exact'"),
        ("exact", None, edit_attribute("n_iter_", 2), None, "n_iter_=2, .* for solver 'exact'"),
        ("exact", None, edit_attribute("converged_", False), None, ".*converged_=False"),
        ("exact", None, edit_attribute("learning_rate_", 0.5), None, ".*learning_rate_=0.5"),
        ("gd", None, edit_attribute("rank_", 2), None,
         r"learning_rate_=\d.*, rank_=2 for solver 'gd' \(which leaves a step size and no rank\)"),
        ("gd", None, edit_attribute("learning_rate_", None), None,
         "learning_rate_=None, rank_=None for solver 'gd'"),
        ("gd", None, edit_attribute("solver_", "agd"), None, "solver_ is 'agd' for solver='gd'"),
        ("gd", None, edit_param("solver", "auto"), None, None),  # auto may pick gd
        ("sgd", None, edit_param("solver", "auto"), None,
         "solver_ is 'sgd' for solver='auto', which never picks it"),
        ("gd", None, edit_attribute("n_iter_", -1), None, "n_iter_ is -1"),
        # Values a fit stops on with an error: predict would give NaN for every row.
        ("gd", None, None, scale("coef_", np.nan), "coef_ holds NaN or infinity"),
        ("gd", 2, None, scale("coef_", np.inf, at=5), "coef_ holds NaN or infinity"),
        ("exact", None, None, scale("intercept_", np.nan), "intercept_ holds NaN or infinity"),
        ("gd", 2, None, scale("intercept_", -np.inf, at=1), "intercept_ holds NaN or infinity"),
        ("gd", None, None, scale("loss_history_", np.inf, at=-1), "loss_history_ holds NaN"),
        ("gd", None, None, scale("time_history_", np.nan), "time_history_ holds NaN"),
        ("gd", None, None, set_value("time_history_", -1.0, at=-1),
         "time_history_ holds a negative time"),
        ("gd", 2, None, replace("coef_", np.zeros((0, 4))), r"coef_ has shape \(0, 4\)"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)  # fmt: skip
def test_values_no_fit_leaves_are_refused(tmp_path, solver, targets, header, arrays, message):
    model, X = fitted(solver=solver, targets=targets)
    path = saved(model, tmp_path)
    rewrite(path, header=header, arrays=arrays)
    if message is None:
        assert np.array_equal(load(path).predict(X), model.predict(X))
        return
    assert_refused(path, header, message)


def test_a_model_is_saved_through_a_symlink_and_a_fifo(tmp_path):
    """The link's target is written (the link stays); a FIFO's reader gets the archive,
    written without seeking, which loads back the same."""
    model, X = fitted("agd", targets=2)
    target = saved(model, tmp_path, "target.npz")
    link = tmp_path / "link.npz"
    link.symlink_to(target.name)
    second, _ = fitted("exact", targets=2)
    second.save(link)
    assert link.is_symlink() and os.readlink(link) == "target.npz"
    assert_same_model(load(target), second)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    model.save(fifo)
    reader.join(timeout=30)
    (tmp_path / "copy.npz").write_bytes(received[0])
    assert_same_model(load(tmp_path / "copy.npz"), model)
    assert sorted(os.listdir(tmp_path)) == ["copy.npz", "fifo", "link.npz", "target.npz"]


def test_an_unwritable_path_is_named_not_the_temporary_file(tmp_path):
    model, _ = fitted()
    path = tmp_path / "nodir" / "m.npz"
    with pytest.raises(FileNotFoundError) as info:
        model.save(path)
    assert info.value.filename == str(path)
    assert ".tmp" not in str(info.value)


@pytest.mark.parametrize("solver", ["auto", "agd"])
def test_a_file_from_before_solver_auto_loads(tmp_path, solver):
    # Files written before solver="auto" have no solver_: it is then the solver parameter,
    # which could not be "auto" then (a file that says so is refused).
    model, _ = fitted(solver="agd")
    path = saved(model, tmp_path)

    def older(header):
        del header["attributes"]["solver_"]
        header["params"]["solver"] = solver

    rewrite(path, header=older)
    if solver == "auto":
        with pytest.raises(ValueError, match=f"{NOT_A_MODEL}: solver_ is 'auto'"):
            load(path)
    else:
        assert load(path).solver_ == "agd"


def test_header_that_is_not_json(tmp_path):
    model, _ = fitted()
    path = saved(model, tmp_path)

    def garble(members):
        members["header"] = np.array("{not json")

    rewrite(path, arrays=garble)
    with pytest.raises(ValueError, match=f"{NOT_A_MODEL}: the header is not JSON"):
        load(path)


def test_rewrite_helper_changes_nothing_by_itself(tmp_path):
    """The helper above rewrites faithfully, so the refusals come from the edits."""
    model, X = fitted("agd", targets=2)
    path = saved(model, tmp_path)
    rewrite(path)
    assert_same_model(load(path), model)


def test_big_endian_arrays_are_read_with_their_values(tmp_path):
    model, X = fitted("gd", targets=2)
    path = saved(model, tmp_path)
    swapped = {
        key: getattr(model, key).astype(getattr(model, key).dtype.newbyteorder(">"))
        for key in ["coef_", "intercept_", "loss_history_", "time_history_"]
    }

    def to_big_endian(members):
        members.update(swapped)

    rewrite(path, arrays=to_big_endian)
    loaded = load(path)
    assert loaded.coef_.dtype == np.float64 and loaded.coef_.dtype.isnative
    assert np.array_equal(loaded.predict(X), model.predict(X))


# --- NumPy bools, integer coefficients, a header or a member a model file cannot hold -----


@pytest.fixture
def model():
    X = np.arange(12.0).reshape(6, 2) ** 1.5
    return LinearRegression(solver="exact").fit(X, X @ [1.0, -1.0] + 2.0)


def test_a_numpy_bool_parameter_reads_back_as_a_bool(model, tmp_path):
    model.set_params(fit_intercept=np.bool_(True), shuffle=np.bool_(False))
    model.save(tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    assert loaded.fit_intercept is True and loaded.shuffle is False
    assert np.array_equal(loaded.predict([[1.0, 2.0]]), model.predict([[1.0, 2.0]]))


def test_coefficients_that_are_not_floats_are_not_saved(model, tmp_path):
    model.coef_ = model.coef_.astype(np.int64)
    with pytest.raises(ValueError, match="coef_ has dtype int64; expected float32 or float64"):
        model.save(tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())


def rewrite_members(path, change):
    """The model file at ``path`` with ``change(members)`` applied to its members
    (name -> bytes) and written back as a valid zip archive."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    change(members)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_a_header_without_the_fitted_attributes_is_refused(model, tmp_path):
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path) as npz:
        header = json.loads(str(npz["header"][()]))
    del header["attributes"]["rank_"], header["attributes"]["n_iter_"]

    def new_header(members):
        np.save(tmp_path / "header.npy", np.array(json.dumps(header)))
        members["header.npy"] = (tmp_path / "header.npy").read_bytes()

    rewrite_members(path, new_header)
    with pytest.raises(ValueError, match=r"missing attributes \['n_iter_', 'rank_'\]"):
        load(path)


def test_a_member_that_is_not_an_npy_array_is_refused(model, tmp_path):
    # np.load returns the raw bytes of a member neither named *.npy nor in .npy format.
    path = tmp_path / "m.npz"
    model.save(path)

    def replace(members):
        del members["coef_.npy"]
        members["coef_"] = b"1.0,2.0"

    rewrite_members(path, replace)
    with pytest.raises(ValueError, match="not a fastlinreg model file: coef_ is not an .npy array"):
        load(path)
