"""Network.partial_fit: one epoch at a time, with declared classes (C15)."""
import numpy as np
import pytest

from conftest import load_case
from scratchnn import SGD, DataError, Dense, Network

C15_COLUMNS = ["blue", "green", "red", "yellow"]


def _c15_network(**kwargs):
    return Network(
        [Dense(8, "tanh"), Dense(4, "softmax")],
        loss="categorical_crossentropy",
        optimizer="adam",
        lr=0.05,
        **kwargs,
    )


def _state(net):
    """Copies of everything a training step changes."""
    optimizer = net.optimizer
    arrays = [p.copy() for p in net.parameters()]
    arrays += [a.copy() for a in optimizer.state().values()]
    return arrays, optimizer.t, len(net.history)


def _assert_same_state(before, after):
    arrays_before, t_before, epochs_before = before
    arrays_after, t_after, epochs_after = after
    assert len(arrays_before) == len(arrays_after)
    for a, b in zip(arrays_before, arrays_after, strict=True):
        assert a.tobytes() == b.tobytes()
    assert (t_before, epochs_before) == (t_after, epochs_after)


# ----------------------------------------------------------------------
# C15, as the case describes it
# ----------------------------------------------------------------------
def test_c15_first_batch_gives_one_column_per_declared_class():
    case = load_case("C15")
    net = _c15_network()
    net.partial_fit(
        case.X_BATCH_1, case.Y_BATCH_1, classes=case.ALL_CLASSES, seed=0
    )

    assert net.classes_.tolist() == C15_COLUMNS
    proba = net.predict_proba(case.X_BATCH_1)
    assert proba.shape == (3, case.EXPECTED_PROBA_COLUMNS)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert set(net.predict(case.X_BATCH_1)) <= set(C15_COLUMNS)


def test_c15_columns_follow_classes_in_sorted_order():
    # Declared out of order, the classes are still sorted. A network that
    # has learned the batches puts each sample's largest probability in
    # the column of its label, so the order is meaningful, not cosmetic.
    case = load_case("C15")
    X = np.vstack([case.X_BATCH_1, case.X_BATCH_2])
    y = np.concatenate([case.Y_BATCH_1, case.Y_BATCH_2])
    net = _c15_network()
    declared = ["red", "yellow", "blue", "green"]
    net.partial_fit(X, y, classes=declared, seed=0)
    for _ in range(300):
        net.partial_fit(X, y)

    assert net.classes_.tolist() == C15_COLUMNS
    columns = net.predict_proba(X).argmax(axis=1)
    assert [C15_COLUMNS[c] for c in columns] == y.tolist()
    assert net.predict(X).tolist() == y.tolist()


def test_c15_declared_class_in_a_later_batch_trains():
    case = load_case("C15")
    net = _c15_network()
    net.partial_fit(
        case.X_BATCH_1, case.Y_BATCH_1, classes=case.ALL_CLASSES, seed=0
    )
    before = [p.copy() for p in net.parameters()]

    history = net.partial_fit(case.X_BATCH_2, case.Y_BATCH_2)

    assert len(history) == 1 and np.isfinite(history["loss"][0])
    assert len(net.history) == 2
    assert any(
        not np.array_equal(a, b) for a, b in zip(before, net.parameters(), strict=True)
    )
    assert net.predict_proba(case.X_BATCH_2).shape == (1, 4)


def test_c15_undeclared_label_is_refused_and_nothing_changes():
    case = load_case("C15")
    net = _c15_network()
    net.partial_fit(
        case.X_BATCH_1, case.Y_BATCH_1, classes=case.ALL_CLASSES, seed=0
    )
    net.partial_fit(case.X_BATCH_2, case.Y_BATCH_2)
    before = _state(net)
    proba = net.predict_proba(case.X_BATCH_1)

    known = "the known classes are 'blue', 'green', 'red', 'yellow'"
    with pytest.raises(DataError, match=rf"'purple'; {known}"):
        net.partial_fit(case.X_BATCH_3, case.Y_BATCH_3)
    # Declaring it late is refused too; the classes are fixed.
    with pytest.raises(ValueError, match="differ from this network's"):
        net.partial_fit(
            case.X_BATCH_3,
            case.Y_BATCH_3,
            classes=[*case.ALL_CLASSES, "purple"],
        )

    _assert_same_state(before, _state(net))
    np.testing.assert_array_equal(net.predict_proba(case.X_BATCH_1), proba)


def test_c15_first_call_without_classes_is_refused():
    case = load_case("C15")
    net = _c15_network()
    asks = r"needs classes=\[\.\.\.\], the full list of labels"
    with pytest.raises(ValueError, match=asks):
        net.partial_fit(case.X_BATCH_1, case.Y_BATCH_1, seed=0)
    assert not net.is_built and net.history is None


