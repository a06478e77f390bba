"""Shared fixtures of the benchmarks, and a record of the BLAS and threads that ran.

Run the benchmarks with (pyproject's testpaths hold only tests/ and fastlinreg/, and its
addopts deselect ``large`` and disable benchmarks)::

    python -m pytest benchmarks -m large --benchmark-enable --benchmark-json out.json

Benchmarks whose X is >= 256 MB carry ``@pytest.mark.large`` (declared in pyproject.toml).
Without ``-m large --benchmark-enable`` the files run as a quick correctness smoke test.
"""

from __future__ import annotations

import functools
import os

import numpy as np
import pytest

SUMMARY_KEY = pytest.StashKey[list]()


def _blas_entries() -> list[dict]:
    from threadpoolctl import threadpool_info

    entries = []
    for lib in threadpool_info():
        if lib.get("user_api") != "blas":
            continue
        path = lib.get("filepath", "")
        owner = "numpy" if "numpy" in path else "scipy" if "scipy" in path else "other"
        entries.append(
            {
                "owner": owner,
                "internal_api": lib.get("internal_api"),
                "architecture": lib.get("architecture"),
                "num_threads": lib.get("num_threads"),
                "version": lib.get("version"),
            }
        )
    return sorted(entries, key=lambda e: (e["owner"], str(e["version"])))


@functools.lru_cache(maxsize=1)
def runtime_info() -> dict:
    """Which BLAS kernel and which numba threading layer ran (computed once per session)."""
    import numba

    from fastlinreg import kernels

    # numba.threading_layer() is only known once a parallel region has run.
    X = np.ones((64, 2))
    kernels.loss_grad(X, np.ones(64), np.zeros(2), 0.0, parallel=True)
    blas = _blas_entries()
    blas_line = "; ".join(
        f"{e['owner']}: {e['internal_api']} {e['version']} {e['architecture']} "
        f"{e['num_threads']} threads"
        for e in blas
    )
    return {
        "blas": blas_line or "none found",
        "blas_libs": blas,
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
        "numba_version": numba.__version__,
        "numba_threading_layer": numba.threading_layer(),
        "numba_num_threads": numba.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }


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
