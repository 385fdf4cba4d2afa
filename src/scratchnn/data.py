"""Datasets, a CSV reader and the preprocessing a network needs.

Bundled real data (UCI digits, a 5,000-image MNIST subset), seeded toy
problems in two dimensions, a stratified train/test split, `StandardScaler`
and `LabelEncoder`. NumPy and the standard library only.
"""

import csv
import logging
import math
import os
from importlib import resources
from typing import NamedTuple

import numpy as np

from .errors import DataError, NotFittedError

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

# How many bad cells or rows an error message spells out before "and N more".
_MAX_REPORTED = 5


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
    rng = np.random.default_rng(seed)

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
    rng = np.random.default_rng(seed)

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
    rng = np.random.default_rng(seed)
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
    rng = np.random.default_rng(seed)

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


# ---------------------------------------------------------------------------
# CSV files
# ---------------------------------------------------------------------------

class CsvData(NamedTuple):
    """What `read_csv` found in a file: features, target and column names."""

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    target_name: str


def _parse_number(text: str) -> tuple[float, str | None]:
    """Return (value, None) for a finite number, else (nan, the problem)."""
    if text == "":
        return math.nan, "the cell is empty"
    shown = repr(text if len(text) <= 30 else text[:27] + "...")

    # float() also takes "1_000", "nan" and "inf"; none of them belongs in
    # a feature column, so they count as bad cells.
    try:
        value = float(text)
    except ValueError:
        return math.nan, f"{shown} is not a number"
    if "_" in text:
        return math.nan, f"{shown} is not a number"
    if not math.isfinite(value):
        return math.nan, f"{shown} is not a finite number"
    return value, None


def _summarise(problems: list[str], noun: str, sep: str = "; ") -> str:
    """Join up to _MAX_REPORTED problems, then say how many were left out."""
    text = sep.join(problems[:_MAX_REPORTED])
    left_out = len(problems) - _MAX_REPORTED
    if left_out > 0:
        text += f"{sep}and {left_out} more {noun}"
    return text


def _read_rows(path: str) -> list[tuple[int, list[str]]]:
    """Read a CSV file into (first file line, cells) pairs, blank lines cut."""
    if not os.path.exists(path):
        raise DataError(f"{path} does not exist; check the file name")
    if os.path.isdir(path):
        raise DataError(f"{path} is a directory, not a CSV file")

    rows = []
    try:
        # utf-8-sig reads plain UTF-8 too and drops a leading byte-order mark.
        with open(path, encoding="utf-8-sig", newline="") as fh:
            # strict: a stray or unclosed quote is an error, not a guess.
            reader = csv.reader(fh, strict=True)
            last_line = 0
            for cells in reader:
                # A quoted cell may span lines, so the row starts just after
                # the previous row ended, not at reader.line_num.
                first_line = last_line + 1
                last_line = reader.line_num
                if not cells or (len(cells) == 1 and not cells[0].strip()):
                    continue
                rows.append((first_line, [cell.strip() for cell in cells]))
    except UnicodeDecodeError as err:
        bad_byte = err.object[err.start]
        raise DataError(
            f"{path} is not UTF-8 text (it holds the byte 0x{bad_byte:02x}); "
            f"save it as UTF-8 CSV"
        ) from None
    except csv.Error as err:
        raise DataError(
            f"{path} line {last_line + 1} is not valid CSV: {err}"
        ) from None
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror}") from None
    return rows


def _check_header(path: str, header: list[str]) -> None:
    if len(header) < 2:
        hint = ""
        if ";" in header[0] or "\t" in header[0]:
            hint = " (separators must be commas, not ';' or tabs)"
        raise DataError(
            f"{path} has one column {header[0]!r}{hint}; need at least one "
            f"feature column and a target column"
        )
    for number, name in enumerate(header, start=1):
        if not name:
            raise DataError(
                f"{path} header: column {number} has no name; name every "
                f"column in the first row"
            )
    seen = set()
    for name in header:
        if name in seen:
            raise DataError(
                f"{path} header: column name {name!r} appears twice; column "
                f"names must be unique"
            )
        seen.add(name)


