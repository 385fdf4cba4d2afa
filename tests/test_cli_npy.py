"""`scratchnn train --data FILE.npy`: a memory-mapped table, streamed.

The reference is the same table given as a CSV, which the CLI reads into
memory: the two runs must train the same model.
"""
import json

import numpy as np
import pytest

from scratchnn import Network, data
from scratchnn.cli import main


def run_cli(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def digits_table():
    X, y = data.load_dataset("digits")
    return np.column_stack([X, y])


def test_npy_trains_the_same_model_as_the_csv_of_that_table(
    tmp_path, capsys, digits_table
):
    npy = tmp_path / "digits.npy"
    np.save(npy, digits_table.astype(np.float32))  # whole numbers: exact
    csv = tmp_path / "digits.csv"
    header = ",".join([f"x{i}" for i in range(64)] + ["y"])
    np.savetxt(csv, digits_table, delimiter=",", header=header,
               comments="", fmt="%g")
    results, models = [], []
    for source in (npy, csv):
        out_path = tmp_path / f"{source.suffix[1:]}.npz"
        status, out, err = run_cli(
            capsys, "train", "--data", str(source), "--epochs", "4",
            "--json", "--no-plot", "--out", str(out_path),
        )
        assert status == 0, err
        assert "1437 training rows, 360 test rows" in err
        results.append(json.loads(out))
        models.append(Network.load(out_path))
    from_npy, from_csv = results
    for key in ("train_loss", "train_accuracy", "test_loss", "test_accuracy"):
        assert from_npy[key] == pytest.approx(from_csv[key], rel=1e-6), key
    assert from_npy["test_accuracy"] > 0.9
    for p, q in zip(models[0].parameters(), models[1].parameters(),
                    strict=True):
        np.testing.assert_array_equal(p, q)

    # evaluate finds the same held-out rows in the .npy file.
    status, out, err = run_cli(
        capsys, "evaluate", str(tmp_path / "npy.npz"), "--data", str(npy),
        "--json",
    )
    assert status == 0, err
    assert json.loads(out)["accuracy"] == from_npy["test_accuracy"]


def test_uint8_npy_with_labels_in_the_last_column(tmp_path, capsys,
                                                  digits_table):
    npy = tmp_path / "digits8.npy"
    np.save(npy, digits_table.astype(np.uint8))
    status, out, err = run_cli(
        capsys, "train", "--data", str(npy), "--epochs", "3", "--json",
        "--no-plot", "--out", str(tmp_path / "m.npz"),
    )
    assert status == 0, err
    assert json.loads(out)["test_accuracy"] > 0.85


@pytest.mark.parametrize(
    "content, message",
    [
        (np.arange(10.0), "must be 2-D"),
        (np.zeros((5, 1)), "needs at least one feature column"),
        (np.array([["a", "b"], ["c", "d"]]), "must be real numbers"),
        (np.array([[1.0, 0.0], [np.nan, 1.0], [2.0, 0.0]]), "row 1, column 0"),
    ],
)
def test_bad_npy_files_are_refused_with_a_reason(tmp_path, capsys, content,
                                                  message):
    path = tmp_path / "bad.npy"
    np.save(path, content)
    status, out, err = run_cli(
        capsys, "train", "--data", str(path), "--epochs", "1", "--no-plot",
        "--out", str(tmp_path / "m.npz"),
    )
    assert status == 1
    assert message in err
    assert "epoch" not in err  # refused before any training
    assert "Traceback" not in err
    assert not (tmp_path / "m.npz").exists()


def test_npy_that_needs_pickle_or_is_garbage_is_refused(tmp_path, capsys):
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([[1, None]], dtype=object), allow_pickle=True)
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"\x93NUMPY this is not a real header")
    for path in (objects, garbage):
        status, _, err = run_cli(
            capsys, "train", "--data", str(path), "--no-plot",
            "--out", str(tmp_path / "m.npz"),
        )
        assert status == 1
        assert "numpy.save" in err and "allow_pickle" not in err
    status, _, err = run_cli(
        capsys, "train", "--data", str(tmp_path / "missing.npy"),
        "--no-plot", "--out", str(tmp_path / "m.npz"),
    )
    assert status == 1 and "no such file" in err


def test_target_option_is_refused_for_npy(tmp_path, capsys):
    path = tmp_path / "t.npy"
    np.save(path, np.zeros((4, 3)))
    status, _, err = run_cli(capsys, "train", "--data", str(path),
                             "--target", "y", "--no-plot")
    assert status == 2
    assert "the target is the last column" in err


@pytest.mark.parametrize("content, reason", [
    (b"", "is empty"),
    (b"PK\x03\x04 a zip, not an array", "does not start as one does"),
    (b"\x93NUMPY\x01\x00", "cannot read"),  # cut short in the header
])
def test_files_that_are_not_npy_say_so_without_mentioning_pickle(
    tmp_path, capsys, content, reason
):
    path = tmp_path / "x.npy"
    path.write_bytes(content)
    status, _, err = run_cli(capsys, "train", "--data", str(path),
                             "--no-plot", "--out", str(tmp_path / "m.npz"))
    assert status == 1
    assert reason in err and "allow_pickle" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("cell, message", [
    ((5, 1), "nan.npy' contains nan at row 5, column 1"),
    ((150, 0), "nan.npy' contains nan at row 150, column 0"),
    ((7, 2), "the target (last column) holds nan at row 7"),
])
def test_nan_in_a_split_npy_is_named_by_its_row_in_the_file(
    tmp_path, capsys, cell, message
):
    table = np.random.default_rng(0).random((200, 3))
    table[:, 2] = np.arange(200) % 2
    table[cell] = np.nan
    path = tmp_path / "nan.npy"
    np.save(path, table)
    status, _, err = run_cli(capsys, "train", "--data", str(path),
                             "--epochs", "1", "--no-plot",
                             "--out", str(tmp_path / "m.npz"))
    assert status == 1
    assert message in err
    assert "epoch" not in err  # refused before any training
