"""One training epoch on this machine: fastlinreg vs NumPy vs scikit-learn vs the memory.

What ``fastlinreg bench`` prints. For each shape of X, five implementations of one epoch
(one pass over the rows of X) are timed side by side:

- "fastlinreg serial" and "fastlinreg parallel": :func:`fastlinreg.kernels.loss_grad`,
  the fused forward pass, MSE and gradients, with ``parallel=False`` / ``True``;
- "numpy reference": :func:`fastlinreg.reference.loss_grad`, the plain NumPy epoch
  (BLAS matrix-vector products and n-length temporaries);
- "scikit-learn SGD": one ``SGDRegressor.partial_fit(X, y)``, a stochastic-gradient
  epoch (one update per row, input validation included). scikit-learn has no full-batch
  gradient-descent regressor; an SGD epoch is the closest thing it has, and it also
  reads every row once;
- "stream bound": :func:`fastlinreg.kernels.streaming_read`, a parallel sum of X. No
  epoch can read X faster than this, so its time is the memory-bandwidth bound.

The benchmark suite in ``benchmarks/test_epoch.py`` measures the same thing with
pytest-benchmark; this module needs nothing but the installed package.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import kernels, reference

MIB = 1 << 20
# Each default shape holds about 256 MiB of X in float64 (float32: the same n, half the
# bytes), as in benchmarks/test_epoch.py: far larger than any cache, so the epoch is
# memory-bound and the streaming read is a meaningful bound.
FULL_BYTES = 256 * MIB
# --quick: 16 MiB per shape, a few seconds in all. Larger than L2 but not than every L3
# (server parts have 32-500 MiB): quick numbers may measure cache, not memory, bandwidth.
QUICK_BYTES = 16 * MIB
FEATURES = (2, 10, 100, 1000)
FULL_SHAPES: list[tuple[int, int]] = [(FULL_BYTES // (8 * d), d) for d in FEATURES]
QUICK_SHAPES: list[tuple[int, int]] = [(QUICK_BYTES // (8 * d), d) for d in FEATURES]
FULL_REPEATS = 7
QUICK_REPEATS = 3

SERIAL = "fastlinreg serial"
PARALLEL = "fastlinreg parallel"
NUMPY = "numpy reference"
SKLEARN = "scikit-learn SGD"
STREAM = "stream bound"
IMPLEMENTATIONS: tuple[str, ...] = (SERIAL, PARALLEL, NUMPY, SKLEARN, STREAM)


@dataclass
class BenchRow:
    """The timing of one implementation on one shape.

    Attributes
    ----------
    implementation : str
        One of :data:`IMPLEMENTATIONS`.
    shape : str
        Shape of X, ``"{n_samples}x{n_features}"``.
    dtype : str
        dtype of X and y.
    ms_per_epoch : float
        Median wall time of one epoch, in milliseconds.
    gb_per_s : float or None
        ``X.nbytes / median`` in GB/s (1e9 bytes): the rate at which the epoch reads X.
    stream_fraction : float or None
        ``median / stream-bound median`` of the same X in the same run: 1.0 runs at
        the measured memory bandwidth, 2.0 takes twice as long.
    """

    implementation: str
    shape: str
    dtype: str
    ms_per_epoch: float
    gb_per_s: float | None
    stream_fraction: float | None


@dataclass
class BenchResult:
    """The rows of a benchmark run and the machine they were measured on.

    Attributes
    ----------
    rows : list of BenchRow
        One row per implementation and shape, shapes in the order run.
    info : dict
        BLAS libraries (``blas_libs``, summarised in ``blas``), ``openblas_coretype``,
        ``numba_version``, ``numba_threading_layer``, ``numba_num_threads``,
        ``cpu_count``, ``platform``, ``processor``, ``numpy_version``,
        ``sklearn_version``.
    repeats : int
        Timed epochs per implementation and shape (medians are over these).
    """

    rows: list[BenchRow] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    repeats: int = 0


def _blas_libs() -> list[dict]:
    from threadpoolctl import threadpool_info

    libs = []
    for lib in threadpool_info():
        if lib.get("user_api") != "blas":
            continue
        path = lib.get("filepath", "") or ""
        owner = "numpy" if "numpy" in path else "scipy" if "scipy" in path else "other"
        libs.append(
            {
                "owner": owner,
                "internal_api": lib.get("internal_api"),
                "version": lib.get("version"),
                "architecture": lib.get("architecture"),
                "num_threads": lib.get("num_threads"),
                "filepath": path,
            }
        )
    return sorted(libs, key=lambda e: (e["owner"], str(e["version"])))


def runtime_info() -> dict:
    """Which BLAS, numba threading layer and threads this process runs with.

    Returns
    -------
    info : dict
        The keys listed in :class:`BenchResult`.
    """
    import numba
    import sklearn

    # numba.threading_layer() is only known once a parallel region has run.
    kernels.loss_grad(np.ones((64, 2)), np.ones(64), np.zeros(2), 0.0, parallel=True)
    blas = _blas_libs()
    blas_line = "; ".join(
        f"{e['owner']}: {e['internal_api']} {e['version']} {e['architecture']}, "
        f"{e['num_threads']} threads"
        for e in blas
    )
    # get_num_threads() starts numba's thread pool if nothing has (with NUMBA_DISABLE_JIT
    # the pass above ran no parallel region): threading_layer() is known only then.
    num_threads = numba.get_num_threads()
    return {
        "blas": blas_line or "none found",
        "blas_libs": blas,
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
        "numba_version": numba.__version__,
        "numba_threading_layer": numba.threading_layer(),
        "numba_num_threads": num_threads,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "numpy_version": np.__version__,
        "sklearn_version": sklearn.__version__,
    }


def _epochs(X: np.ndarray, y: np.ndarray, seed: int) -> dict[str, Callable[[], object]]:
    """One epoch of each implementation on (X, y), as argument-free callables."""
    from sklearn.linear_model import SGDRegressor

    rng = np.random.default_rng(seed + 1)
    d = X.shape[1]
    w64 = rng.standard_normal(d) / np.sqrt(d)
    w_x = w64.astype(X.dtype)  # the reference gets w in X's dtype: no upcast of X
    b = 0.5
    # partial_fit always runs exactly one epoch; max_iter=1 says so for fit as well.
    sgd = SGDRegressor(max_iter=1, tol=None, learning_rate="constant", eta0=1e-4, random_state=seed)
    return {
        SERIAL: lambda: kernels.loss_grad(X, y, w64, b, parallel=False),
        PARALLEL: lambda: kernels.loss_grad(X, y, w64, b, parallel=True),
        NUMPY: lambda: reference.loss_grad(X, y, w_x, b),
        SKLEARN: lambda: sgd.partial_fit(X, y),
        STREAM: lambda: kernels.streaming_read(X),
    }


def _bench_shape(n: int, d: int, dtype: np.dtype, repeats: int, seed: int) -> list[BenchRow]:
    # X and y live only in this frame: they are freed before the next shape is made.
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=dtype)
    y = rng.standard_normal(n, dtype=dtype)
    epochs = _epochs(X, y, seed)
    names = list(epochs)
    for name in names:
        epochs[name]()  # compile (or load from the JIT cache) and warm up, untimed
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(repeats):
        # Interleave the implementations, starting each round with the next one, so
        # that a slow spell of a noisy machine is shared out rather than hitting one.
        for name in names[i % len(names) :] + names[: i % len(names)]:
            f = epochs[name]
            t0 = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t0)
    medians = {name: statistics.median(t) for name, t in times.items()}
    bound = medians[STREAM]
    rows = []
    for name in names:
        median = medians[name]
        rows.append(
            BenchRow(
                implementation=name,
                shape=f"{n}x{d}",
                dtype=dtype.name,
                ms_per_epoch=median * 1e3,
                gb_per_s=X.nbytes / median / 1e9 if median > 0 else None,
                stream_fraction=median / bound if bound > 0 else None,
            )
        )
    return rows


def run_benchmark(
    *,
    quick: bool = False,
    shapes: Sequence[tuple[int, int]] | None = None,
    dtype: str = "float64",
    repeats: int | None = None,
    seed: int = 0,
) -> BenchResult:
    """Time one epoch of each implementation on random data of each shape.

    Every implementation is called once untimed first (so JIT compilation is not
    counted), then ``repeats`` times, interleaved with the others; the median is kept.
    The stream bound is measured on the same X in the same run.

    Parameters
    ----------
    quick : bool, default=False
        Use :data:`QUICK_SHAPES` (about 16 MiB of X each) and :data:`QUICK_REPEATS`
        instead of :data:`FULL_SHAPES` (about 256 MiB each) and :data:`FULL_REPEATS`.
    shapes : sequence of (n_samples, n_features), default=None
        Shapes of X to run instead of the defaults.
    dtype : {"float64", "float32"}, default="float64"
        dtype of X and y.
    repeats : int, default=None
        Timed epochs per implementation and shape; None takes the default of ``quick``.
    seed : int, default=0
        Seed of the random X, y and w.

    Returns
    -------
    result : BenchResult
        One row per shape and implementation (in the order of :data:`IMPLEMENTATIONS`)
        and the BLAS / threading information of this process.
    """
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    if shapes is None:
        shapes = QUICK_SHAPES if quick else FULL_SHAPES
    if repeats is None:
        repeats = QUICK_REPEATS if quick else FULL_REPEATS
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    checked = []
    for shape in shapes:
        n, d = (int(s) for s in shape)
        if n < 1 or d < 1:
            raise ValueError(f"shapes must be (n_samples, n_features) >= 1, got {shape}")
        checked.append((n, d))
    rows: list[BenchRow] = []
    for n, d in checked:
        rows.extend(_bench_shape(n, d, dt, repeats, seed))
    return BenchResult(rows=rows, info=runtime_info(), repeats=repeats)


def _number(x: float | None) -> str:
    if x is None or not np.isfinite(x):
        return "-"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:#.3g}"


def _ratio(x: float | None) -> str:
    if x is None or not np.isfinite(x):
        return "-"
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}"


def info_line(info: dict, repeats: int | None = None) -> str:
    """One line of the BLAS kernel and threads and numba's threading layer and threads."""
    coretype = info.get("openblas_coretype") or ""
    blas = info.get("blas", "unknown")
    if coretype:
        blas += f" (OPENBLAS_CORETYPE={coretype})"
    line = (
        f"BLAS: {blas} | numba {info.get('numba_version', '?')}: "
        f"{info.get('numba_threading_layer', '?')} threading layer, "
        f"{info.get('numba_num_threads', '?')} threads | {info.get('cpu_count', '?')} CPUs"
    )
    if info.get("processor"):
        line += f" ({info['processor']})"
    if repeats:
        line += f" | median of {repeats}"
    return line


