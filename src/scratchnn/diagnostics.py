"""Training diagnostics: spot common failures during `fit` and name a fix.

`Diagnostics` is a callback. At the start it looks at the inputs; after
each epoch it runs one forward pass over a fixed probe sample of the
training rows, reads each layer's last gradient, and looks at the loss
curve. What it finds becomes a `DiagnosticWarning` naming the layer, the
figure and a fix. The checks follow the usual advice, e.g. Glorot &
Bengio (2010) on saturated units and vanishing gradients, and Smith
(2017) for the learning-rate finder it points to.
"""
import logging
import warnings

import numpy as np

from .errors import DiagnosticWarning
from .initializers import DEFAULT_FOR_ACTIVATION
from .losses import get_loss
from .streaming import MappedRows
from .training import Callback

logger = logging.getLogger(__name__)

# ----------------------------------------------------------------------
# The probe sample and the thresholds
# ----------------------------------------------------------------------
# Rows in the probe sample; drawn once per fit from its own generator,
# so a diagnosed run trains exactly as an undiagnosed one.
PROBE_ROWS = 256
PROBE_SEED = 0
# Rows per matrix product in the probe pass: a training batch's size.
PROBE_BLOCK = 32
# An input column is unscaled when its |mean| or its std exceeds this.
INPUT_SCALE = 5.0
# A sigmoid or tanh unit is saturated when, on this share of the probe
# rows, its output lies within 1% of its range from a bound; there its
# derivative is under 4% of its peak.
SATURATED_MARGIN = 0.01
SATURATED_ROWS = 0.9
# A layer is reported once this share of its units is dead or saturated.
UNIT_SHARE = 0.5
# Gradient norm over weight norm, per layer: above EXPLODING the gradient
# outgrows the weights it updates; below VANISHING times the largest
# layer's ratio, a layer learns far slower than the others.
EXPLODING = 10.0
VANISHING = 1e-3
# Divergence: the loss rose in each of the last RISING_EPOCHS epochs, by
# more than RISE_SHARE of the first epoch's loss in all, or it went past
# DIVERGED_FACTOR times the first epoch's loss.
RISING_EPOCHS = 3
RISE_SHARE = 0.1
DIVERGED_FACTOR = 2.0
# Plateau: the best loss improved by less than PLATEAU_GAIN (relative)
# over the last PLATEAU_EPOCHS, while it is still above PLATEAU_LEVEL
# times the loss of guessing (the class shares, or the targets' mean).
PLATEAU_EPOCHS = 10
PLATEAU_GAIN = 0.01
PLATEAU_LEVEL = 0.5

_SQUASHING = ("sigmoid", "tanh")


