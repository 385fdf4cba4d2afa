"""scratchnn.sklearn: a refused fit changes nothing, and labels that are
not one plain kind (2-D classes, NaN, None, str mixed with int) are
refused with a message that names the problem."""
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")

from scratchnn import ConvergenceWarning
from scratchnn.sklearn import ScratchnnClassifier, ScratchnnRegressor


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def three_features(n=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, (X[:, 0] > 0).astype(int)


def snapshot(estimator, X):
    """What a refused fit must leave as it was."""
    proba = (estimator.predict_proba(X) if hasattr(estimator, "classes_")
             else estimator.predict(X))
    return {
        "attributes": sorted(vars(estimator)),
        "n_features_in_": estimator.n_features_in_,
        "network_": estimator.network_,
        "loss_curve_": list(estimator.loss_curve_),
        "output": proba,
    }


def assert_unchanged(estimator, X, before):
    after = snapshot(estimator, X)
    assert after["attributes"] == before["attributes"]
    assert after["n_features_in_"] == before["n_features_in_"] == 3
    assert after["network_"] is before["network_"]
    assert after["loss_curve_"] == before["loss_curve_"]
    np.testing.assert_array_equal(after["output"], before["output"])


# ----------------------------------------------------------------------
# A refused fit leaves the fitted estimator as it was
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "params, y, match",
    [
        ({}, ["a"] * 10, "one class only"),
        # 10 rows of 3 classes: a 1-row held-out part cannot hold them.
        ({"early_stopping": True}, [0, 1, 2] * 3 + [0], "validation_fraction"),
        ({}, [None, "a"] * 5, "None at row 0"),
        ({}, ["a", 1] * 5, "mixes label types"),
        ({"warm_start": True}, ["x", "y"] * 5, "expecting 3 features"),
    ],
)
def test_a_refused_classifier_fit_on_other_features_changes_nothing(
    params, y, match
):
    X3, y3 = three_features()
    clf = ScratchnnClassifier((4,), max_iter=5, random_state=0).fit(X3, y3)
    before = snapshot(clf, X3)
    classes = clf.classes_.copy()

    clf.set_params(**params)
    X5 = np.random.default_rng(1).random((10, 5))
    with pytest.raises(ValueError, match=match):
        clf.fit(X5, y)
    assert_unchanged(clf, X3, before)
    np.testing.assert_array_equal(clf.classes_, classes)

    # It trains on as before, on its own features.
    clf.set_params(early_stopping=False, warm_start=False)
    assert clf.fit(X3, y3).predict(X3).shape == (30,)


def test_a_refused_partial_fit_changes_nothing():
    X3, y3 = three_features()
    clf = ScratchnnClassifier((4,), random_state=0)
    clf.partial_fit(X3, y3, classes=[0, 1])
    before = snapshot(clf, X3)

    with pytest.raises(ValueError, match="not fitted with"):
        clf.partial_fit(X3, [0, 1, 7] * 10)
    with pytest.raises(ValueError, match="mixes label types"):
        clf.partial_fit(X3, [0, "1"] * 15)
    assert_unchanged(clf, X3, before)


def test_a_refused_first_fit_leaves_the_estimator_unfitted():
    clf = ScratchnnClassifier((4,), max_iter=5, random_state=0)
    X5 = np.random.default_rng(1).random((10, 5))
    with pytest.raises(ValueError, match="one class only"):
        clf.fit(X5, ["a"] * 10)
    assert not hasattr(clf, "n_features_in_")
    assert not hasattr(clf, "network_")
    with pytest.raises(ValueError, match="classes must be 1-D"):
        clf.partial_fit(X5, ["a", "b"] * 5, classes=[["a", "b"]])
    assert vars(clf) == vars(ScratchnnClassifier((4,), max_iter=5,
                                                 random_state=0))


def test_a_refused_regressor_fit_changes_nothing():
    X3, _ = three_features()
    y3 = X3 @ [1.0, -2.0, 0.5]
    reg = ScratchnnRegressor((4,), max_iter=5, random_state=0).fit(X3, y3)
    before = snapshot(reg, X3)

    X5 = np.random.default_rng(1).random((10, 5))
    with pytest.raises((TypeError, ValueError)):
        reg.fit(X5, ["a"] * 10)
    with pytest.raises(ValueError, match="NaN|nan"):
        reg.fit(X5, [np.nan] * 10)
    reg.set_params(warm_start=True)
    with pytest.raises(ValueError, match="target"):
        reg.fit(X3, np.column_stack([y3, y3]))
    assert_unchanged(reg, X3, before)


# ----------------------------------------------------------------------
# Labels of one plain kind
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "classes, match",
    [
        ([["a", "b"], ["c", "d"]],
         r"classes must be 1-D, .* got shape \(2, 2\)"),
        ([0.0, 1.0, np.nan], "classes contains nan"),
        ([0.0, np.inf], "classes contains inf"),
        (["a", None], "classes holds None"),
        (["a", 1], "classes mixes label types"),
    ],
)
def test_partial_fit_refuses_classes_that_are_not_plain_labels(
    classes, match
):
    X = np.random.default_rng(0).random((4, 2))
    clf = ScratchnnClassifier((4,))
    with pytest.raises(ValueError, match=match):
        clf.partial_fit(X, ["a", "b", "a", "b"], classes=classes)
    assert not hasattr(clf, "classes_")


def test_later_classes_are_checked_too():
    X = np.random.default_rng(0).random((4, 2))
    clf = ScratchnnClassifier((4,)).partial_fit(X, [0, 1, 0, 1],
                                                classes=[0, 1])
    with pytest.raises(ValueError, match=r"classes must be 1-D"):
        clf.partial_fit(X, [0, 1, 0, 1], classes=[[0, 1]])
    with pytest.raises(ValueError, match="classes contains nan"):
        clf.partial_fit(X, [0, 1, 0, 1], classes=[0, 1, np.nan])
    assert clf.classes_.tolist() == [0, 1]
    assert clf.n_iter_ == 1


@pytest.mark.parametrize(
    "y, match",
    [
        ([None, "a", "b", "a"], "y holds None at row 0, which is not a "
                                "class label"),
        (["a", 1, "b", 2], r"y mixes label types: row 0 holds 'a' \(a str\) "
                           r"but row 1 holds 1 \(a number\)"),
        ([1, "1", 2, 2], "y mixes label types"),
        ([0.0, 1.0, np.nan, 1.0], "y contains NaN"),
    ],
)
def test_fit_names_labels_that_are_not_one_plain_kind(y, match):
    X = np.random.default_rng(0).random((4, 2))
    with pytest.raises(ValueError, match=match):
        ScratchnnClassifier((4,), max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match=match):
        ScratchnnClassifier((4,)).partial_fit(X, y, classes=["a", "b"])


def test_plain_labels_of_any_one_kind_still_fit():
    X = np.random.default_rng(0).random((6, 2))
    for y in (["a", "b"] * 3, [1, 2] * 3, [True, False] * 3,
              np.array(["a", "b"] * 3, dtype=object)):
        clf = ScratchnnClassifier((4,), max_iter=2, random_state=0)
        assert sorted(clf.fit(X, y).classes_.tolist()) == sorted(set(y))
