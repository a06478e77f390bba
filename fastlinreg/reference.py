"""The plain NumPy twin of the algorithm: the oracle every fast path is tested against.

This is the "linear regression from scratch" tutorial, with its typos fixed. It accepts
the tutorial's shapes (y of shape (n, 1), w of shape (d, 1)) as well as flat ones
(y (n,), w (d,)), and several targets (y (n, k), w (d, k)). ``fit`` is solver="gd",
``fit_accelerated`` solver="agd", ``fit_sgd`` solver="sgd". Keep it plain: it is
also the documentation of what the kernels and solvers compute. X may be a SciPy sparse
matrix as well (its products are SciPy's): the twin of the sparse kernels.
"""

from __future__ import annotations

import numpy as np


def forward(X, w, b):
    """y_pred = X @ w + b"""
    return X @ w + b


def mse(y, y_pred):
    """Mean squared error over all entries."""
    return np.mean((y - y_pred) ** 2)


def gradient(X, y, y_pred):
    """Gradients of the MSE: dw = -2/n X.T (y - y_pred), db = -2/n sum(y - y_pred)."""
    n = X.shape[0]
    residual = y - y_pred
    dw = -2 / n * (X.T @ residual)
    db = -2 / n * np.sum(residual, axis=0)
    return dw, db


def step(w, b, dw, db, lr):
    """One gradient-descent update."""
    return w - lr * dw, b - lr * db


def loss_grad(X, y, w, b):
    """(loss, dw, db) at (w, b): what ``fastlinreg.kernels.loss_grad`` computes in one pass."""
    y_pred = forward(X, w, b)
    dw, db = gradient(X, y, y_pred)
    return mse(y, y_pred), dw, db


def predict(X, w, b):
    """What ``fastlinreg.kernels.predict`` computes."""
    return forward(X, w, b)


def fit(X, y, w, b, lr, num_iter):
    """Run ``num_iter`` gradient-descent iterations from (w, b).

    Returns (w, b, loss_history); loss_history[i] is the loss of iteration i,
    computed before that iteration's update.
    """
    loss_history = []
    for _ in range(num_iter):
        y_pred = forward(X, w, b)
        loss_history.append(mse(y, y_pred))
        dw, db = gradient(X, y, y_pred)
        w, b = step(w, b, dw, db, lr)
    return w, b, np.array(loss_history)


def fit_accelerated(X, y, w, b, lr, num_iter):
    """Nesterov's accelerated gradient descent with adaptive restart, from (w, b).

    What ``LinearRegression(solver="agd")`` computes (here without feature scaling
    or a penalty). The gradient is taken at a look-ahead point (v_w, v_b) that
    carries momentum; the momentum is reset whenever it points uphill.
    Returns (w, b, loss_history); loss_history[i] is the loss at the look-ahead
    point of iteration i.
    """
    loss_history = []
    v_w, v_b = w, b
    t = 1.0
    for _ in range(num_iter):
        y_pred = forward(X, v_w, v_b)
        loss_history.append(mse(y, y_pred))
        dw, db = gradient(X, y, y_pred)
        w_new, b_new = step(v_w, v_b, dw, db, lr)
        uphill = np.sum((v_w - w_new) * (w_new - w)) + np.sum((v_b - b_new) * (b_new - b))
        if uphill > 0:
            t = 1.0
        t_next = (1 + np.sqrt(1 + 4 * t * t)) / 2
        momentum = (t - 1) / t_next
        v_w = w_new + momentum * (w_new - w)
        v_b = b_new + momentum * (b_new - b)
        w, b, t = w_new, b_new, t_next
    return w, b, np.array(loss_history)


def fit_sgd(X, y, w, b, lr, num_epochs, batch_size):
    """Mini-batch stochastic gradient descent over consecutive batches, in order.

    What ``LinearRegression(solver="sgd", shuffle=False, lr_schedule="constant")``
    computes (here without feature scaling or a penalty): a gradient step after each
    batch. Returns (w, b, loss_history); loss_history[e] is the mean over epoch e of
    each batch's loss before its step, weighted by the batch's rows.
    """
    n = X.shape[0]
    loss_history = []
    for _ in range(num_epochs):
        epoch_loss = 0.0
        for start in range(0, n, batch_size):
            Xb, yb = X[start : start + batch_size], y[start : start + batch_size]
            y_pred = forward(Xb, w, b)
            epoch_loss += mse(yb, y_pred) * Xb.shape[0] / n
            dw, db = gradient(Xb, yb, y_pred)
            w, b = step(w, b, dw, db, lr)
        loss_history.append(epoch_loss)
    return w, b, np.array(loss_history)
