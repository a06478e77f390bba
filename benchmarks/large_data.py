"""Large data: epochs on a memory-mapped file, peak memory of each solver, and Dask.

Usage::

    python benchmarks/large_data.py --out benchmarks/large_data.json   # 3-4 minutes, 2 cores
    python benchmarks/large_data.py --quick                             # 0.5 GB smoke run

Three measurements, each printed as markdown tables and dumped to ``--out`` (JSON):

1. Out of core. A float64 C-order ``.npy`` X of ``--gb`` GiB with d = 10 columns (and y
   in ``y.npy``) is written once under ``--dir`` (reused when present with the right
   shape, deleted at the end unless ``--keep``). One epoch is one
   ``fastlinreg.kernels.loss_grad(X, y, w, b, parallel=True)`` (y always in memory):

   - X = ``np.load(path, mmap_mode="r")`` with the file in the page cache, the same
     mapping for every epoch (as in a fit), and a fresh mapping per epoch;
   - the same after evicting the file from the page cache (``posix_fadvise(DONTNEED)``)
     before each epoch; eviction is checked with ``mincore`` (the file's resident
     pages) and /proc/meminfo "Cached:", and compared with the disk's own read speed
     (``readinto`` a 64 MiB buffer, the file evicted first);
   - X in memory (``np.load`` without mmap).

   Then the full fits ``LinearRegression(solver="exact")`` and ``(solver="agd")`` on the
   memmap (in cache) and on the in-memory X.
2. Peak memory of every solver on an in-memory X of ``--mem-gb`` GiB (the file's first
   rows, read into anonymous memory): one fresh process per solver; the peak resident
   memory beyond the baseline after loading X and y and a warm-up fit (VmHWM, reset
   through /proc/self/clear_refs), and RssAnon sampled every 2 ms by a thread.
3. Dask (unless ``--skip-dask``): a LocalCluster of 2 worker processes holding X of
   10,000,000 x 10 (800 MB, persisted). One ``DaskSource.loss_grad`` epoch vs the
   in-memory epoch on the same data and vs distributed's own round trip (a no-op task
   per chunk, their sum: the floor of any pass), and the time to solution of fastlinreg's agd and
   exact fits vs dask-ml's ``LinearRegression(solver="gradient_descent")``.

Medians are interleaved: the variants of one comparison take turns, each round starting
with the next one, so a slow spell of the shared machine is shared out. GB/s are 1e9
bytes of X per second.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import json
import mmap
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

GIB = 1 << 30
MIB = 1 << 20
D = 10
SEED = 0
INTERCEPT = 1.0
NOISE = 0.5
WRITE_ROWS = 1 << 20  # rows per block when writing the file (80 MB)
READ_BUFFER = 64 * MIB
WARM_ROWS = 1 << 18  # warm-up fits: 2.6M elements, above the parallel threshold
TARGET_MMAP = 1.25  # memmap in cache: >= 80% of the in-memory speed
TARGET_DASK_EPOCH = 1.5
TARGET_DASK_ML = 5.0

# Section 2: (label, LinearRegression parameters).
MEMORY_SOLVERS: list[tuple[str, dict]] = [
    ("gd, precompute=False, max_iter=20, tol=None", dict(solver="gd", precompute=False,
                                                         max_iter=20, tol=None)),
    ("gd (defaults)", dict(solver="gd")),
    ("agd (defaults)", dict(solver="agd")),
    ("agd, precompute=False, max_iter=50", dict(solver="agd", precompute=False, max_iter=50)),
    ("sgd, max_iter=3, tol=None", dict(solver="sgd", max_iter=3, tol=None, random_state=0)),
    ("exact", dict(solver="exact")),
]  # fmt: skip


# --- small helpers ---------------------------------------------------------------------


def _proc_fields(path: str, keys: tuple[str, ...]) -> dict[str, int]:
    """Fields of /proc/meminfo or /proc/self/status in bytes (those given in kB)."""
    out: dict[str, int] = {}
    try:
        with open(path) as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in keys:
                    out[key] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return out


def meminfo(key: str) -> int | None:
    return _proc_fields("/proc/meminfo", (key,)).get(key)


def rel_error(theta: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(theta - ref)) / np.max(np.abs(ref)))


def theta_of(model) -> np.ndarray:
    """[coef..., intercept] of a fitted model, float64."""
    return np.append(np.ravel(np.asarray(model.coef_, dtype=np.float64)), float(model.intercept_))


def interleaved(
    variants: dict[str, Callable[[], object]], repeats: int, warm: bool = True
) -> dict[str, list[float]]:
    """Seconds of each variant, ``repeats`` rounds, the variants taking turns (each round
    starting with the next one); one untimed call of each first when ``warm``."""
    names = list(variants)
    if warm:
        for name in names:
            variants[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(repeats):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            t0 = time.perf_counter()
            variants[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def markdown(header: list[str], rows: list[list[str]], right: list[bool]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        padded = [
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join("-" * (w + 1) + (":" if r else "-") for w, r in zip(widths, right, strict=True))
        + "|"
    )
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def fmt(x: float | None, digits: int = 3) -> str:
    if x is None or not np.isfinite(x):
        return "-"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.{digits}g}"


LOADAVG: list[dict] = []


def log(message: str) -> None:
    """A progress line on stderr; the load average at that moment goes to the JSON."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    LOADAVG.append({"time": time.strftime("%H:%M:%S"), "step": message, "loadavg": load})
    print(f"[{time.strftime('%H:%M:%S')}] {message} (load {load[0]:.2f})", file=sys.stderr,
          flush=True)  # fmt: skip