def read_csv(path: str | os.PathLike, target: str | None = None) -> CsvData:
    """Read a comma-separated file of numeric features and one target.

    Parameters
    ----------
    path : str or path-like
        A UTF-8 text file (a byte-order mark is allowed). The first row is
        the header; every later non-blank row is one sample.
    target : str or None, default=None
        Name of the target column; None means the last column.

    Returns
    -------
    CsvData
        ``X`` : ndarray of shape (n_samples, n_features), float64, the
        columns other than the target, in file order;
        ``y`` : ndarray of shape (n_samples,), float64 if every target cell
        is a number, otherwise the target text as a ``<U`` string array;
        ``feature_names`` : list of str; ``target_name`` : str.

    Raises
    ------
    DataError
        If the file is missing or not UTF-8, has no data rows, has no
        column named `target`, has a row whose cell count differs from the
        header's, or has an empty, non-numeric, NaN or infinite feature
        cell, or an empty target cell. Each message names the file; cell
        problems name the file line (the header is line 1), the column and
        the value, up to five of them.

    Notes
    -----
    Cells are stripped of surrounding spaces. Blank lines are skipped but
    still counted, so line numbers match what an editor shows.
    """
    path = os.fspath(path)
    header, body = _read_table(path)
    _check_header(path, header)

    if target is None:
        target_col = len(header) - 1
    elif target in header:
        target_col = header.index(target)
    else:
        columns = ", ".join(repr(name) for name in header)
        raise DataError(
            f"{path} has no column {target!r}; its columns are: {columns}"
        )

    feature_cols = [j for j in range(len(header)) if j != target_col]
    X, bad_cells = _parse_features(header, body, feature_cols)
    targets = [cells[target_col] for _, cells in body]
    bad_cells += [
        f"line {line}, column {header[target_col]!r}: the target cell is "
        f"empty"
        for (line, _), text in zip(body, targets)
        if text == ""
    ]
    _raise_bad_cells(path, bad_cells)

    y = _target_array(path, header[target_col], body, targets)
    feature_names = [header[j] for j in feature_cols]
    return CsvData(X, y, feature_names, header[target_col])


def read_header(path: str | os.PathLike) -> list[str]:
    """The column names in the first row of a CSV file."""
    header, _ = _read_table(os.fspath(path))
    return header


def read_features(path: str | os.PathLike, columns: list[str]) -> np.ndarray:
    """Read the named numeric columns of a CSV file, in the order given.

    Other columns (a target, an id) are ignored. Cells are checked as in
    `read_csv`: a missing or non-numeric value is an error naming the
    line, the column and the value.

    Returns
    -------
    ndarray of shape (n_samples, len(columns)), float64
    """
    path = os.fspath(path)
    header, body = _read_table(path)
    missing = [name for name in columns if name not in header]
    if missing:
        raise DataError(
            f"{path} lacks the column(s) {missing}; its columns are: "
            f"{header}"
        )
    feature_cols = [header.index(name) for name in columns]
    X, bad_cells = _parse_features(header, body, feature_cols)
    _raise_bad_cells(path, bad_cells)
    return X


def _read_table(path: str) -> tuple[list[str], list]:
    """Header and (line, cells) rows, refusing empty and ragged files."""
    rows = _read_rows(path)
    if not rows:
        raise DataError(
            f"{path} is empty; expected a header row and data rows"
        )
    _, header = rows[0]
    body = rows[1:]
    if not body:
        raise DataError(f"{path} has a header but no data rows")

    # Rows of the wrong length: report them before looking at any cell.
    ragged = [
        f"line {line} has {len(cells)} cells, the header has {len(header)}"
        for line, cells in body
        if len(cells) != len(header)
    ]
    if ragged:
        raise DataError(
            f"{path} {_summarise(ragged, 'rows')}; every row needs one cell "
            f"per header column"
        )
    return header, body


