"""Tests for scratchnn.export_python: the network as a NumPy-only module.

The generated modules are run black-box: all of them in one fresh Python
process where `import scratchnn` fails (see RUNNER), fed X through .npy
files, and their outputs must equal `Network.predict` and `predict_proba`
bit for bit, with the same dtype and shape.
"""
import ast
import errno
import json
import os
import runpy
import subprocess
import sys

import numpy as np
import pytest

from scratchnn import SGD, Dense, ModelFileError, Network, NotFittedError
from scratchnn import export_python as export_module
from scratchnn.activations import ReLU
from scratchnn.cli import main
from scratchnn.export_python import export_python, to_python_source

N_FEATURES = 4

ACTIVATIONS = {
    "identity": "identity",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    # Not the default slope, so a lost slope would show.
    "leaky_relu": {"name": "leaky_relu", "slope": 0.3},
    "softmax": "softmax",
}

# Three labels of each kind; binary classifiers take the first two.
LABEL_SETS = {
    "int": [-4, 7, 12],
    "float": [0.5, 1.0, 2.5],
    "str": ["cat", "café", "dog"],
    "object": ["cat", "café", "dog"],
    "bool": [False, True],
}

# Runs each job's module with scratchnn unimportable and saves what it
# returns (or, for a "main" job, what it prints as a script).
RUNNER = '''\
import contextlib, json, runpy, sys

sys.modules["scratchnn"] = None  # any import of scratchnn now fails
import numpy as np

try:
    import scratchnn
    blocked = False
except ImportError:
    blocked = True

with open(sys.argv[1]) as fh:
    jobs = json.load(fh)
for job in jobs:
    if "argv" in job:
        sys.argv = [job["module"], *job["argv"]]
        with open(job["stdout"], "w") as out:
            with contextlib.redirect_stdout(out):
                runpy.run_path(job["module"], run_name="__main__")
        continue
    module = runpy.run_path(job["module"])
    X = np.load(job["X"], allow_pickle=False)
    results = {"predict": module["predict"](X)}
    if "predict_proba" in module:
        results["predict_proba"] = module["predict_proba"](X)
    np.savez(job["out"], **results)
print(json.dumps({"blocked": blocked}))
'''


def _features(rng, n: int, n_features: int = N_FEATURES) -> np.ndarray:
    # Off-centre columns with unequal spreads, so standardising matters;
    # the first rows are far out, so sigmoid and softmax saturate.
    loc = np.linspace(-2.0, 3.0, n_features)
    scale = np.linspace(0.5, 3.0, n_features)
    X = rng.normal(loc, scale, size=(n, n_features))
    X[:3] *= 1e3
    return X


def _randomise_biases(network, rng) -> None:
    # fit moves biases only a little from 0; large ones show a lost bias.
    for layer in network.layers:
        if layer.use_bias:
            layer.params["b"][...] = rng.normal(scale=0.5, size=layer.units)


def _regression(activation, dtype, use_bias, standardize):
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
    return network, _features(rng, 25)


def _classifier(kind, n_classes, dtype, standardize, zero_biases=False):
    """A trained classifier: sigmoid output for 2 labels, else softmax."""
    rng = np.random.default_rng(1)
    labels = LABEL_SETS[kind][:n_classes]
    y = np.array(labels, dtype=object if kind == "object" else None)
    y = y[rng.permutation(40) % n_classes]
    if n_classes == 2:
        output, loss = Dense(1, "sigmoid"), "binary_crossentropy"
    else:
        output, loss = Dense(n_classes, "softmax"), "categorical_crossentropy"
    network = Network(
        [Dense(6, "relu"), output],
        loss=loss,
        optimizer="adam",
        dtype=dtype,
        standardize=standardize,
    )
    network.fit(_features(rng, 40), y, epochs=3, seed=0)
    X = _features(rng, 30)
    if zero_biases:
        # Then a row of zeros has z = 0 exactly at the output: p = 0.5
        # for a sigmoid, a tie of all classes for a softmax.
        for layer in network.layers:
            layer.params["b"][...] = 0.0
        X[5] = 0.0
    else:
        _randomise_biases(network, rng)
    return network, X


