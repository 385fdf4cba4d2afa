"""The learning-rate range test: sweep lr upwards for a few hundred steps.

Train a copy of the network for one mini-batch step per learning rate, the
rates growing exponentially from `start` to `stop`, and watch the loss:
too small a rate barely moves it, a good one makes it fall fastest, too
large a one makes it explode. From L. N. Smith (2017), "Cyclical Learning
Rates for Training Neural Networks", https://arxiv.org/abs/1506.01186.
"""
import copy
import logging
import math
import warnings
from dataclasses import dataclass

import numpy as np

from . import streaming
from .data import LabelEncoder, StandardScaler
from .errors import DiagnosticWarning, TrainingDivergedError
from .network import _batch_size
from .validation import (
    as_dtype,
    check_features,
    check_lengths,
    check_number,
    check_positive_int,
    check_seed,
)

logger = logging.getLogger(__name__)

# Weight of the past in the running mean of the loss. Higher smooths more
# but lags more: the curve shifts right by about 1 / (1 - SMOOTHING) steps.
SMOOTHING = 0.9
# The sweep stops once the smoothed loss exceeds this many times its
# lowest value so far: past there it only explodes.
EXPLODED = 4.0
# The first steps are left out of the suggestion: the running mean has
# seen too few losses to be trusted there.
SETTLING_STEPS = 10
# Each slope is taken across 2 / SLOPE_SPAN of the steps: over single
# steps the noise of one mini-batch outweighs the descent.
SLOPE_SPAN = 20
# A sweep whose smoothed loss never fell by this share has no descent.
MIN_DROP = 0.05
# Fewer steps leave too little room after the settling steps for slopes.
MIN_STEPS = 40


@dataclass
class LRFinderResult:
    """What a learning-rate sweep saw, and the rate it suggests.

    Attributes
    ----------
    lrs : ndarray of shape (n_steps,)
        The learning rate of each step taken, growing exponentially.
    losses : ndarray of shape (n_steps,)
        The smoothed loss after each step (a bias-corrected running mean).
    raw_losses : ndarray of shape (n_steps,)
        Each step's mini-batch loss as computed.
    suggestion : float
        The suggested learning rate (see `find_learning_rate`'s Notes).
    stopped_early : bool
        True when the loss exploded before `stop` was reached.
    """

    lrs: np.ndarray
    losses: np.ndarray
    raw_losses: np.ndarray
    suggestion: float
    stopped_early: bool

    def to_dict(self) -> dict:
        """JSON-ready values: lists of floats and the suggestion."""
        return {
            "suggested_lr": self.suggestion,
            "stopped_early": self.stopped_early,
            "lrs": self.lrs.tolist(),
            "losses": self.losses.tolist(),
            "raw_losses": self.raw_losses.tolist(),
        }


