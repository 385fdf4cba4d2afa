"""Activation functions: each gives its value and the derivative backprop needs.

An activation maps a layer's pre-activation `z` to its output `a = σ(z)`.
In backprop it turns dL/da into dL/dz; for element-wise functions that is
dL/da * σ'(z), and the derivative is written from `a` where that is cheaper.
"""
import inspect
import math
import numbers

import numpy as np


class Activation:
    """Base class: `forward(z)` returns σ(z), `backward(grad, z, a)` dL/dz.

    Where `accepts_out` is True, both also take an `out` array of the
    result's shape to write into, so a training step can reuse its arrays;
    an activation of one's own needs neither.
    """

    name = "activation"
    accepts_out = False

    def forward(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(
        self, grad: np.ndarray, z: np.ndarray, a: np.ndarray
    ) -> np.ndarray:
        raise NotImplementedError

    def config(self) -> dict:
        """The name and any settings, as JSON-ready values.

        `get_activation` turns the result back into an equal activation.
        """
        return {"name": self.name}

    def __repr__(self) -> str:
        return self.name


class Identity(Activation):
    """σ(z) = z, for regression outputs; σ'(z) = 1."""

    name = "identity"

    def forward(self, z):
        return z

    def backward(self, grad, z, a):
        return grad


class Sigmoid(Activation):
    r"""The logistic function σ(z) = 1 / (1 + exp(-z)).

    Notes
    -----
    Computed as 1 / (1 + e) for z >= 0 and e / (1 + e) for z < 0, with
    e = exp(-|z|) <= 1, so exp never overflows. Its derivative
    σ'(z) = σ(z)(1 - σ(z)) needs only the output `a`.
    """

    name = "sigmoid"

    def forward(self, z):
        return sigmoid(z)

    def backward(self, grad, z, a):
        return grad * (a * (1.0 - a))


class Tanh(Activation):
    """σ(z) = tanh(z); σ'(z) = 1 - tanh(z)², written from the output."""

    name = "tanh"
    accepts_out = True

    def forward(self, z, out=None):
        return np.tanh(z, out=out)

    def backward(self, grad, z, a, out=None):
        # grad * (1 - a²), built in `out` without temporaries.
        out = np.multiply(a, a, out=out)
        np.subtract(1.0, out, out=out)
        return np.multiply(grad, out, out=out)


class ReLU(Activation):
    """σ(z) = max(z, 0); σ'(z) = 1 where z > 0, else 0."""

    name = "relu"
    accepts_out = True

    def forward(self, z, out=None):
        return np.maximum(z, _zeros_like(z), out=out)

    def backward(self, grad, z, a, out=None):
        return np.multiply(grad, z > 0, out=out)


# Against an array of zeros np.maximum runs 2.7x faster than against the
# scalar 0 (measured at 512 x 256 float32: 19 against 50 µs), so ReLU
# keeps read-only zeros, one per (width, dtype), as tall as the tallest
# batch so far, shared by every layer of that width.
_ZEROS: dict = {}


def _zeros_like(z: np.ndarray):
    """Read-only zeros of z's shape, or the scalar 0 for a non-2-D z."""
    if z.ndim != 2:
        return 0.0
    key = (z.shape[1], z.dtype.str)
    zeros = _ZEROS.get(key)
    if zeros is None or zeros.shape[0] < z.shape[0]:
        zeros = np.zeros(z.shape, z.dtype)
        zeros.flags.writeable = False
        _ZEROS[key] = zeros
    return zeros[: z.shape[0]]


class LeakyReLU(Activation):
    """σ(z) = z for z > 0, else `slope` * z; σ'(z) is 1 or `slope`.

    Parameters
    ----------
    slope : float, default=0.01
        The gradient for z <= 0; any finite number.
    """

    name = "leaky_relu"

    def __init__(self, slope: float = 0.01):
        if isinstance(slope, bool) or not isinstance(slope, numbers.Real):
            raise TypeError(f"slope must be a number, got {slope!r}")
        # A Python float keeps float32 inputs float32 (a NumPy float64
        # scalar would promote them) and goes into JSON as it is.
        slope = float(slope)
        if not math.isfinite(slope):
            raise ValueError(f"slope must be finite, got {slope}")
        self.slope = slope

    def forward(self, z):
        return np.where(z > 0, z, self.slope * z)

    def backward(self, grad, z, a):
        return np.where(z > 0, grad, self.slope * grad)

    def config(self):
        return {"name": self.name, "slope": self.slope}


class Softmax(Activation):
    r"""softmax(z)_j = exp(z_j) / Σ_k exp(z_k), over each row.

    Notes
    -----
    The row maximum is subtracted first: softmax is unchanged by a shift, and
    then no exponent is positive, so nothing overflows. Backward applies the
    Jacobian diag(a) - a aᵀ row by row without forming it:
    dL/dz = a * (dL/da - Σ_k a_k dL/da_k).
    With cross-entropy the network skips this and uses the fused gradient
    (see `losses.SoftmaxCrossEntropy`).
    """

    name = "softmax"

    def forward(self, z):
        return softmax(z)

    def backward(self, grad, z, a):
        dot = np.sum(grad * a, axis=1, keepdims=True)  # (n_samples, 1)
        return a * (grad - dot)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Overflow-free logistic function, element-wise."""
    # exp(-|z|) may underflow to 0 for |z| > ~745; that is the exact limit,
    # so the underflow flag is not an error here.
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax(z: np.ndarray) -> np.ndarray:
    """Overflow-free softmax over the last axis of a 2-D array."""
    shifted = z - z.max(axis=1, keepdims=True)
    with np.errstate(under="ignore"):
        e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """log(softmax(z)) by log-sum-exp, finite for any finite logits."""
    shifted = z - z.max(axis=1, keepdims=True)
    with np.errstate(under="ignore"):
        lse = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted - lse


ACTIVATIONS = {
    cls.name: cls
    for cls in (Identity, Sigmoid, Tanh, ReLU, LeakyReLU, Softmax)
}


def is_builtin(activation: Activation) -> bool:
    """True for an instance of scratchnn's own class for its name.

    By class, not by name: a subclass of ours may compute anything,
    whatever name it gives itself. Files and exports record only the name.
    """
    return type(activation) is ACTIVATIONS.get(activation.name)


def settings_problem(activation: Activation) -> "str | None":
    """Why `activation`'s settings (changed after construction, e.g. a NaN
    slope) would not rebuild it, or None when they would."""
    try:
        get_activation(activation.config())
    except (TypeError, ValueError) as err:
        return str(err)
    return None


def get_activation(spec: "str | dict | Activation") -> Activation:
    """Return a fresh activation for a name or a config, or `spec` itself.

    Parameters
    ----------
    spec : str, dict or Activation
        A name such as "relu"; a dict as `Activation.config` gives it, e.g.
        ``{"name": "leaky_relu", "slope": 0.3}`` (settings left out take
        their defaults); or an activation object, returned as it is.
    """
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, dict):
        settings = dict(spec)
        name = settings.pop("name", None)
    else:
        name, settings = spec, {}
    if not isinstance(name, str) or name not in ACTIVATIONS:
        valid = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(
            f"unknown activation {name!r}; valid names are: {valid}"
        )

    cls = ACTIVATIONS[name]
    accepted = list(inspect.signature(cls).parameters)
    unknown = sorted(set(settings) - set(accepted))
    if unknown:
        takes = ", ".join(accepted) or "no settings"
        raise TypeError(
            f"activation {name!r} has no setting {unknown[0]!r}; it takes: "
            f"{takes}"
        )
    return cls(**settings)


def activation_spec(activation: Activation) -> "str | dict":
    """How a layer's config records `activation`: its name, or its config.

    The bare name is kept when it rebuilds the same activation (always so
    for those without settings), which keeps such files readable by
    scratchnn versions that knew only names.
    """
    config = activation.config()
    name = config["name"]
    cls = ACTIVATIONS.get(name)
    if cls is None or config == cls().config():
        return name
    return config
