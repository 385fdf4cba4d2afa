"""scikit-learn estimators built on `Network`: a classifier and a regressor.

They keep scikit-learn's conventions (arguments stored as given, learned
state ending in ``_``, `random_state`, `partial_fit`, `warm_start`, early
stopping on a held-out share), so `Pipeline`, `GridSearchCV` and
`cross_val_score` take them like any other estimator.
"""
import contextlib
import copy
import math
import numbers
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as error:
    raise ImportError(
        "scratchnn.sklearn needs scikit-learn 1.6 or later; install it "
        "with pip install 'scratchnn[sklearn]'"
    ) from error

from .errors import ConvergenceWarning
from .layers import Dense
from .network import Network
from .optimizers import SGD, Adam
from .training import Callback
from .validation import (
    check_class_labels,
    check_number,
    check_positive_int,
)

HIDDEN_ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "identity")
OPTIMIZERS = ("adam", "sgd")

# Both estimators train in float64: scikit-learn's checks compare
# predictions made in different batches, orders and runs at 1e-7, closer
# than float32 rounding allows.
_DTYPE = "float64"

_PARAMETERS = """
    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(64,)
        Units of each hidden layer, in order. () leaves none, which gives
        logistic regression (classifier) or linear regression (regressor).
    activation : str, default="relu"
        The hidden layers' activation: "relu", "leaky_relu", "tanh",
        "sigmoid" or "identity".
    optimizer : {"adam", "sgd"}, default="adam"
    lr : float or None, default=None
        Learning rate; None keeps the optimizer's default (0.001 for Adam,
        0.01 for SGD).
    momentum : float, default=0.9
        SGD's momentum, in [0, 1); Adam ignores it.
    batch_size : int, None or "auto", default="auto"
        Samples per gradient step. "auto" is 32, or all rows when there
        are fewer; None, or an int above the number of training rows,
        means full batch.
    max_iter : int, default=200
        The most epochs (passes over the training data) one `fit` runs.
    shuffle : bool, default=True
        Visit the rows in a new random order each epoch.
    tol : float, default=1e-4
        The smallest fall of the watched loss that counts as progress.
    n_iter_no_change : int, default=10
        `fit` stops after this many epochs without progress: progress of
        the training loss, or with `early_stopping` of the held-out loss.
    early_stopping : bool, default=False
        Hold out `validation_fraction` of the training data, watch its
        loss, and keep the weights of the epoch where it was lowest.
    validation_fraction : float, default=0.1
        The share held out with `early_stopping`, in (0, 1), rounded down
        to whole rows (stratified by class for the classifier).
    warm_start : bool, default=False
        `fit` goes on from the previous fit's weights and optimizer state,
        and adds to `loss_curve_`, instead of starting afresh.
    random_state : int, RandomState instance or None, default=None
        Decides the initial weights, the held-out rows and the shuffling.
        An int >= 0 is given to `Network.fit` as its seed, so the same int
        gives the same model, bit for bit; None or a RandomState draws a
        seed from NumPy's generator at each `fit`.
    verbose : int, default=0
        1 logs one line per epoch through the ``scratchnn.training``
        logger, at INFO level.
"""

_ATTRIBUTES = """
    Attributes
    ----------
    n_features_in_ : int
        The number of features seen in `fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X had string column names (a DataFrame).
    network_ : Network
        The trained scratchnn network: `summary()`, `save()` and the
        rest of its API work on it.
    loss_ : float
        The training loss of the last epoch.
    loss_curve_ : list of float
        The training loss after each epoch, across warm-started fits and
        `partial_fit` calls.
    n_iter_ : int
        The number of epochs run, ``len(loss_curve_)``.
    validation_scores_ : list of float or None
        With `early_stopping`, the {score} on the held-out rows after
        each epoch of the last `fit`; else None.
"""


