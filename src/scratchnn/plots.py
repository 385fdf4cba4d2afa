"""Pictures of a network: training curves, confusion matrix, decision boundary.

Needs matplotlib (the `plot` extra); the core library never imports this
module. Figures are drawn on matplotlib's `Figure` object, never through
pyplot, so the Agg renderer is used, no screen is needed and no global
backend is changed. Every PNG is written to a temporary name and renamed,
so a crash never leaves a half-drawn picture.
"""
import warnings
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .atomic import atomic_write

# One panel in inches; at DPI dots per inch it is 500 x 400 pixels, so a
# picture of n panels is (500 n) x 400.
PANEL_INCHES = (5.0, 4.0)
DPI = 100
# Points per side of the grid the decision boundary is evaluated on.
GRID_SIZE = 200
# Beyond this many classes the counts no longer fit in their cells.
MAX_ANNOTATED_CLASSES = 30


@dataclass
class Points:
    """Labelled points in two features, drawn over a decision boundary.

    Parameters
    ----------
    X : ndarray of shape (n_samples, 2)
    y : ndarray of shape (n_samples,)
        Class labels, of the kind the network was trained on.
    held_out : ndarray of bool, shape (n_samples,), or None
        True for test rows kept out of training; they are drawn hollow.
    feature_names : tuple of str, default=("x0", "x1")
        Axis labels.
    """

    X: np.ndarray
    y: np.ndarray
    held_out: np.ndarray | None = None
    feature_names: tuple = ("x0", "x1")


def plot_history(history, path: str, title: str = "") -> None:
    """Draw loss (and accuracy, if recorded) per epoch into a PNG at `path`.

    Training and validation curves share one panel per metric.
    """
    plot_training(path, history=history, title=title)


def plot_training(
    path: str,
    history=None,
    network=None,
    points: Points | None = None,
    title: str = "",
) -> list[str]:
    """One PNG: a panel per training curve, then the decision boundary.

    Parameters
    ----------
    path : str
        The PNG to write.
    history : History or None
        Its "loss" (and "accuracy") per epoch, each with its "val_" curve
        when there is one. None, or no epochs, draws no curves.
    network : Network or None
        A classifier with 2 input features, for the boundary panel.
    points : Points or None
        The points drawn over the boundary; the panel needs both.
    title : str, default=""

    Returns
    -------
    list of str
        The panels drawn, left to right: "loss", "accuracy", "boundary".

    Raises
    ------
    ValueError
        If there is nothing to draw.

    Warns
    -----
    UserWarning
        For each curve left out because it does not hold one value per
        epoch (e.g. val_loss, when a warm start added validation to a run
        that had none).
    """
    panels = []
    if history is not None and len(history) > 0:
        curves = {
            key: _curve(history, key)
            for key in ("loss", "accuracy", "val_loss", "val_accuracy")
        }
        panels = [m for m in ("loss", "accuracy") if curves[m] is not None]
    if network is not None and points is not None:
        panels.append("boundary")
    if not panels:
        raise ValueError(
            "nothing to draw: give a history with at least one epoch, or a "
            "network with points for its decision boundary"
        )

    width, height = PANEL_INCHES
    fig = Figure(figsize=(width * len(panels), height))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        if panel == "boundary":
            _draw_boundary(ax, network, points)
        else:
            _draw_curves(ax, history.epochs, curves, panel)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)
    return panels


def _curve(history, key: str) -> list | None:
    """history[key] if it holds one value per epoch; else None, warning."""
    if key not in history:
        return None
    values = history[key]
    if len(values) != len(history):
        warnings.warn(
            f"the history's {key} holds {len(values)} values for "
            f"{len(history)} epochs; that curve is not drawn",
            stacklevel=3,
        )
        return None
    return values


def _draw_curves(ax, epochs, curves: dict, metric: str) -> None:
    ax.plot(epochs, curves[metric], label="training")
    if curves[f"val_{metric}"] is not None:
        ax.plot(epochs, curves[f"val_{metric}"], label="validation")
    ax.set_xlabel("epoch")
    # Epochs are whole numbers; no tick at 2.5.
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend()


