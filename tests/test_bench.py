"""fastlinreg.bench: the rows, their definitions and the table (never the timings)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fastlinreg import bench


@pytest.fixture(scope="module")
def result():
    return bench.run_benchmark(shapes=[(2000, 3)], repeats=2)


def _check_rows(result, shapes, dtype):
    assert result.repeats == 2
    assert len(result.rows) == len(shapes) * len(bench.IMPLEMENTATIONS)
    itemsize = np.dtype(dtype).itemsize
    for i, (n, d) in enumerate(shapes):
        rows = result.rows[i * len(bench.IMPLEMENTATIONS) : (i + 1) * len(bench.IMPLEMENTATIONS)]
        assert [r.implementation for r in rows] == list(bench.IMPLEMENTATIONS)
        by_name = {r.implementation: r for r in rows}
        bound_ms = by_name[bench.STREAM].ms_per_epoch
        for r in rows:
            assert r.shape == f"{n}x{d}"
            assert r.dtype == dtype
            for value in (r.ms_per_epoch, r.gb_per_s, r.stream_fraction):
                assert value is not None and math.isfinite(value) and value > 0
            # gb_per_s = X.nbytes / median seconds / 1e9; stream_fraction = median / bound.
            nbytes = n * d * itemsize
            assert r.gb_per_s == pytest.approx(nbytes / (r.ms_per_epoch * 1e-3) / 1e9)
            assert r.stream_fraction == pytest.approx(r.ms_per_epoch / bound_ms)
        assert by_name[bench.STREAM].stream_fraction == pytest.approx(1.0)


def test_rows(result):
    _check_rows(result, [(2000, 3)], "float64")


def test_info(result):
    info = result.info
    for key in (
        "blas",
        "blas_libs",
        "openblas_coretype",
        "numba_version",
        "numba_threading_layer",
        "numba_num_threads",
        "cpu_count",
        "platform",
        "processor",
    ):
        assert key in info
    assert info["numba_threading_layer"] in ("tbb", "omp", "workqueue")
    assert info["numba_num_threads"] >= 1
    for lib in info["blas_libs"]:
        assert {"internal_api", "num_threads", "architecture"} <= set(lib)


def test_format_table(result):
    table = bench.format_table(result)
    lines = table.splitlines()
    assert lines[0].startswith("| implementation")
    for column in ("ms/epoch", "GB/s", "× stream bound", "vs numpy"):
        assert column in lines[0]
    assert len(lines) == 2 + len(result.rows) + 1
    for name in bench.IMPLEMENTATIONS:
        assert name in table
    assert result.info["blas"] in lines[-1]
    assert result.info["numba_threading_layer"] in lines[-1]
    numpy_line = next(line for line in lines if line.startswith("| numpy reference"))
    assert numpy_line.rstrip(" |").endswith("1.00")  # numpy vs itself


def test_format_table_missing_values():
    rows = [bench.BenchRow("fastlinreg serial", "10x2", "float64", 1.0, None, None)]
    table = bench.format_table(bench.BenchResult(rows, {}, repeats=1))
    cells = [c.strip() for c in table.splitlines()[2].strip("|").split("|")]
    # GB/s and the bound are None; vs numpy has no numpy row of that shape to compare to.
    assert cells == ["fastlinreg serial", "10x2", "float64", "1.00", "-", "-", "-"]


def test_float32():
    result = bench.run_benchmark(shapes=[(1500, 4)], dtype="float32", repeats=2)
    _check_rows(result, [(1500, 4)], "float32")


def test_shape_lists():
    assert [d for _, d in bench.QUICK_SHAPES] == [2, 10, 100, 1000]
    assert [d for _, d in bench.FULL_SHAPES] == [2, 10, 100, 1000]
    for (nq, dq), (nf, df) in zip(bench.QUICK_SHAPES, bench.FULL_SHAPES, strict=True):
        assert dq == df
        assert 8 * nq * dq == pytest.approx(16 * 2**20, rel=1e-3)  # ~16 MiB in float64
        assert 8 * nf * df == pytest.approx(256 * 2**20, rel=1e-3)  # ~256 MiB in float64
    assert bench.QUICK_REPEATS < bench.FULL_REPEATS


def test_quick_uses_quick_shapes(monkeypatch):
    seen = []

    def fake_bench_shape(n, d, dtype, repeats, seed):
        seen.append((n, d, repeats))
        return []

    monkeypatch.setattr(bench, "_bench_shape", fake_bench_shape)
    bench.run_benchmark(quick=True)
    assert seen == [(n, d, bench.QUICK_REPEATS) for n, d in bench.QUICK_SHAPES]
    seen.clear()
    bench.run_benchmark()
    assert seen == [(n, d, bench.FULL_REPEATS) for n, d in bench.FULL_SHAPES]


@pytest.mark.parametrize(
    "kwargs",
    [{"dtype": "int64"}, {"repeats": 0}, {"shapes": [(0, 3)]}, {"shapes": [(10, 0)]}],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        bench.run_benchmark(**{"shapes": [(10, 2)], "repeats": 1, **kwargs})


# --- the table's numbers (about three digits) and the info line's OPENBLAS_CORETYPE -------


@pytest.mark.parametrize(
    ("value", "text"),
    [(1234.5, "1234"), (12.345, "12.3"), (1.2345, "1.23"), (None, "-"), (float("nan"), "-")],
)
def test_numbers_keep_about_three_digits(value, text):
    assert bench._number(value) == text


def test_the_info_line_names_a_forced_openblas_core_type():
    info = {"blas": "openblas: blas 0.3 Haswell, 2 threads", "openblas_coretype": "Zen"}
    assert "BLAS: openblas: blas 0.3 Haswell, 2 threads (OPENBLAS_CORETYPE=Zen) |" in (
        bench.info_line(info)
    )
    assert "OPENBLAS_CORETYPE" not in bench.info_line({"blas": "x"})