def _tutorial():
    """The article's 3-4-1 sigmoid network: no biases, U[0, 1) weights."""
    X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
    y = np.array([[0], [1], [1], [0]], dtype=float)
    network = Network(
        [Dense(4, "sigmoid", use_bias=False, init="uniform"),
         Dense(1, "sigmoid", use_bias=False, init="uniform")],
        loss="sse",
        optimizer=SGD(lr=1.0),
        dtype="float64",
    )
    network.fit(X, y, epochs=200, batch_size=None, seed=0)
    return network, X


def _wide(dtype):
    """Large enough for the matrix products to take BLAS's blocked path."""
    rng = np.random.default_rng(2)
    network = Network(
        [Dense(96, "relu"), Dense(48, "tanh"), Dense(10, "softmax")],
        loss="categorical_crossentropy",
        dtype=dtype,
        standardize=True,
    )
    X = _features(rng, 400, 64)
    network.fit(X, rng.integers(0, 10, 400), epochs=1, seed=0)
    return network, _features(rng, 700, 64)


def _near_tie():
    """Logits 0 and 1e-9 (float32): distinct, yet equal probabilities."""
    network, X = _classifier("str", 3, "float32", False)
    for layer in network.layers:
        layer.params["W"][...] = 0.0
    network.layers[-1].params["b"][...] = [0.0, 1e-9, -5.0]
    # softmax gives exp(-1e-9) = 1.0 in float32 for both, so only the
    # logits tell the second class (the larger z, as predict has it).
    return network, X


def _with_inputs(build, x_dtype):
    """A case whose X arrives as another dtype (scratchnn casts it)."""
    def case():
        network, X = build()
        if x_dtype == "int64":
            return network, np.round(X).astype(np.int64)
        return network, X.astype(x_dtype)
    return case


def _empty_input():
    network, X = _classifier("str", 3, "float32", True)
    return network, X[:0]


CASES = {}
for _act in ACTIVATIONS:
    for _dtype in ("float32", "float64"):
        for _bias in (True, False):
            for _std in (False, True):
                _name = f"regression-{_act}-{_dtype}-bias{_bias}-std{_std}"
                CASES[_name] = (
                    lambda a=_act, d=_dtype, b=_bias, s=_std:
                    _regression(a, d, b, s)
                )
REGRESSION_CASES = list(CASES)
for _kind in LABEL_SETS:
    for _n in (2, 3) if _kind != "bool" else (2,):
        for _dtype in ("float32", "float64"):
            for _std in (False, True):
                _name = f"classifier-{_kind}-{_n}-{_dtype}-std{_std}"
                CASES[_name] = (
                    lambda k=_kind, n=_n, d=_dtype, s=_std:
                    _classifier(k, n, d, s)
                )
CASES["binary-tie-at-one-half"] = (
    lambda: _classifier("int", 2, "float32", False, zero_biases=True)
)
CASES["multiclass-tie"] = (
    lambda: _classifier("str", 3, "float64", False, zero_biases=True)
)
CASES["near-tie-logits"] = _near_tie
CASES["tutorial"] = _tutorial
CASES["wide-float32"] = lambda: _wide("float32")
CASES["wide-float64"] = lambda: _wide("float64")
for _x_dtype in ("float32", "int64"):
    for _net_dtype in ("float32", "float64"):
        for _std in (False, True):
            CASES[f"x-{_x_dtype}-net-{_net_dtype}-std{_std}"] = _with_inputs(
                lambda d=_net_dtype, s=_std: _regression("tanh", d, True, s),
                _x_dtype,
            )
