"""Field cases at the command line, run in-process through `cli.main`.

Which case each test covers (tests/test_cli.py holds the earlier ones):

- C11: test_c11_validation_split_keeps_string_labels_end_to_end
- C14: test_c14_single_class_writes_no_model
- C17: test_c17_bad_value_names_the_csv_line_and_keeps_the_old_model,
  test_c17_predict_refuses_nan_naming_the_line
- C19: test_c19_header_only_csv_keeps_the_old_model
- C26: test_c26_divergence_is_one_line_and_keeps_the_old_model
- C31: test_c31_validation_fraction_on_two_rows_is_one_clear_line,
  test_c31_class_with_one_sample_is_named

A refusal is exit status 1 with one line on stderr (with -q, which keeps
progress notes out), no traceback, and any file at --out left as it was.
"""
import json
from pathlib import Path

import numpy as np
import pytest

from scratchnn.cli import main

from conftest import CASES_DIR, load_case

OLD_MODEL = b"an earlier model"


def run_cli(capsys, *argv):
    """Run main() in-process; return (exit status, stdout, stderr)."""
    status = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return status, out, err


def write_case_csv(path: Path, names: list[str], X, y=None) -> Path:
    """A CSV of X's rows (and y last, if given), with plain float text."""
    lines = [",".join(names)]
    for i, row in enumerate(np.asarray(X, dtype=np.float64)):
        cells = [repr(float(v)) for v in row]
        if y is not None:
            cells.append(str(y[i]))
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


def assert_one_line_refusal(status, out, err, *words):
    assert status == 1
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("scratchnn: error: ")
    for word in words:
        assert word in lines[0]


def old_model(tmp_path: Path) -> Path:
    path = tmp_path / "model.npz"
    path.write_bytes(OLD_MODEL)
    return path


# ----------------------------------------------------------------------
# C11: string labels with a validation split
# ----------------------------------------------------------------------
def test_c11_validation_split_keeps_string_labels_end_to_end(
    tmp_path, capsys
):
    case = load_case("C11")
    model = tmp_path / "animals.npz"
    status, out, err = run_cli(
        capsys, "train", "--data", CASES_DIR / "C11.csv",
        "--target", "animal", "--validation-fraction", "0.25",
        "--epochs", "60", "--seed", "0", "--json", "--no-plot",
        "--out", model,
    )
    assert status == 0, err
    metrics = json.loads(out)
    # Scored on the encoded labels: numbers, not a crash on strings.
    assert np.isfinite(metrics["val_loss"])
    assert metrics["val_accuracy"] == 1.0

    rows = write_case_csv(tmp_path / "new.csv", ["x1", "x2"], case.X_NEW)
    status, out, err = run_cli(capsys, "predict", model, rows)
    assert status == 0, err
    assert out.split() == case.EXPECTED_PREDICTION.tolist()

    saved = tmp_path / "predictions.csv"
    status, _, err = run_cli(capsys, "predict", model, rows, "--out", saved)
    assert status == 0, err
    lines = saved.read_text().splitlines()
    assert lines == ["prediction", *case.EXPECTED_PREDICTION.tolist()]


# ----------------------------------------------------------------------
# C14: a single class
# ----------------------------------------------------------------------
def test_c14_single_class_writes_no_model(tmp_path, capsys):
    out_path = old_model(tmp_path)
    status, out, err = run_cli(
        capsys, "train", "-q", "--data", CASES_DIR / "C14.csv",
        "--out", out_path,
    )
    assert_one_line_refusal(
        status, out, err,
        "single class (1); a classifier needs at least two",
    )
    assert out_path.read_bytes() == OLD_MODEL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]

    fresh = tmp_path / "fresh.npz"
    status, _, _ = run_cli(
        capsys, "train", "-q", "--data", CASES_DIR / "C14.csv",
        "--out", fresh,
    )
    assert status == 1 and not fresh.exists()


# ----------------------------------------------------------------------
# C17: NaN and inf in the CSV
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "features, target, words",
    [
        ("X_NAN", "Y_CLEAN", "line 4, column 'x2': 'nan' is not a finite"),
        ("X_INF", "Y_CLEAN", "line 6, column 'x1': 'inf' is not a finite"),
        (
            "X_CLEAN",
            "Y_NAN",
            "target column 'y' holds non-finite values at line 5: 'nan'",
        ),
    ],
)
def test_c17_bad_value_names_the_csv_line_and_keeps_the_old_model(
    tmp_path, capsys, features, target, words
):
    # File line = row (from 0) + 2: one for the header, one for counting
    # lines from 1.
    case = load_case("C17")
    data = write_case_csv(
        tmp_path / "bad.csv", ["x1", "x2", "y"],
        getattr(case, features), getattr(case, target),
    )
    out_path = old_model(tmp_path)
    status, out, err = run_cli(
        capsys, "train", "-q", "--data", data, "--out", out_path,
    )
    assert_one_line_refusal(status, out, err, "bad.csv", words)
    assert out_path.read_bytes() == OLD_MODEL
    assert not (tmp_path / "model.png").exists()


