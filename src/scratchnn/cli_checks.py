"""Checks the command line makes on what it reads from files.

A model file's metadata is whatever `Network.save(extra=...)` was given,
so each field the commands use is checked for its kind before use; the
points a decision boundary is drawn over are checked before the grid is.
"""
import math

import numpy as np

from .errors import DataError
from .model_header import show


def _text(value) -> bool:
    return isinstance(value, str)


def _flag(value) -> bool:
    return isinstance(value, bool)


def _texts(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _count(value) -> bool:
    return type(value) is int and value >= 0


def _share(value) -> bool:
    return type(value) in (int, float) and 0 <= value < 1


def _shape(value) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(
        _count(n) for n in value
    )


def _finite(value) -> bool:
    # A JSON int can be too large for a float, so isfinite raises.
    try:
        return type(value) in (int, float) and math.isfinite(value)
    except OverflowError:
        return False


def _scores(value) -> bool:
    return isinstance(value, dict) and all(
        _finite(v) for v in value.values()
    )


# Each metadata field `train` records: its test, and the rule in words.
FIELDS = {
    "data": (_text, "a dataset name or a file path"),
    "bundled": (_flag, "true or false"),
    "target": (_text, "a column name"),
    "feature_names": (_texts, "a list of column names"),
    "seed": (_count, "an integer >= 0"),
    "test_size": (_share, "a number in [0, 1)"),
    "train_shape": (_shape, "[rows, columns]"),
    "metrics": (_scores, "an object of finite numbers"),
}


def checked_metadata(meta: dict, path: str, note=None) -> dict:
    """A copy of `meta` without the fields of the wrong kind.

    Parameters
    ----------
    meta : dict
        A loaded network's ``metadata``.
    path : str
        The model file, named in the notes.
    note : callable or None, default=None
        Called with one line for each field left out.

    Returns
    -------
    dict
        The fields of `FIELDS` that pass their test (test_size only with
        a seed), and every other field as it was; a field left out reads
        as one the file never recorded.
    """
    kept = dict(meta)
    for key, (fits, rule) in FIELDS.items():
        if key not in kept or fits(kept[key]):
            continue
        value = kept.pop(key)
        if note is not None:
            note(f"note: the metadata of {path!r} gives {key} as "
                 f"{show(value)}, not {rule}; ignoring it")

    # The held-out rows are found again by redoing the split with both.
    if kept.get("test_size") and "seed" not in kept:
        del kept["test_size"]
        if note is not None:
            note(f"note: the metadata of {path!r} gives test_size but no "
                 f"seed, so the rows held out in training cannot be found "
                 f"again; ignoring test_size")
    return kept


def printable(text: str) -> str:
    """text with control characters escaped, so a terminal only shows it."""
    return "".join(
        c if c.isprintable() else repr(c)[1:-1] for c in str(text)
    )


def check_points(X, where: str, feature_names, network) -> None:
    """Refuse points the decision boundary's grid could not be built over.

    Each must be finite, and within the range of the network's dtype once
    the network's input scaling has been applied, as predicting needs.
    Rows and columns count from 0, as in the file.

    Raises
    ------
    DataError
        Naming `where` (the data's file), the row, the column and the value.
    """
    X = np.asarray(X, dtype=np.float64)  # (n_samples, 2)
    bad = ~np.isfinite(X)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(
            f"{where} holds {X[row, col]} at row {row}, column {col} "
            f"({feature_names[col]}), counting from 0; the points to draw "
            f"must be finite numbers: remove or fill in that row"
        )

    # The same scaling predicting applies; overflow shows up as inf.
    scaled = X
    scaler = network.scaler
    if scaler is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            scaled = (X - scaler.mean_) / scaler.scale_
    dtype = np.dtype(network.dtype)
    limit = np.finfo(dtype).max
    too_far = ~(np.abs(scaled) <= limit)
    if too_far.any():
        row, col = np.argwhere(too_far)[0]
        scaling = ", after the model's input scaling," if scaler else ""
        raise DataError(
            f"{where} holds {X[row, col]:g} at row {row}, column {col} "
            f"({feature_names[col]}), counting from 0, which{scaling} is "
            f"beyond the ±{limit:.4g} the model's {dtype.name} network can "
            f"hold; remove that row or give points on the training data's "
            f"scale"
        )
