"""Python export: a trained network as one readable file that needs NumPy only.

The file holds the weights as array literals, the input standardisation,
the class labels, the activations written out as functions, and `predict`
computing z = a W + b, a = σ(z) layer by layer with the same NumPy
operations, in the same order and dtype, as `Network.predict`.
"""
import logging
import os
import textwrap

import numpy as np

from .activations import ACTIVATIONS
from .atomic import atomic_write, check_destination
from .errors import ModelFileError
from .network import Network
from .onnx_export import _check_exportable, _os_reason

logger = logging.getLogger(__name__)

# Above this many weights and biases the file is no longer readable, and
# Python is slow to compile it: at 1 million float32 parameters it is
# about 14 MB of source, which takes ~4 s and ~1 GB of memory to compile
# (measured with Python 3.11) each time it is run as a script; `import`
# caches the compiled form after the first time.
MAX_PARAMETERS = 1_000_000

# Lines of the generated file end by this column where a number allows.
_WIDTH = 79

# Each activation as the generated file defines it: the same formulas as
# `activations.py`, so that results agree bit for bit. Identity needs no
# function (a = z is written inline).
_FUNCTIONS = {
    "sigmoid": '''\
def sigmoid(z):
    """1 / (1 + exp(-z)), never overflowing.

    With e = exp(-|z|) <= 1: 1 / (1 + e) where z >= 0, e / (1 + e)
    elsewhere. exp(-|z|) may underflow to 0, which is the exact limit.
    """
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
''',
    "tanh": '''\
def tanh(z):
    """(exp(z) - exp(-z)) / (exp(z) + exp(-z))."""
    return np.tanh(z)
''',
    "relu": '''\
def relu(z):
    """max(z, 0), element-wise."""
    # Against an array of zeros, as scratchnn computes it.
    return np.maximum(z, np.zeros_like(z))
''',
    "leaky_relu": '''\
def leaky_relu(z, slope):
    """z where z > 0, slope * z elsewhere."""
    return np.where(z > 0, z, slope * z)
''',
    "softmax": '''\
def softmax(z):
    """exp(z_j) / sum_k exp(z_k) over each row, never overflowing.

    The row maximum is subtracted first: softmax is unchanged by a shift,
    and then no exponent is positive.
    """
    shifted = z - z.max(axis=1, keepdims=True)
    with np.errstate(under="ignore"):
        e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)
''',
}

# How the generated file reads its input; @CAST@ becomes one of the two
# ways below, as the network standardises or not.
_INPUTS = '''\
def _inputs(X):
    """X as the first layer takes it: checked, standardised and cast."""
    x = np.asarray(X)
    if x.ndim != 2 or x.shape[1] != N_FEATURES:
        raise ValueError(
            f"X must have shape (n_samples, {N_FEATURES}), got {x.shape}"
        )
@CAST@
    with np.errstate(over="ignore"):
        x = x.astype(DTYPE)
    if not np.isfinite(x).all():
        raise ValueError(
            "X holds NaN or inf, or values too large for " + DTYPE.__name__
        )
    return x
'''
_STANDARDISE = """\
    # Standardise in float64, then round to DTYPE, as scratchnn does.
    x = (x.astype(np.float64) - MEAN) / SCALE"""
_CAST = """\
    # scratchnn reads float32 as it is and other numbers as float64.
    if x.dtype != np.float32:
        x = x.astype(np.float64)"""

# The generated file run as a script; @PRINT@ prints the predictions.
_MAIN = '''\
if __name__ == "__main__":
    # python model.py X.npy (or X.csv: a header row, then the features)
    if len(sys.argv) != 2:
        sys.exit(f"usage: python {sys.argv[0]} X.npy|X.csv")
    if sys.argv[1].endswith(".npy"):
        X = np.load(sys.argv[1], allow_pickle=False)
    else:
        X = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, ndmin=2)
@PRINT@
'''
_PRINT_LABELS = """\
    for label in predict(X):
        print(label)"""
