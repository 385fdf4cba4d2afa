"""scratchnn: a neural network from scratch in NumPy, every derivative by hand.

The network of "How to build your own Neural Network from scratch in
Python", grown into a library: dense layers with their own activations, the
usual losses and optimizers, and `fit` / `predict` / `evaluate` / `save` /
`load`.
"""
import logging

from .errors import (
    ConvergenceWarning,
    DataError,
    ModelFileError,
    NotFittedError,
    ScratchnnError,
    TrainingDivergedError,
    TrainingInterruptedWarning,
)
from .checkpoint import Checkpoint
from .layers import Dense
from .model_header import DEFAULT_MAX_BYTES
from .network import Network
from .optimizers import SGD, Adam
from .training import Callback, EarlyStopping, History

__version__ = "0.1.0"

__all__ = [
    "Adam",
    "Callback",
    "Checkpoint",
    "ConvergenceWarning",
    "DataError",
    "Dense",
    "EarlyStopping",
    "History",
    "ModelFileError",
    "Network",
    "NotFittedError",
    "SGD",
    "ScratchnnError",
    "TrainingDivergedError",
    "TrainingInterruptedWarning",
    "load",
    "__version__",
]


def load(path, max_bytes: int | None = DEFAULT_MAX_BYTES) -> Network:
    """Read a model file written by `Network.save` (see `load_model`)."""
    return Network.load(path, max_bytes=max_bytes)


# The library logs but never decides where logs go: that is the caller's job.
logging.getLogger(__name__).addHandler(logging.NullHandler())
