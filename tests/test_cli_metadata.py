"""What the command line reads from a model file besides the network.

`Network.save(extra=...)` keeps any JSON-ready dict, so the fields the
commands use may hold values of another kind; the history may be one the
loader must refuse, or one with curves shorter than the run; and the text
`info` prints may hold terminal control codes.
"""
import json

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from scratchnn import Dense, Network
from scratchnn.cli import main
from scratchnn.errors import ModelFileError


def run_cli(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def fitted(seed=0):
    """A 2-feature classifier after 3 epochs, and its data."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    net = Network([Dense(4, "relu"), Dense(2, "softmax")],
                  loss="categorical_crossentropy")
    net.fit(X, y, epochs=3, seed=seed)
    return net, X, y


@pytest.fixture
def data_file(tmp_path):
    _, X, y = fitted()
    path = tmp_path / "d.npy"
    np.save(path, np.column_stack([X, y]))
    return path


# ----------------------------------------------------------------------
# Fields of the wrong kind
# ----------------------------------------------------------------------
def test_data_of_the_wrong_kind_reads_as_not_recorded(tmp_path, data_file,
                                                      capsys):
    net, _, _ = fitted()
    model = str(tmp_path / "m.npz")
    net.save(model, extra={"data": 5})
    note = "gives data as 5, not a dataset name or a file path; ignoring it"

    status, out, err = run_cli(capsys, "evaluate", model)
    assert status == 1
    assert out == ""
    assert note in err
    assert err.splitlines()[-1] == (
        "scratchnn: error: give --data: the model does not record its data"
    )

    status, out, err = run_cli(capsys, "evaluate", model, "--data",
                               str(data_file))
    assert status == 0, err
    assert note in err
    assert out.startswith("loss ")

    # plot draws the curves and says why there is no boundary.
    status, _, err = run_cli(capsys, "plot", model)
    assert status == 0, err
    assert note in err
    assert "does not record its data" in err
    assert "(loss, accuracy)" in err

    status, out, err = run_cli(capsys, "info", model)
    assert status == 0, err
    assert note in err
    assert "\ndata " not in out


def test_metrics_of_the_wrong_kind_are_left_out_of_info(tmp_path, capsys):
    net, _, _ = fitted()
    model = str(tmp_path / "m.npz")
    net.save(model, extra={"metrics": [1], "target": "y"})

    status, out, err = run_cli(capsys, "info", model)
    assert status == 0, err
    assert "gives metrics as [1], not an object of finite numbers" in err
    assert out.splitlines()[-1].startswith("after epoch 3: loss ")

    status, out, _ = run_cli(capsys, "info", model, "--json")
    assert status == 0
    report = json.loads(out)
    assert report["metrics"] == {}
    assert report["target"] == "y"


def test_a_test_size_without_its_seed_is_ignored(tmp_path, data_file,
                                                 capsys):
    # Without the seed, the rows train held out cannot be found again.
    net, _, _ = fitted()
    model = str(tmp_path / "m.npz")
    net.save(model, extra={"data": str(data_file), "bundled": False,
                           "test_size": 0.2, "seed": "zero"})

    status, out, err = run_cli(capsys, "evaluate", model)
    assert status == 0, err
    assert "gives seed as 'zero', not an integer >= 0" in err
    assert "gives test_size but no seed" in err
    assert "scoring the" not in err
    # All 40 rows are scored.
    matrix = [line.split()[1:] for line in out.splitlines()[-2:]]
    assert sum(int(n) for row in matrix for n in row) == 40


# ----------------------------------------------------------------------
# Histories
# ----------------------------------------------------------------------
def test_a_history_without_loss_is_not_saved(tmp_path):
    net, _, _ = fitted()
    path = tmp_path / "m.npz"
    net.save(path)
    before = path.read_bytes()

    net.history.history = {"epochs": [1]}
    with pytest.raises(ValueError, match="history has 1 epochs but 0 loss"):
        net.save(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "history, words",
    [
        ({"epochs": [1]}, "history has 1 epochs but 0 loss values"),
        ({"epochs": [1, 2], "loss": [0.5]},
         "history has 2 epochs but 1 loss values"),
        ({"epochs": [1], "loss": [0.5], "accuracy": [0.1, 0.2]},
         r"history\['accuracy'\] has 2 values for 1 epochs"),
        ({"epochs": [1, 2], "loss": [0.5, 0.4], "val_loss": []},
         r"history\['val_loss'\] has 0 values for 2 epochs"),
        ({"loss": [0.5]}, r"history\['loss'\] has 1 values for 0 epochs"),
    ],
)
def test_a_history_that_does_not_fit_its_epochs_is_refused_on_load(
    history, words, tmp_path, capsys
):
    net, _, _ = fitted()
    path = tmp_path / "m.npz"
    net.save(path)
    with np.load(path, allow_pickle=False) as npz:
        members = {name: npz[name] for name in npz.files}
    header = json.loads(members.pop("header").tobytes())
    header["history"] = history
    text = json.dumps(header).encode()
    with open(path, "wb") as fh:
        np.savez_compressed(
            fh, header=np.frombuffer(text, dtype=np.uint8), **members
        )

    with pytest.raises(ModelFileError, match=words):
        Network.load(path)
    status, out, err = run_cli(capsys, "plot", str(path))
    assert status == 1
    assert out == ""
    assert err.startswith("scratchnn: error: model file")
    assert len(err.splitlines()) == 1


def test_curves_that_cover_only_some_epochs_are_left_out(tmp_path, capsys):
    # Validation added by a warm start covers only the later epochs.
    net, X, y = fitted()
    net.fit(X, y, epochs=2, seed=0, warm_start=True,
            validation_fraction=0.25)
    assert len(net.history["val_loss"]) == 2 < len(net.history)
    model = str(tmp_path / "m.npz")
    net.save(model)

    status, _, err = run_cli(capsys, "plot", model, "--out",
                             str(tmp_path / "p.png"))
    assert status == 0, err
    assert "wrote" in err and "(loss, accuracy)" in err
    assert ("warning: the history's val_loss holds 2 values for 5 epochs; "
            "that curve is not drawn") in err
    assert "val_accuracy holds 2 values for 5 epochs" in err
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


# ----------------------------------------------------------------------
# Control characters
# ----------------------------------------------------------------------
def test_info_escapes_control_characters(tmp_path, capsys):
    net, _, _ = fitted()
    model = str(tmp_path / "m.npz")
    net.save(model, extra={
        "data": "\x1b[31mred.csv",
        "target": "\x1b[2J",
        "metrics": {"acc\x1b[1m": 1.0},
        "train_shape": [40, 2],
    })

    status, out, err = run_cli(capsys, "info", model)
    assert status == 0, err
    assert "\x1b" not in out + err
    assert "data \\x1b[31mred.csv (target \\x1b[2J)" in out
    assert "acc\\x1b[1m 1.0000" in out
    assert "training data: 40 rows x 2 features" in out

    # JSON escapes them itself and keeps the values whole.
    status, out, _ = run_cli(capsys, "info", model, "--json")
    assert "\x1b" not in out
    assert json.loads(out)["target"] == "\x1b[2J"


def test_a_train_shape_of_the_wrong_kind_is_not_shown(tmp_path, capsys):
    net, _, _ = fitted()
    model = str(tmp_path / "m.npz")
    net.save(model, extra={"train_shape": ["\x1b[2J", 2]})

    status, out, err = run_cli(capsys, "info", model)
    assert status == 0, err
    assert "gives train_shape as ['\\x1b[2J', 2], not [rows, columns]" in err
    assert "training data: 2 features" in out
    assert "\x1b" not in out + err
