"""Layers: a dense (fully connected) layer with its own activation.

A dense layer computes z = x W + b, then a = σ(z). Backward receives dL/da
and returns dL/dx, filling `grads` with dL/dW and dL/db on the way:
dz = dL/da * σ'(z), dW = xᵀ dz, db = Σ_samples dz, dx = dz Wᵀ.
"""
import numpy as np

from .activations import Activation, activation_spec, get_activation
from .initializers import DEFAULT_FOR_ACTIVATION, get_initializer


class Dense:
    """A fully connected layer: z = x W + b, a = activation(z).

    Parameters
    ----------
    units : int
        Number of outputs (neurons) of the layer.
    activation : str, dict or Activation, default="identity"
        One of identity, sigmoid, tanh, relu, leaky_relu, softmax, or a
        config such as ``{"name": "leaky_relu", "slope": 0.3}``.
    use_bias : bool, default=True
        False gives z = x W, as in the tutorial's network.
    init : str or None, default=None
        "uniform" (the tutorial's U[0, 1)), "glorot" or "he". None picks He
        for relu and leaky_relu, Glorot for the rest.

    Attributes
    ----------
    params : dict
        "W" of shape (n_in, units) and, with a bias, "b" of shape (units,).
    grads : dict
        dL/dW and dL/db from the last `backward`, same keys and shapes.
        Each backward overwrites them: gradients never accumulate.
    """

    def __init__(
        self,
        units: int,
        activation: "str | dict | Activation" = "identity",
        use_bias: bool = True,
        init: str | None = None,
    ):
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)):
            raise TypeError(f"units must be an int, got {units!r}")
        if units < 1:
            raise ValueError(f"units must be >= 1, got {units}")
        self.units = int(units)
        self.activation = get_activation(activation)
        self.use_bias = bool(use_bias)
        if init is None:
            init = DEFAULT_FOR_ACTIVATION.get(self.activation.name, "glorot")
        get_initializer(init)
        self.init = init
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self._cache: tuple = ()
        self._workspaces: dict[int, dict] = {}

    def __getstate__(self) -> dict:
        """Copy or pickle the parameters, not the last batch's buffers:
        they are scratch space, as large as the largest batch seen, and
        would come back read-only from a memory-mapped pickle."""
        state = self.__dict__.copy()
        state["_cache"], state["_workspaces"] = (), {}
        return state

    @property
    def n_in(self) -> int | None:
        """Input width, known once the layer is built."""
        return self.params["W"].shape[0] if self.params else None

    def build(self, n_in: int, rng: np.random.Generator, dtype) -> None:
        """Draw fresh weights for `n_in` inputs; biases start at zero."""
        draw = get_initializer(self.init)
        self.params = {"W": draw(n_in, self.units, rng).astype(dtype)}
        if self.use_bias:
            self.params["b"] = np.zeros(self.units, dtype=dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._workspaces = {}

    def _workspace(self, n_samples: int) -> dict:
        """Arrays for a batch of `n_samples` rows, made once and reused.

        Allocating them afresh every step costs page faults once they pass
        about 0.5 MiB; a training loop sees one batch size (and perhaps a
        smaller last batch), so two sizes are kept.
        """
        work = self._workspaces.get(n_samples)
        if work is None:
            if len(self._workspaces) >= 2:
                self._workspaces.clear()
            W = self.params["W"]
            shape = (n_samples, self.units)
            work = {
                "z": np.empty(shape, W.dtype),
                "a": np.empty(shape, W.dtype),
                "dz": np.empty(shape, W.dtype),
                "dx": np.empty((n_samples, W.shape[0]), W.dtype),
                "ones": np.ones(n_samples, W.dtype),
            }
            self._workspaces[n_samples] = work
        return work

    def forward(self, x: np.ndarray, activate: bool = True) -> np.ndarray:
        """Return a = σ(x W + b) for x of shape (n_samples, n_in).

        The result lives in the layer's workspace, which the next forward
        of the same batch size overwrites: copy it to keep it. With
        `activate=False` it is z = x W + b, and nothing is kept for backward.
        """
        work = self._workspace(x.shape[0])
        z = np.matmul(x, self.params["W"], out=work["z"])  # (n_samples, units)
        if self.use_bias:
            z += self.params["b"]
        if not activate:
            return z
        if self.activation.accepts_out:
            a = self.activation.forward(z, out=work["a"])
        else:
            a = self.activation.forward(z)

        self._cache = (x, z, a)
        return a

    def backward(self, grad: np.ndarray, need_dx: bool = True):
        """Take dL/da, fill `grads`, return dL/dx of shape (n_samples, n_in).

        With `need_dx=False` (the first layer: nothing lies before it) the
        product for dL/dx is skipped and None is returned.
        """
        _, z, a = self._cache
        work = self._workspace(z.shape[0])
        if self.activation.accepts_out:
            dz = self.activation.backward(grad, z, a, out=work["dz"])
        else:
            dz = self.activation.backward(grad, z, a)
        return self.backward_from_logits(dz, need_dx)

    def backward_from_logits(self, dz: np.ndarray, need_dx: bool = True):
        """Take dL/dz directly (a fused loss gives it), fill `grads`, return dL/dx."""
        x = self._cache[0]
        work = self._workspace(dz.shape[0])
        np.matmul(x.T, dz, out=self.grads["W"])  # (n_in, units)
        if self.use_bias:
            # One bias per unit: the sum over the samples axis only, taken
            # as 1ᵀ dz because a BLAS product is ~3x faster than np.sum's
            # column sums here.
            np.matmul(work["ones"], dz, out=self.grads["b"])  # (units,)
        if not need_dx:
            return None
        return np.matmul(dz, self.params["W"].T, out=work["dx"])  # (n, n_in)

    @property
    def logits(self) -> np.ndarray:
        """z from the last forward pass, (n_samples, units)."""
        return self._cache[1]

    @property
    def output(self) -> np.ndarray:
        """a from the last forward pass, (n_samples, units)."""
        return self._cache[2]

    @property
    def n_params(self) -> int:
        return sum(p.size for p in self.params.values())

    def config(self) -> dict:
        """The constructor arguments, as plain JSON-ready values.

        The activation is its name, or its config where it has settings
        other than the defaults (see `activations.activation_spec`).
        """
        return {
            "units": self.units,
            "activation": activation_spec(self.activation),
            "use_bias": self.use_bias,
            "init": self.init,
        }

    def __repr__(self) -> str:
        bias = "" if self.use_bias else ", use_bias=False"
        return f"Dense({self.units}, activation={self.activation!r}{bias})"
