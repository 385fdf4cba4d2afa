"""Data as the command line sees it: a dataset name, a CSV or a .npy path.

Loads either kind into one record with column names, splits off the test
rows the same way in `train` and `evaluate`, lines a CSV's columns up with
the ones a model was trained on, and counts a confusion matrix.
"""
import os
from dataclasses import dataclass

import numpy as np

from . import data, streaming
from .errors import DataError

# A numeric CSV target with at most this many distinct whole numbers is
# read as class labels; anything else is a regression target.
MAX_CLASSES_FOR_NUMBERS = 20

# Every .npy file starts with these bytes.
_NPY_MAGIC = b"\x93NUMPY"

# How many column names a message lists before it says "and N more".
_NAMES_SHOWN = 6


@dataclass
class Dataset:
    """Features and targets with the names the command line reports."""

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    target: str
    name: str  # the dataset name, or the CSV's absolute path
    bundled: bool


def is_npy(spec: str) -> bool:
    return spec.lower().endswith(".npy")


def is_csv(spec: str) -> bool:
    return not is_npy(spec) and (
        spec.lower().endswith(".csv") or os.sep in spec
    )


def load(spec: str, target: str | None = None, seed: int = 0) -> Dataset:
    """A bundled dataset by name (columns x0, x1, ..., target y), a CSV,
    or a .npy file (memory-mapped: see `load_npy`)."""
    if is_npy(spec):
        if target is not None:
            raise DataError(
                f"--target names a CSV column; in {spec!r} the target is "
                f"the last column, so leave --target out"
            )
        return load_npy(spec)
    if is_csv(spec):
        table = data.read_csv(spec, target=target)
        return Dataset(
            table.X,
            table.y,
            table.feature_names,
            table.target_name,
            os.path.abspath(spec),
            bundled=False,
        )
    if target is not None:
        raise DataError(
            f"--target names a CSV column, but --data {spec!r} is a bundled "
            f"dataset; leave --target out"
        )
    X, y = data.load_dataset(spec, seed=seed)
    names = [f"x{i}" for i in range(X.shape[1])]
    return Dataset(X, y, names, "y", spec, bundled=True)


def load_npy(path: str) -> Dataset:
    """A 2-D .npy file: features x0, x1, ... then the target, last column.

    The file is memory-mapped, not read: training streams its rows (see
    `scratchnn.streaming`), so it may be larger than memory. Only the
    target column is copied into memory.
    """
    how = "write it with numpy.save from a numeric 2-D array"
    try:
        with open(path, "rb") as file:
            magic = file.read(len(_NPY_MAGIC))
    except FileNotFoundError:
        raise DataError(f"no such file: {path!r}") from None
    except OSError as error:
        raise DataError(f"cannot read {path!r}: {error.strerror}") from None
    if magic != _NPY_MAGIC:
        # np.load would call this "pickled data" and suggest allow_pickle.
        what = "is empty" if not magic else "does not start as one does"
        raise DataError(f"{path!r} is not a .npy file (it {what}); {how}")
    try:
        # A header declaring an absurd shape overflows while NumPy sizes
        # it; the error below says what is wrong, so the warning is noise.
        with np.errstate(over="ignore"):
            array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DataError(
            f"cannot read {path!r} as a .npy array ({error}); {how}"
        ) from None
    if not isinstance(array, np.ndarray) or array.ndim != 2:
        shape = getattr(array, "shape", None)
        raise DataError(
            f"{path!r} holds an array of shape {shape}; it must be 2-D: one "
            f"row per sample, the feature columns, then the target column"
        )
    if array.shape[1] < 2:
        raise DataError(
            f"{path!r} has {array.shape[1]} column(s); it needs at least "
            f"one feature column and the target column, last"
        )
    if array.dtype.kind not in "iufb":
        raise DataError(
            f"{path!r} holds {array.dtype} values; features and target must "
            f"be real numbers"
        )
    y = streaming.copy_column(array, -1)
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        row = int(np.argmax(~np.isfinite(y)))
        raise DataError(
            f"{path!r}: the target (last column) holds {y[row]} at row {row} "
            f"(counting from 0); remove or fill in that row"
        )
    # Checked whole, before any split: a bad cell among the test rows
    # would otherwise surface only after training.
    features = array[:, :-1]
    streaming.MappedRows(features, name=repr(path)).check_values("use")
    names = [f"x{i}" for i in range(array.shape[1] - 1)]
    return Dataset(features, y, names, "y", os.path.abspath(path),
                   bundled=False)


