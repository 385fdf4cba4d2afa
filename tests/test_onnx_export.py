"""Tests for scratchnn.onnx_export: the exported graph, run by onnxruntime.

Every comparison goes through `_assert_close`, which also records the
largest absolute difference as the test's "max_abs_difference" property
(see it with ``pytest --junitxml=report.xml -o junit_family=xunit1``).
"""
import errno
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from scratchnn import Dense, ModelFileError, Network, NotFittedError
from scratchnn.activations import Activation, ReLU, sigmoid
from scratchnn.onnx_export import export_onnx, to_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

N_FEATURES = 4
TOLERANCE = 1e-5

ACTIVATIONS = {
    "identity": "identity",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    # Not the default slope, so a lost alpha would show.
    "leaky_relu": {"name": "leaky_relu", "slope": 0.3},
    "softmax": "softmax",
}

# Three labels of each kind; binary classifiers take the first two.
LABEL_SETS = {
    "int": [-4, 7, 12],
    "float": [0.5, 1.0, 2.5],
    "str": ["cat", "café", "dog"],
}


def _features(rng, n: int) -> np.ndarray:
    # Off-centre columns with unequal spreads, so standardising matters.
    loc = [1.0, -2.0, 0.5, 3.0]
    scale = [2.0, 0.5, 1.0, 3.0]
    return rng.normal(loc, scale, size=(n, N_FEATURES))


def _randomise_biases(network, rng) -> None:
    # fit moves biases only a little from 0; large ones show a lost bias.
    for layer in network.layers:
        if layer.use_bias:
            layer.params["b"][...] = rng.normal(scale=0.5, size=layer.units)


def _classifier(labels, standardize=False, dtype="float32", seed=0):
    """A trained classifier: sigmoid output for 2 labels, else softmax."""
    rng = np.random.default_rng(seed)
    X = _features(rng, 40)
    labels = np.array(labels)
    y = labels[rng.permutation(40) % len(labels)]
    if len(labels) == 2:
        output, loss = Dense(1, "sigmoid"), "binary_crossentropy"
    else:
        output = Dense(len(labels), "softmax")
        loss = "categorical_crossentropy"
    network = Network(
        [Dense(6, "tanh"), output],
        loss=loss,
        optimizer="adam",
        dtype=dtype,
        standardize=standardize,
    )
    network.fit(X, y, epochs=3, seed=seed)
    _randomise_biases(network, rng)
    return network


def _run(model, X) -> dict:
    """The model's outputs on X, by name, from onnxruntime on the CPU."""
    session = ort.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    names = [output.name for output in session.get_outputs()]
    values = session.run(None, {"input": np.asarray(X, dtype=np.float32)})
    return dict(zip(names, values, strict=True))


def _assert_close(actual, expected, record_property) -> None:
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.dtype == np.float32
    assert actual.shape == expected.shape
    difference = float(np.max(np.abs(actual - expected), initial=0.0))
    record_property("max_abs_difference", difference)
    assert difference <= TOLERANCE


def _metadata(model) -> dict:
    return {prop.key: prop.value for prop in model.metadata_props}


def _decode(model, class_index: np.ndarray) -> np.ndarray:
    """Labels for the graph's class indices, from the metadata alone."""
    classes = json.loads(_metadata(model)["classes"])
    return np.asarray(classes)[class_index]


