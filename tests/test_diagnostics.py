"""Training diagnostics: each failure built on purpose, and its warning.

Every test makes one thing go wrong and checks that exactly its kind of
`DiagnosticWarning` appears; a healthy run must show none.
"""
import logging
import warnings

import numpy as np
import pytest

from scratchnn import SGD, Callback, Dense, Network
from scratchnn.cli import main
from scratchnn.data import StandardScaler, load_digits
from scratchnn.diagnostics import Diagnostics
from scratchnn.errors import DiagnosticWarning


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X, y


@pytest.fixture(scope="module")
def scaled_digits(digits):
    X, y = digits
    return StandardScaler().fit(X).transform(X), y


def diagnose(net, X, y, callbacks=None, **fit_args):
    """Fit with diagnose=True; return the DiagnosticWarnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net.fit(X, y, seed=0, diagnose=True, callbacks=callbacks,
                **fit_args)
    return [w.message for w in caught
            if issubclass(w.category, DiagnosticWarning)]


def kinds(found) -> set:
    return {w.kind for w in found}


def classifier(hidden, optimizer="adam", lr=0.003, **network_args):
    return Network(hidden + [Dense(10, "softmax")],
                   loss="categorical_crossentropy", optimizer=optimizer,
                   lr=lr, **network_args)


class AtStart(Callback):
    """Runs `change(network)` once the weights are drawn."""

    def __init__(self, change):
        self.change = change

    def on_train_begin(self, network):
        self.change(network)


# ----------------------------------------------------------------------
# A healthy run
# ----------------------------------------------------------------------
def test_healthy_digits_run_shows_no_warning(digits):
    X, y = digits
    net = classifier([Dense(64, "relu")], standardize=True)
    found = diagnose(net, X, y, epochs=30)

    assert found == []
    assert net.history["accuracy"][-1] > 0.99


def test_diagnosed_run_trains_exactly_like_an_undiagnosed_one(digits):
    # The probe pass must not touch the layers' buffers or the generator.
    X, y = digits
    plain = classifier([Dense(32, "relu")], standardize=True)
    plain.fit(X, y, epochs=3, seed=0)
    watched = classifier([Dense(32, "relu")], standardize=True)
    diagnose(watched, X, y, epochs=3)

    for a, b in zip(plain.parameters(), watched.parameters()):
        np.testing.assert_array_equal(a, b)
    assert plain.history["loss"] == watched.history["loss"]


# ----------------------------------------------------------------------
# Each failure on purpose
# ----------------------------------------------------------------------
def test_unscaled_inputs(digits):
    # Raw pixel counts 0..16 with standardize left off.
    X, y = digits
    found = diagnose(classifier([Dense(64, "relu")]), X, y, epochs=3)

    assert kinds(found) == {"inputs"}
    text = str(found[0])
    assert "32 of 64 columns are far from standardised" in text
    assert "standardize=True" in text


def test_saturated_sigmoid_units_from_a_huge_lr(scaled_digits):
    X, y = scaled_digits
    net = classifier([Dense(64, "sigmoid")], optimizer="sgd", lr=20.0)
    found = diagnose(net, X, y, epochs=3)

    assert kinds(found) == {"saturated"}
    assert found[0].layer == 0
    assert "of 64 units are saturated" in str(found[0])
    assert "layer 0 (Dense 64 -> 64, sigmoid)" in str(found[0])


def test_saturated_tanh_units_from_huge_weights(scaled_digits):
    X, y = scaled_digits

    def blow_up(network):
        network.layers[0].params["W"] *= 30.0

    found = diagnose(classifier([Dense(64, "tanh")]), X, y,
                     callbacks=[AtStart(blow_up)], epochs=2)

    assert kinds(found) == {"saturated"}
    assert "tanh" in str(found[0])


def test_dead_relus_from_a_large_negative_bias(scaled_digits):
    X, y = scaled_digits

    def kill_three_quarters(network):
        network.layers[0].params["b"][:48] = -20.0

    found = diagnose(classifier([Dense(64, "relu")]), X, y,
                     callbacks=[AtStart(kill_three_quarters)], epochs=3)

    # Dead in every epoch, warned about once.
    assert len(found) == 1
    assert found[0].kind == "dead" and found[0].layer == 0
    assert "75% of 64 units are dead" in str(found[0])
    assert "leaky_relu" in str(found[0])


def test_exploding_gradients_in_a_deep_net_of_large_weights(scaled_digits):
    # U[0, 1) weights (the tutorial's) in a deep ReLU stack; the lr is
    # small enough that the loss stays finite.
    X, y = scaled_digits
    hidden = [Dense(32, "relu", init="uniform") for _ in range(3)]
    net = classifier(hidden, optimizer="sgd", lr=1e-4)
    found = diagnose(net, X, y, epochs=3)

    assert kinds(found) == {"exploding"}
    assert "limit 10" in str(found[0])


def test_vanishing_gradients_in_a_deep_sigmoid_stack(scaled_digits):
    X, y = scaled_digits
    hidden = [Dense(32, "sigmoid") for _ in range(8)]
    net = classifier(hidden, optimizer="sgd", lr=0.1)
    found = diagnose(net, X, y, epochs=3)

    assert kinds(found) == {"vanishing"}
    # The first layers, furthest from the loss, are the ones that starve.
    assert 0 in {w.layer for w in found}
    assert 8 not in {w.layer for w in found}
    assert "activation='relu'" in str(found[0])


def test_divergence_from_too_large_an_lr(scaled_digits):
    # Stable cross-entropy keeps the loss finite while it grows.
    X, y = scaled_digits
    net = classifier([Dense(64, "relu")], optimizer="sgd", lr=2.0)
    found = diagnose(net, X, y, epochs=5)

    assert kinds(found) == {"diverging"}
    assert "a lower lr than 2 " in str(found[0])


def test_plateau_from_too_small_an_lr(scaled_digits):
    X, y = scaled_digits
    net = classifier([Dense(64, "relu")], optimizer="sgd", lr=1e-5)
    found = diagnose(net, X, y, epochs=12)

    assert kinds(found) == {"plateau"}
    assert "last 10 epochs" in str(found[0])
    assert "a higher lr than 1e-05" in str(found[0])


# ----------------------------------------------------------------------
# The switch, the callback and the log
# ----------------------------------------------------------------------
def test_diagnostics_are_off_by_default(digits):
    X, y = digits
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        classifier([Dense(16, "relu")]).fit(X, y, epochs=2, seed=0)
    assert not [w for w in caught if w.category is DiagnosticWarning]


def test_diagnose_must_be_a_bool(digits):
    X, y = digits
    with pytest.raises(TypeError, match="diagnose must be True or False"):
        classifier([Dense(16, "relu")]).fit(X, y, diagnose="yes")


def test_callback_works_on_its_own_and_checks_its_arguments(digits):
    X, y = digits
    with pytest.warns(DiagnosticWarning) as caught:
        classifier([Dense(16, "relu")]).fit(
            X, y, epochs=1, seed=0, callbacks=[Diagnostics(probe_rows=64)]
        )
    assert "inputs" in {w.message.kind for w in caught}
    with pytest.raises(ValueError, match="probe_rows must be >= 1, got 0"):
        Diagnostics(probe_rows=0)
    with pytest.raises(TypeError, match="plateau_epochs must be an int"):
        Diagnostics(plateau_epochs=2.5)


def test_figures_are_logged_each_epoch(scaled_digits, caplog):
    X, y = scaled_digits
    with caplog.at_level(logging.DEBUG, logger="scratchnn.diagnostics"):
        diagnose(classifier([Dense(16, "relu")]), X, y, epochs=2)
    messages = [r.getMessage() for r in caplog.records]

    assert any(m.startswith("epoch 2 units: 0: ") for m in messages)
    assert any(m.startswith("epoch 2 |grad W| / |W|: 0: ") for m in messages)


def test_tiny_data_is_probed_whole():
    # The tutorial's 4 rows: fewer than the probe size, full batch.
    X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], float)
    y = np.array([0.0, 1.0, 1.0, 0.0])
    net = Network([Dense(4, "tanh"), Dense(1)], loss="mse",
                  optimizer=SGD(lr=0.1), dtype="float64")
    found = diagnose(net, X, y, epochs=20, batch_size=None)

    assert found == []
    assert net.history["loss"][-1] < net.history["loss"][0]


def test_cli_train_diagnose_prints_one_line_per_warning(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    status = main(["train", "--no-standardize", "--diagnose", "--epochs",
                   "2", "--no-plot"])
    _, err = capsys.readouterr()

    assert status == 0, err
    lines = [line for line in err.splitlines() if "warning:" in line]
    assert len(lines) == 1
    assert lines[0].startswith("scratchnn: warning: inputs: ")
    assert "leave out --no-standardize" in lines[0]
