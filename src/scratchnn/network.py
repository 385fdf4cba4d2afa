"""Network: a stack of dense layers with a loss and an optimizer.

The tutorial's two steps keep their names: `feedforward` runs each layer's
forward pass, first to last, and `backprop` runs each layer's backward pass,
last to first, so every parameter ends up with its dL/dparameter.
`fit`, `partial_fit`, `predict`, `evaluate`, `save` and `load` are the
rest of the API.
"""
import logging
import math

import numpy as np

from . import streaming, training
from .data import LabelEncoder, StandardScaler, train_test_split
from .diagnostics import Diagnostics
from .errors import DataError, NotFittedError
from .layers import Dense
from .losses import CLASSIFICATION_LOSSES, FUSED_LOSSES, get_loss
from .model_header import DEFAULT_MAX_BYTES
from .optimizers import Optimizer, flat_views, get_optimizer
from .tables import align
from .validation import (
    as_dtype,
    check_class_labels,
    check_features,
    check_lengths,
    check_positive_int,
    check_number,
    check_regression_targets,
    check_seed,
    show_label,
    summarise_problems,
)

logger = logging.getLogger(__name__)

# The output activation each classification loss needs.
_OUTPUT_FOR_LOSS = {
    "categorical_crossentropy": "softmax",
    "binary_crossentropy": "sigmoid",
}


