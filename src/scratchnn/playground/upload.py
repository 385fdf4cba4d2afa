"""Uploaded data for a playground session: CSV text with two numeric
feature columns and a label column, parsed in memory (never on disk)."""
import numpy as np

from ..csvfile import _parse_number, read_csv_text
from ..errors import DataError
from .config import MAX_POINTS, MIN_POINTS, ConfigError

MAX_CSV_BYTES = 200_000  # about 2000 rows of generous width
MAX_CLASSES = 10
MAX_ABS = 1e6  # larger features would overflow the scaling's variance
SOURCE = "the uploaded CSV"


def parse_upload(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The points and labels in an uploaded CSV.

    Parameters
    ----------
    raw : bytes
        UTF-8 text (a byte-order mark is allowed): a header row naming the
        columns, then one row per point, ``x1, x2, label``.

    Returns
    -------
    X : ndarray of shape (n_points, 2), float64
    y : ndarray of shape (n_points,)
        int64 when every label is a whole number, else strings.

    Raises
    ------
    ConfigError
        Naming the line, the column and the rule, as `read_csv` does.
    """
    if not raw.strip():
        raise ConfigError(f"{SOURCE} is empty; send a header row "
                          f"(x1,x2,label) and {MIN_POINTS} to {MAX_POINTS} "
                          f"data rows")
    if b"\x00" in raw:
        raise ConfigError(f"{SOURCE} holds NUL bytes, so it is not text; "
                          f"send a UTF-8 CSV file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{SOURCE} is not UTF-8 text (byte {err.start} is "
            f"0x{raw[err.start]:02x}); save it as UTF-8 CSV"
        ) from None
    _check_row_count(text)
    try:
        data = read_csv_text(text, SOURCE)
    except DataError as err:
        raise ConfigError(str(err)) from None

    header = data.feature_names + [data.target_name]
    _check_header(header)
    if len(data.feature_names) != 2:
        raise ConfigError(
            f"{SOURCE} line 1 has {len(header)} columns "
            f"({', '.join(map(repr, header)):.200}); need exactly two "
            f"feature columns and a label column, last"
        )
    _check_magnitude(data.X, header)
    n = len(data.y)
    if n < MIN_POINTS:
        raise ConfigError(f"{SOURCE} has {n} data rows; need at least "
                          f"{MIN_POINTS}")
    return data.X, _labels(data.y)


def _check_row_count(text: str) -> None:
    # A cheap count before parsing: a header plus at most MAX_POINTS rows.
    rows = sum(1 for line in text.splitlines() if line.strip())
    if rows > MAX_POINTS + 1:
        raise ConfigError(f"{SOURCE} has {rows - 1} data rows; at most "
                          f"{MAX_POINTS} are allowed")


def _check_magnitude(X: np.ndarray, header: list[str]) -> None:
    big = np.argwhere(np.abs(X) > MAX_ABS)
    if len(big):
        i, j = big[0]
        # Line numbers count the header as line 1 (blank lines aside).
        raise ConfigError(
            f"{SOURCE} row {i + 1}, column {header[j]!r}: {X[i, j]!r} is "
            f"larger than {MAX_ABS:g} in size; rescale the features"
        )


def _check_header(header: list[str]) -> None:
    """A first row of numbers is data, not a header: refuse it."""
    if all(_parse_number(name)[1] is None for name in header):
        raise ConfigError(
            f"{SOURCE} line 1 holds only numbers ({', '.join(header):.60}); "
            f"the first row must name the columns, e.g. x1,x2,label"
        )


def _labels(y: np.ndarray) -> np.ndarray:
    """Whole-number labels as int64, others kept as strings."""
    if y.dtype.kind == "f":
        if not np.all((y == np.round(y)) & (np.abs(y) < 2**53)):
            raise ConfigError(
                f"{SOURCE} label column holds numbers that are not whole or "
                f"exceed 2**53; labels name classes, so use whole numbers or "
                f"words"
            )
        y = y.astype(np.int64)
    classes = np.unique(y)
    if len(classes) < 2:
        raise ConfigError(f"{SOURCE} has one class ({classes[0]!s:.40}); "
                          f"need at least 2 label values")
    if len(classes) > MAX_CLASSES:
        raise ConfigError(f"{SOURCE} has {len(classes)} classes; at most "
                          f"{MAX_CLASSES} are allowed")
    return y
