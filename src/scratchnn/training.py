"""The fit loop: mini-batches, shuffling, History, callbacks, divergence.

This is the one place that ties the network, the loss and the optimizer
together. Per epoch it shuffles once, then for each mini-batch runs
feedforward, the loss gradient, backprop and one optimizer step.
"""
import hashlib
import logging
import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .errors import TrainingDivergedError, TrainingInterruptedWarning
from .streaming import MappedRows

logger = logging.getLogger(__name__)


class History:
    """Per-epoch training record: `history["loss"]`, `history["val_loss"]`...

    Attributes
    ----------
    history : dict of str to list of float
        One value per finished epoch for each metric.
    epochs : list of int
        The numbers (from 1) of the finished epochs.
    interrupted : bool
        True when training was stopped by Ctrl-C.
    """

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epochs: list[int] = []
        self.interrupted = False

    def append(self, epoch: int, logs: dict) -> None:
        self.epochs.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def extend(self, other: "History") -> None:
        """Append another run's epochs, numbering them after these."""
        for i in range(len(other)):
            logs = {k: v[i] for k, v in other.history.items()}
            self.append(len(self) + 1, logs)

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epochs)

    def to_dict(self) -> dict:
        return {"epochs": list(self.epochs), **self.history}

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        history = cls()
        history.epochs = [int(e) for e in data.get("epochs", [])]
        history.history = {
            k: [float(x) for x in v] for k, v in data.items() if k != "epochs"
        }
        return history

    def __repr__(self) -> str:
        return f"History(epochs={len(self)}, keys={sorted(self.history)})"


class Callback:
    """Hooks the fit loop calls; override the ones you need.

    Setting `network.stop_training = True` from a hook ends training after
    the current epoch.
    """

    def on_train_begin(self, network) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        pass

    def on_train_end(self, history: History) -> None:
        pass


class _FunctionCallback(Callback):
    """Wraps a plain function f(epoch, logs) as an on_epoch_end hook."""

    def __init__(self, function):
        self.function = function

    def on_epoch_end(self, epoch, logs):
        self.function(epoch, logs)


