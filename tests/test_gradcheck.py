"""Network.check_gradients and `scratchnn gradcheck`.

A check is only worth having if it fails on a wrong derivative, so the
tests plant one (an activation whose backward is off) and expect the
failure to name that layer; correct networks of every activation and
loss must pass.
"""
import json

import numpy as np
import pytest

from conftest import numerical_gradient
from scratchnn import Dense, Network
from scratchnn.activations import Activation, Sigmoid
from scratchnn.cli import main


class OffTanh(Activation):
    """tanh with a derivative 10% too large: the bug a check must catch."""

    name = "off_tanh"

    def forward(self, z):
        return np.tanh(z)

    def backward(self, grad, z, a):
        return grad * (1.0 - a * a) * 1.1


def _regression_data(rng, n=12, features=3, outputs=1):
    X = rng.normal(size=(n, features))
    y = rng.normal(size=(n, outputs))
    return X, y


def _network(hidden, output, loss, **options):
    return Network(
        [Dense(5, hidden), Dense(4, "tanh"), Dense(*output)],
        loss=loss, **options,
    )


@pytest.mark.parametrize(
    "hidden", ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"]
)
@pytest.mark.parametrize(
    "loss, output",
    [
        ("sse", (2, "identity")),
        ("mse", (2, "sigmoid")),
        ("mse", (3, "softmax")),
        ("binary_crossentropy", (1, "sigmoid")),
        ("categorical_crossentropy", (3, "softmax")),
    ],
)
def test_correct_networks_pass(rng, hidden, loss, output):
    X = rng.normal(size=(12, 3))
    if loss == "binary_crossentropy":
        y = np.arange(12) % 2
    elif loss == "categorical_crossentropy":
        y = np.arange(12) % 3
    else:
        y = rng.uniform(size=(12, output[0]))
    net = _network(hidden, output, loss)

    report = net.check_gradients(X, y)

    assert report.passed, report.to_text()
    assert [(p.layer, p.param) for p in report.parameters] == [
        (0, "W"), (0, "b"), (1, "W"), (1, "b"), (2, "W"), (2, "b")
    ]
    for p in report.parameters:
        assert p.checked + p.on_kink == np.prod(p.shape)
        assert 0.0 <= p.worst_relative_error <= 1e-6
    assert report.first_failing_layer is None


def test_planted_wrong_derivative_fails_at_its_layer(rng):
    X, y = _regression_data(rng)
    net = Network(
        [Dense(5, "tanh"), Dense(4, OffTanh()), Dense(1, "identity")],
        loss="mse",
    )

    report = net.check_gradients(X, y)

    verdicts = {(p.layer, p.param): p.passed for p in report.parameters}
    # Layer 2 lies after the bug on the way back, so it is untouched;
    # layer 1's δ is wrong, and layer 0 inherits it through dL/da.
    assert verdicts == {
        (0, "W"): False, (0, "b"): False,
        (1, "W"): False, (1, "b"): False,
        (2, "W"): True, (2, "b"): True,
    }
    assert not report.passed
    assert report.first_failing_layer == 1
    # A 10% error in σ′ is far above the tolerance, not a rounding case.
    worst = max(p.worst_relative_error for p in report.parameters)
    assert worst > 1e-3
    assert "FAIL" in report.to_text()
    assert "goes wrong at layer 1" in report.to_text()


def test_planted_bug_in_the_first_layer_fails_only_there(rng):
    X, y = _regression_data(rng)
    net = Network(
        [Dense(5, OffTanh()), Dense(4, "tanh"), Dense(1, "identity")],
        loss="mse",
    )
    report = net.check_gradients(X, y)
    failing = sorted({p.layer for p in report.parameters if not p.passed})
    assert failing == [0]
    assert report.first_failing_layer == 0


