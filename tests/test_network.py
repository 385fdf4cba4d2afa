"""Tests for scratchnn.network.Network: gradients, the API, input checks."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import load_case, numerical_gradient, relative_error
from scratchnn import (
    DataError,
    Dense,
    EarlyStopping,
    Network,
    NotFittedError,
    SGD,
)

N_FEATURES = 3


def _targets(loss, n, n_out, rng):
    """Encoded targets of the kind `loss_and_gradients` takes."""
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, size=(n, 1)).astype(np.float64)
    if loss == "categorical_crossentropy":
        return np.eye(n_out)[rng.integers(0, n_out, size=n)]
    return rng.normal(size=(n, n_out))


def _check_network_gradients(net, x, targets, tolerance=1e-6):
    loss, grads = net.loss_and_gradients(x, targets)
    params = net.parameters()
    assert np.isfinite(loss)
    assert len(grads) == len(params)

    def objective():
        return net.loss_and_gradients(x, targets)[0]

    for param, grad in zip(params, grads, strict=True):
        assert grad.shape == param.shape
        numeric = numerical_gradient(objective, param)
        assert relative_error(grad, numeric) < tolerance


# The output layer each loss needs; softmax with MSE takes the unfused path.
NETWORK_CASES = {
    "sse": ("identity", 2),
    "mse": ("tanh", 2),
    "mse_softmax": ("softmax", 3),
    "binary_crossentropy": ("sigmoid", 1),
    "categorical_crossentropy": ("softmax", 3),
}


@pytest.mark.parametrize("case", list(NETWORK_CASES))
def test_three_layer_network_gradients(case, rng):
    output, n_out = NETWORK_CASES[case]
    loss = "mse" if case == "mse_softmax" else case
    net = Network(
        [Dense(4, "tanh"), Dense(3, "sigmoid"), Dense(n_out, output)],
        loss=loss,
        dtype="float64",
    ).build(N_FEATURES, seed=0)
    for layer in net.layers:
        layer.params["b"][...] = rng.normal(scale=0.5, size=layer.units)
    x = rng.normal(size=(6, N_FEATURES))

    assert len(net.parameters()) == 6
    _check_network_gradients(net, x, _targets(loss, 6, n_out, rng))


SMOOTH_HIDDEN = ["identity", "sigmoid", "tanh"]
OUTPUT_FOR_LOSS = {
    "sse": "identity",
    "mse": "tanh",
    "binary_crossentropy": "sigmoid",
    "categorical_crossentropy": "softmax",
}


@settings(max_examples=25, deadline=None)
@given(
    hidden=st.lists(
        st.tuples(
            st.integers(1, 4), st.sampled_from(SMOOTH_HIDDEN), st.booleans()
        ),
        min_size=0,
        max_size=2,
    ),
    loss=st.sampled_from(sorted(OUTPUT_FOR_LOSS)),
    n_features=st.integers(1, 4),
    n_samples=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_random_architectures_match_central_differences(
    hidden, loss, n_features, n_samples, seed
):
    # Hypothesis picks the shape of the problem; the numbers come from a
    # seeded generator, so shrinking never builds degenerate data.
    rng = np.random.default_rng(seed)
    n_out = {"binary_crossentropy": 1, "categorical_crossentropy": 3}.get(loss, 2)
    layers = [Dense(u, a, use_bias=b) for u, a, b in hidden]
    layers.append(Dense(n_out, OUTPUT_FOR_LOSS[loss]))
    net = Network(layers, loss=loss, dtype="float64").build(n_features, seed)
    x = rng.normal(size=(n_samples, n_features))
    targets = _targets(loss, n_samples, n_out, rng)

    loss_value, grads = net.loss_and_gradients(x, targets)

    def objective():
        return net.loss_and_gradients(x, targets)[0]

    # Rounding noise in the loss is ~1e-16 |L| / 1e-6 per entry; compare
    # each gradient array at its own scale so an entry that happens to be
    # near 0 is not judged against that noise alone.
    for param, grad in zip(net.parameters(), grads, strict=True):
        numeric = numerical_gradient(objective, param)
        error = np.max(np.abs(grad - numeric), initial=0.0)
        scale = max(1e-8, np.max(np.abs(grad)) + np.max(np.abs(numeric)))
        assert error / scale < 1e-6


def test_hand_worked_sgd_step():
    # One linear unit: W = [0.5, -0.25], b = 0.1, x = [1, 2], y = 1.
    # ŷ = 0.5 - 0.5 + 0.1 = 0.1, error = -0.9, SSE = 0.81.
    # dW = 2 · (-0.9) · x = [-1.8, -3.6], db = -1.8.
    # With lr 0.1: W = [0.68, 0.11], b = 0.28.
    net = Network([Dense(1)], loss="sse", optimizer=SGD(lr=0.1), dtype="float64")
    net.build(2, seed=0)
    net.layers[0].params["W"][...] = [[0.5], [-0.25]]
    net.layers[0].params["b"][...] = [0.1]

    history = net.fit(
        [[1.0, 2.0]], [1.0], epochs=1, batch_size=None, warm_start=True
    )

    assert history["loss"] == [pytest.approx(0.81, rel=1e-14)]
    W, b = net.parameters()
    np.testing.assert_allclose(W.ravel(), [0.68, 0.11], rtol=1e-14)
    np.testing.assert_allclose(b, [0.28], rtol=1e-14)
    # And the new prediction: 0.68 + 0.22 + 0.28 = 1.18.
    np.testing.assert_allclose(net.predict([[1.0, 2.0]]), [[1.18]], rtol=1e-14)


# ----------------------------------------------------------------------
# Classification API
# ----------------------------------------------------------------------
def _blobs(rng, n_per_class, centres):
    X = np.vstack([rng.normal(c, 0.3, size=(n_per_class, 2)) for c in centres])
    codes = np.repeat(np.arange(len(centres)), n_per_class)
    return X, codes


CENTRES = [(-2.0, 0.0), (2.0, 0.0), (0.0, 3.0)]


def _classifier(n_classes, **kwargs):
    if n_classes == 2:
        layers = [Dense(8, "tanh"), Dense(1, "sigmoid")]
        loss = "binary_crossentropy"
    else:
        layers = [Dense(8, "tanh"), Dense(n_classes, "softmax")]
        loss = "categorical_crossentropy"
    return Network(layers, loss=loss, optimizer="adam", lr=0.05, **kwargs)


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["cat", "dog", "fish"]),
        np.array([3, 7, 11]),
        np.array([0.5, 2.5, -1.0]),
        np.array(["no", "yes"]),
    ],
    ids=["str", "int", "float", "binary_str"],
)
def test_labels_are_decoded_on_predict(labels, rng):
    X, codes = _blobs(rng, 20, CENTRES[: len(labels)])
    y = labels[codes]
    net = _classifier(len(labels))
    net.fit(X, y, epochs=60, batch_size=8, seed=0)

    predicted = net.predict(X)
    assert predicted.shape == (len(y),)
    assert predicted.dtype.kind == y.dtype.kind
    assert np.array_equal(np.sort(net.classes_), np.sort(labels))
    assert np.mean(predicted == y) == 1.0


def test_predict_proba_rows_sum_to_one_and_agree_with_predict(rng):
    X, codes = _blobs(rng, 20, CENTRES)
    net = _classifier(3, dtype="float64")
    net.fit(X, codes, epochs=30, batch_size=8, seed=0)

    proba = net.predict_proba(X)
    assert proba.shape == (60, 3)
    assert np.all(proba >= 0.0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert np.array_equal(net.classes_[proba.argmax(axis=1)], net.predict(X))


def test_binary_predict_proba_has_two_columns(rng):
    X, codes = _blobs(rng, 20, CENTRES[:2])
    y = np.array(["neg", "pos"])[codes]
    net = _classifier(2, dtype="float64")
    net.fit(X, y, epochs=30, batch_size=8, seed=0)

    proba = net.predict_proba(X)
    positive = net.feedforward(X)[:, 0]  # the sigmoid unit: P(classes_[1])
    assert proba.shape == (40, 2)
    np.testing.assert_allclose(proba[:, 1], positive, rtol=1e-15)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-15)
    expected = np.where(positive >= 0.5, "pos", "neg")
    assert np.array_equal(net.predict(X), expected)


def test_binary_threshold_is_one_half(rng):
    X, codes = _blobs(rng, 10, CENTRES[:2])
    net = _classifier(2, dtype="float64")
    net.fit(X, np.array(["neg", "pos"])[codes], epochs=1, batch_size=None)

    # Replace the model by p = σ(x0): logit(0.45) and logit(0.55).
    net.layers = [Dense(1, "sigmoid")]
    net.layers[0].build(2, rng, np.float64)
    net.layers[0].params["W"][...] = [[1.0], [0.0]]
    z = np.log(np.array([0.45, 0.55]) / np.array([0.55, 0.45]))
    X_test = np.column_stack([z, [0.0, 0.0]])

    np.testing.assert_allclose(net.predict_proba(X_test)[:, 1], [0.45, 0.55])
    assert net.predict(X_test).tolist() == ["neg", "pos"]


def test_cross_entropy_is_fused_with_the_output_activation():
    # One sigmoid unit with logit z = 40 on a sample labelled 0. σ(40)
    # rounds to 1.0, so a loss taken on the probability could only say
    # -log(1e-12) ≈ 27.6 and would pass back σ'(z) ≈ 0. Taken on the
    # logit it is softplus(40) = 40 + log1p(e^-40), gradient σ(z) - y = 1.
    net = Network(
        [Dense(1, "sigmoid")], loss="binary_crossentropy", dtype="float64"
    ).build(1, seed=0)
    net.layers[0].params["W"][...] = [[40.0]]
    loss, (dW, db) = net.loss_and_gradients(np.ones((1, 1)), np.zeros((1, 1)))
    assert loss == pytest.approx(40.0 + np.log1p(np.exp(-40.0)), rel=1e-15)
    np.testing.assert_allclose(dW, [[1.0]], rtol=1e-15)
    np.testing.assert_allclose(db, [1.0], rtol=1e-15)

    # Softmax over logits [0, 50] with the target on class 0: the loss is
    # logsumexp - z_0 = 50 + log1p(e^-50), the gradient p - y = [-1, 1].
    net = Network(
        [Dense(2, "softmax", use_bias=False)],
        loss="categorical_crossentropy",
        dtype="float64",
    ).build(1, seed=0)
    net.layers[0].params["W"][...] = [[0.0, 50.0]]
    loss, (dW,) = net.loss_and_gradients(np.ones((1, 1)), np.array([[1.0, 0.0]]))
    assert loss == pytest.approx(50.0 + np.log1p(np.exp(-50.0)), rel=1e-15)
    np.testing.assert_allclose(dW, [[-1.0, 1.0]], rtol=1e-15)


def test_regression_network_lacks_classifier_attributes(rng):
    X = rng.normal(size=(8, 2))
    net = Network([Dense(1)], loss="mse")
    # hasattr-based code must see a regressor, trained or not.
    assert not hasattr(net, "predict_proba")
    assert not hasattr(net, "classes_")
    net.fit(X, X[:, 0], epochs=1)
    assert not hasattr(net, "predict_proba")
    assert not hasattr(net, "classes_")

    why = (
        r"this regression network \(loss 'mse'\) has no {}: only "
        r"classifiers \(a cross-entropy loss\) have classes and class "
        r"probabilities; use predict for its values"
    )
    with pytest.raises(AttributeError, match=why.format("predict_proba")):
        net.predict_proba(X)
    with pytest.raises(AttributeError, match=why.format("classes_")):
        _ = net.classes_
    assert hasattr(_classifier(2), "predict_proba")


def test_evaluate_classifier_against_hand_computation(rng):
    X, codes = _blobs(rng, 20, CENTRES[:2])
    codes[:3] = 1 - codes[:3]  # a few wrong labels, so accuracy < 1
    net = _classifier(2, dtype="float64")
    net.fit(X, codes, epochs=20, batch_size=8, seed=0)

    scores = net.evaluate(X, codes)
    p = net.predict_proba(X)[:, 1]
    bce = -np.mean(codes * np.log(p) + (1 - codes) * np.log(1 - p))
    assert set(scores) == {"loss", "accuracy"}
    assert scores["accuracy"] == pytest.approx(np.mean(net.predict(X) == codes))
    assert scores["accuracy"] < 1.0
    assert scores["loss"] == pytest.approx(bce, rel=1e-9)


def test_evaluate_regression_against_hand_computation(rng):
    X = rng.normal(size=(30, 2))
    y = X @ np.array([1.5, -2.0]) + 0.5 + rng.normal(scale=0.3, size=30)
    net = Network([Dense(1)], loss="mse", lr=0.1, dtype="float64")
    net.fit(X, y, epochs=40, batch_size=10, seed=0)

    scores = net.evaluate(X, y)
    residual = net.predict(X).ravel() - y
    mse = np.mean(residual**2)
    r2 = 1.0 - np.sum(residual**2) / np.sum((y - y.mean()) ** 2)
    assert set(scores) == {"loss", "rmse", "r2"}
    assert scores["loss"] == pytest.approx(mse, rel=1e-12)
    assert scores["rmse"] == pytest.approx(np.sqrt(mse), rel=1e-12)
    assert scores["r2"] == pytest.approx(r2, rel=1e-12)
    assert 0.8 < scores["r2"] < 1.0


def test_one_hot_targets_are_refused():
    X = np.zeros((4, 2))
    y = np.eye(2)[[0, 1, 0, 1]]
    with pytest.raises(DataError, match="one-hot"):
        _classifier(2).fit(X, y, epochs=1)


def test_c13_one_hot_is_named_only_when_every_row_has_one_1():
    case = load_case("C13")
    with pytest.raises(DataError, match=r"y looks one-hot;.*y\.argmax\(axis=1\)"):
        _classifier(3).fit(case.X, case.Y_ONEHOT, epochs=1)

    with pytest.raises(DataError) as info:
        _classifier(3).fit(case.X, case.Y_NOT_ONEHOT, epochs=1)
    message = str(info.value)
    assert "looks one-hot" not in message
    assert "row 1 holds 2 ones, so y is not one-hot" in message
    assert "multi-label and multi-output targets are not supported" in message


def test_c11_predict_gives_back_the_label_kind_given_to_fit():
    case = load_case("C11")
    for y, kind in ((case.Y, "U"), (case.Y_OBJECT, "O")):
        net = _classifier(3)
        net.fit(case.X, y, epochs=60, batch_size=8, seed=0,
                validation_fraction=0.25)
        predicted = net.predict(case.X_NEW)
        assert predicted.dtype.kind == kind
        assert predicted.tolist() == case.EXPECTED_PREDICTION.tolist()
        assert net.classes_.tolist() == case.EXPECTED_CLASSES.tolist()


@pytest.mark.parametrize("monitor", ["val_loss", "val_accuracy"])
@pytest.mark.parametrize("labels", ["Y", "Y_OBJECT"])
def test_c11_early_stopping_on_string_labels(labels, monitor):
    # The scikit-learn report crashed while scoring the held-out part.
    # val_loss keeps falling here, so it runs all epochs; val_accuracy
    # reaches 1.0 early and stops, restoring the best epoch.
    case = load_case("C11")
    y = getattr(case, labels)
    stopper = EarlyStopping(monitor=monitor, patience=5)
    net = _classifier(3)
    history = net.fit(case.X, y, epochs=200, batch_size=8, seed=0,
                      validation_fraction=0.25, callbacks=[stopper])

    # Scored on the encoded labels: numbers in the logs, none NaN.
    assert np.all(np.isfinite(history["val_loss"]))
    assert history["val_accuracy"][stopper.best_epoch - 1] == 1.0
    if monitor == "val_accuracy":
        assert len(history) == stopper.best_epoch + 5 < 200
    assert net.classes_.tolist() == ["cat", "dog", "eel"]
    predicted = net.predict(case.X_NEW)
    assert predicted.tolist() == ["cat", "dog", "eel"]
    assert predicted.dtype.kind == y.dtype.kind


def test_c13_predict_always_names_a_class():
    # Even where every output ties (all parameters 0: equal
    # probabilities), each row gets one class, never none.
    case = load_case("C13")
    for n_classes, y in ((3, case.Y_INT), (2, case.Y_INT.clip(0, 1))):
        net = _classifier(n_classes)
        net.fit(case.X, y, epochs=5, batch_size=None, seed=0)
        for p in net.parameters():
            p[...] = 0.0
        far = np.vstack([case.X, [[1e6, -1e6]], [[0.0, 0.0]]])

        predicted = net.predict(far)
        assert predicted.shape == (len(far),)
        assert np.isin(predicted, net.classes_).all()
        proba = net.predict_proba(far)
        np.testing.assert_allclose(proba, 1.0 / n_classes)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_c14_single_class_case_is_refused(n_classes):
    # Both output kinds: one sigmoid unit, or a softmax over classes.
    case = load_case("C14")
    net = _classifier(n_classes)
    single = r"single class \(1\); a classifier needs at least two"
    with pytest.raises(DataError, match=single):
        net.fit(case.X, case.Y, epochs=3)
    assert not net.is_built


def test_mixed_object_labels_are_refused_by_fit():
    X = np.arange(8.0).reshape(4, 2)
    y = np.array([1, "1", 2, "2"], dtype=object)
    with pytest.raises(DataError, match="mixes label types"):
        _classifier(2).fit(X, y, epochs=1)


def test_single_class_is_refused():
    X = np.arange(10.0).reshape(5, 2)
    with pytest.raises(DataError, match=r"single class \(1\)"):
        _classifier(2).fit(X, np.ones(5, dtype=int), epochs=1)


def test_output_units_must_match_classes():
    X = np.arange(12.0).reshape(6, 2)
    y = np.array([0, 1, 2, 0, 1, 2])
    net = Network(
        [Dense(4, "tanh"), Dense(2, "softmax")], loss="categorical_crossentropy"
    )
    with pytest.raises(DataError, match="2 units but y has 3 classes"):
        net.fit(X, y, epochs=1)
    with pytest.raises(DataError, match="2 classes and a 1-unit"):
        _classifier(2).fit(X, y, epochs=1)


def test_loss_and_output_activation_must_agree():
    with pytest.raises(ValueError, match="needs a softmax output layer"):
        Network([Dense(3, "relu")], loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="needs a sigmoid output layer"):
        Network([Dense(1)], loss="binary_crossentropy")


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="'swish'.*identity, leaky_relu"):
        Dense(2, "swish")
    losses = "binary_crossentropy, categorical_crossentropy, mse, sse"
    with pytest.raises(ValueError, match=f"'mae'.*{losses}"):
        Network([Dense(1)], loss="mae")
    with pytest.raises(ValueError, match="'rmsprop'.*adam, sgd"):
        Network([Dense(1)], optimizer="rmsprop")
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64'"):
        Network([Dense(1)], dtype="float16")
    with pytest.raises(TypeError, match="non-empty list of Dense"):
        Network([])


@pytest.mark.parametrize(
    "y, shown", [(None, "None"), (1, "1"), ({}, r"\{\}")], ids=str
)
def test_targets_must_be_an_array(y, shown):
    # These used to fail with "len() of unsized object".
    message = (
        rf"y must be an array-like of targets, one per row of X, got {shown}$"
    )
    net = Network([Dense(1)])
    with pytest.raises(TypeError, match=message):
        net.fit(np.zeros((3, 2)), y)
    net.fit(np.zeros((3, 2)), np.zeros(3), epochs=1)
    with pytest.raises(TypeError, match=message):
        net.evaluate(np.zeros((3, 2)), y)


FIT_ARGUMENT_ERRORS = {
    "fraction as text": (
        {"validation_fraction": "0.2"},
        TypeError,
        r"validation_fraction must be a number, got '0.2'",
    ),
    "fraction None": (
        {"validation_fraction": None},
        TypeError,
        r"validation_fraction must be a number, got None",
    ),
    "fraction bool": (
        {"validation_fraction": True},
        TypeError,
        r"validation_fraction must be a number, got True",
    ),
    "negative seed": (
        {"seed": -1},
        ValueError,
        r"seed must be >= 0, seeds must be non-negative ints or None; got -1",
    ),
    "fractional seed": ({"seed": 1.5}, TypeError, r"seed must be an int"),
    "triple": (
        {"validation_data": (np.zeros((2, 2)), [0, 1], [0, 1])},
        ValueError,
        r"validation_data must be a pair \(X_val, y_val\), got 3 items",
    ),
    "array": (
        {"validation_data": np.zeros((2, 2))},
        TypeError,
        r"validation_data must be a pair \(X_val, y_val\), got ndarray",
    ),
    "callback entry": (
        {"callbacks": [1]},
        TypeError,
        r"callbacks\[0\] must be a Callback or a function f\(epoch, logs\), "
        r"got 1",
    ),
    "callbacks not a list": (
        {"callbacks": print},
        TypeError,
        r"callbacks must be a list of Callback objects .*wrap a single one",
    ),
}


@pytest.mark.parametrize("case", sorted(FIT_ARGUMENT_ERRORS))
def test_fit_arguments_are_checked_before_any_work(case):
    kwargs, error, message = FIT_ARGUMENT_ERRORS[case]
    net = Network([Dense(1)])
    with pytest.raises(error, match=message):
        net.fit(np.zeros((4, 2)), np.zeros(4), epochs=1, **kwargs)
    assert not net.is_built


def test_layers_must_be_a_list_of_dense_layers():
    with pytest.raises(TypeError, match="layers must be a non-empty list of "
                                        "Dense layers, got None"):
        Network(None)
    with pytest.raises(TypeError, match="list of Dense layers, got 'abc'"):
        Network("abc")


def test_nan_hint_fits_the_call():
    case = load_case("C17")
    net = Network([Dense(1)], loss="mse")
    with pytest.raises(DataError, match="values before training$"):
        net.fit(case.X_NAN, case.Y_CLEAN, epochs=1)
    net.fit(case.X_CLEAN, case.Y_CLEAN, epochs=1)
    with pytest.raises(DataError, match="values before predicting$"):
        net.predict(case.X_PREDICT_NAN)
    with pytest.raises(DataError, match="y contains nan.* before evaluating$"):
        net.evaluate(case.X_CLEAN, case.Y_NAN)
    with pytest.raises(DataError, match="y_val contains nan at row 3"):
        net.fit(case.X_CLEAN, case.Y_CLEAN, epochs=1,
                validation_data=(case.X_CLEAN, case.Y_NAN))

    classifier = _classifier(2)
    classifier.fit(case.X_CLEAN, case.Y_CLASS, epochs=1)
    with pytest.raises(DataError, match="y contains nan.* before evaluating$"):
        classifier.evaluate(case.X_CLEAN, case.Y_NAN)


def test_batch_size_larger_than_data():
    X = np.zeros((5, 2))
    with pytest.raises(ValueError, match="batch_size=6 is larger than the 5"):
        Network([Dense(1)]).fit(X, np.zeros(5), batch_size=6)


def test_predict_before_fit():
    with pytest.raises(NotFittedError, match="not trained yet"):
        Network([Dense(1)]).predict(np.zeros((2, 2)))


@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_callers_arrays_are_not_modified(dtype, standardize, rng):
    X = rng.normal(size=(12, 3))
    y_reg = rng.normal(size=(12, 1))
    y_cls = np.array(["a", "b", "c"] * 4)
    X_copy, y_reg_copy, y_cls_copy = X.copy(), y_reg.copy(), y_cls.copy()

    reg = Network([Dense(1)], dtype=dtype, standardize=standardize)
    reg.fit(X, y_reg, epochs=3, batch_size=4, seed=0, validation_fraction=0.25)
    reg.predict(X)
    reg.evaluate(X, y_reg)
    cls = _classifier(3, dtype=dtype, standardize=standardize)
    cls.fit(X, y_cls, epochs=3, batch_size=4, seed=0)
    cls.predict(X)
    cls.predict_proba(X)

    assert np.array_equal(X, X_copy)
    assert np.array_equal(y_reg, y_reg_copy)
    assert np.array_equal(y_cls, y_cls_copy)


def test_integer_and_boolean_features_are_accepted(rng):
    X_int = rng.integers(0, 5, size=(20, 3))
    X_bool = X_int > 2
    y = (X_int.sum(axis=1) > 6).astype(int)

    params = {}
    for name, X in (("int", X_int), ("bool", X_bool)):
        for kind, data in ((name, X), (f"{name}_as_float", X.astype(float))):
            net = _classifier(2, dtype="float64")
            net.fit(data, y, epochs=5, batch_size=5, seed=0)
            params[kind] = [p.copy() for p in net.parameters()]
            assert net.predict(X).shape == (20,)

    for name in ("int", "bool"):
        for got, want in zip(params[name], params[f"{name}_as_float"], strict=True):
            assert np.array_equal(got, want)


def test_summary_and_config():
    net = Network([Dense(4, "relu"), Dense(1)], loss="mse").build(3, seed=0)
    assert "total parameters: 21" in net.summary()
    assert net.config()["layers"][0]["activation"] == "relu"
    assert net.config()["loss"] == "mse"


# ----------------------------------------------------------------------
# Field cases
# ----------------------------------------------------------------------
def test_c07_flat_and_column_targets_train_identically():
    case = load_case("C07")
    results = []
    for y in (case.Y_TRUE_FLAT, case.Y_TRUE_COLUMN):
        net = Network([Dense(1)], loss="mse", lr=0.05, dtype="float64")
        history = net.fit(case.X, y, epochs=30, batch_size=2, seed=0)
        results.append((net, history))

    (flat, flat_history), (column, column_history) = results
    for a, b in zip(flat.parameters(), column.parameters(), strict=True):
        assert np.array_equal(a, b)
    assert flat_history["loss"] == column_history["loss"]
    assert np.array_equal(flat.predict(case.X), column.predict(case.X))
    # Training did something: the loss fell.
    assert flat_history["loss"][-1] < flat_history["loss"][0]


def test_c07_two_target_columns_for_one_output_is_an_error():
    case = load_case("C07")
    y = np.column_stack([case.Y_TRUE_FLAT, case.Y_TRUE_FLAT])
    net = Network([Dense(1)], loss="mse")
    with pytest.raises(DataError, match=r"shape \(3, 2\).*1 output"):
        net.fit(case.X, y, epochs=1)


@pytest.fixture
def c10_net():
    case = load_case("C10")
    net = _classifier(2)
    net.fit(case.X_TRAIN, case.Y_TRAIN, epochs=5, batch_size=3, seed=0)
    return case, net


@pytest.mark.parametrize("name", ["X_TOO_WIDE", "X_TOO_NARROW"])
def test_c10_wrong_number_of_features(c10_net, name):
    case, net = c10_net
    X = getattr(case, name)
    message = f"expects 3 features, got {X.shape[1]}"
    with pytest.raises(DataError, match=message):
        net.predict(X)
    with pytest.raises(DataError, match=message):
        net.predict_proba(X)
    with pytest.raises(DataError, match=message):
        net.evaluate(X, np.zeros(len(X), dtype=int))


def test_c10_wrong_rank(c10_net):
    case, net = c10_net
    one_sample = r"2-D.*got shape \(3,\).*reshape\(1, -1\)"
    with pytest.raises(DataError, match=one_sample):
        net.predict(case.X_ONE_SAMPLE_1D)
    with pytest.raises(DataError, match=r"2-D.*got shape \(2, 3, 1\)"):
        net.predict(case.X_3D)


def test_c17_nan_and_inf_in_features_and_targets():
    case = load_case("C17")
    regression = Network([Dense(1)], loss="mse")

    with pytest.raises(DataError, match=r"X contains nan at row 2, column 1"):
        regression.fit(case.X_NAN, case.Y_CLEAN, epochs=1)
    with pytest.raises(DataError, match=r"X contains inf at row 4, column 0"):
        regression.fit(case.X_INF, case.Y_CLEAN, epochs=1)
    with pytest.raises(DataError, match=r"y contains nan at row 3"):
        regression.fit(case.X_CLEAN, case.Y_NAN, epochs=1)
    assert not regression.is_built

    classifier = _classifier(2)
    with pytest.raises(DataError, match=r"y contains nan at row 3"):
        classifier.fit(case.X_CLEAN, case.Y_NAN, epochs=1)
    with pytest.raises(DataError, match=r"row 2, column 1"):
        classifier.fit(case.X_NAN, case.Y_CLASS, epochs=1)


def test_c17_bad_values_leave_a_trained_network_alone():
    case = load_case("C17")
    net = Network([Dense(1)], loss="mse", dtype="float64")
    net.fit(case.X_CLEAN, case.Y_CLEAN, epochs=3, batch_size=None, seed=0)
    before = [p.copy() for p in net.parameters()]

    with pytest.raises(DataError, match=r"row 0, column 1"):
        net.predict(case.X_PREDICT_NAN)
    for X, y in ((case.X_NAN, case.Y_CLEAN), (case.X_CLEAN, case.Y_NAN)):
        with pytest.raises(DataError, match="contains nan"):
            net.fit(X, y, epochs=1, warm_start=True)

    for a, b in zip(net.parameters(), before, strict=True):
        assert np.array_equal(a, b)


def test_values_beyond_float32_are_refused_before_any_work(rng):
    # 1e39 is a finite float64 but inf as float32; before this check it
    # became NaN in every result, or a "diverged" error in fit.
    X = rng.normal(size=(6, 2))
    y = X[:, 0].copy()
    huge_X = X.copy()
    huge_X[4, 1] = 1e39
    huge_y = y.copy()
    huge_y[3] = -2e39
    beyond = r"beyond the float32 range .*use dtype='float64'"

    net = Network([Dense(1)], loss="mse")
    with pytest.raises(DataError, match=rf"X holds 1e\+39 at row 4, column 1"):
        net.fit(huge_X, y, epochs=1)
    with pytest.raises(DataError, match=rf"y holds -2e\+39 at row 3.*{beyond}"):
        net.fit(X, huge_y, epochs=1)
    with pytest.raises(DataError, match=r"X_val holds 1e\+39 at row 4"):
        net.fit(X, y, epochs=1, validation_data=(huge_X, y))
    with pytest.raises(DataError, match=r"y_val holds -2e\+39 at row 3"):
        net.fit(X, y, epochs=1, validation_data=(X, huge_y))

    net.fit(X, y, epochs=2, seed=0)
    with pytest.raises(DataError, match=rf"X holds 1e\+39.*{beyond}"):
        net.predict(huge_X)
    with pytest.raises(DataError, match=r"y holds -2e\+39 at row 3"):
        net.evaluate(X, huge_y)

    # Scaled values are checked too: far outside the training data, a
    # standardised value can leave float32's range on its own.
    classifier = _classifier(2, standardize=True)
    classifier.fit(X, np.arange(6) % 2, epochs=1, seed=0)
    with pytest.raises(DataError, match="X after standardising holds"):
        classifier.predict_proba(huge_X)

    # float64 holds these values, so a float64 network takes them.
    wide = Network([Dense(1)], loss="mse", dtype="float64")
    wide.fit(huge_X / 1e30, y, epochs=1, seed=0)
    assert np.isfinite(wide.predict(huge_X)).all()


def test_standardising_huge_features_trains_a_float32_network(rng):
    # The scaler's statistics stay finite at 1e200, so the standardised
    # inputs fit float32 and training sees ordinary numbers.
    X, codes = _blobs(rng, 20, CENTRES[:2])
    net = _classifier(2, standardize=True)
    net.fit(X * 1e200, codes, epochs=30, batch_size=8, seed=0)

    assert np.isfinite(net.scaler.scale_).all()
    assert np.mean(net.predict(X * 1e200) == codes) == 1.0


def test_a_fit_refused_by_its_checks_leaves_a_trained_network_alone(rng):
    # Not a warm start: a fresh fit whose data are refused used to drop
    # the fitted scaling and labels first, so predict then ran on the old
    # weights without them.
    X, codes = _blobs(rng, 10, CENTRES[:2])
    X = X * 100.0 + 500.0
    y = np.array(["neg", "pos"])[codes]
    net = _classifier(2, standardize=True)
    net.fit(X, y, epochs=5, batch_size=8, seed=0)
    proba = net.predict_proba(X)
    scaler, encoder = net.scaler, net.encoder

    mixed = np.array([1, "a"] * 10, dtype=object)
    with pytest.raises(DataError, match="mixes label types"):
        net.fit(X, mixed, epochs=1)
    with pytest.raises(DataError, match="gives 0 validation samples"):
        net.fit(X, y, epochs=1, validation_fraction=0.01)
    with pytest.raises(ValueError, match="batch_size=21 is larger"):
        net.fit(X, y, epochs=1, batch_size=21)

    assert net.scaler is scaler and net.encoder is encoder
    np.testing.assert_array_equal(net.predict_proba(X), proba)


def test_c18_constant_feature_with_standardisation():
    case = load_case("C18")
    net = _classifier(2, dtype="float64", standardize=True)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = net.fit(case.X, case.Y, epochs=50, batch_size=None, seed=0)
        proba = net.predict_proba(case.X_NEW)

    assert all(np.isfinite(p).all() for p in net.parameters())
    assert np.all(np.isfinite(history["loss"]))
    assert np.all(np.isfinite(proba))
    scaled = net.scaler.transform(case.X)
    np.testing.assert_allclose(
        scaled, case.EXPECTED_STANDARDISED, rtol=0, atol=1e-12
    )
    assert np.all(scaled[:, 1] == 0.0)
    assert net.scaler.transform(case.X_NEW)[0, 1] == 1.0
    assert np.mean(net.predict(case.X) == case.Y) == 1.0


def test_c19_empty_training_data():
    case = load_case("C19")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match=r"0 samples \(shape \(0, 3\)\)"):
            _classifier(2).fit(case.X_EMPTY, case.Y_EMPTY)
        with pytest.raises(DataError, match=r"0 features \(shape \(4, 0\)\)"):
            _classifier(2).fit(case.X_NO_FEATURES, case.Y_FOUR)
        with pytest.raises(DataError, match="0 samples"):
            Network([Dense(1)]).fit(case.X_EMPTY, case.Y_EMPTY)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_c19_predict_on_zero_rows(n_classes, rng):
    case = load_case("C19")
    X = rng.normal(size=(6, 3))
    y = np.arange(6) % n_classes
    net = _classifier(n_classes)
    net.fit(X, y, epochs=2, batch_size=3, seed=0)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        predicted = net.predict(case.X_PREDICT_EMPTY)
        proba = net.predict_proba(case.X_PREDICT_EMPTY)

    assert predicted.shape == (0,)
    assert predicted.dtype == net.classes_.dtype
    assert proba.shape == (0, n_classes)
    with pytest.raises(DataError, match="0 samples"):
        net.evaluate(case.X_PREDICT_EMPTY, np.zeros(0, dtype=int))


def test_default_batch_size_covers_data_smaller_than_32():
    # "auto" is 32 rows, or every row when there are fewer: 5 rows give one
    # full-batch step per epoch, so two epochs make exactly two SGD steps.
    X = np.arange(10, dtype=np.float64).reshape(5, 2)
    y = np.arange(5, dtype=np.float64)
    net = Network([Dense(1)], optimizer=SGD(lr=0.01), dtype="float64")
    history = net.fit(X, y, epochs=2, seed=0)
    assert net.optimizer.t == 2
    assert len(history["loss"]) == 2


@pytest.mark.parametrize("loss, last, classes", [
    ("categorical_crossentropy", "softmax", 3),
    ("binary_crossentropy", "sigmoid", 2),
])
def test_predict_from_logits_agrees_with_the_probabilities(loss, last, classes):
    """predict skips the output activation; it must pick what
    predict_proba's largest probability picks."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(3000, 4))
    y = np.array(["cat", "dog", "emu"])[rng.integers(0, classes, 3000)]
    net = Network([Dense(6, "tanh"), Dense(classes if classes > 2 else 1, last)],
                  loss=loss, optimizer="adam")
    net.fit(X[:300], y[:300], epochs=3, seed=0)
    proba = net.predict_proba(X)
    np.testing.assert_array_equal(net.predict(X),
                                  net.classes_[proba.argmax(axis=1)])


