"""Tests for scratchnn.activations: values, derivatives, stable forms."""
import numpy as np
import pytest

from conftest import load_case, numerical_gradient, relative_error
from scratchnn.activations import (
    ACTIVATIONS,
    Activation,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    activation_spec,
    get_activation,
    log_softmax,
)

SMOOTH = [Identity(), Sigmoid(), Tanh(), Softmax()]
KINKED = [ReLU(), LeakyReLU(), LeakyReLU(slope=0.2)]


def _inputs_away_from_zero(rng, shape, margin=0.1):
    """Values in ±[margin, 3]: a ±1e-6 step never crosses the kink at 0."""
    magnitude = rng.uniform(margin, 3.0, size=shape)
    return magnitude * rng.choice([-1.0, 1.0], size=shape)


def _check_backward(activation, z, rng):
    # L = Σ w ⊙ σ(z), so dL/da = w and dL/dz is backward(w). |w| >= 0.5
    # keeps each dL/dz well above the central difference's rounding
    # noise (about 1e-16 |L| / 1e-6), so 1e-6 is a fair relative bound.
    w = _inputs_away_from_zero(rng, z.shape, margin=0.5)

    def loss():
        return float(np.sum(w * activation.forward(z)))

    a = activation.forward(z)
    analytic = activation.backward(w, z, a)
    numeric = numerical_gradient(loss, z)
    assert analytic.shape == z.shape
    assert relative_error(analytic, numeric) < 1e-6


@pytest.mark.parametrize("activation", SMOOTH, ids=repr)
def test_backward_matches_central_differences(activation, rng):
    # |z| <= 3: tanh' and σ' stay above 0.009, so dL/dz is not tiny.
    z = rng.uniform(-3.0, 3.0, size=(5, 4))
    _check_backward(activation, z, rng)


@pytest.mark.parametrize("activation", KINKED, ids=repr)
def test_rectifier_backward_matches_central_differences(activation, rng):
    z = _inputs_away_from_zero(rng, (5, 4))
    _check_backward(activation, z, rng)


def test_every_registered_activation_is_gradient_checked():
    checked = {a.name for a in SMOOTH + KINKED}
    assert checked == set(ACTIVATIONS)


def test_values_against_textbook_formulas(rng):
    z = rng.normal(scale=3.0, size=(4, 3))

    assert np.array_equal(Identity().forward(z), z)
    np.testing.assert_allclose(
        Sigmoid().forward(z), 1.0 / (1.0 + np.exp(-z)), rtol=1e-14
    )
    np.testing.assert_allclose(Tanh().forward(z), np.tanh(z), rtol=1e-15)
    assert np.array_equal(ReLU().forward(z), np.where(z > 0, z, 0.0))
    leaky = LeakyReLU(slope=0.3).forward(z)
    assert np.array_equal(leaky, np.where(z > 0, z, 0.3 * z))

    exp = np.exp(z)
    expected = exp / exp.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(Softmax().forward(z), expected, rtol=1e-14)


def test_rectifier_derivative_values():
    z = np.array([[-2.0, -0.5, 0.5, 2.0]])
    ones = np.ones_like(z)

    relu = ReLU()
    assert np.array_equal(
        relu.backward(ones, z, relu.forward(z)), [[0.0, 0.0, 1.0, 1.0]]
    )
    leaky = LeakyReLU(slope=0.1)
    assert np.array_equal(
        leaky.backward(ones, z, leaky.forward(z)), [[0.1, 0.1, 1.0, 1.0]]
    )


