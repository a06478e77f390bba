"""Shared fixtures of the benchmarks, and a record of the BLAS and threads that ran.

Run the benchmarks with (pyproject's testpaths hold only tests/ and fastlinreg/, and its
addopts deselect ``large`` and disable benchmarks)::

    python -m pytest benchmarks -m large --benchmark-enable --benchmark-json out.json

Benchmarks whose X is >= 256 MB carry ``@pytest.mark.large`` (declared in pyproject.toml).
Without ``-m large --benchmark-enable`` the files run as a quick correctness smoke test.
"""

from __future__ import annotations

import functools

import pytest

SUMMARY_KEY = pytest.StashKey[list]()


@functools.lru_cache(maxsize=1)
def runtime_info() -> dict:
    """Which BLAS kernel and which numba threading layer ran (computed once per session)."""
    from fastlinreg.bench import runtime_info as package_runtime_info

    return package_runtime_info()


def pytest_report_header(config: pytest.Config) -> list[str]:
    info = runtime_info()
    coretype = info["openblas_coretype"] or "unset"
    return [
        f"BLAS: {info['blas']} (OPENBLAS_CORETYPE={coretype})",
        f"numba {info['numba_version']}: threading layer {info['numba_threading_layer']}, "
        f"{info['numba_num_threads']} threads, {info['cpu_count']} CPUs",
    ]


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SUMMARY_KEY] = []


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    lines = config.stash.get(SUMMARY_KEY, [])
    if lines:
        terminalreporter.section("fastlinreg benchmark notes")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def summary(request: pytest.FixtureRequest) -> list[str]:
    """Lines printed in the terminal summary at the end of the run."""
    return request.config.stash[SUMMARY_KEY]


@pytest.fixture(autouse=True)
def _record_runtime(request: pytest.FixtureRequest) -> None:
    """Store the BLAS / threading record in the extra_info of every benchmark."""
    if "benchmark" in request.fixturenames:
        benchmark = request.getfixturevalue("benchmark")
        info = runtime_info()
        benchmark.extra_info.update(
            {k: info[k] for k in ("blas", "numba_threading_layer", "numba_num_threads")}
        )
        benchmark.extra_info["blas_libs"] = info["blas_libs"]
        if info["openblas_coretype"]:
            benchmark.extra_info["openblas_coretype"] = info["openblas_coretype"]
