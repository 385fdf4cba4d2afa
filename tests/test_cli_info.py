"""Seeing a model: `Network.summary()` and `scratchnn info`.

The counts and shapes printed are checked against the network's own
arrays and against the formula n_in * units (+ units with a bias), never
against the library's own arithmetic alone.
"""
import contextlib
import io
import json

import numpy as np
import pytest

from scratchnn import Dense, Network
from scratchnn.cli import main


def run_cli(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def layer_rows(summary: str) -> list[list[str]]:
    """The table's layer rows, split into cells (weights kept whole)."""
    lines = summary.splitlines()
    assert lines[0].split() == [
        "layer", "input", "output", "weights", "activation", "params"
    ]
    rows = []
    for line in lines[1:]:
        if not line[:1].isdigit():
            break
        # The weights cell holds spaces; the cells are 2+ spaces apart.
        rows.append([cell for cell in line.split("  ") if cell.strip()])
    return [[cell.strip() for cell in row] for row in rows]


def test_summary_counts_match_the_arrays_and_the_formula():
    net = Network(
        [Dense(5, "tanh"), Dense(3, {"name": "leaky_relu", "slope": 0.2},
                                 use_bias=False), Dense(2, "softmax")],
        loss="categorical_crossentropy", optimizer="sgd", lr=0.5,
    ).build(4, seed=0)
    rows = layer_rows(net.summary())

    # By hand: 4*5 + 5, 5*3 (no bias), 3*2 + 2.
    assert [int(row[-1]) for row in rows] == [25, 15, 8]
    for row, layer in zip(rows, net.layers, strict=True):
        arrays = sum(value.size for value in layer.params.values())
        assert int(row[-1]) == arrays
        assert row[1:3] == [str(layer.params["W"].shape[0]), str(layer.units)]
        assert f"W {layer.params['W'].shape}" in row[3]
    assert rows[1][3] == "W (5, 3)"
    assert rows[1][4] == "leaky_relu(slope=0.2)"
    assert "total parameters: 48" in net.summary()
    assert "loss: categorical_crossentropy  optimizer: sgd (lr 0.5" in (
        net.summary()
    )
    assert "training data: 4 features" in net.summary()


def test_summary_after_fit_shows_the_last_epoch():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 3)), rng.integers(0, 2, size=30)
    net = Network([Dense(4, "relu"), Dense(2, "softmax")],
                  loss="categorical_crossentropy", optimizer="adam")
    history = net.fit(X, y, epochs=3, seed=0)
    last = net.summary().splitlines()[-1]
    assert last == (
        f"after epoch 3: loss {history['loss'][-1]:.4f}  "
        f"accuracy {history['accuracy'][-1]:.4f}"
    )
    # Rows come only from what the command line records.
    net.metadata = {"train_shape": [30, 3]}
    assert "training data: 30 rows x 3 features" in net.summary()


def test_summary_of_an_unbuilt_network_shows_unknowns():
    net = Network([Dense(4, "relu"), Dense(1)], loss="mse")
    rows = layer_rows(net.summary())
    assert [row[1] for row in rows] == ["?", "?"]
    assert [row[-1] for row in rows] == ["?", "?"]
    assert "total parameters: ? (not built yet)" in net.summary()
    assert "training data" not in net.summary()


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory):
    """A 2-8-2 xor model and the metrics train printed for it."""
    folder = tmp_path_factory.mktemp("xor")
    model = folder / "m.npz"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(["train", "--data", "xor", "--epochs", "3", "-q",
                       "--layers", "8", "--no-plot", "--json",
                       "--out", str(model)])
    assert status == 0
    return model, json.loads(printed.getvalue())


def test_info_json_reports_the_arrays_and_the_run(xor_run, capsys):
    model, trained = xor_run
    status, out, err = run_cli(capsys, "info", str(model), "--json")
    assert status == 0, err
    assert err == ""
    info = json.loads(out)
    net = Network.load(model)

    for entry, layer in zip(info["layers"], net.layers, strict=True):
        shapes = {k: list(v.shape) for k, v in layer.params.items()}
        assert entry["weights"] == shapes
        assert entry["params"] == sum(v.size for v in layer.params.values())
        assert entry["params"] == entry["input"] * entry["output"] + entry[
            "output"
        ]
    assert [e["activation"]["name"] for e in info["layers"]] == [
        "relu", "softmax"
    ]
    # 2-8-2 by hand: 2*8 + 8 + 8*2 + 2.
    assert info["total_params"] == 42 == sum(p.size for p in net.parameters())
    assert info["loss"] == "categorical_crossentropy"
    assert info["optimizer"]["name"] == "adam"
    assert info["optimizer"]["lr"] == pytest.approx(0.003)
    assert info["classes"] == [0, 1]
    # xor has 200 rows; train holds 20% out for testing.
    assert info["train_shape"] == [160, 2]
    assert info["epochs"] == 3
    assert info["final_epoch"]["loss"] == net.history["loss"][-1]
    assert info["final_epoch"]["accuracy"] == net.history["accuracy"][-1]
    trained.pop("model")
    assert info["metrics"] == trained


def test_info_prints_the_summary_and_the_scores(xor_run, capsys):
    model, trained = xor_run
    status, out, err = run_cli(capsys, "info", str(model))
    assert status == 0, err
    net = Network.load(model)
    lines = out.splitlines()
    assert lines[0] == (
        f"model {model}: a classifier of 2 features, classes 0, 1"
    )
    assert net.summary() in out
    assert "training data: 160 rows x 2 features" in out
    assert "data xor (target y)" in lines
    assert f"test accuracy {trained['test_accuracy']:.4f}" in lines
    assert f"train loss {trained['train_loss']:.4f}" in lines


def test_info_on_a_missing_model_is_one_line(tmp_path, capsys):
    status, out, err = run_cli(capsys, "info", str(tmp_path / "none.npz"))
    assert status == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "does not exist" in err