CASES["empty-input"] = _empty_input


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every case exported and run in one process without scratchnn.

    Returns {name: (network, X, source, outputs)}, plus "blocked": whether
    the process really could not import scratchnn.
    """
    folder = tmp_path_factory.mktemp("export_python")
    cases, jobs = {}, []
    for i, (name, build) in enumerate(CASES.items()):
        network, X = build()
        module = folder / f"model_{i}.py"
        export_python(network, module)
        np.save(folder / f"X_{i}.npy", X)
        jobs.append({"module": str(module), "X": str(folder / f"X_{i}.npy"),
                     "out": str(folder / f"out_{i}.npz")})
        cases[name] = (network, X, module.read_text(encoding="utf-8"), i)

    (folder / "runner.py").write_text(RUNNER, encoding="utf-8")
    (folder / "jobs.json").write_text(json.dumps(jobs), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(folder / "runner.py"), str(folder / "jobs.json")],
        cwd=folder, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr

    results = {"blocked": json.loads(done.stdout)["blocked"]}
    for name, (network, X, source, i) in cases.items():
        with np.load(folder / f"out_{i}.npz", allow_pickle=True) as saved:
            outputs = {key: saved[key] for key in saved.files}
        results[name] = (network, X, source, outputs)
    return results


def _assert_identical(actual: np.ndarray, expected: np.ndarray) -> None:
    """Same dtype, shape and bytes: bit for bit, -0.0 and all."""
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    assert actual.tobytes() == expected.tobytes()


# ---------------------------------------------------------------------------
# Run without scratchnn, the file predicts what Network.predict does
# ---------------------------------------------------------------------------

def test_the_runner_could_not_import_scratchnn(runs):
    assert runs["blocked"] is True


@pytest.mark.parametrize("name", list(CASES))
def test_source_imports_only_numpy_and_sys(name, runs):
    source = runs[name][2]
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported == {"numpy", "sys"}
    assert "import scratchnn" not in source
    assert "from scratchnn" not in source


@pytest.mark.parametrize("name", REGRESSION_CASES + ["tutorial"])
def test_regression_values_equal_predict(name, runs):
    network, X, _, outputs = runs[name]

    _assert_identical(outputs["predict"], network.predict(X))
    # A regression module has no probabilities, as the network has none.
    assert "predict_proba" not in outputs


CLASSIFIER_CASES = [
    name for name in CASES
    if name not in REGRESSION_CASES and name != "tutorial"
    and not name.startswith("x-")
]


@pytest.mark.parametrize("name", CLASSIFIER_CASES)
def test_classifier_labels_and_probabilities_equal_predict(name, runs):
    network, X, _, outputs = runs[name]

    expected = network.predict(X)
    assert outputs["predict"].dtype == expected.dtype
    np.testing.assert_array_equal(outputs["predict"], expected)
    _assert_identical(outputs["predict_proba"], network.predict_proba(X))


@pytest.mark.parametrize("name", [n for n in CASES if n.startswith("x-")])
def test_other_input_dtypes_are_cast_as_scratchnn_casts_them(name, runs):
    network, X, _, outputs = runs[name]

    _assert_identical(outputs["predict"], network.predict(X))


def test_ties_resolve_as_in_scratchnn(runs):
    # z = 0 exactly: p = 0.5 is the second class, a tie the first.
    network, X, _, outputs = runs["binary-tie-at-one-half"]
    assert network.predict_proba(X[5:6])[0, 1] == 0.5
    assert outputs["predict"][5] == network.classes_[1]

    network, X, _, outputs = runs["multiclass-tie"]
    assert len(set(network.predict_proba(X[5:6])[0])) == 1
    assert outputs["predict"][5] == network.classes_[0]


def test_class_comes_from_the_logits_not_the_probabilities(runs):
    network, X, _, outputs = runs["near-tie-logits"]
    p = network.predict_proba(X)
    assert (p[:, 0] == p[:, 1]).all()
    assert (outputs["predict"] == network.classes_[1]).all()


def test_object_labels_come_back_as_objects(runs):
    network, X, _, outputs = runs["classifier-object-3-float32-stdTrue"]
    assert outputs["predict"].dtype == object
    assert set(outputs["predict"]) <= {"cat", "café", "dog"}


def test_empty_input_gives_empty_outputs(runs):
    _, _, _, outputs = runs["empty-input"]
    assert outputs["predict"].shape == (0,)
    assert outputs["predict_proba"].shape == (0, 3)


# ---------------------------------------------------------------------------
# The file as a script
# ---------------------------------------------------------------------------

def _run_as_script(module, argv, tmp_path) -> list[str]:
    """What `python module *argv` prints, scratchnn unimportable."""
    stdout = tmp_path / "stdout.txt"
    jobs = [{"module": str(module), "argv": argv, "stdout": str(stdout)}]
    (tmp_path / "runner.py").write_text(RUNNER, encoding="utf-8")
    (tmp_path / "jobs.json").write_text(json.dumps(jobs), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(tmp_path / "runner.py"),
         str(tmp_path / "jobs.json")],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return stdout.read_text(encoding="utf-8").splitlines()


def test_script_prints_one_label_per_row_of_a_csv(tmp_path):
    network, X = _classifier("str", 3, "float64", True)
    export_python(network, tmp_path / "model.py")
    header = ",".join(f"x{j}" for j in range(N_FEATURES))
    # repr keeps every digit, so the CSV holds X exactly.
    rows = [",".join(repr(float(v)) for v in row) for row in X]
    (tmp_path / "X.csv").write_text("\n".join([header, *rows]) + "\n")

    printed = _run_as_script(tmp_path / "model.py", ["X.csv"], tmp_path)

    assert printed == [str(label) for label in network.predict(X)]


def test_script_prints_values_that_read_back_exactly(tmp_path):
    network, X = _regression("sigmoid", "float64", True, True)
    export_python(network, tmp_path / "model.py")
    np.save(tmp_path / "X.npy", X)

    printed = _run_as_script(tmp_path / "model.py", ["X.npy"], tmp_path)

    values = np.array([[float(v) for v in line.split(",")]
                       for line in printed])
    _assert_identical(values, network.predict(X))


# ---------------------------------------------------------------------------
# The numbers, exactly
# ---------------------------------------------------------------------------

SPECIAL = [-0.0, 1.0 / 3.0, -2.5e-38, 1e-45, 3.4028234e38, 1e20, -7.0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_weights_and_scaling_come_back_bit_for_bit(dtype, tmp_path):
    network, X = _regression("tanh", dtype, True, True)
    # Signed zero, subnormals, extremes and values no short text holds.
    W = network.layers[0].params["W"]
    W.flat[:len(SPECIAL)] = SPECIAL
    if dtype == "float64":
        W.flat[0:3] = [5e-324, 1.7976931348623157e308, 0.1 + 0.2]
    network.scaler.mean_[:2] = [1.0 / 3.0, -0.0]
    export_python(network, tmp_path / "model.py")

    module = runpy.run_path(str(tmp_path / "model.py"))

    for i, layer in enumerate(network.layers):
        _assert_identical(module[f"W{i}"], layer.params["W"])
        _assert_identical(module[f"b{i}"], layer.params["b"])
    _assert_identical(module["MEAN"], network.scaler.mean_)
    _assert_identical(module["SCALE"], network.scaler.scale_)
    assert module["DTYPE"] is np.dtype(dtype).type


def test_a_float32_text_that_reads_back_wrong_is_written_in_full():
    rng = np.random.default_rng(0)
    values = rng.normal(size=200).astype(np.float32)
    values[:2] = [-0.0, 3.0]
    # Too few digits for most float32s, and "-0" and "3" read as ints.
    lossy = export_module._float_literals(
        values, shortest=lambda v: f"{v:.3g}"
    )

    back = np.array([ast.literal_eval(t) for t in lossy], dtype=np.float32)
    _assert_identical(back, values)
    assert all(isinstance(ast.literal_eval(t), float) for t in lossy)
    assert sum(len(t) > 10 for t in lossy) > 100  # the fallback was used


@pytest.mark.parametrize("kind", ["int", "float", "str", "bool"])
def test_class_labels_come_back_as_they_were(kind, tmp_path):
    network, _ = _classifier(kind, 2, "float32", False)
    export_python(network, tmp_path / "model.py")

    module = runpy.run_path(str(tmp_path / "model.py"))

    _assert_identical(module["CLASSES"], network.classes_)


def test_float32_labels_keep_their_dtype(tmp_path):
    network, X = _classifier("float", 3, "float32", False)
    network.encoder.classes_ = np.array([0.1, 0.2, 0.3], dtype=np.float32)
    export_python(network, tmp_path / "model.py")

    module = runpy.run_path(str(tmp_path / "model.py"))

    _assert_identical(module["CLASSES"], network.classes_)
    _assert_identical(module["predict"](X), network.predict(X))


def test_same_network_gives_the_same_text():
    network, _ = _classifier("str", 3, "float32", True)
    assert to_python_source(network) == to_python_source(network)


# ---------------------------------------------------------------------------
# Readable
# ---------------------------------------------------------------------------

def test_file_states_architecture_classes_and_equations():
    network, _ = _classifier("str", 3, "float32", True)
    network.layers[1].use_bias = False
    del network.layers[1].params["b"]

    source = to_python_source(network)
    docstring = ast.get_docstring(ast.parse(source))

    assert "4 inputs -> 6 relu -> 3 softmax (no bias)" in docstring
    assert "'café', 'cat', 'dog'" in docstring
    assert "predict_proba(X)" in docstring
    assert "(x - MEAN) / SCALE" in docstring
    assert "# Layer 0: a = relu(a W0 + b0)" in source
    assert "# Layer 1 (output): z = a W1; the caller applies softmax" in source
    assert "z = a @ W0 + b0" in source
    assert "return a @ W1  #" in source
    assert max(len(line) for line in source.splitlines()) <= 79


def test_leaky_relu_slope_is_written_at_the_call():
    network, _ = _regression("leaky_relu", "float32", True, False)
    source = to_python_source(network)
    assert "a = leaky_relu(z, slope=0.3)" in source
    assert "def softmax" not in source  # only the activations in use


# ---------------------------------------------------------------------------
# The generated predict checks its input
# ---------------------------------------------------------------------------

def test_generated_predict_refuses_bad_inputs(tmp_path):
    network, X = _classifier("int", 3, "float32", True)
    export_python(network, tmp_path / "model.py")
    module = runpy.run_path(str(tmp_path / "model.py"))

    with pytest.raises(ValueError, match=r"shape \(n_samples, 4\)"):
        module["predict"](X[:, :3])
    with pytest.raises(ValueError, match=r"shape \(n_samples, 4\)"):
        module["predict"](X[0])
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        module["predict"](X)


def test_generated_predict_refuses_values_beyond_float32(tmp_path):
    network, X = _regression("tanh", "float32", True, False)
    export_python(network, tmp_path / "model.py")
    module = runpy.run_path(str(tmp_path / "model.py"))
    X[0, 0] = 1e39

    with pytest.raises(ValueError, match="too large for float32"):
        module["predict"](X)


# ---------------------------------------------------------------------------
# What cannot be exported
# ---------------------------------------------------------------------------

def test_too_many_parameters_refused_with_alternatives(tmp_path):
    limit = export_module.MAX_PARAMETERS
    # One weight per input and one bias: limit + 1 parameters.
    network = Network([Dense(1)]).build(limit, seed=0)
    path = tmp_path / "model.py"

    with pytest.raises(ValueError) as error:
        export_python(network, path)

    message = str(error.value)
    assert f"{limit + 1:,} parameters" in message
    assert "ONNX" in message and ".npz" in message
    assert not path.exists()


def test_the_limit_counts_weights_and_biases(monkeypatch):
    network = Network([Dense(3, "tanh"), Dense(2)]).build(4, seed=0)
    n_params = 4 * 3 + 3 + 3 * 2 + 2

    monkeypatch.setattr(export_module, "MAX_PARAMETERS", n_params)
    to_python_source(network)
    monkeypatch.setattr(export_module, "MAX_PARAMETERS", n_params - 1)
    with pytest.raises(ValueError, match=f"it has {n_params} parameters"):
        to_python_source(network)


class DoubledReLU(ReLU):
    """A subclass that keeps the name "relu" but computes something else."""

    def forward(self, z, out=None):
        return 2.0 * np.maximum(z, 0.0)


def test_custom_activation_refused(tmp_path):
    network = Network([Dense(3, DoubledReLU()), Dense(1)])
    network.build(N_FEATURES, seed=0)
    path = tmp_path / "model.py"

    message = r"cannot export layer 0 as Python: its activation DoubledReLU"
    with pytest.raises(NotImplementedError, match=message):
        export_python(network, path)
    assert not path.exists()


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
def test_unfitted_network_refused(network, match):
    with pytest.raises(NotFittedError, match=match):
        to_python_source(network)


def test_not_a_network_refused():
    with pytest.raises(TypeError, match="got str"):
        to_python_source("model.npz")


def test_diverged_weights_refused():
    network = Network([Dense(3, "tanh"), Dense(1)]).build(N_FEATURES, seed=0)
    network.layers[1].params["W"][0, 0] = np.nan

    with pytest.raises(ValueError, match="layer 1's W holds NaN or inf"):
        to_python_source(network)


def test_weights_in_another_dtype_refused():
    network = Network([Dense(3, "tanh"), Dense(1)]).build(N_FEATURES, seed=0)
    layer = network.layers[0]
    layer.params["W"] = layer.params["W"].astype(np.float64)

    message = "layer 0's W has dtype float64, not float32"
    with pytest.raises(ValueError, match=message):
        to_python_source(network)


def test_broken_activation_setting_refused():
    network = Network([Dense(3, "leaky_relu"), Dense(1)])
    network.build(N_FEATURES, seed=0)
    network.layers[0].activation.slope = float("inf")

    with pytest.raises(ValueError, match="cannot export layer 0: slope"):
        to_python_source(network)


# ---------------------------------------------------------------------------
# Writing the file
# ---------------------------------------------------------------------------

def _disk_full(fd):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    network, _ = _classifier("int", 2, "float32", False)
    path = tmp_path / "model.py"
    path.write_text("old")

    # fsync runs inside the atomic write, after the text went out.
    monkeypatch.setattr(os, "fsync", _disk_full)
    with pytest.raises(ModelFileError, match="No space left on device"):
        export_python(network, path)

    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["model.py"]


def test_bad_destination_refused(tmp_path):
    network, _ = _classifier("int", 2, "float32", False)

    with pytest.raises(ModelFileError, match="it is a directory"):
        export_python(network, tmp_path)
    with pytest.raises(ModelFileError, match="does not exist"):
        export_python(network, tmp_path / "missing" / "model.py")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    network, X = _classifier("str", 3, "float32", True)
    path = tmp_path_factory.mktemp("cli") / "m.npz"
    network.save(path)
    return path, X


@pytest.mark.parametrize("out, flags", [
    ("m.py", []),
    ("model.txt", ["--format", "python"]),
])
def test_cli_export_writes_a_module_that_predicts_like_the_model(
    out, flags, saved_model, tmp_path, capsys
):
    model, X = saved_model
    out = tmp_path / out

    status = main(["export", str(model), str(out), *flags])
    stdout, stderr = capsys.readouterr()

    assert status == 0, stderr
    assert stdout == ""
    assert f"wrote {out} (python, {out.stat().st_size} bytes)" in stderr
    module = runpy.run_path(str(out))
    loaded = Network.load(model)
    np.testing.assert_array_equal(module["predict"](X), loaded.predict(X))
    _assert_identical(module["predict_proba"](X), loaded.predict_proba(X))


def test_cli_too_large_model_is_an_error(saved_model, tmp_path, capsys,
                                         monkeypatch):
    model, _ = saved_model
    monkeypatch.setattr(export_module, "MAX_PARAMETERS", 10)
    out = tmp_path / "m.py"

    status = main(["export", str(model), str(out)])
    _, stderr = capsys.readouterr()

    assert status == 1
    assert "scratchnn: error: cannot export this network as Python" in stderr
    assert "--format onnx" in stderr
    assert not out.exists()
