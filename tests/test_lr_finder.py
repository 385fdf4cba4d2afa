"""The learning-rate finder: sensible suggestions that train well, the
user's network untouched, early stops, and the `lr-find` command."""
import json

import numpy as np
import pytest

from scratchnn import Dense, Network
from scratchnn.cli import main
from scratchnn.data import load_digits, make_moons, train_test_split
from scratchnn.errors import DiagnosticWarning
from scratchnn.lr_finder import find_learning_rate

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digits()
    return train_test_split(X, y, test_size=0.2, seed=0)


def digits_net(optimizer="adam", lr=None):
    return Network([Dense(64, "relu"), Dense(10, "softmax")],
                   loss="categorical_crossentropy", optimizer=optimizer,
                   lr=lr, standardize=True)


def run_cli(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# ----------------------------------------------------------------------
# The suggestion
# ----------------------------------------------------------------------
@pytest.mark.parametrize("optimizer, low, high", [
    # Where Adam and plain SGD are known to train this network well.
    ("adam", 1e-3, 3e-2),
    ("sgd", 1e-2, 0.5),
])
def test_digits_suggestion_is_sensible_and_trains_well(
    digits_split, optimizer, low, high
):
    X_train, X_test, y_train, y_test = digits_split
    result = find_learning_rate(digits_net(optimizer), X_train, y_train,
                                seed=0)
    assert low <= result.suggestion <= high

    net = digits_net(optimizer, lr=result.suggestion)
    net.fit(X_train, y_train, epochs=15, seed=0)
    assert net.evaluate(X_test, y_test)["accuracy"] >= 0.95


def test_moons_suggestion_is_sensible_and_trains_well():
    X, y = make_moons(seed=0)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, seed=0
    )

    def moons_net(lr=None):
        return Network([Dense(64, "relu"), Dense(2, "softmax")],
                       loss="categorical_crossentropy", optimizer="adam",
                       lr=lr, standardize=True)

    result = find_learning_rate(moons_net(), X_train, y_train, seed=0)
    assert 5e-4 <= result.suggestion <= 5e-2

    net = moons_net(result.suggestion)
    net.fit(X_train, y_train, epochs=100, seed=0)
    assert net.evaluate(X_test, y_test)["accuracy"] >= 0.9


def test_users_network_is_left_as_it_was(digits_split):
    X_train, _, y_train, _ = digits_split
    net = digits_net()
    net.fit(X_train, y_train, epochs=2, seed=0)
    before = [p.copy() for p in net.parameters()]
    steps_before = net.optimizer.t
    lr_before = net.optimizer.lr

    find_learning_rate(net, X_train, y_train, seed=1)

    for p, kept in zip(net.parameters(), before):
        np.testing.assert_array_equal(p, kept)
    assert net.optimizer.t == steps_before
    assert net.optimizer.lr == lr_before
    assert len(net.history) == 2

    fresh = digits_net()
    find_learning_rate(fresh, X_train, y_train, seed=0)
    assert not fresh.is_built


def test_result_shape_and_early_stop(digits_split):
    # Plain SGD up to lr 100 must blow up well before the end.
    X_train, _, y_train, _ = digits_split
    result = find_learning_rate(digits_net("sgd"), X_train, y_train,
                                start=1e-4, stop=100.0, steps=100, seed=0)

    assert result.stopped_early
    n = len(result.lrs)
    assert 10 < n < 100
    assert len(result.losses) == len(result.raw_losses) == n
    # Exponentially spaced, from start: a constant ratio per step.
    ratios = result.lrs[1:] / result.lrs[:-1]
    np.testing.assert_allclose(ratios, (1e6) ** (1 / 99), rtol=1e-9)
    assert result.lrs[0] == pytest.approx(1e-4)
    assert result.lrs[0] <= result.suggestion <= result.lrs[-1]
    assert json.loads(json.dumps(result.to_dict()))["suggested_lr"] == (
        result.suggestion
    )