def format_table(result: BenchResult) -> str:
    """The result as a markdown table, followed by one line on BLAS and numba threads.

    "× stream bound" is ``ms/epoch`` over the stream bound's ``ms/epoch`` of the same
    shape (1.0: as fast as memory allows); "vs numpy" is the NumPy reference's
    ``ms/epoch`` over the row's (above 1: faster than NumPy).

    Parameters
    ----------
    result : BenchResult

    Returns
    -------
    table : str

    Examples
    --------
    >>> from fastlinreg.bench import BenchResult, BenchRow, format_table
    >>> rows = [BenchRow("numpy reference", "1000x10", "float64", 0.2, 0.4, 4.0),
    ...         BenchRow("fastlinreg parallel", "1000x10", "float64", 0.05, 1.6, 1.0)]
    >>> info = {"blas": "numpy: openblas 0.3.27 Haswell, 4 threads",
    ...         "numba_version": "0.60.0", "numba_threading_layer": "tbb",
    ...         "numba_num_threads": 4, "cpu_count": 4}
    >>> print(format_table(BenchResult(rows, info, repeats=3)))
    | implementation      | shape   | dtype   | ms/epoch |  GB/s | × stream bound | vs numpy |
    |---------------------|---------|---------|---------:|------:|---------------:|---------:|
    | numpy reference     | 1000x10 | float64 |    0.200 | 0.400 |           4.00 |     1.00 |
    | fastlinreg parallel | 1000x10 | float64 |   0.0500 |  1.60 |           1.00 |     4.00 |
    BLAS: numpy: openblas 0.3.27 Haswell, 4 threads | numba 0.60.0: tbb threading layer, 4 threads | 4 CPUs | median of 3
    """  # noqa: E501
    numpy_ms = {
        (r.shape, r.dtype): r.ms_per_epoch for r in result.rows if r.implementation == NUMPY
    }
    header = ["implementation", "shape", "dtype", "ms/epoch", "GB/s", "× stream bound", "vs numpy"]
    right = [False, False, False, True, True, True, True]
    body = []
    for r in result.rows:
        ref = numpy_ms.get((r.shape, r.dtype))
        vs_numpy = ref / r.ms_per_epoch if ref is not None and r.ms_per_epoch > 0 else None
        body.append(
            [
                r.implementation,
                r.shape,
                r.dtype,
                _number(r.ms_per_epoch),
                _number(r.gb_per_s),
                _ratio(r.stream_fraction),
                _ratio(vs_numpy),
            ]
        )
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = [
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    dashes = ["-" * (w + 1) + (":" if r else "-") for w, r in zip(widths, right, strict=True)]
    rule = "|" + "|".join(dashes) + "|"
    lines = [line(header), rule, *(line(row) for row in body)]
    lines.append(info_line(result.info, result.repeats))
    return "\n".join(lines)
