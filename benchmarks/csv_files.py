"""CSV files: ``fastlinreg fit`` and ``predict`` against pandas + scikit-learn (issue 17).

Usage::

    python -m benchmarks.csv_files                    # 2,000,000 x 21 (about 800 MB)
    python -m benchmarks.csv_files --rows 200000      # a quick run (about 80 MB)
    python -m benchmarks.csv_files --out benchmarks/csv_files.json --dir /scratch

A CSV file of ``--rows`` rows, 20 features and a target ``y`` (make_regression-like:
standard normal features, y a linear function of them plus noise, every value written
with ``repr``, 17 significant digits, so 2,000,000 rows make about 800 MB) is written
into a temporary folder under ``--dir`` and removed at the end. The file is read once
before the measurements, so every one reads it from the page cache. Then, in one run:

1. Parsing, in this process: MB/s of one pass of ``FileSource(path, None)`` (pyarrow's
   streaming parser, batches of 65,536 rows), of ``read_table`` (the whole table), of
   the Python reader behind them (``fastlinreg.sources._readers._read_csv_python``, on the first
   ``--python-rows`` rows: it is slow), and of ``pandas.read_csv`` (its C parser,
   default options), the best of ``--repeat`` rounds, the readers taking turns.
2. Fitting, one subprocess each: ``fastlinreg fit DATA --target y --save m.npz
   --quiet`` and ``pandas.read_csv`` + ``sklearn.linear_model.LinearRegression().fit``;
   the wall time of each (the interpreter's start-up included) and its peak resident
   memory (VmHWM, written by the child as it exits).
3. ``fastlinreg predict m.npz DATA --out pred.csv --quiet``: wall time, MB/s of DATA;
   and ``fastlinreg --version``, the command's start-up alone.
4. ``fastlinreg fit`` with its defaults on a ``--wide`` x ``--wide`` file (3000 x 3000,
   about 180 MB): ``exact`` (solver="auto" factors up to 4096 columns; before, agd made
   1,000 passes over a temporary binary copy and stopped unconverged).

Goals (issue 17): fit no slower than pandas + scikit-learn with at most a quarter of its
memory; predict at 200 MB/s or more. The fit's own passes (and the R² pass the command
adds) are the command's business (fastlinreg/cli.py): this measures the command as a
user runs it. The BLAS library NumPy uses (threadpoolctl) and the machine are recorded
with the numbers in ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

N_FEATURES = 20
ROWS_PER_CHUNK = 50_000

PANDAS_SKLEARN = """
import sys
import pandas as pd
from sklearn.linear_model import LinearRegression
frame = pd.read_csv(sys.argv[1])
y = frame.pop("y").to_numpy()
LinearRegression().fit(frame.to_numpy(), y)
"""

# Runs a command (-m MODULE ARGS or -c CODE ARGS) in this interpreter and writes its peak
# resident memory (VmHWM, kB) to the file named first. Not ru_maxrss: the kernel keeps a
# process's peak from before exec, which for a child forked (or vforked) from this
# process is this process's own resident memory.
PEAK_WRAPPER = """
import atexit, runpy, sys
peak_file, kind, what = sys.argv[1:4]
def write_peak():
    with open("/proc/self/status") as status:
        kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(peak_file, "w") as file:
        file.write(kb)
atexit.register(write_peak)
if kind == "-m":
    sys.argv = [what, *sys.argv[4:]]
    runpy.run_module(what, run_name="__main__", alter_sys=True)
else:
    sys.argv = ["-c", *sys.argv[4:]]
    exec(compile(what, "<command>", "exec"), {"__name__": "__main__"})