def _parse_features(header, body, feature_cols) -> tuple[np.ndarray, list]:
    """The chosen columns as floats, and a description of each bad cell."""
    X = np.empty((len(body), len(feature_cols)), dtype=np.float64)
    bad_cells = []
    for i, (line, cells) in enumerate(body):
        for k, j in enumerate(feature_cols):
            X[i, k], problem = _parse_number(cells[j])
            if problem is not None:
                where = f"line {line}, column {header[j]!r}"
                bad_cells.append(f"{where}: {problem}")
    return X, bad_cells


def _raise_bad_cells(path: str, bad_cells: list[str]) -> None:
    if not bad_cells:
        return
    hints = []
    if any("target cell" not in cell for cell in bad_cells):
        hints.append("fix or remove missing and non-numeric feature values")
    if any("target cell" in cell for cell in bad_cells):
        hints.append("give every row a target value")
    detail = _summarise(bad_cells, "bad cells")
    raise DataError(f"{path} {detail}; {' and '.join(hints)}")


def _target_array(path, name, body, targets) -> np.ndarray:
    """Numbers if every target cell is one, else the text as strings."""
    try:
        values = np.array([float(text) for text in targets])
    except ValueError:
        return np.array(targets, dtype=str)

    # Every cell parsed, so an "inf" or "nan" here is a numeric target gone
    # wrong rather than a class name.
    bad = [
        f"line {line}: {text!r}"
        for (line, _), text, value in zip(body, targets, values)
        if not math.isfinite(value)
    ]
    if bad:
        raise DataError(
            f"{path} target column {name!r} holds non-finite values at "
            f"{_summarise(bad, 'rows')}; fix or remove those rows"
        )
    return values


# ---------------------------------------------------------------------------
# Splitting
# ---------------------------------------------------------------------------

def _test_count(test_size, n_samples: int) -> int:
    """Number of test rows for a fraction or a count of rows."""
    if isinstance(test_size, bool):
        raise DataError(
            f"test_size must be a fraction or a count, got {test_size}"
        )
    if isinstance(test_size, (int, np.integer)):
        n_test = int(test_size)
        if not 1 <= n_test < n_samples:
            raise DataError(
                f"test_size={n_test} must leave rows on both sides of a split "
                f"of {n_samples} samples"
            )
        return n_test
    fraction = float(test_size)
    if not 0.0 < fraction < 1.0:
        raise DataError(f"test_size must be in (0, 1), got {fraction}")
    return math.ceil(fraction * n_samples)


def _allocate(counts: np.ndarray, n_test: int) -> np.ndarray:
    """Share n_test among classes in proportion, keeping 1..count-1 each."""
    ideal = counts * n_test / counts.sum()
    alloc = np.clip(np.floor(ideal), 1, counts - 1).astype(np.int64)

    # Give or take single rows where rounding left the total off, always
    # from the class furthest from its proportional share.
    while alloc.sum() < n_test:
        room = np.where(alloc < counts - 1, ideal - alloc, -np.inf)
        alloc[np.argmax(room)] += 1
    while alloc.sum() > n_test:
        room = np.where(alloc > 1, ideal - alloc, np.inf)
        alloc[np.argmin(room)] -= 1
    return alloc