# repr gives every digit, so the printed values read back exactly.
_PRINT_VALUES = """\
    for row in predict(X):
        print(",".join(repr(float(v)) for v in row))"""


def to_python_source(network: Network) -> str:
    """The Python source of a standalone module that predicts like `network`.

    Parameters
    ----------
    network : Network
        A network that has been fitted (or loaded), of at most
        `MAX_PARAMETERS` weights and biases.

    Returns
    -------
    str
        A module that imports only NumPy. It defines `predict(X)`
        (labels for a classifier, values of shape (n_samples, n_outputs)
        for regression), `predict_proba(X)` for classifiers, `logits(X)`
        (the output layer's z), the weights `W0`, `b0`, ..., `CLASSES`,
        and `MEAN` and `SCALE` when the network standardises its inputs.
        Run as a script, ``python model.py X.npy`` prints one prediction
        per line.

    Raises
    ------
    TypeError
        If `network` is not a Network.
    NotFittedError
        If the network is not trained, or lacks the class labels or input
        scaling its predictions need.
    NotImplementedError
        If a layer uses an activation of the caller's own.
    ValueError
        If the network has more than `MAX_PARAMETERS` parameters, or a
        weight is NaN or inf.

    Notes
    -----
    The predictions equal `Network.predict`'s: labels exactly, and
    probabilities and values bit for bit, since the file repeats its
    operations (standardise in float64, cast to the network's dtype, then
    per layer ``a @ W + b`` and the same activation formulas). Each
    number is written as the shortest literal that reads back as the
    same float32 or float64, so the weights are exact too. One caveat:
    the matrix products are NumPy's, so a different NumPy or BLAS build
    (or thread count) on another machine may round them differently, as
    it would for scratchnn itself.

    The same network always gives the same text; nothing in it depends on
    the time or the machine.
    """
    _check_python_exportable(network)
    header = _docstring(network) + "\n\nimport sys\n\nimport numpy as np"
    parts = [
        header,
        _constants(network),
        *_activation_functions(network),
        _INPUTS.replace(
            "@CAST@", _STANDARDISE if network.scaler is not None else _CAST
        ),
        _logits_function(network),
        *_predict_functions(network),
        _MAIN.replace(
            "@PRINT@",
            _PRINT_LABELS if network.is_classifier else _PRINT_VALUES,
        ),
    ]
    # Two blank lines between top-level parts, as PEP 8 has it.
    return "\n\n\n".join(part.rstrip("\n") for part in parts) + "\n"


def export_python(network: Network, path) -> None:
    """Write a trained network as a standalone Python file, atomically.

    Parameters
    ----------
    network : Network
        A network that has been fitted (or loaded).
    path : str or os.PathLike
        Where to write, used exactly as given (".py" is the usual end).

    Raises
    ------
    TypeError, NotFittedError, NotImplementedError, ValueError
        As `to_python_source`; nothing is written.
    ModelFileError
        If the file cannot be written (missing folder, no permission,
        disk full); an existing file at `path` is then left as it was.

    Notes
    -----
    What the file holds and computes is described in `to_python_source`.
    The source is made before the file is touched, then written through
    `atomic.atomic_write`, so a failure never leaves half a file.
    """
    source = to_python_source(network)

    path = os.fspath(path)
    check_destination(path, "Python file", "model.py")
    try:
        with atomic_write(path, mode="w") as fh:
            fh.write(source)
    except OSError as err:
        raise ModelFileError(
            f"cannot write Python file {path!r}: {_os_reason(err)}; choose "
            f"a writable folder with free space"
        ) from err
    logger.debug("exported Python module to %s (%d characters)", path,
                 len(source))


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------

