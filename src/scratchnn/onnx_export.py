"""ONNX export: a trained network as a standard float32 ONNX graph.

Each Dense layer becomes Gemm (MatMul when it has no bias) and its
activation the matching ONNX operator; input standardisation becomes Sub
and Div in front. Operators as in the ONNX specification,
https://onnx.ai/onnx/operators/.
"""
import json
import logging
import os

import numpy as np

from .activations import ACTIVATIONS, is_builtin, settings_problem
from .atomic import atomic_write, check_destination
from .errors import ModelFileError
from .network import Network

logger = logging.getLogger(__name__)

DEFAULT_OPSET = 17
# Squeeze takes its axes as an input, and Softmax normalises one axis
# rather than a flattened block, from opset 13 on.
MIN_OPSET = 13

INPUT = "input"
BATCH = "batch"

# scratchnn's activations and the ONNX operators that compute the same.
# Identity needs no node: z is passed on as it is.
_OPERATORS = {
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "relu": "Relu",
    "leaky_relu": "LeakyRelu",
    "softmax": "Softmax",
}

_INSTALL_HINT = "pip install 'scratchnn[onnx]'"


def to_onnx(network: Network, opset: int = DEFAULT_OPSET) -> "onnx.ModelProto":
    """Build the ONNX model of a trained network, checked but not saved.

    Parameters
    ----------
    network : Network
        A network that has been fitted (or loaded).
    opset : int, default=17
        The ONNX operator set to target, from 13 to the newest the
        installed onnx package knows (runtimes may lag behind that).

    Returns
    -------
    onnx.ModelProto
        One float32 input, "input" of shape (batch, n_features), where
        the batch size is left open. A classifier has two outputs:
        "probabilities" (batch, n_classes) in `classes_` order, and
        "class_index" (batch,), int64, the predicted class as an index
        into the JSON list under the metadata key "classes". A regression
        network has one output, "values" (batch, n_outputs).

    Raises
    ------
    ImportError
        If the onnx package is not installed.
    TypeError
        If `network` is not a Network, or `opset` is not an int.
    ValueError
        If `opset` is out of range, a layer uses an activation of the
        caller's own (ONNX has no operator for it), or a weight or
        scaling statistic is NaN, inf or beyond float32's range.
    NotFittedError
        If the network is not trained, or lacks the class labels or input
        scaling its predictions need.

    Notes
    -----
    The graph computes in float32, whatever the network's dtype: a
    float64 network's weights are rounded to float32, so its exported
    outputs differ from `predict` by float32 rounding (about 1e-7
    relative). Standardisation happens inside the graph in float32 too,
    on inputs already rounded to float32: a feature whose mean is large
    next to its spread loses digits that scratchnn, scaling in float64,
    keeps.

    The metadata (``model.metadata_props``) holds, as strings: "task"
    ("classification" or "regression"), "loss", "n_features",
    "n_outputs" (the columns of "probabilities" or "values"),
    "standardized" ("true" or "false") and, for classifiers, "classes",
    the labels as a JSON list. Labels are kept out of the graph so that
    it has numeric outputs only, which every ONNX runtime can read.

    A binary classifier's "probabilities" has two columns, 1 - p and p,
    as `predict_proba` gives them, and its class is 1 where p >= 0.5,
    as in `predict`.

    The whole model is one protobuf message, so networks with more than
    2 GiB of weights cannot be exported (onnx raises ValueError).
    """
    onnx = _import_onnx()
    opset = _check_opset(opset, onnx)
    _check_exportable(network)

    graph = _GraphBuilder(onnx)
    x = INPUT
    if network.scaler is not None:
        x = _add_scaling(graph, network.scaler, x)
    for i, layer in enumerate(network.layers):
        x = _add_dense(graph, i, layer, x)
    outputs = _add_outputs(graph, network, x)

    model = _make_model(onnx, graph, network, outputs, opset)
    # full_check also runs shape inference, so a wrong shape in the
    # graph is caught here rather than by whoever loads the file.
    onnx.checker.check_model(model, full_check=True)
    return model


