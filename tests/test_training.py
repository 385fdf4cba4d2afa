"""Tests for the fit loop: History, callbacks, determinism, divergence."""
import ast
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import scratchnn
from conftest import load_case, numerical_gradient, relative_error
from scratchnn import (
    Adam,
    Callback,
    DataError,
    Dense,
    EarlyStopping,
    History,
    Network,
    SGD,
    TrainingDivergedError,
    TrainingInterruptedWarning,
)

SOURCE_DIR = Path(scratchnn.__file__).resolve().parent


def _regression_data(rng, n=40):
    X = rng.normal(size=(n, 2))
    y = X @ np.array([2.0, -1.0]) + 0.5
    return X, y


class _ParamsPerEpoch(Callback):
    """Copies the parameters at the end of every epoch."""

    def on_train_begin(self, network):
        self.network = network
        self.initial = [p.copy() for p in network.parameters()]
        self.per_epoch = {}

    def on_epoch_end(self, epoch, logs):
        self.per_epoch[epoch] = [p.copy() for p in self.network.parameters()]


def _assert_params_equal(actual, expected):
    assert len(actual) == len(expected)
    for a, b in zip(actual, expected, strict=True):
        assert np.array_equal(a, b)


# ----------------------------------------------------------------------
# History and callbacks
# ----------------------------------------------------------------------
def test_history_records_every_epoch(rng):
    X, y = _regression_data(rng)
    net = Network([Dense(3, "tanh"), Dense(1)], lr=0.05, dtype="float64")
    history = net.fit(X, y, epochs=7, batch_size=8, seed=0)

    assert isinstance(history, History)
    assert len(history) == 7
    assert history.epochs == list(range(1, 8))
    assert len(history["loss"]) == 7
    assert "loss" in history
    assert "val_loss" not in history
    assert net.history is history
    assert history.to_dict()["epochs"] == history.epochs


def test_history_loss_is_the_sample_weighted_mean_of_batch_losses(rng):
    # 10 samples in batches of 4, 4 and 2: the epoch loss weights each
    # batch's mean loss by its size.
    X, y = _regression_data(rng, n=10)
    net = Network([Dense(1)], loss="mse", lr=0.01, dtype="float64")
    net.build(2, seed=0)
    W, b = (p.copy() for p in net.parameters())

    expected = 0.0
    for rows in (slice(0, 4), slice(4, 8), slice(8, 10)):
        residual = X[rows] @ W + b - y[rows, None]
        n = residual.shape[0]
        expected += np.mean(residual**2) * n
        W -= 0.01 * 2.0 / n * X[rows].T @ residual
        b -= 0.01 * 2.0 / n * residual.sum(axis=0)

    history = net.fit(
        X, y, epochs=1, batch_size=4, shuffle=False, warm_start=True
    )
    assert history["loss"][0] == pytest.approx(expected / 10, rel=1e-12)
    np.testing.assert_allclose(net.parameters()[0], W, rtol=1e-12)
    np.testing.assert_allclose(net.parameters()[1], b, rtol=1e-12)


def test_validation_fraction_adds_validation_metrics(rng):
    X = rng.normal(size=(40, 2))
    y = np.where(X[:, 0] > 0, "up", "down")
    net = Network(
        [Dense(4, "tanh"), Dense(1, "sigmoid")], loss="binary_crossentropy"
    )
    history = net.fit(
        X, y, epochs=5, batch_size=8, seed=0, validation_fraction=0.25
    )

    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert len(history[key]) == 5
    assert all(0.0 <= a <= 1.0 for a in history["val_accuracy"])
    assert all(np.isfinite(history["val_loss"]))


def test_c31_validation_fraction_that_holds_out_nothing_is_refused():
    case = load_case("C31")
    net = Network([Dense(1)], loss="mse")
    with pytest.raises(DataError) as info:
        net.fit(case.X_TWO, case.Y_TWO,
                validation_fraction=case.VALIDATION_FRACTION)
    assert str(info.value) == (
        "validation_fraction=0.1 of 2 samples gives 0 validation samples; "
        "use more data or validation_fraction=0"
    )
    assert not net.is_built