def _check_python_exportable(network) -> None:
    """Refuse what the file cannot compute exactly, or is too large to read."""
    if not isinstance(network, Network):
        raise TypeError(
            f"network must be a scratchnn Network, got "
            f"{type(network).__name__}"
        )
    # By class, not by name: a subclass of ours may compute anything.
    for i, layer in enumerate(network.layers):
        activation = layer.activation
        if type(activation) is not ACTIVATIONS.get(activation.name):
            valid = ", ".join(sorted(ACTIVATIONS))
            raise NotImplementedError(
                f"cannot export layer {i} as Python: its activation "
                f"{type(activation).__name__} (name {activation.name!r}) is "
                f"not one of scratchnn's own ({valid}), so there is no "
                f"formula to write for it"
            )
    # Fitted, with its labels and scaling, and activation settings valid.
    _check_exportable(network)

    n_params = sum(p.size for p in network.parameters())
    if n_params > MAX_PARAMETERS:
        raise ValueError(
            f"cannot export this network as Python: it has {n_params:,} "
            f"parameters, more than the {MAX_PARAMETERS:,} that still make "
            f"a readable file Python compiles quickly; export it as ONNX "
            f"(--format onnx) or use the .npz model file with scratchnn"
        )
    for name, value, dtype in _written_arrays(network):
        if value.dtype != dtype:
            raise ValueError(
                f"cannot export: {name} has dtype {value.dtype}, not "
                f"{dtype}; cast it with astype({dtype.name!r})"
            )
        if not np.isfinite(value).all():
            raise ValueError(
                f"cannot export: {name} holds NaN or inf, so the network "
                f"has diverged; retrain it, e.g. with a smaller lr"
            )


def _written_arrays(network):
    """(name, array, dtype the file writes it in) for each float array."""
    for i, layer in enumerate(network.layers):
        for key, value in layer.params.items():
            yield f"layer {i}'s {key}", value, network.dtype
    if network.scaler is not None:
        float64 = np.dtype(np.float64)
        yield "the scaler's mean", network.scaler.mean_, float64
        yield "the scaler's scale", network.scaler.scale_, float64


# ---------------------------------------------------------------------------
# Literals
# ---------------------------------------------------------------------------

def _float_literals(values: np.ndarray, shortest=str) -> list[str]:
    """Each float as the shortest literal that reads back bit for bit.

    `shortest(x)` gives the text to try first for a float32 x (NumPy's
    str: the fewest digits that identify it among float32s).
    """
    flat = np.ravel(values)
    if flat.dtype == np.float64:
        # repr is the shortest text that float() turns back into x.
        return [repr(v) for v in flat.tolist()]

    # The generated file reads the float32's text as a Python float
    # (float64) and np.array rounds that to float32: a second rounding.
    # It has given every value back so far (all float16s, a million
    # random float32s), but each is checked; one that fails, or text
    # that Python would read as an int ("-0" loses its sign), is written
    # as its float64 value instead, which float32 holds exactly.
    text = [shortest(v) for v in flat]
    back = np.array([float(t) for t in text], dtype=flat.dtype)
    bits = f"u{flat.dtype.itemsize}"
    wrong = back.view(bits) != flat.view(bits)
    for i, t in enumerate(text):
        if wrong[i] or not any(c in t for c in ".eE"):
            text[i] = repr(float(flat[i]))
    return text


def _label_literals(classes: np.ndarray) -> list[str]:
    """The class labels as Python literals (str, int, float or bool)."""
    if classes.dtype.kind == "f":
        return _float_literals(classes)
    return [repr(v) for v in classes.tolist()]


def _dtype_text(dtype: np.dtype) -> str:
    """How the file names a dtype: "int64", or "<U5" where a name loses it."""
    try:
        if np.dtype(dtype.name) == dtype:
            return dtype.name
    except TypeError:
        pass  # a string dtype's name ("str160") is not a dtype NumPy reads
    return dtype.str


def _wrapped(items: list, first: str, indent: str, end: str) -> list:
    """`items` comma-separated on lines that end by column _WIDTH.

    The first line starts with `first`, the others with `indent`, and the
    last item is followed by `end` instead of a comma.
    """
    pieces = [f"{item}," for item in items[:-1]] + [items[-1] + end]
    lines = []
    line, empty = first, True
    for piece in pieces:
        if not empty and len(line) + 1 + len(piece) > _WIDTH:
            lines.append(line)
            line, empty = indent, True
        line += piece if empty else " " + piece
        empty = False
    lines.append(line)
    return lines


