"""The tutorial's 3-4-1 network, trained through scratchnn and by hand.

"How to build your own Neural Network from scratch in Python": two sigmoid
layers without biases, U[0, 1) weights, the sum of squared errors and
`weights += d_weights` (a learning rate of 1) on four samples, 1500 times.
"""
import numpy as np
import pytest

from scratchnn import Callback, Dense, Network, SGD
from scratchnn.data import load_tutorial

SEED = 1
EPOCHS = 1500


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _sigmoid_derivative(a):
    # The tutorial writes σ' from the output: σ'(z) = a (1 - a).
    return a * (1.0 - a)


class TutorialNetwork:
    """The tutorial's class, transcribed from its equations."""

    def __init__(self, x, y, weights1, weights2):
        self.input = x
        self.y = y
        self.weights1 = weights1.copy()
        self.weights2 = weights2.copy()
        self.output = np.zeros(y.shape)

    def feedforward(self):
        self.layer1 = _sigmoid(self.input @ self.weights1)
        self.output = _sigmoid(self.layer1 @ self.weights2)

    def backprop(self):
        # The chain rule on SSE, sign flipped so the step is `+=`.
        delta2 = 2 * (self.y - self.output) * _sigmoid_derivative(self.output)
        d_weights2 = self.layer1.T @ delta2
        delta1 = (delta2 @ self.weights2.T) * _sigmoid_derivative(self.layer1)
        d_weights1 = self.input.T @ delta1

        self.weights1 += d_weights1
        self.weights2 += d_weights2


def _tutorial_net():
    return Network(
        [
            Dense(4, "sigmoid", use_bias=False, init="uniform"),
            Dense(1, "sigmoid", use_bias=False, init="uniform"),
        ],
        loss="sse",
        optimizer=SGD(lr=1.0),
        dtype="float64",
    )


class _Snapshot(Callback):
    """Keeps a copy of the parameters as training begins."""

    def on_train_begin(self, network):
        self.initial = [p.copy() for p in network.parameters()]


@pytest.fixture(scope="module")
def trained():
    X, y = load_tutorial()
    built = _tutorial_net().build(3, seed=SEED)
    initial = [p.copy() for p in built.parameters()]

    net = _tutorial_net()
    snapshot = _Snapshot()
    history = net.fit(
        X, y, epochs=EPOCHS, batch_size=None, seed=SEED, callbacks=[snapshot]
    )
    return X, y, net, history, initial, snapshot.initial


def test_data_is_the_tutorials():
    X, y = load_tutorial()
    assert X.tolist() == [[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]]
    assert y.ravel().tolist() == [0, 1, 1, 0]


def test_fit_starts_from_the_weights_build_draws(trained):
    # The comparison below relies on this: fit and build with one seed
    # draw the same initial weights.
    _, _, _, _, from_build, from_fit = trained
    assert len(from_build) == 2
    assert [w.shape for w in from_build] == [(3, 4), (4, 1)]
    for built, fitted in zip(from_build, from_fit, strict=True):
        assert np.array_equal(built, fitted)
        assert built.min() >= 0.0
        assert built.max() < 1.0


def test_loss_never_increases_and_ends_small(trained):
    X, y, net, history, _, _ = trained
    loss = np.array(history["loss"])

    assert len(loss) == EPOCHS
    assert np.all(np.diff(loss) <= 0.0)
    assert loss[-1] < 0.01

    prediction = net.predict(X)
    final_sse = float(np.sum((prediction - y) ** 2))
    assert final_sse < 0.01
    assert np.all(np.abs(prediction - y) < 0.1)


def test_matches_the_tutorials_equations(trained):
    X, y, net, history, initial, _ = trained
    reference = TutorialNetwork(X, y, *initial)

    sse_per_iteration = []
    for _ in range(EPOCHS):
        reference.feedforward()
        sse_per_iteration.append(np.sum((reference.y - reference.output) ** 2))
        reference.backprop()
    reference.feedforward()

    np.testing.assert_allclose(
        history["loss"], sse_per_iteration, rtol=0, atol=1e-9
    )
    W1, W2 = net.parameters()
    np.testing.assert_allclose(W1, reference.weights1, rtol=0, atol=1e-9)
    np.testing.assert_allclose(W2, reference.weights2, rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        net.predict(X), reference.output, rtol=0, atol=1e-9
    )
    # The weights moved a long way from the start: this is not a no-op.
    assert np.max(np.abs(W1 - initial[0])) > 1.0
