"""Keep numba's on-disk cache of the kernels from ever breaking the library."""

from __future__ import annotations

import os
import tempfile
import warnings
from typing import Any

import numba

# The on-disk cache must never break the library; with numba 0.68 it can (each case is
# reproduced in tests/test_jit_cache.py, which fails without what follows):
# - njit(cache=True) raises RuntimeError("cannot cache function ...: no locator
#   available") at import when neither NUMBA_CACHE_DIR, nor __pycache__ next to _jit.py,
#   nor the user's cache directory is writable (read-only installs: numba #4032, #5566).
#   We ask numba's own locators first and, if none works, compile without the cache.
# - a truncated or garbage .nbi/.nbc file raises EOFError/UnpicklingError at the first
#   fit, in every later process (numba #10434; fix proposed in numba PR #10656).
# - processes compiling different signatures into one cache at once can leave an index
#   entry pointing at another signature's machine code (the index is read-modified-
#   written, numba #4807): loading it raised "can't unbox array" in a later process.
# - a cache directory that stops being writable after import (removed and replaced,
#   disk full) raises OSError from the load or from the save after compiling.
# For our kernels only, a load that fails or returns another signature is a cache miss
# (compiled, then saved over the bad files), and a failed save is skipped; one warning.
JIT_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_jit.py")
_JIT_MODULE = __name__.rpartition(".")[0] + "._jit"


def jit_cache_is_writable() -> bool:
    """Whether numba finds a directory to cache ``_jit.py``'s kernels in (made and
    write-tested the way numba does it)."""
    try:
        from numba.core.caching import FunctionCache
    except ImportError:  # numba's internals moved: leave the cache to numba
        return True

    def stand_in() -> None:  # a function "from _jit.py", for numba's locators
        pass

    stand_in.__code__ = stand_in.__code__.replace(co_filename=JIT_FILE)
    try:
        path = FunctionCache(stand_in).cache_path
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()  # a zip install's locator does not test
    except (RuntimeError, OSError):
        return False
    return True


def tolerate_cache_errors() -> None:
    """Make numba's cache treat a bad load or a failed save of our kernels as a miss."""
    try:
        from numba.core import sigutils
        from numba.core.caching import Cache
    except ImportError:  # numba's internals moved: leave the cache to numba
        return
    load, save = Cache.load_overload, Cache.save_overload
    if getattr(load, "_fastlinreg", False):
        return  # importlib.reload(_config)
    warned: list[Exception] = []  # once per process (numba compiles under a global lock)

    def ours(cache: Any) -> bool:
        return getattr(getattr(cache, "_py_func", None), "__module__", None) == _JIT_MODULE

    def report(cache: Any, error: Exception) -> None:
        if not warned:
            warned.append(error)
            warnings.warn(
                f"fastlinreg: numba's cache of {cache._py_func.__qualname__} in "
                f"{cache.cache_path} is unusable ({error!r}); compiling instead, and "
                "rewriting the cache where possible (further cache errors in this process "
                "are not reported)",
                RuntimeWarning,
                stacklevel=2,
            )

    def load_overload(self: Any, sig: Any, target_context: Any) -> Any:
        if not ours(self):
            return load(self, sig, target_context)
        try:
            result = load(self, sig, target_context)
            args = tuple(sigutils.normalize_signature(sig)[0])
            if result is not None and tuple(result.signature.args) != args:
                raise LookupError("the index points this signature at another one's code")
            return result
        except Exception as error:
            report(self, error)
            return None  # compiled, then saved over the bad data file (same index entry)

    def save_overload(self: Any, sig: Any, data: Any) -> None:
        try:
            save(self, sig, data)
        except Exception as error:
            if not ours(self):
                raise
            try:  # an unreadable index: start it afresh (the entries in it are lost anyway)
                self.flush()
                save(self, sig, data)
            except Exception:
                report(self, error)

    load_overload._fastlinreg = True  # type: ignore[attr-defined]
    Cache.load_overload = load_overload  # type: ignore[method-assign]
    Cache.save_overload = save_overload  # type: ignore[method-assign]


def usable() -> bool:
    """Whether the kernels can be cached (warning once when not), with bad cache files
    of them treated as misses from now on."""
    tolerate_cache_errors()
    if jit_cache_is_writable():
        return True
    pycache = os.path.join(os.path.dirname(JIT_FILE), "__pycache__")
    warnings.warn(
        "fastlinreg: numba has no writable directory for its cache of compiled kernels "
        f"(tried NUMBA_CACHE_DIR={numba.config.CACHE_DIR or '(unset)'}, {pycache} and the "  # type: ignore[attr-defined]
        "user's cache directory): they are compiled again in every process. Set "
        "NUMBA_CACHE_DIR to a writable directory to keep them.",
        RuntimeWarning,
        stacklevel=3,
    )
    return False
