"""scratchnn.sklearn: scikit-learn's own estimator checks, then the
estimators at work in Pipeline, GridSearchCV and cross_val_score, each
compared with the plain Network it wraps."""
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")

import joblib
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_moons
from sklearn.model_selection import (
    GridSearchCV,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from scratchnn import (
    SGD,
    Adam,
    ConvergenceWarning,
    Dense,
    EarlyStopping,
    Network,
)
from scratchnn.data import load_digits
from scratchnn.sklearn import ScratchnnClassifier, ScratchnnRegressor

# Small and quick, yet good enough for the checks' score thresholds
# (accuracy > 0.83 on blobs, R² > 0.5 on a noisy regression).
CHECKED_ESTIMATORS = [
    ScratchnnClassifier((8,), lr=0.01, max_iter=30, random_state=0),
    ScratchnnRegressor((8,), lr=0.01, max_iter=30, random_state=0),
    # Early stopping's held-out split, under every check. The classifier
    # is not run this way: the checks fit 2 or 3 classes on 10 to 21 rows,
    # where a 10% held-out part cannot hold every class, and fit rightly
    # refuses such a split.
    ScratchnnRegressor(
        (8,),
        lr=0.01,
        max_iter=30,
        early_stopping=True,
        n_iter_no_change=5,
        random_state=0,
    ),
]

# The scikit-learn checks each estimator is expected to fail, with why:
# {class name: {check name: reason}}. Every check passes today, so both
# lists are empty; a check that must fail is excused here, in the open.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "ScratchnnClassifier": {},
    "ScratchnnRegressor": {},
}


def _expected_failures(estimator) -> dict[str, str]:
    return EXPECTED_FAILED_CHECKS[type(estimator).__name__]


@pytest.mark.filterwarnings("ignore::scratchnn.ConvergenceWarning")
@parametrize_with_checks(
    CHECKED_ESTIMATORS, expected_failed_checks=_expected_failures
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


# ----------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------
def _digits(n: int = 500):
    X, y = load_digits()
    return X[:n] / 16.0, y[:n]


def _moons(n: int = 300, seed: int = 0):
    return make_moons(n, noise=0.2, random_state=seed)


def _softmax_network(n_hidden: int, n_classes: int, lr: float) -> Network:
    return Network(
        [Dense(n_hidden, "relu"), Dense(n_classes, "softmax")],
        loss="categorical_crossentropy",
        optimizer=Adam(lr=lr),
        dtype="float64",
    )


# ----------------------------------------------------------------------
# The same model as the plain Network, given the same seed
# ----------------------------------------------------------------------
def test_classifier_is_the_network_it_wraps():
    X, y = _digits()
    # n_iter_no_change = max_iter: the first epoch always counts as
    # progress, so training cannot stop early and all 5 epochs run.
    clf = ScratchnnClassifier(
        (16,), lr=0.01, max_iter=5, n_iter_no_change=5, random_state=3
    )
    with pytest.warns(ConvergenceWarning, match="max_iter=5"):
        clf.fit(X, y)

    net = _softmax_network(16, 10, lr=0.01)
    history = net.fit(X, y, epochs=5, seed=3)
    np.testing.assert_array_equal(clf.predict_proba(X), net.predict_proba(X))
    np.testing.assert_array_equal(clf.predict(X), net.predict(X))
    assert clf.loss_curve_ == history["loss"]
    assert clf.n_iter_ == 5
    assert clf.loss_ == history["loss"][-1]
    assert clf.classes_.tolist() == list(range(10))


def test_binary_classifier_with_string_labels_is_a_sigmoid_network():
    X, y = _moons()
    labels = np.where(y == 1, "upper", "lower")
    clf = ScratchnnClassifier(
        (16,), lr=0.01, max_iter=40, n_iter_no_change=40, random_state=1
    )
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, labels)

    net = Network(
        [Dense(16, "relu"), Dense(1, "sigmoid")],
        loss="binary_crossentropy",
        optimizer=Adam(lr=0.01),
        dtype="float64",
    )
    net.fit(X, labels, epochs=40, seed=1)
    np.testing.assert_array_equal(clf.predict_proba(X), net.predict_proba(X))
    assert clf.classes_.tolist() == ["lower", "upper"]
    # The labels come back as given, and mostly right (chance is 0.5).
    assert np.mean(clf.predict(X) == labels) > 0.85


