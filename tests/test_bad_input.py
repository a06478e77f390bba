"""The bad-input catalogue: every kind of wrong or awkward input, for every solver.

Each case either raises a ValueError whose message names what is wrong, or is accepted
and gives the right answer; in no case are the caller's arrays modified.
"""

from __future__ import annotations

import _thread
import re
import signal
import threading
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning

from fastlinreg import DivergenceError, LinearRegression

SOLVERS = ["gd", "agd", "sgd", "exact"]


def clean(n=120, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ np.arange(1.0, d + 1) + 0.5 + 0.01 * rng.standard_normal(n)
    return X, y, np.ones(n)


def with_value(array, index, value):
    array = np.array(array, dtype=np.float64)
    array[index] = value
    return array


def refused_cases():
    X, y, w = clean()
    return {
        "NaN in X": (
            with_value(X, (77, 2), np.nan),
            y,
            None,
            r"X contains NaN at row 77, column 2",
        ),
        "inf in X": (
            with_value(X, (5, 0), -np.inf),
            y,
            None,
            r"X contains infinity at row 5, column 0",
        ),
        "NaN in y": (X, with_value(y, 9, np.nan), None, r"Input y contains NaN"),
        "inf in y": (X, with_value(y, 9, np.inf), None, r"Input y contains infinity"),
        "NaN weight": (X, y, with_value(w, 3, np.nan), r"sample_weight contains NaN"),
        "inf weight": (X, y, with_value(w, 3, np.inf), r"sample_weight contains infinity"),
        "negative weight": (X, y, with_value(w, 3, -1.0), r"Negative values .*sample_weight"),
        "all-zero weights": (X, y, np.zeros(len(y)), r"at least one non-zero"),
        "no rows": (X[:0], y[:0], None, r"0 sample\(s\)"),
        "no columns": (X[:, :0], y, None, r"0 feature\(s\)"),
        "1-D X": (X[:, 0], y, None, r"Expected 2D array"),
        "3-D X": (X[:, :, None], y, None, r"Found array with dim 3"),
        "y too short": (X, y[:-1], None, r"inconsistent numbers of samples: \[120, 119\]"),
        "weights too short": (X, y, w[:-1], r"sample_weight.shape == \(119,\), expected \(120,\)"),
        "complex X": (X + 0j, y, None, r"X is complex \(complex128\)"),
        "complex y": (X, y + 1j, None, r"y is complex \(complex128\)"),
        "complex weights": (X, y, w + 0j, r"sample_weight is complex"),
        # Text is refused before NumPy converts it, numeric or not (scikit-learn's words).
        "strings in X": (X.astype(str).astype(object) + "x", y, None, TEXT),
        "words as X": (np.full(X.shape, "a"), y, None, TEXT),
        "numeric strings as X": (X.astype(str), y, None, TEXT),
        "a list of string lists as X": (X.astype(str).tolist(), y, None, TEXT),
        "numeric strings as y": (X, y.astype(str), None, r"Input y holds text"),
        "None in X": (
            with_value(X, (1, 1), 0).astype(object),
            y,
            None,
            r"X contains NaN at row 1, column 1",
        ),
        # Values whose column's norm is beyond float64 (1e200 or 3e152 are fine: the
        # solvers scale such columns by powers of two before squaring them).
        "overflowing X": (
            with_value(X, (7, 2), 1.5e308),
            y,
            None,
            r"X holds 1.5e\+308 at row 7, column 2: .* its column, 1.5e\+308, is beyond",
        ),
        "overflowing y": (
            X,
            with_value(y, 11, -1.7e308),
            None,
            r"y holds -1.7e\+308 at row 11, column 0: .* its column, 1.7e\+308, is beyond",
        ),
        # A finite norm, but beyond the room the solvers' own sums need.
        "X near overflow": (
            X * 3e306,
            y,
            None,
            r"X holds .* at row \d+, column \d+: the root of the sum of squares",
        ),
    }


TEXT = (
    r"Input X holds text: dtype='numeric' is not compatible with arrays of bytes/strings\. "
    "Convert your data to numeric values explicitly instead"
)


REFUSED = refused_cases()
REFUSED["None in X"][0][1, 1] = None  # an object array with a hole


def frozen_copies(*arrays):
    """Read-only inputs (any write raises) and copies to compare with afterwards."""
    copies = []
    for array in arrays:
        if isinstance(array, np.ndarray):
            array.flags.writeable = False
        copies.append(None if array is None else np.array(array, copy=True))
    return copies


def assert_unchanged(arrays, copies):
    for array, copy in zip(arrays, copies, strict=True):
        if array is not None:
            assert array.dtype == copy.dtype
            assert np.array_equal(array, copy, equal_nan=array.dtype.kind == "f")


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_with_a_message_naming_the_problem(solver, case):
    X, y, weights, message = REFUSED[case]
    X, y = np.array(X, copy=True), np.array(y, copy=True)
    weights = None if weights is None else np.array(weights, copy=True)
    copies = frozen_copies(X, y, weights)
    model = LinearRegression(solver=solver)
    with pytest.raises(ValueError, match=message):
        model.fit(X, y, sample_weight=weights)
    assert not hasattr(model, "coef_") and not hasattr(model, "n_features_in_")
    assert_unchanged((X, y, weights), copies)


def test_nan_late_in_a_memmap_is_named_by_row(tmp_path):
    X, y, _ = clean(n=300_000, d=4)
    X[250_001, 3] = np.nan
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    with pytest.raises(ValueError, match=r"X contains NaN at row 250001, column 3"):
        LinearRegression().fit(mapped, y)
    fortran = np.asfortranarray(X)
    with pytest.raises(ValueError, match=r"X contains NaN at row 250001, column 3"):
        LinearRegression().fit(fortran, y)
    with pytest.raises(ValueError, match=r"X contains NaN at row 250001, column 1"):
        LinearRegression().fit(X[:, 1::2], y)  # strided
    with pytest.raises(ValueError, match=r"X contains NaN at row 250001, column 3"):
        LinearRegression().fit(X.astype(np.float32), y)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_a_bad_value_in_rows_of_zero_weight_is_named(value):
    # The factor pass leaves blocks of zero weight out of its sums: their values must
    # still be looked at (here the whole second block of rows weighs nothing).
    X, y, weights = clean(n=300_000, d=3)
    weights[150_000:] = 0.0
    X[280_000, 2] = value
    what = "NaN" if np.isnan(value) else "infinity"
    for solver in ("exact", "agd", "gd"):
        with pytest.raises(ValueError, match=rf"X contains {what} at row 280000, column 2"):
            LinearRegression(solver=solver).fit(X, y, sample_weight=weights)


@pytest.mark.parametrize(
    ("params", "block_passes", "checks"),
    [
        (dict(solver="exact"), 1, 0),
        (dict(solver="agd"), 1, 0),
        (dict(solver="gd"), 1, 0),
        # gd with the automatic step scales the features: one pass for their spread
        (dict(solver="gd", precompute=False, max_iter=3), 1, 2),
        # sgd: feature scaling, and its step's largest row curvature (see solvers.sgd)
        (dict(solver="sgd", max_iter=2, random_state=0), 2, 2),
    ],
)
def test_a_fit_through_the_factor_reads_the_data_once(monkeypatch, params, block_passes, checks):
    # The factor vouches for the values (a NaN, infinity or overflow would show in it),
    # so no separate check reads X first; fits that pass over X check it once.
    import fastlinreg.sources.memory as sources

    counts = {"row_blocks": 0, "sum_of_squares": 0}
    row_blocks, sum_of_squares = sources.InMemorySource.row_blocks, sources.sum_of_squares

    def counted_row_blocks(self):
        counts["row_blocks"] += 1
        return row_blocks(self)

    def counted_sum_of_squares(A):
        counts["sum_of_squares"] += 1
        return sum_of_squares(A)

    monkeypatch.setattr(sources.InMemorySource, "row_blocks", counted_row_blocks)
    monkeypatch.setattr(sources, "sum_of_squares", counted_sum_of_squares)
    X, y, _ = clean(n=2000, d=4)
    fit_quietly(params.pop("solver"), X, y, **params)
    assert counts == {"row_blocks": block_passes, "sum_of_squares": checks}


def reference_solution(X, y):
    """Minimum-norm least squares with an intercept (centred columns), by lstsq."""
    mean = X.mean(axis=0)
    coef = np.linalg.lstsq(X - mean, y - y.mean(), rcond=None)[0]
    return coef, y.mean() - mean @ coef


def fit_quietly(solver, X, y, **params):
    if solver == "sgd":
        params = {"random_state": 0, "max_iter": 3000, "tol": None, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sgd may stop at max_iter; checked by value
        return LinearRegression(solver=solver, **params).fit(X, y)


@pytest.mark.parametrize("solver", SOLVERS)
def test_int_and_bool_data_are_converted_and_left_alone(solver):
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.integers(-5, 6, 200), rng.integers(0, 2, 200)]).astype(np.int32)
    booleans = X[:, 1].astype(bool)
    y = X @ np.array([2, -1]) + 3
    copies = frozen_copies(X, y, booleans)
    model = fit_quietly(solver, np.column_stack([X[:, 0], booleans]), y)
    assert model.coef_.dtype == np.float64
    assert_allclose(model.predict(X.astype(np.float64)), y, atol=1e-3)
    assert_unchanged((X, y, booleans), copies)


