"""Data: bundled real datasets, seeded toy problems, and the data tools.

Bundled real data (UCI digits, a 5,000-image MNIST subset) and seeded toy
problems in two dimensions live here. The CSV reader (`csvfile`) and the
split, scaling and label encoding (`preprocessing`) are re-exported, so
`scratchnn.data` is the one place to import data tools from.
"""

import logging
import math
from importlib import resources

import numpy as np

from .csvfile import CsvData, read_csv, read_features, read_header
from .errors import DataError
from .preprocessing import LabelEncoder, StandardScaler, train_test_split
from .validation import check_seed

__all__ = [
    "DATASET_NAMES",
    "CsvData",
    "LabelEncoder",
    "StandardScaler",
    "load_dataset",
    "load_digits",
    "load_mnist_5k",
    "load_tutorial",
    "make_circles",
    "make_moons",
    "make_spirals",
    "make_xor",
    "read_csv",
    "read_features",
    "read_header",
    "train_test_split",
]

logger = logging.getLogger(__name__)

DATASET_NAMES = (
    "digits",
    "mnist-5k",
    "tutorial",
    "xor",
    "circles",
    "moons",
    "spirals",
)

# ---------------------------------------------------------------------------
# Bundled datasets
# ---------------------------------------------------------------------------

def _load_bundled(filename: str) -> tuple[np.ndarray, np.ndarray]:
    """Read ``X`` and ``y`` from a packaged ``.npz`` file, never unpickling."""
    ref = resources.files("scratchnn") / "datasets" / filename
    try:
        with ref.open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
            X = npz["X"].astype(np.float64)
            y = npz["y"].astype(np.int64)
    except FileNotFoundError:
        raise DataError(
            f"bundled dataset file {filename} is missing from the "
            f"scratchnn package; reinstall scratchnn"
        ) from None

    logger.debug("loaded %s: X %s, y %s", filename, X.shape, y.shape)
    return X, y


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Load the UCI 8x8 handwritten digits bundled with scratchnn.

    Returns
    -------
    X : ndarray of shape (1797, 64), float64
        One 8x8 image per row, pixel values 0..16 (not rescaled).
    y : ndarray of shape (1797,), int64
        The digit, 0..9.

    Notes
    -----
    Source and licence are recorded in ``scratchnn/datasets/README.md``.
    """
    return _load_bundled("digits.npz")


def load_mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """Load the 5,000-image MNIST subset bundled with scratchnn.

    Returns
    -------
    X : ndarray of shape (5000, 784), float64
        One 28x28 image per row, pixel values 0..255 (not rescaled).
    y : ndarray of shape (5000,), int64
        The digit, 0..9; 500 images of each.

    Notes
    -----
    The rows are grouped by class, so shuffle (or split with
    `train_test_split`) before taking a prefix. Source and licence are
    recorded in ``scratchnn/datasets/README.md``.
    """
    return _load_bundled("mnist_5k.npz")


def load_tutorial() -> tuple[np.ndarray, np.ndarray]:
    """Load the four-sample data set of the classic first-network tutorial.

    The target is the XOR of the first two inputs; the third input is a
    constant 1 that lets a network without biases learn an offset.

    Returns
    -------
    X : ndarray of shape (4, 3), float64
    y : ndarray of shape (4, 1), float64
    """
    X = np.array(
        [[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64
    )
    y = np.array([[0], [1], [1], [0]], dtype=np.float64)
    return X, y


# ---------------------------------------------------------------------------
# Seeded two-dimensional problems
# ---------------------------------------------------------------------------

def _check_count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise DataError(
            f"{name} must be an integer, got {value!r} "
            f"({type(value).__name__})"
        )
    if value < minimum:
        raise DataError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_noise(noise) -> float:
    noise = float(noise)
    if not (math.isfinite(noise) and noise >= 0):
        raise DataError(f"noise must be a finite number >= 0, got {noise}")
    return noise


def _class_sizes(n_samples: int, n_classes: int) -> list[int]:
    """Split n_samples into n_classes counts that differ by at most one."""
    base, extra = divmod(n_samples, n_classes)
    return [base + (k < extra) for k in range(n_classes)]


def _shuffled(rng, X, y):
    """Shuffle rows so that the classes are not stored in blocks."""
    order = rng.permutation(len(y))
    return X[order], y[order]


def make_xor(
    n_samples: int = 200, noise: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Make Gaussian blobs at the corners (±1, ±1), labelled by XOR.

    Parameters
    ----------
    n_samples : int, default=200
        Total number of points; each class gets half (±1).
    noise : float, default=0.1
        Standard deviation of the Gaussian noise around each corner.
    seed : int, default=0
        Seed of the `numpy.random.default_rng` used for everything.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    y : ndarray of shape (n_samples,), int64
        1 for the corners whose coordinates differ in sign, (1, -1) and
        (-1, 1); 0 for (1, 1) and (-1, -1).
    """
    n_samples = _check_count(n_samples, "n_samples", 2)
    noise = _check_noise(noise)
    rng = np.random.default_rng(check_seed(seed))

    corners = {0: [(1.0, 1.0), (-1.0, -1.0)], 1: [(1.0, -1.0), (-1.0, 1.0)]}
    points = []
    labels = []
    for label, n_class in enumerate(_class_sizes(n_samples, 2)):
        for corner, n in zip(corners[label], _class_sizes(n_class, 2)):
            points.append(np.tile(corner, (n, 1)))
            labels.append(np.full(n, label, dtype=np.int64))

    X = np.concatenate(points)
    X += rng.normal(0.0, noise, size=X.shape)
    return _shuffled(rng, X, np.concatenate(labels))


