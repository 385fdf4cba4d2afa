"""The pictures: training curves, decision boundary and confusion matrix.

Each PNG is opened and looked at: its size in pixels says how many panels
it has (plots.PANEL_INCHES at plots.DPI: 500 x 400 per panel), and its
pixels must vary, so a blank or half-drawn picture fails.
"""
import json
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from matplotlib.image import imread  # noqa: E402

import scratchnn  # noqa: E402
from scratchnn import Dense, Network  # noqa: E402
from scratchnn import plots  # noqa: E402
from scratchnn.cli import main  # noqa: E402

# matplotlib's first two cycle colours: training and validation curves.
BLUE = np.array([0x1F, 0x77, 0xB4]) / 255
ORANGE = np.array([0xFF, 0x7F, 0x0E]) / 255


def run_cli(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def picture(path, panels: int) -> np.ndarray:
    """The PNG's RGB pixels, checked for size and for not being blank."""
    image = imread(str(path))[:, :, :3]  # (height, width, RGB) in [0, 1]
    assert image.shape[:2] == (400, 500 * panels)
    assert image.std() > 0.05
    colours = np.unique(image.reshape(-1, 3), axis=0)
    assert len(colours) > 100
    return image


def coloured_share(pixels: np.ndarray) -> float:
    """The share of pixels that are neither white, black nor grey."""
    saturation = pixels.max(axis=-1) - pixels.min(axis=-1)
    return float(np.mean(saturation > 0.15))


def has_colour(pixels: np.ndarray, colour: np.ndarray) -> bool:
    """Whether at least 50 pixels are close to `colour` (a curve's line)."""
    close = np.abs(pixels - colour).max(axis=-1) < 0.05
    return int(close.sum()) >= 50


def panel(image: np.ndarray, index: int) -> np.ndarray:
    return image[:, 500 * index:500 * (index + 1)]


@pytest.fixture(scope="module")
def moons_model(tmp_path_factory):
    """A moons classifier trained 3 epochs; its model and picture."""
    folder = tmp_path_factory.mktemp("moons")
    model = folder / "m.npz"
    assert main(["train", "--data", "moons", "--epochs", "3", "-q",
                 "--layers", "16", "--out", str(model)]) == 0
    return model


# ----------------------------------------------------------------------
# train and plot: curves and decision boundary
# ----------------------------------------------------------------------
def test_train_on_two_features_adds_the_decision_boundary(moons_model):
    image = picture(moons_model.with_suffix(".png"), panels=3)
    # The boundary panel is shaded all over; the curve panels are mostly
    # white around two blue lines.
    assert coloured_share(panel(image, 2)) > 0.5
    for index in (0, 1):
        assert coloured_share(panel(image, index)) < 0.1
        assert has_colour(panel(image, index), BLUE)


def test_train_on_more_features_draws_the_curves_alone(tmp_path, capsys):
    model = tmp_path / "t.npz"
    status, _, err = run_cli(capsys, "train", "--data", "tutorial",
                             "--epochs", "3", "--out", str(model))
    assert status == 0, err
    assert "wrote " + str(model) + ", " + str(tmp_path / "t.png") in err
    image = picture(tmp_path / "t.png", panels=2)
    assert not has_colour(image, ORANGE)


def test_plot_redraws_the_training_picture_from_the_model(moons_model,
                                                          tmp_path, capsys):
    again = tmp_path / "again.png"
    status, out, err = run_cli(capsys, "plot", str(moons_model), "--out",
                               str(again))
    assert status == 0, err
    assert out == ""
    assert f"wrote {again} (loss, accuracy, boundary)" in err
    # Same history, same weights, same points and split: the same pixels.
    original = picture(moons_model.with_suffix(".png"), panels=3)
    np.testing.assert_array_equal(picture(again, panels=3), original)


def test_plot_writes_next_to_the_model_by_default(moons_model, tmp_path,
                                                  capsys):
    copy = tmp_path / "copy.npz"
    copy.write_bytes(moons_model.read_bytes())
    status, _, err = run_cli(capsys, "plot", str(copy))
    assert status == 0, err
    assert f"wrote {tmp_path / 'copy.png'}" in err
    picture(tmp_path / "copy.png", panels=3)


def test_plot_json_names_the_picture_and_its_panels(moons_model, tmp_path,
                                                    capsys):
    out_path = tmp_path / "p.png"
    status, out, _ = run_cli(capsys, "plot", str(moons_model), "--out",
                             str(out_path), "--json")
    assert status == 0
    assert json.loads(out) == {
        "model": str(moons_model),
        "plot": str(out_path),
        "panels": ["loss", "accuracy", "boundary"],
    }


def test_validation_curves_are_drawn_beside_the_training_curves(tmp_path,
                                                                capsys):
    model = tmp_path / "v.npz"
    status, _, err = run_cli(capsys, "train", "--data", "xor", "--epochs",
                             "3", "-q", "--validation-fraction", "0.25",
                             "--out", str(model))
    assert status == 0, err
    image = picture(tmp_path / "v.png", panels=3)
    for index in (0, 1):
        assert has_colour(panel(image, index), BLUE)
        assert has_colour(panel(image, index), ORANGE)


def test_plot_over_other_data_moves_the_points_not_the_boundary(
    moons_model, tmp_path, capsys
):
    own, other = tmp_path / "own.png", tmp_path / "circles.png"
    assert main(["plot", str(moons_model), "--out", str(own), "-q"]) == 0
    assert main(["plot", str(moons_model), "--out", str(other), "-q",
                 "--data", "circles"]) == 0
    first, second = picture(own, panels=3), picture(other, panels=3)
    np.testing.assert_array_equal(panel(first, 0), panel(second, 0))
    assert not np.array_equal(panel(first, 2), panel(second, 2))


def test_two_feature_csv_gets_a_boundary(tmp_path, capsys):
    rng = np.random.default_rng(0)
    labels = np.repeat(["low", "high"], 30)
    points = np.where(labels[:, None] == "low", -1.0, 1.0)
    points = points + rng.normal(0, 0.4, size=(60, 2))
    rows = [f"{a:.3f},{b:.3f},{c}" for (a, b), c in zip(points, labels)]
    csv = tmp_path / "two.csv"
    csv.write_text("width,height,size\n" + "\n".join(rows) + "\n")
    model = tmp_path / "two.npz"

    status, _, err = run_cli(capsys, "train", "--data", str(csv), "--epochs",
                             "3", "--out", str(model))
    assert status == 0, err
    assert coloured_share(panel(picture(tmp_path / "two.png", 3), 2)) > 0.5

    # Once the CSV is gone, plot says so and draws the curves alone.
    csv.unlink()
    status, _, err = run_cli(capsys, "plot", str(model), "--out",
                             str(tmp_path / "later.png"))
    assert status == 0, err
    assert "is gone, so no decision boundary is drawn" in err
    picture(tmp_path / "later.png", panels=2)


def test_plot_data_on_a_model_without_boundary_is_a_usage_error(tmp_path,
                                                                 capsys):
    model = tmp_path / "t.npz"
    assert main(["train", "--data", "tutorial", "--epochs", "2", "-q",
                 "--no-plot", "--out", str(model)]) == 0
    capsys.readouterr()
    status, out, err = run_cli(capsys, "plot", str(model), "--data", "moons")
    assert status == 2
    assert out == ""
    assert "needs a classifier of 2 features" in err
    assert "classifier of 3 features" in err
    assert not (tmp_path / "t.png").exists()


def test_plot_of_a_model_without_history_is_an_error(tmp_path, capsys):
    rng = np.random.default_rng(0)
    net = Network([Dense(3, "tanh"), Dense(1)], loss="mse")
    net.fit(rng.normal(size=(20, 3)), rng.normal(size=20), epochs=2, seed=0)
    net.history = None
    model = tmp_path / "bare.npz"
    net.save(model)
    status, _, err = run_cli(capsys, "plot", str(model))
    assert status == 1
    assert "keeps no training history" in err
    assert not (tmp_path / "bare.png").exists()


def test_plot_refuses_to_overwrite_its_model(moons_model, capsys):
    status, _, err = run_cli(capsys, "plot", str(moons_model), "--out",
                             str(moons_model))
    assert status == 1
    assert "would overwrite the model file" in err


# ----------------------------------------------------------------------
# evaluate --plot: the confusion matrix
# ----------------------------------------------------------------------
def test_evaluate_plot_draws_the_confusion_matrix(moons_model, tmp_path,
                                                  capsys):
    cm = tmp_path / "cm.png"
    status, out, err = run_cli(capsys, "evaluate", str(moons_model),
                               "--plot", str(cm), "--json")
    assert status == 0, err
    assert json.loads(out)["confusion_matrix"]
    assert f"wrote {cm}" in err
    image = imread(str(cm))[:, :, :3]
    assert image.shape[0] >= 400 and image.shape[1] >= 400
    assert image.std() > 0.05
    # Shades of blue: the cells, and the colour bar beside them.
    blues = (image[..., 2] > image[..., 0] + 0.1).mean()
    assert blues > 0.05


def dark_blue(path) -> np.ndarray:
    """Where a confusion picture is dark blue, colour bar columns dropped.

    The colour bar is a narrow run of columns apart from the cells; only
    the widest run of columns holding dark blue is kept.
    """
    rgb = imread(str(path))[..., :3]
    dark = (rgb[..., 2] - rgb[..., 0] > 0.2) & (rgb.sum(axis=-1) < 1.2)
    columns = np.flatnonzero(dark.any(axis=0))
    runs = np.split(columns, np.flatnonzero(np.diff(columns) > 1) + 1)
    widest = max(runs, key=len)
    kept = np.zeros_like(dark)
    kept[:, widest[0]:widest[-1] + 1] = dark[:, widest[0]:widest[-1] + 1]
    return kept


def test_confusion_pictures_shade_the_cells_with_the_counts(tmp_path):
    def draw(matrix, name):
        path = tmp_path / name
        plots.plot_confusion_matrix(np.array(matrix), ["a", "b"], path)
        return dark_blue(path)

    # With every cell full, the dark pixels mark out the four cells.
    full = draw([[9, 9], [9, 9]], "full.png")
    rows, cols = np.flatnonzero(full.any(axis=1)), np.flatnonzero(full.any(0))
    mid_row = (rows[0] + rows[-1]) // 2
    mid_col = (cols[0] + cols[-1]) // 2

    def quarters(dark):
        """Share of each cell (quarter of the matrix) that is dark."""
        top, bottom = dark[rows[0]:mid_row], dark[mid_row:rows[-1]]
        return np.array([
            [top[:, cols[0]:mid_col].mean(), top[:, mid_col:cols[-1]].mean()],
            [bottom[:, cols[0]:mid_col].mean(),
             bottom[:, mid_col:cols[-1]].mean()],
        ])

    diagonal = quarters(draw([[9, 0], [0, 9]], "diagonal.png"))
    assert diagonal[0, 0] > 0.8 and diagonal[1, 1] > 0.8
    assert diagonal[0, 1] < 0.05 and diagonal[1, 0] < 0.05
    # Every row predicted as the first class darkens the left column,
    # which a transposed picture would put in the top row.
    column = quarters(draw([[9, 0], [9, 0]], "column.png"))
    assert column[0, 0] > 0.8 and column[1, 0] > 0.8
    assert column[0, 1] < 0.05 and column[1, 1] < 0.05


def test_evaluate_plot_on_a_regression_model_is_a_usage_error(tmp_path,
                                                              capsys):
    model = tmp_path / "r.npz"
    assert main(["train", "--data", "tutorial", "--loss", "mse", "--epochs",
                 "2", "-q", "--no-plot", "--out", str(model)]) == 0
    capsys.readouterr()
    status, out, err = run_cli(capsys, "evaluate", str(model), "--plot",
                               str(tmp_path / "cm.png"))
    assert status == 2
    assert out == ""
    assert err.strip().splitlines() == [
        f"scratchnn: error: --plot draws a confusion matrix, which only "
        f"classifiers have; {str(model)!r} is a regression model (loss "
        f"mse); leave out --plot"
    ]
    assert not (tmp_path / "cm.png").exists()


# ----------------------------------------------------------------------
# Without matplotlib
# ----------------------------------------------------------------------
@pytest.fixture
def no_matplotlib(monkeypatch):
    """Make `import matplotlib` fail, as where it is not installed."""
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.setitem(sys.modules, name, None)
    # Both, or `from . import plots` finds the module loaded earlier.
    monkeypatch.delitem(sys.modules, "scratchnn.plots", raising=False)
    monkeypatch.delattr(scratchnn, "plots", raising=False)


def test_train_without_matplotlib_stops_before_training(no_matplotlib,
                                                        tmp_path, capsys):
    model = tmp_path / "m.npz"
    status, _, err = run_cli(capsys, "train", "--data", "xor", "--epochs",
                             "2", "--out", str(model))
    assert status == 1
    assert "pip install 'scratchnn[plot]' or use --no-plot" in err
    assert "epoch" not in err
    assert not model.exists()
    # --no-plot needs no matplotlib.
    assert main(["train", "--data", "xor", "--epochs", "2", "-q",
                 "--no-plot", "--out", str(model)]) == 0


def test_plot_without_matplotlib_says_what_to_install(moons_model,
                                                      no_matplotlib, tmp_path,
                                                      capsys):
    status, _, err = run_cli(capsys, "plot", str(moons_model), "--out",
                             str(tmp_path / "p.png"))
    assert status == 1
    assert err.strip() == (
        "scratchnn: error: drawing needs matplotlib, which is not "
        "installed; pip install 'scratchnn[plot]'"
    )