@pytest.mark.parametrize("solver", ["agd", "sgd", "exact"])
def test_float32_values_whose_squares_overflow_float32(solver):
    # 1e20² = 1e40 > float32's 3.4e38: only float64 accumulation gets this right.
    X, y, _ = clean()
    X32, y32 = (X * 1e20).astype(np.float32), y.astype(np.float32)
    model = fit_quietly(solver, X32, y32)
    coef, intercept = reference_solution(X32.astype(np.float64), y32.astype(np.float64))
    assert model.coef_.dtype == np.float32
    assert_allclose(model.coef_, coef, rtol=1e-3)
    assert_allclose(model.intercept_, intercept, rtol=1e-3)


def unaligned(A):
    """A read-only copy of A whose data starts one byte past an aligned address (as an
    array deserialized from a network buffer can)."""
    raw = np.zeros(A.nbytes + 1, np.uint8)
    buffer = raw[1:]
    buffer[:] = np.ascontiguousarray(A).view(np.uint8).ravel()
    out = np.frombuffer(buffer.data, dtype=A.dtype).reshape(A.shape)
    out.flags.writeable = False
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("precompute", [True, False])
@pytest.mark.parametrize("solver", SOLVERS)
def test_unaligned_data_gives_the_bits_of_aligned_data(solver, precompute, dtype):
    # NumPy gives unaligned arrays to neither BLAS nor its SIMD loops: the factor's
    # Gram matrix used to be summed in another order (and 4x slower) for them.
    if solver == "sgd" and precompute:
        pytest.skip("sgd reads mini-batches: precompute=True is refused")
    rng = np.random.default_rng(5)
    X = rng.standard_normal((3000, 6)).astype(dtype)
    y = (X @ np.arange(1.0, 7.0) + rng.standard_normal(3000)).astype(dtype)  # Gram-friendly
    X_odd, y_odd = unaligned(X), unaligned(y)
    assert not X_odd.flags.aligned and not y_odd.flags.aligned
    copies = frozen_copies(X_odd, y_odd)
    aligned_model = fit_quietly(solver, X, y, precompute=precompute, max_iter=50)
    odd_model = fit_quietly(solver, X_odd, y_odd, precompute=precompute, max_iter=50)
    np.testing.assert_array_equal(odd_model.coef_, aligned_model.coef_)
    np.testing.assert_array_equal(odd_model.intercept_, aligned_model.intercept_)
    np.testing.assert_array_equal(odd_model.predict(X_odd), aligned_model.predict(X))
    assert_unchanged((X_odd, y_odd), copies)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("case", ["constant column", "duplicate column", "fewer rows than columns"])