def test_uint64_labels_beyond_int64_are_refused_before_training():
    X = np.random.default_rng(0).normal(size=(20, 2))
    y = np.where(X[:, 0] > 0, np.uint64(2**64 - 1), np.uint64(1))
    net = Network([Dense(2, "softmax")], loss="categorical_crossentropy")
    with pytest.raises(DataError, match="18446744073709551615 at row .*as strings"):
        net.fit(X, y, epochs=1)
    assert not net.is_built
    # uint64 labels that fit in int64 train as usual.
    small = np.where(X[:, 0] > 0, np.uint64(2**63 - 1), np.uint64(1))
    net.fit(X, small, epochs=1, seed=0)
    assert set(net.predict(X).tolist()) <= {2**63 - 1, 1}


def test_inputs_that_overflow_the_output_are_refused_by_predict():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    net = Network([Dense(4, "relu"), Dense(2, "softmax")],
                  loss="categorical_crossentropy")
    net.fit(X, X[:, 0] > 0, epochs=1, seed=0)
    huge = np.vstack([X[:3], [[3e38, 3e38, 3e38]]])
    for call in (net.predict, net.predict_proba):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no RuntimeWarning on the way
            with pytest.raises(DataError, match="output for row 3 overflowed"):
                call(huge)
    assert net.predict(X[:3]).shape == (3,)


def test_warm_start_after_build_learns_labels_and_scaling_keeping_weights():
    rng = np.random.default_rng(3)
    X = rng.normal(5.0, 3.0, size=(200, 4))
    y = np.where(X[:, 0] > 5.0, "hi", "lo")
    net = Network([Dense(6, "tanh"), Dense(2, "softmax")],
                  loss="categorical_crossentropy", standardize=True)
    net.build(4, seed=5)
    drawn = [p.copy() for p in net.parameters()]
    net.fit(X, y, epochs=1, seed=1, warm_start=True)
    assert list(net.classes_) == ["hi", "lo"]
    np.testing.assert_allclose(net.scaler.mean_, X.mean(axis=0))
    # One epoch of Adam moves the built weights a little; weights drawn
    # afresh (seed 1, not 5) would be far from them.
    for start, p in zip(drawn, net.parameters(), strict=True):
        moved = np.abs(p - start).max()
        assert 0 < moved < 0.1, moved
    assert net.predict(X).shape == (200,)
