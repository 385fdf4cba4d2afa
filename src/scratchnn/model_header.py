"""The model file's JSON header: what it may hold, checked field by field.

The loader reads nothing but this header until it passes `check_header`;
`expected_arrays` then says which arrays, of which shapes and dtypes, the
described network needs, so the archive can be held to exactly that.
"""
import inspect
import math

import numpy as np

from .activations import ACTIVATIONS
from .errors import ModelFileError
from .initializers import INITIALIZERS
from .losses import CLASSIFICATION_LOSSES, LOSSES
from .optimizers import OPTIMIZERS

# Limits that keep a hostile header from making the loader allocate
# absurd amounts of memory; real models stay far below them.
_MAX_WIDTH = 10**8
MAX_LAYERS = 10_000
# The most bytes a model file may declare, inflated, all members together,
# unless the caller of load_model allows more: each member can expand about
# 1000 times, so a few MB of zeros could otherwise ask for gigabytes.
DEFAULT_MAX_BYTES = 2**30

_HEADER_KEYS = {
    "format",
    "format_version",
    "library_version",
    "config",
    "n_features",
    "task",
    "classes",
    "standardize",
    "history",
    "arrays",
}
_CONFIG_KEYS = {"layers", "loss", "optimizer", "dtype", "standardize"}
_LAYER_KEYS = {"units", "activation", "use_bias", "init"}
_DTYPES = {"float32": "<f4", "float64": "<f8"}

# How class labels are kept in JSON, and the array kind each comes back as.
_LABEL_KINDS = {
    "int": np.int64,
    "float": np.float64,
    "str": np.str_,
    "bool": np.bool_,
}


# ---------------------------------------------------------------------------
# Messages (persistence words its archive errors with these too)
# ---------------------------------------------------------------------------