def test_degenerate_columns_fit_the_data(solver, case):
    X, y, _ = clean(n=60, d=3)
    if case == "constant column":
        X[:, 1] = 4.0
    elif case == "duplicate column":
        X = np.column_stack([X, X[:, 0]])
    else:
        X, y = X[:2], y[:2]
    copies = frozen_copies(X, y)
    model = fit_quietly(solver, X, y)
    coef, intercept = reference_solution(X, y)
    # Predictions are unique even where the coefficients are not.
    assert_allclose(model.predict(X), X @ coef + intercept, atol=1e-4)
    if solver == "exact":
        assert_allclose(model.coef_, coef, atol=1e-8)  # the minimum-norm solution
        assert model.rank_ == (2 if case != "duplicate column" else 3) - (
            case == "fewer rows than columns"
        )
    assert_unchanged((X, y), copies)


def test_too_large_a_learning_rate_is_caught_within_a_few_epochs():
    X, y, _ = clean(n=500, d=5)
    step = LinearRegression(precompute=False).fit(X, y).learning_rate_  # 1 / L
    model = LinearRegression(learning_rate=3 * step, precompute=False)
    with pytest.raises(DivergenceError, match=r"diverged at epoch (\d+)") as raised:
        model.fit(X, y)
    epoch = int(re.search(r"diverged at epoch (\d+)", str(raised.value)).group(1))
    assert epoch <= 3, raised.value
    assert not hasattr(model, "coef_")


