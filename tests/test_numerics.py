"""Extreme logits: every stable form is exact and finite, with no FP flags.

Each check runs under np.errstate(all="raise"), so an overflow, an invalid
operation, a division by zero or even an underflow inside the library would
raise. Expected values come from the exact limits, worked out by hand.
"""
import numpy as np
import pytest

from scratchnn.activations import Sigmoid, Softmax, log_softmax, sigmoid, softmax
from scratchnn.losses import (
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    SigmoidBinaryCrossEntropy,
    SoftmaxCrossEntropy,
)

DTYPES = [np.float32, np.float64]
LOGITS = [[-1000.0, 0.0, 1000.0], [1000.0, -1000.0, 0.0]]


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_and_its_derivative_at_plus_minus_1000(dtype):
    z = np.array(LOGITS, dtype=dtype)
    with np.errstate(all="raise"):
        a = sigmoid(z)
        grad = Sigmoid().backward(np.ones_like(z), z, a)
    # σ(-1000) is below the smallest float: exactly 0; σ(1000) rounds to 1.
    np.testing.assert_array_equal(a, [[0, 0.5, 1], [1, 0, 0.5]])
    np.testing.assert_array_equal(grad, [[0, 0.25, 0], [0, 0, 0.25]])
    assert a.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_and_log_sum_exp_at_plus_minus_1000(dtype):
    z = np.array(LOGITS, dtype=dtype)
    with np.errstate(all="raise"):
        p = softmax(z)
        log_p = log_softmax(z)
        grad = Softmax().backward(np.ones_like(z), z, p)
    # The largest logit leads every other one by >= 1000, and e^-1000 is
    # 0 in floating point: the softmax is exactly one-hot.
    np.testing.assert_array_equal(p, [[0, 0, 1], [1, 0, 0]])
    # log softmax = z - max - log(1 + e^-1000 + ...) = z - max exactly.
    np.testing.assert_array_equal(log_p, [[-2000, -1000, 0], [0, -2000, -1000]])
    # Σ_k p_k * 1 = 1, so the Jacobian times a constant vector is 0.
    np.testing.assert_array_equal(grad, np.zeros_like(z))


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy_at_plus_minus_1000(dtype):
    z = np.array(LOGITS, dtype=dtype)
    # Row 0 targets its smallest logit, row 1 its largest.
    y = np.array([[1.0, 0, 0], [1.0, 0, 0]], dtype=dtype)
    loss = SoftmaxCrossEntropy()
    with np.errstate(all="raise"):
        value = loss.forward(z, y)
        grad = loss.backward()
    # Row 0: -log softmax = 2000; row 1: 0. The mean is 1000.
    assert value == 1000.0
    np.testing.assert_array_equal(
        grad, np.array([[-1, 0, 1], [0, 0, 0]], dtype=dtype) / 2
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_binary_cross_entropy_at_plus_minus_1000(dtype):
    z = np.array([[1000.0], [-1000.0], [1000.0], [-1000.0]], dtype=dtype)
    y = np.array([[1.0], [0.0], [0.0], [1.0]], dtype=dtype)
    loss = SigmoidBinaryCrossEntropy()
    with np.errstate(all="raise"):
        value = loss.forward(z, y)
        grad = loss.backward()
    # Right and sure: 0 each; wrong and sure: |z| = 1000 each.
    assert value == (0 + 0 + 1000 + 1000) / 4
    np.testing.assert_array_equal(grad, [[0], [0], [0.25], [-0.25]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropies_on_saturated_probabilities(dtype):
    p = np.array([[1.0], [0.0], [0.0], [1.0]], dtype=dtype)
    t = np.array([[1.0], [0.0], [1.0], [0.0]], dtype=dtype)
    bce = BinaryCrossEntropy()
    cce = CategoricalCrossEntropy()
    with np.errstate(all="raise"):
        binary = bce.forward(p, t)
        binary_grad = bce.backward()
        categorical = cce.forward(np.hstack([1 - p, p]), np.hstack([1 - t, t]))
        categorical_grad = cce.backward()
    # Two confident hits add 0, two confident misses add -log(1e-12) each.
    assert binary == pytest.approx(2 * -np.log(1e-12) / 4)
    assert categorical == pytest.approx(binary)
    assert np.isfinite(binary_grad).all()
    assert np.isfinite(categorical_grad).all()
