"""Tests for scratchnn.losses: values, gradients, shapes, saturated inputs."""
import numpy as np
import pytest

from conftest import load_case, numerical_gradient, relative_error
from scratchnn.losses import (
    LOSSES,
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    MeanSquaredError,
    SigmoidBinaryCrossEntropy,
    SoftmaxCrossEntropy,
    SumSquaredError,
    get_loss,
)

N, K = 5, 3


def _one_hot(rng, n, k):
    return np.eye(k)[rng.integers(0, k, size=n)]


def _problem(name, rng):
    """(loss, y_pred, y_true) with y_pred where the loss is smooth."""
    if name in ("sse", "mse"):
        # Every residual at least 0.5 in size, so no gradient entry sits
        # near 0, where rounding noise would dominate the comparison.
        y_true = rng.normal(size=(N, K))
        offset = rng.uniform(0.5, 1.5, size=(N, K))
        offset *= rng.choice([-1.0, 1.0], size=(N, K))
        loss = SumSquaredError() if name == "sse" else MeanSquaredError()
        return loss, y_true + offset, y_true
    if name == "binary_crossentropy":
        p = rng.uniform(0.05, 0.95, size=(N, 1))
        y = rng.integers(0, 2, size=(N, 1)).astype(float)
        return BinaryCrossEntropy(), p, y
    if name == "categorical_crossentropy":
        p = rng.uniform(0.05, 0.95, size=(N, K))
        return CategoricalCrossEntropy(), p, _one_hot(rng, N, K)
    if name == "softmax_crossentropy":
        z = rng.normal(scale=2.0, size=(N, K))
        return SoftmaxCrossEntropy(), z, _one_hot(rng, N, K)
    if name == "sigmoid_binary_crossentropy":
        z = rng.normal(scale=2.0, size=(N, 1))
        y = rng.integers(0, 2, size=(N, 1)).astype(float)
        return SigmoidBinaryCrossEntropy(), z, y
    raise AssertionError(name)


ALL_LOSSES = [
    "sse",
    "mse",
    "binary_crossentropy",
    "categorical_crossentropy",
    "softmax_crossentropy",
    "sigmoid_binary_crossentropy",
]


@pytest.mark.parametrize("name", ALL_LOSSES)
def test_backward_matches_central_differences(name, rng):
    loss, y_pred, y_true = _problem(name, rng)

    value = loss.forward(y_pred, y_true)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda: loss.forward(y_pred, y_true), y_pred)

    assert isinstance(value, float)
    assert analytic.shape == y_pred.shape
    assert relative_error(analytic, numeric) < 1e-6


def test_every_named_loss_is_gradient_checked():
    assert set(LOSSES) <= set(ALL_LOSSES)


def test_values_against_formulas(rng):
    y_pred = rng.normal(size=(N, K))
    y_true = rng.normal(size=(N, K))
    sq = (y_pred - y_true) ** 2
    assert SumSquaredError()(y_pred, y_true) == pytest.approx(sq.sum())
    assert MeanSquaredError()(y_pred, y_true) == pytest.approx(sq.mean())

    p = rng.uniform(0.05, 0.95, size=(N, 1))
    t = rng.integers(0, 2, size=(N, 1)).astype(float)
    bce = -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))
    assert BinaryCrossEntropy()(p, t) == pytest.approx(bce, rel=1e-14)

    q = rng.uniform(0.05, 0.95, size=(N, K))
    onehot = _one_hot(rng, N, K)
    cce = -np.sum(onehot * np.log(q)) / N
    assert CategoricalCrossEntropy()(q, onehot) == pytest.approx(cce, rel=1e-14)


def test_fused_losses_equal_activation_then_loss(rng):
    z = rng.normal(scale=2.0, size=(N, K))
    onehot = _one_hot(rng, N, K)
    exp = np.exp(z)
    probs = exp / exp.sum(axis=1, keepdims=True)
    assert SoftmaxCrossEntropy()(z, onehot) == pytest.approx(
        CategoricalCrossEntropy()(probs, onehot), rel=1e-12
    )

    z1 = rng.normal(scale=2.0, size=(N, 1))
    t = rng.integers(0, 2, size=(N, 1)).astype(float)
    p = 1.0 / (1.0 + np.exp(-z1))
    assert SigmoidBinaryCrossEntropy()(z1, t) == pytest.approx(
        BinaryCrossEntropy()(p, t), rel=1e-12
    )


def test_fused_gradients_are_prediction_minus_target_over_n(rng):
    z = rng.normal(size=(N, K))
    onehot = _one_hot(rng, N, K)
    loss = SoftmaxCrossEntropy()
    loss.forward(z, onehot)
    exp = np.exp(z)
    probs = exp / exp.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loss.backward(), (probs - onehot) / N, rtol=1e-12)


def test_sigmoid_cross_entropy_is_finite_on_huge_logits():
    z = np.array([[1000.0], [-1000.0], [1000.0], [-1000.0]])
    t = np.array([[1.0], [0.0], [0.0], [1.0]])
    loss = SigmoidBinaryCrossEntropy()

    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = loss.forward(z, t)
        grad = loss.backward()

    # Two exact hits cost 0; two misses by a logit of 1000 cost 1000 each.
    assert value == pytest.approx(2000.0 / 4, rel=1e-12)
    np.testing.assert_allclose(grad.ravel(), [0.0, 0.0, 0.25, -0.25], atol=1e-15)