def test_log_softmax_is_log_of_softmax(rng):
    z = rng.normal(scale=4.0, size=(6, 5))
    exp = np.exp(z)
    expected = np.log(exp / exp.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(log_softmax(z), expected, rtol=1e-12)


def test_get_activation_by_name_gives_fresh_objects():
    first = get_activation("tanh")
    assert isinstance(first, Tanh)
    assert get_activation("tanh") is not first
    assert get_activation(first) is first


def test_unknown_activation_lists_valid_names():
    valid = "identity, leaky_relu, relu, sigmoid, softmax, tanh"
    with pytest.raises(ValueError, match=f"'swish'.*{valid}"):
        get_activation("swish")


@pytest.mark.parametrize("activation", SMOOTH + KINKED, ids=repr)
def test_config_rebuilds_an_equal_activation(activation):
    config = activation.config()
    rebuilt = get_activation(config)
    assert type(rebuilt) is type(activation)
    assert vars(rebuilt) == vars(activation)
    assert rebuilt.config() == config


def test_config_holds_settings_only_where_there_are_some():
    assert Tanh().config() == {"name": "tanh"}
    leaky = {"name": "leaky_relu", "slope": 0.3}
    assert LeakyReLU(slope=0.3).config() == leaky
    # A layer records a bare name whenever that rebuilds the same thing.
    assert activation_spec(Tanh()) == "tanh"
    assert activation_spec(LeakyReLU()) == "leaky_relu"
    assert activation_spec(LeakyReLU(slope=0.3)) == LeakyReLU(0.3).config()


def test_get_activation_from_a_config():
    leaky = get_activation({"name": "leaky_relu", "slope": 0.3})
    assert isinstance(leaky, LeakyReLU) and leaky.slope == 0.3
    assert get_activation({"name": "leaky_relu"}).slope == 0.01
    assert isinstance(get_activation({"name": "relu"}), ReLU)

    with pytest.raises(ValueError, match="unknown activation None"):
        get_activation({"slope": 0.3})
    with pytest.raises(TypeError, match="'relu' has no setting 'slope'"):
        get_activation({"name": "relu", "slope": 0.3})
    with pytest.raises(TypeError, match="no setting 'alpha'; it takes: slope"):
        get_activation({"name": "leaky_relu", "alpha": 0.3})


def test_leaky_relu_slope_is_checked():
    assert LeakyReLU(slope=np.float32(0.5)).slope == 0.5
    assert type(LeakyReLU(slope=np.float64(0.5)).slope) is float
    with pytest.raises(TypeError, match="slope must be a number, got '0.3'"):
        LeakyReLU(slope="0.3")
    with pytest.raises(TypeError, match="slope must be a number, got True"):
        LeakyReLU(slope=True)
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="slope must be finite"):
            LeakyReLU(slope=bad)


def test_base_class_is_abstract():
    with pytest.raises(NotImplementedError):
        Activation().forward(np.zeros((1, 1)))


# ----------------------------------------------------------------------
# Field cases
# ----------------------------------------------------------------------
def test_c01_sigmoid_large_inputs():
    case = load_case("C01")
    sigmoid = Sigmoid()

    # Underflow to 0.0 is allowed; overflow, NaN and division are not.
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        a = sigmoid.forward(case.Z)
        derivative = sigmoid.backward(np.ones_like(case.Z), case.Z, a)

    np.testing.assert_allclose(
        a, case.EXPECTED_SIGMOID, rtol=1e-12, atol=1e-300
    )
    assert np.all((a >= 0.0) & (a <= 1.0))
    assert a[3] == 0.5
    assert np.all(np.isfinite(derivative))
    np.testing.assert_allclose(
        derivative, case.EXPECTED_DERIVATIVE, rtol=1e-12, atol=1e-300
    )


def test_c01_sigmoid_is_within_1e_15_of_the_listed_values():
    # The case states an absolute bound, tighter near 1 than a relative
    # one; 5e-324 stands for the smallest subnormal, e^-745 rounded.
    case = load_case("C01")
    listed = np.array([0.0, 5e-324, 1.9287498479639178e-22, 0.5, 1, 1, 1])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        a = Sigmoid().forward(case.Z)
        derivative = Sigmoid().backward(np.ones_like(case.Z), case.Z, a)

    assert np.max(np.abs(a - listed)) <= 1e-15
    assert derivative[3] == 0.25
    assert derivative[0] == 0.0 and derivative[-1] == 0.0
    assert np.all(derivative <= 0.25) and np.all(derivative >= 0.0)


def test_c01_dense_layer_with_huge_weight():
    from scratchnn import Dense

    case = load_case("C01")
    layer = Dense(1, "sigmoid")
    layer.build(1, np.random.default_rng(0), np.float64)
    layer.params["W"][...] = case.W
    layer.params["b"][...] = case.b

    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = layer.forward(case.X)
        dx = layer.backward(np.ones_like(out))

    np.testing.assert_allclose(
        out, case.EXPECTED_LAYER_OUTPUT, rtol=1e-12, atol=1e-300
    )
    assert np.all(np.isfinite(dx))
    assert np.all(np.isfinite(layer.grads["W"]))
    # z = 0 for the third sample: σ' = 0.25, times the weight 500.
    assert dx[2, 0] == pytest.approx(0.25 * 500.0, rel=1e-15)


def test_c02_softmax_large_logits():
    case = load_case("C02")

    with np.errstate(over="raise", invalid="raise", divide="raise"):
        probs = Softmax().forward(case.LOGITS)

    np.testing.assert_allclose(probs, case.EXPECTED_PROBS, rtol=1e-12)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-15)
    # Rows 0 and 1 are one set of logits shifted by ±1000.
    np.testing.assert_allclose(probs[0], probs[1], rtol=1e-15)
    np.testing.assert_allclose(
        probs[0],
        [0.09003057317038046, 0.24472847105479764, 0.6652409557748218],
        rtol=1e-12,
    )
