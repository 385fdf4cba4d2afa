"""Checkpoints: a run stopped anywhere and resumed ends as if never stopped."""
import warnings

import numpy as np
import pytest

from scratchnn import Callback, Dense, ModelFileError, Network, SGD
from scratchnn.checkpoint import Checkpoint, load_checkpoint
from scratchnn.data import load_digits

EPOCHS = 6


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X[:600], y[:600]


def make_net(optimizer="adam"):
    return Network(
        [Dense(16, "relu"), Dense(10, "softmax")],
        loss="categorical_crossentropy",
        optimizer=optimizer,
        standardize=True,
    )


class StopAt(Callback):
    """Ctrl-C at the end of one epoch."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def fit_interrupted(net, X, y, path, stop, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return net.fit(X, y, epochs=EPOCHS, seed=0, **kwargs,
                       callbacks=[Checkpoint(path), StopAt(stop)])


def assert_same_run(a: Network, b: Network):
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(p, q)
    assert a.history["loss"] == b.history["loss"]


@pytest.mark.parametrize(
    "optimizer",
    ["adam", SGD(lr=0.05, momentum=0.9, nesterov=True), SGD(lr=0.05)],
    ids=["adam", "nesterov", "sgd"],
)
@pytest.mark.parametrize("stop", [1, 3])
def test_resumed_run_is_bit_identical(digits, tmp_path, optimizer, stop):
    X, y = digits
    reference = make_net(optimizer)
    reference.fit(X, y, epochs=EPOCHS, seed=0, validation_fraction=0.2)

    path = tmp_path / "run.ckpt"
    fit_interrupted(make_net(optimizer), X, y, path, stop,
                    validation_fraction=0.2)
    assert load_checkpoint(path).checkpoint["training"]["epoch"] == stop

    resumed = make_net(optimizer)
    history = resumed.fit(X, y, epochs=EPOCHS, seed=0,
                          validation_fraction=0.2, resume=path)
    assert len(history) == EPOCHS
    assert_same_run(resumed, reference)
    assert history["val_loss"] == reference.history["val_loss"]


def test_interrupt_mid_epoch_checkpoints_the_last_finished_epoch(
    digits, tmp_path
):
    X, y = digits
    reference = make_net()
    reference.fit(X, y, epochs=EPOCHS, seed=0)

    # Ctrl-C on the 40th step, in epoch 3 (19 steps an epoch): the half
    # epoch's updates, optimizer moments and shuffling draw are undone.
    original = Network.train_step
    calls = {"n": 0}

    def step(self, x, targets):
        calls["n"] += 1
        if calls["n"] == 40:
            raise KeyboardInterrupt
        return original(self, x, targets)

    path = tmp_path / "run.ckpt"
    net = make_net()
    Network.train_step = step
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net.fit(X, y, epochs=EPOCHS, seed=0, callbacks=[Checkpoint(path)])
    finally:
        Network.train_step = original
    assert load_checkpoint(path).checkpoint["training"]["epoch"] == 2

    resumed = make_net()
    resumed.fit(X, y, epochs=EPOCHS, seed=0, resume=path)
    assert_same_run(resumed, reference)


def test_checkpoint_every_n_epochs(digits, tmp_path):
    X, y = digits
    saved = []

    class Watch(Callback):
        def on_epoch_end(self, epoch, logs):
            if path.exists():
                training = load_checkpoint(path).checkpoint["training"]
                saved.append(training["epoch"])

    path = tmp_path / "run.ckpt"
    make_net().fit(X, y, epochs=5, seed=0,
                   callbacks=[Checkpoint(path, every=2), Watch()])
    # Seen at the ends of epochs 2 to 5 (none exists after epoch 1): saved
    # after epochs 2 and 4, then once more as the run ended.
    assert saved == [2, 2, 4, 4]
    assert load_checkpoint(path).checkpoint["training"]["epoch"] == 5


def test_resume_may_add_epochs(digits, tmp_path):
    X, y = digits
    path = tmp_path / "run.ckpt"
    make_net().fit(X, y, epochs=3, seed=0, callbacks=[Checkpoint(path)])
    longer = make_net()
    history = longer.fit(X, y, epochs=5, seed=0, resume=path)
    assert history.epochs == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "change, words",
    [
        ({"seed": 1}, "seed=0 there, 1 here"),
        ({"batch_size": 16}, "batch_size=32 there, 16 here"),
        ({"data": "other"}, "other training data"),
        ({"net": "wider"}, "another network"),
    ],
)
def test_resume_refuses_another_run(digits, tmp_path, change, words):
    X, y = digits
    path = tmp_path / "run.ckpt"
    make_net().fit(X, y, epochs=2, seed=0, callbacks=[Checkpoint(path)])

    kwargs = {"seed": 0}
    net = make_net()
    if "seed" in change:
        kwargs["seed"] = change["seed"]
    if "batch_size" in change:
        kwargs["batch_size"] = change["batch_size"]
    if "data" in change:
        # A shift of every row would vanish in the standardisation; one
        # changed pixel does not.
        X = X.copy()
        X[0, 20] += 3.0
    if "net" in change:
        net = Network([Dense(17, "relu"), Dense(10, "softmax")],
                      loss="categorical_crossentropy", optimizer="adam",
                      standardize=True)
    with pytest.raises(ValueError, match=words):
        net.fit(X, y, epochs=4, resume=path, **kwargs)


def test_checkpoint_needs_an_int_seed(digits, tmp_path):
    X, y = digits
    with pytest.raises(ValueError, match="needs fit\\(seed=...\\)"):
        make_net().fit(X, y, epochs=1, callbacks=[Checkpoint(tmp_path / "c")])


def test_a_model_file_is_not_a_checkpoint(digits, tmp_path):
    X, y = digits
    net = make_net()
    net.fit(X, y, epochs=1, seed=0)
    net.save(tmp_path / "model.npz")
    with pytest.raises(ModelFileError, match="not a checkpoint"):
        make_net().fit(X, y, epochs=2, seed=0, resume=tmp_path / "model.npz")


def test_checkpoint_with_tampered_optimizer_state_is_refused(digits, tmp_path):
    import zipfile

    X, y = digits
    path = tmp_path / "run.ckpt"
    make_net().fit(X, y, epochs=1, seed=0, callbacks=[Checkpoint(path)])
    # Drop Adam's first moment of layer 0 from the archive.
    damaged = tmp_path / "damaged.ckpt"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(damaged, "w") as out:
        for item in source.infolist():
            if item.filename != "optimizer.m0.npy":
                out.writestr(item, source.read(item))
    with pytest.raises(ModelFileError, match="optimizer.m0"):
        load_checkpoint(damaged)


def test_resume_refuses_fewer_epochs_than_saved(digits, tmp_path):
    X, y = digits
    path = tmp_path / "run.ckpt"
    make_net().fit(X, y, epochs=3, seed=0, callbacks=[Checkpoint(path)])
    with pytest.raises(ValueError, match="at epoch 3, past epochs=2"):
        make_net().fit(X, y, epochs=2, seed=0, resume=path)


def test_resume_refuses_relabelled_targets(digits, tmp_path):
    # Labels 0..9 and 0, 10, ..., 90 encode to the same codes, so only the
    # class check can tell the runs apart.
    X, y = digits
    path = tmp_path / "run.ckpt"
    make_net().fit(X, y, epochs=1, seed=0, callbacks=[Checkpoint(path)])
    with pytest.raises(ValueError, match="other class labels"):
        make_net().fit(X, y * 10, epochs=2, seed=0, resume=path)


def test_another_network_message_names_what_differs(digits, tmp_path):
    X, y = digits
    path = tmp_path / "run.ckpt"
    make_net().fit(X, y, epochs=1, seed=0, callbacks=[Checkpoint(path)])
    other = Network([Dense(16, "relu"), Dense(10, "softmax")],
                    loss="categorical_crossentropy", optimizer="sgd",
                    standardize=True)
    with pytest.raises(ValueError, match="another network") as error:
        other.fit(X, y, epochs=2, seed=0, resume=path)
    assert "optimizer" in str(error.value)
    assert "layers" not in str(error.value)
