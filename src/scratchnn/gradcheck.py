"""Gradient checking: backprop's gradients against central differences.

Each weight θ is moved by ±eps and the loss measured again, so
dL/dθ ≈ (L(θ + eps) - L(θ - eps)) / (2 eps), with an error of O(eps²),
and compared with what backprop computed, parameter by parameter.
"""
import copy
import logging
import math
from dataclasses import asdict, dataclass

import numpy as np

from .data import LabelEncoder, StandardScaler
from .tables import align
from .validation import (
    as_dtype,
    check_features,
    check_lengths,
    check_number,
    check_positive_int,
    check_seed,
)

logger = logging.getLogger(__name__)

# The activations whose derivative jumps at z = 0: a difference taken
# across the jump measures neither side's slope.
_KINKED = ("relu", "leaky_relu")

# The margin over float64's rounding that `noise` (see check_gradients)
# allows a difference quotient.
_NOISE_MARGIN = 10.0


@dataclass
class ParameterCheck:
    """How one weight or bias array compared (see `GradientCheck`).

    Attributes
    ----------
    layer, param : int, str
        The layer's index (from 0) and "W" or "b".
    checked : int
        Entries compared; `on_kink` more were left out (see
        `check_gradients`).
    worst_relative_error : float
        The largest relative error among them, at `worst_index`, where
        backprop gave `analytic` and the difference quotient `numeric`
        (all None when no entry was compared).
    passed : bool
        Whether `worst_relative_error` is within the tolerance.
    """

    layer: int
    param: str
    shape: tuple
    checked: int
    on_kink: int
    worst_relative_error: float
    worst_index: tuple | None
    analytic: float | None
    numeric: float | None
    passed: bool