def test_c31_stratified_split_speaks_of_the_users_classes():
    case = load_case("C31")
    net = Network([Dense(2, "softmax")], loss="categorical_crossentropy")
    with pytest.raises(DataError) as info:
        net.fit(case.X_CLS, case.Y_CLS,
                validation_fraction=case.VALIDATION_FRACTION_CLS)
    message = str(info.value)
    assert "class 'b' has only 1 sample" in message
    # Not the internal code of 'b', nor arguments fit does not take.
    assert "class 1" not in message
    assert "stratify" not in message and "test_size" not in message

    X = np.arange(10.0).reshape(-1, 1)
    y = np.array(["a", "b"] * 5)
    with pytest.raises(DataError) as info:
        net.fit(X, y, validation_fraction=0.99)
    message = str(info.value)
    assert message.startswith(
        "validation_fraction=0.99 of 10 samples gives 1 training and 9 "
        "validation samples, too few to hold all 2 classes in each part; "
        "use a smaller validation_fraction"
    )
    assert "test_size" not in message


def test_validation_fraction_rounds_down_to_whole_samples(rng):
    # 0.29 * 100 is 28.999999999999996 in floating point, yet 29 rows are
    # held out; the batch_size error shows how many are left to train on.
    X = rng.normal(size=(100, 2))
    y = X[:, 0]
    net = Network([Dense(1)], loss="mse")
    with pytest.raises(ValueError, match="larger than the 71 training"):
        net.fit(X, y, validation_fraction=0.29, batch_size=72)
    with pytest.raises(ValueError, match="larger than the 5 training"):
        net.fit(X[:7], y[:7], validation_fraction=0.29, batch_size=6)


def test_validation_data_and_fraction_together_are_refused(rng):
    X, y = _regression_data(rng)
    net = Network([Dense(1)], loss="mse")
    with pytest.raises(ValueError, match="validation_data or validation_fr"):
        net.fit(X, y, validation_data=(X, y), validation_fraction=0.2)


def test_validation_data_is_scored_with_the_final_parameters(rng):
    X, y = _regression_data(rng)
    X_val, y_val = _regression_data(rng, n=10)
    net = Network([Dense(1)], loss="mse", lr=0.05, dtype="float64")
    history = net.fit(
        X, y, epochs=4, batch_size=10, seed=0, validation_data=(X_val, y_val)
    )

    residual = net.predict(X_val).ravel() - y_val
    assert history["val_loss"][-1] == pytest.approx(
        np.mean(residual**2), rel=1e-12
    )
    assert "val_r2" in history


def test_function_callbacks_receive_epoch_and_logs(rng):
    X, y = _regression_data(rng)
    seen = []
    net = Network([Dense(1)], lr=0.05)
    net.fit(X, y, epochs=3, batch_size=10, seed=0,
            callbacks=[lambda epoch, logs: seen.append((epoch, logs["loss"]))])

    assert [epoch for epoch, _ in seen] == [1, 2, 3]
    assert [loss for _, loss in seen] == net.history["loss"]


def test_early_stopping_stops_and_restores_the_best_epoch(rng):
    # Training fits y = x; the validation set is y = -x, so the validation
    # loss gets worse as the training loss improves.
    X = rng.normal(size=(30, 1))
    X_val = rng.normal(size=(10, 1))
    net = Network([Dense(1)], loss="mse", lr=0.05, dtype="float64")
    snapshots = _ParamsPerEpoch()
    stopper = EarlyStopping(monitor="val_loss", patience=3)

    history = net.fit(
        X, X.ravel(), epochs=100, batch_size=10, seed=0,
        validation_data=(X_val, -X_val.ravel()),
        callbacks=[snapshots, stopper],
    )

    val_loss = history["val_loss"]
    best_epoch = int(np.argmin(val_loss)) + 1
    assert len(history) == best_epoch + 3
    assert len(history) < 100
    assert stopper.best_epoch == best_epoch
    _assert_params_equal(net.parameters(), snapshots.per_epoch[best_epoch])
    last = snapshots.per_epoch[len(history)]
    assert not np.array_equal(net.parameters()[0], last[0])


