"""The exceptions and warnings scratchnn raises.

One base class, `ScratchnnError`, so a caller can catch everything the library
reports about bad input or bad files in one place, or one kind in particular.
"""


class ScratchnnError(Exception):
    """Base class of every error scratchnn raises on purpose."""


class DataError(ScratchnnError, ValueError):
    """The data given (arrays, labels or a CSV file) cannot be used as it is."""


class ModelFileError(ScratchnnError, ValueError):
    """A model file is missing, damaged, foreign or hostile."""


class NotFittedError(ScratchnnError, RuntimeError):
    """The network was asked to predict before it was trained or loaded."""


class TrainingDivergedError(ScratchnnError, RuntimeError):
    """The loss became NaN or inf during training."""


class ConvergenceWarning(UserWarning):
    """Training finished, but the result may not be what the user wants."""


class TrainingInterruptedWarning(UserWarning):
    """Training was stopped by Ctrl-C; the last finished epoch was kept."""


class DiagnosticWarning(UserWarning):
    """A training diagnostic found trouble; the message names a fix.

    `kind` says which check ("inputs", "saturated", "dead", "exploding",
    "vanishing", "diverging", "plateau", "no_descent") and `layer` its
    layer index, or None, so code can tell findings apart.
    """

    def __init__(self, message: str, kind: str = "", layer: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.layer = layer
