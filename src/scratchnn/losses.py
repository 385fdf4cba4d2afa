"""Loss functions: each gives its value on a batch and dL/d(prediction).

`forward(y_pred, y_true)` returns the loss as a float and keeps what
`backward()` needs; `backward()` returns the gradient with the same shape as
`y_pred`. Losses are averaged over the batch, except the tutorial's sum of
squared errors, which is a plain sum as the tutorial defines it.
"""
import numpy as np

from .activations import sigmoid

# Probabilities are kept at least this far from 0 before a log or a division,
# so a saturated output gives a large finite loss instead of inf or NaN.
_EPS = 1e-12


def _as_pred_shape(y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
    """Return y_true shaped like y_pred, refusing shapes that would broadcast.

    A 1-D target against a one-column prediction is the common case of
    `y` passed as (n,); it is read as (n, 1). Anything else that differs
    is an error, because (n, 1) - (n,) would silently broadcast to (n, n).
    """
    y_true = np.asarray(y_true)
    if y_true.shape == y_pred.shape:
        return y_true
    if y_true.ndim == 1 and y_pred.shape == (y_true.shape[0], 1):
        return y_true.reshape(-1, 1)
    raise ValueError(
        f"targets have shape {y_true.shape} but predictions have shape "
        f"{y_pred.shape}; give one target column per output unit"
    )


class Loss:
    """Base class: `forward(y_pred, y_true)` -> float, `backward()` -> grad."""

    name = "loss"
    # True when forward takes the output layer's pre-activations (logits).
    from_logits = False

    def forward(self, y_pred: np.ndarray, y_true: np.ndarray) -> float:
        raise NotImplementedError

    def backward(self) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, y_pred: np.ndarray, y_true: np.ndarray) -> float:
        return self.forward(y_pred, y_true)

    def __repr__(self) -> str:
        return self.name


class SumSquaredError(Loss):
    r"""The tutorial's loss: L = Σ (ŷ - y)², summed over samples and outputs.

    Notes
    -----
    dL/dŷ = 2 (ŷ - y). Not divided by the batch size, so the step size grows
    with the batch, exactly as in the tutorial.
    """

    name = "sse"

    def forward(self, y_pred, y_true):
        y_true = _as_pred_shape(y_pred, y_true)
        self._error = y_pred - y_true
        return float(np.sum(self._error * self._error))

    def backward(self):
        return 2.0 * self._error


class MeanSquaredError(Loss):
    r"""L = mean over samples and outputs of (ŷ - y)².

    Notes
    -----
    dL/dŷ = 2 (ŷ - y) / (n_samples * n_outputs).
    """

    name = "mse"

    def forward(self, y_pred, y_true):
        y_true = _as_pred_shape(y_pred, y_true)
        self._error = y_pred - y_true
        return float(np.mean(self._error * self._error))

    def backward(self):
        return (2.0 / self._error.size) * self._error


class BinaryCrossEntropy(Loss):
    r"""L = -(1/n) Σ [y log p + (1 - y) log(1 - p)] on probabilities p.

    Notes
    -----
    Summed over outputs, averaged over samples. Each log sees at least
    1e-12, so p of exactly 0 or 1 gives a large finite loss, and a term whose
    target weight is 0 contributes exactly 0. The network does not use this
    form after a sigmoid layer: see `SigmoidBinaryCrossEntropy`.
    dL/dp = (p - y) / (p (1 - p)) / n.
    """

    name = "binary_crossentropy"

    def forward(self, y_pred, y_true):
        y_true = _as_pred_shape(y_pred, y_true)
        self._p, self._y = y_pred, y_true
        log_p = np.log(np.maximum(y_pred, _EPS))
        log_not_p = np.log(np.maximum(1.0 - y_pred, _EPS))
        total = y_true * log_p + (1.0 - y_true) * log_not_p
        return float(-np.sum(total) / y_pred.shape[0])

    def backward(self):
        p, y = self._p, self._y
        return (p - y) / np.maximum(p * (1.0 - p), _EPS) / p.shape[0]


