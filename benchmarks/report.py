"""Markdown tables from a pytest-benchmark JSON file of benchmarks/test_*.py.

Usage::

    python benchmarks/report.py RESULT.json [RESULT.json ...] [--sparse-plot PNG]

``--sparse-plot`` draws the sparse epochs (benchmarks/test_sparse_epoch.py) as a bar chart.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from types import SimpleNamespace

EPOCH_IMPLS = ("serial", "parallel", "numpy", "stream", "predict", "precompute")
SPARSE_IMPLS = ("serial", "parallel", "fused", "values", "scipy", "stream", "predict")


def _load(paths: list[str]) -> tuple[list[dict], list[dict]]:
    benches, machines = [], []
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        benches.extend(data.get("benchmarks", []))
        machines.append(data.get("machine_info", {}))
    return benches, machines


def _impl(bench: dict) -> str:
    return bench.get("extra_info", {}).get("impl") or bench["name"].split("|")[0]


def _fmt(x: float | None, spec: str) -> str:
    return "" if x is None else format(x, spec)


def epoch_table(benches: list[dict]) -> list[str]:
    groups: dict[str, dict[str, dict]] = defaultdict(dict)
    for b in benches:
        if (b.get("group") or "").startswith("epoch|"):
            groups[b["group"]][_impl(b)] = b
    if not groups:
        return []
    rows = {}
    for group, impls in groups.items():
        _, shape, dtype = group.split("|")
        n, d = (int(v) for v in shape.split("x"))
        rows[(d, n, dtype)] = {k: v["stats"]["median"] for k, v in impls.items()}, impls
    out = [
        "| d | n | dtype | serial ms | parallel ms | numpy ms | stream ms | predict ms "
        "| precompute ms | parallel vs numpy | parallel / stream | predict / stream "
        "| precompute / stream | parallel GB/s | f32 / f64 (parallel) | serial / parallel |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    order = sorted(rows, key=lambda k: (k[0], k[1], k[2] != "float64"))
    for d, n, dtype in order:
        med, impls = rows[(d, n, dtype)]
        ms = [_fmt(med[i] * 1e3, ".2f") if i in med else "" for i in EPOCH_IMPLS]
        par = med.get("parallel")
        speedup = med["numpy"] / par if par and "numpy" in med else None
        to_stream = par / med["stream"] if par and "stream" in med else None
        stream_s = med.get("stream")
        predict_to_stream = med["predict"] / stream_s if "predict" in med and stream_s else None
        factor_to_stream = (
            med["precompute"] / stream_s if "precompute" in med and stream_s else None
        )
        threads = med["serial"] / par if par and "serial" in med else None
        gbps = impls["parallel"]["extra_info"].get("gbps_X") if par else None
        f32 = None
        if dtype == "float32" and par:
            ref = rows.get((d, n, "float64"), ({}, {}))[0].get("parallel")
            f32 = par / ref if ref else None
        out.append(
            f"| {d} | {n} | {dtype} | "
            + " | ".join(ms)
            + f" | {_fmt(speedup, '.2f')}x | {_fmt(to_stream, '.2f')} "
            f"| {_fmt(predict_to_stream, '.2f')} | {_fmt(factor_to_stream, '.2f')} "
            f"| {_fmt(gbps, '.1f')} | {_fmt(f32, '.2f')} "
            f"| {_fmt(threads, '.2f')}x |"
        )
    out.append("")
    out.append(
        "ms: median per epoch. parallel / stream: the parallel median over the median of a "
        "streaming read of the same X in the same run (predict / stream and precompute / "
        "stream likewise; precompute: the pass that builds the factor of [X y]). GB/s: "
        "X.nbytes / median. serial / parallel: the speed-up from one thread to all of "
        "numba's threads."
    )
    return out


def _sparse_groups(benches: list[dict]) -> list[tuple[str, dict[str, dict]]]:
    groups: dict[str, dict[str, dict]] = defaultdict(dict)
    for b in benches:
        if (b.get("group") or "").startswith("sparse-epoch|"):
            groups[b["group"]][_impl(b)] = b
    return list(groups.items())


def sparse_epoch_table(benches: list[dict]) -> list[str]:
    groups = _sparse_groups(benches)
    if not groups:
        return []
    out = [
        "| X | n | d | entries / row | gradient | serial ms | parallel ms | fused ms | values ms "
        "| scipy ms | stream ms | predict ms | parallel vs scipy | parallel / stream "
        "| serial / parallel |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for group, impls in groups:
        _, shape, per_row = group.split("|")
        n, d = (int(v) for v in shape.split("x"))
        kind = next(iter(impls.values()))["name"].split("|")[1]
        if impls.get("parallel", {}).get("extra_info", {}).get("binary"):
            kind += ", binary"
        med = {k: v["stats"]["median"] for k, v in impls.items()}
        ms = [_fmt(med[i] * 1e3, ".1f") if i in med else "" for i in SPARSE_IMPLS]
        par = med.get("parallel")
        vs_scipy = med["scipy"] / par if par and "scipy" in med else None
        to_stream = par / med["stream"] if par and "stream" in med else None
        threads = med["serial"] / par if par and "serial" in med else None
        copy_s = impls.get("parallel", {}).get("extra_info", {}).get("columns_copy_s")
        gradient = "rows" if copy_s is None else f"columns (copy {copy_s:.2f} s)"
        out.append(
            f"| {kind} | {n:,} | {d:,} | {per_row} | {gradient} | "
            + " | ".join(ms)
            + f" | {_fmt(vs_scipy, '.2f')}x | {_fmt(to_stream, '.2f')} | {_fmt(threads, '.2f')}x |"
        )
    out.append("")
    out.append(
        "ms: median per epoch. scipy: `X @ w`, then `X.T @ r` (the reference on the CSR "
        "matrix). stream: the stored values and column indices read once, in parallel "
        "(binary X, every value 1: its epochs read the indices alone, and so does its "
        "stream). "
        "parallel vs scipy: how many times faster. gradient: summed in the pass over the "
        "rows, or down the columns of a CSC copy of X (made once per fit, in the time "
        "given); fused: there, the one pass over the rows. values: a binary X's epoch "
        "reading its values all the same."
    )
    return out


def sparse_epoch_plot(benches: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from fastlinreg import plot_benchmark

    rows = []
    for group, impls in _sparse_groups(benches):
        _, shape, per_row = group.split("|")
        for impl in SPARSE_IMPLS:
            if impl in impls:
                median = impls[impl]["stats"]["median"]
                rows.append(
                    SimpleNamespace(
                        implementation=impl,
                        shape=f"{shape}\n{per_row} per row",
                        dtype="float64",
                        ms_per_epoch=median * 1e3,
                        gb_per_s=None,
                        stream_fraction=None,
                    )
                )
    ax = plot_benchmark(rows, log=True)
    ax.set_title("One epoch over sparse (CSR) X")
    ax.figure.set_size_inches(10, 4.5)
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=100)


def compile_table(benches: list[dict]) -> list[str]:
    rows = [b for b in benches if (b.get("group") or "").startswith("compile|")]
    if not rows:
        return []
    sklearn = {b["group"]: b["stats"]["median"] for b in rows if _impl(b) == "sklearn"}
    out = [
        "| n x d | process | median s | min s | max s | vs sklearn | target |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for b in rows:
        s, info = b["stats"], b.get("extra_info", {})
        sk = sklearn.get(b["group"])
        ratio = s["median"] / sk if sk else None
        target = info.get("target_ratio")
        out.append(
            f"| {b['group'].split('|')[1]} | {_impl(b)} | {s['median']:.2f} | {s['min']:.2f} "
            f"| {s['max']:.2f} | {_fmt(ratio, '.2f')}x "
            f"| {'<= ' + format(target, 'g') + 'x' if target else ''} |"
        )
    out.append("")
    out.append(
        "Wall time of a fresh `python -c` process: import, fit and predict on a "
        "make_regression problem of n x d (1000 x 10 never imports numba)."
    )
    return out


def header(benches: list[dict], machines: list[dict]) -> list[str]:
    lines = []
    infos = {
        (
            "; ".join(sorted(str(i.get("blas")).split("; "))),
            i.get("numba_threading_layer"),
            i.get("numba_num_threads"),
            i.get("openblas_coretype"),
        )
        for i in (b.get("extra_info", {}) for b in benches)
        if "blas" in i
    }
    for blas, layer, threads, coretype in sorted(infos, key=str):
        extra = f", OPENBLAS_CORETYPE={coretype}" if coretype else ""
        lines.append(f"BLAS: {blas}{extra}. numba threading layer: {layer}, {threads} threads.")
    cpus = {(m.get("cpu", {}).get("brand_raw"), m.get("cpu", {}).get("count")) for m in machines}
    for brand, count in sorted(cpus, key=str):
        if brand:
            lines.append(f"CPU: {brand}, {count} logical CPUs.")
    return lines


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    plot = None
    if "--sparse-plot" in argv:
        at = argv.index("--sparse-plot")
        plot = argv[at + 1]
        argv = argv[:at] + argv[at + 2 :]
    benches, machines = _load(argv)
    parts = [
        header(benches, machines),
        epoch_table(benches),
        sparse_epoch_table(benches),
        compile_table(benches),
    ]
    print("\n\n".join("\n".join(p) for p in parts if p))
    if plot:
        sparse_epoch_plot(benches, plot)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