class _EarlyStop(Callback):
    """Stop when `monitor` has not fallen by more than `tol` for a while.

    The wait counts from the best value so far, so a run of gains each
    smaller than `tol` still ends training. With `restore_best`, the
    parameters of the epoch with the lowest value are put back at the end.
    """

    def __init__(
        self, monitor: str, tol: float, patience: int, restore_best: bool
    ):
        self.monitor = monitor
        self.tol = tol
        self.patience = patience
        self.restore_best = restore_best
        self.stopped = False

    def on_train_begin(self, network):
        self.network = network
        self.best = np.inf
        self.best_params = None
        self.waited = 0

    def on_epoch_end(self, epoch, logs):
        value = logs[self.monitor]
        if value < self.best - self.tol:
            self.waited = 0
        else:
            self.waited += 1

        if value < self.best:
            self.best = value
            if self.restore_best:
                params = self.network.parameters()
                self.best_params = [p.copy() for p in params]
        if self.waited >= self.patience:
            self.stopped = True
            self.network.stop_training = True

    def on_train_end(self, history):
        if self.best_params is None:
            return
        params = self.network.parameters()
        for p, best in zip(params, self.best_params, strict=True):
            np.copyto(p, best)


class _NetworkEstimator(BaseEstimator):
    """What the classifier and the regressor share: arguments and training.

    A subclass encodes its targets in `fit` and `partial_fit`, and names
    its output layer and loss (`_head`) and the validation metric it
    reports (`_score_key`, a key of the epoch logs).
    """

    _score_key = ""

    def __init__(
        self,
        hidden_layer_sizes=(64,),
        activation="relu",
        optimizer="adam",
        lr=None,
        momentum=0.9,
        batch_size="auto",
        max_iter=200,
        shuffle=True,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        # scikit-learn's rule: store the arguments untouched; fit checks them.
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------
    # Arguments
    # ------------------------------------------------------------------
    def _check_params(self) -> None:
        """Refuse bad arguments before fit or partial_fit changes anything."""
        self._hidden_sizes()
        if self.activation not in HIDDEN_ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {', '.join(HIDDEN_ACTIVATIONS)}; "
                f"got {self.activation!r}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}"
            )
        # Made once here only for its checks of lr and momentum.
        self._new_optimizer()
        check_positive_int(self.max_iter, "max_iter")
        check_positive_int(self.n_iter_no_change, "n_iter_no_change")
        tol = check_number(self.tol, "tol")
        if not tol >= 0:
            raise ValueError(f"tol must be >= 0, got {self.tol}")
        if self.early_stopping:
            fraction = check_number(
                self.validation_fraction, "validation_fraction"
            )
            if not 0.0 < fraction < 1.0:
                raise ValueError(
                    f"validation_fraction must be in (0, 1) with "
                    f"early_stopping=True, got {self.validation_fraction}"
                )

    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        # A bare int is one hidden layer, as scikit-learn's MLP reads it.
        if isinstance(sizes, numbers.Integral):
            sizes = [sizes]
        rule = "hidden_layer_sizes must be a tuple of ints >= 1"
        try:
            sizes = list(sizes)
        except TypeError:
            raise TypeError(
                f"{rule}, got {self.hidden_layer_sizes!r:.40}"
            ) from None
        for size in sizes:
            integral = isinstance(size, numbers.Integral)
            if isinstance(size, bool) or not integral or size < 1:
                raise ValueError(
                    f"{rule}, got {self.hidden_layer_sizes!r:.40}"
                )
        return [int(size) for size in sizes]

    def _seed(self) -> int:
        """The seed for scratchnn, from random_state."""
        state = self.random_state
        integral = isinstance(state, numbers.Integral)
        if integral and not isinstance(state, bool):
            if state < 0:
                raise ValueError(
                    f"random_state must be an int >= 0, a RandomState or "
                    f"None, got {state}"
                )
            return int(state)
        return int(check_random_state(state).randint(np.iinfo(np.int32).max))

    def _new_optimizer(self):
        # None leaves the optimizer's own default learning rate.
        lr = {} if self.lr is None else {"lr": self.lr}
        if self.optimizer == "sgd":
            return SGD(momentum=self.momentum, **lr)
        return Adam(**lr)

    def _new_network(self, n_outputs: int) -> Network:
        layers = [
            Dense(units, self.activation) for units in self._hidden_sizes()
        ]
        output, loss = self._head(n_outputs)
        return Network(
            layers + [output],
            loss=loss,
            optimizer=self._new_optimizer(),
            dtype=_DTYPE,
        )

    def _batch_size(self, n_train: int):
        """batch_size, with an int above n_train meaning full batch."""
        size = self.batch_size
        integral = isinstance(size, numbers.Integral)
        if integral and not isinstance(size, bool) and size > n_train:
            return None
        return size

    # ------------------------------------------------------------------
    # Training
    # ------------------------------------------------------------------
    # A new network becomes `network_` only once its training has run, so
    # a fit refused by Network (e.g. a held-out split that cannot hold
    # every class) leaves a fitted estimator as it was.
    def _continuing(self) -> bool:
        return bool(self.warm_start) and hasattr(self, "network_")

    @contextlib.contextmanager
    def _unchanged_if_refused(self):
        """Put every attribute back as it was if the body raises.

        validate_data sets n_features_in_ before the labels and the split
        are checked, so without this a refused fit on other features
        would leave a fitted estimator that refuses its own features.
        """
        saved = dict(self.__dict__)
        try:
            yield
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _train(self, X, targets, n_outputs: int, seed: int) -> None:
        """Run Network.fit on validated X and encoded targets."""
        continuing = self._continuing()
        if continuing:
            network = self.network_
        else:
            network = self._new_network(n_outputs)

        fraction = self.validation_fraction if self.early_stopping else 0.0
        # The held-out rows as Network.fit counts them (rounded, floored),
        # so that an oversized batch_size becomes full batch, not an error.
        n_val = math.floor(round(fraction * X.shape[0], 9))
        stopper = _EarlyStop(
            monitor="val_loss" if self.early_stopping else "loss",
            tol=float(self.tol),
            patience=int(self.n_iter_no_change),
            restore_best=bool(self.early_stopping),
        )
        history = network.fit(
            X,
            targets,
            epochs=self.max_iter,
            batch_size=self._batch_size(X.shape[0] - n_val),
            shuffle=self.shuffle,
            seed=seed,
            validation_fraction=fraction,
            verbose=self.verbose,
            callbacks=[stopper],
            warm_start=continuing,
        )

        self.network_ = network
        self._record()
        scores = history.history.get(self._score_key)
        self.validation_scores_ = list(scores) if self.early_stopping else None
        if not stopper.stopped and not history.interrupted:
            watched = "validation" if self.early_stopping else "training"
            warnings.warn(
                f"{type(self).__name__} stopped at max_iter={self.max_iter} "
                f"epochs while the {watched} loss was still falling by more "
                f"than tol={self.tol}; raise max_iter, or raise tol to stop "
                f"sooner",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _train_one_epoch(
        self, X, targets, n_outputs: int, seed: int, classes=None
    ) -> None:
        """Run Network.partial_fit on validated X and encoded targets."""
        network = getattr(self, "network_", None)
        if network is None:
            network = self._new_network(n_outputs)
        network.partial_fit(
            X,
            targets,
            classes=classes,
            batch_size=self._batch_size(X.shape[0]),
            shuffle=self.shuffle,
            seed=seed,
        )
        self.network_ = network
        self._record()
        # partial_fit holds nothing out, so there is no score to report.
        self.validation_scores_ = None

    def _record(self) -> None:
        """Copy the network's running history into the fitted attributes."""
        curve = self.network_.history.history.get("loss", [])
        self.loss_curve_ = list(curve)
        self.n_iter_ = len(curve)
        self.loss_ = curve[-1] if curve else float("nan")

    def __setstate__(self, state):
        super().__setstate__(state)
        network = getattr(self, "network_", None)
        if network is None:
            return
        # Loaded read-only (joblib's mmap_mode="r"), the network could not
        # even predict: each forward pass writes into buffers kept on its
        # layers. A copy in ordinary memory can predict and train.
        params = network.parameters()
        if not all(p.flags.writeable for p in params):
            self.network_ = copy.deepcopy(network)

    def _features(self, X) -> np.ndarray:
        """X checked against fit, before any prediction."""
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=np.float64)