# ----------------------------------------------------------------------
# The classes argument
# ----------------------------------------------------------------------
def test_later_calls_may_repeat_the_classes_in_any_order():
    case = load_case("C15")
    net = _c15_network()
    net.partial_fit(
        case.X_BATCH_1, case.Y_BATCH_1, classes=case.ALL_CLASSES, seed=0
    )
    net.partial_fit(
        case.X_BATCH_2, case.Y_BATCH_2, classes=C15_COLUMNS[::-1]
    )
    assert len(net.history) == 2

    with pytest.raises(ValueError, match=r"classes \[1, 2\] differ"):
        net.partial_fit(case.X_BATCH_2, case.Y_BATCH_2, classes=[1, 2])


def test_bad_class_lists_are_refused_before_building():
    X = np.zeros((2, 1))
    net = _c15_network()
    with pytest.raises(ValueError, match=r"at least two labels, got \['a'\]"):
        net.partial_fit(X, ["a", "a"], classes=["a", "a"])
    with pytest.raises(DataError, match=r"classes contains nan"):
        net.partial_fit(X, [0.0, 1.0], classes=[0.0, 1.0, np.nan])
    # The output layer must fit the classes, as in fit.
    with pytest.raises(DataError, match="4 units but y has 3 classes"):
        net.partial_fit(X, ["a", "b"], classes=["a", "b", "c"])
    with pytest.raises(DataError, match=r"'c'; the known classes are 'a'"):
        net.partial_fit(X, ["a", "c"], classes=["a", "b", "d", "e"])
    assert not net.is_built


def test_labels_of_another_kind_are_outside_the_classes():
    # Text never equals a number, so "1" is not class 1.
    X = np.zeros((2, 1))
    net = Network([Dense(1, "sigmoid")], loss="binary_crossentropy")
    outside = r"classes: '0', '1'; the known classes are 0, 1\."
    with pytest.raises(DataError, match=outside):
        net.partial_fit(X, ["0", "1"], classes=[0, 1])
    net.partial_fit(X, [0, 1], classes=[0, 1], seed=0)
    assert net.classes_.tolist() == [0, 1]


def test_regression_takes_no_classes():
    net = Network([Dense(1)], loss="mse")
    with pytest.raises(ValueError, match="classes is only for classifiers"):
        net.partial_fit(np.zeros((2, 1)), [0.0, 1.0], classes=[0, 1])


