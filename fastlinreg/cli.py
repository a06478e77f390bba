"""The ``fastlinreg`` command (also ``python -m fastlinreg``).

    fastlinreg demo      the tutorial run, with its loss plot
    fastlinreg fit       train on a .csv/.parquet/.npy file, save the model
    fastlinreg predict   predictions of a saved model for a file
    fastlinreg bench     epoch-time side by side on this machine

A user's mistake (a missing file, an unknown column, a bad cell or option, a model file
that is not one) prints one line and exits with status 2; a bug still shows its traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import warnings

import numpy as np

from . import __version__


def _demo(args: argparse.Namespace) -> int:
    """The tutorial: make_regression 100x2, noise 10, w = ones, b = 1, lr 0.01, 200 epochs."""
    from sklearn.datasets import make_regression

    from .estimator import LinearRegression

    X, y = make_regression(n_samples=100, n_features=2, noise=10, random_state=args.seed)
    y = y.reshape(-1, 1)
    model = LinearRegression(solver="gd", learning_rate=0.01, max_iter=200, tol=None)
    model.fit(X, y, coef_init=np.ones((1, 2)), intercept_init=1.0)
    for epoch in range(0, model.n_iter_, 20):
        print(f"epoch {epoch:4d}  loss {model.loss_history_[epoch]:12.4f}")
    print(f"epoch {model.n_iter_ - 1:4d}  loss {model.loss_history_[-1]:12.4f}")
    exact = np.linalg.lstsq(np.column_stack([X, np.ones(len(X))]), y, rcond=None)[0].ravel()
    print(f"{'':12s}{'w1':>12s}{'w2':>12s}{'b':>12s}")
    print(f"{'gradient':12s}" + "".join(f"{v:12.4f}" for v in [*model.coef_[0], *model.intercept_]))
    print(f"{'exact':12s}" + "".join(f"{v:12.4f}" for v in exact))
    if args.plot:
        _save_plot(lambda plotting: plotting.plot_loss(model), args.plot, "loss plot")
    return 0


def _fit(args: argparse.Namespace) -> int:
    """Train on a file streamed in row batches, save the model, print a summary."""
    from . import outputs
    from .estimator import LinearRegression
    from .sources.file import FileSource

    # Before any work: a fit of an hour must not end in a refusal to write its model,
    # nor write it over its own data.
    _check_outputs({"--save": args.save, "--plot": args.plot}, inputs=[("data file", args.data)])
    if args.summary and (args.alpha > 0 or args.precompute is False):
        raise ValueError(
            "--summary prints least squares' statistics, from the factor of the rows: it "
            "cannot go with --alpha > 0 or --precompute false"
        )
    if args.cov_type != "nonrobust" and not args.summary:
        raise ValueError("--cov-type chooses the standard errors that --summary prints")
    if args.spill_dir is not None:
        outputs.check_folder(args.spill_dir, "--spill-dir")
    source = FileSource(
        args.data,
        args.target,
        batch_rows=args.batch_rows,
        spill_dir=args.spill_dir,
        progress=not args.quiet,
    )
    model = LinearRegression(
        solver=args.solver,
        learning_rate=args.learning_rate,
        max_iter=args.max_iter,
        tol=args.tol,
        alpha=args.alpha,
        l1_ratio=args.l1_ratio,
        fit_intercept=not args.no_intercept,
        # --summary: gd and agd too run on the factor the statistics come from.
        precompute=True if args.summary and args.precompute == "auto" else args.precompute,
        parallel=None if args.parallel == "auto" else args.parallel,
        verbose=not args.quiet,
        cov_type=args.cov_type,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(source)
    # A signal during the fit whose exception Python swallowed stops here, as one it
    # raised would have: no model file.
    _stop_if_signalled()
    # Saved first: what comes after (the R² pass, printing to a closed pipe, Ctrl-C)
    # cannot lose a finished fit.
    model.save(args.save)
    r2 = _r2(model, source)
    report = _report_stream(args.save)
    n, d = source.n_samples, source.n_features
    epochs = f"{model.n_iter_} epoch{'' if model.n_iter_ == 1 else 's'}"
    print(f"data        {args.data}: {n} rows, {d} features, target {args.target!r}", file=report)
    print(f"solver      {model.solver_}, {epochs}, converged: {model.converged_}", file=report)
    print(f"final loss  {model.loss_history_[-1]:.6g}", file=report)
    print(f"R²          {r2:.6f}", file=report)
    for warning in caught:
        print(f"fastlinreg: warning: {warning.message}", file=sys.stderr)
    if args.plot:
        _save_plot(lambda plotting: plotting.plot_loss(model), args.plot, "loss plot", report)
    print(f"model       saved to {args.save}", file=report)
    if args.summary:
        try:
            print(model.summary(), file=report)
        except AttributeError as error:  # a fit that did not converge: a user's matter
            raise ValueError(f"--summary: {error} (the model is saved)") from None
    # The whole command, from its start: parsing, fitting, saving, R² and the plot. Rows
    # read counts every pass over the file (one, when the fit ran on the factor).
    elapsed = time.perf_counter() - args.started
    rate = source.rows_read / elapsed
    print(
        f"time        {elapsed:.3f} s ({source.rows_read} rows read, {rate:.3g} rows/s)",
        file=report,
    )
    return 0


def _r2(model, source) -> float:
    """The training R²: from the factor when the fit made one (no pass over the file),
    else from one more streamed pass."""
    factor = model._factor  # the rows' triangular factor (see fastlinreg.sources._factor)
    if factor is not None:
        from .sources.precomputed import PrecomputedSource

        moments = PrecomputedSource(factor, y_scale=1.0)
        W = np.atleast_2d(model.coef_).astype(np.float64)
        b = np.atleast_1d(model.intercept_).astype(np.float64)
        residual, _, _ = moments.loss_grad(W, b)
        # The spread of y is the smallest mean square of a constant model, at b = mean
        # of y; a gradient at b = 0 gives that mean (the loss is (b - mean)² + spread).
        zero = np.zeros_like(W)
        _, _, gb = moments.loss_grad(zero, np.zeros(1))
        spread, _, _ = moments.loss_grad(zero, -gb / 2.0)
        return 1.0 - residual / spread if spread > 0 else float("nan")
    from .sources._powers_of_two import power_of_two_scale

    # The spread of y is merged block by block (Chan et al.), so a large mean of y does
    # not cancel it away. y and the predictions are divided by one power of two, taken
    # from the first block (R² does not change): squares of a y of 1e-170 underflow.
    residual_squares = count = mean = spread = 0.0
    y_scale = None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        for X, Y, _ in source.row_blocks():
            predictions = model.predict(X)
            if y_scale is None:
                y_scale = power_of_two_scale(np.column_stack([Y[:, 0], predictions]))
            y, predictions = Y[:, 0] / y_scale, predictions / y_scale
            residual_squares += float(np.sum((y - predictions) ** 2))
            m, block_mean = len(y), float(np.mean(y))
            both = count + m
            delta = block_mean - mean
            spread += float(np.sum((y - block_mean) ** 2)) + delta**2 * count * m / both
            mean += delta * m / both
            count = both
    return 1.0 - residual_squares / spread if spread > 0 else float("nan")


def _predict(args: argparse.Namespace) -> int:
    """One prediction per row of DATA, written as CSV with the header ``prediction``.

    DATA is streamed in row batches: each batch is predicted and appended to a temporary
    file beside --out, renamed to it after the last batch (removed on an error), so
    memory holds a batch, not the file, and a failed run leaves no partial output.
    """
    from . import kernels, outputs, persistence
    from .sources.file import FileSource

    _check_outputs(
        {"--out": args.out}, inputs=[("model file", args.model), ("data file", args.data)]
    )
    # The model file's content, checked as fastlinreg.load checks it, without building
    # the estimator: no scikit-learn to import, a second saved on every call. The
    # training parameters are not read (persistence.read_model).
    model = persistence.read_model(args.model)
    source = FileSource(args.data, None, batch_rows=args.batch_rows, progress=not args.quiet)
    columns = _feature_columns(model, source, by_position=args.by_position)
    with outputs.PredictionWriter(args.out) as writer:
        for batch in source.feature_batches():
            _stop_if_signalled()
            # A C-contiguous copy, as the whole-file command made: the same kernel path,
            # so the same predictions to the last bit (the estimator's predict's).
            X = batch if columns is None else np.ascontiguousarray(batch[:, columns])
            predictions = kernels.predict_targets(X, model.coef, model.intercept)
            _refuse_overflow(predictions, source, first_row=writer.n_rows)
            writer.write(predictions.ravel() if model.coef.ndim == 1 else predictions)
        _stop_if_signalled()  # before the output is renamed into place
    report = _report_stream(args.out)
    print(f"{writer.n_rows} predictions written to {args.out}", file=report)
    return 0


def _refuse_overflow(predictions, source, first_row: int) -> None:
    """Predictions beyond float64 (inf, or NaN from inf - inf) are an error, not output:
    the file they would go to could not even be read back."""
    from .errors import DataError
    from .kernels import not_finite_predictions

    not_finite = not_finite_predictions(predictions)
    if not_finite is not None:
        count, row = not_finite
        raise DataError(
            f"{source.path}: the prediction for data row {first_row + row + 1} is beyond "
            f"float64 ({count} in this batch): the values times the coefficients "
            "overflow; rescale the data and refit"
        )


def _feature_columns(model, source, *, by_position: bool) -> list[int] | None:
    """Where the features of ``model`` (a :class:`fastlinreg.persistence.SavedModel`)
    are among the columns of ``source`` (a FileSource without a target), in the model's
    order; None: all of them, as they are."""
    from .errors import DataError

    columns = source.feature_names
    names = model.feature_names
    n_features = model.attributes["n_features_in_"]
    numbered = source.path.lower().endswith(".npy")  # columns "0", "1", ...: no names
    if names is None and not numbered and not by_position:
        raise DataError(
            f"the model was fitted without column names, so {source.path}'s columns "
            "cannot be matched to its features by name; if the file's columns are the "
            "model's features in the same order, pass --by-position"
        )
    if names is None or by_position:
        if len(columns) != n_features:
            raise DataError(
                f"{source.path} has {len(columns)} columns; the model expects {n_features} features"
            )
        return None
    missing = [name for name in names if name not in columns]
    if missing:
        raise DataError(
            f"{source.path} lacks the model's feature column(s): "
            + ", ".join(repr(str(name)) for name in missing[:5])
            + (" ..." if len(missing) > 5 else "")
        )
    return [columns.index(name) for name in names]


def _check_outputs(outputs_by_option: dict, inputs: list[tuple[str, str]]) -> None:
    """Refuse, before any work, an output that is one of the inputs or another output,
    or that cannot be written (see ``fastlinreg.outputs.check_output``)."""
    from . import outputs

    seen: dict[str, str] = {}
    for option, path in outputs_by_option.items():
        if not path:
            continue
        outputs.check_output(path, inputs=inputs, option=option)
        if outputs.is_standard_output(path):
            continue  # several outputs may share standard output, as with a shell's >
        where = os.path.realpath(path)
        if where in seen:
            raise ValueError(f"{option} {path} is also {seen[where]}: choose another file")
        seen[where] = f"{option} {path}"


def _report_stream(output: str):
    """Standard output for the summary, unless the output goes there (``-``,
    ``/dev/stdout``): then standard error, so the summary does not mix into it."""
    from .outputs import is_standard_output

    return sys.stderr if is_standard_output(output) else sys.stdout


def _bench(args: argparse.Namespace) -> int:
    """Epoch time of fastlinreg, NumPy and scikit-learn side by side on this machine."""
    from . import bench

    result = bench.run_benchmark(quick=args.quick, dtype=args.dtype)
    print(bench.format_table(result))
    if args.plot:
        _save_plot(lambda plotting: plotting.plot_benchmark(result), args.plot, "chart")
    return 0


def _save_plot(draw, path: str, what: str, report=None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from . import outputs, plotting

    ax = draw(plotting)
    with outputs.output_file(path) as file:
        ax.figure.savefig(file, format="png", dpi=100, bbox_inches="tight")
    print(f"{what} written to {path}", file=report or sys.stdout)


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad option is one line (and exit status 2) like every user error."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fastlinreg",
        description="Gradient-descent linear regression with fused Numba kernels.",
    )
    parser.add_argument("--version", action="version", version=f"fastlinreg {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    demo = sub.add_parser(
        "demo",
        help="run the tutorial example and plot its loss",
        description="The classic tutorial: make_regression(100 samples, 2 features, "
        "noise 10), w = ones, b = 1, learning rate 0.01, 200 epochs of gradient descent. "
        "Prints the loss every 20 epochs and the final coefficients next to the exact "
        "least-squares ones, and writes the 'Epochs vs Loss' plot.",
    )
    demo.add_argument(
        "--plot",
        default="loss.png",
        help="PNG file for the loss plot (default: loss.png; an empty string writes none)",
    )
    demo.add_argument("--seed", type=int, default=0, help="random_state of make_regression")
    demo.set_defaults(run=_demo)

    fit = sub.add_parser(
        "fit",
        help="train on a data file and save the model",
        description="Train fastlinreg.LinearRegression on DATA (.csv with a header row, "
        ".parquet, or .npy whose columns are numbered 0, 1, ...), predicting the column "
        "TARGET from all the others; print a summary and save the model (a safe .npz "
        "file, no pickle). DATA is streamed in row batches, never loaded whole.",
    )
    fit.add_argument("data", metavar="DATA", help="training data: .csv, .parquet or .npy")
    fit.add_argument("--target", required=True, help="name (or .npy index) of the y column")
    fit.add_argument(
        "--save", required=True, metavar="MODEL", help="where to write the model ('-': stdout)"
    )
    fit.add_argument(
        "--solver",
        choices=["auto", "gd", "agd", "exact"],
        default="auto",
        help="auto (default): exact up to 4096 columns (agd beyond, or with an L1 "
        "penalty, and gd with a --learning-rate number); gd: the tutorial's gradient "
        "descent; agd: accelerated; exact: least squares in one pass (the file is "
        "streamed, so no sgd here)",
    )
    fit.add_argument(
        "--learning-rate",
        type=_learning_rate,
        default="auto",
        help="step size of gd/agd, or 'auto' (1/L, cannot diverge; default)",
    )
    fit.add_argument(
        "--max-iter",
        type=int,
        default=None,
        help="most epochs (default: 1000, or 100000 on the precomputed factor)",
    )
    fit.add_argument(
        "--tol",
        type=float,
        default=1e-9,
        help="relative move below which gd/agd have converged (default 1e-9)",
    )
    fit.add_argument("--alpha", type=float, default=0.0, help="penalty strength (default 0)")
    fit.add_argument(
        "--l1-ratio",
        type=float,
        default=0.0,
        help="share of L1 in the penalty, elastic net (gd/agd; default 0)",
    )
    fit.add_argument("--no-intercept", action="store_true", help="fit no bias term")
    fit.add_argument(
        "--precompute",
        type=_auto_or_bool,
        default="auto",
        help="factor X once so epochs cost O(d²): auto (default), true, false",
    )
    fit.add_argument(
        "--parallel",
        type=_auto_or_bool,
        default="auto",
        help="multi-threaded kernels: auto (default), true, false",
    )
    _add_batch_rows(fit)
    fit.add_argument(
        "--spill-dir",
        metavar="DIR",
        help="folder for the temporary binary copy of a CSV or Parquet DATA that solvers "
        "making many passes read (agd beyond 4096 columns, or --precompute false), "
        "removed at the end; it takes 8 * rows * columns bytes (default: TMPDIR, else "
        "the system's temporary folder)",
    )
    fit.add_argument("--plot", help="PNG file for the 'Epochs vs Loss' plot")
    fit.add_argument(
        "--summary",
        action="store_true",
        help="print statsmodels' table of the fit: standard errors, t and p-values, "
        "confidence intervals, R², F test (from the factor of the rows: no extra pass)",
    )
    fit.add_argument(
        "--cov-type",
        choices=["nonrobust", "HC0", "HC1", "HC2", "HC3"],
        default="nonrobust",
        help="the --summary's standard errors: classical (default), or "
        "heteroskedasticity-robust as statsmodels' HC0-HC3 (one more pass over DATA)",
    )
    fit.add_argument("--quiet", action="store_true", help="no progress bars")
    fit.set_defaults(run=_fit)

    predict = sub.add_parser(
        "predict",
        help="predict with a saved model",
        description="Predict every row of DATA with the model saved by 'fastlinreg fit'. "
        "DATA must hold the model's feature columns (others, like the target, are "
        "ignored, but must be numbers too). Writes a CSV with one column, 'prediction' "
        "(prediction_0, prediction_1, ... for a model of several targets). DATA is "
        "streamed in row batches, never loaded whole; PRED.csv appears only once every "
        "row is predicted.",
    )
    predict.add_argument("model", metavar="MODEL", help="a model file from 'fastlinreg fit'")
    predict.add_argument("data", metavar="DATA", help="data: .csv, .parquet or .npy")
    predict.add_argument(
        "--out", required=True, metavar="PRED.csv", help="output CSV file ('-': standard output)"
    )
    predict.add_argument(
        "--by-position",
        action="store_true",
        help="take DATA's columns in file order as the model's features, whatever their "
        "names (needed for a model fitted without column names, e.g. on an array)",
    )
    _add_batch_rows(predict)
    predict.add_argument("--quiet", action="store_true", help="no progress bar")
    predict.set_defaults(run=_predict)

    bench = sub.add_parser(
        "bench",
        help="time one epoch of fastlinreg, NumPy and scikit-learn on this machine",
        description="One epoch (forward pass, MSE, gradients) of fastlinreg's serial and "
        "parallel kernels, the plain NumPy reference and an SGD epoch of scikit-learn, "
        "side by side on X of about 256 MB per shape (16 MB with --quick), with GB/s and "
        "the ratio to a streaming read of X measured in the same run.",
    )
    bench.add_argument("--quick", action="store_true", help="small shapes, a few seconds")
    bench.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    bench.add_argument("--plot", help="PNG file for a bar chart of the epoch times")
    bench.set_defaults(run=_bench)
    return parser


def _add_batch_rows(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch-rows",
        type=int,
        default=65536,
        metavar="N",
        help="rows of DATA read at a time (default 65536); a batch takes about "
        "2 * N * columns * 8 bytes of memory, whatever the file's size",
    )


def _learning_rate(text: str):
    if text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a number nor 'auto'") from None


def _auto_or_bool(text: str):
    values = {"auto": "auto", "true": True, "false": False}
    if text.lower() not in values:
        raise argparse.ArgumentTypeError(f"{text!r}: expected auto, true or false")
    return values[text.lower()]


class _Terminated(BaseException):
    """SIGTERM or SIGHUP, raised where the program is, so that whatever it was writing is
    cleaned up on the way out (temporary files removed) as for Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


