"""Optimizers: gradient descent with momentum (and Nesterov), and Adam.

An optimizer sees only arrays: `step(params, grads)` takes two equal-length
lists and updates each parameter in place. Its state (velocity, moments,
step count) is kept per position in those lists.

The state lives in one flat buffer, each parameter's part a view into it,
and `Network` keeps its gradients the same way. An update is then one
array operation over every weight at once instead of one per array:
Adam's dozen passes cost a dozen NumPy calls per step, not six dozen.

References: Sutskever et al. (2013), "On the importance of initialization and
momentum in deep learning"; Kingma & Ba (2015), "Adam: A Method for
Stochastic Optimization", https://arxiv.org/abs/1412.6980.
"""
import math

import numpy as np

from .validation import check_number


def _check_lr(lr) -> float:
    lr = check_number(lr, "lr")
    if not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a finite number > 0, got {lr}")
    return lr


def _decay(value, name: str) -> float:
    """A number in [0, 1), as momentum and the betas must be."""
    value = check_number(value, name)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return value


class Optimizer:
    """Base class: `step(params, grads)` updates `params` in place."""

    name = "optimizer"

    def __init__(self, lr: float):
        self.lr = _check_lr(lr)
        self.t = 0
        self._scratch_arrays: list[np.ndarray] = []
        self._scratch_flat = None
        self._flat_grads: tuple = ((), None)

    def reset(self) -> None:
        """Forget all state, as before the first step."""
        self.t = 0
        self._scratch_arrays = []
        self._scratch_flat = None
        self._flat_grads = ((), None)

    def step(self, params: list, grads: list) -> None:
        raise NotImplementedError

    def __getstate__(self) -> dict:
        """Copy or pickle the state, not the scratch space."""
        state = self.__dict__.copy()
        state.update(_scratch_arrays=[], _scratch_flat=None,
                     _flat_grads=((), None))
        return state

    def __setstate__(self, state: dict) -> None:
        # A copy of a view is an array of its own: lay each state list out
        # in one flat buffer again, as the steps expect.
        self.__dict__.update(state)
        for kept in self._state_lists().values():
            if kept:
                _, views = _flat_zeros(kept)
                for view, part in zip(views, kept):
                    np.copyto(view, part)
                kept[:] = views

    def state(self) -> dict:
        """The optimizer's arrays by name ("m0", "v0", ...), for a checkpoint."""
        return {
            f"{name}{i}": array
            for name, arrays in self._state_lists().items()
            for i, array in enumerate(arrays)
        }

    def load_state(self, t: int, arrays: dict) -> None:
        """Put back the step count and the arrays that `state()` gave."""
        self.reset()
        self.t = t
        for name, kept in self._state_lists().items():
            count = sum(key.rstrip("0123456789") == name for key in arrays)
            parts = [arrays[f"{name}{i}"] for i in range(count)]
            if parts:
                _, views = _flat_zeros(parts)
                for view, part in zip(views, parts):
                    np.copyto(view, part)
                kept.extend(views)

    def _state_lists(self) -> dict:
        """The per-parameter state lists, by the name `state()` uses."""
        return {}

    def _scratch(self, params: list) -> list[np.ndarray]:
        """One work array per parameter, views of one flat buffer, made at
        the first step after a reset (new weights reset the optimizer):
        steps allocate nothing."""
        if not self._scratch_arrays:
            self._scratch_flat, self._scratch_arrays = _flat_zeros(params)
        return self._scratch_arrays

    def _flat_gradient(self, grads: list) -> "np.ndarray | None":
        """The 1-D buffer that `grads` are consecutive views of, or None.

        Worked out once for a given list of arrays; `Network` lays its
        gradients out this way (see `flat_views`).
        """
        seen, flat = self._flat_grads
        if len(seen) != len(grads) or any(
            a is not b for a, b in zip(seen, grads)
        ):
            flat = _consecutive_base(grads)
            self._flat_grads = (tuple(grads), flat)
        return flat

    def config(self) -> dict:
        return {"name": self.name, "lr": self.lr}


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with (Nesterov) momentum.

    Parameters
    ----------
    lr : float, default=0.01
        Learning rate, > 0.
    momentum : float, default=0.0
        μ in [0, 1). 0 gives plain gradient descent, θ ← θ - lr g.
    nesterov : bool, default=False
        Use Nesterov's look-ahead form; needs momentum > 0.

    Notes
    -----
    With momentum: v ← μ v + g, then θ ← θ - lr v, or with Nesterov
    θ ← θ - lr (g + μ v). This is the form PyTorch uses, so runs compare
    step for step.
    """

    name = "sgd"

    def __init__(
        self, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False
    ):
        super().__init__(lr)
        self.momentum = _decay(momentum, "momentum")
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(
                f"nesterov must be True or False, got {nesterov!r:.40}"
            )
        if nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0, got 0")
        self.nesterov = bool(nesterov)
        self.velocity: list[np.ndarray] = []

    def reset(self):
        super().reset()
        self.velocity = []

    def step(self, params, grads):
        self.t += 1
        scratch = self._scratch(params)
        if self.momentum and not self.velocity:
            _, self.velocity = _flat_zeros(params)
        flat = self._flat_gradient(grads)
        if flat is not None:
            # Every gradient at once, then each parameter takes its part.
            velocity = self.velocity[0].base if self.momentum else None
            self._update(flat, velocity, self._scratch_flat)
            for p, s in zip(params, scratch):
                p -= s
            return
        for i, (p, g, s) in enumerate(zip(params, grads, scratch)):
            v = self.velocity[i] if self.momentum else None
            self._update(g, v, s)
            p -= s

    def _update(self, g, v, s) -> None:
        """Leave in `s` the step lr·g, or with momentum lr·v (lr·(g + μv)
        with Nesterov) after v ← μv + g."""
        if v is None:
            np.multiply(g, self.lr, out=s)
            return
        v *= self.momentum
        v += g
        if self.nesterov:
            # g + μ v, the look-ahead step, built in the scratch array.
            np.multiply(v, self.momentum, out=s)
            s += g
            s *= self.lr
        else:
            np.multiply(v, self.lr, out=s)

    def _state_lists(self):
        return {"velocity": self.velocity}

    def config(self):
        return {
            **super().config(),
            "momentum": self.momentum,
            "nesterov": self.nesterov,
        }


class Adam(Optimizer):
    r"""Adam: per-parameter steps from running moments of the gradient.

    Parameters
    ----------
    lr : float, default=0.001
        Learning rate, > 0.
    beta1, beta2 : float, default=0.9, 0.999
        Decay rates of the first and second moment estimates, in [0, 1).
    eps : float, default=1e-8
        Added to sqrt(v̂) so the division never sees 0.

    Notes
    -----
    With t counting steps from 1:
    m ← β1 m + (1 - β1) g,  v ← β2 v + (1 - β2) g²,
    m̂ = m / (1 - β1^t),  v̂ = v / (1 - β2^t)   (bias correction),
    θ ← θ - lr m̂ / (sqrt(v̂) + eps).
    """

    name = "adam"

    def __init__(
        self,
        lr: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
    ):
        super().__init__(lr)
        self.beta1 = _decay(beta1, "beta1")
        self.beta2 = _decay(beta2, "beta2")
        eps = check_number(eps, "eps")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        # An infinite eps would make every step 0 without a word.
        if not math.isfinite(eps):
            raise ValueError(f"eps must be finite, got {eps}; 1e-8 is usual")
        self.eps = eps
        self.m: list[np.ndarray] = []
        self.v: list[np.ndarray] = []

    def reset(self):
        super().reset()
        self.m, self.v = [], []

    def step(self, params, grads):
        if not self.m:
            _, self.m = _flat_zeros(params)
            _, self.v = _flat_zeros(params)
        self.t += 1
        scratch = self._scratch(params)
        flat = self._flat_gradient(grads)
        if flat is not None:
            # Every gradient at once, then each parameter takes its part.
            self._update(flat, self.m[0].base, self.v[0].base,
                         self._scratch_flat)
            for p, s in zip(params, scratch):
                p -= s
        else:
            for p, g, m, v, s in zip(params, grads, self.m, self.v, scratch):
                self._update(g, m, v, s)
                p -= s

        if self.t % _FLUSH_EVERY == 0:
            for moment in (self.m[0].base, self.v[0].base):
                _flush_subnormals(moment)

    def _update(self, g, m, v, s) -> None:
        """Update the moments m and v from g; leave the step in `s`."""
        b1, b2 = self.beta1, self.beta2
        # Bias correction: t counts from 1, so neither divisor is 0.
        correction1 = 1.0 - b1**self.t
        correction2 = 1.0 - b2**self.t
        m *= b1
        m += np.multiply(g, 1.0 - b1, out=s)
        v *= b2
        np.multiply(g, g, out=s)
        v += np.multiply(s, 1.0 - b2, out=s)

        # lr m̂ / (sqrt(v̂) + eps), one array pass at a time in `s`.
        np.divide(v, correction2, out=s)
        np.sqrt(s, out=s)
        s += self.eps
        np.divide(m, s, out=s)
        s *= self.lr / correction1

    def _state_lists(self):
        return {"m": self.m, "v": self.v}

    def config(self):
        return {
            **super().config(),
            "beta1": self.beta1,
            "beta2": self.beta2,
            "eps": self.eps,
        }


# NOTE: a moment whose gradient stays 0 (a dead ReLU's weights) decays by
# β1 each step into float32's subnormal range after some 800 steps, never
# reaching 0 (0.9 times the smallest subnormal rounds back to it), and
# arithmetic on subnormals is several times slower on common CPUs. Setting
# them to 0 now and then keeps steps fast; the values are below 1.2e-38,
# so no update changes by more than that.
_FLUSH_EVERY = 256


def _flat_zeros(like: list) -> tuple:
    """One zeroed 1-D buffer for arrays shaped and typed like `like`, and
    a view into it of each one's shape, in order."""
    flat = np.zeros(sum(a.size for a in like), like[0].dtype if like else float)
    return flat, flat_views(flat, like)


