"""For every test and benchmark under this folder: the `large` marker's default deselection,
and coverage data saved by pytest-xdist's workers."""

from __future__ import annotations

import re


def pytest_collection_modifyitems(config, items):
    """Leave out the tests marked `large` unless the -m expression names them.

    Not ``-m 'not large'`` in addopts: a second -m on the command line replaces the first,
    so ``pytest -m "not slow"`` would have run the large tests too.
    """
    if re.search(r"\blarge\b", config.getoption("markexpr") or ""):
        return
    large = [item for item in items if item.get_closest_marker("large") is not None]
    if large:
        config.hook.pytest_deselected(items=large)
        items[:] = [item for item in items if item.get_closest_marker("large") is None]


def pytest_sessionfinish(session):
    """In a pytest-xdist worker measured by coverage, save its data now.

    .ci/run's coverage pass runs its tests in `-n auto` workers, which coverage measures as
    subprocesses (``patch = ["subprocess"]``). Such a process saves its data only at
    interpreter exit, and execnet may end a worker with ``os._exit`` or a kill, which skip
    it: the coverage report would then silently miss that worker's lines.
    """
    if not hasattr(session.config, "workerinput"):
        return
    try:
        import coverage
    except ImportError:
        return
    current = coverage.Coverage.current()
    if current is not None:
        current.stop()
        current.save()