def test_c17_predict_refuses_nan_naming_the_line(tmp_path, capsys):
    case = load_case("C17")
    data = write_case_csv(
        tmp_path / "clean.csv", ["x1", "x2", "y"], case.X_CLEAN, case.Y_CLEAN
    )
    model = tmp_path / "m.npz"
    status, _, err = run_cli(
        capsys, "train", "-q", "--data", data, "--test-size", "0",
        "--epochs", "2", "--no-plot", "--out", model,
    )
    assert status == 0, err

    rows = write_case_csv(tmp_path / "rows.csv", ["x1", "x2"],
                          case.X_PREDICT_NAN)
    status, out, err = run_cli(capsys, "predict", "-q", model, rows)
    assert_one_line_refusal(
        status, out, err, "rows.csv line 2, column 'x2': 'nan'"
    )


# ----------------------------------------------------------------------
# C19: no data rows
# ----------------------------------------------------------------------
def test_c19_header_only_csv_keeps_the_old_model(tmp_path, capsys):
    out_path = old_model(tmp_path)
    status, out, err = run_cli(
        capsys, "train", "-q", "--data", CASES_DIR / "C19.csv",
        "--out", out_path,
    )
    assert_one_line_refusal(status, out, err, "no data rows")
    assert out_path.read_bytes() == OLD_MODEL


# ----------------------------------------------------------------------
# C26: a learning rate far too high
# ----------------------------------------------------------------------
def test_c26_divergence_is_one_line_and_keeps_the_old_model(
    tmp_path, capsys
):
    case = load_case("C26")
    data = write_case_csv(tmp_path / "line.csv", ["x", "y"], case.X, case.Y)
    out_path = old_model(tmp_path)
    status, out, err = run_cli(
        capsys, "train", "-q", "--data", data, "--loss", "mse",
        "--optimizer", "sgd", "--lr", case.LEARNING_RATE,
        "--layers", "4", "--activation", "tanh", "--no-standardize",
        "--test-size", "0", "--batch-size", len(case.X),
        "--epochs", case.EPOCHS, "--seed", "0", "--out", out_path,
    )
    assert_one_line_refusal(
        status, out, err, "training diverged at epoch", "smaller learning"
    )
    assert out_path.read_bytes() == OLD_MODEL
    assert not (tmp_path / "model.png").exists()


# ----------------------------------------------------------------------
# C31: a validation split on tiny data
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "test_size, n_samples", [("0", 2), ("0.2", 1)], ids=["all", "split"]
)
def test_c31_validation_fraction_on_two_rows_is_one_clear_line(
    tmp_path, capsys, test_size, n_samples
):
    # With the default test split, one of the two rows is held out for
    # testing first, so the fraction is taken of the one left.
    case = load_case("C31")
    data = write_case_csv(
        tmp_path / "two.csv", ["a", "b", "c", "y"], case.X_TWO, case.Y_TWO
    )
    out_path = tmp_path / "m.npz"
    status, out, err = run_cli(
        capsys, "train", "-q", "--data", data,
        "--validation-fraction", case.VALIDATION_FRACTION,
        "--test-size", test_size, "--out", out_path,
    )
    assert_one_line_refusal(
        status, out, err,
        f"validation_fraction=0.1 of {n_samples} samples gives 0 "
        f"validation samples",
    )
    assert list(tmp_path.iterdir()) == [data]


def test_c31_class_with_one_sample_is_named(tmp_path, capsys):
    case = load_case("C31")
    data = write_case_csv(
        tmp_path / "cls.csv", ["x", "label"], case.X_CLS, case.Y_CLS
    )
    status, out, err = run_cli(
        capsys, "train", "-q", "--data", data,
        "--validation-fraction", case.VALIDATION_FRACTION_CLS,
        "--test-size", "0", "--out", tmp_path / "m.npz",
    )
    assert_one_line_refusal(status, out, err, "class 'b' has only 1 sample")
    assert not (tmp_path / "m.npz").exists()
