"""Weight initializers: the tutorial's uniform [0, 1), Glorot/Xavier and He.

Each takes the layer's fan-in and fan-out and the network's random generator,
so every draw comes from the one seeded `numpy.random.Generator`.

References: Glorot & Bengio (2010), "Understanding the difficulty of training
deep feedforward neural networks"; He et al. (2015), "Delving deep into
rectifiers", https://arxiv.org/abs/1502.01852.
"""
import numpy as np


def uniform(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    """U[0, 1) weights, as in the tutorial (`np.random.rand`)."""
    return rng.random((n_in, n_out))


def glorot_uniform(
    n_in: int, n_out: int, rng: np.random.Generator
) -> np.ndarray:
    r"""U[-l, l] with l = sqrt(6 / (n_in + n_out)).

    Notes
    -----
    Keeps the variance of activations and of gradients about equal from
    layer to layer for tanh- and sigmoid-like units.
    """
    limit = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, size=(n_in, n_out))


def he_normal(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    r"""N(0, 2 / n_in): keeps the activation variance steady through ReLUs."""
    return rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_out))


INITIALIZERS = {
    "uniform": uniform,
    "glorot": glorot_uniform,
    "he": he_normal,
}

# Used when a layer names no initializer: He for rectifiers, Glorot otherwise.
DEFAULT_FOR_ACTIVATION = {"relu": "he", "leaky_relu": "he"}


def get_initializer(name: str):
    """Return the initializer function registered under `name`."""
    if name not in INITIALIZERS:
        valid = ", ".join(sorted(INITIALIZERS))
        raise ValueError(
            f"unknown initializer {name!r}; valid names are: {valid}"
        )
    return INITIALIZERS[name]