"""


def write_csv(path: str, rows: int, seed: int = 0) -> None:
    """``rows`` rows of 20 standard normal features and y = X w + noise, with repr."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(-100, 100, N_FEATURES)
    columns = [f"x{j}" for j in range(N_FEATURES)] + ["y"]
    with open(path, "w", encoding="utf-8") as file:
        file.write(",".join(columns) + "\n")
        for start in range(0, rows, ROWS_PER_CHUNK):
            m = min(ROWS_PER_CHUNK, rows - start)
            X = rng.standard_normal((m, N_FEATURES))
            y = X @ w + rng.standard_normal(m)
            table = np.column_stack([X, y]).tolist()
            file.write("\n".join(",".join(map(repr, row)) for row in table) + "\n")


def write_wide_csv(path: str, size: int, seed: int = 1) -> None:
    """``size`` rows of ``size - 1`` standard normal features and y = X w + noise: the
    square file of issue 17, where agd (the default beyond 512 columns until
    solver="auto" went exact up to 4096) made 1,000 passes and stopped unconverged."""
    rng = np.random.default_rng(seed)
    d = size - 1
    w = rng.standard_normal(d)
    with open(path, "w", encoding="utf-8") as file:
        file.write(",".join([*(f"x{j}" for j in range(d)), "y"]) + "\n")
        for start in range(0, size, 500):
            X = rng.standard_normal((min(500, size - start), d))
            table = np.column_stack([X, X @ w + rng.standard_normal(len(X))]).tolist()
            file.write("\n".join(",".join(map(repr, row)) for row in table) + "\n")


def run_child(folder: str, kind: str, what: str, *args: str) -> dict:
    """Run ``python -m what args`` (kind "-m") or ``python -c what args`` (kind "-c");
    its wall time (s, the interpreter's start included) and peak resident memory (MB)."""
    peak_file = os.path.join(folder, "peak")
    command = [sys.executable, "-c", PEAK_WRAPPER, peak_file, kind, what, *args]
    started = time.perf_counter()
    status = subprocess.run(command, check=False).returncode
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{kind} {what[:40]!r} {' '.join(args)} failed with status {status}")
    with open(peak_file) as file:
        peak_kb = int(file.read())
    return {"seconds": round(seconds, 3), "peak_rss_mb": round(peak_kb / 1024, 1)}


def parse_rates(path: str, repeat: int, python_rows: int) -> dict:
    """MB/s of each reader, the best of ``repeat`` rounds taken in turns."""
    import pandas as pd

    from fastlinreg import FileSource
    from fastlinreg.sources._readers import _read_csv_python, read_table

    size = os.path.getsize(path)
    folder = os.path.dirname(path)
    head = os.path.join(folder, "head.csv")  # the first rows, for the slow Python reader
    with open(path, encoding="utf-8") as source, open(head, "w", encoding="utf-8") as target:
        for _, line in zip(range(python_rows + 1), source, strict=False):
            target.write(line)
    head_size = os.path.getsize(head)

    def file_source_pass():
        for _ in FileSource(path, None).feature_batches():
            pass

    readers = {
        "FileSource pass (pyarrow, batches)": (file_source_pass, size),
        "read_table (pyarrow, whole table)": (lambda: read_table(path), size),
        "Python reader (csv module + float)": (
            lambda: _read_csv_python(head, read_table(head).columns),
            head_size,
        ),
        "pandas.read_csv (C parser)": (lambda: pd.read_csv(path), size),
    }
    best = dict.fromkeys(readers, float("inf"))
    names = list(readers)
    for round_ in range(repeat):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            function, _ = readers[name]
            started = time.perf_counter()
            function()
            best[name] = min(best[name], time.perf_counter() - started)
    os.remove(head)
    return {
        name: {
            "seconds": round(best[name], 3),
            "mb_per_s": round(readers[name][1] / 1e6 / best[name], 1),
        }
        for name in names
    }