class CategoricalCrossEntropy(Loss):
    r"""L = -(1/n) Σ_i Σ_j y_ij log p_ij on probabilities p, targets one-hot.

    Notes
    -----
    The log sees at least 1e-12; a class whose target is 0 contributes
    exactly 0 whatever its probability. After a softmax layer the network
    uses `SoftmaxCrossEntropy` instead. dL/dp = -y / p / n.
    """

    name = "categorical_crossentropy"

    def forward(self, y_pred, y_true):
        y_true = _as_pred_shape(y_pred, y_true)
        self._p, self._y = y_pred, y_true
        log_p = np.log(np.maximum(y_pred, _EPS))
        return float(-np.sum(y_true * log_p) / y_pred.shape[0])

    def backward(self):
        p, y = self._p, self._y
        return -y / np.maximum(p, _EPS) / p.shape[0]


class SoftmaxCrossEntropy(Loss):
    r"""Softmax followed by categorical cross-entropy, taken on the logits z.

    Notes
    -----
    L = (1/n) Σ_i Σ_j y_ij (logsumexp(z_i) - z_ij), finite for any finite z.
    With p = softmax(z), the chain rule through the softmax Jacobian gives
    dL/dz_ij = (p_ij Σ_k y_ik - y_ij) / n, and because each target row is a
    probability distribution (Σ_k y_ik = 1) this is simply (p - y) / n.
    The simplification holds only for this fused pair, which is why the
    network starts backprop here, at the logits, when it sees it.
    """

    name = "softmax_crossentropy"
    from_logits = True

    def forward(self, y_pred, y_true):
        y_true = _as_pred_shape(y_pred, y_true)
        # One exp serves both the probabilities backward needs and the log
        # probabilities of the loss; an exp that underflows to 0 is exact.
        shifted = y_pred - y_pred.max(axis=1, keepdims=True)
        with np.errstate(under="ignore"):
            p = np.exp(shifted)
        total = p.sum(axis=1, keepdims=True)  # (n_samples, 1), >= 1
        p /= total
        self._p, self._y = p, y_true
        # -Σ y log p with log p = shifted - log(total), without the log p
        # array: Σ y∘shifted (<= 0) minus Σ_i (Σ_j y_ij) log(total_i)
        # (>= 0), two sums of one sign each, so nothing cancels.
        along = np.vdot(y_true, shifted)
        across = np.vdot(y_true.sum(axis=1), np.log(total))
        return float((across - along) / y_pred.shape[0])

    def backward(self):
        return (self._p - self._y) / self._p.shape[0]


class SigmoidBinaryCrossEntropy(Loss):
    r"""Sigmoid followed by binary cross-entropy, taken on the logits z.

    Notes
    -----
    With log σ(z) = -softplus(-z) and log(1 - σ(z)) = -softplus(z),
    L = (1/n) Σ [max(z, 0) - z y + log(1 + exp(-|z|))], finite for any z.
    Since σ'(z) = σ(z)(1 - σ(z)) cancels the denominator of dL/dσ,
    dL/dz = (σ(z) - y) / n; this holds only for the fused pair.
    """

    name = "sigmoid_binary_crossentropy"
    from_logits = True

    def forward(self, y_pred, y_true):
        y_true = _as_pred_shape(y_pred, y_true)
        z = y_pred
        with np.errstate(under="ignore"):
            softplus = np.log1p(np.exp(-np.abs(z)))
        total = np.maximum(z, 0.0) - z * y_true + softplus
        self._p, self._y = sigmoid(z), y_true
        return float(np.sum(total) / z.shape[0])

    def backward(self):
        return (self._p - self._y) / self._p.shape[0]


LOSSES = {
    cls.name: cls
    for cls in (
        SumSquaredError,
        MeanSquaredError,
        BinaryCrossEntropy,
        CategoricalCrossEntropy,
    )
}

# The output activation each cross-entropy fuses with, and the fused loss.
FUSED_LOSSES = {
    ("softmax", "categorical_crossentropy"): SoftmaxCrossEntropy,
    ("sigmoid", "binary_crossentropy"): SigmoidBinaryCrossEntropy,
}

CLASSIFICATION_LOSSES = ("binary_crossentropy", "categorical_crossentropy")


def get_loss(name: "str | Loss") -> Loss:
    """Return a fresh loss object for a name, or `name` if it is one."""
    if isinstance(name, Loss):
        return name
    if name not in LOSSES:
        valid = ", ".join(sorted(LOSSES))
        raise ValueError(f"unknown loss {name!r}; valid names are: {valid}")
    return LOSSES[name]()