def export_onnx(network: Network, path, *, opset: int = DEFAULT_OPSET) -> None:
    """Write a trained network to an ONNX file, replacing it atomically.

    Parameters
    ----------
    network : Network
        A network that has been fitted (or loaded).
    path : str or os.PathLike
        Where to write, used exactly as given (".onnx" is the usual end).
    opset : int, default=17
        The ONNX operator set to target (see `to_onnx`).

    Raises
    ------
    ImportError, TypeError, ValueError, NotFittedError
        As `to_onnx`; nothing is written.
    ModelFileError
        If the file cannot be written (missing folder, no permission,
        disk full); an existing file at `path` is then left as it was.

    Notes
    -----
    The graph, its inputs and outputs, and the metadata are described in
    `to_onnx`. The model is built and checked before the file is touched,
    then written through `atomic.atomic_write`, so a failure never leaves
    a half-written file where a good one stood.
    """
    model = to_onnx(network, opset)
    data = model.SerializeToString()

    path = os.fspath(path)
    check_destination(path, "ONNX file", "model.onnx")
    try:
        with atomic_write(path) as fh:
            fh.write(data)
    except OSError as err:
        raise ModelFileError(
            f"cannot write ONNX file {path!r}: {_os_reason(err)}; choose a "
            f"writable folder with free space"
        ) from err
    logger.debug("exported ONNX model to %s (%d bytes)", path, len(data))


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------

def _import_onnx():
    """The onnx package, imported only now so scratchnn needs NumPy alone."""
    try:
        import onnx
        import onnx.checker
        import onnx.helper
        import onnx.numpy_helper
    except ImportError as err:
        raise ImportError(
            f"ONNX export needs the onnx package, which is not installed "
            f"({err}); {_INSTALL_HINT}"
        ) from None
    return onnx


def _check_opset(opset, onnx) -> int:
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)):
        raise TypeError(f"opset must be an int, got {opset!r}")
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(
            f"opset must be in [{MIN_OPSET}, {newest}] (the newest the "
            f"installed onnx {onnx.__version__} knows), got {opset}"
        )
    return int(opset)


def _check_exportable(network) -> None:
    """Refuse what has no ONNX form, with the same rules as saving."""
    if not isinstance(network, Network):
        raise TypeError(
            f"network must be a scratchnn Network, got "
            f"{type(network).__name__}"
        )
    network.check_complete("export")

    for i, layer in enumerate(network.layers):
        activation = layer.activation
        if not is_builtin(activation):
            valid = ", ".join(sorted(ACTIVATIONS))
            raise ValueError(
                f"cannot export layer {i}: its activation "
                f"{type(activation).__name__} (name {activation.name!r}) "
                f"is not one of scratchnn's own, so ONNX has no operator "
                f"for it; use one of: {valid}"
            )
        problem = settings_problem(activation)
        if problem:
            raise ValueError(f"cannot export layer {i}: {problem}")


def _float32(value: np.ndarray, name: str, hint: str) -> np.ndarray:
    """`value` in float32, or ValueError if that is not finite."""
    with np.errstate(over="ignore"):
        value32 = np.ascontiguousarray(value, dtype=np.float32)
    if not np.isfinite(value32).all():
        cause = "holds values beyond float32's range (about 3.4e38)"
        if not np.isfinite(value).all():
            cause = "holds NaN or inf"
        raise ValueError(f"cannot export: {name} {cause}; {hint}")
    return value32


def _os_reason(err: OSError) -> str:
    # Leave out the file name: for a failed write it is the temporary one.
    if err.errno is not None and err.strerror:
        return f"[Errno {err.errno}] {err.strerror}"
    return str(err) or type(err).__name__


# ---------------------------------------------------------------------------
# The graph
# ---------------------------------------------------------------------------

class _GraphBuilder:
    """Collects nodes and constant tensors in the order they are added."""

    def __init__(self, onnx):
        self.onnx = onnx
        self.nodes = []
        self.initializers = []

    def constant(self, name: str, value: np.ndarray) -> str:
        tensor = self.onnx.numpy_helper.from_array(value, name)
        self.initializers.append(tensor)
        return name

    def node(self, op: str, inputs: list, output: str, **attributes) -> str:
        node = self.onnx.helper.make_node(
            op, inputs, [output], name=output, **attributes
        )
        self.nodes.append(node)
        return output


def _add_scaling(graph: _GraphBuilder, scaler, x: str) -> str:
    """(x - mean) / scale, as `StandardScaler.transform` computes it."""
    # Div rather than Mul by 1/scale: the same rounding as scratchnn's.
    hint = "scale the features down before training"
    mean = _float32(scaler.mean_, "scaler.mean", hint)
    mean = graph.constant("scaler.mean", mean)
    scale = _float32(scaler.scale_, "scaler.scale", hint)
    if not (scale > 0).all():
        raise ValueError(
            "cannot export: a scaler.scale entry rounds to 0 in float32 "
            "(a feature that varies by under about 1e-45); scale that "
            "feature up before training"
        )
    scale = graph.constant("scaler.scale", scale)

    centred = graph.node("Sub", [x, mean], "scaler.centred")
    return graph.node("Div", [centred, scale], "scaler.output")