def blas() -> list[dict]:
    """The BLAS/OpenMP libraries NumPy loaded, as threadpoolctl reports them."""
    from threadpoolctl import threadpool_info

    keys = ("internal_api", "version", "num_threads", "architecture", "threading_layer")
    return [{key: info.get(key) for key in keys if key in info} for info in threadpool_info()]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the CSV file")
    parser.add_argument("--dir", default=None, help="where the temporary folder goes")
    parser.add_argument("--out", default=None, help="JSON file of the results")
    parser.add_argument("--repeat", type=int, default=2, help="rounds of the parsing rates")
    parser.add_argument(
        "--python-rows", type=int, default=100_000, help="rows the Python reader parses"
    )
    parser.add_argument(
        "--wide",
        type=int,
        default=3000,
        help="also time `fastlinreg fit` with its defaults on a WIDE x WIDE file (0: no)",
    )
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="fastlinreg-csv-", dir=args.dir)
    try:
        data = os.path.join(folder, "data.csv")
        started = time.perf_counter()
        write_csv(data, args.rows)
        size = os.path.getsize(data)
        print(
            f"wrote {data}: {args.rows} rows, {size / 1e6:.0f} MB "
            f"in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        with open(data, "rb") as file:  # into the page cache
            while file.read(1 << 24):
                pass
        parsing = parse_rates(data, args.repeat, min(args.python_rows, args.rows))
        for name, rate in parsing.items():
            print(f"{name}: {rate['mb_per_s']} MB/s ({rate['seconds']} s)", flush=True)
        model = os.path.join(folder, "m.npz")
        fit = run_child(
            folder, "-m", "fastlinreg", "fit", data, "--target", "y", "--save", model, "--quiet"
        )
        print(f"fastlinreg fit: {fit}", flush=True)
        peers = run_child(folder, "-c", PANDAS_SKLEARN, data)
        print(f"pandas + sklearn: {peers}", flush=True)
        predictions = os.path.join(folder, "pred.csv")
        predict = run_child(
            folder, "-m", "fastlinreg", "predict", model, data, "--out", predictions, "--quiet"
        )
        startup = run_child(folder, "-m", "fastlinreg", "--version")
        print(f"fastlinreg --version (start-up): {startup}", flush=True)
        predict["mb_per_s"] = round(size / 1e6 / predict["seconds"], 1)
        print(f"fastlinreg predict: {predict}", flush=True)
        wide = None
        if args.wide:
            wide_data = os.path.join(folder, "wide.csv")
            write_wide_csv(wide_data, args.wide)
            wide = run_child(
                folder, "-m", "fastlinreg", "fit", wide_data, "--target", "y", "--save",
                model, "--quiet",
            )  # fmt: skip
            wide["shape"] = [args.wide, args.wide]
            wide["file_mb"] = round(os.path.getsize(wide_data) / 1e6, 1)
            print(f"fastlinreg fit, {args.wide} x {args.wide}, defaults: {wide}", flush=True)
        results = {
            "rows": args.rows,
            "columns": N_FEATURES + 1,
            "file_mb": round(size / 1e6, 1),
            "parsing": parsing,
            "fit": {"fastlinreg": fit, "pandas_sklearn": peers},
            "fit_time_ratio": round(fit["seconds"] / peers["seconds"], 3),
            "fit_memory_ratio": round(fit["peak_rss_mb"] / peers["peak_rss_mb"], 3),
            "predict": predict,
            "startup": startup,
            "wide_fit": wide,
            "goals_met": {
                "fit_time": fit["seconds"] <= peers["seconds"],
                "fit_memory": fit["peak_rss_mb"] <= peers["peak_rss_mb"] / 4,
                "predict_rate": predict["mb_per_s"] >= 200,
                "wide_fit_under_a_minute": wide is None or wide["seconds"] < 60,
            },
            "blas": blas(),
            "machine": {
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "python": platform.python_version(),
            },
        }
        print(json.dumps(results["goals_met"]))
        if args.out:
            with open(args.out, "w", encoding="utf-8") as file:
                json.dump(results, file, indent=2)
                file.write("\n")
        return results
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
