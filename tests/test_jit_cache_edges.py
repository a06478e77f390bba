"""Edges of fastlinreg._jit_cache that need no compiled kernel: making numba's cache
tolerant is done once, however often it is asked for (importlib.reload of _config)."""

from __future__ import annotations

import pytest

from fastlinreg import _jit_cache

caching = pytest.importorskip("numba.core.caching")


def test_the_cache_methods_are_wrapped_once():
    _jit_cache.tolerate_cache_errors()  # done by _config at import, unless the JIT is off
    load, save = caching.Cache.load_overload, caching.Cache.save_overload
    assert getattr(load, "_fastlinreg", False)
    _jit_cache.tolerate_cache_errors()
    assert caching.Cache.load_overload is load and caching.Cache.save_overload is save