def show(value, limit: int = 60) -> str:
    """repr of a value from the file, cut short: the file may be hostile."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _listed(names: list, limit: int = 5) -> str:
    shown = ", ".join(show(name, 30).strip("'") for name in names[:limit])
    return shown + (", ..." if len(names) > limit else "")


def damaged(path: str, detail: str) -> ModelFileError:
    return ModelFileError(f"model file {path!r} is damaged: {detail}")


def invalid(path: str, detail: str) -> ModelFileError:
    return ModelFileError(
        f"model file {path!r} has an invalid header: {detail}"
    )


# ---------------------------------------------------------------------------
# Field by field
# ---------------------------------------------------------------------------

def _is_int(value) -> bool:
    return type(value) is int


def _is_number(value) -> bool:
    return type(value) in (int, float)


def _is_finite(value) -> bool:
    # An int from JSON can be too large for a float, so isfinite raises.
    try:
        return _is_number(value) and math.isfinite(value)
    except OverflowError:
        return False


def _defaults(cls) -> dict:
    """Each constructor keyword argument with its default value."""
    parameters = inspect.signature(cls).parameters.values()
    return {p.name: p.default for p in parameters}


def _check_keys(
    mapping,
    where: str,
    required: set,
    path: str,
    optional: frozenset = frozenset(),
) -> None:
    if not isinstance(mapping, dict):
        raise invalid(
            path, f"{where} must be an object, got {type(mapping).__name__}"
        )
    missing = sorted(required - mapping.keys())
    if missing:
        raise invalid(path, f"{where} lacks {_listed(missing)}")
    unknown = sorted(mapping.keys() - required - optional)
    if unknown:
        raise invalid(path, f"{where} has unknown keys {_listed(unknown)}")


def _check_width(value, where: str, path: str) -> None:
    if not _is_int(value) or not 1 <= value <= _MAX_WIDTH:
        raise invalid(
            path,
            f"{where} must be an integer in [1, {_MAX_WIDTH}], got "
            f"{show(value)}",
        )


def _check_name(value, registry, what: str, where: str, path: str) -> None:
    if not isinstance(value, str) or value not in registry:
        valid = ", ".join(sorted(registry))
        raise invalid(
            path,
            f"{where} names an unknown {what} {show(value)}; this scratchnn "
            f"knows: {valid}",
        )


def check_header(header: dict, path: str) -> None:
    """Check every header field's type and range; raise on the first fault.

    Parameters
    ----------
    header : dict
        The parsed JSON header, whose format and version are already known
        to be readable.
    path : str
        The model file, named in the messages.

    Raises
    ------
    ModelFileError
        If a key is missing or unknown, or a value has the wrong type, is
        out of range, or disagrees with another (e.g. the task and loss).
    """
    optional = frozenset({"extra", "training"})
    _check_keys(header, "the header", _HEADER_KEYS, path, optional)
    if not isinstance(header["library_version"], str):
        raise invalid(path, "library_version must be a string")

    config = header["config"]
    _check_keys(config, "config", _CONFIG_KEYS, path)
    layers = config["layers"]
    if not isinstance(layers, list) or not 1 <= len(layers) <= MAX_LAYERS:
        raise invalid(
            path,
            f"config.layers must be a list of 1 to {MAX_LAYERS} layers",
        )
    for i, layer in enumerate(layers):
        where = f"config.layers[{i}]"
        _check_keys(layer, where, _LAYER_KEYS, path)
        _check_width(layer["units"], f"{where}.units", path)
        _check_activation(layer["activation"], where, path)
        _check_name(layer["init"], INITIALIZERS, "initializer", where, path)
        if not isinstance(layer["use_bias"], bool):
            raise invalid(path, f"{where}.use_bias must be true or false")
    _check_name(config["loss"], LOSSES, "loss", "config.loss", path)
    _check_optimizer(config["optimizer"], path)
    if not isinstance(config["dtype"], str) or config["dtype"] not in _DTYPES:
        raise invalid(
            path,
            f"config.dtype must be 'float32' or 'float64', got "
            f"{show(config['dtype'])}",
        )
    for where, value in (
        ("config.standardize", config["standardize"]),
        ("standardize", header["standardize"]),
    ):
        if not isinstance(value, bool):
            raise invalid(path, f"{where} must be true or false")
    if header["standardize"] != config["standardize"]:
        raise invalid(path, "standardize disagrees with config.standardize")

    _check_width(header["n_features"], "n_features", path)
    is_classifier = config["loss"] in CLASSIFICATION_LOSSES
    task = "classification" if is_classifier else "regression"
    if header["task"] != task:
        raise invalid(
            path,
            f"task is {show(header['task'])}, but loss {config['loss']!r} "
            f"makes it {task!r}",
        )
    if is_classifier:
        _check_classes(header["classes"], config, path)
    elif header["classes"] is not None:
        raise invalid(path, "a regression model must have classes null")

    _check_history(header["history"], path)
    _check_declared_arrays(header["arrays"], path)
    if not isinstance(header.get("extra", {}), dict):
        raise invalid(path, "extra must be an object")
    if "training" in header:
        _check_training(header["training"], path)


# What a checkpoint's "training" section holds; see checkpoint.py.
_TRAINING_KEYS = {"epoch", "optimizer_t", "rng_state", "arguments", "data_sha256"}
_RNG_KEYS = {"bit_generator", "state", "has_uint32", "uinteger"}


def _check_training(training, path: str) -> None:
    _check_keys(training, "training", _TRAINING_KEYS, path)
    for key in ("epoch", "optimizer_t"):
        if not _is_int(training[key]) or training[key] < 0:
            raise invalid(path, f"training.{key} must be an integer >= 0")
    rng = training["rng_state"]
    _check_keys(rng, "training.rng_state", _RNG_KEYS, path)
    if rng["bit_generator"] != "PCG64":
        raise invalid(
            path,
            f"training.rng_state.bit_generator must be 'PCG64', got "
            f"{show(rng['bit_generator'])}",
        )
    _check_keys(rng["state"], "training.rng_state.state", {"state", "inc"},
                path)
    words = [rng["state"]["state"], rng["state"]["inc"], rng["uinteger"]]
    if not all(_is_int(w) and 0 <= w < 2**128 for w in words):
        raise invalid(path, "training.rng_state holds a value that is not a "
                            "128-bit unsigned integer")
    if rng["has_uint32"] not in (0, 1):
        raise invalid(path, "training.rng_state.has_uint32 must be 0 or 1")
    if not isinstance(training["arguments"], dict):
        raise invalid(path, "training.arguments must be an object")
    digest = training["data_sha256"]
    if not (isinstance(digest, str) and len(digest) == 64
            and all(c in "0123456789abcdef" for c in digest)):
        raise invalid(path, "training.data_sha256 must be 64 hex digits")


def _check_activation(value, where: str, path: str) -> None:
    """A name, or a config dict with finite numeric settings."""
    if not isinstance(value, dict):
        _check_name(value, ACTIVATIONS, "activation", where, path)
        return
    where = f"{where}.activation"
    name = value.get("name")
    _check_name(name, ACTIVATIONS, "activation", where, path)

    # Settings left out take their defaults, as in get_activation.
    accepted = set(_defaults(ACTIVATIONS[name]))
    _check_keys(value, where, {"name"}, path, frozenset(accepted))
    for key in sorted(accepted & value.keys()):
        if not _is_finite(value[key]):
            raise invalid(
                path,
                f"{where}.{key} must be a finite number, got "
                f"{show(value[key])}",
            )


def _check_optimizer(config, path: str) -> None:
    if not isinstance(config, dict):
        raise invalid(path, "config.optimizer must be an object")
    name = config.get("name")
    _check_name(name, OPTIMIZERS, "optimizer", "config.optimizer", path)

    defaults = _defaults(OPTIMIZERS[name])
    _check_keys(config, "config.optimizer", {"name"} | defaults.keys(), path)
    # A switch (nesterov) is a bool; every other setting is a number, and
    # JSON true is not one.
    for key in sorted(defaults):
        value = config[key]
        where = f"config.optimizer.{key}"
        if isinstance(defaults[key], bool):
            if not isinstance(value, bool):
                detail = f"{where} must be true or false, got {show(value)}"
                raise invalid(path, detail)
        elif not _is_number(value):
            detail = f"{where} must be a number, got {show(value)}"
            raise invalid(path, detail)
        elif not _is_finite(value):
            detail = f"{where} must be a finite number, got {show(value)}"
            raise invalid(path, detail)


def class_labels(classes: dict) -> np.ndarray:
    """The saved class labels (a checked `classes` entry) as an array.

    String labels that were fitted as an object array ("as_object") come
    back as one, so the loaded network predicts the same kind of array.
    """
    labels = np.array(classes["values"], dtype=_LABEL_KINDS[classes["dtype"]])
    return labels.astype(object) if classes.get("as_object") else labels


def _check_classes(classes, config: dict, path: str) -> None:
    optional = frozenset({"as_object"})
    _check_keys(classes, "classes", {"dtype", "values"}, path, optional)
    kind, values = classes["dtype"], classes["values"]
    as_object = classes.get("as_object", False)
    if not isinstance(as_object, bool) or (as_object and kind != "str"):
        raise invalid(
            path,
            "classes.as_object must be true or false, and true only for "
            "str labels",
        )
    if not isinstance(kind, str) or kind not in _LABEL_KINDS:
        raise invalid(
            path,
            f"classes.dtype must be one of {', '.join(_LABEL_KINDS)}, got "
            f"{show(kind)}",
        )
    if not isinstance(values, list) or not 2 <= len(values) <= _MAX_WIDTH:
        raise invalid(path, "classes.values must list at least 2 labels")
    fits = {
        "int": _is_int,
        "float": _is_number,
        "str": lambda v: isinstance(v, str),
        "bool": lambda v: isinstance(v, bool),
    }[kind]
    if not all(fits(v) for v in values):
        raise invalid(path, f"classes.values must all be of kind {kind}")
    try:
        labels = class_labels(classes)
    except OverflowError:
        detail = "classes.values hold an integer beyond int64"
        raise invalid(path, detail) from None
    # JSON can spell NaN and Infinity; neither is a class label fit makes.
    if kind == "float" and not np.isfinite(labels).all():
        raise invalid(path, "classes.values hold NaN or inf")
    # The encoder finds codes by binary search, so order matters.
    if not (labels[1:] > labels[:-1]).all():
        raise invalid(path, "classes.values must be distinct and sorted")

    units = config["layers"][-1]["units"]
    if config["loss"] == "binary_crossentropy":
        if len(labels) != 2 or units != 1:
            raise invalid(
                path,
                f"binary_crossentropy needs 2 classes and 1 output unit, got "
                f"{len(labels)} classes and {units} units",
            )
    elif len(labels) != units:
        raise invalid(
            path,
            f"the output layer has {units} units but there are "
            f"{len(labels)} classes",
        )


def _check_history(history, path: str) -> None:
    if history is None:
        return
    if not isinstance(history, dict):
        raise invalid(path, "history must be an object or null")
    for key, values in history.items():
        fits = _is_int if key == "epochs" else _is_number
        if not isinstance(values, list) or not all(fits(v) for v in values):
            detail = f"history[{show(key)}] must be a list of numbers"
            raise invalid(path, detail)
        if not all(_is_finite(v) for v in values):
            detail = f"history[{show(key)}] holds NaN or inf"
            raise invalid(path, detail)
    problem = history_problem(history)
    if problem is not None:
        raise invalid(path, problem)


def history_problem(history: dict) -> str | None:
    """What makes a history's series disagree with its epochs, or None.

    Each epoch has a loss. Other series may cover fewer epochs (a warm
    start that adds validation records val_loss from then on), but not
    none of them, nor more than there are.
    """
    n_epochs = len(history.get("epochs", []))
    n_losses = len(history.get("loss", []))
    if n_epochs and n_losses != n_epochs:
        return f"history has {n_epochs} epochs but {n_losses} loss values"
    for key, values in history.items():
        if key == "epochs":
            continue
        if len(values) > n_epochs or (n_epochs and len(values) == 0):
            return (
                f"history[{show(key)}] has {len(values)} values for "
                f"{n_epochs} epochs"
            )
    return None


def _check_declared_arrays(arrays, path: str) -> None:
    if not isinstance(arrays, dict):
        raise invalid(path, "arrays must be an object")
    for name, entry in arrays.items():
        if (
            not isinstance(entry, list)
            or len(entry) != 2
            or not isinstance(entry[0], list)
            or not all(_is_int(n) and n >= 0 for n in entry[0])
            or not isinstance(entry[1], str)
        ):
            raise invalid(
                path,
                f"arrays[{show(name)}] must be [shape, dtype], got "
                f"{show(entry)}",
            )


# ---------------------------------------------------------------------------
# The arrays the header describes
# ---------------------------------------------------------------------------

def _declared(arrays: dict, name: str, path: str) -> tuple:
    if name not in arrays:
        raise damaged(path, f"the header does not list array {show(name)}")
    return tuple(arrays[name][0])


def expected_arrays(header: dict, path: str) -> dict[str, tuple]:
    """The arrays the described network needs, by name.

    Parameters
    ----------
    header : dict
        A header that passed `check_header`.
    path : str
        The model file, named in the messages.

    Returns
    -------
    dict
        Member name (e.g. "layer0.W") -> (shape, dtype str such as "<f4").

    Raises
    ------
    ModelFileError
        If the declared shapes do not chain (each weight must take the
        previous layer's width, or the input features for layer 0, to its
        units), or an array is missing, unused or of the wrong dtype.
    """
    declared = header["arrays"]
    config = header["config"]
    dtype = _DTYPES[config["dtype"]]
    n_features = header["n_features"]

    expected = {}
    width = n_features
    for i, layer in enumerate(config["layers"]):
        units = layer["units"]
        W = _declared(declared, f"layer{i}.W", path)
        if len(W) != 2:
            raise damaged(path, f"layer {i} weight {W} is not a matrix")
        if W[0] != width:
            source = (
                f"the {width} input features"
                if i == 0
                else f"the previous layer's width {width}"
            )
            raise damaged(
                path, f"layer {i} weight {W} does not match {source}"
            )
        if W[1] != units:
            raise damaged(
                path, f"layer {i} weight {W} does not match its {units} units"
            )
        expected[f"layer{i}.W"] = (W, dtype)

        if layer["use_bias"]:
            b = _declared(declared, f"layer{i}.b", path)
            if b != (units,):
                raise damaged(
                    path,
                    f"layer {i} bias {b} does not match its {units} units",
                )
            expected[f"layer{i}.b"] = (b, dtype)
        width = units

    # A standardising model must carry its scaling; others may, if one was
    # attached by hand, and then it is restored too.
    scaler = ("scaler.mean", "scaler.scale")
    if header["standardize"] or any(name in declared for name in scaler):
        for name in scaler:
            shape = _declared(declared, name, path)
            if shape != (n_features,):
                raise damaged(
                    path,
                    f"{name} {shape} does not match the {n_features} input "
                    f"features",
                )
            expected[name] = (shape, "<f8")

    if "training" in header:
        expected.update(_optimizer_arrays(header, expected, declared, path))

    for name in declared:
        if name not in expected:
            raise damaged(
                path,
                f"the header lists array {show(name)}, which this model does "
                f"not use",
            )
    for name, (_, kind) in expected.items():
        if declared[name][1] != kind:
            raise damaged(
                path,
                f"array {name!r} is declared as {show(declared[name][1])}, "
                f"but a {config['dtype']} model stores {kind!r}",
            )
    return expected


def _optimizer_arrays(header, params: dict, declared: dict, path) -> dict:
    """A checkpoint's optimizer arrays: one per parameter and state kind.

    Nothing before the first step; then Adam keeps m and v, SGD with
    momentum a velocity, each shaped like the parameter it belongs to.
    """
    config = header["config"]["optimizer"]
    if header["training"]["optimizer_t"] == 0:
        kinds = []
    elif config["name"] == "adam":
        kinds = ["m", "v"]
    elif config.get("momentum", 0.0) > 0:
        kinds = ["velocity"]
    else:
        kinds = []
    dtype = _DTYPES[header["config"]["dtype"]]
    shapes = [shape for name, (shape, _) in params.items()
              if name.startswith("layer")]

    expected = {}
    for kind in kinds:
        for i, shape in enumerate(shapes):
            name = f"optimizer.{kind}{i}"
            found = _declared(declared, name, path)
            if found != shape:
                raise damaged(
                    path,
                    f"{name} {found} does not match its parameter {shape}",
                )
            expected[name] = (shape, dtype)
    return expected
