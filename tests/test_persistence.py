"""Tests for the model file: round trips, hostile files and atomic writes.

Cases C22 (hostile or damaged model files) and C23 (save/load round trip)
from the shared case list, plus files these tests damage on purpose.
"""
import ast
import io
import json
import os
import pickle
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from scratchnn import SGD, Adam, Dense, Network, atomic, persistence
from scratchnn.activations import Activation, LeakyReLU, get_activation
from scratchnn.errors import ModelFileError, NotFittedError
from scratchnn.persistence import load_model, save_model

from conftest import load_case

def run_python(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter, so nothing is shared with this one."""
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def blobs(labels, n_samples=30, n_features=3, seed=0):
    """Well separated clusters, one per label, cycling through the labels."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    centers = rng.normal(0.0, 3.0, size=(len(labels), n_features))
    codes = np.arange(n_samples) % len(labels)
    X = centers[codes] + rng.normal(0.0, 0.5, size=(n_samples, n_features))
    # Very different feature scales, so the saved scaler matters.
    X *= np.array([1000.0, 1.0, 0.01])[:n_features]
    return X, labels[codes]


def small_classifier(labels, dtype="float32", optimizer="adam", seed=0):
    X, y = blobs(labels, seed=seed)
    net = Network(
        [Dense(5, "relu"), Dense(len(labels), "softmax")],
        loss="categorical_crossentropy",
        optimizer=optimizer,
        dtype=dtype,
        standardize=True,
    )
    net.fit(X, y, epochs=5, batch_size=8, seed=seed)
    return net, X


def small_regressor(dtype="float32", n_outputs=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(24, 2))
    y = np.column_stack([X @ [1.0, -2.0] + 0.5 * k for k in range(n_outputs)])
    net = Network(
        [Dense(4, "tanh"), Dense(n_outputs)],
        loss="mse",
        optimizer=SGD(lr=0.05, momentum=0.9),
        dtype=dtype,
    )
    net.fit(X, y, epochs=3, batch_size=8, seed=seed)
    return net, X


def assert_same_network(net: Network, loaded: Network, X: np.ndarray) -> None:
    """Everything predict depends on came back unchanged."""
    assert loaded.config() == net.config()
    assert loaded.n_features_in_ == net.n_features_in_
    pairs = zip(net.parameters(), loaded.parameters(), strict=True)
    for before, after in pairs:
        assert after.dtype == before.dtype
        assert after.flags.c_contiguous and after.flags.writeable
        np.testing.assert_array_equal(after, before)
    for layer in loaded.layers:
        assert layer.grads.keys() == layer.params.keys()
        for key, grad in layer.grads.items():
            assert grad.shape == layer.params[key].shape
    if net.scaler is None:
        assert loaded.scaler is None
    else:
        np.testing.assert_array_equal(loaded.scaler.mean_, net.scaler.mean_)
        np.testing.assert_array_equal(loaded.scaler.scale_, net.scaler.scale_)
    assert loaded.history.to_dict() == net.history.to_dict()

    before, after = net.predict(X), loaded.predict(X)
    assert after.dtype == before.dtype
    np.testing.assert_array_equal(after, before)
    if net.is_classifier:
        assert loaded.classes_.dtype == net.classes_.dtype
        np.testing.assert_array_equal(loaded.classes_, net.classes_)
        np.testing.assert_array_equal(
            loaded.predict_proba(X), net.predict_proba(X)
        )


def members_of(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def header_of(members: dict) -> dict:
    return json.loads(members["header"].tobytes().decode("utf-8"))


def write_model(path: Path, header, arrays: dict, raw_header=None) -> None:
    """Write an .npz the way save_model lays it out, with any content."""
    text = json.dumps(header).encode() if raw_header is None else raw_header
    with open(path, "wb") as fh:
        np.savez_compressed(
            fh, header=np.frombuffer(text, dtype=np.uint8), **arrays
        )


@pytest.fixture
def regressor_file(tmp_path):
    """A saved 2 -> 4 -> 1 regressor, and its members."""
    net, _ = small_regressor()
    path = tmp_path / "regressor.model"
    save_model(net, path)
    return path, members_of(path)


# ---------------------------------------------------------------------------
# Round trips (C23)
# ---------------------------------------------------------------------------

def test_c23_round_trip_in_a_fresh_process(tmp_path):
    c23 = load_case("C23")
    clf = Network(
        [Dense(6, "tanh"), Dense(2, "softmax")],
        loss="categorical_crossentropy",
        optimizer="adam",
        standardize=True,
    )
    clf.fit(c23.X, c23.Y, epochs=40, batch_size=4, seed=0)
    reg = Network(
        [Dense(6, "relu"), Dense(1)],
        loss="mse",
        optimizer=Adam(lr=0.01),
        dtype="float64",
        standardize=True,
    )
    reg.fit(c23.X, c23.Y_REG, epochs=40, batch_size=4, seed=0)
    clf.save(tmp_path / "clf.model")
    reg.save(tmp_path / "reg.model")

    result = run_python(
        f"""
        import numpy as np
        import scratchnn

        folder = {str(tmp_path)!r}
        X_QUERY = np.array({c23.X_QUERY.tolist()!r})
        clf = scratchnn.load(folder + "/clf.model")
        reg = scratchnn.load(folder + "/reg.model")
        np.savez(
            folder + "/after.npz",
            predict=clf.predict(X_QUERY),
            proba=clf.predict_proba(X_QUERY),
            classes=clf.classes_,
            mean=clf.scaler.mean_,
            scale=clf.scaler.scale_,
            activations=np.array([l.activation.name for l in clf.layers]),
            reg_predict=reg.predict(X_QUERY),
            reg_mean=reg.scaler.mean_,
        )
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    after = members_of(tmp_path / "after.npz")

    np.testing.assert_array_equal(after["predict"], clf.predict(c23.X_QUERY))
    assert after["predict"].dtype.kind == "U"
    np.testing.assert_array_equal(
        after["proba"], clf.predict_proba(c23.X_QUERY)
    )
    assert after["classes"].tolist() == ["high", "low"]
    # Population statistics of the raw training features.
    np.testing.assert_array_equal(after["mean"], c23.X.mean(axis=0))
    np.testing.assert_allclose(after["scale"], c23.X.std(axis=0), rtol=1e-15)
    assert after["activations"].tolist() == ["tanh", "softmax"]
    np.testing.assert_array_equal(
        after["reg_predict"], reg.predict(c23.X_QUERY)
    )
    np.testing.assert_array_equal(after["reg_mean"], c23.X.mean(axis=0))


@pytest.mark.parametrize(
    "labels, dtype, optimizer",
    [
        ([3, 7, 11], "float32", "adam"),
        ([0.5, 1.5, 2.5], "float64", SGD(lr=0.1, momentum=0.9, nesterov=True)),
        (["cat", "dog", "eel"], "float64", Adam(lr=0.01, beta1=0.8)),
        ([False, True], "float32", "sgd"),
    ],
    ids=["int", "float", "str", "bool"],
)
def test_classifier_round_trip(tmp_path, labels, dtype, optimizer):
    net, X = small_classifier(labels, dtype=dtype, optimizer=optimizer)
    save_model(net, tmp_path / "clf.model")
    loaded = load_model(tmp_path / "clf.model")

    assert_same_network(net, loaded, X)
    assert loaded.classes_.tolist() == labels
    kind = {int: "i", float: "f", str: "U", bool: "b"}[type(labels[0])]
    assert loaded.classes_.dtype.kind == kind
    assert loaded.optimizer.config() == net.optimizer.config()


def test_object_string_labels_round_trip_as_objects(tmp_path):
    net, X = small_classifier(np.array(["cat", "dog"], dtype=object))
    save_model(net, tmp_path / "clf.model")
    loaded = load_model(tmp_path / "clf.model")

    assert_same_network(net, loaded, X)
    assert loaded.predict(X).dtype == object


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_sigmoid_round_trip(tmp_path, dtype):
    X, y = blobs(["no", "yes"], seed=1)
    net = Network(
        [Dense(3, "leaky_relu", init="glorot"), Dense(1, "sigmoid")],
        loss="binary_crossentropy",
        dtype=dtype,
        standardize=True,
    )
    net.fit(X, y, epochs=4, batch_size=10, seed=1)
    save_model(net, tmp_path / "binary.model")
    loaded = load_model(tmp_path / "binary.model")

    assert_same_network(net, loaded, X)
    assert loaded.predict_proba(X).shape == (len(X), 2)
    assert loaded.layers[0].init == "glorot"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_multi_output_regression_round_trip(tmp_path, dtype):
    net, X = small_regressor(dtype=dtype, n_outputs=2)
    save_model(net, tmp_path / "reg.model")
    loaded = load_model(tmp_path / "reg.model")

    assert_same_network(net, loaded, X)
    assert loaded.predict(X).shape == (len(X), 2)
    assert loaded.scaler is None
    with pytest.raises(AttributeError, match="no classes_"):
        _ = loaded.classes_


def test_layer_without_bias_round_trips(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(12, 3))
    net = Network([Dense(4, "sigmoid", use_bias=False), Dense(2)], loss="sse")
    net.fit(X, X[:, :2], epochs=2, batch_size=4, seed=3)
    save_model(net, tmp_path / "nobias.model")

    names = set(header_of(members_of(tmp_path / "nobias.model"))["arrays"])
    assert names == {"layer0.W", "layer1.W", "layer1.b"}
    assert_same_network(net, load_model(tmp_path / "nobias.model"), X)


def test_metadata_is_stored_and_kept_on_resave(tmp_path):
    net, X = small_regressor()
    extra = {"data": "toy.csv", "test": {"rmse": np.float32(0.25)}}
    save_model(net, tmp_path / "a.model", extra=extra)
    loaded = load_model(tmp_path / "a.model")
    assert loaded.metadata == {"data": "toy.csv", "test": {"rmse": 0.25}}

    loaded.save(tmp_path / "b.model")
    assert load_model(tmp_path / "b.model").metadata == loaded.metadata
    save_model(net, tmp_path / "c.model")
    assert load_model(tmp_path / "c.model").metadata == {}


def test_loaded_network_trains_on(tmp_path):
    net, X = small_classifier(["a", "b", "c"])
    save_model(net, tmp_path / "clf.model")
    loaded = load_model(tmp_path / "clf.model")
    y = net.predict(X)

    before = [p.copy() for p in loaded.parameters()]
    loaded.fit(X, y, epochs=1, batch_size=8, seed=0, warm_start=True)
    changed = [
        not np.array_equal(a, b)
        for a, b in zip(before, loaded.parameters(), strict=True)
    ]
    assert all(changed)
    assert len(loaded.history) == len(net.history) + 1


def test_file_name_is_kept_exactly(tmp_path):
    net, _ = small_regressor()
    save_model(net, tmp_path / "model.bin")
    assert os.listdir(tmp_path) == ["model.bin"]
    with zipfile.ZipFile(tmp_path / "model.bin") as archive:
        assert archive.testzip() is None


# ---------------------------------------------------------------------------
# Hostile and damaged files (C22)
# ---------------------------------------------------------------------------

C22_MESSAGES = {
    "raw_pickle": r"is not a scratchnn model file \(or is damaged\): it is "
    r"not a zip archive",
    "npz_object_array": r"contains object arrays, which scratchnn never "
    r"writes; refusing to load it because loading objects could run code",
    "npz_inconsistent_shapes": r"is not a scratchnn model file: no header",
    "garbage": r"is not a scratchnn model file \(or is damaged\)",
    "empty": r"is empty, not a scratchnn model file",
}


def test_c22_files_are_refused_in_a_fresh_process(tmp_path, regressor_file):
    c22 = load_case("C22")
    paths = c22.build(str(tmp_path / "c22"))
    assert set(paths) == set(C22_MESSAGES)
    valid, _ = regressor_file
    truncated = tmp_path / "truncated.model"
    truncated.write_bytes(valid.read_bytes()[: valid.stat().st_size // 2])
    paths["truncated"] = str(truncated)

    result = run_python(
        f"""
        from scratchnn import ModelFileError, load

        for name, path in {paths!r}.items():
            try:
                load(path)
            except ModelFileError as err:
                print("REFUSED", name, err)
            else:
                print("LOADED", name)
        """,
        tmp_path,
    )
    output = result.stdout + result.stderr
    assert c22.MARKER not in output
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["REFUSED", name] for name in paths
    ]


@pytest.mark.parametrize("name", sorted(C22_MESSAGES))
def test_c22_file_refused_with_clear_message(
    tmp_path, monkeypatch, capfd, name
):
    c22 = load_case("C22")
    path = c22.build(str(tmp_path))[name]

    def no_unpickling(*args, **kwargs):
        raise AssertionError("the loader tried to unpickle")

    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    with pytest.raises(ModelFileError, match=C22_MESSAGES[name]) as info:
        load_model(path)
    assert repr(path) in str(info.value)
    out, err = capfd.readouterr()
    assert c22.MARKER not in out + err


def test_truncated_model_is_refused(regressor_file, tmp_path):
    valid, _ = regressor_file
    data = valid.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 30):
        path = tmp_path / f"cut{cut}.model"
        path.write_bytes(data[:cut])
        with pytest.raises(ModelFileError, match="or is damaged"):
            load_model(path)


def test_corrupted_weights_are_refused(regressor_file, tmp_path):
    valid, _ = regressor_file
    data = bytearray(valid.read_bytes())
    with zipfile.ZipFile(valid) as archive:
        info = archive.getinfo("layer0.W.npy")
    # Local header: 30 fixed bytes, then the name and the extra field.
    name_len = int.from_bytes(data[info.header_offset + 26:][:2], "little")
    extra_len = int.from_bytes(data[info.header_offset + 28:][:2], "little")
    start = info.header_offset + 30 + name_len + extra_len
    for i in range(start + 2, start + info.compress_size - 2):
        data[i] ^= 0x5A
    path = tmp_path / "flipped.model"
    path.write_bytes(bytes(data))

    with pytest.raises(ModelFileError, match="damaged"):
        load_model(path)


def test_missing_file_and_directory_are_refused(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist; check the path"):
        load_model(tmp_path / "nothing.model")
    with pytest.raises(ModelFileError, match="is a directory"):
        load_model(tmp_path)


def test_header_that_is_not_json_is_refused(regressor_file):
    path, members = regressor_file
    del members["header"]
    write_model(path, None, members, raw_header=b"{not json")
    with pytest.raises(ModelFileError, match="header is not valid JSON"):
        load_model(path)


def set_in(keys, value):
    """A mutation that sets header[k1][k2]... = value."""

    def mutate(header):
        target = header
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return mutate


def delete(key):
    return lambda header: header.pop(key)


BAD_HEADERS = {
    "format": (
        set_in(["format"], "keras-model"),
        r"not a scratchnn model file: its header format is 'keras-model'",
    ),
    "future version": (
        set_in(["format_version"], 2),
        r"has format_version 2, but scratchnn \S+ reads only "
        r"format_version 1",
    ),
    "version as text": (
        set_in(["format_version"], "1"),
        r"has format_version '1', but",
    ),
    "activation": (
        set_in(["config", "layers", 0, "activation"], "swish"),
        r"config.layers\[0\] names an unknown activation 'swish'",
    ),
    "zero units": (
        set_in(["config", "layers", 0, "units"], 0),
        r"config.layers\[0\].units must be an integer in \[1, 100000000\], "
        r"got 0",
    ),
    "absurd units": (
        set_in(["config", "layers", 0, "units"], 10**9),
        r"units must be an integer in \[1, 100000000\], got 1000000000",
    ),
    "fractional units": (
        set_in(["config", "layers", 1, "units"], 1.5),
        r"config.layers\[1\].units must be an integer",
    ),
    "absurd n_features": (
        set_in(["n_features"], 10**12),
        r"n_features must be an integer in \[1, 100000000\]",
    ),
    "loss": (set_in(["config", "loss"], "hinge"), r"unknown loss 'hinge'"),
    "optimizer": (
        set_in(["config", "optimizer", "name"], "rmsprop"),
        r"unknown optimizer 'rmsprop'",
    ),
    "optimizer setting": (
        set_in(["config", "optimizer", "lr"], "fast"),
        r"config.optimizer.lr must be a number, got 'fast'",
    ),
    "negative lr": (
        set_in(["config", "optimizer", "lr"], -1.0),
        r"invalid header: lr must be a finite number > 0",
    ),
    "dtype": (
        set_in(["config", "dtype"], "float16"),
        r"config.dtype must be 'float32' or 'float64'",
    ),
    "task": (
        set_in(["task"], "classification"),
        r"task is 'classification', but loss 'mse' makes it 'regression'",
    ),
    "missing key": (delete("arrays"), r"the header lacks arrays"),
    "unknown key": (set_in(["plugin"], "x"), r"unknown keys plugin"),
    "extra": (set_in(["extra"], [1, 2]), r"extra must be an object"),
    "history": (
        set_in(["history", "loss"], "low"),
        r"history\['loss'\] must be a list of numbers",
    ),
    "NaN in history": (
        set_in(["history", "loss"], [0.5, float("nan"), 0.2]),
        r"history\['loss'\] holds NaN or inf",
    ),
    "lr as a bool": (
        set_in(["config", "optimizer", "lr"], True),
        r"config.optimizer.lr must be a number, got True",
    ),
    "infinite momentum": (
        set_in(["config", "optimizer", "momentum"], float("inf")),
        r"config.optimizer.momentum must be a finite number, got inf",
    ),
    "nesterov as a number": (
        set_in(["config", "optimizer", "nesterov"], 1),
        r"config.optimizer.nesterov must be true or false, got 1",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_HEADERS))
def test_header_that_does_not_validate_is_refused(regressor_file, case):
    path, members = regressor_file
    mutate, message = BAD_HEADERS[case]
    header = header_of(members)
    mutate(header)
    del members["header"]
    write_model(path, header, members)

    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_oversized_header_is_refused_before_parsing(regressor_file):
    path, members = regressor_file
    del members["header"]
    padded = b" " * (10 * 2**20) + b'{"format": "scratchnn-model"}'
    write_model(path, None, members, raw_header=padded)
    with pytest.raises(ModelFileError, match=r"its header is 10485789 bytes"):
        load_model(path)


def test_header_not_an_object_is_refused(regressor_file):
    path, members = regressor_file
    del members["header"]
    write_model(path, ["format", "scratchnn-model"], members)
    with pytest.raises(ModelFileError, match="header is not a JSON object"):
        load_model(path)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (
            lambda c: c.update(values=["a", "b", "c"]),
            r"the output layer has 2 units but there are 3 classes",
        ),
        (
            lambda c: c.update(values=["b", "a"]),
            r"classes.values must be distinct and sorted",
        ),
        (
            lambda c: c.update(dtype="int"),
            r"classes.values must all be of kind int",
        ),
        (lambda c: c.update(dtype="object"), r"classes.dtype must be one of"),
        (
            lambda c: c.update(as_object=1),
            r"classes.as_object must be true or false",
        ),
        (
            lambda c: c.update(dtype="float", values=[1.0, float("inf")]),
            r"classes.values hold NaN or inf",
        ),
        (
            lambda c: c.update(dtype="float", values=[1.0, 2.0], as_object=True),
            r"true only for str labels",
        ),
    ],
)
def test_bad_class_labels_are_refused(tmp_path, mutate, message):
    net, _ = small_classifier(["a", "b"])
    path = tmp_path / "clf.model"
    save_model(net, path)
    members = members_of(path)
    header = header_of(members)
    mutate(header["classes"])
    del members["header"]
    write_model(path, header, members)

    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def chaining_arrays() -> dict[str, np.ndarray]:
    """Arrays for the 2 -> 4 -> 1 regressor, each of the right shape."""
    return {
        "layer0.W": np.ones((2, 4), "<f4"),
        "layer0.b": np.zeros(4, "<f4"),
        "layer1.W": np.ones((4, 1), "<f4"),
        "layer1.b": np.zeros(1, "<f4"),
    }


@pytest.mark.parametrize(
    "name, shape, message",
    [
        # The shapes of C22's inconsistent file: bias of 3, then 5 -> 1.
        ("layer0.b", (3,), r"layer 0 bias \(3,\) does not match its 4 units"),
        (
            "layer1.W",
            (5, 1),
            r"layer 1 weight \(5, 1\) does not match the previous layer's "
            r"width 4",
        ),
        (
            "layer0.W",
            (3, 4),
            r"layer 0 weight \(3, 4\) does not match the 2 input features",
        ),
        ("layer1.W", (4, 2), r"layer 1 weight \(4, 2\) does not match its 1 "),
        ("layer1.W", (4,), r"layer 1 weight \(4,\) is not a matrix"),
    ],
)
def test_shapes_that_do_not_chain_are_refused(
    regressor_file, name, shape, message
):
    path, members = regressor_file
    header, arrays = header_of(members), chaining_arrays()
    arrays[name] = np.ones(shape, "<f4")
    header["arrays"][name] = [list(shape), "<f4"]
    write_model(path, header, arrays)

    with pytest.raises(ModelFileError, match=r"is damaged: " + message):
        load_model(path)


def test_members_that_disagree_with_the_header_are_refused(regressor_file):
    path, members = regressor_file
    header = header_of(members)
    del members["header"]

    def refused(arrays, message, declared=header):
        write_model(path, declared, arrays)
        with pytest.raises(ModelFileError, match=message):
            load_model(path)

    missing = {k: v for k, v in members.items() if k != "layer1.b"}
    refused(missing, r"is damaged: array 'layer1.b' is missing")

    refused(
        {**members, "notes": np.zeros(3)},
        r"unexpected member 'notes.npy'",
    )
    declared_extra = json.loads(json.dumps(header))
    declared_extra["arrays"]["layer2.W"] = [[1, 1], "<f4"]
    refused(
        members,
        r"the header lists array 'layer2.W', which this model does not use",
        declared_extra,
    )
    refused(
        {**members, "layer0.W": np.ones((2, 5), "<f4")},
        r"array 'layer0.W' has shape \(2, 5\), but the header declares "
        r"\(2, 4\)",
    )
    refused(
        {**members, "layer0.W": members["layer0.W"].astype("<f8")},
        r"array 'layer0.W' has dtype <f8, but the header declares <f4",
    )
    declared_f8 = json.loads(json.dumps(header))
    declared_f8["arrays"]["layer0.W"][1] = "<f8"
    refused(
        members,
        r"array 'layer0.W' is declared as '<f8', but a float32 model stores "
        r"'<f4'",
        declared_f8,
    )
    nan = members["layer1.W"].copy()
    nan[2, 0] = np.nan
    refused({**members, "layer1.W": nan}, r"'layer1.W' holds NaN or inf")


def test_bad_scaler_is_refused(tmp_path):
    net, _ = small_classifier(["a", "b"])
    path = tmp_path / "clf.model"
    save_model(net, path)
    members = members_of(path)
    header = header_of(members)
    del members["header"]

    zero_scale = members["scaler.scale"].copy()
    zero_scale[1] = 0.0
    write_model(path, header, {**members, "scaler.scale": zero_scale})
    with pytest.raises(ModelFileError, match="input scaling is invalid"):
        load_model(path)

    del members["scaler.mean"], header["arrays"]["scaler.mean"]
    write_model(path, header, members)
    with pytest.raises(ModelFileError, match="does not list array 'scaler"):
        load_model(path)


def write_bomb(path: Path, members: dict, npy_header: bytes, n_zeros: int):
    """A model whose layer0.W member inflates to n_zeros extra bytes."""
    chunk = bytes(2**20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, value in members.items():
            if name == "layer0.W":
                continue
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, value)
            archive.writestr(f"{name}.npy", buffer.getvalue())
        with archive.open("layer0.W.npy", "w", force_zip64=True) as member:
            member.write(npy_header)
            for _ in range(n_zeros // len(chunk)):
                member.write(chunk)


@pytest.mark.parametrize(
    "declared_shape, message",
    [
        # The .npy header inside the member itself claims the huge shape.
        ((2, 2**22), r"has shape \(2, 4194304\), but the header declares"),
        # The .npy header is honest, but zeros follow the data.
        ((2, 4), r"would inflate to \d+ bytes, but shape \(2, 4\) of <f4 "),
    ],
)
def test_zip_bomb_member_is_refused_without_inflating(
    tmp_path, regressor_file, declared_shape, message
):
    _, members = regressor_file
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer,
        {"descr": "<f4", "fortran_order": False, "shape": declared_shape},
    )
    path = tmp_path / "bomb.model"
    write_bomb(path, members, buffer.getvalue(), n_zeros=32 * 2**20)
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("layer0.W.npy").file_size > 32 * 2**20
    assert path.stat().st_size < 2**20

    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=message):
            load_model(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20


def claim_size(path: Path, member: str, size: int) -> None:
    """Make the zip directory claim `size` bytes inflated for a member."""
    data = bytearray(path.read_bytes())
    # Central directory entries: the uncompressed size sits at offset 24,
    # the name length at 28 and the name at 46.
    start = data.find(b"PK\x01\x02")
    while not data[start + 46:].startswith(member.encode()):
        start = data.find(b"PK\x01\x02", start + 1)
    data[start + 24:start + 28] = size.to_bytes(4, "little")
    path.write_bytes(bytes(data))


def test_size_claimed_in_zip_directory_is_held_to_the_data(regressor_file):
    path, members = regressor_file
    with open(path, "wb") as fh:
        np.savez(fh, **members)  # stored, not deflated
    claim_size(path, "layer0.W.npy", 2**31)

    with pytest.raises(ModelFileError, match="which is impossible"):
        load_model(path)


def test_total_declared_size_is_capped_before_any_array_is_read(
    tmp_path, regressor_file
):
    # 1 MiB of incompressible bytes after layer0.W lets its member claim
    # about 1.07 GB inflated, within deflate's ratio, so no single member
    # looks impossible: only the total gives the file away. Zeros packed
    # this densely would make a real load allocate that much.
    _, members = regressor_file
    path = tmp_path / "huge.model"
    padding = np.random.default_rng(0).bytes(2**20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, value in members.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, value)
            extra = padding if name == "layer0.W" else b""
            archive.writestr(f"{name}.npy", buffer.getvalue() + extra)
    claim_size(path, "layer0.W.npy", 2**30 + 2**20)
    with zipfile.ZipFile(path) as archive:
        total = sum(info.file_size for info in archive.infolist())
    assert total > 2**30

    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError) as info:
            load_model(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20
    assert str(info.value) == (
        f"model file {str(path)!r} declares {total} bytes of weights and "
        f"header once inflated, over the limit of 1073741824 bytes; if you "
        f"trust the file, load it with max_bytes={total} (or max_bytes=None "
        f"for no limit)"
    )

    # A higher limit passes this check; the member's own size check, which
    # runs before inflating it, then finds the padding.
    with pytest.raises(ModelFileError, match="would inflate to"):
        Network.load(path, max_bytes=2**31)


def test_max_bytes_applies_to_ordinary_files_too(regressor_file):
    path, _ = regressor_file
    with pytest.raises(ModelFileError, match="over the limit of 1000 bytes"):
        load_model(path, max_bytes=1000)
    assert load_model(path, max_bytes=None).is_built
    with pytest.raises(ValueError, match="max_bytes must be >= 1, got 0"):
        load_model(path, max_bytes=0)
    with pytest.raises(TypeError, match="max_bytes must be an int"):
        load_model(path, max_bytes="1GB")


def test_history_with_nan_is_not_saved(tmp_path):
    net, _ = small_regressor()
    net.history.history["loss"][1] = float("inf")
    with pytest.raises(ValueError, match="history holds NaN or inf in 'loss'"):
        save_model(net, tmp_path / "reg.model")
    assert not (tmp_path / "reg.model").exists()


def test_hostile_values_are_cut_short_in_messages(regressor_file):
    path, members = regressor_file
    header = header_of(members)
    header["config"]["layers"][0]["activation"] = "x" * 10**6
    del members["header"]
    write_model(path, header, members)

    with pytest.raises(ModelFileError, match="activation 'xxx") as info:
        load_model(path)
    assert len(str(info.value)) < 400


def test_loader_source_never_unpickles():
    source = Path(persistence.__file__).read_text()
    assert "allow_pickle=True" not in source.replace(" ", "")

    tree = ast.parse(source)
    forbidden = {"pickle", "cPickle", "dill", "marshal", "shelve", "importlib"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {alias.name.split(".")[0] for alias in node.names}
            assert not names & forbidden
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in forbidden
        is_load = (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "load"
        )
        if is_load:
            keywords = {k.arg: k.value for k in node.keywords}
            flag = keywords.get("allow_pickle")
            assert isinstance(flag, ast.Constant) and flag.value is False


# ---------------------------------------------------------------------------
# Atomic writes and save errors
# ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "error",
    [
        OSError(28, "No space left on device"),
        RuntimeError("stopped halfway"),
        KeyboardInterrupt(),
    ],
    ids=["disk full", "bug", "ctrl-c"],
)
def test_failed_save_leaves_old_file_untouched(tmp_path, monkeypatch, error):
    old, _ = small_regressor(seed=0)
    path = tmp_path / "model.npz"
    save_model(old, path)
    before = path.read_bytes()
    seen = []

    def half_write(fh, **members):
        fh.write(before[: len(before) // 2])
        seen.extend(os.listdir(tmp_path))
        raise error

    new, _ = small_regressor(seed=1)
    monkeypatch.setattr(np, "savez_compressed", half_write)
    expected = ModelFileError if isinstance(error, OSError) else type(error)
    with pytest.raises(expected) as info:
        save_model(new, path)

    # The half-written data went to a temporary file beside the model.
    temporary = [name for name in seen if name != "model.npz"]
    assert len(temporary) == 1
    assert temporary[0].startswith(".model.npz.")
    assert temporary[0].endswith(".tmp")
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]
    if expected is ModelFileError:
        assert "No space left on device" in str(info.value)


def test_failed_rename_leaves_old_file_untouched(tmp_path, monkeypatch):
    old, _ = small_regressor(seed=0)
    path = tmp_path / "model.npz"
    save_model(old, path)
    before = path.read_bytes()

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(persistence.os, "replace", refuse)
    new, _ = small_regressor(seed=1)
    denied = r"\[Errno 13\] Permission denied"
    with pytest.raises(ModelFileError, match=denied):
        save_model(new, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]


def test_successful_save_replaces_the_old_model(tmp_path):
    old, X = small_regressor(seed=0)
    new, _ = small_regressor(seed=1)
    path = tmp_path / "model.npz"
    save_model(old, path)
    os.chmod(path, 0o640)
    save_model(new, path)

    assert os.listdir(tmp_path) == ["model.npz"]
    assert os.stat(path).st_mode & 0o777 == 0o640
    np.testing.assert_array_equal(load_model(path).predict(X), new.predict(X))


def test_save_into_missing_folder_is_refused(tmp_path):
    net, _ = small_regressor()
    target = tmp_path / "no" / "such" / "model.npz"
    with pytest.raises(ModelFileError, match=r"folder '.*no/such' does not"):
        save_model(net, target)
    assert not (tmp_path / "no").exists()


def test_save_onto_a_directory_is_refused(tmp_path):
    net, _ = small_regressor()
    with pytest.raises(ModelFileError, match="it is a directory"):
        save_model(net, tmp_path)


def test_save_without_permission_names_the_reason(tmp_path, monkeypatch):
    net, _ = small_regressor()

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", denied)
    path = tmp_path / "x.model"
    expected = (
        rf"cannot write model file '{path}': \[Errno 13\] Permission denied; "
        r"choose a writable folder"
    )
    with pytest.raises(ModelFileError, match=expected):
        save_model(net, path)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="needs a non-root POSIX user for folder permissions to apply",
)
def test_save_into_read_only_folder_is_refused(tmp_path):
    net, _ = small_regressor()
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ModelFileError, match="Permission denied"):
            save_model(net, folder / "m.model")
    finally:
        folder.chmod(0o700)


def test_unfitted_network_is_not_saved(tmp_path):
    net = Network(
        [Dense(3, "relu"), Dense(2, "softmax")],
        loss="categorical_crossentropy",
    )
    with pytest.raises(NotFittedError, match="not trained yet"):
        save_model(net, tmp_path / "m.model")
    # Built but never shown labels: predict could not name a class.
    net.build(4, seed=0)
    with pytest.raises(NotFittedError, match="no class labels"):
        save_model(net, tmp_path / "m.model")
    assert os.listdir(tmp_path) == []


def leaky_regressor(slope: float):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 2))
    net = Network([Dense(4, LeakyReLU(slope=slope)), Dense(1)], loss="mse")
    net.fit(X, X[:, 0], epochs=1, batch_size=4, seed=0)
    return net, X


def test_leaky_relu_slope_round_trips(tmp_path):
    net, X = leaky_regressor(slope=0.3)
    path = tmp_path / "leaky.model"
    save_model(net, path)

    layers = header_of(members_of(path))["config"]["layers"]
    assert layers[0]["activation"] == {"name": "leaky_relu", "slope": 0.3}
    assert layers[1]["activation"] == "identity"
    loaded = load_model(path)
    assert isinstance(loaded.layers[0].activation, LeakyReLU)
    assert loaded.layers[0].activation.slope == 0.3
    assert_same_network(net, loaded, X)
    # The slope matters here: the default one predicts differently.
    loaded.layers[0].activation = LeakyReLU()
    assert not np.array_equal(loaded.predict(X), net.predict(X))


def test_default_activation_settings_are_saved_as_a_name(tmp_path):
    # A bare name keeps the file readable by versions that knew only names.
    net, X = leaky_regressor(slope=0.01)
    save_model(net, tmp_path / "leaky.model")
    header = header_of(members_of(tmp_path / "leaky.model"))
    assert header["config"]["layers"][0]["activation"] == "leaky_relu"
    assert_same_network(net, load_model(tmp_path / "leaky.model"), X)


@pytest.mark.parametrize(
    "activation",
    [
        {"name": "tanh"},
        {"name": "leaky_relu"},
        {"name": "leaky_relu", "slope": 2},
    ],
    ids=["no settings", "default slope", "integer slope"],
)
def test_activation_config_forms_that_load(regressor_file, activation):
    path, members = regressor_file
    header = header_of(members)
    header["config"]["layers"][0]["activation"] = activation
    del members["header"]
    write_model(path, header, members)

    loaded = load_model(path).layers[0].activation
    assert loaded.config() == get_activation(activation).config()


BAD_SLOPES = {
    "nan": float("nan"),
    "inf": float("inf"),
    "-inf": float("-inf"),
    "text": "0.3",
    "bool": True,
    "null": None,
    "list": [0.3],
    "beyond float": 10**400,
}


@pytest.mark.parametrize("slope", BAD_SLOPES.values(), ids=BAD_SLOPES)
def test_bad_activation_slope_is_refused(regressor_file, slope):
    path, members = regressor_file
    header = header_of(members)
    activation = {"name": "leaky_relu", "slope": slope}
    header["config"]["layers"][0]["activation"] = activation
    del members["header"]
    write_model(path, header, members)

    message = (
        r"invalid header: config.layers\[0\].activation.slope must be a "
        r"finite number, got "
    )
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


@pytest.mark.parametrize(
    "activation, message",
    [
        (
            {"name": "swish"},
            r"config.layers\[0\].activation names an unknown activation "
            r"'swish'",
        ),
        ({"slope": 0.3}, r"activation names an unknown activation None"),
        (
            {"name": "relu", "slope": 0.3},
            r"config.layers\[0\].activation has unknown keys slope",
        ),
        (["leaky_relu", 0.3], r"unknown activation \['leaky_relu', 0.3\]"),
    ],
    ids=["unknown name", "no name", "unknown setting", "list"],
)
def test_bad_activation_config_is_refused(regressor_file, activation, message):
    path, members = regressor_file
    header = header_of(members)
    header["config"]["layers"][0]["activation"] = activation
    del members["header"]
    write_model(path, header, members)

    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_activation_the_loader_cannot_rebuild_is_not_saved(tmp_path):
    class Cube(Activation):
        name = "cube"

        def forward(self, z):
            return z**3

        def backward(self, grad, z, a):
            return grad * 3 * z**2

    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 2))
    net = Network([Dense(4, Cube()), Dense(1)], loss="mse")
    net.fit(X, X[:, 0], epochs=1, batch_size=4, seed=0)
    with pytest.raises(NotImplementedError, match=r"layer 0 uses Cube, "):
        save_model(net, tmp_path / "m.model")

    net, _ = leaky_regressor(slope=0.3)
    net.layers[0].activation.slope = float("nan")
    with pytest.raises(ValueError, match="layer 0's slope must be finite"):
        save_model(net, tmp_path / "m.model")
    assert os.listdir(tmp_path) == []


def test_bad_extra_and_diverged_weights_write_nothing(tmp_path):
    net, _ = small_regressor()
    path = tmp_path / "m.model"
    with pytest.raises(TypeError, match="extra must be a dict"):
        save_model(net, path, extra=["data.csv"])
    with pytest.raises(TypeError, match="extra must hold only JSON-ready"):
        save_model(net, path, extra={"X": np.zeros(3)})

    net.layers[1].params["W"][0, 0] = np.inf
    with pytest.raises(ValueError, match=r"layer1.W holds NaN or inf"):
        save_model(net, path)
    assert os.listdir(tmp_path) == []