def flat_views(flat: np.ndarray, like: list) -> list[np.ndarray]:
    """Views of consecutive parts of `flat`, shaped as the arrays in `like`."""
    views, start = [], 0
    for a in like:
        views.append(flat[start:start + a.size].reshape(a.shape))
        start += a.size
    return views


def _consecutive_base(arrays: list) -> "np.ndarray | None":
    """The 1-D buffer `arrays` tile exactly, in order, as C-ordered views;
    None when they are anything else (then each is updated on its own)."""
    if not arrays:
        return None
    base = arrays[0].base
    if not isinstance(base, np.ndarray) or base.ndim != 1:
        return None
    if not base.flags.c_contiguous:
        return None
    position = base.__array_interface__["data"][0]
    for a in arrays:
        if (a.base is not base or not a.flags.c_contiguous
                or a.dtype != base.dtype
                or a.__array_interface__["data"][0] != position):
            return None
        position += a.nbytes
    end = base.__array_interface__["data"][0] + base.nbytes
    return base if position == end else None


def _flush_subnormals(a: np.ndarray) -> None:
    a[np.abs(a) < np.finfo(a.dtype).tiny] = 0.0


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def get_optimizer(name: "str | Optimizer", lr: float | None = None) -> Optimizer:
    """Return an optimizer for a name (with `lr` if given), or `name` itself."""
    if isinstance(name, Optimizer):
        if lr is not None:
            # Which one was meant is unknowable; ignoring lr trains with
            # the object's rate and hides the mistake.
            raise ValueError(
                f"give the learning rate once: lr={lr!r} with an optimizer "
                f"object that has its own (lr={name.lr:g}); use "
                f"{type(name).__name__}(lr=...) or the optimizer's name"
            )
        return name
    if name not in OPTIMIZERS:
        valid = ", ".join(sorted(OPTIMIZERS))
        raise ValueError(
            f"unknown optimizer {name!r}; valid names are: {valid}"
        )
    cls = OPTIMIZERS[name]
    return cls() if lr is None else cls(lr=lr)