class ScratchnnClassifier(ClassifierMixin, _NetworkEstimator):
    __doc__ = (
        """A neural-network classifier with scikit-learn's conventions.

    Hidden `Dense` layers, then a sigmoid unit trained with binary
    cross-entropy for two classes, or a softmax layer trained with
    categorical cross-entropy for more. Labels may be of any kind
    (ints, strings...); scratchnn sees them as codes 0..k-1.
"""
        + _PARAMETERS
        + _ATTRIBUTES.replace("{score}", "accuracy")
        + """    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted, in the order of `predict_proba`'s
        columns.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from scratchnn.sklearn import ScratchnnClassifier
    >>> X, y = make_moons(200, noise=0.1, random_state=0)
    >>> clf = ScratchnnClassifier((16,), lr=0.01, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    """
    )

    _score_key = "val_accuracy"

    def fit(self, X, y) -> "ScratchnnClassifier":
        """Train on X (n_samples, n_features) and labels y (n_samples,).

        Returns
        -------
        self
        """
        self._check_params()
        seed = self._seed()
        continuing = self._continuing()
        with self._unchanged_if_refused():
            given = y
            X, y = validate_data(
                self, X, y, reset=not continuing, dtype=np.float64
            )
            _check_labels(given)
            check_classification_targets(y)

            if continuing:
                classes = self.classes_
            else:
                classes = _distinct_labels(y, "y")
            codes = _codes(y, classes)
            self._train(X, codes, len(classes), seed)
            self.classes_ = classes
        return self

    def partial_fit(self, X, y, classes=None) -> "ScratchnnClassifier":
        """Train one epoch on X and y, going on from where training stands.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels, each one of `classes`.
        classes : array-like of shape (n_classes,) or None, default=None
            Every label the classifier will ever see. The first call
            needs it, as a later batch may hold labels this one lacks;
            later calls may leave it out or repeat the same labels.

        Returns
        -------
        self

        Notes
        -----
        Each call is one epoch over the rows given, so `max_iter`, `tol`,
        `n_iter_no_change` and `early_stopping` play no part; the first
        call (or the first after `fit`) seeds the shuffling from
        `random_state`, as `Network.partial_fit` does.
        """
        self._check_params()
        seed = self._seed()
        first = not hasattr(self, "network_")
        with self._unchanged_if_refused():
            given = y
            X, y = validate_data(self, X, y, reset=first, dtype=np.float64)
            _check_labels(given)
            check_classification_targets(y)
            known = self._declared_classes(classes, first)

            # The network learns codes 0..k-1; its first call needs them
            # all.
            every_code = np.arange(len(known)) if first else None
            codes = _codes(y, known)
            self._train_one_epoch(X, codes, len(known), seed, every_code)
            self.classes_ = known
        return self

    def _declared_classes(self, classes, first: bool) -> np.ndarray:
        """The classes partial_fit trains with: declared, or learned."""
        if first and classes is None:
            raise ValueError(
                "the first partial_fit needs classes=[...], every label "
                "the classifier will see, because later batches may hold "
                "labels this one lacks"
            )
        if classes is not None:
            classes = _plain_classes(classes)
        if first:
            return _distinct_labels(classes, "classes")

        known = self.classes_
        if classes is not None:
            given = np.unique(classes)
            if not np.array_equal(given, known):
                raise ValueError(
                    f"classes={given.tolist()} differ from the classes "
                    f"already learned, {known.tolist()}; pass the same "
                    f"labels, or leave classes out"
                )
        return known

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row, as labels of `classes_`."""
        check_is_fitted(self)
        # From predict_proba, so the two always agree, even at a tie.
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n_samples, n_classes), in `classes_` order."""
        X = self._features(X)
        return self.network_.predict_proba(X)

    @staticmethod
    def _head(n_classes: int):
        if n_classes == 2:
            return Dense(1, "sigmoid"), "binary_crossentropy"
        return Dense(n_classes, "softmax"), "categorical_crossentropy"


