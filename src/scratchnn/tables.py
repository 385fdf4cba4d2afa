"""Plain-text tables for the reports the library returns as strings."""


def align(rows: list, numeric: set) -> list[str]:
    """Rows of cells as lines: columns two spaces apart, the columns in
    `numeric` right-aligned (numbers), the rest left-aligned (words)."""
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return [
        "  ".join(
            cell.rjust(w) if c in numeric else cell.ljust(w)
            for c, (cell, w) in enumerate(zip(row, widths))
        ).rstrip()
        for row in rows
    ]
