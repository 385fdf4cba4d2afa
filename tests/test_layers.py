"""Tests for scratchnn.layers.Dense and scratchnn.initializers."""
import numpy as np
import pytest

from conftest import load_case, numerical_gradient, relative_error
from scratchnn import Dense, Network
from scratchnn.activations import LeakyReLU
from scratchnn.initializers import get_initializer
from scratchnn.losses import SumSquaredError

SMOOTH = ["identity", "sigmoid", "tanh", "softmax"]


def _built(units, activation, n_in, use_bias=True, seed=0):
    layer = Dense(units, activation, use_bias=use_bias)
    layer.build(n_in, np.random.default_rng(seed), np.float64)
    return layer


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("activation", SMOOTH)
def test_dense_gradients_match_central_differences(activation, use_bias, rng):
    layer = _built(3, activation, n_in=4, use_bias=use_bias)
    if use_bias:
        layer.params["b"][...] = rng.normal(size=3)
    x = rng.normal(size=(5, 4))
    # L = Σ w ⊙ layer(x): dL/d(output) is w.
    w = rng.normal(size=(5, 3))

    def loss():
        return float(np.sum(w * layer.forward(x)))

    layer.forward(x)
    dx = layer.backward(w)

    assert dx.shape == x.shape
    assert relative_error(dx, numerical_gradient(loss, x)) < 1e-6
    assert set(layer.grads) == ({"W", "b"} if use_bias else {"W"})
    for key, param in layer.params.items():
        numeric = numerical_gradient(loss, param)
        assert layer.grads[key].shape == param.shape
        assert relative_error(layer.grads[key], numeric) < 1e-6


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_rectifier_dense_gradients_away_from_the_kink(activation, rng):
    layer = _built(3, activation, n_in=2)
    x = rng.normal(size=(6, 2))
    # Per unit, the bias that keeps every pre-activation farthest from 0,
    # so a ±1e-6 step in x, W or b never crosses the kink.
    z = x @ layer.params["W"]  # (6, 3)
    candidates = np.linspace(-1.0, 1.0, 41)
    margins = np.abs(z[:, :, None] + candidates).min(axis=0)  # (3, 41)
    layer.params["b"][...] = candidates[margins.argmax(axis=1)]
    z = x @ layer.params["W"] + layer.params["b"]
    assert np.abs(z).min() > 0.05
    w = rng.normal(size=(6, 3))

    def loss():
        return float(np.sum(w * layer.forward(x)))

    layer.forward(x)
    dx = layer.backward(w)
    assert relative_error(dx, numerical_gradient(loss, x)) < 1e-6
    for key, param in layer.params.items():
        numeric = numerical_gradient(loss, param)
        assert relative_error(layer.grads[key], numeric) < 1e-6


def test_forward_is_x_times_w_plus_b(rng):
    layer = _built(2, "tanh", n_in=3)
    layer.params["b"][...] = [0.5, -1.0]
    x = rng.normal(size=(4, 3))

    expected = np.tanh(x @ layer.params["W"] + np.array([0.5, -1.0]))
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-15)
    assert np.array_equal(layer.output, expected)
    assert layer.logits.shape == (4, 2)


def test_backward_overwrites_gradients_instead_of_adding(rng):
    layer = _built(2, "sigmoid", n_in=3)
    x = rng.normal(size=(4, 3))
    grad = rng.normal(size=(4, 2))

    layer.forward(x)
    layer.backward(grad)
    first = {k: v.copy() for k, v in layer.grads.items()}
    layer.forward(x)
    layer.backward(grad)

    for key in first:
        assert np.array_equal(layer.grads[key], first[key])
        assert np.any(first[key] != 0)


def test_build_shapes_and_dtype():
    layer = Dense(5, "relu")
    layer.build(3, np.random.default_rng(0), np.float32)
    assert layer.params["W"].shape == (3, 5)
    assert layer.params["b"].shape == (5,)
    assert layer.params["W"].dtype == np.float32
    assert np.array_equal(layer.params["b"], np.zeros(5))
    assert layer.n_in == 3
    assert layer.n_params == 3 * 5 + 5

    no_bias = Dense(2, use_bias=False)
    no_bias.build(4, np.random.default_rng(0), np.float64)
    assert list(no_bias.params) == ["W"]


def test_default_initializers_follow_the_activation():
    assert Dense(3, "relu").init == "he"
    assert Dense(3, "leaky_relu").init == "he"
    assert Dense(3, "tanh").init == "glorot"
    assert Dense(3).init == "glorot"


def test_initializer_ranges():
    rng = np.random.default_rng(0)

    uniform = get_initializer("uniform")(40, 50, rng)
    assert uniform.shape == (40, 50)
    assert uniform.min() >= 0.0
    assert uniform.max() < 1.0

    glorot = get_initializer("glorot")(40, 50, rng)
    limit = np.sqrt(6.0 / 90.0)
    assert np.abs(glorot).max() <= limit
    assert np.abs(glorot).max() > 0.9 * limit

    he = get_initializer("he")(200, 300, rng)
    assert he.std() == pytest.approx(np.sqrt(2.0 / 200), rel=0.02)
    assert abs(he.mean()) < 0.01


