"""Reading CSV files: a header row, numeric features and one target column.

Every problem is reported with the file, the line (the header is line 1),
the column and the value, so a user can go straight to the bad cell.
"""
import csv
import io
import math
import os
from typing import NamedTuple

import numpy as np

from .errors import DataError
from .validation import summarise_problems


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


def _read_rows(path: str) -> list[tuple[int, list[str]]]:
    """Read a CSV file into (first file line, cells) pairs, blank lines cut."""
    if not os.path.exists(path):
        raise DataError(f"{path} does not exist; check the file name")
    if os.path.isdir(path):
        raise DataError(f"{path} is a directory, not a CSV file")

    try:
        # utf-8-sig reads plain UTF-8 too and drops a leading byte-order mark.
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return _parse_rows(path, fh)
    except UnicodeDecodeError as err:
        bad_byte = err.object[err.start]
        raise DataError(
            f"{path} is not UTF-8 text (it holds the byte 0x{bad_byte:02x}); "
            f"save it as UTF-8 CSV"
        ) from None
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror}") from None


def _parse_rows(name: str, lines) -> list[tuple[int, list[str]]]:
    """(first line, cells) pairs from an iterable of text lines."""
    rows = []
    last_line = 0
    try:
        # strict: a stray or unclosed quote is an error, not a guess.
        reader = csv.reader(lines, strict=True)
        for cells in reader:
            # A quoted cell may span lines, so the row starts just after
            # the previous row ended, not at reader.line_num.
            first_line = last_line + 1
            last_line = reader.line_num
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            rows.append((first_line, [cell.strip() for cell in cells]))
    except csv.Error as err:
        raise DataError(
            f"{name} line {last_line + 1} is not valid CSV: {err}"
        ) from None
    return rows


def _check_columns(path: str, header: list[str]) -> None:
    """A training file needs a feature column and a target column."""
    if len(header) < 2:
        hint = ""
        if ";" in header[0] or "\t" in header[0]:
            hint = " (separators must be commas, not ';' or tabs)"
        raise DataError(
            f"{path} has one column {header[0]!r}{hint}; need at least one "
            f"feature column and a target column"
        )


def _check_names(path: str, header: list[str]) -> None:
    """Every column has a name, and no name appears twice."""
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
    return _csv_data(path, *_read_table(path), target)


def read_csv_text(text: str, name: str = "the CSV",
                  target: str | None = None) -> CsvData:
    """Read CSV text held in memory, checked exactly as `read_csv` checks a
    file; `name` stands for the file name in messages."""
    rows = _parse_rows(name, io.StringIO(text, newline=""))
    return _csv_data(name, *_table(name, rows), target)


def _csv_data(path: str, header: list[str], body: list,
              target: str | None) -> CsvData:
    """`read_csv`'s work once the rows are read; `path` names the source."""
    _check_columns(path, header)

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
    """The column names in the first row of a CSV file.

    The file is read and checked as in `read_csv`, except that one column
    is enough: names must be non-empty and unique, and every row must have
    one cell per name.
    """
    header, _ = _read_table(os.fspath(path))
    return header


def read_features(path: str | os.PathLike, columns: list[str]) -> np.ndarray:
    """Read the named numeric columns of a CSV file, in the order given.

    Other columns (a target, an id) are ignored. The header is checked as
    in `read_header`, and cells as in `read_csv`: a missing or non-numeric
    value is an error naming the line, the column and the value.

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
    """Header and (line, cells) rows, refusing empty and ragged files.

    Every reader goes through here, so each applies the same checks on
    column names.
    """
    return _table(path, _read_rows(path))


def _table(path: str, rows: list) -> tuple[list[str], list]:
    """`_read_table` for rows already read; `path` names the source."""
    if not rows:
        raise DataError(
            f"{path} is empty; expected a header row and data rows"
        )
    _, header = rows[0]
    _check_names(path, header)
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
            f"{path} {summarise_problems(ragged, 'rows')}; every row needs one cell "
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
    detail = summarise_problems(bad_cells, "bad cells")
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
            f"{summarise_problems(bad, 'rows')}; fix or remove those rows"
        )
    return values
