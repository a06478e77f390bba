"""The oracle itself: the tutorial's math, checked against calculus and exact answers."""

import numpy as np
from numpy.testing import assert_allclose

from fastlinreg import reference


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((30, 3)), rng.standard_normal(30)
    w, b, h = rng.standard_normal(3), 0.4, 1e-6
    _, dw, db = reference.loss_grad(X, y, w, b)
    for j in range(3):
        e = np.zeros(3)
        e[j] = h
        numeric = (
            reference.mse(y, reference.forward(X, w + e, b))
            - reference.mse(y, reference.forward(X, w - e, b))
        ) / (2 * h)
        assert_allclose(dw[j], numeric, rtol=1e-6)
    numeric_b = (
        reference.mse(y, reference.forward(X, w, b + h))
        - reference.mse(y, reference.forward(X, w, b - h))
    ) / (2 * h)
    assert_allclose(db, numeric_b, rtol=1e-6)


def test_tutorial_shapes_equal_flat_shapes():
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((100, 2)), rng.standard_normal(100)
    w2, b2, h2 = reference.fit(X, y.reshape(-1, 1), np.ones((2, 1)), 1.0, 0.01, 50)
    w1, b1, h1 = reference.fit(X, y, np.ones(2), 1.0, 0.01, 50)
    assert w2.shape == (2, 1) and h2.shape == h1.shape == (50,)
    assert_allclose(w2.ravel(), w1, rtol=1e-14)
    assert_allclose(np.ravel(b2), b1, rtol=1e-14)
    assert_allclose(h2, h1, rtol=1e-14)


def test_history_is_loss_before_each_update():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((20, 2)), rng.standard_normal(20)
    w, b, history = reference.fit(X, y, np.zeros(2), 0.0, 0.1, 3)
    assert history[0] == reference.mse(y, np.zeros(20))
    w1, b1 = reference.step(np.zeros(2), 0.0, *reference.gradient(X, y, np.zeros(20)), 0.1)
    assert history[1] == reference.mse(y, reference.forward(X, w1, b1))
    assert np.all(np.diff(history) < 0)


def test_converges_to_least_squares():
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((200, 3)), rng.standard_normal(200)
    w, b, _ = reference.fit(X, y, np.zeros(3), 0.0, 0.2, 2000)
    exact = np.linalg.lstsq(np.column_stack([X, np.ones(200)]), y, rcond=None)[0]
    assert_allclose(np.r_[w, b], exact, rtol=1e-9, atol=1e-12)