def find_learning_rate(
    network,
    X,
    y,
    start: float = 1e-6,
    stop: float = 1.0,
    steps: int = 200,
    batch_size: "int | None | str" = "auto",
    seed: int | None = None,
) -> LRFinderResult:
    r"""Sweep the learning rate on a copy of `network`; suggest one.

    Parameters
    ----------
    network : Network
        The architecture, loss, optimizer and scaling to test. It is
        copied: its weights, optimizer and history are left untouched.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        As for `Network.fit`.
    start, stop : float, default=1e-6, 1.0
        The first and last learning rates, 0 < start < stop.
    steps : int, default=200
        Mini-batch steps (and rates) in the sweep, at least 40. The data
        are reshuffled whenever they run out.
    batch_size : int, None or "auto", default="auto"
        As for `fit`: "auto" is 32 (or all rows when fewer), None all rows.
    seed : int >= 0 or None, default=None
        Seeds the copy's initial weights and the shuffling.

    Returns
    -------
    LRFinderResult

    Notes
    -----
    Step k uses lr_k = start (stop / start)^(k / (steps - 1)) on fresh
    weights drawn as `fit` draws them. The smoothed loss is the running
    mean s_k = β s_{k-1} + (1 - β) L_k with β = 0.9, divided by
    1 - β^(k+1) so the first values are not pulled towards 0. The sweep
    stops once s_k exceeds 4 times its lowest value, or a loss is NaN.

    The suggestion is the rate where the smoothed loss falls fastest
    against log(lr): the most negative slope ds / d(log lr), each slope
    taken across a tenth of the steps (so one noisy batch cannot decide),
    looked for from the 10th step on up to the lowest smoothed loss. There
    training makes the most progress per step while still short of the
    rates that break it. A sweep whose smoothed loss never fell by 5%
    suggests the first rate, with a `DiagnosticWarning`.
    """
    start = _positive(start, "start")
    stop = _positive(stop, "stop")
    if stop <= start:
        raise ValueError(
            f"stop must be larger than start, got start={start:g}, "
            f"stop={stop:g}"
        )
    steps = check_positive_int(steps, "steps")
    if steps < MIN_STEPS:
        raise ValueError(
            f"steps must be >= {MIN_STEPS} to draw a curve, got {steps}"
        )
    if streaming.is_mapped(X):
        raise NotImplementedError(
            "find_learning_rate on memory-mapped X is not supported; a "
            "sweep needs only steps x batch_size rows, so pass a sample "
            "of them loaded into memory"
        )

    rng = np.random.default_rng(check_seed(seed))
    trial = copy.deepcopy(network)
    x, targets = _prepare(trial, X, y, rng)
    batch_size = _batch_size(batch_size, x.shape[0])

    lrs = start * (stop / start) ** (np.arange(steps) / (steps - 1))
    raw, smoothed = [], []
    mean, lowest = 0.0, math.inf
    stopped_early = False
    batches = _batches(x.shape[0], batch_size, rng)
    # A rate too large overflows on purpose; the checks below see it.
    with np.errstate(over="ignore", invalid="ignore"):
        for k, lr in enumerate(lrs):
            rows = next(batches)
            trial.optimizer.lr = float(lr)
            loss = trial.train_step(x[rows], targets[rows])
            if not math.isfinite(loss):
                stopped_early = True
                break

            # Running mean of the loss, corrected for its zero start.
            mean = SMOOTHING * mean + (1.0 - SMOOTHING) * loss
            value = mean / (1.0 - SMOOTHING ** (k + 1))
            raw.append(loss)
            smoothed.append(value)
            lowest = min(lowest, value)
            if k >= SETTLING_STEPS and value > EXPLODED * lowest:
                stopped_early = True
                break

    taken = len(raw)
    if taken == 0:
        raise TrainingDivergedError(
            f"the loss was not finite at the first step (lr {start:g}); "
            f"check the data and the network before sweeping"
        )
    lrs = lrs[:taken]
    losses = np.array(smoothed)
    suggestion = _suggest(lrs, losses)
    logger.debug(
        "lr sweep: %d of %d steps, lr %g to %g, suggestion %g",
        taken, steps, start, lrs[-1], suggestion,
    )
    return LRFinderResult(lrs, losses, np.array(raw), suggestion,
                          stopped_early)


def _suggest(lrs: np.ndarray, losses: np.ndarray) -> float:
    """The rate of steepest descent of the smoothed loss (see Notes)."""
    bottom = int(np.argmin(losses))
    span = max(1, len(losses) // SLOPE_SPAN)
    first = SETTLING_STEPS + span
    fell = losses[bottom] < (1.0 - MIN_DROP) * losses[0]
    if bottom < first + span or not fell:
        return _no_descent(lrs)

    # Slopes across 2 * span steps, so one noisy batch cannot decide.
    centres = np.arange(first, bottom + 1)
    behind = centres - span
    ahead = np.minimum(centres + span, bottom)
    log_lr = np.log(lrs)
    rise = losses[ahead] - losses[behind]
    slope = rise / (log_lr[ahead] - log_lr[behind])  # ds / d(log lr)
    return float(lrs[centres[np.argmin(slope)]])


def _no_descent(lrs: np.ndarray) -> float:
    """Warn that the sweep shows no descent; fall back on its first rate."""
    text = (
        f"the smoothed loss shows no descent between lr {lrs[0]:g} and "
        f"{lrs[-1]:g} (it never fell by {MIN_DROP:.0%}, or only in the "
        f"first steps), so the first rate is suggested; try a smaller "
        f"start or more steps, and fit(diagnose=True) to look for dead "
        f"or saturated units"
    )
    warnings.warn(DiagnosticWarning(text, "no_descent"), stacklevel=4)
    return float(lrs[0])


def _prepare(trial, X, y, rng: np.random.Generator) -> tuple:
    """Check the data and give `trial` fresh weights, as `fit` would.

    Returns the scaled inputs and encoded targets in the trial's dtype.
    """
    X = check_features(X, "X")
    check_lengths(X, y)
    encoder = LabelEncoder() if trial.is_classifier else None
    targets, _ = trial._encode_targets(y, encoder, fit=True)

    trial.encoder, trial.scaler = encoder, None
    trial._build(X.shape[1], rng)
    if trial.standardize:
        trial.scaler = StandardScaler().fit(X)
    return trial._scale(X, "X"), as_dtype(targets, trial.dtype, "y")


def _batches(n_rows: int, batch_size: int, rng: np.random.Generator):
    """Row indices of full mini-batches, reshuffled at each pass, forever.

    Only full batches are used, so every step's loss is equally noisy.
    """
    while True:
        order = rng.permutation(n_rows)
        for begin in range(0, n_rows - batch_size + 1, batch_size):
            yield order[begin:begin + batch_size]


def _positive(value, name: str) -> float:
    value = check_number(value, name)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value
