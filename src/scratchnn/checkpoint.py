"""Checkpoints: all a training run needs to go on exactly where it stopped.

A checkpoint is a model file with two additions: a "training" section in
its header (the last finished epoch, the generator's state, the optimizer's
step count, the fit arguments and a digest of the prepared training data)
and the optimizer's arrays (Adam's moments, SGD's velocity). Calling the
same `fit` again with `resume=PATH` then continues bit for bit as if the
run had never stopped, even after the process was killed.
"""
import logging

import numpy as np

from .errors import ModelFileError
from .persistence import load_model, save_model
from .training import Callback, History, TrainingState

logger = logging.getLogger(__name__)


class Checkpoint(Callback):
    """Save the run to `path` every `every` epochs, and when it ends.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file, replaced atomically at each save.
    every : int, default=1
        Epochs between saves. The run's last finished epoch is saved too,
        also when Ctrl-C stops it.
    extra : dict or None, default=None
        JSON-ready notes kept in the file, as for `Network.save`.

    Notes
    -----
    Needs `fit(seed=...)` with an int seed: resuming repeats the seeded
    set-up (weights drawn, validation rows held out) before putting back the
    saved state, and only a seed makes that set-up the same again.
    """

    def __init__(self, path, every: int = 1, extra: dict | None = None):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be an int >= 1, got {every!r}")
        self.path = path
        self.every = every
        self.extra = extra

    def on_train_begin(self, network):
        self.network = network
        state = network.training_state
        if state.arguments.get("seed") is None:
            raise ValueError(
                "a Checkpoint needs fit(seed=...) with an int seed, so a "
                "resumed run can repeat the same set-up"
            )
        self.saved_epoch = state.epoch

    def on_epoch_end(self, epoch, logs):
        if epoch % self.every == 0:
            self.save()

    def on_train_end(self, history):
        if self.network.training_state.epoch != self.saved_epoch:
            self.save()

    def save(self) -> None:
        state = self.network.training_state
        save_checkpoint(self.network, self.path, state, self.extra)
        self.saved_epoch = state.epoch
        logger.debug("checkpoint at epoch %d: %s", state.epoch, self.path)


def save_checkpoint(network, path, state: TrainingState, extra=None) -> None:
    """Write the network and the state of its run to one file, atomically."""
    optimizer = network.optimizer
    training = {
        "epoch": state.epoch,
        "optimizer_t": optimizer.t,
        "rng_state": state.rng.bit_generator.state,
        "arguments": state.arguments,
        "data_sha256": state.data_digest(),
    }
    # The network's own history is set when fit returns; mid-run the run's
    # record is the state's.
    kept, network.history = network.history, state.history
    try:
        save_model(network, path, extra, training=(training, optimizer.state()))
    finally:
        network.history = kept


def load_checkpoint(path):
    """Read a checkpoint; the network's `checkpoint` holds the run's state.

    Raises
    ------
    ModelFileError
        If the file is damaged or foreign (as `load_model` refuses it), or
        is a plain model file without a run's state.
    """
    network = load_model(path)
    if network.checkpoint is None:
        raise ModelFileError(
            f"{path!r} is a model file, not a checkpoint: it holds no "
            f"training state to resume; pass a file written by --checkpoint "
            f"or Checkpoint(...)"
        )
    return network


def restore(network, saved, state: TrainingState) -> None:
    """Put a checkpoint's run state into `network` and `state`, or refuse.

    `state` describes the run being started now; it must be the same run:
    the same network, fit arguments and prepared data.
    """
    training = saved.checkpoint["training"]
    theirs, ours = saved.config(), network.config()
    if theirs != ours:
        changed = ", ".join(
            f"{key} {theirs[key]!r:.80} there, {ours[key]!r:.80} here"
            for key in ours
            if theirs.get(key) != ours[key]
        )
        raise ValueError(
            f"the checkpoint was made for another network ({changed}); "
            f"resume with the network it was made for"
        )
    if saved.encoder is not None and network.encoder is not None:
        if not np.array_equal(saved.encoder.classes_,
                              network.encoder.classes_):
            raise ValueError(
                "the checkpoint was made with other class labels; resume "
                "with the same y"
            )
    if training["epoch"] > state.arguments["epochs"]:
        raise ValueError(
            f"the checkpoint is at epoch {training['epoch']}, past "
            f"epochs={state.arguments['epochs']}; ask for at least "
            f"{training['epoch']} epochs"
        )
    # Only the number of epochs may grow: the rest decides what each
    # epoch does.
    ours = {k: v for k, v in state.arguments.items() if k != "epochs"}
    theirs = {k: v for k, v in training["arguments"].items() if k != "epochs"}
    if ours != theirs:
        changed = sorted(k for k in ours.keys() | theirs.keys()
                         if ours.get(k) != theirs.get(k))
        details = ", ".join(
            f"{k}={theirs.get(k)!r} there, {ours.get(k)!r} here"
            for k in changed
        )
        raise ValueError(
            f"the checkpoint was made with other fit arguments ({details}); "
            f"resume with the same ones"
        )
    if training["data_sha256"] != state.data_digest():
        raise ValueError(
            "the checkpoint was made on other training data (its digest "
            "differs); resume with the same X, y and seed"
        )

    for mine, theirs in zip(network.parameters(), saved.parameters()):
        mine[...] = theirs
    network.optimizer.load_state(training["optimizer_t"],
                                 saved.checkpoint["optimizer"])
    state.rng.bit_generator.state = training["rng_state"]
    state.epoch = training["epoch"]
    state.history = saved.history or History()
