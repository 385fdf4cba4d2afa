"""Shared test helpers: the field cases and a central-difference gradient.

The field cases (small NumPy-only modules and CSV files, copied from the
team's shared/cases/inputs into tests/cases) are imported by name with
`load_case`. Gradient checks
all go through `numerical_gradient` and `relative_error`, so every layer,
activation and loss is held to the same rule.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

# A copy of shared/cases/inputs, kept with the tests so a clone runs them all.
CASES_DIR = Path(__file__).resolve().parent / "cases"


def load_case(name: str):
    """Import tests/cases/<name>.py and return the module."""
    path = CASES_DIR / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"case_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def numerical_gradient(f, array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    r"""Central-difference estimate of df/d(array), entry by entry.

    `f` takes no arguments and must read `array` (a parameter, an input)
    each time it runs. Each entry is moved to x + eps and x - eps in place,
    and always put back, even if `f` raises:
    df/dx ≈ (f(x + eps) - f(x - eps)) / (2 eps), error O(eps²).
    """
    grad = np.zeros(array.shape, dtype=np.float64)
    for index in np.ndindex(array.shape):
        original = array[index]
        try:
            array[index] = original + eps
            upper = f()
            array[index] = original - eps
            lower = f()
        finally:
            array[index] = original
        grad[index] = (upper - lower) / (2.0 * eps)
    return grad


def relative_error(analytic, numeric, floor: float = 1e-8) -> float:
    r"""Largest entry-wise |a - n| / max(floor, |a| + |n|).

    The floor keeps entries where both gradients are (near) zero from
    dividing 0 by 0; it is far below every gradient the tests compare.
    """
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    assert analytic.shape == numeric.shape, (analytic.shape, numeric.shape)

    scale = np.maximum(floor, np.abs(analytic) + np.abs(numeric))
    return float(np.max(np.abs(analytic - numeric) / scale, initial=0.0))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