def test_a_failed_refit_with_other_columns_keeps_the_previous_model_whole():
    X, y, _ = clean(d=5)
    model = LinearRegression().fit(X, y)
    before = {key: np.copy(value) for key, value in vars(model).items() if key.endswith("_")}
    model.set_params(learning_rate=1e3, precompute=False)
    with pytest.raises(DivergenceError):
        model.fit(X[:, :3], y)
    after = {key: value for key, value in vars(model).items() if key.endswith("_")}
    assert before.keys() == after.keys()
    for key, value in before.items():
        assert np.array_equal(value, after[key]), key
    assert model.n_features_in_ == 5
    model.predict(X)  # still the 5-column model


@pytest.mark.parametrize("solver", SOLVERS)
def test_keyboard_interrupt_in_a_refit_restores_the_previous_fit(solver):
    X, y, _ = clean(d=5)
    model = LinearRegression(solver=solver).fit(X, y)
    before = {key: np.copy(value) for key, value in vars(model).items()}

    def interrupt(epoch, *_):
        raise KeyboardInterrupt

    model.set_params(callback=interrupt)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X[:, :2] * 3, y)
    assert {key: np.copy(value) for key, value in vars(model).items()}.keys() == before.keys()
    for key, value in before.items():
        if key != "callback":
            assert np.array_equal(getattr(model, key), value), key


def test_ctrl_c_from_outside_during_a_long_fit_leaves_it_unfitted():
    X, y, _ = clean(n=2000, d=5)
    started = threading.Event()

    def note_start(epoch, *_):
        if epoch == 10:
            started.set()

    def press_ctrl_c():
        if started.wait(timeout=60):
            _thread.interrupt_main()  # what a terminal's Ctrl-C does to the main thread

    model = LinearRegression(precompute=False, max_iter=10**7, tol=None, callback=note_start)
    presser = threading.Thread(target=press_ctrl_c)
    # Python's own handler: a process started with SIGINT ignored (nohup, `&` in a
    # script) would otherwise never see the interrupt and run its 10**7 epochs.
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    presser.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            model.fit(X, y)
    finally:
        presser.join()
        signal.signal(signal.SIGINT, handler)
    assert started.is_set()
    assert not any(key.endswith("_") for key in vars(model)), vars(model).keys()


@pytest.mark.parametrize("solver", ["gd", "agd", "exact"])
def test_an_empty_dask_chunk_changes_nothing(solver):
    # NaN in a later Dask chunk is named by row and chunk: tests/test_dask.py; in a later
    # file batch by line: tests/test_file_source.py.
    da = pytest.importorskip("dask.array")
    import dask

    X, y, _ = clean()
    chunks = (60, 0, 60)
    with dask.config.set(scheduler="threads"):
        distributed = LinearRegression(solver=solver).fit(
            da.from_array(X, chunks=(chunks, 3)), da.from_array(y, chunks=(chunks,))
        )
    in_memory = LinearRegression(solver=solver).fit(X, y)
    assert_allclose(distributed.coef_, in_memory.coef_, rtol=1e-12)
    assert_allclose(distributed.intercept_, in_memory.intercept_, rtol=1e-12)


@pytest.mark.parametrize("precompute", [True, False])
def test_unscaled_gd_on_columns_of_1e20_reports_that_it_cannot_converge(precompute):
    # Steps of 1/L (L ~ 1e40 from the big columns) move the intercept by nothing: the
    # stopping rule once called this converged with the coefficients 10% off.
    X, y, _ = clean()
    model = LinearRegression(solver="gd", scale_features=False, precompute=precompute, max_iter=300)
    with pytest.warns(ConvergenceWarning, match="scales are too far apart.*scale_features"):
        model.fit(X * 1e20, y)
    assert not model.converged_
    scaled = LinearRegression(solver="gd", precompute=precompute).fit(X * 1e20, y)
    assert scaled.converged_
    coef, intercept = reference_solution(X * 1e20, y)
    assert_allclose(scaled.coef_, coef, rtol=1e-6)


