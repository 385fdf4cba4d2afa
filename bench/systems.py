"""The systems compared: scratchnn, PyTorch (CPU) and scikit-learn.

Each system builds the same network, MLP 784-256-128-10 with ReLU hidden
layers and softmax cross-entropy in float32, and offers the same three
things to the worker, which does all the timing:

- `trainer(X, y, optimizer, batch_size)` returns `one_pass(rows)`, which
  trains one shuffled pass over the first `rows` rows of X;
- `predictor(X, y)` returns `predict(x)`, giving class labels for x;
- `tutorial_run(iterations)` trains the tutorial's 3-4-1 network (sigmoid,
  no biases, U[0, 1) weights, sum of squared errors, lr 1, full batch,
  float64) from new weights, returning its final loss.

scratchnn is used through its public API only (Network, Dense, SGD, Adam,
fit, predict). Each system's module is imported only by its own worker, so
the peak memory of a run holds no other library.
"""
import itertools

import numpy as np

HIDDEN = (256, 128)
N_CLASSES = 10
SGD_LR = 0.1
ADAM_LR = 0.001
SEED = 0
# Rows of the small fit that builds a network before predicting.
BUILD_ROWS = 1000

# The tutorial's four samples: y is the XOR of the first two inputs, and
# the constant third input stands in for a bias.
TUTORIAL_X = np.array(
    [[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64
)
TUTORIAL_Y = np.array([[0], [1], [1], [0]], dtype=np.float64)


def widths(n_features: int) -> tuple:
    """Layer widths of the MLP, input first: (784, 256, 128, 10)."""
    return (n_features, *HIDDEN, N_CLASSES)


# ----------------------------------------------------------------------
# scratchnn
# ----------------------------------------------------------------------
def _scratchnn_mlp(optimizer: str):
    from scratchnn import SGD, Adam, Dense, Network

    opt = SGD(lr=SGD_LR) if optimizer == "sgd" else Adam(lr=ADAM_LR)
    layers = [Dense(units, "relu") for units in HIDDEN]
    layers.append(Dense(N_CLASSES, "softmax"))
    return Network(layers, loss="categorical_crossentropy", optimizer=opt)


def scratchnn_trainer(X, y, optimizer: str, batch_size: int):
    net = _scratchnn_mlp(optimizer)

    def one_pass(rows):
        # warm_start builds the network on the first call only.
        net.fit(
            X[:rows], y[:rows], epochs=1, batch_size=batch_size,
            shuffle=True, seed=SEED, warm_start=True,
        )

    return one_pass


def scratchnn_predictor(X, y):
    net = _scratchnn_mlp("sgd")
    net.fit(X[:BUILD_ROWS], y[:BUILD_ROWS], epochs=1, seed=SEED)
    return net.predict


def scratchnn_tutorial(iterations: int) -> float:
    from scratchnn import SGD, Dense, Network

    net = Network(
        [Dense(4, "sigmoid", use_bias=False, init="uniform"),
         Dense(1, "sigmoid", use_bias=False, init="uniform")],
        loss="sse", optimizer=SGD(lr=1.0), dtype="float64",
    )
    history = net.fit(
        TUTORIAL_X, TUTORIAL_Y, epochs=iterations, batch_size=None,
        seed=SEED,
    )
    return history["loss"][-1]


# ----------------------------------------------------------------------
# PyTorch
# ----------------------------------------------------------------------
def _torch_mlp(n_features: int):
    import torch

    torch.manual_seed(SEED)
    sizes = widths(n_features)
    modules = []
    for n_in, n_out in itertools.pairwise(sizes):
        modules += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
    # No ReLU after the last layer: the loss takes the logits.
    return torch.nn.Sequential(*modules[:-1])


def torch_trainer(X, y, optimizer: str, batch_size: int, fused=False):
    """The usual eager loop: permute, gather, forward, backward, step.

    Like scratchnn's fit, it keeps the pass's mean loss (`loss.item()`).
    """
    import torch

    model = _torch_mlp(X.shape[1])
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=SGD_LR)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=ADAM_LR, fused=fused)
    criterion = torch.nn.CrossEntropyLoss()
    # Views of the NumPy arrays: no copy.
    inputs, labels = torch.from_numpy(X), torch.from_numpy(y)
    generator = torch.Generator().manual_seed(SEED)

    def one_pass(rows):
        order = torch.randperm(rows, generator=generator)
        total = 0.0
        for start in range(0, rows, batch_size):
            batch = order[start:start + batch_size]
            opt.zero_grad()
            loss = criterion(model(inputs[batch]), labels[batch])
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
        return total / rows

    return one_pass


def torch_fused_trainer(X, y, optimizer: str, batch_size: int):
    return torch_trainer(X, y, optimizer, batch_size, fused=True)


def torch_predictor(X, y):
    import torch

    model = _torch_mlp(X.shape[1]).eval()

    def predict(x):
        with torch.inference_mode():
            logits = model(torch.from_numpy(x))
        return logits.argmax(dim=1).numpy()

    return predict


def torch_tutorial(iterations: int) -> float:
    import torch

    X, y = torch.from_numpy(TUTORIAL_X), torch.from_numpy(TUTORIAL_Y)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 4, bias=False), torch.nn.Sigmoid(),
        torch.nn.Linear(4, 1, bias=False), torch.nn.Sigmoid(),
    ).double()
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(0.0, 1.0)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)

    # One loss per iteration is kept, as scratchnn's History does.
    losses = []
    for _ in range(iterations):
        opt.zero_grad()
        loss = ((model(X) - y) ** 2).sum()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses[-1]


# ----------------------------------------------------------------------
# scikit-learn
# ----------------------------------------------------------------------
def _sklearn_mlp(optimizer: str, batch_size: int):
    """MLPClassifier set to the same problem: no L2 term, no momentum."""
    from sklearn.neural_network import MLPClassifier

    if optimizer == "sgd":
        solver = {
            "solver": "sgd", "learning_rate_init": SGD_LR,
            "learning_rate": "constant", "momentum": 0.0,
            "nesterovs_momentum": False,
        }
    else:
        solver = {"solver": "adam", "learning_rate_init": ADAM_LR}
    return MLPClassifier(
        hidden_layer_sizes=HIDDEN, activation="relu", alpha=0.0,
        batch_size=batch_size, shuffle=True, random_state=SEED, **solver,
    )


def sklearn_trainer(X, y, optimizer: str, batch_size: int):
    """One `partial_fit` call is one shuffled pass of mini-batches."""
    clf = _sklearn_mlp(optimizer, batch_size)
    classes = np.arange(N_CLASSES)

    def one_pass(rows):
        clf.partial_fit(X[:rows], y[:rows], classes=classes)

    return one_pass


def sklearn_predictor(X, y):
    clf = _sklearn_mlp("sgd", 200)
    classes = np.arange(N_CLASSES)
    clf.partial_fit(X[:BUILD_ROWS], y[:BUILD_ROWS], classes=classes)
    return clf.predict


TRAINERS = {
    "scratchnn": scratchnn_trainer,
    "torch": torch_trainer,
    "torch_fused": torch_fused_trainer,
    "sklearn": sklearn_trainer,
}
PREDICTORS = {
    "scratchnn": scratchnn_predictor,
    "torch": torch_predictor,
    "sklearn": sklearn_predictor,
}
TUTORIALS = {"scratchnn": scratchnn_tutorial, "torch": torch_tutorial}

# The module each system's worker imports before its threads are set.
IMPORTS = {
    "scratchnn": "scratchnn",
    "torch": "torch",
    "torch_fused": "torch",
    "sklearn": "sklearn.neural_network",
}