def test_the_worst_entry_matches_an_independent_finite_difference(rng):
    X, y = _regression_data(rng)
    net = Network([Dense(4, "sigmoid"), Dense(1, "identity")],
                  loss="mse", dtype="float64").build(3, seed=1)
    report = net.check_gradients(X, y)

    # The same network's loss, written here from its weights alone.
    W0, b0 = net.layers[0].params["W"], net.layers[0].params["b"]
    W1, b1 = net.layers[1].params["W"], net.layers[1].params["b"]

    def loss():
        a0 = 1.0 / (1.0 + np.exp(-(X @ W0 + b0)))
        return np.mean((a0 @ W1 + b1 - y) ** 2)

    row = report.parameters[0]
    expected = numerical_gradient(loss, W0)[row.worst_index]
    assert row.numeric == pytest.approx(expected, rel=1e-6)
    _, grads = net.loss_and_gradients(X, y)
    assert row.analytic == grads[0][row.worst_index]


def test_the_users_network_is_left_unchanged(rng):
    X, y = _regression_data(rng)
    net = Network([Dense(6, "relu"), Dense(1, "identity")], loss="mse",
                  optimizer="adam", lr=0.01)
    net.fit(X, y, epochs=2, batch_size=4, seed=0)
    weights = [p.copy() for p in net.parameters()]
    moments = {k: v.copy() for k, v in net.optimizer.state().items()}

    report = net.check_gradients(X, y)

    assert report.passed
    assert net.dtype == np.float32
    for before, after in zip(weights, net.parameters()):
        assert after.dtype == np.float32
        np.testing.assert_array_equal(before, after)
    for key, value in net.optimizer.state().items():
        np.testing.assert_array_equal(moments[key], value)
    # Training goes on from the same state as a network never checked.
    twin = Network([Dense(6, "relu"), Dense(1, "identity")], loss="mse",
                   optimizer="adam", lr=0.01)
    twin.fit(X, y, epochs=2, batch_size=4, seed=0)
    net.fit(X, y, epochs=1, batch_size=4, seed=3, warm_start=True)
    twin.fit(X, y, epochs=1, batch_size=4, seed=3, warm_start=True)
    for mine, theirs in zip(net.parameters(), twin.parameters()):
        np.testing.assert_array_equal(mine, theirs)


def test_an_unbuilt_network_is_checked_at_the_weights_build_draws(rng):
    X, y = _regression_data(rng)
    net = Network([Dense(3, "tanh"), Dense(1, "identity")], loss="mse")
    report = net.check_gradients(X, y, seed=5)
    assert not net.is_built
    assert report.passed

    built = Network([Dense(3, "tanh"), Dense(1, "identity")],
                    loss="mse").build(3, seed=5)
    assert report.loss == pytest.approx(
        built.evaluate(X, y)["loss"], rel=1e-6
    )


def test_only_float64_resolves_a_float32_network(rng):
    # The check runs in float64 whatever the network's dtype: taken in
    # float32, these differences are off by 1e-3 to 1 (relative).
    X, y = _regression_data(rng)
    net = Network([Dense(4, "sigmoid"), Dense(1, "identity")], loss="mse",
                  dtype="float32")
    assert net.check_gradients(X, y, tol=1e-6).passed


def test_big_arrays_are_checked_on_a_seeded_subset(rng):
    X = rng.normal(size=(10, 30))
    y = rng.normal(size=(10, 1))
    net = Network([Dense(40, "tanh"), Dense(1, "identity")], loss="mse")

    first = net.check_gradients(X, y, max_entries=15, seed=1)
    again = net.check_gradients(X, y, max_entries=15, seed=1)
    other = net.check_gradients(X, y, max_entries=15, seed=2)
    every = net.check_gradients(X, y, max_entries=None)

    checked = {(p.layer, p.param): p.checked for p in first.parameters}
    assert checked == {(0, "W"): 15, (0, "b"): 15, (1, "W"): 15,
                       (1, "b"): 1}
    assert [p.worst_index for p in again.parameters] == [
        p.worst_index for p in first.parameters
    ]
    assert [p.worst_index for p in other.parameters] != [
        p.worst_index for p in first.parameters
    ]
    assert every.parameters[0].checked == 30 * 40
    assert every.passed


