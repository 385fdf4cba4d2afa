"""The playground's settings: defaults, bounds, and the checks a request's
JSON passes before it reaches the library (see `validate_config`)."""
import math

import numpy as np

from .. import data
from ..activations import ACTIVATIONS

# ----------------------------------------------------------------------
# Bounds (each one a 4xx with its number in the message)
# ----------------------------------------------------------------------
MAX_LAYERS = 6  # hidden layers
MAX_UNITS = 32  # units per hidden layer
MIN_POINTS = 20
MAX_POINTS = 2000
MAX_NOISE = 2.0
MAX_SEED = 2**32 - 1
MAX_LR = 10.0
HIDDEN_ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "identity")
DATASETS = ("xor", "circles", "moons", "spirals", "gaussians")
LOSSES = ("auto", "binary_crossentropy", "categorical_crossentropy")
OPTIMIZERS = ("sgd", "adam")

DEFAULTS = {
    "dataset": "xor",
    "points": 200,
    "noise": None,  # None: the generator's own default
    "test_ratio": 0.3,
    "seed": 0,
    "layers": [{"units": 8, "activation": "tanh"},
               {"units": 8, "activation": "tanh"}],
    "loss": "auto",
    "optimizer": "adam",
    "lr": 0.03,
    "batch_size": 16,
}


class ConfigError(ValueError):
    """A setting the playground refuses; its text goes back as a 400."""


def validate_config(given, base: dict | None = None,
                    uploaded: bool = False) -> dict:
    """Check a JSON object of settings and return the full, merged config.

    Parameters
    ----------
    given : object
        The request's JSON; must be an object whose keys are among
        `DEFAULTS`. Missing keys keep their value in `base`.
    base : dict or None, default=None
        The session's current config; None starts from `DEFAULTS`.
    uploaded : bool, default=False
        Whether the session holds uploaded data, which makes "upload" a
        valid dataset; its points are the upload's rows (see upload.py).

    Raises
    ------
    ConfigError
        Naming the field, the rule and the value.
    """
    if not isinstance(given, dict):
        raise ConfigError(
            f"the body must be a JSON object of settings, got "
            f"{type(given).__name__}"
        )
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ConfigError(
            f"unknown field(s) {', '.join(map(repr, unknown))}; known: "
            f"{', '.join(DEFAULTS)}"
        )
    config = dict(DEFAULTS if base is None else base)
    config.update(given)

    checked = {
        "dataset": _choice(config["dataset"], "dataset",
                           DATASETS + ("upload",) if uploaded else DATASETS),
        "points": _integer(config["points"], "points", MIN_POINTS, MAX_POINTS),
        "noise": None,
        "test_ratio": _number(config["test_ratio"], "test_ratio", 0.05, 0.9),
        "seed": _integer(config["seed"], "seed", 0, MAX_SEED),
        "layers": _layers(config["layers"]),
        "loss": _choice(config["loss"], "loss", LOSSES),
        "optimizer": _choice(config["optimizer"], "optimizer", OPTIMIZERS),
        "lr": _number(config["lr"], "lr", 0.0, MAX_LR, low_open=True),
        "batch_size": None,
    }
    if config["noise"] is not None:
        checked["noise"] = _number(config["noise"], "noise", 0.0, MAX_NOISE)
    if config["batch_size"] is not None:
        checked["batch_size"] = _integer(
            config["batch_size"], "batch_size", 1, MAX_POINTS
        )
    binary = checked["loss"] == "binary_crossentropy"
    if checked["dataset"] == "spirals" and binary:
        raise ConfigError(
            "loss 'binary_crossentropy' needs 2 classes, but spirals has 3; "
            "use 'categorical_crossentropy' or 'auto'"
        )
    return checked


def make_dataset(config: dict) -> tuple[np.ndarray, np.ndarray]:
    """The points and labels `config` names, made by scratchnn.data."""
    name, n, seed = config["dataset"], config["points"], config["seed"]
    noise = {} if config["noise"] is None else {"noise": config["noise"]}
    if name == "gaussians":
        return make_gaussians(n, seed=seed, **noise)
    makers = {
        "xor": data.make_xor,
        "circles": data.make_circles,
        "moons": data.make_moons,
        "spirals": data.make_spirals,
    }
    return makers[name](n, seed=seed, **noise)


def make_gaussians(
    n_samples: int = 200, noise: float = 0.5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian blobs centred at (-1, -1) (class 0) and (1, 1) (class 1).

    `noise` is each blob's standard deviation; the classes differ in size
    by at most one point, and rows are shuffled.
    """
    rng = np.random.default_rng(seed)
    n1 = n_samples // 2
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n_samples - n1, n1])
    centres = np.where(y[:, None] == 1, 1.0, -1.0)  # (n_samples, 2)
    X = centres + rng.normal(0.0, noise, size=(n_samples, 2))

    order = rng.permutation(n_samples)
    return X[order], y[order]


def _choice(value, name: str, choices: tuple) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(
            f"{name} must be one of {', '.join(choices)}; got {value!r:.40}"
        )
    return value


def _integer(value, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(
            f"{name} must be an integer, got {value!r:.40} "
            f"({type(value).__name__})"
        )
    if not low <= value <= high:
        raise ConfigError(
            f"{name} must be in [{low}, {high}], got {str(value):.40}"
        )
    return value


def _number(value, name: str, low: float, high: float,
            low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(
            f"{name} must be a number, got {value!r:.40} "
            f"({type(value).__name__})"
        )
    value = float(value)
    too_low = value <= low if low_open else value < low
    if not math.isfinite(value) or too_low or value > high:
        side = "(" if low_open else "["
        raise ConfigError(
            f"{name} must be in {side}{low}, {high}], got {value!r:.40}"
        )
    return value


def _layers(value) -> list[dict]:
    if not isinstance(value, list):
        raise ConfigError(
            f"layers must be a list of {{\"units\", \"activation\"}} "
            f"objects, got {type(value).__name__}"
        )
    if len(value) > MAX_LAYERS:
        raise ConfigError(
            f"layers may hold at most {MAX_LAYERS} hidden layers, "
            f"got {len(value)}"
        )
    layers = []
    for i, layer in enumerate(value):
        if not isinstance(layer, dict) or set(layer) - {"units", "activation"}:
            raise ConfigError(
                f"layers[{i}] must be an object with keys units and "
                f"activation only, got {layer!r:.60}"
            )
        units = _integer(
            layer.get("units"), f"layers[{i}].units", 1, MAX_UNITS
        )
        activation = _choice(
            layer.get("activation", "relu"), f"layers[{i}].activation",
            HIDDEN_ACTIVATIONS,
        )
        assert activation in ACTIVATIONS
        layers.append({"units": units, "activation": activation})
    return layers