# --- page cache -----------------------------------------------------------------------


def evict(path: Path) -> None:
    """Drop the file's clean pages from the page cache (mapped pages stay: unmap first)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)  # dirty pages cannot be dropped
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


_libc = None


def resident_fraction(path: Path) -> float | None:
    """Share of the file's pages in the page cache (mincore on a fresh mapping, which
    faults nothing in); None where mincore is unavailable."""
    global _libc
    try:
        if _libc is None:
            libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
            libc.mmap.restype = ctypes.c_void_p
            libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                                  ctypes.c_int, ctypes.c_int, ctypes.c_long]  # fmt: skip
            libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
            libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
            _libc = libc
        size = os.path.getsize(path)
        page = mmap.PAGESIZE
        pages = -(-size // page)
        fd = os.open(path, os.O_RDONLY)
        try:
            addr = _libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
            if addr in (None, ctypes.c_void_p(-1).value):
                return None
            try:
                vec = np.zeros(pages, dtype=np.uint8)
                if _libc.mincore(ctypes.c_void_p(addr), size, vec.ctypes.data) != 0:
                    return None
            finally:
                _libc.munmap(ctypes.c_void_p(addr), size)
        finally:
            os.close(fd)
        return float(np.count_nonzero(vec & 1)) / pages
    except (OSError, AttributeError):
        return None


def read_file(path: Path, buffer: memoryview) -> float:
    """Seconds to read the whole file with readinto into ``buffer`` (no page cache bypass)."""
    t0 = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buffer):
            pass
    return time.perf_counter() - t0


def read_rows(path: Path, rows: int) -> np.ndarray:
    """The first ``rows`` rows of a .npy file read into anonymous memory (no mapping stays:
    a mapping's pages would count in the process's resident memory)."""
    probe = np.load(path, mmap_mode="r")
    shape, dtype, offset = (rows, *probe.shape[1:]), probe.dtype, probe.offset
    del probe
    out = np.empty(shape, dtype=dtype)
    view = memoryview(out).cast("B")
    with open(path, "rb", buffering=0) as f:
        f.seek(offset)
        done = 0
        while done < len(view):
            got = f.readinto(view[done:])
            if not got:
                raise ValueError(f"{path} ended after {done} bytes")
            done += got
    return out


# --- the data file --------------------------------------------------------------------


def data_paths(directory: Path, n: int) -> tuple[Path, Path, Path]:
    folder = directory / f"fastlinreg-large-{n}x{D}"
    return folder / "X.npy", folder / "y.npy", folder / "meta.json"


def make_data(directory: Path, gb: float) -> dict:
    """Write (or reuse) X (n, 10) and y; returns paths, shape, coefficients, write time."""
    n = int(gb * GIB // (8 * D))
    x_path, y_path, meta_path = data_paths(directory, n)
    rng = np.random.default_rng(SEED)
    w = rng.standard_normal(D)
    meta = {"n": n, "d": D, "seed": SEED, "intercept": INTERCEPT, "noise": NOISE}
    if meta_path.exists() and x_path.exists() and y_path.exists():
        try:
            X = np.load(x_path, mmap_mode="r")
            y = np.load(y_path, mmap_mode="r")
            ok = (
                json.loads(meta_path.read_text()) == meta
                and X.shape == (n, D)
                and X.dtype == np.float64
                and X.flags.c_contiguous
                and y.shape == (n,)
            )
            del X, y
        except (ValueError, OSError):
            ok = False
        if ok:
            log(f"reusing {x_path} ({n}x{D})")
            return dict(x=x_path, y=y_path, n=n, w=w, reused=True, write_s=None)
    x_path.parent.mkdir(parents=True, exist_ok=True)
    meta_path.unlink(missing_ok=True)
    free = shutil.disk_usage(x_path.parent).free
    if free < 1.2 * n * D * 8:
        raise SystemExit(f"not enough disk under {directory}: {free / 1e9:.1f} GB free")
    log(f"writing {x_path}: {n} x {D} float64, {n * D * 8 / 1e9:.2f} GB")
    t0 = time.perf_counter()
    X = np.lib.format.open_memmap(x_path, mode="w+", dtype=np.float64, shape=(n, D))
    y = np.lib.format.open_memmap(y_path, mode="w+", dtype=np.float64, shape=(n,))
    for start in range(0, n, WRITE_ROWS):
        stop = min(n, start + WRITE_ROWS)
        block = rng.standard_normal((stop - start, D))
        X[start:stop] = block
        y[start:stop] = block @ w + INTERCEPT + NOISE * rng.standard_normal(stop - start)
    X.flush()
    y.flush()
    del X, y
    for path in (x_path, y_path):
        fd = os.open(path, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    write_s = time.perf_counter() - t0
    meta_path.write_text(json.dumps(meta))
    log(f"written in {write_s:.1f} s")
    return dict(x=x_path, y=y_path, n=n, w=w, reused=False, write_s=write_s)


def remove_data(data: dict) -> None:
    for path in (data["x"], data["y"], data["x"].parent / "meta.json"):
        Path(path).unlink(missing_ok=True)
    try:
        data["x"].parent.rmdir()
    except OSError:
        pass


# --- 1. out of core -------------------------------------------------------------------


def bench_out_of_core(data: dict, repeats: int, evicted_repeats: int) -> dict:
    from fastlinreg import LinearRegression, kernels

    x_path, y_path = data["x"], data["y"]
    y = np.load(y_path)
    buffer = memoryview(bytearray(READ_BUFFER))
    x_bytes = os.path.getsize(x_path)
    res: dict = {"x_path": str(x_path), "x_bytes": x_bytes, "n": data["n"], "d": D}

    log("reading X once into the page cache")
    res["first_read_s"] = read_file(x_path, buffer)
    res["resident_after_first_read"] = resident = resident_fraction(x_path)
    # A file larger than the page cache (the recipe's --gb 32) is never all in it.
    in_cache = "in cache" if resident is None or resident >= 0.99 else "mostly on disk"
    res["page_cache_read_gb_s"] = x_bytes / read_file(x_path, buffer) / 1e9

    available = meminfo("MemAvailable")
    in_memory = available is None or available > 1.3 * x_bytes + 2 * GIB
    res["in_memory_run"] = in_memory
    Xmem = np.load(x_path) if in_memory else None
    Xmm = np.load(x_path, mmap_mode="r")
    w0 = np.random.default_rng(1).standard_normal(D) / np.sqrt(D)
    b0 = 0.5
    results: dict[str, float] = {}

    def epoch(name, get_X):
        def run():
            results[name] = kernels.loss_grad(get_X(), y, w0, b0, parallel=True)[0]

        return run

    variants = {
        "memmap, in page cache (one mapping)": epoch("mmap", lambda: Xmm),
        "memmap, in page cache (fresh mapping per epoch)": epoch(
            "mmap-fresh", lambda: np.load(x_path, mmap_mode="r")
        ),
    }
    if Xmem is not None:
        variants["in memory (np.load)"] = epoch("memory", lambda: Xmem)
    log(f"in-cache and in-memory epochs: {len(variants)} variants x {repeats} rounds")
    times = interleaved(variants, repeats)
    res["epochs"] = {
        name: {"times_s": t, "median_s": statistics.median(t), "cached": True}
        for name, t in times.items()
    }
    res["losses_equal"] = len(set(results.values())) == 1

    # Full fits, on the memmap and in memory, side by side; the reference is exact in memory.
    log("fits on the memmap and in memory")
    fits: dict[str, dict] = {}
    warnings.simplefilter("ignore")  # ConvergenceWarning of the warm-up fits
    inputs = {f"memmap ({in_cache})": Xmm}
    if Xmem is not None:
        inputs["in memory"] = Xmem
    fit_variants = {}
    models: dict[str, object] = {}
    for solver in ("exact", "agd"):
        LinearRegression(solver=solver).fit(Xmm[:WARM_ROWS], y[:WARM_ROWS])
        for label, X in inputs.items():

            def fit(solver=solver, label=label, X=X):
                models[f"{solver}, {label}"] = LinearRegression(solver=solver).fit(X, y)

            fit_variants[f"{solver}, {label}"] = fit
    fit_times = interleaved(fit_variants, 3, warm=False)
    ref_key = "exact, in memory" if Xmem is not None else f"exact, memmap ({in_cache})"
    ref = theta_of(models[ref_key])
    truth = np.append(data["w"], INTERCEPT)
    for name, t in fit_times.items():
        model = models[name]
        fits[name] = {
            "times_s": t,
            "median_s": statistics.median(t),
            "n_iter": int(model.n_iter_),
            "rel_error_vs_exact": rel_error(theta_of(model), ref),
            "rel_error_vs_true_coef": rel_error(theta_of(model), truth),
        }
    res["fits"] = fits
    res["fit_reference"] = ref_key
    # Unmap and free X before evicting: pages still mapped are not dropped.
    models.clear()
    fit_variants.clear()
    variants.clear()
    inputs.clear()
    Xmm = Xmem = None
    gc.collect()

    # Evicted: every epoch maps the file afresh after dropping it from the page cache,
    # interleaved round by round with a plain read of the evicted file (the disk's speed).
    log(f"evicted epochs and disk reads: {evicted_repeats} rounds")

    def madvised(X):
        X._mmap.madvise(mmap.MADV_SEQUENTIAL)
        return X

    evicted_variants: dict[str, Callable[[], object]] = {
        "disk read (readinto 64 MiB)": lambda: None,
        "memmap, evicted before each epoch": epoch(
            "mmap-evicted", lambda: np.load(x_path, mmap_mode="r")
        ),
    }
    if hasattr(mmap, "MADV_SEQUENTIAL"):
        evicted_variants["memmap, evicted, madvise(MADV_SEQUENTIAL)"] = epoch(
            "mmap-evicted-seq", lambda: madvised(np.load(x_path, mmap_mode="r"))
        )
    checks: list[dict] = []
    ev_times: dict[str, list[float]] = {name: [] for name in evicted_variants}
    names = list(evicted_variants)
    for i in range(evicted_repeats):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            gc.collect()
            cached0 = meminfo("Cached")
            before = resident_fraction(x_path)
            evict(x_path)
            after = resident_fraction(x_path)
            cached1 = meminfo("Cached")
            if name.startswith("disk read"):
                dt = read_file(x_path, buffer)
            else:
                t0 = time.perf_counter()
                evicted_variants[name]()
                dt = time.perf_counter() - t0
            ev_times[name].append(dt)
            checks.append(
                {
                    "variant": name,
                    "resident_before": before,
                    "resident_after_evict": after,
                    "resident_after_run": resident_fraction(x_path),
                    "cached_drop_bytes": None
                    if cached0 is None or cached1 is None
                    else cached0 - cached1,
                    "seconds": dt,
                }
            )
    for name, t in ev_times.items():
        res["epochs"][name] = {"times_s": t, "median_s": statistics.median(t), "cached": False}
    res["eviction_checks"] = checks
    after = [c["resident_after_evict"] for c in checks if c["resident_after_evict"] is not None]
    res["max_resident_after_evict"] = max(after) if after else None
    res["losses_equal"] = res["losses_equal"] and len(set(results.values())) == 1
    for entry in res["epochs"].values():
        entry["gb_s"] = x_bytes / entry["median_s"] / 1e9

    e = res["epochs"]
    mem = e.get("in memory (np.load)", {}).get("median_s")
    if mem:
        for entry in e.values():
            entry["vs_in_memory"] = entry["median_s"] / mem
    res["mmap_over_memory"] = e["memmap, in page cache (one mapping)"].get("vs_in_memory")
    res["mmap_fresh_over_memory"] = e["memmap, in page cache (fresh mapping per epoch)"].get(
        "vs_in_memory"
    )
    disk = e["disk read (readinto 64 MiB)"]["median_s"]
    res["disk_read_gb_s"] = x_bytes / disk / 1e9
    res["evicted_over_disk_read"] = e["memmap, evicted before each epoch"]["median_s"] / disk
    cached = e["memmap, in page cache (fresh mapping per epoch)"]["median_s"]
    res["evicted_over_cached"] = e["memmap, evicted before each epoch"]["median_s"] / cached
    return res


def table_out_of_core(res: dict) -> str:
    rows = []
    disk = res["epochs"]["disk read (readinto 64 MiB)"]["median_s"]
    resident = res.get("resident_after_first_read")
    cached = "yes" if resident is None or resident >= 0.99 else f"{resident:.0%} of X"
    for name, e in res["epochs"].items():
        rows.append(
            [
                name,
                cached if e["cached"] else "no",
                str(len(e["times_s"])),
                fmt(e["median_s"] * 1e3),
                fmt(e["gb_s"]),
                fmt(e.get("vs_in_memory")),
                "" if e["cached"] else fmt(e["median_s"] / disk),
            ]
        )
    header = ["X", "in page cache", "runs", "ms", "GB/s", "time vs in memory",
              "time vs disk read"]  # fmt: skip
    return markdown(header, rows, [False, False, True, True, True, True, True])


def table_fits(res: dict) -> str:
    rows = []
    for name, f in res["fits"].items():
        rows.append(
            [
                name,
                fmt(f["median_s"]),
                fmt(res["x_bytes"] / f["median_s"] / 1e9),
                str(f["n_iter"]),
                f"{f['rel_error_vs_exact']:.1e}",
                f"{f['rel_error_vs_true_coef']:.1e}",
            ]
        )
    header = ["fit (solver, X)", "s (median of 3)", "GB of X / s", "n_iter_",
              f"rel. error vs {res['fit_reference']}", "rel. error vs true coef"]  # fmt: skip
    return markdown(header, rows, [False, True, True, True, True, True])


# --- 2. peak memory -------------------------------------------------------------------


def memory_child(x_path: str, y_path: str, rows: int, index: int) -> None:
    """Runs in a fresh process: one fit, its peak memory beyond the loaded data."""
    warnings.simplefilter("ignore")
    from fastlinreg import LinearRegression

    label, params = MEMORY_SOLVERS[index]
    X = read_rows(Path(x_path), rows)
    y = read_rows(Path(y_path), rows)
    LinearRegression(**params).fit(X[:WARM_ROWS], y[:WARM_ROWS])  # compile / load the JIT
    gc.collect()
    keys = ("VmRSS", "VmHWM", "RssAnon")
    loaded = _proc_fields("/proc/self/status", keys)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current VmRSS
        hwm_reset = True
    except OSError:
        hwm_reset = False
    base = _proc_fields("/proc/self/status", keys)

    peak_anon = [base.get("RssAnon", 0)]
    samples = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            anon = _proc_fields("/proc/self/status", ("RssAnon",)).get("RssAnon", 0)
            peak_anon[0] = max(peak_anon[0], anon)
            samples[0] += 1
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    model = LinearRegression(**params).fit(X, y)
    fit_s = time.perf_counter() - t0
    stop.set()
    sampler.join()
    end = _proc_fields("/proc/self/status", keys)
    # Without the reset, VmHWM may still hold an earlier peak: the growth is then a lower bound.
    start = base["VmRSS"] if hwm_reset else base["VmHWM"]
    out = {
        "solver": label,
        "params": dict(params),
        "x_bytes": X.nbytes,
        "y_bytes": y.nbytes,
        "fit_s": fit_s,
        "n_iter": int(model.n_iter_),
        "hwm_reset": hwm_reset,
        "status_after_load": loaded,
        "status_base": base,
        "status_end": end,
        "peak_extra_bytes": max(0, end["VmHWM"] - start),
        "anon_peak_extra_bytes": max(0, peak_anon[0] - base.get("RssAnon", 0)),
        "anon_samples": samples[0],
    }
    print("RESULT " + json.dumps(out), flush=True)


def bench_memory(data: dict, rows: int) -> list[dict]:
    out = []
    for index, (label, _) in enumerate(MEMORY_SOLVERS):
        log(f"memory: {label}")
        cmd = [sys.executable, __file__, "--child", str(data["x"]), str(data["y"]),
               str(rows), str(index)]  # fmt: skip
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            log(f"  failed ({proc.returncode}): {proc.stderr[-2000:]}")
            out.append({"solver": label, "error": proc.stderr[-2000:]})
            continue
        result = json.loads(lines[-1][len("RESULT ") :])
        result["process_s"] = time.perf_counter() - t0
        out.append(result)
    return out


def table_memory(results: list[dict]) -> str:
    rows = []
    for r in results:
        if "error" in r:
            rows.append([r["solver"], "failed", "", "", "", ""])
            continue
        mb = r["peak_extra_bytes"] / MIB
        rows.append(
            [
                r["solver"],
                fmt(r["fit_s"]),
                str(r["n_iter"]),
                fmt(mb),
                f"{100 * r['peak_extra_bytes'] / r['x_bytes']:.2f}%",
                fmt(r["anon_peak_extra_bytes"] / MIB),
            ]
        )
    header = ["solver", "fit s", "n_iter_", "peak extra MB (VmHWM)", "extra / X",
              "peak extra RssAnon MB (2 ms samples)"]  # fmt: skip
    return markdown(header, rows, [False, True, True, True, True, True])


# --- 3. Dask --------------------------------------------------------------------------


def _nothing(chunk) -> float:
    return 0.0


def _sum_of(*values) -> float:
    return sum(values)


def bench_dask(n: int, chunk: int, repeats: int, dask_ml_cap_s: float, max_iter: int) -> dict:
    import dask
    import dask.array as da
    import numba
    from distributed import Client, LocalCluster, wait

    from fastlinreg import LinearRegression, kernels
    from fastlinreg.sources.dask import DaskSource

    res: dict = {"n": n, "d": D, "chunk_rows": chunk, "dask_version": dask.__version__}
    warnings.simplefilter("ignore")
    with (
        LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        res["worker_numba_threads"] = list(client.run(numba.get_num_threads).values())
        log(f"dask: making X {n} x {D} on the workers")
        rs = da.random.RandomState(0)
        w_true = np.random.default_rng(1).standard_normal(D)
        Xd = rs.standard_normal((n, D), chunks=(chunk, D))
        yd = Xd @ w_true + INTERCEPT + NOISE * rs.standard_normal(n, chunks=chunk)
        Xd, yd = client.persist([Xd, yd])
        wait([Xd, yd])
        Xnp, ynp = dask.compute(Xd, yd)
        # Gathered from the workers, X arrives in a buffer that is not 8-byte aligned, and
        # NumPy then uses neither BLAS nor SIMD for it: an ordinary array instead.
        Xnp, ynp = np.array(Xnp, order="C"), np.array(ynp)
        W = np.zeros((1, D))
        b = np.zeros(1)
        w = np.zeros(D)
        source = DaskSource(Xd, yd)
        source_serial = DaskSource(Xd, yd, parallel=False)
        losses: dict[str, float] = {}

        def dask_epoch(key, src):
            return lambda: losses.__setitem__(key, src.loss_grad(W, b)[0])

        chunks = client.futures_of(Xd)
        variants = {
            "DaskSource.loss_grad (parallel=None)": dask_epoch("dask", source),
            "DaskSource.loss_grad (parallel=False: 1 thread per worker)": dask_epoch(
                "dask-serial", source_serial
            ),
            "in memory kernels.loss_grad (parallel=True)": lambda: losses.__setitem__(
                "memory", kernels.loss_grad(Xnp, ynp, w, 0.0, parallel=True)[0]
            ),
            # What any pass pays on this cluster before it computes anything: one task
            # per chunk of X (reading nothing), their sum, the result back. Futures, not
            # fastlinreg: the floor of a pass's overhead.
            "distributed round trip (a no-op task per chunk + a sum)": lambda: client.submit(
                _sum_of, *[client.submit(_nothing, part, pure=False) for part in chunks]
            ).result(),
        }
        log(f"dask epochs: {len(variants)} variants x {repeats} rounds")
        times = interleaved(variants, repeats)
        mem = statistics.median(times["in memory kernels.loss_grad (parallel=True)"])
        res["epochs"] = {
            name: {
                "times_s": t,
                "median_s": statistics.median(t),
                "gb_s": Xnp.nbytes / statistics.median(t) / 1e9,
                "vs_in_memory": statistics.median(t) / mem,
            }
            for name, t in times.items()
        }
        res["epoch_losses"] = losses
        # Where a Dask epoch goes: the tasks' compute time on each worker vs the wall time.
        from distributed import get_task_stream

        with get_task_stream(client) as stream:
            t0 = time.perf_counter()
            source.loss_grad(W, b)
            wall = time.perf_counter() - t0
        busy: dict[str, float] = {}
        for task in stream.data:
            for ss in task.get("startstops", ()):
                if ss.get("action") == "compute":
                    worker = str(task.get("worker"))
                    busy[worker] = busy.get(worker, 0.0) + ss["stop"] - ss["start"]
        res["task_stream"] = {"wall_s": wall, "compute_s_per_worker": busy,
                              "tasks": len(stream.data)}  # fmt: skip
        res["dask_over_memory"] = res["epochs"]["DaskSource.loss_grad (parallel=None)"][
            "vs_in_memory"
        ]

        # Time to solution. Warm-up fits on the first chunk (compiles / loads the JIT in
        # the workers and imports dask-ml), then the timed fits.
        log("dask: fits")
        from dask_ml.linear_model import LinearRegression as DaskMLLinearRegression

        head_X, head_y = Xd[:chunk], yd[:chunk]
        for solver in ("exact", "agd"):
            LinearRegression(solver=solver).fit(head_X, head_y)
            LinearRegression(solver=solver).fit(Xnp[:chunk], ynp[:chunk])
        models: dict[str, object] = {}
        fit_variants = {}
        for solver in ("exact", "agd"):
            for label, (X, y) in {"dask": (Xd, yd), "in memory (numpy)": (Xnp, ynp)}.items():

                def fit(solver=solver, label=label, X=X, y=y):
                    models[f"fastlinreg {solver}, {label}"] = LinearRegression(solver=solver).fit(
                        X, y
                    )

                fit_variants[f"fastlinreg {solver}, {label}"] = fit
        fit_times = interleaved(fit_variants, 3, warm=False)
        ref = theta_of(models["fastlinreg exact, dask"])
        fits = {
            name: {
                "times_s": t,
                "median_s": statistics.median(t),
                "n_iter": int(models[name].n_iter_),
                "rel_error": rel_error(theta_of(models[name]), ref),
            }
            for name, t in fit_times.items()
        }

        # dask_glm's gradient_descent calls compute_stepsize_dask once per iteration and
        # returns no count: a counting wrapper tells whether it stopped on tol or max_iter.
        import dask_glm.algorithms as glm_algorithms

        calls = [0]
        stepsize = glm_algorithms.compute_stepsize_dask

        def counted(*a, **kw):
            calls[0] += 1
            return stepsize(*a, **kw)

        glm_algorithms.compute_stepsize_dask = counted

        def dask_ml_fit(k, X=Xd, y=yd):
            model = DaskMLLinearRegression(
                solver="gradient_descent", fit_intercept=True, tol=1e-10, max_iter=k
            )
            calls[0] = 0
            t0 = time.perf_counter()
            model.fit(X, y)
            return time.perf_counter() - t0, model, calls[0]

        try:
            dask_ml_fit(2, head_X, head_y)  # imports, first graphs
            probe_s, _, _ = dask_ml_fit(3)
            per_iter = probe_s / 3
            k = int(min(max_iter, max(3, dask_ml_cap_s // per_iter)))
            log(f"dask-ml: {per_iter:.2f} s per iteration (3-iteration probe): max_iter={k}")
            dt, model, n_iter = dask_ml_fit(k)
        finally:
            glm_algorithms.compute_stepsize_dask = stepsize
        fits["dask-ml gradient_descent, dask"] = {
            "times_s": [dt],
            "median_s": dt,
            "n_iter": n_iter,
            "max_iter": k,
            "stopped_on_tol": n_iter < k,
            "probe_s_per_iter": per_iter,
            "rel_error": rel_error(np.append(np.ravel(model.coef_), float(model.intercept_)), ref),
        }
        res["fits"] = fits
        res["reference"] = "fastlinreg exact, dask"
        res["rel_error_true_coef"] = rel_error(ref, np.append(w_true, INTERCEPT))
        agd = fits["fastlinreg agd, dask"]["median_s"]
        for f in fits.values():
            f["vs_fastlinreg_agd_dask"] = f["median_s"] / agd
        res["dask_ml_over_agd"] = fits["dask-ml gradient_descent, dask"]["median_s"] / agd
        res["dask_ml_over_exact"] = (
            fits["dask-ml gradient_descent, dask"]["median_s"]
            / fits["fastlinreg exact, dask"]["median_s"]
        )
    return res


def table_dask_epochs(res: dict) -> str:
    rows = [
        [
            name,
            fmt(e["median_s"] * 1e3),
            "-" if name.startswith("distributed") else fmt(e["gb_s"]),  # reads no X
            fmt(e["vs_in_memory"]),
        ]
        for name, e in res["epochs"].items()
    ]
    table = markdown(["epoch", "ms", "GB/s", "time vs in memory"], rows, [False, True, True, True])
    ts = res.get("task_stream")
    if ts:
        busy = ", ".join(f"{1e3 * v:.0f}" for v in ts["compute_s_per_worker"].values())
        table += (
            f"\n\nOne more epoch with the task stream on: {1e3 * ts['wall_s']:.0f} ms wall, "
            f"{ts['tasks']} tasks, compute ms per worker: {busy}."
        )
    return table


def table_dask_fits(res: dict) -> str:
    rows = []
    for name, f in res["fits"].items():
        runs = "median of 3"
        if "max_iter" in f:
            why = "stopped on tol" if f["stopped_on_tol"] else "stopped at max_iter"
            runs = f"one run, max_iter={f['max_iter']}, {why}"
        rows.append(
            [
                name,
                fmt(f["median_s"]),
                runs,
                "-" if f["n_iter"] is None else str(f["n_iter"]),
                f"{f['rel_error']:.1e}",
                fmt(f["vs_fastlinreg_agd_dask"]),
            ]
        )
    header = ["fit", "s", "runs", "n_iter_", f"rel. error vs {res['reference']}",
              "time vs fastlinreg agd (dask)"]  # fmt: skip
    return markdown(header, rows, [False, True, False, True, True, True])


# --- main -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gb", type=float, default=4.0, help="GiB of X on disk (default 4)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp"), help="where the data goes")
    parser.add_argument("--mem-gb", type=float, default=2.0, help="GiB of X for section 2")
    parser.add_argument("--dask-n", type=int, default=10_000_000, help="rows of the Dask X")
    parser.add_argument("--dask-ml-cap", type=float, default=150.0,
                        help="seconds the dask-ml fit may take (sets its max_iter)")  # fmt: skip
    parser.add_argument("--dask-ml-max-iter", type=int, default=100)
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--quick", action="store_true", help="0.5 GB smoke run")
    parser.add_argument("--keep", action="store_true", help="keep the data files")
    parser.add_argument("--out", type=Path, default=None, help="JSON file of all results")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        x_path, y_path, rows, index = args.child
        memory_child(x_path, y_path, int(rows), int(index))
        return {}
    if args.quick:
        args.gb, args.mem_gb, args.dask_n, args.dask_ml_cap = 0.5, 0.25, 2_000_000, 20.0
    args.mem_gb = min(args.mem_gb, args.gb)
    dask_chunk = 1_000_000 if args.dask_n >= 5_000_000 else max(1, args.dask_n // 8)

    import fastlinreg
    from fastlinreg.bench import info_line, runtime_info

    started = time.perf_counter()
    info = runtime_info()
    report: dict = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "runtime_info": info,
        "mem_total_bytes": meminfo("MemTotal"),
        "python": platform.python_version(),
        "fastlinreg_path": str(Path(fastlinreg.__file__).parent),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    tables: list[str] = []
    data = make_data(args.dir, args.gb)
    report["data"] = {"x": str(data["x"]), "n": data["n"], "d": D, "reused": data["reused"],
                      "write_s": data["write_s"]}  # fmt: skip
    try:
        ooc = bench_out_of_core(data, repeats=5, evicted_repeats=3)
        report["out_of_core"] = ooc
        gb = ooc["x_bytes"] / 1e9
        tables.append(
            f"### 1. One epoch on X of {data['n']:,} x {D} float64 ({gb:.2f} GB), "
            "kernels.loss_grad(parallel=True)\n\n" + table_out_of_core(ooc)
        )
        tables.append(f"### 1b. Fits on the same X ({gb:.2f} GB)\n\n" + table_fits(ooc))
        if not args.skip_memory:
            rows = int(args.mem_gb * GIB // (8 * D))
            mem = bench_memory(data, rows)
            report["memory"] = mem
            tables.append(
                f"### 2. Peak memory beyond X and y, X of {rows:,} x {D} float64 in memory "
                f"({rows * D * 8 / 1e9:.2f} GB), one process per solver\n\n" + table_memory(mem)
            )
    finally:
        if not args.keep:
            remove_data(data)
            log("data files removed")
    if not args.skip_dask:
        dres = bench_dask(args.dask_n, dask_chunk, 5, args.dask_ml_cap, args.dask_ml_max_iter)
        report["dask"] = dres
        tables.append(
            f"### 3. Dask: LocalCluster(2 processes x 1 thread), X of {args.dask_n:,} x {D} "
            f"float64 ({args.dask_n * D * 8 / 1e9:.2f} GB, persisted), chunks of "
            f"{dask_chunk:,} rows\n\n" + table_dask_epochs(dres)
        )
        tables.append("### 3b. Dask: time to solution\n\n" + table_dask_fits(dres))
    report["tables"] = tables
    log("done")
    report["loadavg"] = LOADAVG
    report["total_s"] = time.perf_counter() - started
    total_ram = report["mem_total_bytes"]
    footer = info_line(info) + (f" | {total_ram / GIB:.1f} GiB RAM" if total_ram else "")
    print("\n\n".join(tables) + "\n\n" + footer)
    print(f"\ntotal {report['total_s']:.0f} s")
    if args.out:
        args.out.write_text(json.dumps(report, indent=1, default=str) + "\n")
        log(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
