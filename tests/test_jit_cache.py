"""numba's on-disk cache (``cache=True`` on every kernel) never breaks the library.

Each case runs a fresh Python that imports fastlinreg, fits and predicts, and prints the
results' bytes: it must exit 0, print the bits this process computes, and write at most
one warning (and nothing else) to stderr. What numba 0.68 does on its own
(numba/core/caching.py), and what fastlinreg._config adds:

- NUMBA_CACHE_DIR unwritable: that locator is skipped and the cache goes, silently, to
  ``__pycache__`` next to ``_jit.py`` (else to the user's cache directory).
- nothing writable: ``njit(cache=True)`` raises RuntimeError("... no locator available")
  at import. _config compiles without the cache instead, with one RuntimeWarning.
- a garbage or truncated ``.nbi``/``.nbc`` file: EOFError, UnpicklingError or MemoryError
  at the first fit, in every later process (numba #10434). _config: a miss, one warning,
  and the files are rewritten.
- the cache directory stops being writable after import: NotADirectoryError/OSError
  from the load or the save. _config: a miss (or an unsaved kernel), one warning.
- several processes compiling into one empty directory: each file is replaced
  atomically, but the index is read-modified-written, so an entry can be lost (compiled
  again later) or, when they compile different signatures, point at another signature's
  code (numba #4807; seen with 6 processes on a one-line function): loading that raises
  "can't unbox array". _config checks the loaded signature: a miss, one warning.

The subprocesses import a snapshot of the package taken once per module: the sources are
hashed into the cache's validity stamp, so an edit of ``_jit.py`` during the run would
quietly turn a "corrupted cache" run into a cold one; and ``__pycache__`` must be free to
replace by a file.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import fastlinreg
from fastlinreg import _jit_cache

# Run by the subprocesses and, for the expected bits, by this process.
FIT_CODE = '''
def fit_results(dtype, parallel):
    """Bytes of a gd fit's coef_, intercept_, loss_history_ and predict, as hex."""
    import numpy as np

    from fastlinreg import LinearRegression, _config

    # Rows enough for the kernels: smaller X is predicted by their NumPy twins.
    n = _config.NUMPY_MAX_ELEMENTS // 4 + 300
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 4)) * [1.0, 2.0, 0.5, 3.0]
    y = X @ [1.0, -2.0, 3.0, 0.5] + 0.7 + rng.standard_normal(n)
    X, y = X.astype(dtype), y.astype(dtype)
    model = LinearRegression(solver="gd", precompute=False, max_iter=20, tol=None,
                             parallel=parallel).fit(X, y)
    values = [model.coef_, model.intercept_, model.loss_history_, model.predict(X)]
    return [np.asarray(v).tobytes().hex() for v in values]