def load_like_training(spec: str, target: str | None, meta: dict) -> Dataset:
    """Load data to score a model: same target and columns as in training.

    A CSV's feature columns are matched to the model's by name, in any
    order, so a reordered file cannot be scored silently wrong.
    """
    if is_csv(spec) and target is None:
        header = data.read_header(spec)
        if meta.get("target") in header:
            target = meta["target"]
    dataset = load(spec, target, meta.get("seed", 0))
    expected = meta.get("feature_names")
    if expected and not dataset.bundled:
        order = columns_in_order(dataset.feature_names, expected, spec)
        if order != list(range(len(order))):  # a mapped file stays mapped
            dataset.X = dataset.X[:, order]
        dataset.feature_names = list(expected)
    return dataset


def columns_in_order(found: list, expected: list, where: str) -> list[int]:
    """Indices that put `found` columns in `expected` order, or a clear error."""
    missing = [c for c in expected if c not in found]
    unknown = [c for c in found if c not in expected]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"lacks the column(s) {_names(missing)}")
        if unknown:
            parts.append(f"has column(s) the model does not know: "
                         f"{_names(unknown)}")
        raise DataError(
            f"{where} " + " and ".join(parts) + "; give the feature "
            f"columns the model was trained on ({_names(expected)})"
        )
    return [found.index(c) for c in expected]


def _names(names: list) -> str:
    shown = ", ".join(repr(n) for n in names[:_NAMES_SHOWN])
    if len(names) > _NAMES_SHOWN:
        shown += f" and {len(names) - _NAMES_SHOWN} more"
    return shown


def looks_like_classes(y: np.ndarray) -> bool:
    """True for text labels or a few distinct whole numbers."""
    if y.dtype.kind in "USO":
        return True
    if y.ndim == 2 and y.shape[1] > 1:
        return False
    values = np.unique(y)
    whole = np.all(values == np.round(values))
    return bool(whole) and len(values) <= MAX_CLASSES_FOR_NUMBERS


def split(dataset: Dataset, test_size: float, seed: int, classify: bool):
    """X_train, y_train, X_test, y_test; the test part is None if too small.

    The same arguments always give the same rows, so `evaluate` can find
    the rows that `train` held out.
    """
    if test_size == 0:
        return dataset.X, dataset.y, None, None
    if streaming.is_mapped(dataset.X):
        return _split_mapped(dataset, test_size, seed, classify)
    try:
        X_tr, X_te, y_tr, y_te = data.train_test_split(
            dataset.X, dataset.y, test_size=test_size, seed=seed,
            stratify=classify,
        )
    except DataError:
        return dataset.X, dataset.y, None, None
    return X_tr, y_tr, X_te, y_te


def _split_mapped(dataset: Dataset, test_size: float, seed: int,
                  classify: bool):
    """`split` for a memory-mapped X: both parts stay on disk, as rows."""
    positions = np.arange(len(dataset.y))
    try:
        train, test, y_tr, y_te = data.train_test_split(
            positions, dataset.y, test_size=test_size, seed=seed,
            stratify=classify,
        )
    except DataError:
        return dataset.X, dataset.y, None, None
    mapped = streaming.MappedRows(dataset.X)
    return mapped.subset(train), y_tr, mapped.subset(test), y_te


def confusion_matrix(y_true, y_pred, classes: np.ndarray) -> np.ndarray:
    """Counts of (true class, predicted class) pairs, in `classes` order."""
    index = {c: i for i, c in enumerate(classes.tolist())}
    y_true = np.asarray(y_true).ravel()
    if y_true.dtype.kind == "f" and classes.dtype.kind in "iu":
        y_true = y_true.astype(classes.dtype)
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for t, p in zip(y_true.tolist(), np.asarray(y_pred).tolist()):
        matrix[index[t], index[p]] += 1
    return matrix


def format_matrix(matrix: np.ndarray, classes: np.ndarray) -> str:
    """The matrix as aligned text, rows and columns labelled by class."""
    labels = [str(c) for c in classes.tolist()]
    width = max(max(map(len, labels)), len(str(matrix.max()))) + 1
    lines = [" " * width + "".join(f"{name:>{width}}" for name in labels)]
    for label, row in zip(labels, matrix):
        counts = "".join(f"{n:>{width}}" for n in row)
        lines.append(f"{label:>{width}}{counts}")
    return "\n".join(lines)