# ---------------------------------------------------------------------------
# The graph computes what predict computes
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_each_activation_matches_predict(
    activation, standardize, use_bias, dtype, record_property
):
    rng = np.random.default_rng(0)
    spec = ACTIVATIONS[activation]
    # The activation in a hidden layer and in the (3-output) last one.
    network = Network(
        [Dense(5, spec, use_bias=use_bias), Dense(3, spec, use_bias=use_bias)],
        loss="mse",
        optimizer="adam",
        dtype=dtype,
        standardize=standardize,
    )
    network.fit(_features(rng, 30), rng.normal(size=(30, 3)), epochs=2, seed=0)
    _randomise_biases(network, rng)
    X = _features(rng, 25)

    outputs = _run(to_onnx(network), X)

    assert list(outputs) == ["values"]
    _assert_close(outputs["values"], network.predict(X), record_property)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_matches_predict_proba_and_predict(
    n_classes, standardize, dtype, record_property
):
    labels = LABEL_SETS["str"][:n_classes]
    network = _classifier(labels, standardize, dtype)
    X = _features(np.random.default_rng(1), 50)

    model = to_onnx(network)
    outputs = _run(model, X)

    assert list(outputs) == ["probabilities", "class_index"]
    probabilities = outputs["probabilities"]
    _assert_close(probabilities, network.predict_proba(X), record_property)
    assert probabilities.shape == (50, n_classes)
    predicted = network.predict(X)
    assert len(set(predicted)) > 1, "a one-class test would prove little"
    assert outputs["class_index"].dtype == np.int64
    decoded = _decode(model, outputs["class_index"])
    assert decoded.tolist() == predicted.tolist()


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("kind", list(LABEL_SETS))
def test_metadata_classes_decode_to_predict(kind, n_classes):
    network = _classifier(LABEL_SETS[kind][:n_classes], seed=2)
    X = _features(np.random.default_rng(3), 50)

    model = to_onnx(network)
    decoded = _decode(model, _run(model, X)["class_index"])

    predicted = network.predict(X)
    assert len(set(predicted.tolist())) > 1
    assert decoded.dtype.kind == predicted.dtype.kind
    assert decoded.tolist() == predicted.tolist()


def test_bool_labels_decode_to_predict():
    network = _classifier([False, True], seed=4)
    X = _features(np.random.default_rng(5), 50)

    model = to_onnx(network)
    decoded = _decode(model, _run(model, X)["class_index"])

    assert _metadata(model)["classes"] == "[false, true]"
    assert decoded.dtype == np.bool_
    assert decoded.tolist() == network.predict(X).tolist()


def test_binary_class_at_exactly_one_half(record_property):
    # All weights 0: p = sigmoid(0) = 0.5 for every row. predict says the
    # second class (p >= 0.5); an argmax over [1 - p, p] would say the first.
    network = _classifier(["no", "yes"])
    for layer in network.layers:
        for value in layer.params.values():
            value[...] = 0.0
    X = _features(np.random.default_rng(6), 4)

    outputs = _run(to_onnx(network), X)

    half = np.full((4, 2), 0.5)
    _assert_close(outputs["probabilities"], half, record_property)
    assert network.predict(X).tolist() == ["yes"] * 4
    assert outputs["class_index"].tolist() == [1, 1, 1, 1]


def test_batch_size_is_open(record_property):
    network = _classifier(LABEL_SETS["int"], standardize=True)
    model = to_onnx(network)
    rng = np.random.default_rng(7)

    batch, features = model.graph.input[0].type.tensor_type.shape.dim
    assert (batch.dim_param, features.dim_value) == ("batch", N_FEATURES)
    for n in (1, 0, 7):
        X = _features(rng, n)
        outputs = _run(model, X)
        _assert_close(
            outputs["probabilities"], network.predict_proba(X), record_property
        )
        assert outputs["class_index"].shape == (n,)


def test_loaded_model_exports_the_same(tmp_path, record_property):
    # The CLI exports a model file: the loaded network must export alike.
    labels = LABEL_SETS["float"]
    network = _classifier(labels, standardize=True, dtype="float64")
    network.save(tmp_path / "model.npz")
    loaded = Network.load(tmp_path / "model.npz")
    X = _features(np.random.default_rng(8), 30)

    model = to_onnx(loaded)

    expected = network.predict_proba(X)
    _assert_close(_run(model, X)["probabilities"], expected, record_property)
    assert model.SerializeToString() == to_onnx(network).SerializeToString()