def test_early_stopping_on_training_loss_without_restore(rng):
    X, y = _regression_data(rng)
    net = Network([Dense(1)], loss="mse", lr=0.05, dtype="float64")
    snapshots = _ParamsPerEpoch()
    stopper = EarlyStopping(monitor="loss", patience=2, restore_best=False)
    history = net.fit(X, y, epochs=5, batch_size=10, seed=0,
                      callbacks=[snapshots, stopper])

    # The loss improves every epoch here: no early stop, nothing restored.
    assert len(history) == 5
    _assert_params_equal(net.parameters(), snapshots.per_epoch[5])


def test_early_stopping_needs_the_monitored_metric(rng):
    X, y = _regression_data(rng)
    with pytest.raises(ValueError, match="monitors 'val_loss'.*'loss'"):
        Network([Dense(1)]).fit(X, y, epochs=2, callbacks=[EarlyStopping()])


def test_keyboard_interrupt_in_a_callback_keeps_the_last_finished_epoch(rng):
    X, y = _regression_data(rng)
    snapshots = _ParamsPerEpoch()

    def interrupt(epoch, logs):
        if epoch == 3:
            raise KeyboardInterrupt

    net = Network([Dense(2, "tanh"), Dense(1)], lr=0.05, dtype="float64")
    with pytest.warns(TrainingInterruptedWarning, match="interrupted after"):
        history = net.fit(X, y, epochs=10, batch_size=8, seed=0,
                          callbacks=[snapshots, interrupt])

    assert history.interrupted
    assert len(history) in (2, 3)
    assert len(history["loss"]) == len(history)
    _assert_params_equal(net.parameters(), snapshots.per_epoch[len(history)])
    assert net.predict(X).shape == (40, 1)


def test_keyboard_interrupt_mid_epoch_discards_the_partial_epoch(rng):
    X, y = _regression_data(rng)
    snapshots = _ParamsPerEpoch()
    net = Network([Dense(1)], lr=0.05, dtype="float64")
    steps = []
    original_step = net.train_step

    def train_step(x, targets):
        # Five batches per epoch; stop in the middle of epoch 3.
        steps.append(1)
        if len(steps) == 13:
            raise KeyboardInterrupt
        return original_step(x, targets)

    net.train_step = train_step
    with pytest.warns(TrainingInterruptedWarning):
        history = net.fit(X, y, epochs=10, batch_size=8, seed=0,
                          callbacks=[snapshots])

    assert history.interrupted
    assert len(history) == 2
    _assert_params_equal(net.parameters(), snapshots.per_epoch[2])


def test_warm_start_continues_and_extends_history(rng):
    X, y = _regression_data(rng)
    net = Network([Dense(1)], lr=0.05, dtype="float64")
    net.fit(X, y, epochs=3, batch_size=10, seed=0)
    after_first = [p.copy() for p in net.parameters()]

    snapshots = _ParamsPerEpoch()
    net.fit(X, y, epochs=2, batch_size=10, seed=1, warm_start=True,
            callbacks=[snapshots])

    _assert_params_equal(snapshots.initial, after_first)
    assert len(net.history) == 5
    assert net.history.epochs == [1, 2, 3, 4, 5]