def _draw_boundary(ax, network, points: Points) -> None:
    """Shade each class's region of the plane, then draw the points."""
    classes = network.classes_
    colors = class_colors(len(classes))
    X = np.asarray(points.X, dtype=np.float64)

    # A grid over the points with a margin, each node labelled by the
    # class the network predicts there.
    low, high = X.min(axis=0), X.max(axis=0)
    margin = 0.1 * np.where(high > low, high - low, 1.0)
    axis0 = np.linspace(low[0] - margin[0], high[0] + margin[0], GRID_SIZE)
    axis1 = np.linspace(low[1] - margin[1], high[1] + margin[1], GRID_SIZE)
    grid0, grid1 = np.meshgrid(axis0, axis1)  # (GRID_SIZE, GRID_SIZE) each
    nodes = np.column_stack([grid0.ravel(), grid1.ravel()])
    region = network.predict_proba(nodes).argmax(axis=1)
    region = region.reshape(grid0.shape)

    # Levels halfway between class codes put one band on each class.
    levels = np.arange(len(classes) + 1) - 0.5
    ax.contourf(grid0, grid1, region, levels=levels,
                cmap=ListedColormap(colors), alpha=0.35)
    ax.contour(grid0, grid1, region, levels=levels[1:-1], colors="black",
               linewidths=0.8)

    codes = network.encoder.transform(np.asarray(points.y))
    held_out = points.held_out
    if held_out is None:
        held_out = np.zeros(len(X), dtype=bool)
    for code, label in enumerate(classes.tolist()):
        train = (codes == code) & ~held_out
        test = (codes == code) & held_out
        ax.scatter(X[train, 0], X[train, 1], s=16, color=colors[code],
                   edgecolors="black", linewidths=0.4, label=str(label))
        if test.any():
            ax.scatter(X[test, 0], X[test, 1], s=16, facecolors="white",
                       edgecolors=colors[code], linewidths=1.2)
    ax.set_xlabel(points.feature_names[0])
    ax.set_ylabel(points.feature_names[1])
    note = "; hollow: test rows" if held_out.any() else ""
    ax.set_title(f"decision boundary{note}", fontsize="medium")
    ax.legend(title="class", fontsize="small")


def class_colors(n_classes: int) -> list:
    """A distinct colour per class: tab10, tab20 past 10, then repeating."""
    name = "tab10" if n_classes <= 10 else "tab20"
    cmap = matplotlib.colormaps[name]
    return [cmap(i % cmap.N) for i in range(n_classes)]


def plot_confusion_matrix(
    matrix: np.ndarray, classes, path: str, title: str = ""
) -> None:
    """Draw a confusion matrix as shaded cells with their counts.

    Parameters
    ----------
    matrix : ndarray of shape (n_classes, n_classes)
        Counts; rows are the true class, columns the predicted one.
    classes : sequence of length n_classes
        The class labels, in the matrix's order.
    path : str
        The PNG to write.
    title : str, default=""
    """
    matrix = np.asarray(matrix)
    labels = [str(c) for c in list(classes)]
    n = len(labels)
    # Cells grow with the class count up to a readable picture size.
    side = min(12.0, max(4.5, 0.45 * n + 2.0))
    fig = Figure(figsize=(side + 1.0, side))
    ax = fig.add_subplot()

    image = ax.imshow(matrix, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, label="rows")
    ticks = np.arange(n)
    ax.set_xticks(ticks, labels=labels)
    ax.set_yticks(ticks, labels=labels)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if n <= MAX_ANNOTATED_CLASSES:
        # Dark cells get white figures so the count stays readable.
        dark = matrix.max() / 2 if matrix.max() > 0 else 1
        for (row, col), count in np.ndenumerate(matrix):
            color = "white" if count > dark else "black"
            ax.text(col, row, str(count), ha="center", va="center",
                    color=color, fontsize="small")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    _save(fig, path)


def plot_lr_find(result, path: str, title: str = "") -> None:
    """Draw a learning-rate sweep: loss against lr, the suggestion marked.

    Parameters
    ----------
    result : lr_finder.LRFinderResult
        Its `lrs`, `raw_losses`, smoothed `losses` and `suggestion`.
    path : str
        The PNG to write.
    title : str, default=""
    """
    fig = Figure(figsize=PANEL_INCHES)
    ax = fig.add_subplot()
    ax.plot(result.lrs, result.raw_losses, color="0.75", linewidth=0.8,
            label="batch loss")
    ax.plot(result.lrs, result.losses, label="smoothed")
    ax.axvline(result.suggestion, color="tab:red", linestyle="--",
               label=f"suggested lr {result.suggestion:.2g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    # The raw losses near the explosion would flatten the useful part.
    low, high = np.min(result.losses), np.max(result.losses)
    margin = 0.05 * (high - low) or 0.05 * abs(high) or 1.0
    ax.set_ylim(low - margin, high + margin)
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    _save(fig, path)


def _save(fig, path: str) -> None:
    with atomic_write(path) as fh:
        fig.savefig(fh, format="png", dpi=DPI)
