"""One pass over a data file: CSV, Parquet and the spilled ``.npy`` copy, and the CSV
parser's settings.

    python benchmarks/bench_file_passes.py [--rows 250000] [--repeat 3] [--dir /tmp]

Writes a file of ``--rows`` rows, 20 standard-normal features and a target ``y`` as CSV
(pyarrow's writer, about 100 MB at the default size) and as Parquet into a temporary
folder under ``--dir`` (removed at the end), then times one ``FileSource.loss_grad``
pass (the median of ``--repeat`` after one untimed pass, so the files are in the page
cache):

1. from the CSV file with the reader's defaults, then with pyarrow's parser threads
   off and on (``readers._CSV_THREADS_BYTES``: from 64 MB on by default) and with the
   large chunks of files from 256 MB on (``readers._LARGE_CSV_BYTES``) forced;
2. from the Parquet file;
3. from the ``.npy`` copy that ``FileSource.repeated_passes()`` spills (what solvers that
   make many passes read), and the time that spill takes.

MB/s is of the CSV file. About 40 s at the default size.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from unittest import mock

import numpy as np
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet
from _common import median_time

from fastlinreg import FileSource
from fastlinreg.sources import _readers as readers

NEVER = 1 << 62


def write_files(folder: str, rows: int) -> tuple[str, str]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, 20))
    y = X @ rng.standard_normal(20) + rng.standard_normal(rows)
    table = pa.table({**{f"x{j}": X[:, j] for j in range(20)}, "y": y})
    csv_path, parquet_path = os.path.join(folder, "data.csv"), os.path.join(folder, "data.parquet")
    pyarrow.csv.write_csv(table, csv_path)
    pyarrow.parquet.write_table(table, parquet_path)
    return csv_path, parquet_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=250_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where the temporary folder goes")
    args = parser.parse_args()
    W, b = np.full((1, 20), 0.1), np.zeros(1)
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        csv_path, parquet_path = write_files(folder, args.rows)
        mb = os.path.getsize(csv_path) / 1e6

        def one_pass(path):
            source = FileSource(path, "y")
            return median_time(lambda: source.loss_grad(W, b), args.repeat)

        rows = [("1. CSV, the reader's defaults", one_pass(csv_path))]
        with mock.patch.object(readers, "_CSV_THREADS_BYTES", NEVER):
            rows.append(("1. CSV, pyarrow's threads off", one_pass(csv_path)))
        with mock.patch.object(readers, "_CSV_THREADS_BYTES", 0):
            rows.append(("1. CSV, pyarrow's threads on", one_pass(csv_path)))
        with mock.patch.object(readers, "_LARGE_CSV_BYTES", 0):
            rows.append(("1. CSV, large chunks", one_pass(csv_path)))
        rows.append(("2. Parquet", one_pass(parquet_path)))
        source = FileSource(csv_path, "y", spill_dir=folder)
        started = time.perf_counter()
        with source.repeated_passes() as spilled:
            spill_s = time.perf_counter() - started
            rows.append(("3. the spilled .npy copy", median_time(lambda: spilled.loss_grad(W, b))))
        rows.append(("3. spilling the CSV file (one parse and write)", spill_s))
    print(f"{args.rows} x 21, CSV file of {mb:.0f} MB; median of {args.repeat} passes")
    print("| one pass | s | CSV MB/s |")
    print("|---|---:|---:|")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.3f} | {mb / seconds:.0f} |")


if __name__ == "__main__":
    main()
