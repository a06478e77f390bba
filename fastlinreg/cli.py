"""The ``fastlinreg`` command (also ``python -m fastlinreg``)."""

from __future__ import annotations

import argparse
import sys

import numpy as np


def _demo(args: argparse.Namespace) -> int:
    """The tutorial: make_regression 100x2, noise 10, w = ones, b = 1, lr 0.01, 200 epochs."""
    from sklearn.datasets import make_regression

    from .estimator import LinearRegression

    X, y = make_regression(n_samples=100, n_features=2, noise=10, random_state=args.seed)
    y = y.reshape(-1, 1)
    model = LinearRegression(learning_rate=0.01, max_iter=200, tol=None)
    model.fit(X, y, coef_init=np.ones((1, 2)), intercept_init=1.0)
    for epoch in range(0, model.n_iter_, 20):
        print(f"epoch {epoch:4d}  loss {model.loss_history_[epoch]:12.4f}")
    print(f"epoch {model.n_iter_ - 1:4d}  loss {model.loss_history_[-1]:12.4f}")
    exact = np.linalg.lstsq(np.column_stack([X, np.ones(len(X))]), y, rcond=None)[0].ravel()
    print(f"{'':12s}{'w1':>12s}{'w2':>12s}{'b':>12s}")
    print(f"{'gradient':12s}" + "".join(f"{v:12.4f}" for v in [*model.coef_[0], *model.intercept_]))
    print(f"{'exact':12s}" + "".join(f"{v:12.4f}" for v in exact))
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        from .plotting import plot_loss

        ax = plot_loss(model)
        ax.figure.savefig(args.plot, dpi=100)
        print(f"loss plot written to {args.plot}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastlinreg",
        description="Gradient-descent linear regression with fused Numba kernels.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except OSError as error:
        print(f"fastlinreg: error: {error}", file=sys.stderr)
        return 2