# ---------------------------------------------------------------------------
# The file: format, opset, float32, metadata
# ---------------------------------------------------------------------------

def test_written_file_is_float32_opset_17_with_metadata(
    tmp_path, record_property
):
    network = _classifier(LABEL_SETS["str"], standardize=True, dtype="float64")
    path = tmp_path / "model.onnx"

    export_onnx(network, path)
    model = onnx.load(path)

    onnx.checker.check_model(model, full_check=True)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
    assert model.producer_name == "scratchnn"
    FLOAT = onnx.TensorProto.FLOAT
    assert model.graph.input[0].type.tensor_type.elem_type == FLOAT
    assert {t.data_type for t in model.graph.initializer} == {FLOAT}
    assert [n.op_type for n in model.graph.node] == [
        "Sub", "Div", "Gemm", "Tanh", "Gemm", "Softmax", "ArgMax"
    ]
    softmax = model.graph.node[5]
    assert onnx.helper.get_node_attr_value(softmax, "axis") == -1
    assert _metadata(model) == {
        "task": "classification",
        "loss": "categorical_crossentropy",
        "n_features": "4",
        "n_outputs": "3",
        "standardized": "true",
        "classes": '["café", "cat", "dog"]',
    }
    X = _features(np.random.default_rng(9), 20)
    expected = network.predict_proba(X)
    _assert_close(_run(model, X)["probabilities"], expected, record_property)


def test_regression_metadata_has_no_classes():
    rng = np.random.default_rng(10)
    network = Network([Dense(3, "relu"), Dense(2)], loss="mse")
    network.fit(_features(rng, 20), rng.normal(size=(20, 2)), epochs=1, seed=0)

    model = to_onnx(network)

    assert _metadata(model) == {
        "task": "regression",
        "loss": "mse",
        "n_features": "4",
        "n_outputs": "2",
        "standardized": "false",
    }
    assert [n.op_type for n in model.graph.node] == ["Gemm", "Relu", "Gemm"]


@pytest.mark.parametrize("opset", [13, 21])
def test_other_opsets(opset, record_property):
    network = _classifier(["no", "yes"])
    X = _features(np.random.default_rng(11), 20)

    model = to_onnx(network, opset=opset)
    outputs = _run(model, X)

    assert [o.version for o in model.opset_import] == [opset]
    _assert_close(
        outputs["probabilities"], network.predict_proba(X), record_property
    )
    assert outputs["class_index"].tolist() == (
        network.predict(X) == "yes"
    ).tolist()


@pytest.mark.parametrize(
    "opset, error, match",
    [
        (12, ValueError, r"opset must be in \[13, \d+\].*got 12"),
        (onnx.defs.onnx_opset_version() + 1, ValueError, "opset must be in"),
        (17.0, TypeError, "opset must be an int, got 17.0"),
        (True, TypeError, "opset must be an int"),
    ],
)
def test_bad_opset_refused(opset, error, match, tmp_path):
    network = _classifier(["no", "yes"])
    path = tmp_path / "model.onnx"

    with pytest.raises(error, match=match):
        export_onnx(network, path, opset=opset)
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------
# Refusals, and what they leave on disk
# ---------------------------------------------------------------------------

class Swish(Activation):
    """An activation of the user's own: z * sigmoid(z)."""

    name = "swish"

    def forward(self, z):
        return z * sigmoid(z)

    def backward(self, grad, z, a):
        s = sigmoid(z)
        return grad * (s + z * s * (1.0 - s))


class DoubledReLU(ReLU):
    """A subclass that keeps the name "relu" but computes something else."""

    def forward(self, z, out=None):
        return 2.0 * np.maximum(z, 0.0)