# ----------------------------------------------------------------------
# C24: determinism
# ----------------------------------------------------------------------
def _c24_run(net, case, seed):
    snapshots = _ParamsPerEpoch()
    history = net.fit(
        case.X, case.Y, epochs=15, batch_size=8, seed=seed,
        validation_fraction=0.2, callbacks=[snapshots],
    )
    return {
        "initial": snapshots.initial,
        "final": [p.copy() for p in net.parameters()],
        "loss": list(history["loss"]),
        "val_loss": list(history["val_loss"]),
        "predictions": net.predict(case.X),
        "proba": net.predict_proba(case.X),
    }


def _c24_net():
    return Network(
        [Dense(5, "tanh"), Dense(1, "sigmoid")],
        loss="binary_crossentropy",
        optimizer=Adam(lr=0.05),
    )


def test_c24_same_seed_same_result():
    case = load_case("C24")

    net_a = _c24_net()
    run_a = _c24_run(net_a, case, seed=0)
    np.random.seed(case.GLOBAL_SEED_NOISE)
    np.random.random(case.GLOBAL_DRAWS)
    run_b = _c24_run(_c24_net(), case, seed=0)
    run_c = _c24_run(net_a, case, seed=0)
    run_d = _c24_run(_c24_net(), case, seed=1)

    for other in (run_b, run_c):
        _assert_params_equal(other["initial"], run_a["initial"])
        _assert_params_equal(other["final"], run_a["final"])
        assert other["loss"] == run_a["loss"]
        assert other["val_loss"] == run_a["val_loss"]
        assert np.array_equal(other["predictions"], run_a["predictions"])
        assert np.array_equal(other["proba"], run_a["proba"])
    assert not np.array_equal(run_d["initial"][0], run_a["initial"][0])
    assert run_d["loss"] != run_a["loss"]


def test_c24_fit_leaves_the_global_generator_alone():
    case = load_case("C24")
    np.random.seed(7)
    state = np.random.get_state()

    _c24_run(_c24_net(), case, seed=0)
    _c24_run(_c24_net(), case, seed=None)

    after = np.random.get_state()
    assert after[0] == state[0]
    assert np.array_equal(after[1], state[1])
    assert after[2:] == state[2:]


# Calls on numpy.random that create a private generator; anything else
# under numpy.random reads or reseeds the global one.
_PRIVATE_RNG = {"default_rng", "Generator", "SeedSequence", "PCG64"}


