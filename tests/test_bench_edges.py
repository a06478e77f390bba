"""Edges of the benchmark's table formatting: large numbers, missing values, and the
OPENBLAS_CORETYPE note in the info line."""

from __future__ import annotations

import pytest

from fastlinreg import bench


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
