"""Step-by-step agreement with PyTorch: same weights, same batches, same loss.

scratchnn and PyTorch train the same float64 network from the same initial
weights on the same fixed batches, and the loss of each of 100 steps must
agree to 1e-9 relative. Runs only where torch is installed (the benchmark's
environment, `make bench`); bench/run.py also runs `largest_differences`.
"""
import numpy as np
import pytest

from scratchnn import SGD, Adam, Dense, Network

torch = pytest.importorskip("torch")

STEPS = 100
RTOL = 1e-9
N_FEATURES, HIDDEN, N_OUTPUTS = 6, (8, 5), 3
BATCH = 16

OPTIMIZERS = ("momentum", "nesterov", "adam")
ACTIVATIONS = ("sigmoid", "tanh", "relu")
LOSSES = ("softmax_crossentropy", "mse")


def _batches(loss: str, seed: int = 0) -> list:
    """STEPS fixed (inputs, targets) pairs; class codes for cross-entropy.

    The targets follow from the inputs through a fixed random map, so the
    networks have something to learn.
    """
    rng = np.random.default_rng(seed)
    teacher = rng.normal(size=(N_FEATURES, N_OUTPUTS))
    batches = []
    for _ in range(STEPS):
        x = rng.normal(size=(BATCH, N_FEATURES))
        if loss == "mse":
            y = np.tanh(x @ teacher)  # (BATCH, N_OUTPUTS)
        else:
            y = np.argmax(x @ teacher, axis=1)  # (BATCH,)
        batches.append((x, y))
    return batches


def _scratchnn_network(optimizer: str, activation: str, loss: str):
    if optimizer == "adam":
        opt = Adam(lr=0.01)
    else:
        opt = SGD(lr=0.05, momentum=0.9, nesterov=optimizer == "nesterov")
    if loss == "mse":
        output, name = Dense(N_OUTPUTS, "identity"), "mse"
    else:
        output, name = Dense(N_OUTPUTS, "softmax"), "categorical_crossentropy"
    hidden = [Dense(units, activation) for units in HIDDEN]
    net = Network(hidden + [output], loss=name, optimizer=opt, dtype="float64")
    return net.build(N_FEATURES, seed=0)


def _torch_copy(net: Network, optimizer: str, activation: str):
    """The same network in PyTorch, with scratchnn's built weights."""
    modules = []
    for i, layer in enumerate(net.layers):
        linear = torch.nn.Linear(layer.n_in, layer.units, dtype=torch.float64)
        with torch.no_grad():
            # scratchnn's W is (n_in, n_out); torch keeps (out, in).
            linear.weight.copy_(torch.from_numpy(layer.params["W"].T))
            linear.bias.copy_(torch.from_numpy(layer.params["b"]))
        modules.append(linear)
        if i < len(net.layers) - 1:
            modules.append(_TORCH_ACTIVATIONS[activation]())
    model = torch.nn.Sequential(*modules)

    params = model.parameters()
    if optimizer == "adam":
        opt = torch.optim.Adam(params, lr=0.01)
    else:
        nesterov = optimizer == "nesterov"
        opt = torch.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=nesterov)
    return model, opt


_TORCH_ACTIVATIONS = {
    "sigmoid": torch.nn.Sigmoid,
    "tanh": torch.nn.Tanh,
    "relu": torch.nn.ReLU,
}


def _train_side_by_side(optimizer: str, activation: str, loss: str):
    """Train both on the same batches; return the two networks and losses.

    Each step's loss is the one computed before that step's update, on
    the same batch in both libraries.
    """
    net = _scratchnn_network(optimizer, activation, loss)
    model, opt = _torch_copy(net, optimizer, activation)
    if loss == "mse":
        criterion = torch.nn.MSELoss(reduction="mean")
    else:
        # Takes the logits: the softmax is inside, as scratchnn fuses it.
        criterion = torch.nn.CrossEntropyLoss(reduction="mean")

    ours, theirs = [], []
    for x, y in _batches(loss):
        if loss == "mse":
            targets = y
        else:
            targets = np.eye(N_OUTPUTS)[y]  # (BATCH, N_OUTPUTS) one-hot
        ours.append(net.train_step(x, targets))

        opt.zero_grad()
        step_loss = criterion(model(torch.from_numpy(x)), torch.from_numpy(y))
        step_loss.backward()
        opt.step()
        theirs.append(step_loss.item())
    return net, model, np.array(ours), np.array(theirs)


def loss_curves(optimizer: str, activation: str, loss: str) -> tuple:
    """The per-step losses of scratchnn and of PyTorch, as two arrays."""
    _, _, ours, theirs = _train_side_by_side(optimizer, activation, loss)
    return ours, theirs


def largest_differences() -> dict:
    """The largest relative loss difference of each case, by case name."""
    found = {}
    for optimizer in OPTIMIZERS:
        for activation in ACTIVATIONS:
            for loss in LOSSES:
                ours, theirs = loss_curves(optimizer, activation, loss)
                gap = np.abs(ours - theirs) / np.abs(theirs)
                found[f"{optimizer}-{activation}-{loss}"] = float(gap.max())
    return found


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_losses_match_pytorch_step_by_step(optimizer, activation, loss):
    ours, theirs = loss_curves(optimizer, activation, loss)

    # The run must really learn, or agreeing would prove little.
    assert np.all(np.isfinite(theirs))
    assert theirs[-10:].mean() < theirs[:10].mean()
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=0)


def test_weights_match_pytorch_after_training():
    # Equal losses could hide a layer that stopped learning; compare the
    # parameters themselves after all 100 steps of one case.
    net, model, _, _ = _train_side_by_side(
        "adam", "tanh", "softmax_crossentropy"
    )

    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    assert len(linears) == len(net.layers)
    for layer, linear in zip(net.layers, linears, strict=True):
        W = linear.weight.detach().numpy().T  # back to (n_in, n_out)
        b = linear.bias.detach().numpy()
        np.testing.assert_allclose(layer.params["W"], W, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(layer.params["b"], b, rtol=1e-9, atol=1e-12)