def _add_dense(graph: _GraphBuilder, i: int, layer, x: str) -> str:
    """z = x W + b, then the activation; returns the output's name."""
    prefix = f"layer{i}"
    hint = "retrain the network, e.g. with a smaller lr"
    W = _float32(layer.params["W"], f"{prefix}.W", hint)
    W = graph.constant(f"{prefix}.W", W)
    if layer.use_bias:
        b = _float32(layer.params["b"], f"{prefix}.b", hint)
        b = graph.constant(f"{prefix}.b", b)
        z = graph.node("Gemm", [x, W, b], f"{prefix}.z")
    else:
        z = graph.node("MatMul", [x, W], f"{prefix}.z")

    activation = layer.activation
    if activation.name == "identity":
        return z
    op = _OPERATORS[activation.name]
    attributes = {}
    if activation.name == "leaky_relu":
        # Both are z where z > 0 and slope * z elsewhere (0 at z = 0).
        attributes["alpha"] = activation.slope
    elif activation.name == "softmax":
        attributes["axis"] = -1
    return graph.node(op, [z], f"{prefix}.a", **attributes)


def _add_outputs(graph: _GraphBuilder, network, a: str) -> list:
    """Name the graph's outputs; returns (name, elem_type, shape) triples."""
    FLOAT = graph.onnx.TensorProto.FLOAT
    INT64 = graph.onnx.TensorProto.INT64
    n_out = network.n_outputs
    last = graph.nodes[-1]
    assert last.output[0] == a

    if not network.is_classifier:
        last.output[0] = last.name = "values"
        return [("values", FLOAT, [BATCH, n_out])]

    if network.loss.name == "binary_crossentropy":
        # a is p, (batch, 1); predict_proba gives [1 - p, p].
        one = graph.constant("one", np.array(1.0, dtype=np.float32))
        half = graph.constant("half", np.array(0.5, dtype=np.float32))
        axis = graph.constant("axis1", np.array([1], dtype=np.int64))
        q = graph.node("Sub", [one, a], "complement")
        probabilities = graph.node(
            "Concat", [q, a], "probabilities", axis=1
        )
        # p >= 0.5 as predict has it; an argmax of [1 - p, p] would pick
        # class 0 at p = 0.5 exactly.
        positive = graph.node("GreaterOrEqual", [a, half], "positive")
        code = graph.node("Cast", [positive], "positive_int", to=INT64)
        graph.node("Squeeze", [code, axis], "class_index")
        n_classes = 2
    else:
        last.output[0] = last.name = "probabilities"
        probabilities = "probabilities"
        # Ties go to the first index, as with NumPy's argmax.
        graph.node(
            "ArgMax", [probabilities], "class_index", axis=1, keepdims=0
        )
        n_classes = n_out

    return [
        ("probabilities", FLOAT, [BATCH, n_classes]),
        ("class_index", INT64, [BATCH]),
    ]


def _make_model(onnx, graph: _GraphBuilder, network, outputs, opset: int):
    from . import __version__

    helper = onnx.helper
    n_features = int(network.n_features_in_)
    inputs = [
        helper.make_tensor_value_info(
            INPUT, onnx.TensorProto.FLOAT, [BATCH, n_features]
        )
    ]
    outputs = [
        helper.make_tensor_value_info(name, elem_type, shape)
        for name, elem_type, shape in outputs
    ]
    body = helper.make_graph(
        graph.nodes,
        "scratchnn_network",
        inputs,
        outputs,
        initializer=graph.initializers,
        doc_string=repr(network),
    )

    opset_ids = [helper.make_opsetid("", opset)]
    model = helper.make_model(
        body,
        opset_imports=opset_ids,
        producer_name="scratchnn",
        producer_version=__version__,
    )
    # The oldest file format that can hold this opset, so older runtimes
    # read the file too (make_model stamps the newest onnx knows).
    model.ir_version = helper.find_min_ir_version_for(opset_ids)
    helper.set_model_props(model, _metadata(network))
    return model


def _metadata(network) -> dict[str, str]:
    """What a user of the file needs beyond the graph, as strings."""
    props = {
        "task": "classification" if network.is_classifier else "regression",
        "loss": network.loss.name,
        "n_features": str(int(network.n_features_in_)),
        "n_outputs": str(network.n_outputs),
        "standardized": json.dumps(network.scaler is not None),
    }
    if network.is_classifier:
        labels = network.encoder.classes_.tolist()
        props["classes"] = json.dumps(labels, ensure_ascii=False)
        props["n_outputs"] = str(len(labels))
    return props