# The stopping signal received, if any. Raising from a signal handler is not enough on
# its own: when the signal lands while Python runs a weakref callback or a __del__ (an
# import's module-lock callback, say), the exception is printed as "ignored" and the
# program carries on. What is recorded here is raised again between batches.
_received_signal: int | None = None


def _stopping(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else _Terminated(signum)


def _on_signal(signum, frame):
    global _received_signal
    _received_signal = signum
    raise _stopping(signum)


def _unraisable_unless_our_signal(unraisable) -> None:
    """sys.unraisablehook while the command runs: a stopping signal's swallowed exception
    is raised again at the next check, so its "Exception ignored" traceback is noise."""
    if not isinstance(unraisable.exc_value, KeyboardInterrupt | _Terminated):
        sys.__unraisablehook__(unraisable)


def _stop_if_signalled() -> None:
    """Raise for a stopping signal whose first exception was swallowed (see above)."""
    if _received_signal is not None:
        raise _stopping(_received_signal)


def main(argv: list[str] | None = None) -> int:
    from .errors import DataError

    started = time.perf_counter()
    args = build_parser().parse_args(argv)
    args.started = started
    global _received_signal
    _received_signal = None
    # A signal the caller ignores stays ignored (nohup's SIGHUP, a background job's SIGINT).
    names = ("SIGINT", "SIGTERM", "SIGHUP")
    handled = [getattr(signal, name) for name in names if hasattr(signal, name)]
    handled = [signum for signum in handled if signal.getsignal(signum) != signal.SIG_IGN]
    previous = {signum: signal.signal(signum, _on_signal) for signum in handled}
    unraisablehook, sys.unraisablehook = sys.unraisablehook, _unraisable_unless_our_signal
    try:
        status = int(args.run(args))
        _stop_if_signalled()  # a signal that came after the last check still stops
        sys.stdout.flush()  # here, so that a closed pipe is found while it can be handled
        return status
    except BrokenPipeError:
        # The reader of standard output left (`| head`): what was saved stays saved; say
        # nothing more there (a later flush would fail again) and exit as SIGPIPE would.
        sys.stdout = open(os.devnull, "w")
        return 128 + 13
    except (OSError, DataError, ValueError) as error:
        # User mistakes: missing or unreadable files, bad cells or columns, invalid
        # parameters (scikit-learn's messages), a diverging learning rate.
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"fastlinreg: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fastlinreg: interrupted", file=sys.stderr)
        return 130
    except _Terminated as stop:
        print(f"fastlinreg: stopped by {signal.Signals(stop.signum).name}", file=sys.stderr)
        return 128 + stop.signum
    finally:
        sys.unraisablehook = unraisablehook
        for signum, handler in previous.items():
            signal.signal(signum, handler)
