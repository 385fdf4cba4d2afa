"""MNIST-shaped synthetic data, made by code with a seed: nothing downloaded.

60,000 rows of 784 float32 pixels in [0, 1] and 10 classes. Each class has
a sparse prototype image; a sample is its class's prototype plus Gaussian
noise, clipped to [0, 1], and one label in ten is redrawn at random, so
the loss stays well above zero as on real MNIST (a loss that falls to
zero fills the products with subnormal numbers and slows every system).
"""
from pathlib import Path

import numpy as np

N_ROWS = 60_000
N_FEATURES = 784
N_CLASSES = 10


def make_mnist_like(
    n_rows: int = N_ROWS, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Return X (n_rows, 784) float32 in [0, 1] and y (n_rows,) int64."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_CLASSES, size=n_rows)
    prototypes = rng.random((N_CLASSES, N_FEATURES), dtype=np.float32)
    # Keep the brightest 40% of each prototype: strokes on a dark page.
    prototypes *= prototypes > 0.6

    X = rng.standard_normal((n_rows, N_FEATURES), dtype=np.float32)
    X *= 0.5
    X += prototypes[y]
    np.clip(X, 0.0, 1.0, out=X)

    redrawn = rng.random(n_rows) < 0.1
    y[redrawn] = rng.integers(0, N_CLASSES, size=int(redrawn.sum()))
    return X, y


def save(folder: Path, seed: int = 0) -> dict:
    """Write X.npy and y.npy into `folder`; return their shapes and bytes."""
    X, y = make_mnist_like(seed=seed)
    np.save(folder / "X.npy", X)
    np.save(folder / "y.npy", y)
    return {
        "rows": X.shape[0],
        "features": X.shape[1],
        "classes": N_CLASSES,
        "seed": seed,
        "bytes": X.nbytes + y.nbytes,
    }


def save_scaled(folder: Path, scale: int) -> dict:
    """Write Xk.npy (`scale` copies of X.npy's rows) and yk.npy.

    X is written through a memory map a copy at a time, so making a file
    of several GB needs no more memory than one copy.
    """
    X, y = np.load(folder / "X.npy", mmap_mode="r"), np.load(folder / "y.npy")
    path = folder / f"X{scale}.npy"
    out = np.lib.format.open_memmap(
        path, mode="w+", dtype=X.dtype, shape=(scale * len(X), X.shape[1])
    )
    for k in range(scale):
        out[k * len(X):(k + 1) * len(X)] = X
    out.flush()
    del out
    np.save(folder / f"y{scale}.npy", np.tile(y, scale))
    return {"scale": scale, "rows": scale * len(X),
            "bytes": path.stat().st_size}


def load_scaled(folder: Path, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """X memory-mapped (left on disk), y in memory, as `save_scaled` wrote."""
    X = np.load(folder / f"X{scale}.npy", mmap_mode="r")
    return X, np.load(folder / f"y{scale}.npy")


def load(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read the arrays `save` wrote, whole into memory (not memory-mapped)."""
    return np.load(folder / "X.npy"), np.load(folder / "y.npy")