'''

SCRIPT = (
    FIT_CODE
    + """
import json, os, shutil, sys

import numba

import fastlinreg
from fastlinreg import _jit

args = json.loads(sys.argv[1])
if args.get("cache_dir_becomes_a_file"):  # the cache location stops being writable
    shutil.rmtree(numba.config.CACHE_DIR)
    open(numba.config.CACHE_DIR, "w").close()
results = {f"{d}-{p}": fit_results(d, p) for d, p in args["fits"]}
kernels = [k for k in vars(_jit).values() if isinstance(k, numba.core.dispatcher.Dispatcher)]
print(json.dumps({
    "package": os.path.dirname(fastlinreg.__file__),
    "results": results,
    "hits": sum(sum(k.stats.cache_hits.values()) for k in kernels),
    "misses": sum(sum(k.stats.cache_misses.values()) for k in kernels),
    "compiled": sorted(k.__name__ for k in kernels if k.stats.cache_misses),
    "cache_paths": sorted({str(k.stats.cache_path) for k in kernels if k.signatures}),
}))
"""
)

SERIAL = [["float64", False]]
BOTH = [["float64", False], ["float64", True]]
SERIAL32 = [["float32", False]]

# A warning as Python prints it: "file:line: SomeWarning: message", then the source line.
WARNING_LINE = re.compile(r"^\S.*:\d+: (\w*Warning): (.*)$")


@pytest.fixture(scope="module")
def expected():
    """The bits this process computes, for every (dtype, parallel) the scripts run."""
    namespace: dict = {}
    exec(FIT_CODE, namespace)
    return {f"{d}-{p}": namespace["fit_results"](d, p) for d, p in BOTH + SERIAL32}


def snapshot(root: Path) -> Path:
    """``root``, with a copy of the package (no compiled files) in it."""
    source = Path(fastlinreg.__file__).parent
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
    shutil.copytree(source, root / "fastlinreg", ignore=ignore)
    return root


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return snapshot(tmp_path_factory.mktemp("package"))


def start(package_root, cache_dir, fits, env=(), **args):
    """The script, started on the snapshot at ``package_root`` with NUMBA_CACHE_DIR."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CACHE")}
    environ.update(env)
    environ["NUMBA_CACHE_DIR"] = str(cache_dir)
    environ["PYTHONPATH"] = os.pathsep.join([str(package_root), environ.get("PYTHONPATH", "")])
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, json.dumps({"fits": fits, **args})],
        cwd=package_root,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process, package_root, expected, warnings=0):
    """The script's report and its warnings' (category, message), once it has exited 0
    with the expected bits and at most ``warnings`` warnings, and nothing else, on stderr."""
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    found = [m.groups() for m in map(WARNING_LINE.match, lines) if m]
    # Every line is a warning, or the indented source line printed under it.
    assert all(WARNING_LINE.match(line) or line[:1] == " " for line in lines), stderr
    assert len(found) <= warnings, stderr
    report = json.loads(stdout)
    assert report["package"] == str(package_root / "fastlinreg")  # the snapshot's code
    for name, bits in report["results"].items():
        assert bits == expected[name], name
    return report, found


def run(package_root, cache_dir, fits, expected, warnings=0, **options):
    return finish(start(package_root, cache_dir, fits, **options), package_root, expected, warnings)


def assert_one_warning(found, *fragments):
    [(category, message)] = found
    assert category == "RuntimeWarning" and message.startswith("fastlinreg: ")
    for fragment in fragments:
        assert fragment in message


@pytest.fixture(scope="module")
def warm_cache(package, expected, tmp_path_factory):
    """A cache directory filled by one process: serial and parallel kernels, float32 too."""
    cache = tmp_path_factory.mktemp("warm-cache")
    report, _ = run(package, cache, BOTH + SERIAL32, expected)
    assert report["misses"] > 0 and report["hits"] == 0
    assert report["cache_paths"] == [str(next(cache.iterdir()))]
    return cache


@pytest.mark.slow
def test_a_second_process_loads_every_kernel_from_the_cache(package, warm_cache, expected):
    # The baseline of the tests below: with this cache nothing is compiled.
    report, _ = run(package, warm_cache, BOTH + SERIAL32, expected)
    assert report["misses"] == 0 and report["hits"] > 0


@pytest.mark.slow
def test_unwritable_numba_cache_dir_falls_back_to_pycache(warm_cache, tmp_path, expected):
    # A path below a regular file cannot be created by anyone, root included (chmod
    # would not stop root). numba then uses __pycache__ next to _jit.py, silently: seeded
    # here with the warm cache's files (their names and keys do not depend on the
    # directory), it loads from there.
    root = snapshot(tmp_path / "package")
    pycache = root / "fastlinreg" / "__pycache__"
    shutil.copytree(next(warm_cache.iterdir()), pycache, dirs_exist_ok=True)
    (tmp_path / "a-file").touch()
    report, _ = run(root, tmp_path / "a-file" / "cache", BOTH, expected)
    assert report["cache_paths"] == [str(pycache)]
    assert report["misses"] == 0 and report["hits"] > 0


@pytest.mark.slow
def test_no_writable_cache_directory_compiles_without_cache(tmp_path, expected):
    # numba alone: RuntimeError("cannot cache function '_row_dot': no locator available
    # for file '.../_jit.py'") at import.
    root = snapshot(tmp_path / "package")
    (root / "fastlinreg" / "__pycache__").touch()  # no in-tree cache (nor .pyc)
    blocked = tmp_path / "a-file"
    blocked.touch()
    env = {"HOME": str(blocked / "home"), "XDG_CACHE_HOME": str(blocked / "xdg")}
    report, found = run(root, blocked / "cache", SERIAL, expected, warnings=1, env=env)
    assert report["cache_paths"] == ["None"] and report["hits"] == 0
    assert_one_warning(found, str(blocked / "cache"), "compiled again in every process")


def garbage(data: bytes) -> bytes:
    return bytes((b * 7 + 13) % 256 for b in data[:200])


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


CORRUPTIONS = [(".nbi", garbage), (".nbi", truncated), (".nbc", garbage), (".nbc", truncated)]


@pytest.mark.slow
def test_corrupted_cache_files_are_compiled_again_and_replaced(
    package, warm_cache, tmp_path, expected
):
    # numba alone: MemoryError, UnpicklingError("pickle data was truncated") or EOFError
    # from caching.py's _load_index or _load_data, at the first fit. One run for all four
    # (each compile costs seconds): kernel i gets CORRUPTIONS[i % 4]; every kernel is
    # loaded (its callees too, once a caller has to compile).
    cache = tmp_path / "cache"
    shutil.copytree(warm_cache, cache)
    indexes = sorted(cache.glob("*/_jit.*.nbi"))
    assert len(indexes) >= 10
    for i, index in enumerate(indexes):
        suffix, damage = CORRUPTIONS[i % len(CORRUPTIONS)]
        files = [index] if suffix == ".nbi" else list(index.parent.glob(f"{index.stem}.*.nbc"))
        assert files
        for path in files:
            path.write_bytes(damage(path.read_bytes()))
    report, found = run(package, cache, BOTH + SERIAL32, expected, warnings=1)
    kernels = sorted(index.name.split(".")[1].rsplit("-", 1)[0] for index in indexes)
    assert report["compiled"] == kernels  # each one's bad file was a miss
    assert_one_warning(found, str(cache))
    # The bad files were replaced: the next process compiles nothing.
    report, _ = run(package, cache, BOTH + SERIAL32, expected)
    assert report["misses"] == 0 and report["hits"] > 0


@pytest.mark.slow
def test_index_entry_pointing_at_another_signatures_code(package, warm_cache, tmp_path, expected):
    # What numba #4807's race can leave behind, made on purpose: in every index with
    # float64 and float32 entries, the two entries' data files swapped. numba alone:
    # TypeError("can't unbox array from PyObject into native value") at the first fit.
    # The index is numba's: a pickled version, then the pickled (stamp, {key: file}).
    cache = tmp_path / "cache"
    shutil.copytree(warm_cache, cache)
    swapped = 0
    for index in cache.glob("*/_jit.*.nbi"):
        with index.open("rb") as f:
            pickle.load(f)
            _, overloads = pickle.loads(f.read())
        files = {str(getattr(key[0][0], "dtype", "")): name for key, name in overloads.items()}
        if {"float32", "float64"} <= files.keys():
            first, second = (index.parent / files[dtype] for dtype in ("float32", "float64"))
            first.rename(first.with_suffix(".tmp"))
            second.rename(first)
            first.with_suffix(".tmp").rename(second)
            swapped += 1
    assert swapped >= 3  # the loss_grad driver, its block function, and predict
    report, found = run(package, cache, SERIAL + SERIAL32, expected, warnings=1)
    assert_one_warning(found, "another one's code")
    report, _ = run(package, cache, SERIAL + SERIAL32, expected)
    assert report["misses"] == 0 and report["hits"] > 0


@pytest.mark.slow
def test_cache_directory_turning_into_a_file_after_import(package, tmp_path, expected):
    # numba alone: NotADirectoryError from _load_index (only FileNotFoundError is a miss),
    # and an OSError from the save after compiling (as a full disk would give).
    report, found = run(
        package, tmp_path / "cache", SERIAL, expected, warnings=1, cache_dir_becomes_a_file=True
    )
    assert report["misses"] > 0
    assert_one_warning(found, "NotADirectoryError")


@pytest.mark.slow
def test_four_processes_compiling_into_one_empty_cache_at_once(package, tmp_path, expected):
    cache = tmp_path / "cache"
    fits = [SERIAL, SERIAL32, SERIAL, SERIAL32]  # identical and different signatures
    processes = [start(package, cache, f) for f in fits]
    # Each may meet an entry another one left pointing at the wrong code: one warning.
    with ThreadPoolExecutor(len(processes)) as pool:
        reports = list(pool.map(lambda p: finish(p, package, expected, 1)[0], processes))
    paths = {tuple(r["cache_paths"]) for r in reports}
    assert len(paths) == 1 and str(cache) in next(iter(paths))[0]
    # What they left behind loads (an entry lost in the race is compiled again) and
    # gives the same bits.
    report, _ = run(package, cache, SERIAL + SERIAL32, expected, warnings=1)
    assert report["hits"] > 0


# --- tolerate_cache_errors, in this process: numba's cache methods wrapped once -----------

caching = pytest.importorskip("numba.core.caching")


def test_the_cache_methods_are_wrapped_once():
    _jit_cache.tolerate_cache_errors()  # done by _config at import, unless the JIT is off
    load, save = caching.Cache.load_overload, caching.Cache.save_overload
    assert getattr(load, "_fastlinreg", False)
    _jit_cache.tolerate_cache_errors()
    assert caching.Cache.load_overload is load and caching.Cache.save_overload is save
