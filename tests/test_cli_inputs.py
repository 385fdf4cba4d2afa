"""The command line on odd input: labels beyond int64, points that cannot
be drawn, empty file names and --target where no CSV is read."""
import json

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from scratchnn.cli import _whole_numbers_as_ints, main


def run_cli(capsys, *argv):
    """main() in-process: (exit status, stdout, stderr); usage errors too."""
    try:
        status = main(list(argv))
    except SystemExit as exit_info:  # argparse's own usage errors
        status = exit_info.code
    out, err = capsys.readouterr()
    return status, out, err


def write_csv(path, labels):
    rows = [f"{i + 1},{i + 2},{label}" for i, label in enumerate(labels)]
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n")


@pytest.fixture
def two_feature_model(tmp_path, capsys):
    """A classifier of 2 features trained on ok.npy (40 rows)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(float)
    np.save(tmp_path / "ok.npy", np.column_stack([X, y]))
    model = tmp_path / "m.npz"
    status, _, err = run_cli(
        capsys, "train", "--data", str(tmp_path / "ok.npy"), "--epochs",
        "2", "--no-plot", "--out", str(model),
    )
    assert status == 0, err
    return model


# ----------------------------------------------------------------------
# Labels beyond int64
# ----------------------------------------------------------------------
def test_whole_floats_become_ints_only_inside_int64():
    ints = _whole_numbers_as_ints(np.array([-(2.0**63), 0.0, 3.0]))
    assert ints.dtype == np.int64
    assert ints.tolist() == [-(2**63), 0, 3]

    # 2**63 is one past int64's largest value.
    for beyond in ([2.0**63, 0.0], [1e19, 1.0], [-1e300, 1e300]):
        y = np.array(beyond)
        kept = _whole_numbers_as_ints(y)
        assert kept.dtype == np.float64
        assert kept.tolist() == beyond


@pytest.mark.parametrize(
    "labels, classes",
    [
        (["1e300", "-1e300", "1e300", "-1e300"], [-1e300, 1e300]),
        (["1e19", "0", "1e19", "0", "0", "1e19"], [0.0, 1e19]),
    ],
)
def test_labels_beyond_int64_are_kept_as_float_labels(
    labels, classes, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "t.csv", labels)
    status, _, err = run_cli(capsys, "train", "--data", "t.csv",
                             "--epochs", "2", "--no-plot")
    assert status == 0, err
    assert "invalid value" not in err
    assert "-9223372036854775808" not in err

    status, out, err = run_cli(capsys, "info", "model.npz", "--json")
    assert status == 0, err
    found = json.loads(out)["classes"]
    assert found == classes
    assert all(isinstance(c, float) for c in found)


# ----------------------------------------------------------------------
# Points for a decision boundary
# ----------------------------------------------------------------------
def bad_points(tmp_path, name, value):
    """20 points of 2 features with `value` at row 3, column 1."""
    rng = np.random.default_rng(1)
    table = np.column_stack([rng.normal(size=(20, 2)), np.arange(20) % 2])
    table[3, 1] = value
    path = tmp_path / name
    if name.endswith(".npy"):
        np.save(path, table)
    else:
        rows = [",".join(repr(float(v)) for v in row) for row in table]
        path.write_text("x0,x1,y\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_plot_names_a_missing_data_cell_not_a_grid_node(
    value, two_feature_model, tmp_path, capsys
):
    path = bad_points(tmp_path, "bad.npy", value)
    status, out, err = run_cli(
        capsys, "plot", str(two_feature_model), "--data", str(path),
        "--out", str(tmp_path / "p.png"),
    )
    assert status == 1
    assert out == ""
    assert len(err.splitlines()) == 1
    assert f"{value} at row 3, column 1" in err
    assert "row 0, column 0" not in err
    assert not (tmp_path / "p.png").exists()


@pytest.mark.parametrize("name", ["big.npy", "big.csv"])
@pytest.mark.parametrize("value, shown", [(1e300, "1e+300"),
                                          (-1e300, "-1e+300")])
def test_plot_names_the_file_row_and_column_of_a_point_too_far_out(
    name, value, shown, two_feature_model, tmp_path, capsys
):
    # Finite, but beyond float32 once scaled: the grid cannot reach it.
    path = bad_points(tmp_path, name, value)
    status, out, err = run_cli(
        capsys, "plot", str(two_feature_model), "--data", str(path),
        "--out", str(tmp_path / "p.png"),
    )
    assert status == 1
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith(f"scratchnn: error: {str(path)!r} holds {shown} "
                          f"at row 3, column 1 (x1), counting from 0")
    assert "float32" in err
    assert "row 0, column 0" not in err
    assert not (tmp_path / "p.png").exists()


def test_plot_draws_over_good_points(two_feature_model, tmp_path, capsys):
    status, _, err = run_cli(
        capsys, "plot", str(two_feature_model), "--data",
        str(tmp_path / "ok.npy"), "--out", str(tmp_path / "p.png"),
    )
    assert status == 0, err
    assert "boundary" in err
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


# ----------------------------------------------------------------------
# Usage mistakes: exit 2, one line
# ----------------------------------------------------------------------
def test_empty_file_names_are_usage_errors(two_feature_model, tmp_path,
                                           monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.csv").write_text("x0,x1\n1,2\n")
    model = str(two_feature_model)
    for argv, flag in [
        (["evaluate", model, "--plot", ""], "--plot"),
        (["plot", model, "--out", ""], "--out"),
        (["predict", model, "x.csv", "--out", ""], "--out"),
        (["train", "--data", "xor", "--plot", ""], "--plot"),
        (["train", "--data", "xor", "--out", " "], "--out"),
    ]:
        status, out, err = run_cli(capsys, *argv)
        assert status == 2, argv
        assert out == ""
        assert f"argument {flag}: is empty; give a file name" in err
        assert len(err.splitlines()) == 1
    # Nothing was drawn under the default names instead.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "m.npz", "ok.npy", "x.csv"
    ]


@pytest.mark.parametrize(
    "argv, what",
    [
        (["train", "--data", "ok.npy", "--target", "y"], "the last column"),
        (["train", "--data", "xor", "--target", "y"], "a bundled dataset"),
        (["evaluate", "m.npz", "--data", "ok.npy", "--target", "y"],
         "the last column"),
        (["evaluate", "m.npz", "--target", "y"], "the last column"),
        (["plot", "m.npz", "--data", "moons", "--target", "y"],
         "a bundled dataset"),
    ],
)
def test_target_without_a_csv_is_a_usage_error(
    argv, what, two_feature_model, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli(capsys, *argv)
    assert status == 2
    assert out == ""
    assert err.startswith("scratchnn: error: --target names a CSV column")
    assert what in err
    assert len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz", "ok.npy"]