def test_an_empty_parquet_row_group_changes_nothing(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    from fastlinreg import FileSource

    X, y, _ = clean()
    table = pa.table({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y})
    path = tmp_path / "gap.parquet"
    with pq.ParquetWriter(path, table.schema) as writer:
        for piece in (table.slice(0, 50), table.slice(50, 0), table.slice(50)):
            writer.write_table(piece)  # row groups of 50, 0 and 70 rows
    assert pq.ParquetFile(path).metadata.row_group(1).num_rows == 0
    streamed = LinearRegression(solver="exact").fit(FileSource(path, "y", batch_rows=16))
    in_memory = LinearRegression(solver="exact").fit(X, y)
    assert_allclose(streamed.coef_, in_memory.coef_, rtol=1e-12)
    assert_allclose(streamed.intercept_, in_memory.intercept_, rtol=1e-12)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("weight", [2.0**34, 2.0**600, 2.0**-1060, 1e-320])
def test_huge_or_subnormal_weights_fit_as_their_ratios(solver, weight):
    # The factor holds weighted sums: values of 1e147 with weights of 1e10 overflowed
    # them, and subnormal weights (1e-320) were called "too large". Only the weights'
    # ratios count: they are scaled by a power of four beyond 2**±256, and the columns
    # by powers of two, so the fit is the unit-weight one, bit for bit.
    X, y, _ = clean()
    X = np.ldexp(X, 488)
    weights = np.full(len(y), weight)
    weights[::7] *= 3.0  # ratios that are not all 1
    # The same ratios, in range (an exact power of four apart; 3e-320 is as rounded).
    unit = np.ldexp(weights, -2 * int(np.round(np.log2(weight) / 2)))
    got = LinearRegression(solver=solver, random_state=0).fit(X, y, sample_weight=weights)
    expected = LinearRegression(solver=solver, random_state=0).fit(X, y, sample_weight=unit)
    if weight == 2.0**34:  # within the safe range: used as given (sqrt(2**34) is exact)
        assert_allclose(got.coef_, expected.coef_, rtol=1e-10)
    else:
        np.testing.assert_array_equal(got.coef_, expected.coef_)
        np.testing.assert_array_equal(got.intercept_, expected.intercept_)


@pytest.mark.parametrize(
    "settings",
    [
        {"solver": "exact"},
        {"solver": "agd"},
        {"solver": "agd", "precompute": False},
        {"solver": "gd", "precompute": False},  # the feature-scaling pass finds it
        {"solver": "gd", "precompute": False, "scale_features": False},  # the curvature
    ],
)
@pytest.mark.parametrize("stream", ["dask", "file"])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's overflow warnings on the way
def test_streams_whose_column_norms_overflow_are_refused(tmp_path, settings, stream):
    # Streams check their values during the first pass, so the overflow shows up there
    # (a factor that is not finite, LAPACK failing, an infinite curvature): one message,
    # naming the value where the source can (a file: its row and column).
    X, y, _ = clean()
    X = with_value(X, (7, 2), 1.5e308)
    if stream == "dask":
        da = pytest.importorskip("dask.array")
        import dask

        with (
            dask.config.set(scheduler="threads"),
            pytest.raises(ValueError, match="beyond float64|is beyond"),
        ):
            LinearRegression(**settings).fit(
                da.from_array(X, chunks=(60, 3)), da.from_array(y, chunks=60)
            )
    else:
        from fastlinreg import FileSource

        np.save(tmp_path / "huge.npy", np.column_stack([X, y]))
        with pytest.raises(ValueError, match=r"row 8, column .*1.5e\+308 .*overflows float64"):
            LinearRegression(**settings).fit(FileSource(tmp_path / "huge.npy", -1))


@pytest.mark.parametrize("settings", [{"solver": "exact"}, {"solver": "agd"}])
def test_a_file_of_values_near_1e200_fits_as_in_memory(tmp_path, settings):
    # Their squares overflow, their columns' norms do not: columns are scaled by powers
    # of two before they are squared, so the stream's fit is the in-memory one.
    from fastlinreg import FileSource

    X, y, _ = clean()
    X = np.ldexp(X, 665)  # about 1e200
    np.save(tmp_path / "large.npy", np.column_stack([X, y]))
    streamed = LinearRegression(**settings).fit(FileSource(tmp_path / "large.npy", -1))
    in_memory = LinearRegression(**settings).fit(X, y)
    assert_allclose(streamed.coef_, in_memory.coef_, rtol=1e-12)
    assert_allclose(
        streamed.coef_ * 2.0**665,
        LinearRegression(**settings).fit(np.ldexp(X, -665), y).coef_,
        rtol=1e-12,
    )