def test_regressor_is_the_network_it_wraps_for_one_and_two_targets():
    X, _ = _moons()
    Y = np.column_stack([np.sin(2 * X[:, 0]), X[:, 1] ** 2])
    kwargs = dict(lr=0.01, max_iter=10, n_iter_no_change=10, random_state=5)

    for y in (Y, Y[:, 0]):
        reg = ScratchnnRegressor((12,), activation="tanh", **kwargs)
        with pytest.warns(ConvergenceWarning):
            reg.fit(X, y)
        net = Network(
            [Dense(12, "tanh"), Dense(np.ndim(y), "identity")],
            loss="mse",
            optimizer=Adam(lr=0.01),
            dtype="float64",
        )
        net.fit(X, y, epochs=10, seed=5)

        # One target gives (n_samples,), as scikit-learn expects.
        expected = net.predict(X)
        if y.ndim == 1:
            expected = expected[:, 0]
        np.testing.assert_array_equal(reg.predict(X), expected)
        assert reg.n_outputs_ == np.ndim(y)


def test_sgd_with_its_default_lr_is_the_network_with_sgd():
    X, y = _moons()
    reg = ScratchnnRegressor(
        (8,),
        optimizer="sgd",
        momentum=0.5,
        max_iter=5,
        n_iter_no_change=5,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning):
        reg.fit(X, y)

    net = Network(
        [Dense(8, "relu"), Dense(1, "identity")],
        loss="mse",
        optimizer=SGD(lr=0.01, momentum=0.5),
        dtype="float64",
    )
    net.fit(X, y, epochs=5, seed=0)
    np.testing.assert_array_equal(reg.predict(X), net.predict(X)[:, 0])