class Diagnostics(Callback):
    """Warn, once each, about trouble a training run shows, with a fix.

    Watches for unscaled inputs (only when the network does not
    standardise), saturated sigmoid or tanh units, dead ReLU units,
    exploding or vanishing gradients per layer, a diverging loss and a
    long plateau. `Network.fit(..., diagnose=True)` adds one.

    Parameters
    ----------
    probe_rows : int, default=256
        Training rows (a fixed random sample) each epoch's forward pass
        looks at; all rows when there are fewer.
    plateau_epochs : int, default=10
        Epochs without a 1% gain in the loss before a plateau is reported.

    Notes
    -----
    The work is per epoch, never per step: one forward pass over the probe
    rows (outside the layers' buffers, so training is untouched), one norm
    per weight array of the last step's gradients, and a look at the loss
    history. The inputs are checked once, on the probe rows.

    Each kind of finding is warned about once per layer per fit, as a
    `scratchnn.errors.DiagnosticWarning`; the figures behind the checks
    are logged at DEBUG level each epoch. The hidden layers are checked
    for dead and saturated units, not the output layer, whose confident
    sigmoid or softmax is the aim of training.

    Python's default filter shows a warning whose text and origin repeat
    only once per session; ``warnings.simplefilter("always",
    DiagnosticWarning)`` shows every fit's.
    """

    def __init__(
        self,
        probe_rows: int = PROBE_ROWS,
        plateau_epochs: int = PLATEAU_EPOCHS,
    ):
        for name, value in (("probe_rows", probe_rows),
                            ("plateau_epochs", plateau_epochs)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {value!r}")
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.probe_rows = probe_rows
        self.plateau_epochs = plateau_epochs

    def on_train_begin(self, network) -> None:
        self.network = network
        state = network.training_state
        self.warned: set = set()
        self.probe = _probe_sample(state.x, self.probe_rows)
        self.guess_loss = _guess_loss(network, state.targets)
        # A resumed run's curve goes on from the epochs it already has.
        self.losses = list(state.history.history.get("loss", []))
        if network.scaler is None:
            self._check_inputs()

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self.losses.append(float(logs["loss"]))
        self._check_units(epoch)
        self._check_gradients(epoch)
        self._check_loss(epoch)

    # ------------------------------------------------------------------
    # The checks
    # ------------------------------------------------------------------
    def _check_inputs(self) -> None:
        x = self.probe.astype(np.float64)
        mean, std = x.mean(axis=0), x.std(axis=0)
        scale = np.maximum(np.abs(mean), std)
        far = np.flatnonzero(scale > INPUT_SCALE)
        logger.debug("inputs: largest column |mean| %.3g, std %.3g",
                     np.abs(mean).max(), std.max())
        if far.size == 0:
            return

        worst = far[np.argmax(scale[far])]
        self._warn(
            "inputs", None,
            f"inputs: {far.size} of {x.shape[1]} columns are far from "
            f"standardised (|mean| or std above {INPUT_SCALE:g}; column "
            f"{worst} has mean {mean[worst]:.3g}, std {std[worst]:.3g}), "
            f"which makes steps uneven and saturates units; fix: "
            f"standardize=True (on the command line, leave out "
            f"--no-standardize)",
        )

    def _check_units(self, epoch: int) -> None:
        hidden = self.network.layers[:-1]
        counts = _stuck_counts(hidden, self.probe)
        n_rows = self.probe.shape[0]
        figures = []
        for i, (layer, count) in enumerate(zip(hidden, counts)):
            name = layer.activation.name
            if name == "relu":
                # Dead: zero output, so zero gradient, on every probe row.
                dead = np.mean(count == n_rows)
                figures.append(f"{i}: {dead:.0%} dead")
                if dead >= UNIT_SHARE:
                    self._warn(
                        "dead", i,
                        f"{_describe(layer, i)}: {dead:.0%} of "
                        f"{layer.units} units are dead (output 0 on all "
                        f"{n_rows} probe rows), so they no longer learn; "
                        f"fix: " + _either([
                            self._lower_lr(), "activation='leaky_relu'",
                            _default_init(layer),
                        ]),
                    )
            elif name in _SQUASHING:
                saturated = np.mean(count >= SATURATED_ROWS * n_rows)
                figures.append(f"{i}: {saturated:.0%} saturated")
                if saturated >= UNIT_SHARE:
                    self._warn(
                        "saturated", i,
                        f"{_describe(layer, i)}: {saturated:.0%} of "
                        f"{layer.units} units are saturated (within 1% of "
                        f"a bound on {SATURATED_ROWS:.0%} of the probe "
                        f"rows), so they pass on almost no gradient; fix: "
                        + _either([
                            self._standardize(), _default_init(layer),
                            self._lower_lr(), "activation='relu'",
                        ]),
                    )
        if figures:
            logger.debug("epoch %d units: %s", epoch, ", ".join(figures))

    def _check_gradients(self, epoch: int) -> None:
        layers = self.network.layers
        ratios = np.array([_gradient_ratio(layer) for layer in layers])
        logger.debug(
            "epoch %d |grad W| / |W|: %s", epoch,
            ", ".join(f"{i}: {r:.2e}" for i, r in enumerate(ratios)),
        )
        exploding = ~np.isfinite(ratios) | (ratios > EXPLODING)
        for i in np.flatnonzero(exploding):
            self._warn(
                "exploding", int(i),
                f"{_describe(layers[i], i)}: exploding gradient, |grad W| "
                f"/ |W| is {ratios[i]:.3g} (limit {EXPLODING:g}); fix: "
                + _either([
                    _default_init(layers[i]), self._standardize(),
                    self._lower_lr(),
                ]),
            )
        # Next to an exploding layer every other one looks starved; the
        # comparison means something only when none explodes.
        if exploding.any():
            return

        top = int(np.argmax(ratios))
        largest = ratios[top]
        for i in np.flatnonzero(ratios < VANISHING * largest):
            self._warn(
                "vanishing", int(i),
                f"{_describe(layers[i], i)}: vanishing gradient, |grad W| "
                f"/ |W| is {ratios[i]:.2g}, {ratios[i] / largest:.1e} "
                f"times layer {top}'s {largest:.2g}, so it barely learns; "
                f"fix: activation='relu' with init='he' in the hidden "
                f"layers, or fewer layers",
            )

    def _check_loss(self, epoch: int) -> None:
        losses = self.losses
        first, last = losses[0], losses[-1]
        recent = losses[-RISING_EPOCHS - 1:]
        rising = len(recent) == RISING_EPOCHS + 1 and all(
            b > a for a, b in zip(recent, recent[1:])
        )
        rose = last - recent[0]
        # A first epoch at loss 0 has nothing left to diverge from.
        if first > 0 and (
            (rising and rose > RISE_SHARE * first)
            or last > DIVERGED_FACTOR * first
        ):
            self._warn(
                "diverging", None,
                f"the loss is diverging: {last:.4g} at epoch {epoch}, "
                f"from {first:.4g} after the first epoch; fix: "
                f"{self._lower_lr()} (scratchnn lr-find suggests one)",
            )

        n = self.plateau_epochs
        if len(losses) <= n:
            return
        before, after = min(losses[:-n]), min(losses[-n:])
        gain = (before - after) / abs(before) if before else 0.0
        if gain < PLATEAU_GAIN and last > PLATEAU_LEVEL * self.guess_loss:
            self._warn(
                "plateau", None,
                f"the loss is on a plateau: {gain:.1%} better over the "
                f"last {n} epochs, at {last:.4g} where guessing gets "
                f"{self.guess_loss:.4g}; fix: a higher lr than "
                f"{self._current_lr()} (scratchnn lr-find suggests one), "
                f"or first mend any dead or saturated units",
            )

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------
    def _warn(self, kind: str, layer: int | None, text: str) -> None:
        """Warn about `kind` at `layer`, unless this fit already did."""
        if (kind, layer) in self.warned:
            return
        self.warned.add((kind, layer))
        warnings.warn(DiagnosticWarning(text, kind, layer), stacklevel=2)

    def _current_lr(self) -> str:
        return f"{self.network.optimizer.lr:g}"

    def _lower_lr(self) -> str:
        return f"a lower lr than {self._current_lr()}"

    def _standardize(self) -> str:
        """The scaling fix, where the inputs were found unscaled."""
        return "standardize=True" if ("inputs", None) in self.warned else ""


def _probe_sample(x, n_rows: int) -> np.ndarray:
    """A fixed random choice of up to `n_rows` prepared training rows."""
    n = x.shape[0]
    if n <= n_rows:
        rows = np.arange(n)
    else:
        rng = np.random.default_rng(PROBE_SEED)
        rows = np.sort(rng.choice(n, size=n_rows, replace=False))
    if isinstance(x, MappedRows):
        return x.take(rows, out=np.empty((len(rows), x.shape[1]), x.dtype))
    return x[rows]


def _stuck_counts(layers: list, x: np.ndarray) -> list[np.ndarray]:
    """Per layer, on how many probe rows each unit is stuck: 0 for a relu,
    near a bound for a sigmoid or tanh (never, for other activations).

    The layers are run here rather than by `Dense.forward`, so their
    reused buffers and the cache backward reads stay as the last step left
    them; and in blocks of a training batch's size, since one product of
    all the rows may wake BLAS threads that cost more than the epoch.
    """
    counts = [np.zeros(layer.units, np.int64) for layer in layers]
    # An exploding network may overflow; its gradients are reported then.
    with np.errstate(over="ignore", invalid="ignore"):
        for begin in range(0, x.shape[0], PROBE_BLOCK):
            a = x[begin:begin + PROBE_BLOCK]
            for layer, count in zip(layers, counts):
                z = a @ layer.params["W"]  # (block, units)
                if layer.use_bias:
                    z += layer.params["b"]
                a = layer.activation.forward(z)
                count += np.count_nonzero(
                    _stuck(a, layer.activation.name), axis=0
                )
    return counts


def _stuck(a: np.ndarray, name: str) -> "np.ndarray | bool":
    """Where a unit's output passes (almost) no gradient back."""
    if name == "relu":
        return a <= 0
    if name == "sigmoid":
        return (a < SATURATED_MARGIN) | (a > 1.0 - SATURATED_MARGIN)
    if name == "tanh":
        return np.abs(a) > 1.0 - 2.0 * SATURATED_MARGIN
    return False


def _default_init(layer) -> str:
    """The initializer made for the layer's activation (He for ReLUs,
    Glorot for the rest), if the layer uses another one."""
    default = DEFAULT_FOR_ACTIVATION.get(layer.activation.name, "glorot")
    return "" if layer.init == default else f"init={default!r}"


def _either(options: list[str]) -> str:
    """The fixes that apply, as "a, b or c"."""
    options = [option for option in options if option]
    if len(options) == 1:
        return options[0]
    return ", ".join(options[:-1]) + " or " + options[-1]


def _gradient_ratio(layer) -> float:
    """|dL/dW| / |W| (Frobenius norms) from the last step's gradients."""
    grad = np.linalg.norm(layer.grads["W"].astype(np.float64))
    weights = np.linalg.norm(layer.params["W"].astype(np.float64))
    return grad / max(weights, np.finfo(np.float64).tiny)


def _guess_loss(network, targets: np.ndarray) -> float:
    """The loss of a constant guess: the class shares, or the mean target.

    The level a network that learned nothing from the inputs reaches.
    """
    targets = np.asarray(targets, dtype=np.float64)
    guess = np.broadcast_to(targets.mean(axis=0), targets.shape)
    return get_loss(network.loss.name).forward(guess, targets)


def _describe(layer, index: int) -> str:
    return (f"layer {index} (Dense {layer.n_in} -> {layer.units}, "
            f"{layer.activation.name})")