class ScratchnnRegressor(RegressorMixin, _NetworkEstimator):
    __doc__ = (
        """A neural-network regressor with scikit-learn's conventions.

    Hidden `Dense` layers, then one linear unit per target, trained on
    the mean squared error. y may hold one target (n_samples,) or several
    (n_samples, n_outputs). The targets are not scaled: put large ones
    through a scaler (e.g. `TransformedTargetRegressor`).
"""
        + _PARAMETERS
        + _ATTRIBUTES.replace("{score}", "R²")
        + """    n_outputs_ : int
        The number of targets.
    """
    )

    _score_key = "val_r2"

    def fit(self, X, y) -> "ScratchnnRegressor":
        """Train on X (n_samples, n_features) and y (n_samples[, n_outputs]).

        Returns
        -------
        self
        """
        self._check_params()
        seed = self._seed()
        continuing = self._continuing()
        with self._unchanged_if_refused():
            X, y = validate_data(
                self,
                X,
                y,
                reset=not continuing,
                dtype=np.float64,
                multi_output=True,
                y_numeric=True,
            )
            targets = self._targets(y, continuing)
            self._train(X, targets, targets.shape[1], seed)
            self.n_outputs_ = targets.shape[1]
        return self

    def partial_fit(self, X, y) -> "ScratchnnRegressor":
        """Train one epoch on X and y, going on from where training stands.

        Returns
        -------
        self

        Notes
        -----
        As for `ScratchnnClassifier.partial_fit`: one epoch per call, with
        no early stopping.
        """
        self._check_params()
        seed = self._seed()
        first = not hasattr(self, "network_")
        with self._unchanged_if_refused():
            X, y = validate_data(
                self,
                X,
                y,
                reset=first,
                dtype=np.float64,
                multi_output=True,
                y_numeric=True,
            )
            targets = self._targets(y, continuing=not first)
            self._train_one_epoch(X, targets, targets.shape[1], seed)
            self.n_outputs_ = targets.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        """Predictions, (n_samples,) for one target or (n_samples, n_outputs)."""
        check_is_fitted(self)
        X = self._features(X)
        y = self.network_.predict(X)  # (n_samples, n_outputs)
        return y.ravel() if self.n_outputs_ == 1 else y

    def _targets(self, y: np.ndarray, continuing: bool) -> np.ndarray:
        """y as (n_samples, n_outputs), refusing a new count when going on."""
        targets = y.reshape(-1, 1) if y.ndim == 1 else y
        n_outputs = targets.shape[1]
        if continuing and n_outputs != self.n_outputs_:
            raise ValueError(
                f"y has {n_outputs} target(s) but the regressor was fitted "
                f"with {self.n_outputs_}; fit afresh (warm_start=False) to "
                f"change them"
            )
        return targets

    @staticmethod
    def _head(n_outputs: int):
        return Dense(n_outputs, "identity"), "mse"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _check_labels(y) -> None:
    """Refuse None and a mix of kinds (e.g. "a" and 1) among the labels.

    y as given, before validate_data: NumPy makes [1, "1"] the same
    string twice, and would sort None among strings with an error of its
    own.
    """
    if y is not None:
        check_class_labels(y, "y")