def test_no_hidden_layer_is_a_linear_model():
    X, y = make_blobs(200, centers=2, random_state=0)
    clf = ScratchnnClassifier((), lr=0.05, max_iter=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert len(clf.network_.layers) == 1
    # Two well-separated blobs: a straight line splits them.
    assert clf.score(X, y) > 0.95


# ----------------------------------------------------------------------
# Pipeline, GridSearchCV, cross_val_score
# ----------------------------------------------------------------------
def test_pipeline_learns_the_digits():
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    model = make_pipeline(
        StandardScaler(),
        ScratchnnClassifier((32,), lr=0.01, max_iter=20, random_state=0),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    # Ten classes: chance is 0.1; a small network gets well above 0.9.
    assert model.score(X_test, y_test) > 0.93


def test_grid_search_picks_the_learning_rate_that_learns():
    X, y = _moons(200)
    search = GridSearchCV(
        ScratchnnClassifier((16,), max_iter=50, random_state=0),
        {"lr": [1e-5, 0.03]},
        cv=3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)

    # 50 epochs at lr=1e-5 barely move the weights; 0.03 learns the moons.
    assert search.best_params_ == {"lr": 0.03}
    assert search.best_score_ > 0.9
    assert search.best_estimator_.lr == 0.03
    X_new, y_new = _moons(200, seed=1)
    assert search.score(X_new, y_new) > 0.9


def test_cross_val_score_of_a_smooth_curve():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(300, 1))
    y = np.sin(2 * X[:, 0])
    reg = ScratchnnRegressor(
        (32,), activation="tanh", lr=0.01, max_iter=100, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(reg, X, y, cv=3)
    # R² of each held-out fold; a straight line would score about 0.
    assert scores.shape == (3,)
    assert scores.min() > 0.95


# ----------------------------------------------------------------------
# partial_fit and warm_start
# ----------------------------------------------------------------------
def test_partial_fit_k_times_is_fit_for_k_epochs():
    X, y = _digits()
    fitted = ScratchnnClassifier(
        (16,), lr=0.01, max_iter=4, n_iter_no_change=4, random_state=2
    )
    with pytest.warns(ConvergenceWarning):
        fitted.fit(X, y)

    stepped = ScratchnnClassifier((16,), lr=0.01, random_state=2)
    for _ in range(4):
        stepped.partial_fit(X, y, classes=np.arange(10))
    np.testing.assert_array_equal(
        stepped.predict_proba(X), fitted.predict_proba(X)
    )
    assert stepped.loss_curve_ == fitted.loss_curve_
    assert stepped.n_iter_ == 4


def test_partial_fit_refuses_missing_or_new_classes_and_changes_nothing():
    X, y = _digits(100)
    clf = ScratchnnClassifier((8,), random_state=0)
    with pytest.raises(ValueError, match="first partial_fit needs classes"):
        clf.partial_fit(X, y)
    assert not hasattr(clf, "network_")

    clf.partial_fit(X, y, classes=np.arange(10))
    before = [p.copy() for p in clf.network_.parameters()]
    with pytest.raises(ValueError, match=r"not fitted with: \[10\]"):
        clf.partial_fit(X[:3], [1, 2, 10])
    with pytest.raises(ValueError, match="differ from the classes"):
        clf.partial_fit(X, y, classes=np.arange(11))

    after = clf.network_.parameters()
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    assert clf.n_iter_ == 1


def test_warm_start_goes_on_from_the_previous_fit():
    X, y = _digits()
    kwargs = dict(lr=0.01, max_iter=3, n_iter_no_change=3, random_state=4)
    warm = ScratchnnClassifier((16,), warm_start=True, **kwargs)
    cold = ScratchnnClassifier((16,), **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm.fit(X, y).fit(X, y)
        first = cold.fit(X, y).predict_proba(X)
        second = cold.fit(X, y).predict_proba(X)

    # The same two calls on the plain network.
    net = _softmax_network(16, 10, lr=0.01)
    net.fit(X, y, epochs=3, seed=4)
    net.fit(X, y, epochs=3, seed=4, warm_start=True)
    np.testing.assert_array_equal(warm.predict_proba(X), net.predict_proba(X))
    assert warm.n_iter_ == len(warm.loss_curve_) == 6

    # Without warm_start, each fit starts afresh from the same seed.
    np.testing.assert_array_equal(first, second)
    assert cold.n_iter_ == 3


def test_warm_start_refuses_labels_outside_the_fitted_classes():
    X, y = _digits(100)
    clf = ScratchnnClassifier((8,), max_iter=2, warm_start=True)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, np.where(y < 5, y, 0))
    with pytest.raises(ValueError, match="warm_start=False"):
        clf.fit(X, y)


# ----------------------------------------------------------------------
# Stopping
# ----------------------------------------------------------------------
def test_early_stopping_is_the_network_with_early_stopping():
    X, y = _digits()
    # With tol=0, "no progress for n epochs" is EarlyStopping's patience.
    clf = ScratchnnClassifier(
        (16,),
        lr=0.01,
        max_iter=300,
        early_stopping=True,
        tol=0.0,
        n_iter_no_change=3,
        random_state=3,
    )
    clf.fit(X, y)

    net = _softmax_network(16, 10, lr=0.01)
    history = net.fit(
        X,
        y,
        epochs=300,
        seed=3,
        validation_fraction=0.1,
        callbacks=[EarlyStopping(patience=3)],
    )
    assert clf.n_iter_ == len(history) < 300
    assert clf.validation_scores_ == history["val_accuracy"]
    # Both put back the weights of the epoch with the lowest val_loss.
    np.testing.assert_array_equal(clf.predict_proba(X), net.predict_proba(X))


def test_tol_ends_training_once_the_loss_stops_falling_by_that_much():
    X, y = _digits(200)
    # No fall is that large: epoch 1 sets the best, 2 and 3 make no
    # progress, and training ends there without a ConvergenceWarning.
    clf = ScratchnnClassifier(
        (8,), tol=1e9, n_iter_no_change=2, max_iter=50, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.n_iter_ == 3
    assert clf.validation_scores_ is None


def test_reaching_max_iter_warns():
    X, y = _digits(200)
    clf = ScratchnnClassifier((8,), max_iter=2, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_iter=2 epochs"):
        clf.fit(X, y)
    assert clf.n_iter_ == 2


def test_a_refused_fit_leaves_the_fitted_model_as_it_was():
    X, y = _digits(200)
    clf = ScratchnnClassifier((8,), max_iter=2, random_state=0)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    network, before = clf.network_, clf.predict_proba(X)

    # 10 rows of 3 classes: a 10% held-out part (1 row) cannot hold each
    # class, so Network.fit refuses the split before training.
    clf.set_params(early_stopping=True)
    with pytest.raises(ValueError, match="validation_fraction"):
        clf.fit(X[:10], [0, 1, 2] * 3 + [0])
    assert clf.network_ is network
    assert clf.classes_.tolist() == list(range(10))
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_verbose_logs_one_line_per_epoch(caplog):
    X, y = _digits(100)
    clf = ScratchnnClassifier((8,), max_iter=3, verbose=1, random_state=0)
    with caplog.at_level("INFO", logger="scratchnn"):
        with pytest.warns(ConvergenceWarning):
            clf.fit(X, y)
    messages = [record.getMessage() for record in caplog.records]
    assert len([m for m in messages if "epoch" in m]) == 3


# ----------------------------------------------------------------------
# Arguments, randomness, files
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"hidden_layer_sizes": (0,)}, ValueError, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": (8, "x")}, ValueError, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": None}, TypeError, "hidden_layer_sizes"),
        ({"activation": "softmax"}, ValueError, "activation must be"),
        ({"optimizer": "rmsprop"}, ValueError, "optimizer must be"),
        ({"lr": -0.1}, ValueError, "lr must be"),
        ({"max_iter": 0}, ValueError, "max_iter must be >= 1"),
        ({"tol": -1.0}, ValueError, "tol must be >= 0"),
        ({"n_iter_no_change": 0}, ValueError, "n_iter_no_change"),
        (
            {"early_stopping": True, "validation_fraction": 1.0},
            ValueError,
            r"validation_fraction must be in \(0, 1\)",
        ),
        ({"random_state": -1}, ValueError, "random_state must be"),
    ],
)
def test_bad_arguments_are_refused_by_fit_not_by_the_constructor(
    kwargs, error, match
):
    X, y = _digits(50)
    for Estimator in (ScratchnnClassifier, ScratchnnRegressor):
        estimator = Estimator(**kwargs)  # stored as given
        with pytest.raises(error, match=match):
            estimator.fit(X, y)
        assert not hasattr(estimator, "network_")