def _global_rng_uses(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            inner = node.value
            if (
                isinstance(inner, ast.Attribute)
                and inner.attr == "random"
                and isinstance(inner.value, ast.Name)
                and inner.value.id in ("np", "numpy")
                and node.attr not in _PRIVATE_RNG
            ):
                yield node.lineno, f"np.random.{node.attr}"
        elif isinstance(node, ast.ImportFrom):
            names = {alias.name for alias in node.names}
            unsafe = ", ".join(sorted(names - _PRIVATE_RNG))
            if node.module == "numpy.random" and unsafe:
                yield node.lineno, f"from numpy.random import {unsafe}"
            if node.module == "numpy" and "random" in names:
                yield node.lineno, "from numpy import random"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "random":
                    yield node.lineno, "import random"


def test_c24_library_never_touches_the_global_rng():
    # The code is parsed, so a docstring that mentions np.random.rand
    # (as initializers.py does) is not a use.
    sources = sorted(SOURCE_DIR.rglob("*.py"))
    assert len(sources) >= 9

    uses = []
    for path in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, what in _global_rng_uses(tree):
            uses.append(f"{path.name}:{line}: {what}")
    assert uses == []


def test_global_rng_detector_flags_what_it_should():
    code = (
        "import numpy as np\n"
        "np.random.seed(0)\n"
        "x = np.random.rand(3)\n"
        "rng = np.random.default_rng(0)\n"
        "from numpy.random import shuffle\n"
    )
    found = sorted(_global_rng_uses(ast.parse(code)))
    assert found == [
        (2, "np.random.seed"),
        (3, "np.random.rand"),
        (5, "from numpy.random import shuffle"),
    ]


# ----------------------------------------------------------------------
# C26: a learning rate far too high
# ----------------------------------------------------------------------
def _reference_divergence_epoch(X, y, params, lr, epochs, hidden):
    """First epoch with a non-finite loss under plain full-batch SGD on MSE.

    The loss is taken before that epoch's step, as the fit loop does.
    `params` is [W, b] for the linear model or [W1, b1, W2, b2] with a
    tanh hidden layer.
    """
    params = [p.astype(np.float64) for p in params]
    y = y.reshape(-1, 1)
    n = X.shape[0]
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(1, epochs + 1):
            if hidden:
                W1, b1, W2, b2 = params
                h = np.tanh(X @ W1 + b1)
                residual = h @ W2 + b2 - y
            else:
                W, b = params
                residual = X @ W + b - y
            loss = np.mean(residual**2)
            if not np.isfinite(loss):
                return epoch

            d_out = 2.0 * residual / n  # dL/d(output), (n, 1)
            if hidden:
                d_hidden = (d_out @ W2.T) * (1.0 - h**2)
                grads = [
                    X.T @ d_hidden, d_hidden.sum(axis=0),
                    h.T @ d_out, d_out.sum(axis=0),
                ]
            else:
                grads = [X.T @ d_out, d_out.sum(axis=0)]
            params = [p - lr * g for p, g in zip(params, grads, strict=True)]
    return None


def _c26_net(hidden, lr=10.0, standardize=False):
    layers = [Dense(4, "tanh"), Dense(1)] if hidden else [Dense(1)]
    return Network(
        layers, loss="mse", optimizer=SGD(lr=lr), dtype="float64",
        standardize=standardize,
    )


def _diverged_epoch(error):
    match = re.search(r"diverged at epoch (\d+)", str(error.value))
    assert match, str(error.value)
    return int(match.group(1))


@pytest.mark.parametrize(
    "hidden, about", [(False, 54), (True, 77)], ids=["linear", "1-4-1_tanh"]
)
def test_c26_divergence_is_reported_at_the_right_epoch(hidden, about):
    case = load_case("C26")
    initial = _c26_net(hidden).build(1, seed=0).parameters()
    expected = _reference_divergence_epoch(
        case.X, case.Y, initial, case.LEARNING_RATE, case.EPOCHS, hidden
    )
    # The case's own loop puts it "at about" 54 and 77.
    assert expected is not None
    assert abs(expected - about) <= 2

    net = _c26_net(hidden)
    with pytest.raises(TrainingDivergedError) as error:
        net.fit(case.X, case.Y, epochs=case.EPOCHS, batch_size=None, seed=0)

    # The fit loop may also notice non-finite parameters at an epoch's
    # end, one epoch before the loss shows it.
    assert expected - 1 <= _diverged_epoch(error) <= expected
    assert re.search(r"smaller learning rate", str(error.value))
    assert all(np.isfinite(p).all() for p in net.parameters())


@pytest.mark.parametrize("hidden", [False, True], ids=["linear", "1-4-1_tanh"])
def test_c26_divergence_with_validation_switched_on(hidden):
    case = load_case("C26")

    # Validation on held-out copies of X leaves the training set as it
    # was, so the epoch must be the same as without validation.
    plain = _c26_net(hidden)
    with pytest.raises(TrainingDivergedError) as without:
        plain.fit(case.X, case.Y, epochs=200, batch_size=None, seed=0)
    scored = _c26_net(hidden)
    with pytest.raises(TrainingDivergedError) as with_data:
        scored.fit(case.X, case.Y, epochs=200, batch_size=None, seed=0,
                   validation_data=(case.X, case.Y))
    assert _diverged_epoch(with_data) == _diverged_epoch(without)
    assert all(np.isfinite(p).all() for p in scored.parameters())

    # A split and early stopping, as in the scikit-learn report.
    split = _c26_net(hidden)
    with pytest.raises(TrainingDivergedError, match="smaller learning rate"):
        split.fit(case.X, case.Y, epochs=200, batch_size=None, seed=0,
                  validation_fraction=0.2,
                  callbacks=[EarlyStopping(patience=500)])
    assert all(np.isfinite(p).all() for p in split.parameters())


def test_c26_mini_batch_divergence_keeps_the_last_finished_epoch():
    # With 4 steps per epoch the bad batch comes after good steps in the
    # same epoch; those must be undone, as the message says.
    case = load_case("C26")
    net = _c26_net(hidden=False)
    snapshots = _ParamsPerEpoch()
    with pytest.raises(TrainingDivergedError) as error:
        net.fit(case.X, case.Y, epochs=200, batch_size=5, seed=0,
                callbacks=[snapshots])

    epoch = _diverged_epoch(error)
    assert f"parameters from the end of epoch {epoch - 1}" in str(error.value)
    kept = snapshots.per_epoch.get(epoch - 1, snapshots.initial)
    _assert_params_equal(net.parameters(), kept)


def test_divergence_in_the_first_epoch_keeps_the_initial_parameters():
    case = load_case("C26")
    net = _c26_net(hidden=False, lr=1e100)
    snapshots = _ParamsPerEpoch()
    with pytest.raises(TrainingDivergedError) as error:
        net.fit(case.X, case.Y, epochs=5, batch_size=5, seed=0,
                callbacks=[snapshots])

    message = str(error.value)
    assert "diverged at epoch 1 " in message
    assert "keeps its initial parameters" in message
    assert "epoch 0" not in message
    _assert_params_equal(net.parameters(), snapshots.initial)


def test_c26_divergence_raises_without_runtime_warnings():
    case = load_case("C26")
    net = _c26_net(hidden=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(TrainingDivergedError):
            net.fit(case.X, case.Y, epochs=200, batch_size=None, seed=0)


@pytest.mark.parametrize("seed", range(5))
def test_c26_small_lr_and_standardised_inputs_fit(seed):
    case = load_case("C26")
    net = _c26_net(hidden=False, lr=0.01, standardize=True)
    net.fit(case.X, case.Y, epochs=case.EPOCHS, batch_size=None, seed=seed)

    scores = net.evaluate(case.X, case.Y)
    assert scores["r2"] > 0.99
    assert all(np.isfinite(p).all() for p in net.parameters())


@pytest.mark.parametrize("seed", range(5))
def test_c26_small_lr_fits_the_tanh_network_too(seed):
    # The case's reference reaches R² > 0.999 with 1-4-1 tanh in 2000
    # epochs for seeds 0-4.
    case = load_case("C26")
    net = _c26_net(hidden=True, lr=0.01, standardize=True)
    net.fit(case.X, case.Y, epochs=2000, batch_size=None, seed=seed)

    assert net.evaluate(case.X, case.Y)["r2"] > 0.999
    assert all(np.isfinite(p).all() for p in net.parameters())


# ----------------------------------------------------------------------
# C27: XOR
# ----------------------------------------------------------------------
def test_c27_xor_converges_for_most_seeds():
    case = load_case("C27")
    solved = []
    for seed in case.SEEDS:
        net = Network(
            [Dense(4, "tanh"), Dense(1, "sigmoid")],
            loss="binary_crossentropy",
            optimizer=SGD(lr=0.5),
            dtype="float64",
        )
        history = net.fit(case.X, case.Y, epochs=5000, batch_size=None, seed=seed)
        if np.array_equal(net.predict(case.X), case.Y):
            solved.append(seed)
            final = net.evaluate(case.X, case.Y)["loss"]
            assert final < 0.1, (seed, final)
            assert history["loss"][-1] < 0.1

    assert len(solved) >= 9, solved


def test_c27_a_stuck_run_reports_its_loss_truthfully():
    # A 2-2-1 tanh net with seed 4 stays on a plateau (accuracy 0.5). The
    # last epoch's logged loss and accuracy must be those of the weights
    # it started from, as evaluate computes them: nothing hidden.
    case = load_case("C27")
    net = Network(
        [Dense(2, "tanh"), Dense(1, "sigmoid")],
        loss="binary_crossentropy",
        optimizer=SGD(lr=0.5),
        dtype="float64",
    )
    net.fit(case.X, case.Y, epochs=4999, batch_size=None, seed=4)
    before = net.evaluate(case.X, case.Y)
    last = net.fit(case.X, case.Y, epochs=1, batch_size=None,
                   warm_start=True)

    assert last["loss"][0] == pytest.approx(before["loss"], rel=1e-12)
    assert last["accuracy"][0] == before["accuracy"] == 0.5
    assert last["loss"][0] > 0.1
    assert not np.array_equal(net.predict(case.X), case.Y)


# ----------------------------------------------------------------------
# C29: gradients do not accumulate across calls
# ----------------------------------------------------------------------
def _c29_net(optimizer="sgd"):
    net = Network(
        [Dense(3, "tanh"), Dense(1)],
        loss="mse",
        optimizer=optimizer,
        lr=0.1,
        dtype="float64",
    )
    return net.build(2, seed=0)


def test_c29_gradients_are_idempotent():
    case = load_case("C29")
    net = _c29_net()
    targets = case.Y.reshape(-1, 1)

    loss1, g1 = net.loss_and_gradients(case.X, targets)
    loss2, g2 = net.loss_and_gradients(case.X, targets)
    net.predict(case.X_OTHER)
    net.feedforward(case.X_OTHER)
    loss3, g3 = net.loss_and_gradients(case.X, targets)

    assert loss1 == loss2 == loss3
    _assert_params_equal(g2, g1)
    _assert_params_equal(g3, g1)

    def objective():
        return net.loss_and_gradients(case.X, targets)[0]

    step = case.FINITE_DIFFERENCE_STEP
    for param, grad in zip(net.parameters(), g1, strict=True):
        numeric = numerical_gradient(objective, param, eps=step)
        assert relative_error(grad, numeric) < case.RELATIVE_TOLERANCE


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_c29_a_step_after_other_calls_equals_a_fresh_step(optimizer):
    case = load_case("C29")
    targets = case.Y.reshape(-1, 1)

    fresh = _c29_net(optimizer)
    fresh.train_step(case.X, targets)

    used = _c29_net(optimizer)
    used.loss_and_gradients(case.X, targets)
    used.loss_and_gradients(case.X, targets)
    used.predict(case.X_OTHER)
    used.feedforward(case.X_OTHER)
    used.train_step(case.X, targets)

    _assert_params_equal(used.parameters(), fresh.parameters())

    # The same step by hand from freshly computed gradients (SGD only).
    if optimizer == "sgd":
        start = _c29_net()
        _, grads = start.loss_and_gradients(case.X, targets)
        expected = [p - 0.1 * g for p, g in zip(start.parameters(), grads, strict=True)]
        for got, want in zip(used.parameters(), expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-15, atol=1e-15)


def test_c29_optimizer_step_uses_the_last_batch_gradients():
    case = load_case("C29")
    targets = case.Y.reshape(-1, 1)

    net = _c29_net()
    _, grads = net.loss_and_gradients(case.X, targets)
    # Forward passes on other data must not change the stored gradients.
    net.predict(case.X_OTHER)
    net.feedforward(case.X_OTHER)
    _assert_params_equal(net.gradients(), grads)

    expected = [p - 0.1 * g for p, g in zip(net.parameters(), grads, strict=True)]
    net.optimizer.step(net.parameters(), net.gradients())
    _assert_params_equal(net.parameters(), expected)


def test_data_error_is_a_value_error():
    # Callers who catch ValueError also catch our data errors.
    assert issubclass(DataError, ValueError)
    assert issubclass(TrainingDivergedError, scratchnn.ScratchnnError)