class EarlyStopping(Callback):
    """Stop when a monitored value has not improved for `patience` epochs.

    Parameters
    ----------
    monitor : str, default="val_loss"
        A key of the epoch logs; lower is better unless it ends in
        "accuracy".
    patience : int, default=10
        Epochs without improvement to wait before stopping.
    restore_best : bool, default=True
        Put back the parameters of the best epoch when training ends.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 10,
        restore_best: bool = True,
    ):
        self.monitor = monitor
        self.patience = patience
        self.restore_best = restore_best

    def on_train_begin(self, network):
        self.network = network
        self.sign = -1.0 if self.monitor.endswith("accuracy") else 1.0
        self.best = np.inf
        self.best_epoch = 0
        self.best_params = None

    def on_epoch_end(self, epoch, logs):
        if self.monitor not in logs:
            raise ValueError(
                f"EarlyStopping monitors {self.monitor!r}, which the epoch "
                f"logs lack (they have {sorted(logs)}); give validation data "
                f"or monitor 'loss'"
            )
        value = self.sign * logs[self.monitor]
        if value < self.best:
            self.best, self.best_epoch = value, epoch
            self.best_params = [p.copy() for p in self.network.parameters()]
        elif epoch - self.best_epoch >= self.patience:
            self.network.stop_training = True

    def on_train_end(self, history):
        if self.restore_best and self.best_params is not None:
            for p, best in zip(self.network.parameters(), self.best_params):
                np.copyto(p, best)


def check_callbacks(callbacks) -> list[Callback]:
    """Callbacks as Callback objects, refusing anything else up front.

    Each entry is a Callback or a function f(epoch, logs), which is
    wrapped as an on_epoch_end hook; None means no callbacks.
    """
    if callbacks is None:
        return []
    expected = "Callback objects or functions f(epoch, logs)"
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(
            f"callbacks must be a list of {expected}, got "
            f"{callbacks!r:.60}; wrap a single one as [callback]"
        )
    checked = []
    for i, callback in enumerate(callbacks):
        if isinstance(callback, Callback):
            checked.append(callback)
        elif callable(callback):
            checked.append(_FunctionCallback(callback))
        else:
            raise TypeError(
                f"callbacks[{i}] must be a Callback or a function "
                f"f(epoch, logs), got {callback!r:.60}"
            )
    return checked


@dataclass
class TrainingState:
    """Where a fit run stands: what a checkpoint saves and a resume restores.

    Attributes
    ----------
    rng : numpy.random.Generator
        The run's one generator; after epoch k it holds the state that
        draws epoch k + 1's order.
    arguments : dict
        The fit arguments that decide the run (seed, batch size, ...).
    x, targets : ndarray
        The prepared training arrays (scaled, encoded, in the network's
        dtype), so a resumed run can prove it sees the same data.
    epoch : int
        The last finished epoch, 0 before the first.
    history : History
        Every finished epoch's metrics, earlier runs' included.
    """

    rng: np.random.Generator
    arguments: dict
    x: np.ndarray
    targets: np.ndarray
    epoch: int = 0
    history: History = field(default_factory=History)
    _digest: str | None = field(default=None, repr=False)

    def data_digest(self) -> str:
        """SHA-256 of the prepared training arrays, as hex.

        Worked out once per run: the data cannot change during it. Mapped
        rows are hashed block by block, to the same digest as in memory.
        """
        if self._digest is None:
            digest = hashlib.sha256()
            for array in (self.x, self.targets):
                digest.update(str((array.shape, array.dtype.str)).encode())
                if isinstance(array, MappedRows):
                    for block in array.prepared_blocks():
                        digest.update(block.data)
                else:
                    digest.update(np.ascontiguousarray(array).data)
            self._digest = digest.hexdigest()
        return self._digest


class _EpochSnapshot:
    """Parameters, optimizer state and generator state as an epoch ended.

    A diverged or interrupted run goes back to this, so the network, the
    optimizer and the generator agree with the recorded history and a run
    resumed from a checkpoint repeats exactly what would have followed.
    """

    def __init__(self, network, rng: np.random.Generator):
        self.network, self.rng = network, rng
        self.params = [p.copy() for p in network.parameters()]
        self.take()

    def take(self) -> None:
        for saved, p in zip(self.params, self.network.parameters()):
            np.copyto(saved, p)
        optimizer = self.network.optimizer
        self.t = optimizer.t
        self.optimizer_arrays = {
            k: v.copy() for k, v in optimizer.state().items()
        }
        self.rng_state = self.rng.bit_generator.state

    def restore(self) -> None:
        for p, saved in zip(self.network.parameters(), self.params):
            np.copyto(p, saved)
        self.network.optimizer.load_state(self.t, self.optimizer_arrays)
        self.rng.bit_generator.state = self.rng_state


def run_training(
    network,
    x: np.ndarray,
    targets: np.ndarray,
    labels: np.ndarray | None,
    epochs: int,
    batch_size: int,
    shuffle: bool,
    rng: np.random.Generator,
    validation: tuple | None = None,
    verbose: int = 0,
    callbacks=None,
    state: TrainingState | None = None,
) -> History:
    """Train `network` in place on prepared arrays and return its History.

    `x` and `targets` are already scaled, encoded and of the network's
    dtype; `labels` holds the integer class of each row for classification
    (None for regression) so training accuracy costs no decoding. A `state`
    restored from a checkpoint starts the run after its epoch.
    """
    callbacks = check_callbacks(callbacks)
    if state is None:
        state = TrainingState(rng, {}, x, targets)
    history = state.history
    params = network.parameters()
    last_good = _EpochSnapshot(network, rng)

    network.stop_training = False
    network.training_state = state
    for callback in callbacks:
        callback.on_train_begin(network)

    try:
        for epoch in range(state.epoch + 1, epochs + 1):
            started = time.perf_counter()
            order = None
            if shuffle and batch_size < x.shape[0]:
                order = rng.permutation(x.shape[0])

            # A diverging run overflows before its loss is checked; the
            # checks turn that into one clear error, so NumPy's warnings
            # would only be noise.
            with np.errstate(over="ignore", invalid="ignore"):
                logs = _one_epoch(network, x, targets, labels, batch_size, order)
                if not math.isfinite(logs["loss"]) or not _all_finite(params):
                    last_good.restore()
                    raise _diverged(network, epoch, logs["loss"])
                last_good.take()
                if validation is not None:
                    scores = network.evaluate_prepared(*validation, "val_")
                    logs.update(scores)
            logs["seconds"] = time.perf_counter() - started
            history.append(epoch, logs)
            state.epoch = epoch

            if verbose:
                logger.info("epoch %d/%d  %s", epoch, epochs, _format(logs))
            for callback in callbacks:
                callback.on_epoch_end(epoch, logs)
            if network.stop_training:
                break
    except KeyboardInterrupt:
        # Keep what the last finished epoch learned; a half-done epoch is
        # thrown away so the parameters match the recorded history.
        last_good.restore()
        history.interrupted = True
        warnings.warn(
            f"training interrupted after {state.epoch} finished epoch(s); "
            f"the network keeps the parameters of the last one",
            TrainingInterruptedWarning,
            stacklevel=3,
        )

    for callback in callbacks:
        callback.on_train_end(history)
    network.training_state = None
    return history


def _one_epoch(network, x, targets, labels, batch_size, order) -> dict:
    """One pass over the data, one optimizer step per mini-batch.

    Stops at the first batch whose loss is not finite and reports that
    loss, so the caller can name the epoch.
    """
    n_samples = x.shape[0]
    sums_loss = network.loss.name == "sse"
    total_loss, correct = 0.0, 0
    mapped = isinstance(x, MappedRows)
    if order is not None or mapped:
        # Batches are gathered into two arrays made once per epoch;
        # mode="clip" skips a bounds pass and a buffered copy.
        x_buffer = np.empty((batch_size, x.shape[1]), x.dtype)
        t_buffer = np.empty((batch_size, targets.shape[1]), targets.dtype)
    for start in range(0, n_samples, batch_size):
        rows = slice(start, start + batch_size)
        if order is not None:
            rows = order[rows]
        if order is None and not mapped:
            xb, tb = x[rows], targets[rows]  # views, no copy
        else:
            n = min(batch_size, n_samples - start)
            if mapped:
                xb = x.take(rows, out=x_buffer[:n])
            else:
                xb = np.take(x, rows, axis=0, out=x_buffer[:n], mode="clip")
            if order is None:
                tb = targets[rows]
            else:
                tb = np.take(targets, rows, axis=0, out=t_buffer[:n], mode="clip")

        loss = network.train_step(xb, tb)
        if not math.isfinite(loss):
            return {"loss": loss}
        total_loss += loss if sums_loss else loss * xb.shape[0]
        if labels is not None:
            predicted = network.output_classes()
            correct += int(np.sum(predicted == labels[rows]))

    # The tutorial's SSE is a sum, so its epoch loss is one too.
    logs = {"loss": total_loss if sums_loss else total_loss / n_samples}
    if labels is not None:
        logs["accuracy"] = correct / n_samples
    return logs


def _all_finite(arrays: list) -> bool:
    return all(np.isfinite(a).all() for a in arrays)


def _diverged(network, epoch: int, loss: float) -> TrainingDivergedError:
    lr = network.optimizer.lr
    # No epoch finished before the first, so nothing was kept from one.
    if epoch == 1:
        kept = "keeps its initial parameters"
    else:
        kept = f"keeps the parameters from the end of epoch {epoch - 1}"
    return TrainingDivergedError(
        f"training diverged at epoch {epoch} (loss = {loss}); the network "
        f"{kept}. Try a smaller learning rate (lr is {lr:g}) or "
        f"standardised inputs"
    )


def _format(logs: dict) -> str:
    parts = []
    for key, value in logs.items():
        if key == "seconds":
            parts.append(f"{value:.1f}s")
        else:
            parts.append(f"{key} {value:.4f}")
    return "  ".join(parts)