def train_test_split(
    X,
    y,
    test_size: float = 0.2,
    seed: int = 0,
    stratify: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split rows at random into a training part and a test part.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
    y : array-like of shape (n_samples,) or (n_samples, n_out)
        Labels of any kind (ints, floats, strings). With ``stratify=True``
        y must be one label per row: shape (n_samples,) or (n_samples, 1).
    test_size : float or int, default=0.2
        Fraction of rows for the test part, in (0, 1), rounded up; or a
        number of rows.
    seed : int, default=0
        Seed of the one `numpy.random.default_rng` that makes the split.
    stratify : bool, default=True
        Split each class separately so both parts keep the class
        proportions (to within one row per class).

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
        New arrays; the inputs are not modified. Rows are shuffled.

    Raises
    ------
    DataError
        If X and y differ in length, or the split is impossible: a part
        would be empty or, when stratifying, a class has fewer than 2 rows
        or a part has fewer rows than there are classes.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 0 or y.ndim == 0 or len(y) != len(X):
        raise DataError(
            f"X and y must have the same number of rows, got X of shape "
            f"{X.shape} and y of shape {y.shape}"
        )
    n_samples = len(X)
    if n_samples < 2:
        raise DataError(
            f"cannot split {n_samples} samples into a training and a test "
            f"part; need at least 2"
        )
    n_test = _test_count(test_size, n_samples)
    n_train = n_samples - n_test
    if n_train < 1:
        raise DataError(
            f"test_size={test_size} leaves no training rows out of "
            f"{n_samples}; use a smaller test_size"
        )
    rng = np.random.default_rng(seed)

    if not stratify:
        order = rng.permutation(n_samples)
        test_idx, train_idx = order[:n_test], order[n_test:]
        return X[train_idx], X[test_idx], y[train_idx], y[test_idx]

    if y.ndim > 2 or (y.ndim == 2 and y.shape[1] != 1):
        raise DataError(
            f"a stratified split needs one label per row, got y of shape "
            f"{y.shape}; pass stratify=False for multi-output targets"
        )
    classes, codes, counts = np.unique(
        _as_labels(y.reshape(-1), "y"), return_inverse=True, return_counts=True
    )

    # Check the split can give every class a row on each side.
    hint = "pass stratify=False (e.g. for regression targets) or add data"
    if counts.min() < 2:
        rare = [
            f"class {_show(c)} has {n}"
            for c, n in zip(classes, counts)
            if n < 2
        ]
        raise DataError(
            f"a stratified split needs at least 2 rows of every class, but "
            f"{_summarise(rare, 'classes', sep=', ')}; {hint}"
        )
    if min(n_test, n_train) < len(classes):
        raise DataError(
            f"a stratified split of {n_samples} rows into {n_train} train "
            f"and {n_test} test rows cannot hold all {len(classes)} classes "
            f"in each part; change test_size or {hint}"
        )

    alloc = _allocate(counts, n_test)
    test_parts = []
    train_parts = []
    for code, n_class_test in enumerate(alloc):
        members = rng.permutation(np.flatnonzero(codes == code))
        test_parts.append(members[:n_class_test])
        train_parts.append(members[n_class_test:])

    # Shuffle across classes too, so neither part comes out sorted by class.
    train_idx = rng.permutation(np.concatenate(train_parts))
    test_idx = rng.permutation(np.concatenate(test_parts))
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


# ---------------------------------------------------------------------------
# Preprocessing
# ---------------------------------------------------------------------------

def _as_features(X, name: str = "X") -> np.ndarray:
    """Return X as a new float64 2-D array of finite values, or raise."""
    try:
        X = np.array(X, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DataError(f"{name} must be numeric: {err}") from None
    if X.ndim != 2:
        raise DataError(
            f"{name} must be 2-D (n_samples, n_features), got shape "
            f"{X.shape}; use X.reshape(-1, 1) for one feature or "
            f"X.reshape(1, -1) for one sample"
        )
    if not np.isfinite(X).all():
        rows, cols = np.nonzero(~np.isfinite(X))
        raise DataError(
            f"{name} holds NaN or inf, first at row {rows[0]}, column "
            f"{cols[0]} ({len(rows)} cells in all); fix or remove them"
        )
    return X


class StandardScaler:
    r"""Shift and scale each feature to mean 0 and standard deviation 1.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Column means of the data given to `fit`.
    scale_ : ndarray of shape (n_features,)
        Column standard deviations (population, ddof=0), with 1.0 for
        columns that do not vary.
    n_features_in_ : int

    Notes
    -----
    ``transform`` computes :math:`(x - \mu) / s`. A constant column has
    :math:`s = 0`; its scale is set to exactly 1.0, so it maps to exactly
    0.0 (not NaN, and not :math:`-c` as a wrong special case would give)
    and an unseen value v maps to the finite :math:`v - c`.
    """

    def __init__(self):
        self.mean_ = None
        self.scale_ = None
        self.n_features_in_ = None

    def fit(self, X) -> "StandardScaler":
        """Learn each column's mean and standard deviation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            At least one row; finite values only.

        Returns
        -------
        self : StandardScaler
        """
        X = _as_features(X)
        if len(X) == 0:
            raise DataError(
                f"X has 0 samples (shape {X.shape}); need at least 1 to fit "
                f"a StandardScaler"
            )
        if X.shape[1] == 0:
            raise DataError(
                f"X has 0 features (shape {X.shape}); need at least 1 to fit "
                f"a StandardScaler"
            )

        mean = X.mean(axis=0)
        std = X.std(axis=0)

        # A constant column's mean can come out one rounding step away from
        # its value (e.g. three 0.1s), so take the value itself; and treat
        # a spread no bigger than rounding noise as no spread at all.
        constant = X.max(axis=0) == X.min(axis=0)
        mean[constant] = X[0, constant]
        noise_level = len(X) * np.finfo(np.float64).eps * np.abs(X).max(axis=0)
        flat = constant | (std <= noise_level)
        std[flat] = 1.0

        self.mean_ = mean
        self.scale_ = std
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        """Standardise X with the statistics learned by `fit`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features), float64
            A new array; X is not modified.
        """
        if self.mean_ is None:
            raise NotFittedError(
                "this StandardScaler is not fitted yet; call fit(X) first"
            )
        X = _as_features(X)
        if X.shape[1] != self.n_features_in_:
            raise DataError(
                f"X has {X.shape[1]} features, but the scaler was fitted on "
                f"{self.n_features_in_}"
            )
        return (X - self.mean_) / self.scale_

    def fit_transform(self, X) -> np.ndarray:
        """Fit to X, then return X standardised."""
        return self.fit(X).transform(X)

    def inverse_transform(self, X) -> np.ndarray:
        """Map standardised values back to the original units."""
        if self.mean_ is None:
            raise NotFittedError(
                "this StandardScaler is not fitted yet; call fit(X) first"
            )
        X = _as_features(X)
        return X * self.scale_ + self.mean_

    def to_dict(self) -> dict[str, np.ndarray]:
        """Return copies of ``mean_`` and ``scale_`` under "mean", "scale"."""
        if self.mean_ is None:
            raise NotFittedError(
                "this StandardScaler is not fitted yet; call fit(X) first"
            )
        return {"mean": self.mean_.copy(), "scale": self.scale_.copy()}

    @classmethod
    def from_arrays(cls, mean, scale) -> "StandardScaler":
        """Rebuild a fitted scaler from saved ``mean_`` and ``scale_``.

        Parameters
        ----------
        mean : array-like of shape (n_features,)
        scale : array-like of shape (n_features,)
            Every entry finite and > 0.

        Returns
        -------
        StandardScaler
        """
        mean = np.array(mean, dtype=np.float64)
        scale = np.array(scale, dtype=np.float64)
        if mean.ndim != 1 or mean.shape != scale.shape:
            raise DataError(
                f"mean and scale must be 1-D of equal length, got shapes "
                f"{mean.shape} and {scale.shape}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(scale).all()):
            raise DataError("mean and scale must hold finite values only")
        if (scale <= 0).any():
            raise DataError(
                f"every scale must be > 0, got {scale[scale <= 0][0]}"
            )

        scaler = cls()
        scaler.mean_ = mean
        scaler.scale_ = scale
        scaler.n_features_in_ = len(mean)
        return scaler

    def __repr__(self):
        if self.mean_ is None:
            return "StandardScaler()"
        return f"StandardScaler(n_features_in_={self.n_features_in_})"


def _show(label) -> str:
    """A label as a user would type it: 'cat' quoted, 3 bare."""
    if isinstance(label, np.generic):
        label = label.item()
    return repr(label)


def _as_labels(y, name: str) -> np.ndarray:
    """Return y as a 1-D array of comparable labels (no object dtype)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.ndim != 1:
        raise DataError(
            f"{name} must be one label per sample, shape (n_samples,), got "
            f"shape {y.shape}; for one-hot rows pass y.argmax(axis=1)"
        )

    if y.dtype == object:
        # Object arrays hold Python values; turn them into one plain dtype
        # so that sorting and comparing labels is well defined.
        if all(isinstance(v, str) for v in y):
            y = y.astype(str)
        elif all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool)
            for v in y
        ):
            y = y.astype(np.int64)
        elif all(isinstance(v, (int, float, np.number)) for v in y):
            y = y.astype(np.float64)
        else:
            kinds = sorted({type(v).__name__ for v in y})
            raise DataError(
                f"{name} mixes label types ({', '.join(kinds)}); use labels "
                f"of one type, e.g. all strings"
            )
    if y.dtype.kind not in "biufU":
        raise DataError(f"{name} has unsupported label dtype {y.dtype}")
    if y.dtype.kind == "f" and np.isnan(y).any():
        raise DataError(f"{name} holds NaN labels; remove those samples")
    return y


class LabelEncoder:
    """Map class labels to the codes 0..n_classes-1 and back.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The sorted distinct labels seen by `fit`, in the input's kind:
        integers stay integers, floats stay floats, strings become ``<U``
        (object arrays of strings included).
    """

    def __init__(self):
        self.classes_ = None

    def fit(self, y) -> "LabelEncoder":
        """Learn the distinct labels in y.

        Parameters
        ----------
        y : array-like of shape (n_samples,) or (n_samples, 1)

        Returns
        -------
        self : LabelEncoder
        """
        y = _as_labels(y, "y")
        if len(y) == 0:
            raise DataError("y is empty; need at least one label to fit")
        self.classes_ = np.unique(y)
        return self

    def _check_fitted(self):
        if self.classes_ is None:
            raise NotFittedError(
                "this LabelEncoder is not fitted yet; call fit(y) first"
            )

    def transform(self, y) -> np.ndarray:
        """Return the code of each label.

        Parameters
        ----------
        y : array-like of shape (n_samples,) or (n_samples, 1)
            Labels seen by `fit`.

        Returns
        -------
        ndarray of shape (n_samples,), int64

        Raises
        ------
        DataError
            If y holds a label `fit` did not see; the message names it and
            lists the known classes.
        """
        self._check_fitted()
        y = _as_labels(y, "y")

        # Text and numbers never match; don't let searchsorted compare them.
        if (y.dtype.kind == "U") != (self.classes_.dtype.kind == "U"):
            known = np.zeros(len(y), dtype=bool)
            codes = np.zeros(len(y), dtype=np.int64)
        else:
            codes = np.searchsorted(self.classes_, y)
            codes = np.minimum(codes, len(self.classes_) - 1)
            known = self.classes_[codes] == y

        if not known.all():
            unseen = ", ".join(_show(v) for v in np.unique(y[~known])[:10])
            classes = ", ".join(_show(c) for c in self.classes_[:20])
            if len(self.classes_) > 20:
                classes += ", ..."
            raise DataError(
                f"y holds labels not seen during fit: {unseen}; the known "
                f"classes are {classes}"
            )
        return codes.astype(np.int64)

    def fit_transform(self, y) -> np.ndarray:
        """Fit to y, then return its codes."""
        return self.fit(y).transform(y)

    def inverse_transform(self, codes) -> np.ndarray:
        """Return the label of each code.

        Parameters
        ----------
        codes : array-like of shape (n_samples,)
            Integers in [0, n_classes).

        Returns
        -------
        ndarray of shape (n_samples,), the dtype of ``classes_``
        """
        self._check_fitted()
        codes = np.asarray(codes)
        if codes.ndim != 1:
            raise DataError(f"codes must be 1-D, got shape {codes.shape}")
        if codes.size and codes.dtype.kind not in "iu":
            if codes.dtype.kind != "f" or not np.array_equal(
                codes, np.round(codes)
            ):
                raise DataError(
                    f"codes must be whole numbers, got dtype {codes.dtype}"
                )
        codes = codes.astype(np.int64)

        n_classes = len(self.classes_)
        outside = (codes < 0) | (codes >= n_classes)
        if outside.any():
            raise DataError(
                f"codes must be in [0, {n_classes}), got {codes[outside][0]}"
            )
        return self.classes_[codes]

    def __repr__(self):
        if self.classes_ is None:
            return "LabelEncoder()"
        return f"LabelEncoder(n_classes={len(self.classes_)})"
