"""explain_iteration and `scratchnn explain`.

The numbers shown must be the ones training uses: they are checked
against the tutorial's equations worked by hand, and against the
library's own gradients (`loss_and_gradients`) and update (`train_step`)
on a twin network trained by `fit`.
"""
import json
import re

import numpy as np
import pytest

from scratchnn import SGD, Dense, Network
from scratchnn.cli import main
from scratchnn.data import load_dataset, load_tutorial
from scratchnn.explain import explain_iteration


def _tutorial_network() -> Network:
    return Network(
        [Dense(4, "sigmoid", use_bias=False, init="uniform"),
         Dense(1, "sigmoid", use_bias=False, init="uniform")],
        loss="sse", optimizer=SGD(lr=1.0), dtype="float64",
    )


def _values(stage) -> dict:
    return {q.key: q.value for q in stage.quantities}


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_the_tutorial_iteration_matches_its_equations_by_hand():
    X, y = load_tutorial()
    explanation = explain_iteration(_tutorial_network(), X, y, seed=0)

    # The article's iteration, written out again from its initial weights.
    W0 = _tutorial_network().build(3, seed=0).layers[0].params["W"]
    W1 = _tutorial_network().build(3, seed=0).layers[1].params["W"]
    a0 = _sigmoid(X @ W0)
    y_hat = _sigmoid(a0 @ W1)
    loss = np.sum((y_hat - y) ** 2)
    delta1 = 2 * (y_hat - y) * y_hat * (1 - y_hat)
    delta0 = (delta1 @ W1.T) * a0 * (1 - a0)
    dW1, dW0 = a0.T @ delta1, X.T @ delta0

    forward = [_values(s) for s in explanation.forward]
    backward = {s.layer: _values(s) for s in explanation.backward}
    update = [_values(s) for s in explanation.update]
    close = dict(rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(forward[0]["W"], W0, **close)
    np.testing.assert_allclose(forward[0]["z"], X @ W0, **close)
    np.testing.assert_allclose(forward[0]["a"], a0, **close)
    np.testing.assert_allclose(forward[1]["a"], y_hat, **close)
    assert _values(explanation.loss)["L"] == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(backward[1]["dL_da"], 2 * (y_hat - y),
                               **close)
    np.testing.assert_allclose(backward[1]["delta"], delta1, **close)
    np.testing.assert_allclose(backward[1]["dW"], dW1, **close)
    np.testing.assert_allclose(backward[0]["dL_da"], delta1 @ W1.T, **close)
    np.testing.assert_allclose(backward[0]["delta"], delta0, **close)
    np.testing.assert_allclose(backward[0]["dW"], dW0, **close)
    # lr 1: the update is the weights minus their gradient.
    np.testing.assert_allclose(update[0]["W"], W0 - dW0, **close)
    np.testing.assert_allclose(update[1]["W"], W1 - dW1, **close)
    assert [s.layer for s in explanation.backward] == [1, 0]


# Networks that differ in every part an iteration shows: biases,
# activations, fused and plain losses, optimizers with state, scaling.
NETWORKS = {
    "adam-softmax": lambda: Network(
        [Dense(5, "relu"), Dense(3, "softmax")],
        loss="categorical_crossentropy", optimizer="adam", lr=0.01,
        standardize=True,
    ),
    "momentum-mse": lambda: Network(
        [Dense(4, "tanh"), Dense(3, "leaky_relu"), Dense(1, "identity")],
        loss="mse", optimizer=SGD(lr=0.05, momentum=0.9),
    ),
    "nesterov-bce": lambda: Network(
        [Dense(4, "sigmoid"), Dense(1, "sigmoid")],
        loss="binary_crossentropy",
        optimizer=SGD(lr=0.1, momentum=0.5, nesterov=True),
    ),
}


def _problem(name, rng):
    X = rng.normal(size=(9, 3)) * 3 + 1
    if name == "adam-softmax":
        return X, np.arange(9) % 3, np.eye(3)[np.arange(9) % 3]
    if name == "nesterov-bce":
        y = np.arange(9) % 2
        return X, y, y.reshape(-1, 1).astype(float)
    y = rng.normal(size=(9, 1))
    return X, y, y


def _make(name) -> Network:
    return NETWORKS[name]()


@pytest.mark.parametrize("name", sorted(NETWORKS))
@pytest.mark.parametrize("step", [1, 3])
def test_the_numbers_are_the_ones_training_uses(rng, name, step):
    X, y, targets = _problem(name, rng)
    explanation = explain_iteration(_make(name), X, y, step=step, seed=4)

    # A twin trained by fit for the iterations before, in full batches.
    twin = _make(name)
    if step > 1:
        twin.fit(X, y, epochs=step - 1, batch_size=None, seed=4)
    elif twin.standardize:
        # One fit sets the scaling as fit does; build then draws the
        # initial weights again (the same seed draws them first in fit).
        twin.fit(X, y, epochs=1, batch_size=None, seed=4)
        twin.build(3, seed=4)
    else:
        twin.build(3, seed=4)
    x = X.astype(twin.dtype)
    if twin.standardize:
        x = twin.scaler.transform(X).astype(twin.dtype)
    targets = targets.astype(twin.dtype)
    data = _values(explanation.data)
    np.testing.assert_array_equal(data["x"], x)
    np.testing.assert_array_equal(data["y"], targets)

    before = [p.copy() for p in twin.parameters()]
    loss, grads = twin.loss_and_gradients(x, targets)
    forward = [_values(s) for s in explanation.forward]
    backward = {s.layer: _values(s) for s in explanation.backward}
    shown_before = [v[k] for v in forward for k in ("W", "b")]
    shown_grads = [backward[i][k] for i in range(len(forward))
                   for k in ("dW", "db")]
    for mine, theirs in zip(shown_before + shown_grads, before + grads):
        np.testing.assert_array_equal(mine, theirs)
    assert _values(explanation.loss)["L"] == loss

    twin.train_step(x, targets)
    update = [_values(s) for s in explanation.update]
    shown_after = [v[k] for v in update for k in ("W", "b")]
    for mine, theirs in zip(shown_after, twin.parameters()):
        np.testing.assert_array_equal(mine, theirs)
    # The optimizer's arrays ("m0", "velocity3"...) by parameter position:
    # W then b in each layer.
    state = twin.optimizer.state()
    for key, value in state.items():
        kind, position = re.fullmatch(r"([a-z]+)(\d+)", key).groups()
        layer, param = divmod(int(position), 2)
        shown = update[layer][f"{kind}_{'Wb'[param]}"]
        np.testing.assert_array_equal(shown, value)
    assert len(state) == {"adam-softmax": 8, "momentum-mse": 6,
                          "nesterov-bce": 4}[name]


def test_the_shown_numbers_obey_backprops_equations(rng):
    X, y, _ = _problem("momentum-mse", rng)
    explanation = explain_iteration(_make("momentum-mse"), X, y, step=2)
    forward = [_values(s) for s in explanation.forward]
    backward = {s.layer: _values(s) for s in explanation.backward}
    inputs = [_values(explanation.data)["x"]] + [f["a"] for f in forward]

    for i, f in enumerate(forward):
        z = inputs[i] @ f["W"] + f["b"]
        np.testing.assert_allclose(f["z"], z, rtol=1e-5, atol=1e-6)
        b = backward[i]
        np.testing.assert_allclose(b["dW"], inputs[i].T @ b["delta"],
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b["db"], b["delta"].sum(axis=0),
                                   rtol=1e-5, atol=1e-6)
        if i + 1 < len(forward):
            carried = backward[i + 1]["delta"] @ forward[i + 1]["W"].T
            np.testing.assert_allclose(b["dL_da"], carried, rtol=1e-5,
                                       atol=1e-6)
    # tanh's derivative, from its output.
    np.testing.assert_allclose(
        backward[0]["delta"],
        backward[0]["dL_da"] * (1 - forward[0]["a"] ** 2), rtol=1e-5,
        atol=1e-7,
    )


def test_the_users_network_is_left_unchanged(rng):
    X, y, _ = _problem("adam-softmax", rng)
    net = _make("adam-softmax")
    net.fit(X, y, epochs=2, batch_size=3, seed=0)
    weights = [p.copy() for p in net.parameters()]
    explain_iteration(net, X, y, step=2)
    for before, after in zip(weights, net.parameters()):
        np.testing.assert_array_equal(before, after)
    assert net.optimizer.t == 6

    unbuilt = _make("adam-softmax")
    explain_iteration(unbuilt, X, y)
    assert not unbuilt.is_built


def test_a_bad_step_is_refused(rng):
    X, y, _ = _problem("momentum-mse", rng)
    with pytest.raises(ValueError, match="step must be >= 1, got 0"):
        explain_iteration(_make("momentum-mse"), X, y, step=0)


# ----------------------------------------------------------------------
# The command
# ----------------------------------------------------------------------
def _fit_tutorial(epochs: int) -> Network:
    X, y = load_tutorial()
    net = _tutorial_network()
    net.fit(X, y, epochs=epochs, batch_size=None, seed=0)
    return net


def test_cli_shows_the_tutorial_iteration_with_equations(capsys):
    assert main(["explain"]) == 0
    out = capsys.readouterr().out
    for text in ("z0 = x W0", "(4, 3) @ (3, 4) -> (4, 4)",
                 "a0 = sigmoid(z0)", "ŷ = a1 = sigmoid(z1)",
                 "δ1 = dL/da1 ∘ σ′(z1)", "dW0 = xᵀ δ0",
                 "dL/da0 = δ1 W1ᵀ", "W1 ← W1 − lr dW1"):
        assert text in out
    first_loss = _fit_tutorial(1).history["loss"][0]
    assert f"L = Σ (ŷ − y)² = {first_loss:.8g}" in out
    # Forward before backward before the update, as training runs them.
    order = [out.index(h) for h in ("FORWARD", "LOSS", "BACKWARD",
                                    "UPDATE")]
    assert order == sorted(order)


def test_cli_step_n_follows_n_minus_1_iterations_of_fit(capsys):
    assert main(["explain", "--step", "3", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["step"] == 3
    history = _fit_tutorial(3).history["loss"]
    assert shown["loss"]["L"]["value"] == history[2]

    after = _fit_tutorial(3)
    for stage, layer in zip(shown["update"], after.layers):
        assert np.array_equal(stage["W"]["value"], layer.params["W"])
        assert stage["W"]["shape"] == list(layer.params["W"].shape)


def test_cli_truncates_big_matrices_but_json_holds_them_all(capsys):
    assert main(["explain", "--data", "spirals", "--layers", "4",
                 "--activation", "tanh"]) == 0
    text = capsys.readouterr().out
    assert "..." in text
    assert "(300, 2) @ (2, 4) -> (300, 4)" in text
    assert len(text.splitlines()) < 250

    assert main(["explain", "--data", "spirals", "--layers", "4",
                 "--activation", "tanh", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    X, _ = load_dataset("spirals")
    z0 = np.array(shown["forward"][0]["z"]["value"])
    assert z0.shape == (300, 4)
    x = np.array(shown["data"]["x"]["value"])
    W0 = np.array(shown["forward"][0]["W"]["value"])
    b0 = np.array(shown["forward"][0]["b"]["value"])
    np.testing.assert_allclose(z0, x @ W0 + b0, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(x, (X - X.mean(0)) / X.std(0), rtol=1e-5,
                               atol=1e-5)


def test_cli_explains_a_saved_model_on_its_training_rows(tmp_path, capsys):
    model = str(tmp_path / "m.npz")
    assert main(["train", "--data", "xor", "--layers", "3", "--epochs", "2",
                 "--out", model, "--no-plot", "-q"]) == 0
    capsys.readouterr()
    assert main(["explain", "--model", model, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)

    from scratchnn import cli_data

    net = Network.load(model)
    X_tr, y_tr, _, _ = cli_data.split(cli_data.load("xor"), 0.2, 0, True)
    x = net.scaler.transform(X_tr).astype(net.dtype)
    targets = np.eye(2, dtype=net.dtype)[y_tr]
    loss, grads = net.loss_and_gradients(x, targets)
    assert shown["loss"]["L"]["value"] == pytest.approx(loss, rel=1e-6)
    shown_grads = [stage[k]["value"] for stage in reversed(shown["backward"])
                   for k in ("dW", "db")]
    for mine, theirs in zip(shown_grads, grads):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["explain", "--step", "0"], "--step: must be >= 1, got 0"),
        (["explain", "--model", "m.npz", "--optimizer", "sgd"],
         "leave out --optimizer"),
    ],
)
def test_cli_usage_mistakes_exit_2(capsys, argv, message):
    try:
        status = main(argv)
    except SystemExit as exit:  # argparse's own usage errors
        status = exit.code
    assert status == 2
    assert message in capsys.readouterr().err