def test_random_state_decides_the_model():
    X, y = _digits(200)
    clf = ScratchnnClassifier((8,), max_iter=2)

    def proba(random_state):
        model = clone(clf).set_params(random_state=random_state)
        with pytest.warns(ConvergenceWarning):
            return model.fit(X, y).predict_proba(X)

    np.testing.assert_array_equal(proba(7), proba(7))
    # A RandomState gives its seed: equal states, equal models.
    same = [proba(np.random.RandomState(1)) for _ in range(2)]
    np.testing.assert_array_equal(*same)
    # Different draws (from NumPy's global generator) give other models.
    assert not np.array_equal(proba(None), proba(None))
    assert not np.array_equal(proba(7), proba(8))


def test_a_model_loaded_read_only_still_predicts_and_trains(tmp_path):
    X, y = _digits(200)
    clf = ScratchnnClassifier((8,), max_iter=2, warm_start=True)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    path = tmp_path / "model.joblib"
    joblib.dump(clf, path)

    # mmap_mode="r" maps every array read-only, the layers' buffers too.
    loaded = joblib.load(path, mmap_mode="r")
    expected = clf.predict_proba(X)
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    with pytest.warns(ConvergenceWarning):
        loaded.fit(X, y)
    assert loaded.n_iter_ == 4
