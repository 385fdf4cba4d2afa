"""Activation functions: each gives its value and the derivative backprop needs.

An activation maps a layer's pre-activation `z` to its output `a = σ(z)`.
In backprop it turns dL/da into dL/dz; for element-wise functions that is
dL/da * σ'(z), and the derivative is written from `a` where that is cheaper.
"""
import numpy as np


class Activation:
    """Base class: `forward(z)` returns σ(z), `backward(grad, z, a)` dL/dz."""

    name = "activation"

    def forward(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(
        self, grad: np.ndarray, z: np.ndarray, a: np.ndarray
    ) -> np.ndarray:
        raise NotImplementedError

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

    def forward(self, z):
        return np.tanh(z)

    def backward(self, grad, z, a):
        return grad * (1.0 - a * a)


class ReLU(Activation):
    """σ(z) = max(z, 0); σ'(z) = 1 where z > 0, else 0."""

    name = "relu"

    def forward(self, z):
        return np.maximum(z, 0.0)

    def backward(self, grad, z, a):
        return grad * (z > 0)


class LeakyReLU(Activation):
    """σ(z) = z for z > 0, else `slope` * z; σ'(z) is 1 or `slope`."""

    name = "leaky_relu"

    def __init__(self, slope: float = 0.01):
        self.slope = slope

    def forward(self, z):
        return np.where(z > 0, z, self.slope * z)

    def backward(self, grad, z, a):
        return np.where(z > 0, grad, self.slope * grad)


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


def get_activation(name: "str | Activation") -> Activation:
    """Return a fresh activation object for a name, or `name` if it is one."""
    if isinstance(name, Activation):
        return name
    if name not in ACTIVATIONS:
        valid = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(
            f"unknown activation {name!r}; valid names are: {valid}"
        )
    return ACTIVATIONS[name]()
