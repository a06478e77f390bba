"""For every test and benchmark under this folder: the `large` marker's default deselection."""

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