def _array(name: str, values: np.ndarray, literals: list, dtype: str) -> str:
    """`name = np.array([...], dtype=...)`, a row per line for a matrix."""
    tail = f"], dtype={dtype})"
    if values.ndim == 1:
        one_line = f"{name} = np.array([{', '.join(literals)}{tail}"
        if len(one_line) <= _WIDTH:
            return one_line
        body = _wrapped(literals, "    ", "    ", ",")
        return "\n".join([f"{name} = np.array([", *body, tail])

    n_cols = values.shape[1]
    lines = [f"{name} = np.array(["]
    for r in range(values.shape[0]):
        row = literals[r * n_cols:(r + 1) * n_cols]
        lines += _wrapped(row, "    [", "     ", "],")
    lines.append(tail)
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# The parts of the file
# ---------------------------------------------------------------------------

def _activation_name(layer) -> str:
    activation = layer.activation
    if activation.name == "leaky_relu":
        return f"leaky_relu(slope={activation.slope!r})"
    return activation.name


def _docstring(network) -> str:
    from . import __version__

    n_in = network.n_features_in_
    widths = " -> ".join(
        f"{layer.units} {_activation_name(layer)}"
        + ("" if layer.use_bias else " (no bias)")
        for layer in network.layers
    )
    n_params = sum(p.size for p in network.parameters())
    architecture = (
        f"Architecture: {n_in} inputs -> {widths} ({n_params} parameters, "
        f"computed in {network.dtype.name})."
    )
    lines = [
        '"""A trained scratchnn network as plain NumPy code.',
        "",
        *textwrap.wrap(architecture, _WIDTH, break_on_hyphens=False),
        "Each layer computes z = a W + b, then a = activation(z).",
    ]
    if network.scaler is not None:
        lines.append(
            "Inputs are standardised first: (x - MEAN) / SCALE, per feature."
        )
    if network.is_classifier:
        classes = network.encoder.classes_
        shown = ", ".join(_label_literals(classes[:20]))
        more = ", ..." if len(classes) > 20 else ""
        lines += [
            f"Task: classification into {len(classes)} classes "
            f"(CLASSES): {shown}{more}.",
            "",
            "    labels = predict(X)        # X: (n_samples, "
            f"{n_in}) numbers",
            "    p = predict_proba(X)       # (n_samples, "
            f"{len(classes)}), columns in CLASSES order",
        ]
    else:
        lines += [
            f"Task: regression with {network.n_outputs} output(s).",
            "",
            f"    values = predict(X)        # X: (n_samples, {n_in}); "
            f"values: (n_samples, {network.n_outputs})",
        ]
    lines += [
        "",
        "Import this file as a module, or run it: `python model.py X.npy`",
        "(or X.csv: a header row, then the features in training order)",
        "prints one prediction per line. It needs only NumPy; with the same",
        "NumPy on the same machine its results equal scratchnn's",
        "Network.predict and predict_proba bit for bit.",
        "",
        f"Written by scratchnn {__version__} (scratchnn export --format "
        f"python).",
        '"""',
    ]
    return "\n".join(lines)


def _constants(network) -> str:
    n_in = network.n_features_in_
    blocks = [
        "# The dtype every layer computes in, and the number of input "
        "columns.\n"
        f"DTYPE = np.{network.dtype.name}\n"
        f"N_FEATURES = {n_in}"
    ]

    scaler = network.scaler
    if scaler is not None:
        blocks.append(
            "# Standardisation learned from the training data: each "
            "feature's mean\n# and standard deviation, in float64.\n"
            + _array("MEAN", scaler.mean_, _float_literals(scaler.mean_),
                     "np.float64")
            + "\n"
            + _array("SCALE", scaler.scale_, _float_literals(scaler.scale_),
                     "np.float64")
        )

    if network.is_classifier:
        classes = network.encoder.classes_
        literal = _array("CLASSES", classes, _label_literals(classes),
                         repr(_dtype_text(classes.dtype)))
        blocks.append(
            "# The class labels, in the order of predict_proba's columns.\n"
            + literal
        )

    for i, layer in enumerate(network.layers):
        W = layer.params["W"]
        bias = (
            f"b{i} one entry per unit" if layer.use_bias else "no bias"
        )
        comment = (
            f"# Layer {i}: {W.shape[0]} inputs -> {W.shape[1]} units, "
            f"{_activation_name(layer)}. W{i} has one row per input and one "
            f"column per unit; {bias}."
        )
        text = [
            textwrap.fill(comment, _WIDTH, subsequent_indent="# ",
                          break_on_hyphens=False),
            _array(f"W{i}", W, _float_literals(W), "DTYPE"),
        ]
        if layer.use_bias:
            b = layer.params["b"]
            text.append(_array(f"b{i}", b, _float_literals(b), "DTYPE"))
        blocks.append("\n".join(text))
    return "\n\n".join(blocks)