class Network:
    """A feedforward neural network: dense layers, a loss, an optimizer.

    Parameters
    ----------
    layers : list of Dense
        The hidden and output layers, in order. The input width is taken
        from the data at the first `fit` (or `build`).
    loss : str, default="mse"
        "sse" (the tutorial's sum of squared errors), "mse",
        "binary_crossentropy" (needs a 1-unit sigmoid output) or
        "categorical_crossentropy" (needs a softmax output, one unit per
        class). The two cross-entropies make the network a classifier.
    optimizer : str or Optimizer, default="sgd"
        "sgd", "adam", or an optimizer object such as `SGD(lr=1.0)`.
    lr : float or None, default=None
        Learning rate when `optimizer` is a name; None keeps its default.
    dtype : str, default="float32"
        "float32" for speed or "float64" for precision.
    standardize : bool, default=False
        Scale each input feature to mean 0 and standard deviation 1, with
        statistics from the training data, and apply the same scaling in
        `predict`. The statistics are saved with the model.

    Examples
    --------
    >>> from scratchnn import Network, Dense, SGD
    >>> net = Network([Dense(4, "sigmoid"), Dense(1, "sigmoid")],
    ...               loss="sse", optimizer=SGD(lr=1.0))
    """

    def __init__(
        self,
        layers: list,
        loss: str = "mse",
        optimizer: "str | Optimizer" = "sgd",
        lr: float | None = None,
        dtype: str = "float32",
        standardize: bool = False,
    ):
        given = layers
        try:
            layers = list(layers)
        except TypeError:
            layers = None
        if not layers or not all(isinstance(layer, Dense) for layer in layers):
            raise TypeError(
                f"layers must be a non-empty list of Dense layers, got "
                f"{given!r:.80}"
            )
        self.layers = layers
        self.loss = get_loss(loss)
        self.optimizer = get_optimizer(optimizer, lr)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(
                f"dtype must be 'float32' or 'float64', got {dtype!r}"
            )
        self.standardize = bool(standardize)

        output = self.layers[-1].activation.name
        needed = _OUTPUT_FOR_LOSS.get(self.loss.name)
        if needed is not None and output != needed:
            raise ValueError(
                f"loss {self.loss.name!r} needs a {needed} output layer, "
                f"but the last layer uses {output!r}"
            )
        # The loss backprop starts from: fused with the output activation
        # for the cross-entropies, so it takes the logits (see losses.py).
        fused = FUSED_LOSSES.get((output, self.loss.name))
        self._objective = fused() if fused else self.loss

        self.scaler: StandardScaler | None = None
        self.encoder: LabelEncoder | None = None
        self.n_features_in_: int | None = None
        self.history: training.History | None = None
        # JSON-ready notes saved with the model (e.g. the CLI's data name).
        self.metadata: dict = {}
        # During fit, where the run stands (training.TrainingState); after
        # loading a checkpoint, the saved run's state (checkpoint.py).
        self.training_state = None
        self.checkpoint = None
        self.stop_training = False
        # The one generator of a run of partial_fit calls (see there).
        self._partial_rng: np.random.Generator | None = None

    # ------------------------------------------------------------------
    # What the network is
    # ------------------------------------------------------------------
    @property
    def is_classifier(self) -> bool:
        return self.loss.name in CLASSIFICATION_LOSSES

    @property
    def classes_(self) -> np.ndarray:
        """The class labels, in the order of `predict_proba`'s columns.

        A regression network has no such attribute (AttributeError), so
        ``hasattr(network, "classes_")`` tells the two apart.
        """
        self._classifier_only("classes_")
        self._check_fitted()
        return self.encoder.classes_

    def _classifier_only(self, attribute: str) -> None:
        # AttributeError, not ValueError: code that asks hasattr() whether
        # a model is a classifier expects it.
        if not self.is_classifier:
            raise AttributeError(
                f"this regression network (loss {self.loss.name!r}) has no "
                f"{attribute}: only classifiers (a cross-entropy loss) have "
                f"classes and class probabilities; use predict for its "
                f"values"
            )

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].units

    @property
    def is_built(self) -> bool:
        return self.n_features_in_ is not None

    def parameters(self) -> list[np.ndarray]:
        """Every weight and bias array, layer by layer (W then b)."""
        return [p for layer in self.layers for p in layer.params.values()]

    def gradients(self) -> list[np.ndarray]:
        """The gradient arrays matching `parameters()`, from the last backprop."""
        return [g for layer in self.layers for g in layer.grads.values()]

    def check_complete(self, action: str) -> None:
        """NotFittedError unless the network holds all a fit learns: its
        weights and, where it has them, class labels and input scaling.
        `action` ("save", "export") begins each message."""
        if not self.is_built:
            raise NotFittedError(
                f"cannot {action} a network that is not trained yet; call "
                f"fit(X, y) or load a saved model first"
            )
        if self.is_classifier and self.encoder is None:
            raise NotFittedError(
                f"cannot {action} this classifier: it has no class labels "
                f"yet; call fit(X, y) first"
            )
        if self.standardize and self.scaler is None:
            raise NotFittedError(
                f"cannot {action} this network: standardize=True but the "
                f"input scaling is not fitted yet; call fit(X, y) first"
            )

    def __setstate__(self, state: dict) -> None:
        # A copy (or unpickled network) has each gradient as an array of
        # its own; one flat buffer again keeps the optimizer's fast path.
        self.__dict__.update(state)
        self.flatten_gradients()

    def flatten_gradients(self) -> None:
        """Lay every layer's gradient arrays out in one flat buffer.

        Each `layer.grads` entry becomes a view into it, so an optimizer
        can update all weights with one array operation per pass (see
        `optimizers`). Backprop writes into the views as before.
        """
        grads = self.gradients()
        if not grads:
            return
        flat = np.zeros(sum(g.size for g in grads), self.dtype)
        views = iter(flat_views(flat, grads))
        for layer in self.layers:
            for key in layer.grads:
                layer.grads[key] = next(views)

    def build(self, n_features: int, seed: int | None = None) -> "Network":
        """Draw fresh weights for inputs of `n_features` columns."""
        self._build(n_features, np.random.default_rng(check_seed(seed)))
        return self

    def _build(self, n_features: int, rng: np.random.Generator) -> None:
        n_in = check_positive_int(n_features, "n_features")
        for layer in self.layers:
            layer.build(n_in, rng, self.dtype)
            n_in = layer.units
        self.n_features_in_ = n_features
        self.flatten_gradients()
        self.optimizer.reset()
        # New weights start a new run of partial_fit calls.
        self._partial_rng = None

    # ------------------------------------------------------------------
    # The two steps of the tutorial
    # ------------------------------------------------------------------
    def feedforward(self, x: np.ndarray) -> np.ndarray:
        """Return the output layer's activations for x (n_samples, n_in).

        The result is the last layer's workspace, reused by the next pass of
        the same batch size: copy it to keep it (`predict` does).
        """
        a = x
        for layer in self.layers:
            a = layer.forward(a)
        return a  # (n_samples, n_outputs)

    def backprop(self, grad: np.ndarray) -> None:
        """Fill every layer's `grads`, from the loss gradient backwards.

        `grad` is what `self._objective.backward()` returns: dL/d(logits)
        of the output layer when the loss is fused with its activation
        (softmax or sigmoid with cross-entropy), else dL/d(output).
        """
        # Nothing lies before the first layer, so its dL/dx is not needed.
        last, *rest = reversed(self.layers)
        first = self.layers[0]
        if self._objective.from_logits:
            grad = last.backward_from_logits(grad, need_dx=last is not first)
        else:
            grad = last.backward(grad, need_dx=last is not first)
        for layer in rest:
            grad = layer.backward(grad, need_dx=layer is not first)

    def _loss_of_last_output(self, targets: np.ndarray) -> float:
        last = self.layers[-1]
        y_pred = last.logits if self._objective.from_logits else last.output
        return self._objective.forward(y_pred, targets)

    def loss_and_gradients(
        self, x: np.ndarray, targets: np.ndarray
    ) -> tuple[float, list[np.ndarray]]:
        """One feedforward and backprop on prepared arrays, no update.

        Parameters
        ----------
        x : ndarray of shape (n_samples, n_features)
            Inputs already scaled, in the network's dtype.
        targets : ndarray of shape (n_samples, n_outputs)
            Encoded targets: one-hot rows for a softmax classifier, 0/1 for
            a sigmoid one, values for regression.

        Returns
        -------
        loss : float
        grads : list of ndarray
            Copies of the gradients, in the order of `parameters()`.
        """
        self.feedforward(x)
        loss = self._loss_of_last_output(targets)
        self.backprop(self._objective.backward())
        return loss, [g.copy() for g in self.gradients()]

    def train_step(self, x: np.ndarray, targets: np.ndarray) -> float:
        """Feedforward, backprop and one optimizer step; returns the loss."""
        self.feedforward(x)
        loss = self._loss_of_last_output(targets)
        if not math.isfinite(loss):
            return loss
        self.backprop(self._objective.backward())
        self.optimizer.step(self.parameters(), self.gradients())
        return loss

    def check_gradients(
        self,
        X,
        y,
        tol: float = 1e-6,
        eps: float = 1e-6,
        max_entries: int | None = 100,
        seed: int | None = 0,
    ):
        """Compare backprop with central differences on a float64 copy.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Raw features and labels (or targets), as for `fit`.
        tol : float, default=1e-6
            The largest relative error an array may show and pass.
        eps : float, default=1e-6
            How far each weight is moved either way.
        max_entries : int or None, default=100
            Larger arrays have this many entries checked, drawn at random
            with `seed`; None checks them all.
        seed : int or None, default=0
            Seeds that draw (and the weights of an unbuilt network).

        Returns
        -------
        gradcheck.GradientCheck
            Each weight and bias array's worst relative error, pass or
            fail, and `passed` overall. The network is not changed; see
            `gradcheck.check_gradients` for how errors are measured.
        """
        from .gradcheck import check_gradients

        return check_gradients(self, X, y, tol=tol, eps=eps,
                               max_entries=max_entries, seed=seed)

    def output_classes(self) -> np.ndarray:
        """Class codes (0..k-1) from the last feedforward's output."""
        return self._classes_from_output(self.layers[-1].output)

    def _logits(self, x: np.ndarray) -> np.ndarray:
        """The output layer's z for x: feedforward without its activation."""
        a = x
        for layer in self.layers[:-1]:
            a = layer.forward(a)
        return self.layers[-1].forward(a, activate=False)

    def _classes_from_logits(self, z: np.ndarray) -> np.ndarray:
        if self.loss.name == "binary_crossentropy":
            return (z[:, 0] >= 0).astype(np.int64)
        return z.argmax(axis=1)

    def _classes_from_output(self, a: np.ndarray) -> np.ndarray:
        if self.loss.name == "binary_crossentropy":
            return (a[:, 0] >= 0.5).astype(np.int64)
        return a.argmax(axis=1)

    # ------------------------------------------------------------------
    # Training
    # ------------------------------------------------------------------
    def fit(
        self,
        X,
        y,
        epochs: int = 100,
        batch_size: "int | None | str" = "auto",
        shuffle: bool = True,
        seed: int | None = None,
        validation_data: tuple | None = None,
        validation_fraction: float = 0.0,
        verbose: int = 0,
        callbacks: list | None = None,
        warm_start: bool = False,
        resume=None,
        diagnose: bool = False,
    ) -> training.History:
        """Train the network on X and y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric features; integer and boolean arrays are converted.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (int, float or str) for a classifier, numbers for
            regression.
        epochs : int, default=100
            Passes over the training data.
        batch_size : int, None or "auto", default="auto"
            Samples per gradient step; None uses the whole set (full
            batch) and "auto" means 32, or all rows when there are fewer.
        shuffle : bool, default=True
            Draw a new order of the samples each epoch.
        seed : int >= 0 or None, default=None
            Seeds the one generator behind the initial weights, the
            validation split and the shuffling: the same seed gives the same
            result. None draws fresh entropy.
        validation_data : tuple (X_val, y_val) or None, default=None
            Held-out data scored after each epoch.
        validation_fraction : float, default=0.0
            Else, the share of X held out for validation, rounded down to
            whole samples (stratified for classifiers). It must hold out at
            least one sample (and, for classifiers, one of each class), and
            cannot be combined with `validation_data`.
        verbose : int, default=0
            1 logs one line per epoch at INFO level.
        callbacks : list, default=None
            `training.Callback` objects, or functions f(epoch, logs) called
            at each epoch's end.
        warm_start : bool, default=False
            Continue from the current weights, optimizer state and scaling
            instead of starting afresh.
        resume : str or os.PathLike or None, default=None
            A checkpoint written during an earlier run of this same call
            (see `checkpoint.Checkpoint`): training goes on after its last
            epoch and ends as the uninterrupted run would have, bit for bit.
            The network, data and arguments must be the same (only `epochs`
            may grow); anything else is refused.
        diagnose : bool, default=False
            Watch the run for common failures (unscaled inputs, dead or
            saturated units, exploding or vanishing gradients, divergence,
            plateaus) and warn about each with a fix; see `diagnostics`.
            Costs one small forward pass per epoch, nothing per step.

        Returns
        -------
        History
            Per-epoch "loss" (plus "accuracy" for classifiers, and "val_"
            metrics with validation data).

        Raises
        ------
        TypeError, ValueError
            When an argument has the wrong type or value; checked before
            any work.
        DataError
            Before training, when the data hold NaN or inf, or values too
            large for the network's dtype (beyond ±3.4e38 for float32).
        TrainingDivergedError
            When the loss becomes NaN or inf; the network keeps the
            parameters of the last finished epoch.
        """
        # The arguments first, so a mistake costs no work.
        epochs = check_positive_int(epochs, "epochs")
        fraction = check_number(validation_fraction, "validation_fraction")
        if not 0.0 <= fraction < 1.0:
            raise ValueError(
                f"validation_fraction must be in [0, 1), got {fraction}"
            )
        validation_data = _check_validation_data(validation_data, fraction)
        callbacks = training.check_callbacks(callbacks)
        if not isinstance(diagnose, (bool, np.bool_)):
            raise TypeError(
                f"diagnose must be True or False, got {diagnose!r:.40}"
            )
        if diagnose:
            callbacks.append(Diagnostics())
        rng = np.random.default_rng(check_seed(seed))
        if resume is not None:
            if warm_start:
                raise ValueError("give resume or warm_start, not both")
            from .checkpoint import load_checkpoint

            saved = load_checkpoint(resume)

        # A memory-mapped X stays on disk and is read a batch at a time.
        streamed = streaming.is_mapped(X)
        X = _check_streamed(X) if streamed else check_features(X, "X")
        check_lengths(X, y)
        continuing = warm_start and self.is_built
        # Weights drawn by `build` alone come without the class labels and
        # scaling that a fit learns: warm_start learns those from this data.
        new_encoder = self.is_classifier and (
            not continuing or self.encoder is None
        )
        new_scaler = self.standardize and (
            not continuing or self.scaler is None
        )
        if continuing:
            _check_width(X, self.n_features_in_)
        encoder = LabelEncoder() if new_encoder else self.encoder

        # Everything that can be checked without the generator is checked
        # before the weights are drawn: targets, validation data, sizes.
        # The new encoder waits until then, so a fit that fails here leaves
        # a trained network as it was.
        targets, labels = self._encode_targets(y, encoder, fit=new_encoder)
        val = None
        n_val = 0
        if validation_data is not None:
            X_val, y_val = validation_data
            X_val = check_features(X_val, "X_val", n_features=X.shape[1])
            check_lengths(X_val, y_val, "X_val", "y_val")
            val_targets, _ = self._encode_targets(
                y_val, encoder, fit=False, name="y_val"
            )
            val = (X_val, val_targets)
        elif fraction > 0:
            n_val = self._validation_size(
                X.shape[0], labels, encoder, fraction
            )
        batch_size = _batch_size(batch_size, X.shape[0] - n_val)

        if not continuing:
            self.scaler = None
            self._build(X.shape[1], rng)
        self.encoder = encoder

        # Hold out validation data, then fit the scaling on the rest only.
        if n_val:
            X, val, targets, labels = self._split_validation(
                X, targets, labels, n_val, rng
            )
        if new_scaler:
            if streamed:
                self.scaler = StandardScaler().fit_blocks(X.blocks, X.shape)
            else:
                self.scaler = StandardScaler().fit(X)
        if streamed:
            X.prepare(self.scaler, self.dtype)
            x = X
        else:
            x = self._scale(X, "X")
        targets = as_dtype(targets, self.dtype, "y")
        if val is not None:
            X_val, val_targets = val
            val = (
                self._scale(X_val, "X_val"),
                as_dtype(val_targets, self.dtype, "y_val"),
            )

        # The arguments that decide what each epoch does, for checkpoints.
        arguments = {
            "seed": seed,
            "epochs": epochs,
            "batch_size": batch_size,
            "shuffle": bool(shuffle),
            "validation_fraction": fraction,
            "validation_data": validation_data is not None,
        }
        state = training.TrainingState(rng, arguments, x, targets)
        if resume is not None:
            from .checkpoint import restore

            restore(self, saved, state)

        history = training.run_training(
            self,
            x,
            targets,
            labels,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=shuffle,
            rng=rng,
            validation=val,
            verbose=verbose,
            callbacks=callbacks,
            state=state,
        )
        if continuing and self.history is not None:
            self.history.extend(history)
        else:
            self.history = history
        return history

    def _encode_targets(
        self,
        y,
        encoder: LabelEncoder | None,
        fit: bool,
        name: str = "y",
        purpose: str = "training",
    ) -> tuple:
        """Targets as the network sees them, and integer labels if any.

        For a classifier, `encoder` turns labels into codes; `fit` first
        fits it to y.
        """
        if not self.is_classifier:
            targets = check_regression_targets(
                y, self.n_outputs, name, purpose
            )
            return targets, None

        if fit:
            codes = encoder.fit_transform(y)
            self._check_classes(encoder.classes_)
        else:
            # Read here, so a bad label is named as the caller knows it.
            labels = check_class_labels(y, name, purpose)
            codes = encoder.transform(labels)
        # Made in the network's dtype, so they need no cast or check later.
        if self.loss.name == "binary_crossentropy":
            targets = codes.reshape(-1, 1).astype(self.dtype)
        else:
            one_hot = np.eye(self.n_outputs, dtype=self.dtype)
            targets = one_hot[codes]  # (n_samples, n_classes)
        return targets, codes

    def _check_classes(self, classes: np.ndarray) -> None:
        if len(classes) < 2:
            raise DataError(
                f"y contains a single class ({classes[0]}); a classifier "
                f"needs at least two"
            )
        if self.loss.name == "binary_crossentropy":
            if len(classes) != 2 or self.n_outputs != 1:
                raise DataError(
                    f"binary_crossentropy needs 2 classes and a 1-unit "
                    f"output layer, got {len(classes)} classes and "
                    f"{self.n_outputs} units; for more classes use "
                    f"categorical_crossentropy with a softmax output"
                )
        elif len(classes) != self.n_outputs:
            raise DataError(
                f"the output layer has {self.n_outputs} units but y has "
                f"{len(classes)} classes; use "
                f"Dense({len(classes)}, activation='softmax') as the last "
                f"layer"
            )

    def _validation_size(
        self, n_samples: int, labels, encoder, fraction: float
    ) -> int:
        """Rows validation_fraction holds out, or DataError if unusable.

        `labels` are the class codes of a classifier, from `encoder` (both
        None for regression); the split must keep each class in both parts.
        """
        # 0.29 * 100 is 28.999999999999996 in floating point: round first.
        n_val = math.floor(round(fraction * n_samples, 9))
        n_train = n_samples - n_val
        start = f"validation_fraction={fraction} of {n_samples} samples"
        if n_val == 0:
            raise DataError(
                f"{start} gives 0 validation samples; use more data or "
                f"validation_fraction=0"
            )
        if n_train == 0:
            raise DataError(
                f"{start} leaves no training samples; use a smaller "
                f"validation_fraction"
            )
        if labels is None:
            return n_val

        # Stratified: each class present needs a sample on both sides.
        classes = encoder.classes_
        counts = np.bincount(labels, minlength=len(classes))
        rare = [
            f"class {show_label(label)} has only 1 sample"
            for label, count in zip(classes, counts)
            if count == 1
        ]
        if rare:
            raise DataError(
                f"validation_fraction={fraction} needs every class in both "
                f"the training and the validation part, but "
                f"{summarise_problems(rare, 'classes', sep=', ')}; add "
                f"samples of such classes, pass validation_data, or use "
                f"validation_fraction=0"
            )
        n_classes = np.count_nonzero(counts)
        if min(n_val, n_train) < n_classes:
            change = "larger" if n_val < n_train else "smaller"
            raise DataError(
                f"{start} gives {n_train} training and {n_val} validation "
                f"samples, too few to hold all {n_classes} classes in each "
                f"part; use a {change} validation_fraction or more data"
            )
        return n_val

    def _split_validation(self, X, targets, labels, n_val: int, rng):
        """Hold out n_val rows (checked by _validation_size) for validation."""
        seed = int(rng.integers(2**32))
        rows = np.arange(X.shape[0])
        stratify_by = labels if labels is not None else rows
        train_rows, val_rows, _, _ = train_test_split(
            rows,
            stratify_by,
            test_size=n_val,
            seed=seed,
            stratify=labels is not None,
        )
        kept_labels = None if labels is None else labels[train_rows]
        if isinstance(X, streaming.MappedRows):
            # The held-out rows are read into memory; the rest stay mapped.
            val = (X.gather(val_rows), targets[val_rows])
            return X.subset(train_rows), val, targets[train_rows], kept_labels
        val = (X[val_rows], targets[val_rows])
        return X[train_rows], val, targets[train_rows], kept_labels

    def _scale(self, X: np.ndarray, name: str) -> np.ndarray:
        """Standardise X if the network does, then cast to its dtype.

        Block by block into the result, so the float64 arithmetic needs
        a block's worth of memory, not several copies of X.
        """
        if self.scaler is None:
            return as_dtype(X, self.dtype, name)
        out = np.empty(X.shape, self.dtype)
        step = streaming.block_rows(X.shape[1])
        for start in range(0, X.shape[0], step):
            block = self.scaler.transform(X[start:start + step],
                                          first_row=start)
            out[start:start + block.shape[0]] = as_dtype(
                block, self.dtype, f"{name} after standardising", start
            )
        return out

    # ------------------------------------------------------------------
    # Training in pieces
    # ------------------------------------------------------------------
    def partial_fit(
        self,
        X,
        y,
        classes=None,
        batch_size: "int | None | str" = "auto",
        shuffle: bool = True,
        seed: int | None = None,
    ) -> training.History:
        """Train for one epoch on X and y, continuing where training stands.

        Each call is one pass of mini-batch updates over the rows given,
        starting from the current weights and optimizer state, so data
        that arrive in pieces (or do not fit in memory) can be learned
        piece by piece.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels, each one of `classes`, or regression targets.
        classes : array-like of shape (n_classes,) or None, default=None
            Every label the classifier will ever see. Required by a
            classifier's first call, because later batches may hold labels
            this one lacks; it sets `classes_` (sorted) and the columns of
            `predict_proba`. Later calls may omit it or repeat the same
            labels. Regression networks take no classes.
        batch_size : int, None or "auto", default="auto"
            As in `fit`: "auto" is 32, or all rows when there are fewer.
        shuffle : bool, default=True
            Visit the rows in a new random order.
        seed : int >= 0 or None, default=None
            Seeds the generator of this run of calls: the initial weights
            (when this call builds the network) and every later call's
            shuffling. Only the first call of a run reads it.

        Returns
        -------
        History
            This epoch's "loss" (and "accuracy" for a classifier). The
            network's `history` gains the same epoch after those before.

        Raises
        ------
        ValueError
            When a classifier's first call has no `classes`, or a later
            call gives other classes than the network has.
        DataError
            When y holds a label outside the network's classes, or the data
            hold NaN or inf. Nothing is updated.
        NotImplementedError
            With ``standardize=True``, unless an earlier `fit` has already
            fitted the scaling, which is then reused unchanged.

        Notes
        -----
        A run of calls starts when a call finds no generator of its own:
        at the first call, or the first after `fit` or `build` drew new
        weights. Starting from an unbuilt network, ``partial_fit(X, y,
        classes, seed=s)`` called k times on the same data equals
        ``fit(X, y, epochs=k, seed=s)`` with the same batch size and
        shuffling.
        """
        seed = check_seed(seed)
        if self.standardize and self.scaler is None:
            raise NotImplementedError(
                "partial_fit with standardize=True is not supported: one "
                "batch cannot give honest mean and standard deviation "
                "statistics for all the data; scale the inputs yourself and "
                "use standardize=False, or fit the whole data once first"
            )

        # Check everything before drawing weights, so a refused call
        # leaves the network as it was.
        X = check_features(X, "X", n_features=self.n_features_in_)
        check_lengths(X, y)
        encoder = self._partial_fit_encoder(classes)
        if encoder is not None:
            self._check_known_labels(y, encoder.classes_)
        targets, labels = self._encode_targets(y, encoder, fit=False)
        batch_size = _batch_size(batch_size, X.shape[0])
        x = self._scale(X, "X")
        targets = as_dtype(targets, self.dtype, "y")

        if not self.is_built:
            rng = np.random.default_rng(seed)
            self._build(X.shape[1], rng)
            self._partial_rng = rng
        elif self._partial_rng is None:
            self._partial_rng = np.random.default_rng(seed)
        self.encoder = encoder

        history = training.run_training(
            self,
            x,
            targets,
            labels,
            epochs=1,
            batch_size=batch_size,
            shuffle=shuffle,
            rng=self._partial_rng,
        )
        if self.history is None:
            self.history = training.History()
        self.history.extend(history)
        return history

    def _partial_fit_encoder(self, classes) -> LabelEncoder | None:
        """The label encoder partial_fit uses, checked against `classes`."""
        if not self.is_classifier:
            if classes is not None:
                raise ValueError(
                    f"classes is only for classifiers; this regression "
                    f"network (loss {self.loss.name!r}) takes "
                    f"partial_fit(X, y) without it"
                )
            return None
        if classes is None:
            if self.encoder is None:
                raise ValueError(
                    "the first partial_fit of a classifier needs "
                    "classes=[...], the full list of labels, because later "
                    "batches may hold labels this one lacks"
                )
            return self.encoder

        # Read under its own name first, so a bad label says "classes".
        distinct = np.unique(check_class_labels(classes, "classes"))
        if distinct.size < 2:
            raise ValueError(
                f"classes must list at least two labels, got "
                f"[{_show_labels(distinct)}]"
            )
        # Fitted on what the caller gave, so object labels stay object.
        declared = LabelEncoder().fit(classes)
        if self.encoder is None:
            # Same rules as fit: the output layer must match the classes.
            self._check_classes(declared.classes_)
            return declared

        known = self.encoder.classes_
        same_kind = (known.dtype.kind == "U") == (
            declared.classes_.dtype.kind == "U"
        )
        if not (same_kind and np.array_equal(known, declared.classes_)):
            raise ValueError(
                f"classes [{_show_labels(declared.classes_)}] differ from "
                f"this network's classes [{_show_labels(known)}]; pass the "
                f"same labels as before, or leave classes out"
            )
        return self.encoder

    def _check_known_labels(self, y, known: np.ndarray) -> None:
        """DataError naming the labels of y that are not in `known`."""
        labels = check_class_labels(y, "y")
        # Text and numbers never match; setdiff1d must not compare them.
        if (labels.dtype.kind == "U") == (known.dtype.kind == "U"):
            unknown = np.setdiff1d(labels, known)
        else:
            unknown = np.unique(labels)
        if unknown.size:
            raise DataError(
                f"y holds labels outside this network's classes: "
                f"{_show_labels(unknown)}; the known classes are "
                f"{_show_labels(known)}. A network cannot add classes "
                f"later: declare every label in classes=[...] at the "
                f"first partial_fit"
            )

    # ------------------------------------------------------------------
    # Using a trained network
    # ------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not self.is_built:
            raise NotFittedError(
                "this network is not trained yet; call fit(X, y) or load a "
                "saved model first"
            )

    def _prepare(self, X, purpose: str) -> np.ndarray:
        self._check_fitted()
        X = check_features(
            X,
            "X",
            n_features=self.n_features_in_,
            allow_empty=True,
            purpose=purpose,
        )
        return self._scale(X, "X")

    def predict(self, X) -> np.ndarray:
        """Predict class labels, or values for regression.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) for a classifier, holding labels of
        the kind given to `fit`; (n_samples, n_outputs) for regression.
        """
        if not self.is_classifier:
            return _joined(
                output.copy() for _, output in self._outputs(X, "predicting")
            )
        # Softmax and sigmoid keep the order of the logits (and σ(z) >= 0.5
        # exactly when z >= 0), so the class needs no output activation.
        codes = _joined(
            self._classes_from_logits(logits)
            for _, logits in self._outputs(X, "predicting", logits=True)
        )
        return self.encoder.decode(codes)

    @property
    def predict_proba(self):
        """predict_proba(X): class probabilities, in `classes_` order.

        Returns an ndarray of shape (n_samples, n_classes). Only classifiers
        have this method: on a regression network the attribute itself is
        missing (AttributeError), so ``hasattr`` tells the two apart.
        """
        self._classifier_only("predict_proba")
        return self._predict_proba

    def _predict_proba(self, X) -> np.ndarray:
        if self.loss.name == "binary_crossentropy":
            return _joined(
                np.hstack([1.0 - output, output])
                for _, output in self._outputs(X, "predicting")
            )
        return _joined(
            output.copy() for _, output in self._outputs(X, "predicting")
        )

    def _outputs(self, X, purpose: str, logits: bool = False):
        """(rows, output) pairs: the network's output for X, in order.

        An array in memory goes through in one pass; a memory-mapped one
        (see `streaming`) block by block, so it is never held whole. Each
        output is a workspace the next pass overwrites: use it at once.
        With `logits`, the output layer's z comes instead of σ(z).
        """
        def forward(x, start=0):
            # An overflow is reported below, with its row, not as a warning.
            with np.errstate(over="ignore", invalid="ignore"):
                output = (self._logits if logits else self.feedforward)(x)
                finite = math.isfinite(output.sum())
            if not finite:
                _refuse_overflow(output, start)
            return output

        if not streaming.is_mapped(X):
            yield slice(None), forward(self._prepare(X, purpose))
            return
        self._check_fitted()
        if not isinstance(X, streaming.MappedRows):
            X = streaming.MappedRows(X)
        _check_width(X, self.n_features_in_)
        X.check_values(purpose)
        X.prepare(self.scaler, self.dtype)
        step = streaming.block_rows(X.shape[1])
        buffer = np.empty((min(step, len(X)), X.shape[1]), self.dtype)
        if len(X) == 0:
            yield slice(0, 0), forward(buffer)
        for start in range(0, len(X), step):
            rows = slice(start, min(start + step, len(X)))
            n = rows.stop - start
            yield rows, forward(X.take(rows, out=buffer[:n]), start)

    def evaluate(self, X, y) -> dict:
        """Score the network on labelled data.

        Returns
        -------
        dict
            "loss" and "accuracy" for a classifier; "loss", "rmse" and "r2"
            for regression (R² averaged over the outputs).
        """
        if streaming.is_mapped(X):
            return self._evaluate_blocks(X, y)
        x = self._prepare(X, "evaluating")
        check_lengths(x, y)
        if x.shape[0] == 0:
            raise DataError("X has 0 samples; need at least 1 to evaluate")
        targets, _ = self._encode_targets(
            y, self.encoder, fit=False, purpose="evaluating"
        )
        return self.evaluate_prepared(x, as_dtype(targets, self.dtype, "y"))

    def _evaluate_blocks(self, X, y) -> dict:
        """`evaluate` for memory-mapped X: the same metrics, summed block
        by block (so they may differ from one pass in the last digits)."""
        self._check_fitted()
        check_lengths(X, y)
        if X.shape[0] == 0:
            raise DataError("X has 0 samples; need at least 1 to evaluate")
        targets, _ = self._encode_targets(
            y, self.encoder, fit=False, purpose="evaluating"
        )
        targets = as_dtype(targets, self.dtype, "y")
        n_samples = targets.shape[0]
        sums_loss = self.loss.name == "sse"
        loss, correct, squared_error = 0.0, 0, 0.0
        for rows, output in self._outputs(X, "evaluating"):
            part = targets[rows]
            block_loss = self._loss_of_last_output(part)
            loss += block_loss if sums_loss else block_loss * part.shape[0]
            if self.is_classifier:
                predicted = self._classes_from_output(output)
                correct += int(np.sum(predicted == self._true_classes(part)))
            else:
                error = output.astype(np.float64) - part
                squared_error = squared_error + np.sum(error**2, axis=0)
        loss = loss if sums_loss else loss / n_samples
        if self.is_classifier:
            return {"loss": loss, "accuracy": correct / n_samples}
        return {
            "loss": loss,
            "rmse": float(np.sqrt(np.sum(squared_error) / targets.size)),
            "r2": _r2_from_residuals(targets, squared_error),
        }

    def _true_classes(self, targets: np.ndarray) -> np.ndarray:
        """Class codes from encoded targets (0/1 column or one-hot rows)."""
        if self.loss.name == "binary_crossentropy":
            return targets[:, 0].astype(np.int64)
        return targets.argmax(axis=1)

    def evaluate_prepared(
        self, x: np.ndarray, targets: np.ndarray, prefix: str = ""
    ) -> dict:
        """Metrics on already scaled and encoded arrays."""
        output = self.feedforward(x)
        loss = self._loss_of_last_output(targets)
        if self.is_classifier:
            truth = self._true_classes(targets)
            accuracy = float(np.mean(self._classes_from_output(output) == truth))
            return {f"{prefix}loss": loss, f"{prefix}accuracy": accuracy}

        error = output.astype(np.float64) - targets
        rmse = float(np.sqrt(np.mean(error**2)))
        return {
            f"{prefix}loss": loss,
            f"{prefix}rmse": rmse,
            f"{prefix}r2": _r2(targets, error),
        }

    # ------------------------------------------------------------------
    # Files and text
    # ------------------------------------------------------------------
    def save(self, path, extra: dict | None = None) -> None:
        """Write the whole model to one file (see `persistence`).

        `extra` is JSON-ready metadata kept in the file and given back as
        `metadata` on load; None keeps the network's current `metadata`.
        """
        from .persistence import save_model

        save_model(self, path, extra=extra)

    @classmethod
    def load(
        cls, path, max_bytes: int | None = DEFAULT_MAX_BYTES
    ) -> "Network":
        """Read a model written by `save`; never runs code from the file.

        `max_bytes` caps the data the file may declare (see `load_model`).
        """
        from .persistence import load_model

        return load_model(path, max_bytes=max_bytes)

    def config(self) -> dict:
        """The architecture, loss, optimizer and options as JSON-ready values."""
        return {
            "layers": [layer.config() for layer in self.layers],
            "loss": self.loss.name,
            "optimizer": self.optimizer.config(),
            "dtype": self.dtype.name,
            "standardize": self.standardize,
        }

    def summary(self) -> str:
        """A table of the layers, then the loss, optimizer and training.

        Each layer shows its input and output widths, the shapes of its
        weights and bias, its activation and its parameter count; then
        come the total, the loss and optimizer settings, the training
        data's shape and the metrics of the last epoch in `history`.

        Notes
        -----
        The number of training rows is known only from
        ``metadata["train_shape"]`` ([rows, features]), which the command
        line records; otherwise only the feature count is shown. Widths,
        shapes and counts read "?" until the network is built.
        """
        header = ("layer", "input", "output", "weights", "activation",
                  "params")
        table = [header]
        for i, layer in enumerate(self.layers):
            shapes = ", ".join(
                f"{key} {value.shape}" for key, value in layer.params.items()
            )
            # Settings such as leaky_relu's slope are part of the name.
            config = layer.activation.config()
            settings = ", ".join(
                f"{key}={value}" for key, value in config.items()
                if key != "name"
            )
            name = config["name"] + (f"({settings})" if settings else "")
            count = str(layer.n_params) if layer.params else "?"
            n_in = layer.n_in or "?"
            table.append(
                (str(i), str(n_in), str(layer.units), shapes or "?", name,
                 count)
            )

        # Numbers right-aligned, words left-aligned, columns 2 apart.
        lines = align(table, numeric={1, 2, 5})

        total = sum(p.size for p in self.parameters())
        lines.append(
            f"total parameters: {total}" if self.is_built
            else "total parameters: ? (not built yet)"
        )
        optimizer = self.optimizer.config()
        settings = ", ".join(
            f"{key} {value:g}" if isinstance(value, float)
            else f"{key} {value}"
            for key, value in optimizer.items() if key != "name"
        )
        lines.append(f"loss: {self.loss.name}  optimizer: "
                     f"{optimizer['name']} ({settings})")
        if self.is_built:
            shape = self.metadata.get("train_shape")
            rows = ""
            if isinstance(shape, list) and len(shape) == 2:
                rows = f"{shape[0]} rows x "
            lines.append(
                f"training data: {rows}{self.n_features_in_} features"
            )
        if self.history is not None and len(self.history) > 0:
            final = "  ".join(
                f"{key} {values[-1]:.4f}"
                for key, values in self.history.history.items()
                if key != "seconds"
            )
            lines.append(f"after epoch {len(self.history)}: {final}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        layers = ", ".join(repr(layer) for layer in self.layers)
        return (
            f"Network([{layers}], loss={self.loss.name!r}, "
            f"optimizer={self.optimizer.name!r})"
        )


def _refuse_overflow(output: np.ndarray, start: int) -> None:
    """Refuse outputs that overflowed (finite inputs, NaN or inf out).

    Inputs far outside the training data, or huge weights, can overflow
    the network's dtype on the way; a NaN probability would otherwise come
    back as a made-up class. (A sum that overflowed alone passes.)
    """
    bad = ~np.isfinite(output)
    if bad.any():
        row = int(np.argwhere(bad)[0][0]) + start
        raise DataError(
            f"the network's output for row {row} overflowed to "
            f"{output[row - start][bad[row - start]][0]}: the inputs of that "
            f"row (or the weights) are too large for dtype={output.dtype}; "
            f"scale the inputs like the training data, or use "
            f"dtype='float64'"
        )


def _joined(parts) -> np.ndarray:
    """The blocks of `Network._outputs` as one array (one block as it is)."""
    parts = list(parts)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _check_streamed(X) -> "streaming.MappedRows":
    """A memory-mapped X as MappedRows, its values checked block by block."""
    rows = X if isinstance(X, streaming.MappedRows) else streaming.MappedRows(X)
    if len(rows) == 0:
        raise DataError(
            f"X has 0 samples (shape {rows.shape}); need at least 1"
        )
    rows.check_values()
    return rows


def _check_width(X, n_features: int) -> None:
    """Refuse X whose columns are not the ones the network was built for."""
    if X.shape[1] != n_features:
        raise DataError(
            f"the model expects {n_features} features, got {X.shape[1]} "
            f"(X has shape {X.shape}); give the same columns, in the "
            f"same order, as in training"
        )


def _check_validation_data(validation_data, fraction: float):
    """(X_val, y_val) or None; refuses other shapes and a second split."""
    if validation_data is None:
        return None
    if not isinstance(validation_data, (tuple, list)):
        raise TypeError(
            f"validation_data must be a pair (X_val, y_val), got "
            f"{type(validation_data).__name__}"
        )
    if len(validation_data) != 2:
        raise ValueError(
            f"validation_data must be a pair (X_val, y_val), got "
            f"{len(validation_data)} items"
        )
    if fraction > 0:
        raise ValueError(
            f"give validation_data or validation_fraction, not both "
            f"(got validation_fraction={fraction}); set "
            f"validation_fraction=0 to score on validation_data"
        )
    return validation_data


def _batch_size(batch_size, n_train: int) -> int:
    """Resolve "auto" (32, or fewer rows) and None (all rows), then check."""
    if batch_size == "auto":
        batch_size = min(32, n_train)
    elif batch_size is None:
        batch_size = n_train
    batch_size = check_positive_int(batch_size, "batch_size")
    if batch_size > n_train:
        raise ValueError(
            f"batch_size={batch_size} is larger than the {n_train} "
            f"training samples; use a value <= {n_train}, or "
            f"batch_size=None for full-batch training"
        )
    return batch_size


def _show_labels(labels: np.ndarray, most: int = 20) -> str:
    """Labels as a user would type them, comma-separated, `most` at most."""
    shown = ", ".join(show_label(label) for label in labels[:most])
    return shown + (", ..." if len(labels) > most else "")


def _r2(targets: np.ndarray, error: np.ndarray) -> float:
    """Coefficient of determination, averaged over output columns."""
    return _r2_from_residuals(targets, np.sum(error**2, axis=0))


def _r2_from_residuals(targets: np.ndarray, ss_res: np.ndarray) -> float:
    """R² averaged over outputs, from each output's sum of squared errors."""
    ss_tot = np.sum((targets - targets.mean(axis=0)) ** 2, axis=0)
    # A constant target has no variance to explain: 1 if hit exactly, else 0.
    safe = np.where(ss_tot > 0, ss_tot, 1.0)
    per_output = np.where(ss_tot > 0, 1.0 - ss_res / safe, (ss_res == 0) * 1.0)
    return float(np.mean(per_output))