def test_same_seed_same_sweep(digits_split):
    X_train, _, y_train, _ = digits_split
    a = find_learning_rate(digits_net(), X_train, y_train, steps=60, seed=3)
    b = find_learning_rate(digits_net(), X_train, y_train, steps=60, seed=3)
    np.testing.assert_array_equal(a.raw_losses, b.raw_losses)
    assert a.suggestion == b.suggestion


def test_no_descent_warns_and_suggests_the_first_rate(digits_split):
    # Rates this small leave the loss where it started.
    X_train, _, y_train, _ = digits_split
    with pytest.warns(DiagnosticWarning, match="shows no descent"):
        result = find_learning_rate(digits_net(), X_train, y_train,
                                    start=1e-9, stop=1e-8, steps=50, seed=0)
    assert result.suggestion == pytest.approx(1e-9)
    assert not result.stopped_early


@pytest.mark.parametrize("arguments, message", [
    ({"start": 0.0}, "start must be a finite number > 0, got 0.0"),
    ({"start": 1.0, "stop": 0.1}, "stop must be larger than start"),
    ({"steps": 10}, "steps must be >= 40 to draw a curve, got 10"),
    ({"batch_size": 10_000}, "batch_size=10000 is larger than"),
])
def test_bad_arguments_are_refused(digits_split, arguments, message):
    X_train, _, y_train, _ = digits_split
    with pytest.raises(ValueError, match=message):
        find_learning_rate(digits_net(), X_train, y_train, **arguments)


# ----------------------------------------------------------------------
# The command
# ----------------------------------------------------------------------
def test_cli_prints_the_suggestion_and_draws_the_curve(
    tmp_path, monkeypatch, capsys
):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli(capsys, "lr-find", "--data", "moons",
                               "--plot", "sweep.png")

    assert status == 0, err
    assert out.startswith("suggested lr ")
    assert 5e-4 <= float(out.split()[-1]) <= 5e-2
    assert "2-64-2 on moons" in err
    assert "wrote sweep.png" in err
    assert (tmp_path / "sweep.png").read_bytes().startswith(PNG_SIGNATURE)


def test_cli_json_without_plot(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli(capsys, "lr-find", "--data", "moons",
                               "--steps", "60", "--no-plot", "--json")

    assert status == 0, err
    report = json.loads(out)
    assert report["plot"] is None
    assert len(report["lrs"]) == len(report["losses"]) == 60
    assert report["lrs"][0] <= report["suggested_lr"] <= report["lrs"][-1]
    assert list(tmp_path.iterdir()) == []


def test_mapped_rows_are_sampled_into_memory(
    digits_split, tmp_path, capsys
):
    # The library wants rows in memory; the command reads a sample.
    X_train, _, y_train, _ = digits_split
    path = tmp_path / "digits.npy"
    np.save(path, np.column_stack([X_train, y_train]))
    mapped = np.load(path, mmap_mode="r")
    with pytest.raises(NotImplementedError, match="memory-mapped X"):
        find_learning_rate(digits_net(), mapped[:, :-1], y_train)

    status, out, err = run_cli(capsys, "lr-find", "--data", str(path),
                               "--steps", "60", "--no-plot", "--json")
    assert status == 0, err
    assert 1e-3 <= json.loads(out)["suggested_lr"] <= 3e-2


def test_cli_bad_steps_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["lr-find", "--steps", "10"])
    _, err = capsys.readouterr()
    assert exit_info.value.code == 2
    assert "--steps: must be >= 40, got 10" in err


@pytest.mark.parametrize("argv, message", [
    (["--start", "1", "--stop", "0.5"], "--stop must be larger than"),
    (["--plot", "a.png", "--no-plot"], "give --plot or --no-plot"),
])
def test_cli_clashing_options_exit_2_before_any_work(capsys, argv, message):
    status, out, err = run_cli(capsys, "lr-find", *argv)
    assert status == 2
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1
