"""Preprocessing: a stratified train/test split, scaling and label encoding.

NumPy only. Nothing here changes the caller's arrays.
"""
import math

import numpy as np

from .errors import DataError, NotFittedError
from .streaming import block_rows
from .validation import (
    check_class_labels,
    check_seed,
    show_label,
    summarise_problems,
)


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
    rng = np.random.default_rng(check_seed(seed))

    if not stratify:
        order = rng.permutation(n_samples)
        test_idx, train_idx = order[:n_test], order[n_test:]
        return X[train_idx], X[test_idx], y[train_idx], y[test_idx]

    if y.ndim > 2 or (y.ndim == 2 and y.shape[1] != 1):
        raise DataError(
            f"a stratified split needs one label per row, got y of shape "
            f"{y.shape}; pass stratify=False for multi-output targets"
        )
    labels = check_class_labels(y.reshape(-1))
    classes, codes, counts = np.unique(
        labels, return_inverse=True, return_counts=True
    )

    # Check the split can give every class a row on each side.
    hint = "pass stratify=False (e.g. for regression targets) or add data"
    if counts.min() < 2:
        rare = [
            f"class {show_label(c)} has {n}"
            for c, n in zip(classes, counts)
            if n < 2
        ]
        raise DataError(
            f"a stratified split needs at least 2 rows of every class, but "
            f"{summarise_problems(rare, 'classes', sep=', ')}; {hint}"
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

def _row_blocks(X: np.ndarray):
    """(start, rows) blocks of an in-memory float64 array, as views."""
    step = block_rows(X.shape[1])
    for start in range(0, len(X), step):
        yield start, np.asarray(X[start:start + step], dtype=np.float64)


def _as_features(X, name: str = "X") -> np.ndarray:
    """Return X as a 2-D float array of finite values, or raise.

    float32 and float64 arrays come back as they are (the data may be
    large; nothing here writes to it); anything else as a float64 copy.
    """
    X = np.asarray(X) if isinstance(X, np.ndarray) else X
    if not (isinstance(X, np.ndarray) and X.dtype in (np.float32, np.float64)):
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
    # A finite sum needs no cell-by-cell look (see check_finite).
    with np.errstate(over="ignore", invalid="ignore"):
        finite_sum = np.isfinite(np.sum(X))
    if not finite_sum and not np.isfinite(X).all():
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

        return self.fit_blocks(lambda: _row_blocks(X), X.shape)

    def fit_blocks(self, make_blocks, shape: tuple) -> "StandardScaler":
        """Fit from blocks of rows, for data too large to hold at once.

        `make_blocks()` must give, each time it is called, the same finite
        float64 blocks (start, rows) that together make data of `shape`;
        three passes are made. `fit` uses it too, so both agree exactly.
        """
        n_samples, n_features = shape
        # Squares of values near 1e200 overflow (and near 1e-200 vanish),
        # so each column is first divided by the power of two just above its
        # largest |value|. That division is exact and leaves values in
        # (-1, 1); the mean and std, scaled back, are then at most the
        # largest |value|, so they are finite for any finite column.
        high = np.full(n_features, -np.inf)
        low = np.full(n_features, np.inf)
        for _, block in make_blocks():
            np.maximum(high, block.max(axis=0), out=high)
            np.minimum(low, block.min(axis=0), out=low)
        max_abs = np.maximum(np.abs(high), np.abs(low))
        _, exponent = np.frexp(max_abs)

        total = np.zeros(n_features)
        for _, block in make_blocks():
            total += np.ldexp(block, -exponent).sum(axis=0)
        unit_mean = total / n_samples
        squares = np.zeros(n_features)
        for _, block in make_blocks():
            squares += np.square(np.ldexp(block, -exponent) - unit_mean).sum(axis=0)
        mean = np.ldexp(unit_mean, exponent)
        std = np.ldexp(np.sqrt(squares / n_samples), exponent)

        # A constant column's mean can come out one rounding step away from
        # its value (e.g. three 0.1s), so take the value itself; and treat
        # a spread no bigger than rounding noise as no spread at all.
        constant = high == low
        mean[constant] = high[constant]
        noise_level = n_samples * np.finfo(np.float64).eps * max_abs
        flat = constant | (std <= noise_level)
        std[flat] = 1.0

        self.mean_ = mean
        self.scale_ = std
        self.n_features_in_ = n_features
        return self

    def transform(self, X, *, first_row: int = 0) -> np.ndarray:
        """Standardise X with the statistics learned by `fit`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        first_row : int, default=0
            The number messages give X's first row: X may be a block of
            rows cut from a larger array.

        Returns
        -------
        ndarray of shape (n_samples, n_features), float64
            A new array; X is not modified.

        Raises
        ------
        DataError
            If a standardised value is beyond float64's range (a value
            very far from the data `fit` saw); it names the row and column.
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

        # An overflow is reported below, with the cell that caused it.
        with np.errstate(over="ignore"):
            Z = (X - self.mean_) / self.scale_
        if not np.isfinite(Z).all():
            row, col = np.argwhere(~np.isfinite(Z))[0]
            raise DataError(
                f"standardising X overflows float64 at row "
                f"{first_row + row}, column "
                f"{col}: ({X[row, col]:g} - mean {self.mean_[col]:g}) / "
                f"scale {self.scale_[col]:g}; scale that column down"
            )
        return Z

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


class LabelEncoder:
    """Map class labels to the codes 0..n_classes-1 and back.

    Labels are read by `validation.check_class_labels`: numbers or strings,
    and object arrays only when all their elements are strings or all are
    numbers.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The sorted distinct labels seen by `fit`, in the input's kind:
        integers stay integers, floats stay floats, strings become ``<U``
        (object arrays of strings included).
    object_labels_ : bool
        True when `fit` was given an object array of strings;
        `inverse_transform` then returns object arrays too.
    """

    def __init__(self):
        self.classes_ = None
        self.object_labels_ = False

    def fit(self, y) -> "LabelEncoder":
        """Learn the distinct labels in y.

        Parameters
        ----------
        y : array-like of shape (n_samples,) or (n_samples, 1)

        Returns
        -------
        self : LabelEncoder
        """
        self._fit(y, check_class_labels(y))
        return self

    def _fit(self, given, labels: np.ndarray) -> None:
        if len(labels) == 0:
            raise DataError("y is empty; need at least one label to fit")
        self.classes_ = np.unique(labels)
        given_object = getattr(given, "dtype", None) == object
        self.object_labels_ = given_object and labels.dtype.kind == "U"

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
        return self._encode(check_class_labels(y))

    def _encode(self, y: np.ndarray) -> np.ndarray:
        """Codes of labels that check_class_labels has already read."""
        # Text and numbers never match; don't let searchsorted compare them.
        if (y.dtype.kind == "U") != (self.classes_.dtype.kind == "U"):
            known = np.zeros(len(y), dtype=bool)
            codes = np.zeros(len(y), dtype=np.int64)
        else:
            codes = np.searchsorted(self.classes_, y)
            codes = np.minimum(codes, len(self.classes_) - 1)
            known = self.classes_[codes] == y

        if not known.all():
            first_unseen = np.unique(y[~known])[:10]
            unseen = ", ".join(show_label(v) for v in first_unseen)
            classes = ", ".join(show_label(c) for c in self.classes_[:20])
            if len(self.classes_) > 20:
                classes += ", ..."
            raise DataError(
                f"y holds labels not seen during fit: {unseen}; the known "
                f"classes are {classes}"
            )
        return codes.astype(np.int64)

    def fit_transform(self, y) -> np.ndarray:
        """Fit to y, then return its codes; reads the labels once."""
        labels = check_class_labels(y)
        self._fit(y, labels)
        return self._encode(labels)

    def inverse_transform(self, codes) -> np.ndarray:
        """Return the label of each code.

        Parameters
        ----------
        codes : array-like of shape (n_samples,)
            Integers in [0, n_classes).

        Returns
        -------
        ndarray of shape (n_samples,)
            Of the dtype of ``classes_``, or object when `fit` was given
            an object array of strings.
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
        return self.decode(codes)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """`inverse_transform` for codes known valid (an argmax's): no checks."""
        labels = self.classes_[codes]
        return labels.astype(object) if self.object_labels_ else labels

    def __repr__(self):
        if self.classes_ is None:
            return "LabelEncoder()"
        return f"LabelEncoder(n_classes={len(self.classes_)})"