@pytest.mark.parametrize(
    "activation, shown",
    [(Swish(), r"Swish \(name 'swish'\)"), (DoubledReLU(), "DoubledReLU")],
)
def test_custom_activation_refused(activation, shown, tmp_path):
    network = Network([Dense(4, "tanh"), Dense(3, activation), Dense(1)])
    network.build(N_FEATURES, seed=0)
    path = tmp_path / "model.onnx"
    path.write_bytes(b"old")

    message = rf"cannot export layer 1: its activation {shown}.*use one of"
    with pytest.raises(ValueError, match=message):
        export_onnx(network, path)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["model.onnx"]


def test_activation_setting_broken_after_construction_refused():
    network = Network([Dense(3, "leaky_relu"), Dense(1)])
    network.build(N_FEATURES, seed=0)
    network.layers[0].activation.slope = float("nan")

    with pytest.raises(ValueError, match="cannot export layer 0: slope"):
        to_onnx(network)


@pytest.mark.parametrize(
    "network, match",
    [
        (Network([Dense(1)]), "not trained yet"),
        (
            Network([Dense(2, "softmax")], loss="categorical_crossentropy")
            .build(N_FEATURES),
            "no class labels",
        ),
        (
            Network([Dense(1)], standardize=True).build(N_FEATURES),
            "input scaling is not fitted",
        ),
    ],
    ids=["unbuilt", "no-labels", "no-scaling"],
)
def test_unfitted_network_refused(network, match, tmp_path):
    path = tmp_path / "model.onnx"

    with pytest.raises(NotFittedError, match=match):
        export_onnx(network, path)
    assert not path.exists()


def test_not_a_network_refused():
    message = "network must be a scratchnn Network, got str"
    with pytest.raises(TypeError, match=message):
        to_onnx("model.npz")


@pytest.mark.parametrize(
    "value, dtype, match",
    [
        (np.nan, "float32", "layer1.W holds NaN or inf"),
        (1e39, "float64", "layer1.W holds values beyond float32's range"),
    ],
)
def test_unrepresentable_weights_refused(value, dtype, match):
    network = Network([Dense(3, "tanh"), Dense(1)], dtype=dtype)
    network.build(N_FEATURES, seed=0)
    network.layers[1].params["W"][0, 0] = value

    with pytest.raises(ValueError, match=match):
        to_onnx(network)


def _disk_full(fd):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    network = _classifier(["no", "yes"])
    path = tmp_path / "model.onnx"
    path.write_bytes(b"old")

    # fsync runs inside the atomic write, after the data went out.
    monkeypatch.setattr(os, "fsync", _disk_full)
    with pytest.raises(ModelFileError, match="No space left on device"):
        export_onnx(network, path)

    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["model.onnx"]


def test_failed_write_leaves_no_new_file(tmp_path, monkeypatch):
    network = _classifier(["no", "yes"])
    path = tmp_path / "model.onnx"

    monkeypatch.setattr(os, "fsync", _disk_full)
    with pytest.raises(ModelFileError, match="cannot write ONNX file"):
        export_onnx(network, path)

    assert os.listdir(tmp_path) == []


def test_bad_destination_refused(tmp_path):
    network = _classifier(["no", "yes"])

    with pytest.raises(ModelFileError, match="it is a directory"):
        export_onnx(network, tmp_path)
    with pytest.raises(ModelFileError, match="does not exist"):
        export_onnx(network, tmp_path / "missing" / "model.onnx")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------
# onnx stays optional
# ---------------------------------------------------------------------------

def test_missing_onnx_names_the_extra(monkeypatch):
    network = _classifier(["no", "yes"])
    # A None entry makes `import onnx` fail as if it were not installed.
    monkeypatch.setitem(sys.modules, "onnx", None)

    with pytest.raises(ImportError, match=r"pip install 'scratchnn\[onnx\]'"):
        to_onnx(network)


def test_importing_the_module_does_not_import_onnx():
    code = (
        "import sys, scratchnn, scratchnn.onnx_export; "
        "print('onnx' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "False"