def test_constructor_errors():
    with pytest.raises(ValueError, match="units must be >= 1, got 0"):
        Dense(0)
    with pytest.raises(TypeError, match="units must be an int"):
        Dense(2.5)
    with pytest.raises(TypeError, match="units must be an int"):
        Dense(True)
    valid = "glorot, he, uniform"
    with pytest.raises(ValueError, match=f"'zeros'.*{valid}"):
        Dense(2, init="zeros")


def test_config_and_repr():
    layer = Dense(4, "tanh", use_bias=False, init="uniform")
    assert layer.config() == {
        "units": 4,
        "activation": "tanh",
        "use_bias": False,
        "init": "uniform",
    }
    assert repr(layer) == "Dense(4, activation=tanh, use_bias=False)"


def test_config_records_activation_settings():
    leaky = Dense(3, LeakyReLU(slope=0.3))
    expected = {"name": "leaky_relu", "slope": 0.3}
    assert leaky.config()["activation"] == expected
    assert Dense(3, LeakyReLU()).config()["activation"] == "leaky_relu"

    # A config given back to Dense builds the same layer.
    rebuilt = Dense(**leaky.config())
    assert rebuilt.config() == leaky.config()
    assert rebuilt.activation.slope == 0.3


# ----------------------------------------------------------------------
# Field case
# ----------------------------------------------------------------------
def test_c08_bias_gradient_is_a_column_sum():
    case = load_case("C08")
    layer = _built(3, "identity", n_in=2)
    layer.params["W"][...] = case.W
    layer.params["b"][...] = case.b
    sse = SumSquaredError()

    # The case uses L = ½ Σ r²; our SSE is Σ r², so halve value and grad.
    half_loss = 0.5 * sse.forward(layer.forward(case.X), case.Y)
    layer.backward(0.5 * sse.backward())
    db, dW = layer.grads["b"], layer.grads["W"]

    assert half_loss == pytest.approx(case.EXPECTED_LOSS, rel=1e-12)
    assert db.shape == (3,)
    np.testing.assert_allclose(db, case.EXPECTED_DB, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dW, case.EXPECTED_DW, rtol=0, atol=1e-12)
    np.testing.assert_allclose(db, [-1.0, -0.4, 0.4], atol=1e-12)
    assert not np.allclose(db, [-1.0, -1.0, -1.0])

    def loss():
        return 0.5 * sse.forward(layer.forward(case.X), case.Y)

    b = layer.params["b"]
    assert relative_error(db, case.finite_difference_db()) < 1e-6
    assert relative_error(db, numerical_gradient(loss, b)) < 1e-6
    W = layer.params["W"]
    assert relative_error(dW, numerical_gradient(loss, W)) < 1e-6


# Our SSE is Σ r², twice the case's ½ Σ r². Our MSE is (1/12) Σ r²: the
# case's batch-mean form (1/4) · ½ Σ r², whose gradients are EXPECTED / 4,
# averaged over the 3 outputs as well, which makes it 2/3 of that form.
@pytest.mark.parametrize("loss, factor", [("sse", 2.0), ("mse", 2.0 / 12.0)])
def test_c08_through_the_network_api(loss, factor):
    case = load_case("C08")
    net = Network([Dense(3)], loss=loss, dtype="float64").build(2, seed=0)
    net.layers[0].params["W"][...] = case.W
    net.layers[0].params["b"][...] = case.b

    value, (dW, db) = net.loss_and_gradients(case.X, case.Y)

    assert value == pytest.approx(factor * case.EXPECTED_LOSS, rel=1e-12)
    assert db.shape == (3,)
    np.testing.assert_allclose(db, factor * case.EXPECTED_DB, atol=1e-12)
    np.testing.assert_allclose(dW, factor * case.EXPECTED_DW, atol=1e-12)
    if loss == "mse":
        # The batch-mean values, (2/3) · [-0.25, -0.1, 0.1] for db.
        np.testing.assert_allclose(
            db, [-1 / 6, -1 / 15, 1 / 15], rtol=0, atol=1e-12
        )
        np.testing.assert_allclose(
            dW * 3 / 2, case.EXPECTED_DW / 4, rtol=0, atol=1e-12
        )


def test_pickled_and_copied_layers_leave_their_batch_buffers_behind():
    import copy
    import pickle

    layer = Dense(4, "relu")
    layer.build(3, np.random.default_rng(0), np.float32)
    x = np.ones((1000, 3), np.float32)
    expected = layer.forward(x).copy()
    for clone in (pickle.loads(pickle.dumps(layer)), copy.deepcopy(layer)):
        assert clone._workspaces == {} and clone._cache == ()
        np.testing.assert_array_equal(clone.forward(x), expected)
    assert len(pickle.dumps(layer)) < 2000  # weights only, no 1000-row buffers