def test_mismatched_shapes_raise_instead_of_broadcasting():
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(3, 1\)"):
        MeanSquaredError()(np.zeros((3, 1)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="one target column per output"):
        SumSquaredError()(np.zeros((3, 2)), np.zeros(3))


def test_get_loss_names_and_unknown_name():
    assert isinstance(get_loss("mse"), MeanSquaredError)
    valid = "binary_crossentropy, categorical_crossentropy, mse, sse"
    with pytest.raises(ValueError, match=f"'hinge'.*{valid}"):
        get_loss("hinge")


# ----------------------------------------------------------------------
# Field cases
# ----------------------------------------------------------------------
def test_c02_softmax_cross_entropy_large_logits():
    case = load_case("C02")
    onehot = np.eye(3)[case.LABELS]
    loss = SoftmaxCrossEntropy()

    with np.errstate(over="raise", invalid="raise", divide="raise"):
        per_row = [
            loss.forward(case.LOGITS[i : i + 1], onehot[i : i + 1])
            for i in range(3)
        ]
        mean = loss.forward(case.LOGITS, onehot)
        grad = loss.backward()

    np.testing.assert_allclose(per_row, case.EXPECTED_CE_PER_ROW, rtol=1e-12)
    assert mean == pytest.approx(case.EXPECTED_CE_PER_ROW.mean(), rel=1e-12)
    # The case's gradient is per row; our loss is a batch mean.
    np.testing.assert_allclose(
        grad, case.EXPECTED_GRAD_WRT_LOGITS / 3, rtol=1e-12, atol=1e-15
    )


def test_c03_cross_entropy_on_exact_zero_and_one():
    case = load_case("C03")
    p = case.P_BINARY.reshape(-1, 1)
    t = case.T_BINARY.reshape(-1, 1)
    bce = BinaryCrossEntropy()
    cce = CategoricalCrossEntropy()

    with np.errstate(over="raise", invalid="raise", divide="raise"):
        binary_rows = [bce.forward(p[i : i + 1], t[i : i + 1]) for i in range(4)]
        bce.forward(p, t)
        binary_grad = bce.backward()
        categorical_rows = [
            cce.forward(case.P_CATEGORICAL[i : i + 1], case.T_ONEHOT[i : i + 1])
            for i in range(2)
        ]
        cce.forward(case.P_CATEGORICAL, case.T_ONEHOT)
        categorical_grad = cce.backward()

    # Confident and right costs exactly 0; confident and wrong is large
    # but finite (well above -log(0.001), the cost of p = 0.001).
    assert binary_rows[0] == 0.0
    assert binary_rows[1] == 0.0
    for value in binary_rows[2:]:
        assert np.isfinite(value)
        assert value > -np.log(1e-3)
    assert np.all(np.isfinite(binary_grad))

    assert categorical_rows[0] == pytest.approx(np.log(2.0), rel=1e-15)
    assert categorical_rows[1] == 0.0
    np.testing.assert_allclose(
        categorical_rows, case.EXPECTED_CATEGORICAL_PER_ROW, rtol=1e-15
    )
    assert np.all(np.isfinite(categorical_grad))


def test_c03_confidently_wrong_costs_at_least_20_and_stays_finite():
    # Each log sees at least 1e-12: -log(1e-12) = 27.63 for a wrong 0 or 1.
    case = load_case("C03")
    p = case.P_BINARY.reshape(-1, 1)
    t = case.T_BINARY.reshape(-1, 1)
    bce = BinaryCrossEntropy()

    with np.errstate(over="raise", invalid="raise", divide="raise"):
        rows = [bce.forward(p[i : i + 1], t[i : i + 1]) for i in range(4)]
        total = bce.forward(p, t)
        grad = bce.backward()

    assert abs(rows[0]) <= 1e-12 and abs(rows[1]) <= 1e-12
    assert rows[2] >= 20.0 and rows[3] >= 20.0
    assert np.isfinite(total)
    assert total == pytest.approx(sum(rows) / 4, rel=1e-15)
    assert np.all(np.isfinite(grad))


def test_c07_mse_with_flat_and_column_targets():
    case = load_case("C07")
    mse = MeanSquaredError()

    flat = mse.forward(case.Y_PRED_COLUMN, case.Y_TRUE_FLAT)
    grad_flat = mse.backward()
    column = mse.forward(case.Y_PRED_COLUMN, case.Y_TRUE_COLUMN)
    grad_column = mse.backward()

    assert flat == pytest.approx(case.EXPECTED_MSE, rel=1e-15)
    assert column == pytest.approx(case.EXPECTED_MSE, rel=1e-15)
    assert flat != pytest.approx(case.BROADCAST_BUG_MSE)
    assert grad_flat.shape == (3, 1)
    # d/dŷ mean((ŷ - y)²) = 2 (ŷ - y) / 3; only the last sample is off, by -1.
    np.testing.assert_allclose(grad_flat.ravel(), [0.0, 0.0, -2.0 / 3.0])
    assert np.array_equal(grad_flat, grad_column)


def test_c07_sum_squared_error_with_flat_targets():
    case = load_case("C07")
    sse = SumSquaredError()

    # Our SSE has no ½, so it is twice the case's ½-convention value.
    value = sse.forward(case.Y_PRED_COLUMN, case.Y_TRUE_FLAT)
    assert 0.5 * value == pytest.approx(case.EXPECTED_SSE_HALF, rel=1e-15)
    assert sse.backward().shape == (3, 1)