def test_differences_across_a_relu_kink_are_left_out():
    # Row 0 is all zeros and the biases start at 0, so every z of that
    # row is exactly 0: moving a bias by ±eps crosses the kink, where the
    # difference measures half a slope that backprop never uses.
    X = np.array([[0.0, 0.0], [1.0, -2.0], [0.5, 1.5], [-1.0, 0.3]])
    y = np.array([[0.1], [0.4], [-0.2], [0.3]])
    net = Network([Dense(3, "relu"), Dense(1, "identity")], loss="mse",
                  dtype="float64").build(2, seed=0)

    report = net.check_gradients(X, y)

    bias = report.parameters[1]
    assert (bias.layer, bias.param) == (0, "b")
    assert bias.on_kink == 3
    assert bias.checked == 0
    assert report.passed
    assert "kink" in report.to_text()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"tol": 0}, "tol must be a finite number > 0, got 0"),
        ({"eps": -1e-6}, "eps must be a finite number > 0"),
        ({"max_entries": 0}, "max_entries must be >= 1, got 0"),
    ],
)
def test_bad_settings_are_refused(rng, options, message):
    X, y = _regression_data(rng)
    net = Network([Dense(1, "identity")], loss="mse")
    with pytest.raises(ValueError, match=message):
        net.check_gradients(X, y, **options)


# ----------------------------------------------------------------------
# The command
# ----------------------------------------------------------------------
def test_cli_passes_the_tutorial_network_with_status_0(capsys):
    status = main(["gradcheck"])
    out = capsys.readouterr().out
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["layer", "param", "shape", "checked",
                                "worst", "rel.", "error", "result"]
    assert lines[1].split()[:3] == ["0", "W", "(3,"]
    assert lines[1].split()[-1] == "pass"
    assert lines[-1].startswith("passed")


def test_cli_fails_with_status_1_and_names_the_layer(monkeypatch, capsys):
    # The tutorial network is sigmoid throughout; a wrong sigmoid
    # derivative shows first in its last layer.
    monkeypatch.setattr(Sigmoid, "backward",
                        lambda self, grad, z, a: grad * a)
    status = main(["gradcheck", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert status == 1
    assert report["passed"] is False
    assert report["first_failing_layer"] == 1
    assert [row["passed"] for row in report["parameters"]] == [False, False]


def test_cli_json_holds_every_row(capsys):
    status = main(["gradcheck", "--data", "xor", "--layers", "3",
                   "--activation", "tanh", "--json", "--max-entries", "4"])
    report = json.loads(capsys.readouterr().out)
    assert status == 0
    assert report["passed"] is True
    assert report["tol"] == 1e-6 and report["eps"] == 1e-6
    rows = [(r["layer"], r["param"], r["shape"], r["checked"])
            for r in report["parameters"]]
    assert rows == [(0, "W", [2, 3], 4), (0, "b", [3], 3),
                    (1, "W", [3, 2], 4), (1, "b", [2], 2)]
    assert all(r["worst_relative_error"] <= 1e-6
               for r in report["parameters"])


def test_cli_checks_a_saved_model(tmp_path, capsys):
    model = str(tmp_path / "m.npz")
    assert main(["train", "--data", "moons", "--layers", "4", "--epochs",
                 "2", "--out", model, "--no-plot", "-q"]) == 0
    capsys.readouterr()
    status = main(["gradcheck", "--model", model, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert status == 0
    # train held out a fifth of moons' 200 rows.
    assert report["n_samples"] == 160
    assert [r["shape"] for r in report["parameters"]] == [
        [2, 4], [4], [4, 2], [2]
    ]

    net = Network.load(model)
    assert report["passed"] == net.check_gradients(
        *_moons_training_rows(), max_entries=100).passed


def _moons_training_rows():
    from scratchnn import cli_data

    dataset = cli_data.load("moons")
    X_tr, y_tr, _, _ = cli_data.split(dataset, 0.2, 0, True)
    return X_tr, y_tr


def test_cli_help_states_the_exit_status(capsys):
    with pytest.raises(SystemExit):
        main(["gradcheck", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "0 when every array passes, 1 when any fails" in text
    assert "(default: 1e-06)" in text


def test_cli_refuses_architecture_options_with_a_model(tmp_path, capsys):
    net = Network([Dense(1, "sigmoid")], loss="sse").build(3, seed=0)
    model = str(tmp_path / "m.npz")
    net.save(model)
    status = main(["gradcheck", "--model", model, "--layers", "3"])
    assert status == 2
    assert "leave out --layers" in capsys.readouterr().err