def make_circles(
    n_samples: int = 200,
    noise: float = 0.05,
    factor: float = 0.5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Make a circle of radius ``factor`` inside a circle of radius 1.

    Parameters
    ----------
    n_samples : int, default=200
        Total number of points; each circle gets half (±1).
    noise : float, default=0.05
        Standard deviation of the Gaussian noise added to each coordinate.
    factor : float, default=0.5
        Radius of the inner circle, in (0, 1).
    seed : int, default=0
        Seed of the `numpy.random.default_rng` used for everything.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    y : ndarray of shape (n_samples,), int64
        0 for the outer circle, 1 for the inner one.
    """
    n_samples = _check_count(n_samples, "n_samples", 2)
    noise = _check_noise(noise)
    factor = float(factor)
    if not 0.0 < factor < 1.0:
        raise DataError(f"factor must be in (0, 1), got {factor}")
    rng = np.random.default_rng(check_seed(seed))

    points = []
    labels = []
    for label, (radius, n) in enumerate(
        zip([1.0, factor], _class_sizes(n_samples, 2))
    ):
        angle = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
        points.append(radius * np.column_stack([np.cos(angle), np.sin(angle)]))
        labels.append(np.full(n, label, dtype=np.int64))

    X = np.concatenate(points)
    X += rng.normal(0.0, noise, size=X.shape)
    return _shuffled(rng, X, np.concatenate(labels))


def make_moons(
    n_samples: int = 200, noise: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Make two interlocking half circles.

    Class 0 is the upper half of the unit circle; class 1 is the same arc
    turned upside down and moved to (1, 0.5), so each arc reaches into the
    other's hollow.

    Parameters
    ----------
    n_samples : int, default=200
        Total number of points; each moon gets half (±1).
    noise : float, default=0.1
        Standard deviation of the Gaussian noise added to each coordinate.
    seed : int, default=0
        Seed of the `numpy.random.default_rng` used for everything.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    y : ndarray of shape (n_samples,), int64
    """
    n_samples = _check_count(n_samples, "n_samples", 2)
    noise = _check_noise(noise)
    rng = np.random.default_rng(check_seed(seed))
    n_upper, n_lower = _class_sizes(n_samples, 2)

    t = np.linspace(0.0, np.pi, n_upper)
    upper = np.column_stack([np.cos(t), np.sin(t)])
    t = np.linspace(0.0, np.pi, n_lower)
    lower = np.column_stack([1.0 - np.cos(t), 0.5 - np.sin(t)])

    X = np.concatenate([upper, lower])
    X += rng.normal(0.0, noise, size=X.shape)
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n_upper, n_lower])
    return _shuffled(rng, X, y)


def make_spirals(
    n_samples: int = 300,
    n_classes: int = 3,
    noise: float = 0.2,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Make ``n_classes`` spiral arms wound around the origin.

    Arm k starts at the origin and turns through 3π/2 radians while its
    radius grows from 0 to 1; the arms start 2π/n_classes apart, so they
    interleave and no straight line separates any two of them.

    Parameters
    ----------
    n_samples : int, default=300
        Total number of points, shared equally (±1) among the arms.
    n_classes : int, default=3
        Number of arms, at least 2.
    noise : float, default=0.2
        Standard deviation, in radians, of the Gaussian noise added to each
        point's angle.
    seed : int, default=0
        Seed of the `numpy.random.default_rng` used for everything.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    y : ndarray of shape (n_samples,), int64
        The arm, 0..n_classes-1.
    """
    n_classes = _check_count(n_classes, "n_classes", 2)
    n_samples = _check_count(n_samples, "n_samples", n_classes)
    noise = _check_noise(noise)
    rng = np.random.default_rng(check_seed(seed))

    points = []
    labels = []
    for label, n in enumerate(_class_sizes(n_samples, n_classes)):
        radius = np.linspace(0.0, 1.0, n)
        angle = 2 * np.pi * label / n_classes + 1.5 * np.pi * radius
        angle += rng.normal(0.0, noise, size=n)
        arm = radius[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])
        points.append(arm)
        labels.append(np.full(n, label, dtype=np.int64))

    X = np.concatenate(points)
    return _shuffled(rng, X, np.concatenate(labels))


def load_dataset(name: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return a named dataset, as the command line's ``--dataset`` does.

    Parameters
    ----------
    name : str
        One of `DATASET_NAMES`: "digits", "mnist-5k", "tutorial", "xor",
        "circles", "moons" or "spirals". Case and ``_`` for ``-`` are
        forgiven.
    seed : int, default=0
        Seed for the generated problems; the fixed datasets ignore it.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray, int64 labels (float64 column of shape (4, 1) for
        "tutorial")

    Raises
    ------
    DataError
        If the name is not one of `DATASET_NAMES`.
    """
    key = str(name).strip().lower().replace("_", "-")
    if key == "digits":
        return load_digits()
    if key == "mnist-5k":
        return load_mnist_5k()
    if key == "tutorial":
        return load_tutorial()
    if key == "xor":
        return make_xor(seed=seed)
    if key == "circles":
        return make_circles(seed=seed)
    if key == "moons":
        return make_moons(seed=seed)
    if key == "spirals":
        return make_spirals(seed=seed)
    raise DataError(
        f"unknown dataset {name!r}; choose one of: {', '.join(DATASET_NAMES)}"
    )