def _activation_functions(network) -> list[str]:
    """The functions of the activations the network uses, in a fixed order."""
    used = {layer.activation.name for layer in network.layers}
    return [code for name, code in _FUNCTIONS.items() if name in used]


def _logits_function(network) -> str:
    last = len(network.layers) - 1
    lines = [
        "def logits(X):",
        '    """The output layer\'s z for X, computed layer by layer."""',
        f"    a = _inputs(X)  # (n_samples, {network.n_features_in_})",
    ]
    for i, layer in enumerate(network.layers):
        product = f"a @ W{i}" + (f" + b{i}" if layer.use_bias else "")
        name = layer.activation.name
        lines.append("")
        if i == last:
            lines.append(
                f"    # Layer {i} (output): z = {product.replace(' @', '')}; "
                f"the caller applies {name}"
            )
            lines.append(f"    return {product}  # (n_samples, {layer.units})")
            break
        equation = _call(layer, f"a W{i}" + (f" + b{i}" if layer.use_bias
                                             else ""))
        lines.append(f"    # Layer {i}: a = {equation}")
        lines.append(f"    z = {product}  # (n_samples, {layer.units})")
        lines.append(f"    a = {_call(layer, 'z')}")
    return "\n".join(lines)


def _call(layer, z: str) -> str:
    """The expression that applies a layer's activation to `z`."""
    activation = layer.activation
    if activation.name == "identity":
        return z
    if activation.name == "leaky_relu":
        return f"leaky_relu({z}, slope={activation.slope!r})"
    return f"{activation.name}({z})"


def _predict_functions(network) -> list[str]:
    out = network.layers[-1]
    if not network.is_classifier:
        return ["\n".join([
            "def predict(X):",
            f'    """Predicted values for X, (n_samples, {out.units})."""',
            "    z = logits(X)",
            f"    return {_call(out, 'z')}",
        ])]

    unwrap = ".astype(object)" if network.encoder.object_labels_ else ""
    if network.loss.name == "binary_crossentropy":
        proba = [
            "    # The output p = sigmoid(z) is P(CLASSES[1]); P(CLASSES[0]) "
            "= 1 - p.",
            "    p = sigmoid(logits(X))",
            "    return np.hstack([1.0 - p, p])",
        ]
        rule = [
            "    # sigmoid(z) >= 0.5 exactly where z >= 0.",
            "    index = (logits(X)[:, 0] >= 0).astype(np.int64)",
        ]
    else:
        proba = ["    return softmax(logits(X))"]
        rule = [
            "    # softmax keeps the order of z; a tie goes to the first "
            "class.",
            "    index = logits(X).argmax(axis=1)",
        ]
    n_classes = len(network.encoder.classes_)
    predict_proba = "\n".join([
        "def predict_proba(X):",
        f'    """Class probabilities for X, (n_samples, {n_classes}), in '
        'CLASSES order."""',
        *proba,
    ])
    predict = "\n".join([
        "def predict(X):",
        '    """The predicted class label of each row of X, (n_samples,)."""',
        *rule,
        f"    return CLASSES[index]{unwrap}",
    ])
    return [predict_proba, predict]