# ----------------------------------------------------------------------
# One call is one epoch of fit
# ----------------------------------------------------------------------
@pytest.mark.parametrize("shuffle", [False, True])
def test_one_call_equals_one_epoch_of_fit(shuffle, rng):
    # Both draw the weights first from a generator seeded the same way,
    # then the epoch's order from the same generator.
    X = rng.normal(size=(10, 3))
    y = np.array(["a", "b", "c", "d", "e"] * 2)
    pieces, whole = (
        Network(
            [Dense(6, "tanh"), Dense(5, "softmax")],
            loss="categorical_crossentropy",
            optimizer="adam",
            dtype="float64",
        )
        for _ in range(2)
    )
    got = pieces.partial_fit(
        X, y, classes=np.unique(y), batch_size=4, shuffle=shuffle, seed=3
    )
    want = whole.fit(X, y, epochs=1, batch_size=4, shuffle=shuffle, seed=3)

    for a, b in zip(pieces.parameters(), whole.parameters(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert got["loss"] == want["loss"]
    assert got["accuracy"] == want["accuracy"]


def test_calls_in_a_row_continue_weights_optimizer_and_shuffling(rng):
    # k calls on the same rows equal k epochs of fit only if each call
    # goes on with Adam's moments and step count and with the same
    # generator: a fresh one per call would repeat the first order.
    X = rng.normal(size=(12, 2))
    y = X @ np.array([1.5, -2.0]) + 0.5
    pieces, whole = (
        Network([Dense(4, "tanh"), Dense(1)], optimizer="adam",
                dtype="float64")
        for _ in range(2)
    )
    for _ in range(4):
        pieces.partial_fit(X, y, batch_size=5, seed=7)
    whole.fit(X, y, epochs=4, batch_size=5, seed=7)

    for a, b in zip(pieces.parameters(), whole.parameters(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert pieces.optimizer.t == whole.optimizer.t == 12
    assert pieces.history["loss"] == whole.history["loss"]
    assert pieces.history.epochs == [1, 2, 3, 4]


def test_one_call_matches_sgd_written_out_here():
    # A softmax layer alone: dL/dlogits = (p - onehot) / batch rows, so
    # dW = x.T @ that and db its column sum; two batches, in order.
    X = np.array([[0.5, -1.0], [1.5, 0.2], [-0.3, 0.8], [2.0, -0.4]])
    y = np.array([2, 0, 1, 2])
    net = Network(
        [Dense(3, "softmax")],
        loss="categorical_crossentropy",
        optimizer=SGD(lr=0.5),
        dtype="float64",
    )
    net.build(2, seed=0)
    W = net.layers[0].params["W"].copy()
    b = net.layers[0].params["b"].copy()

    net.partial_fit(X, y, classes=[0, 1, 2], batch_size=2, shuffle=False)

    for rows in (slice(0, 2), slice(2, 4)):
        logits = X[rows] @ W + b
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        error = (p - np.eye(3)[y[rows]]) / 2
        W = W - 0.5 * X[rows].T @ error
        b = b - 0.5 * error.sum(axis=0)
    np.testing.assert_allclose(net.layers[0].params["W"], W, rtol=1e-12)
    np.testing.assert_allclose(net.layers[0].params["b"], b, rtol=1e-12)


# ----------------------------------------------------------------------
# Regression, scaling, and networks trained before
# ----------------------------------------------------------------------
def test_regression_learns_a_line_batch_by_batch(rng):
    X = rng.uniform(-1, 1, size=(40, 1))
    y = 3.0 * X[:, 0] - 1.0
    net = Network([Dense(1)], loss="mse", optimizer=SGD(lr=0.1),
                  dtype="float64")
    for epoch in range(60):
        for rows in np.array_split(np.arange(40), 4):
            net.partial_fit(X[rows], y[rows], seed=0)

    assert len(net.history) == 240
    np.testing.assert_allclose(net.layers[0].params["W"], [[3.0]], atol=1e-3)
    np.testing.assert_allclose(net.layers[0].params["b"], [-1.0], atol=1e-3)
    assert not hasattr(net, "classes_")


def test_standardize_is_refused_until_fit_has_scaled():
    X = np.array([[1.0, 200.0], [2.0, 100.0], [3.0, 300.0], [4.0, 50.0]])
    y = np.array(["lo", "hi", "lo", "hi"])
    net = Network([Dense(1, "sigmoid")], loss="binary_crossentropy",
                  standardize=True)
    with pytest.raises(NotImplementedError, match=(
        r"partial_fit with standardize=True is not supported: .*scale the "
        r"inputs yourself"
    )):
        net.partial_fit(X, y, classes=["hi", "lo"], seed=0)
    assert not net.is_built

    net.fit(X, y, epochs=2, seed=0)
    scaler = net.scaler
    mean, scale = scaler.mean_.copy(), scaler.scale_.copy()
    net.partial_fit(X[:2] * 10.0, y[:2])
    assert net.scaler is scaler
    np.testing.assert_array_equal(scaler.mean_, mean)
    np.testing.assert_array_equal(scaler.scale_, scale)
    assert len(net.history) == 3


def test_after_fit_the_fitted_labels_are_kept():
    # Object labels in fit give object predictions; partial_fit needs no
    # classes then and keeps them.
    case = load_case("C11")
    net = Network([Dense(8, "tanh"), Dense(3, "softmax")],
                  loss="categorical_crossentropy", optimizer="adam", lr=0.05)
    net.fit(case.X, case.Y_OBJECT, epochs=30, batch_size=8, seed=0)
    net.partial_fit(case.X[:5], case.Y_OBJECT[:5], seed=0)

    predicted = net.predict(case.X_NEW)
    assert predicted.dtype == object
    assert predicted.tolist() == case.EXPECTED_PREDICTION.tolist()
    with pytest.raises(DataError, match="model expects 2 features, got 3"):
        net.partial_fit(np.zeros((1, 3)), ["cat"])


def test_the_global_generator_is_neither_read_nor_moved():
    case = load_case("C15")
    results = []
    for global_seed in (1, 2):
        np.random.seed(global_seed)
        before = np.random.get_state()
        net = _c15_network()
        net.partial_fit(case.X_BATCH_1, case.Y_BATCH_1,
                        classes=case.ALL_CLASSES, batch_size=1, seed=5)
        net.partial_fit(case.X_BATCH_1, case.Y_BATCH_1, batch_size=1)
        after = np.random.get_state()

        assert np.array_equal(before[1], after[1]) and before[2] == after[2]
        results.append(np.concatenate([p.ravel() for p in net.parameters()]))
    np.testing.assert_array_equal(results[0], results[1])


def test_a_partly_trained_network_saves_and_loads(tmp_path):
    case = load_case("C15")
    net = _c15_network()
    net.partial_fit(
        case.X_BATCH_1, case.Y_BATCH_1, classes=case.ALL_CLASSES, seed=0
    )
    net.partial_fit(case.X_BATCH_2, case.Y_BATCH_2)
    net.save(tmp_path / "c15.npz")
    loaded = Network.load(tmp_path / "c15.npz")

    assert loaded.classes_.tolist() == C15_COLUMNS
    np.testing.assert_array_equal(
        loaded.predict_proba(case.X_BATCH_1), net.predict_proba(case.X_BATCH_1)
    )
    # The loaded model refuses the undeclared label the same way.
    with pytest.raises(DataError, match="'purple'"):
        loaded.partial_fit(case.X_BATCH_3, case.Y_BATCH_3)