@dataclass
class GradientCheck:
    """The result of `check_gradients`: one `ParameterCheck` per array.

    `passed` is True when every array passes. `first_failing_layer` is
    the highest-numbered layer with a failing array (None when all pass):
    backprop goes from the last layer to the first, so that is where the
    gradient first goes wrong, and the layers before it inherit the error.
    """

    parameters: list
    loss: float
    n_samples: int
    tol: float
    eps: float
    noise: float
    max_entries: int | None
    seed: int

    @property
    def passed(self) -> bool:
        return all(p.passed for p in self.parameters)

    @property
    def first_failing_layer(self) -> int | None:
        failing = [p.layer for p in self.parameters if not p.passed]
        return max(failing) if failing else None

    def to_dict(self) -> dict:
        """JSON-ready values: the settings, the verdict, every array's row."""
        rows = []
        for p in self.parameters:
            row = asdict(p)
            row["shape"] = list(p.shape)
            if p.worst_index is not None:
                row["worst_index"] = list(p.worst_index)
            rows.append(row)
        return {
            "passed": self.passed,
            "first_failing_layer": self.first_failing_layer,
            "tol": self.tol,
            "eps": self.eps,
            "noise": self.noise,
            "max_entries": self.max_entries,
            "seed": self.seed,
            "loss": self.loss,
            "n_samples": self.n_samples,
            "parameters": rows,
        }

    def to_text(self) -> str:
        """A table of the arrays, then one line with the verdict."""
        header = ("layer", "param", "shape", "checked",
                  "worst rel. error", "result")
        table = [header] + [
            (str(p.layer), p.param, str(p.shape), str(p.checked),
             f"{p.worst_relative_error:.2e}", "pass" if p.passed else "FAIL")
            for p in self.parameters
        ]
        lines = align(table, numeric={0, 3, 4})

        kinks = sum(p.on_kink for p in self.parameters)
        if kinks:
            lines.append(
                f"note: {kinks} entries were left out because moving them "
                f"by ±eps crossed a ReLU kink at z = 0"
            )
        settings = (f"eps {self.eps:g}, float64, {self.n_samples} rows, "
                    f"loss {self.loss:.6g}")
        if self.passed:
            lines.append(f"passed: every array within tol {self.tol:g} "
                         f"({settings})")
            return "\n".join(lines)
        layer = self.first_failing_layer
        last = max(p.layer for p in self.parameters)
        suspects = "its activation's backward"
        if layer == last:
            suspects += " or the loss's"
        lines += [
            f"FAILED: beyond tol {self.tol:g} ({settings})",
            f"backprop first goes wrong at layer {layer} (the layers before "
            f"it inherit the error):",
            f"check {suspects}",
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def check_gradients(
    network,
    X,
    y,
    tol: float = 1e-6,
    eps: float = 1e-6,
    max_entries: int | None = 100,
    seed: int | None = 0,
) -> GradientCheck:
    r"""Compare backprop's gradients with central differences, in float64.

    Parameters
    ----------
    network : Network
        Left unchanged: the check runs on a float64 copy. An unbuilt
        network is checked at the weights ``build(n_features, seed)``
        would draw (with its scaling and classes fitted to X and y).
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        As for `fit`: raw features and labels (or targets).
    tol : float, default=1e-6
        The largest relative error an array may show and pass.
    eps : float, default=1e-6
        How far each entry is moved either way.
    max_entries : int or None, default=100
        Arrays with more entries have this many checked, drawn at random
        without repeats; None checks every entry.
    seed : int or None, default=0
        Seeds the drawing of those entries (and of the weights of an
        unbuilt network); None draws fresh entropy.

    Returns
    -------
    GradientCheck
        Per array: layer, "W" or "b", entries checked, worst relative
        error, where it was, and pass or fail; then the overall verdict.

    Notes
    -----
    The relative error of an entry with analytic gradient a and numeric
    gradient n is |a - n| / max(|a| + |n|, noise / tol), where
    noise = 10 ε max(1, |L|) / eps, with ε = 2.2e-16 (float64's machine
    epsilon), is ten times the rounding error a difference quotient
    cannot avoid. So an entry passes when |a - n| <= tol (|a| + |n|),
    or when |a - n| <= noise for gradients too small to resolve.

    With ReLU layers an entry whose ±eps moves a pre-activation across
    z = 0 measures the kink, not the slope; such entries are left out
    and counted in `on_kink`.
    """
    tol = _positive(tol, "tol")
    eps = _positive(eps, "eps")
    if max_entries is not None:
        max_entries = check_positive_int(max_entries, "max_entries")
    seed = check_seed(seed)
    work, x, targets = working_copy(network, X, y, seed, dtype="float64")

    loss, analytic = work.loss_and_gradients(x, targets)
    if not math.isfinite(loss):
        raise ValueError(
            f"the loss is {loss} at these weights, so there is no gradient "
            f"to check; check the data and weights for huge values"
        )
    noise = _NOISE_MARGIN * np.finfo(np.float64).eps * max(1.0, abs(loss))
    noise /= eps
    rng = np.random.default_rng(seed)
    checks = []
    for i, layer in enumerate(work.layers):
        for name, param in layer.params.items():
            entries = _entries(param.size, max_entries, rng)
            grad = analytic[len(checks)]
            checks.append(_check_array(
                work, x, targets, (i, name), param, grad, entries,
                eps, tol, noise,
            ))
    report = GradientCheck(checks, loss, x.shape[0], tol, eps, noise,
                           max_entries, seed)
    logger.info("gradient check: %s", "passed" if report.passed else
                f"failed from layer {report.first_failing_layer}")
    return report


def working_copy(network, X, y, seed: int | None = 0, dtype=None):
    """A copy of `network` ready for X and y, with X and y as it takes them.

    The copy is built, as `fit` would build it with `seed`, if the
    network is not; `dtype` ("float64") casts its weights. Returns the
    copy, the scaled inputs and the encoded targets, in its dtype.
    """
    X = check_features(X, "X", n_features=network.n_features_in_)
    check_lengths(X, y)
    work = copy.deepcopy(network)
    if work.is_built:
        targets, _ = work._encode_targets(y, work.encoder, fit=False)
    else:
        # What fit does first: classes, weights, then the scaling.
        encoder = LabelEncoder() if work.is_classifier else None
        targets, _ = work._encode_targets(y, encoder, fit=True)
        work.build(X.shape[1], seed)
        work.encoder = encoder
        if work.standardize:
            work.scaler = StandardScaler().fit(X)

    if dtype is not None and np.dtype(dtype) != work.dtype:
        _cast(work, np.dtype(dtype))
    else:
        _relayout(work)
    x = work._scale(X, "X")
    return work, x, as_dtype(targets, work.dtype, "y")


def _cast(work, dtype: np.dtype) -> None:
    """Weights and gradients in `dtype`; the optimizer starts afresh."""
    work.dtype = dtype
    for layer in work.layers:
        layer.params = {k: v.astype(dtype) for k, v in layer.params.items()}
        layer.grads = {k: np.zeros_like(v) for k, v in layer.params.items()}
    work.flatten_gradients()
    work.optimizer.reset()


def _relayout(work) -> None:
    """Put a deep copy's gradients and optimizer state back in flat buffers.

    A deep copy turns each view of a flat buffer into an array of its
    own, which the optimizer's one-pass update cannot use.
    """
    work.flatten_gradients()
    optimizer = work.optimizer
    state = {k: v.copy() for k, v in optimizer.state().items()}
    optimizer.load_state(optimizer.t, state)


def _entries(size: int, max_entries: int | None, rng) -> np.ndarray:
    """Flat indices to check: all, or `max_entries` drawn without repeats."""
    if max_entries is None or size <= max_entries:
        return np.arange(size)
    return np.sort(rng.choice(size, max_entries, replace=False))


def _check_array(work, x, targets, where, param, grad, entries, eps, tol,
                 noise) -> ParameterCheck:
    """Compare one array's gradient with central differences at `entries`.

    `where` is (layer index, "W" or "b"); see `check_gradients` for eps,
    tol and noise.
    """
    layer, name = where
    floor = noise / tol
    flat = param.reshape(-1)  # a view: moving it moves the weight
    kinked = [
        lyr for lyr in work.layers if lyr.activation.name in _KINKED
    ]
    worst, worst_at, pair, on_kink = 0.0, None, (None, None), 0
    for index in entries:
        original = flat[index]
        try:
            flat[index] = original + eps
            upper = _loss(work, x, targets)
            sides = [lyr.logits > 0 for lyr in kinked]
            flat[index] = original - eps
            lower = _loss(work, x, targets)
            crossed = any(
                np.any(side != (lyr.logits > 0))
                for side, lyr in zip(sides, kinked)
            )
        finally:
            flat[index] = original
        if crossed:
            on_kink += 1
            continue

        numeric = float((upper - lower) / (2.0 * eps))
        analytic = float(grad.reshape(-1)[index])
        scale = max(abs(analytic) + abs(numeric), floor)
        error = abs(analytic - numeric) / scale
        if worst_at is None or error > worst:
            worst, pair = error, (analytic, numeric)
            at = np.unravel_index(index, param.shape)
            worst_at = tuple(int(i) for i in at)

    checked = len(entries) - on_kink
    if checked == 0:
        logger.warning("layer %d %s: every entry checked lies on a ReLU "
                       "kink, so none was compared", layer, name)
    return ParameterCheck(
        layer, name, param.shape, checked, on_kink, float(worst), worst_at,
        pair[0], pair[1], passed=bool(worst <= tol),
    )


def _loss(work, x, targets) -> float:
    return work.evaluate_prepared(x, targets)["loss"]


def _positive(value, name: str) -> float:
    value = check_number(value, name)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value