def _plain_classes(classes) -> np.ndarray:
    """partial_fit's classes as a 1-D array of one plain kind, or raise."""
    try:
        shape = np.shape(classes)
    except ValueError:
        shape = None
    if shape is None or len(shape) != 1:
        found = "nested lists" if shape is None else f"shape {shape}"
        raise ValueError(
            f"classes must be 1-D, a flat list of labels, got {found}; list "
            f"every label once, e.g. classes=[0, 1, 2]"
        )
    return check_class_labels(classes, "classes")


def _distinct_labels(labels, name: str) -> np.ndarray:
    """The sorted distinct labels, refusing fewer than two."""
    distinct = np.unique(np.asarray(labels))
    if len(distinct) < 2:
        shown = distinct.tolist()
        raise ValueError(
            f"{name} holds one class only ({shown}); a classifier needs at "
            f"least two"
        )
    return distinct


def _codes(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Each label's position in the sorted `classes`; unknown ones refused."""
    known = np.isin(y, classes)
    if not known.all():
        unseen = np.unique(y[~known]).tolist()
        raise ValueError(
            f"y holds labels the classifier was not fitted with: {unseen}; "
            f"its classes are {classes.tolist()}. Fit afresh "
            f"(warm_start=False) to learn new classes"
        )
    return np.searchsorted(classes, y)
