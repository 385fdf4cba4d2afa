"""The `scratchnn` command, run as a user would: arguments in, words out."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scratchnn import Network
from scratchnn.cli import main

from conftest import CASES_DIR, load_case

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_cli(capsys, *argv):
    """Run main() in-process; return (exit status, stdout, stderr)."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def run_module(*argv, cwd):
    """Run `python -m scratchnn` in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "scratchnn", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def case_csv(name: str) -> str:
    return str(CASES_DIR / name)


def write_csv(path: Path, header: str, rows: list[str]) -> str:
    path.write_text("\n".join([header, *rows]) + "\n")
    return str(path)


# ----------------------------------------------------------------------
# The main job and the tutorial
# ----------------------------------------------------------------------
def test_train_defaults_on_digits_reach_097(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli(capsys, "train", "--json")

    assert status == 0, err
    metrics = json.loads(out)
    assert metrics["test_accuracy"] >= 0.97
    assert "1437 training rows, 360 test rows" in err
    assert "64-64-10" in err
    # The model and the picture of its curves are both written.
    assert (tmp_path / "model.npz").stat().st_size > 0
    png = (tmp_path / "model.png").read_bytes()
    assert png.startswith(PNG_SIGNATURE) and len(png) > 5000


def test_train_mnist_5k_reaches_090(tmp_path, capsys):
    out_path = tmp_path / "mnist.npz"
    status, out, err = run_cli(
        capsys, "train", "--data", "mnist-5k", "--json", "--no-plot",
        "--out", str(out_path),
    )
    assert status == 0, err
    assert json.loads(out)["test_accuracy"] >= 0.90
    assert not (tmp_path / "mnist.png").exists()


def test_train_prints_one_line_per_epoch_off_a_terminal(tmp_path, capsys):
    status, out, err = run_cli(
        capsys, "train", "--data", "xor", "--epochs", "3",
        "--out", str(tmp_path / "m.npz"), "--no-plot",
    )
    assert status == 0, err
    epoch_lines = [
        line for line in err.splitlines() if line.startswith("epoch ")
    ]
    assert [line.split()[1] for line in epoch_lines] == ["1/3", "2/3", "3/3"]
    assert "loss" in epoch_lines[0] and "acc" in epoch_lines[0]
    assert out.splitlines()[-1].startswith("test accuracy ")


def test_quiet_train_prints_results_only(tmp_path, capsys):
    status, out, err = run_cli(
        capsys, "train", "--data", "xor", "--epochs", "2", "-q",
        "--out", str(tmp_path / "m.npz"), "--no-plot",
    )
    assert status == 0
    assert err == ""
    assert "test accuracy" in out


def test_tutorial_predictions_match_targets(capsys):
    status, out, err = run_cli(capsys, "tutorial", "--json")
    assert status == 0, err
    result = json.loads(out)
    assert len(result["loss"]) == 1500
    assert np.allclose(result["predictions"], [0, 1, 1, 0], atol=0.1)


def test_tutorial_prints_loss_every_100_iterations(capsys):
    status, out, _ = run_cli(capsys, "tutorial", "--seed", "3")
    assert status == 0
    iterations = [
        int(line.split()[1])
        for line in out.splitlines()
        if line.startswith("iteration")
    ]
    assert iterations == [1] + list(range(100, 1501, 100))
    # The table ends with the four inputs, their targets and predictions.
    rows = out.strip().splitlines()[-4:]
    targets = [int(row.split()[3]) for row in rows]
    guesses = [float(row.split()[4]) for row in rows]
    assert targets == [0, 1, 1, 0]
    assert np.allclose(guesses, targets, atol=0.1)


def test_python_dash_m_runs_the_same_command(tmp_path):
    done = run_module("tutorial", "--json", "--epochs", "10", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["loss"]) == 10


# ----------------------------------------------------------------------
# evaluate and predict
# ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits")
    path = folder / "digits.npz"
    status = main(["train", "--epochs", "30", "-q", "--no-plot",
                   "--out", str(path)])
    assert status == 0
    return path


def test_evaluate_scores_the_held_out_rows(digits_model, capsys):
    status, out, err = run_cli(capsys, "evaluate", str(digits_model), "--json")
    assert status == 0, err
    report = json.loads(out)
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (10, 10)
    # The held-out test split of digits has 360 rows; the matrix counts them
    # and its diagonal agrees with the accuracy.
    assert matrix.sum() == 360
    assert np.trace(matrix) / 360 == pytest.approx(report["accuracy"])
    assert report["classes"] == list(range(10))


def test_evaluate_prints_a_confusion_matrix(digits_model, capsys):
    status, out, _ = run_cli(capsys, "evaluate", str(digits_model))
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("loss ") and lines[1].startswith("accuracy ")
    assert "confusion matrix" in lines[2]
    assert lines[3].split() == [str(d) for d in range(10)]
    assert len(lines) == 4 + 10


def test_predict_prints_one_label_per_row(tmp_path, capsys):
    train_csv = case_csv("C21_ok.csv")
    model = tmp_path / "iris.npz"
    status, _, err = run_cli(
        capsys, "train", "--data", train_csv, "--epochs", "200",
        "--out", str(model), "--no-plot", "-q",
    )
    assert status == 0, err
    # Columns in another order, and no target column: matched by name.
    rows = write_csv(
        tmp_path / "new.csv", "petal_len,sepal_len,sepal_wid",
        ["1.4,5.0,3.4", "5.0,6.5,3.0"],
    )
    status, out, err = run_cli(capsys, "predict", str(model), rows)
    assert status == 0, err
    predictions = out.split()
    assert len(predictions) == 2
    assert set(predictions) <= {"setosa", "versicolor", "virginica"}
    assert predictions[0] == "setosa"

    out_csv = tmp_path / "pred.csv"
    status, _, _ = run_cli(capsys, "predict", str(model), rows,
                           "--out", str(out_csv))
    assert status == 0
    assert out_csv.read_text().splitlines()[0] == "prediction"
    assert out_csv.read_text().splitlines()[1:] == predictions


def test_c10_predict_csv_with_other_columns_is_refused(tmp_path, capsys):
    model = tmp_path / "m.npz"
    train = write_csv(tmp_path / "train.csv", "a,b,c,label",
                      [f"{i},{i % 3},{i % 2},{i % 2}" for i in range(12)])
    assert main(["train", "--data", train, "--epochs", "2", "-q",
                 "--no-plot", "--out", str(model)]) == 0
    capsys.readouterr()
    wider = write_csv(tmp_path / "wide.csv", "a,b,c,d", ["1,2,3,4"])
    status, out, err = run_cli(capsys, "predict", str(model), wider)
    assert status == 1 and out == ""
    assert "does not know: 'd'" in err and "'a', 'b', 'c'" in err
    narrower = write_csv(tmp_path / "narrow.csv", "a,b", ["1,2"])
    status, _, err = run_cli(capsys, "predict", str(model), narrower)
    assert status == 1
    assert "lacks the column(s) 'c'" in err


# ----------------------------------------------------------------------
# Field cases at the command line
# ----------------------------------------------------------------------
def test_c21_bad_cells_are_named_and_nothing_is_written(tmp_path):
    out_path = tmp_path / "model.npz"
    out_path.write_bytes(b"an earlier model")
    done = run_module("train", "--data", case_csv("C21.csv"),
                      "--out", str(out_path), cwd=tmp_path)

    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    message = done.stderr.strip()
    assert len(message.splitlines()) == 1
    assert "C21.csv line 4, column 'sepal_wid': 'n/a' is not a number" in message
    assert "line 6, column 'sepal_wid'" in message
    assert "fix or remove" in message
    assert out_path.read_bytes() == b"an earlier model"
    assert not (tmp_path / "model.png").exists()


def test_c21_repaired_file_trains_with_string_labels(tmp_path, capsys):
    status, out, err = run_cli(
        capsys, "train", "--data", case_csv("C21_ok.csv"), "--json",
        "--no-plot", "--out", str(tmp_path / "m.npz"),
    )
    assert status == 0, err
    assert "6 rows are too few" in err
    assert "training and reporting on all of them" in err
    assert "train_accuracy" in json.loads(out)


def test_c19_header_only_csv_is_refused(tmp_path, capsys):
    status, _, err = run_cli(capsys, "train", "--data", case_csv("C19.csv"),
                             "--out", str(tmp_path / "m.npz"))
    assert status == 1
    assert "no data rows" in err
    assert not (tmp_path / "m.npz").exists()


def test_c17_nan_in_csv_names_the_line_and_keeps_the_old_model(
    tmp_path, capsys
):
    data = write_csv(tmp_path / "nan.csv", "x1,x2,y",
                     ["0,1,0", "1,0.5,0", "2,nan,1", "3,1.5,1"])
    out_path = tmp_path / "model.npz"
    out_path.write_bytes(b"keep me")
    status, _, err = run_cli(capsys, "train", "--data", data,
                             "--out", str(out_path))
    assert status == 1
    assert "line 4, column 'x2'" in err
    assert out_path.read_bytes() == b"keep me"


def test_c27_xor_csv_reaches_full_training_accuracy(tmp_path, capsys):
    status, out, err = run_cli(
        capsys, "train", "--data", case_csv("C27.csv"), "--seed", "0",
        "--json", "--no-plot", "--out", str(tmp_path / "xor.npz"),
    )
    assert status == 0, err
    assert json.loads(out)["train_accuracy"] == 1.0


def test_c22_hostile_files_are_refused_without_running(tmp_path):
    case = load_case("C22")
    paths = case.build(tmp_path / "hostile")
    for path in paths.values():
        for command in ("predict", "evaluate"):
            extra = [str(tmp_path / "rows.csv")] if command == "predict" else [
                "--data", "digits"]
            done = run_module(command, path, *extra, cwd=tmp_path)
            assert done.returncode == 1, (path, done.stderr)
            assert case.MARKER not in done.stdout + done.stderr
            assert "Traceback" not in done.stderr
            assert "model file" in done.stderr


# ----------------------------------------------------------------------
# Mistakes
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, words",
    [
        (["train", "--data", "nope"], "unknown dataset 'nope'"),
        (["train", "--data", "missing.csv"], "does not exist"),
        (["train", "--out", "no/such/folder/m.npz"], "does not exist"),
        (["train", "--out", "m.npz", "--plot", "m.npz"], "would both write"),
        (["train", "--out", "m.png"], "would both write"),
        (["train", "--data", "digits", "--loss", "binary_crossentropy"],
         "needs exactly 2 classes, but the target has 10"),
        (["predict", "missing.npz", "x.csv"], "missing.npz"),
        (["predict", "m.npz", "x.csv", "--out", "m.npz"],
         "would overwrite the model"),
    ],
)
def test_mistakes_get_one_clear_line(argv, words, tmp_path, monkeypatch,
                                     capsys):
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli(capsys, *argv)
    assert status == 1
    assert out == ""
    assert err.startswith("scratchnn: error: ")
    assert words in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize(
    "argv, words",
    [
        (["train", "--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
        (["train", "--lr", "-0.1"], "argument --lr: must be > 0, got -0.1"),
        (["train", "--lr", "nan"], "argument --lr: must be > 0"),
        (["train", "--batch-size", "0"], "--batch-size: must be >= 1"),
        (["train", "--test-size", "1.5"], "--test-size: must be in [0, 1)"),
        (["train", "--layers", "64,x"], "expected widths separated by"),
        (["train", "--epochs", "2.5"], "expected int, got '2.5'"),
        (["train", "--no-such-flag"], "unrecognized arguments"),
        (["tutorial", "--epochs", "0"], "must be >= 1"),
        (["train", "--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
    ],
)
def test_usage_mistakes_exit_2_with_one_line(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2
    assert out == ""
    assert words in err
    assert len(err.strip().splitlines()) == 1


def test_shared_options_work_before_the_command(tmp_path, capsys):
    status, out, err = run_cli(
        capsys, "-q", "--json", "train", "--data", "xor", "--epochs", "2",
        "--out", str(tmp_path / "m.npz"), "--no-plot",
    )
    assert status == 0
    assert err == ""
    assert "test_accuracy" in json.loads(out)


def test_output_folder_is_checked_before_training(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.geteuid() == 0:
            pytest.skip("root writes through folder permissions")
        status, _, err = run_cli(capsys, "train", "--out",
                                 str(locked / "m.npz"))
    finally:
        locked.chmod(0o700)
    assert status == 1
    assert "not writable" in err
    assert "epoch" not in err


# ----------------------------------------------------------------------
# Interruptions and closed pipes
# ----------------------------------------------------------------------
def interrupt_after(monkeypatch, n_steps: int) -> None:
    """Make the n-th training step raise KeyboardInterrupt, as Ctrl-C does."""
    original = Network.train_step
    calls = {"n": 0}

    def step(self, x, targets):
        calls["n"] += 1
        if calls["n"] > n_steps:
            raise KeyboardInterrupt
        return original(self, x, targets)

    monkeypatch.setattr(Network, "train_step", step)


def test_ctrl_c_in_the_first_epoch_saves_nothing(tmp_path, monkeypatch,
                                                 capsys):
    out_path = tmp_path / "model.npz"
    out_path.write_bytes(b"an earlier model")
    interrupt_after(monkeypatch, 3)
    status, out, err = run_cli(capsys, "train", "--out", str(out_path))

    assert status == 130
    assert "nothing was saved" in err
    assert "Warning" not in err
    assert out_path.read_bytes() == b"an earlier model"
    assert not (tmp_path / "model.png").exists()


def test_ctrl_c_later_saves_the_last_finished_epoch(tmp_path, monkeypatch,
                                                    capsys):
    out_path = tmp_path / "model.npz"
    # Digits has 1437 training rows: 45 steps an epoch, so step 100 falls
    # in epoch 3 and epochs 1 and 2 are finished.
    interrupt_after(monkeypatch, 100)
    status, out, err = run_cli(capsys, "train", "--out", str(out_path),
                               "--json")

    assert status == 130
    assert "saved the model after epoch 2" in err
    assert "TrainingInterruptedWarning" not in err
    assert len(Network.load(out_path).history) == 2
    assert json.loads(out)["test_accuracy"] > 0.5


def test_closed_stderr_does_not_stop_the_save(tmp_path):
    child = subprocess.Popen(
        [sys.executable, "-m", "scratchnn", "train", "--data", "xor",
         "--epochs", "20", "--out", "m.npz", "--no-plot"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    # The reader of the progress lines goes away at once.
    child.stderr.close()
    assert child.wait(timeout=120) == 0
    assert Network.load(tmp_path / "m.npz").history is not None


# ----------------------------------------------------------------------
# evaluate on CSV files
# ----------------------------------------------------------------------
@pytest.fixture
def blobs_csv(tmp_path):
    """Two features, a label column in the middle, 60 rows."""
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 20)
    centres = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    points = centres[labels] + rng.normal(0, 0.5, size=(60, 2))
    rows = [f"{a:.4f},{c},{b:.4f}" for (a, b), c in zip(points, labels, strict=True)]
    path = write_csv(tmp_path / "blobs.csv", "a,label,b", rows)
    reordered = [f"{c},{b:.4f},{a:.4f}" for (a, b), c in zip(points, labels, strict=True)]
    swapped = write_csv(tmp_path / "swapped.csv", "label,b,a", reordered)
    return path, swapped


def test_evaluate_matches_csv_columns_by_name(blobs_csv, tmp_path, capsys):
    path, swapped = blobs_csv
    model = str(tmp_path / "m.npz")
    status, _, err = run_cli(capsys, "train", "--data", path, "--target",
                             "label", "--out", model, "--no-plot", "-q")
    assert status == 0, err

    # A copy under another name is scored whole, like the reordered file.
    copy = tmp_path / "copy.csv"
    copy.write_text(Path(path).read_text())
    scores = []
    for data_file in (str(copy), swapped):
        status, out, err = run_cli(capsys, "evaluate", model, "--data",
                                   data_file, "--json")
        assert status == 0, err
        scores.append(json.loads(out))
    # The same rows under other column orders score the same.
    assert scores[0]["accuracy"] == scores[1]["accuracy"] > 0.9
    assert scores[0]["confusion_matrix"] == scores[1]["confusion_matrix"]
    # Integer labels read from the file stay integers.
    assert scores[0]["classes"] == [0, 1, 2]


def test_evaluate_without_data_finds_the_training_csv_and_its_target(
    blobs_csv, tmp_path, monkeypatch, capsys
):
    path, _ = blobs_csv
    model = str(tmp_path / "m.npz")
    assert main(["train", "--data", path, "--target", "label", "--out",
                 model, "--no-plot", "-q", "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    status, out, err = run_cli(capsys, "evaluate", model, "--json")
    assert status == 0, err
    # Only the 12 rows held out in training are scored, as train reported.
    assert "scoring the 12 test rows held out in training" in err
    assert sum(map(sum, json.loads(out)["confusion_matrix"])) == 12
    assert json.loads(out)["accuracy"] == trained["test_accuracy"]


def test_predict_prints_integer_labels_as_integers(blobs_csv, tmp_path,
                                                   capsys):
    path, _ = blobs_csv
    model = str(tmp_path / "m.npz")
    assert main(["train", "--data", path, "--target", "label", "--out",
                 model, "--no-plot", "-q"]) == 0
    capsys.readouterr()
    status, out, err = run_cli(capsys, "predict", model, path)
    assert status == 0, err
    assert set(out.split()) <= {"0", "1", "2"}
    assert len(out.split()) == 60


# ----------------------------------------------------------------------
# Checkpoints at the command line (process kills are in test_faults.py)
# ----------------------------------------------------------------------
def test_resume_takes_the_options_saved_in_the_checkpoint(tmp_path, capsys):
    common = ["--data", "xor", "--epochs", "6", "--no-plot", "-q", "--lr",
              "0.01", "--layers", "8"]
    assert main(["train", *common, "--out", str(tmp_path / "ref.npz")]) == 0
    assert main(["train", *common, "--epochs", "3", "--checkpoint",
                 str(tmp_path / "run.ckpt"), "--out",
                 str(tmp_path / "short.npz")]) == 0
    capsys.readouterr()

    # The checkpoint's run had 3 epochs; resuming it with more epochs is
    # not possible from the command line, so it ends at 3 like the original.
    status, _, err = run_cli(capsys, "train", "--resume",
                             str(tmp_path / "run.ckpt"), "--out",
                             str(tmp_path / "again.npz"), "--no-plot")
    assert status == 0, err
    assert "--data xor, 3 epochs" in err
    short = Network.load(tmp_path / "short.npz")
    again = Network.load(tmp_path / "again.npz")
    for p, q in zip(short.parameters(), again.parameters(), strict=True):
        np.testing.assert_array_equal(p, q)
    assert again.config()["layers"][0]["units"] == 8


def test_resume_from_a_plain_model_is_refused(tmp_path, capsys):
    model = tmp_path / "m.npz"
    assert main(["train", "--data", "xor", "--epochs", "1", "-q",
                 "--no-plot", "--out", str(model)]) == 0
    capsys.readouterr()
    status, _, err = run_cli(capsys, "train", "--resume", str(model),
                             "--out", str(tmp_path / "n.npz"))
    assert status == 1
    assert "is a model file, not a checkpoint" in err


def test_checkpoint_and_out_must_differ(tmp_path, capsys):
    status, _, err = run_cli(capsys, "train", "--out", str(tmp_path / "m"),
                             "--checkpoint", str(tmp_path / "m"), "--no-plot")
    assert status == 1
    assert "--out and --checkpoint would both write" in err


def test_c14_single_class_is_the_only_line_even_without_q(tmp_path, capsys):
    out_path = tmp_path / "m.npz"
    status, out, err = run_cli(capsys, "train", "--data",
                               case_csv("C14.csv"), "--out", str(out_path))
    assert status == 1
    assert err.strip().splitlines() == [
        "scratchnn: error: the target holds a single class (1); a "
        "classifier needs at least two"
    ]
    assert not out_path.exists()


def test_resume_refuses_other_training_options(tmp_path, capsys):
    ckpt = str(tmp_path / "run.ckpt")
    assert main(["train", "--data", "xor", "--epochs", "2", "-q",
                 "--no-plot", "--checkpoint", ckpt,
                 "--out", str(tmp_path / "m.npz")]) == 0
    capsys.readouterr()
    status, _, err = run_cli(capsys, "train", "--resume", ckpt, "--lr", "0.1",
                             "--layers", "8", "--out", str(tmp_path / "n.npz"))
    assert status == 2
    assert "leave out --layers, --lr" in err
    assert not (tmp_path / "n.npz").exists()


def test_resume_with_more_epochs_equals_the_longer_run(tmp_path, capsys):
    common = ["--data", "xor", "-q", "--no-plot", "--layers", "8"]
    assert main(["train", *common, "--epochs", "7",
                 "--out", str(tmp_path / "long.npz")]) == 0
    ckpt = str(tmp_path / "run.ckpt")
    assert main(["train", *common, "--epochs", "4", "--checkpoint", ckpt,
                 "--out", str(tmp_path / "short.npz")]) == 0
    assert main(["train", "--resume", ckpt, "--epochs", "7", "-q",
                 "--no-plot", "--out", str(tmp_path / "more.npz")]) == 0
    longer = Network.load(tmp_path / "long.npz")
    resumed = Network.load(tmp_path / "more.npz")
    for p, q in zip(longer.parameters(), resumed.parameters(), strict=True):
        np.testing.assert_array_equal(p, q)
    assert len(resumed.history) == 7


def test_checkpoint_every_without_checkpoint_is_a_usage_error(tmp_path,
                                                             capsys):
    status, _, err = run_cli(capsys, "train", "--checkpoint-every", "2",
                             "--out", str(tmp_path / "m.npz"))
    assert status == 2
    assert "--checkpoint-every needs --checkpoint PATH" in err
