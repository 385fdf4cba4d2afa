"""One playground session: its data, its `Network`, and the background
thread that trains it one mini-batch at a time with `Network.train_step`."""
import copy
import io
import logging
import math
import secrets
import threading
import time

import numpy as np

from ..explain import explain_iteration
from ..export_python import to_python_source
from ..layers import Dense
from ..network import Network
from ..preprocessing import LabelEncoder, train_test_split
from ..validation import as_dtype
from .config import ConfigError, make_dataset, validate_config

logger = logging.getLogger(__name__)

GRID_SIZE = 40  # the decision grid is GRID_SIZE x GRID_SIZE points
UNIT_GRID_SIZE = 20  # each hidden unit's response grid, coarser
MAX_HISTORY = 2000  # epochs of loss history kept (the latest ones)
MAX_EXPLAIN_ROWS = 64
SLICE_SECONDS = 0.005  # training holds the lock this long, then yields
# One training slice at a time over all sessions: under the GIL more
# would not train faster, and each one more makes requests wait longer.
_SLICE_TURN = threading.Lock()


class SessionError(Exception):
    """A request this session cannot serve now; `status` is the HTTP code."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


class Session:
    """A network, its data and its training thread, behind one lock.

    Parameters
    ----------
    config : dict
        Settings already checked by `config.validate_config`.
    max_train_seconds : float
        Training time the session may use before it pauses itself;
        `reset` and a new config give it a fresh allowance.

    Notes
    -----
    The first steps mirror `Network.fit` exactly (one generator seeded
    by `seed` draws the weights, then each epoch's order), so after k
    whole epochs the weights equal ``fit(X_train, y_train, epochs=k,
    batch_size=..., seed=seed)`` bit for bit.
    """

    def __init__(self, config: dict, max_train_seconds: float):
        self.id = secrets.token_hex(16)
        self.lock = threading.Lock()
        # Serialises train, pause, reset and configure, so a thread is
        # never started while another call waits for it to end.
        self._control = threading.RLock()
        self.max_train_seconds = max_train_seconds
        self.last_used = time.monotonic()
        self._thread = None
        self._stop = threading.Event()
        self._upload = None  # (X, y) while the dataset is "upload"
        self._setup(config)

    # ------------------------------------------------------------------
    # Settings and the fresh start they imply
    # ------------------------------------------------------------------
    def _setup(self, config: dict) -> None:
        """Make the data and a network as `fit` would; epoch 0."""
        self.config = config
        if config["dataset"] == "upload":
            X, y = self._upload
        else:
            X, y = make_dataset(config)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=config["test_ratio"], seed=config["seed"]
        )
        self.X_train, self.y_train = X_train, y_train
        self.X_test, self.y_test = X_test, y_test
        self.network = _network(config, len(np.unique(y)))
        net = self.network

        # What fit does first, in its order: classes, weights, inputs.
        self.rng = np.random.default_rng(config["seed"])
        encoder = LabelEncoder()
        targets, _ = net._encode_targets(y_train, encoder, fit=True)
        net._build(X.shape[1], self.rng)
        net.encoder = encoder
        self.x = net._scale(X_train, "X")
        self.targets = as_dtype(targets, net.dtype, "y")
        test_targets, _ = net._encode_targets(y_test, encoder, fit=False)
        self.x_test = net._scale(X_test, "X_test")
        self.test_targets = as_dtype(test_targets, net.dtype, "y_test")

        n_train = len(y_train)
        wanted = config["batch_size"]
        self.batch_size = n_train if wanted is None else min(wanted, n_train)
        self.extent = _extent(X)
        self.epoch = 0
        self.step_count = 0
        self._position = 0
        self._order = None
        self._epoch_loss = 0.0
        self.history = {"epoch": [], "loss": [], "test_loss": [],
                        "accuracy": [], "test_accuracy": []}
        self.status = "paused"
        self.message = ""
        self.train_seconds = 0.0

    def configure(self, given) -> dict:
        """Merge `given` into the settings and start afresh (paused).

        Choosing a built-in dataset drops uploaded data; keeping "upload"
        keeps it, and its row count stays the points.
        """
        with self._control:
            upload = self._upload
            config = validate_config(given, self.config,
                                     uploaded=upload is not None)
            if config["dataset"] == "upload":
                config["points"] = len(upload[1])
                _check_loss(config, len(np.unique(upload[1])))
            self.pause()
            with self.lock:
                if config["dataset"] != "upload":
                    self._upload = None
                self._setup(config)
        return config

    def upload(self, X: np.ndarray, y: np.ndarray) -> dict:
        """Train on these points from now on (paused, epoch 0).

        X is (n_points, 2) and y (n_points,), as `upload.parse_upload`
        returns them; the split uses the config's test_ratio and seed.
        """
        with self._control:
            config = dict(self.config, dataset="upload", points=len(y),
                          noise=None)
            _check_loss(config, len(np.unique(y)))
            self.pause()
            with self.lock:
                self._upload = (X, y)
                self._setup(config)
        return config

    def reset(self) -> None:
        """New weights from the same seed, epoch 0, same data (paused)."""
        with self._control:
            self.pause()
            with self.lock:
                self._setup(self.config)

    # ------------------------------------------------------------------
    # Training
    # ------------------------------------------------------------------
    def _step(self) -> None:
        """One mini-batch through `Network.train_step`; call under lock."""
        n = self.x.shape[0]
        if self._position == 0 and self.batch_size < n:
            # As in fit: a new order at the start of each epoch.
            self._order = self.rng.permutation(n)
        rows = slice(self._position, self._position + self.batch_size)
        if self._order is not None:
            rows = self._order[rows]

        with np.errstate(over="ignore", invalid="ignore"):
            xb, tb = self.x[rows], self.targets[rows]
            loss = self.network.train_step(xb, tb)
        self.step_count += 1
        if not math.isfinite(loss):
            self.status = "diverged"
            self.message = (
                f"the loss became {loss} at epoch {self.epoch + 1}; reset, "
                f"or configure a smaller lr"
            )
            return
        self._epoch_loss += loss * xb.shape[0]
        self._position += xb.shape[0]
        if self._position >= n:
            self._end_epoch(n)

    def _end_epoch(self, n: int) -> None:
        self.epoch += 1
        self._position = 0
        self._order = None
        test = self.network.evaluate_prepared(self.x_test, self.test_targets)
        train_accuracy = self.network.evaluate_prepared(
            self.x, self.targets
        )["accuracy"]
        # The epoch's loss as fit's History gives it: the batch mean.
        record = {"epoch": self.epoch, "loss": self._epoch_loss / n,
                  "test_loss": test["loss"], "accuracy": train_accuracy,
                  "test_accuracy": test["accuracy"]}
        self._epoch_loss = 0.0
        for key, value in record.items():
            self.history[key].append(value)
            del self.history[key][:-MAX_HISTORY]

    def step(self) -> None:
        """Train exactly one mini-batch; refused while the thread trains."""
        with self.lock:
            self._check_can_train()
            if self.status == "training":
                raise SessionError("training is running; pause it first")
            started = time.perf_counter()
            self._step()
            self.train_seconds += time.perf_counter() - started

    def train(self) -> None:
        """Start the background thread (no-op if it is running)."""
        with self._control, self.lock:
            self._check_can_train()
            if self.status == "training":
                return
            self.status = "training"
            self.message = ""
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name=f"playground-{self.id[:8]}",
                daemon=True,
            )
            self._thread.start()

    def pause(self) -> None:
        """Stop the thread after its current mini-batch and wait for it."""
        with self._control:
            self._stop.set()
            if self._thread is not None:
                self._thread.join()
                self._thread = None
            with self.lock:
                if self.status == "training":
                    self.status = "paused"

    def _check_can_train(self) -> None:
        if self.status == "diverged":
            raise SessionError(f"{self.message}")
        if self.train_seconds >= self.max_train_seconds:
            raise SessionError(
                f"this session has used its {self.max_train_seconds:g} s of "
                f"training time; reset it or configure it to start again",
                status=429,
            )

    def _run(self) -> None:
        """The training thread: slices of steps, the lock let go between."""
        while not self._stop.is_set():
            with _SLICE_TURN, self.lock:
                if self.status != "training":
                    return
                started = time.perf_counter()
                while time.perf_counter() - started < SLICE_SECONDS:
                    self._step()
                    if self.status != "training":
                        break
                self.train_seconds += time.perf_counter() - started
                if self.train_seconds >= self.max_train_seconds:
                    self.status = "paused"
                    self.message = (
                        f"paused: the {self.max_train_seconds:g} s of "
                        f"training time per session is used up"
                    )
                    return
            # Let request threads take the lock between slices.
            time.sleep(0.001)

    # ------------------------------------------------------------------
    # What the page reads
    # ------------------------------------------------------------------
    def summary(self) -> dict:
        """Where training stands, in a few numbers; call under lock."""
        last = {k: (v[-1] if v else None) for k, v in self.history.items()}
        return {
            "id": self.id,
            "status": self.status,
            "message": self.message,
            "epoch": self.epoch,
            "step": self.step_count,
            "batch_size": self.batch_size,
            "train_seconds": round(self.train_seconds, 3),
            "loss": last["loss"],
            "test_loss": last["test_loss"],
            "accuracy": last["accuracy"],
            "test_accuracy": last["test_accuracy"],
        }

    def decision_grid(self, size: int = GRID_SIZE) -> dict:
        """Class probabilities over a size x size grid; call under lock."""
        points = _grid_points(self.extent, size)
        proba = self.network.predict_proba(points)  # (size * size, n_classes)
        return {
            "size": size,
            "extent": self.extent,
            "classes": self.network.classes_.tolist(),
            "proba": _listed(proba.reshape(size, size, -1)),
        }

    def unit_grids(self, size: int = UNIT_GRID_SIZE) -> list:
        """Each hidden unit's activation over the grid; call under lock."""
        points = _grid_points(self.extent, size)
        x = self.network._scale(points, "X")
        self.network.feedforward(x)
        layers = []
        for layer in self.network.layers[:-1]:
            a = layer.output.reshape(size, size, -1)  # (size, size, units)
            layers.append([_listed(a[:, :, j]) for j in range(a.shape[2])])
        return layers

    def state(self) -> dict:
        """Everything the page draws, as JSON-ready values."""
        with self.lock:
            state = self.summary()
            state["config"] = self.config
            state["history"] = {k: _listed(np.array(v, dtype=float))
                                for k, v in self.history.items()}
            state["decision"] = self.decision_grid()
            state["units"] = self.unit_grids()
            state["weights"] = [
                {"W": _listed(layer.params["W"]),
                 "b": _listed(layer.params["b"])}
                for layer in self.network.layers
            ]
            state["points"] = {
                "train": self._points(self.X_train, self.y_train),
                "test": self._points(self.X_test, self.y_test),
            }
        return state

    def _points(self, X: np.ndarray, y: np.ndarray) -> list:
        """[x1, x2, class index] rows; the index is into classes_."""
        codes = np.searchsorted(self.network.classes_, y)
        return [[round(float(p[0]), 5), round(float(p[1]), 5), int(code)]
                for p, code in zip(X, codes)]

    def explain(self, rows: int | None) -> dict:
        """explain_iteration's numbers for the first `rows` training points."""
        n = min(len(self.y_train), MAX_EXPLAIN_ROWS) if rows is None else rows
        if n > len(self.y_train):
            raise SessionError(
                f"rows must be <= the {len(self.y_train)} training points, "
                f"got {n}", status=400,
            )
        with self.lock:
            work = copy.deepcopy(self.network)
            X, y = self.X_train[:n], self.y_train[:n]
            seed = self.config["seed"]
        return explain_iteration(work, X, y, step=1, seed=seed).to_dict()

    def model_bytes(self) -> bytes:
        """The model file `Network.save` writes, built in memory."""
        from ..persistence import _pack

        with self.lock:
            members = _pack(self.network, {"playground": self.config})
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **members)
        return buffer.getvalue()

    def python_source(self) -> str:
        with self.lock:
            return to_python_source(self.network)

    def close(self) -> None:
        self.pause()


def _check_loss(config: dict, n_classes: int) -> None:
    if config["loss"] == "binary_crossentropy" and n_classes > 2:
        raise ConfigError(
            f"loss 'binary_crossentropy' needs 2 classes, but the data has "
            f"{n_classes}; use 'categorical_crossentropy' or 'auto'"
        )


def _network(config: dict, n_classes: int) -> Network:
    """Hidden layers from the config, and the output its loss needs."""
    loss = config["loss"]
    if loss == "auto":
        binary = n_classes == 2
        loss = "binary_crossentropy" if binary else "categorical_crossentropy"
    if loss == "binary_crossentropy":
        output = Dense(1, "sigmoid")
    else:
        output = Dense(n_classes, "softmax")
    hidden = [Dense(layer["units"], layer["activation"])
              for layer in config["layers"]]
    return Network(hidden + [output], loss=loss,
                   optimizer=config["optimizer"], lr=config["lr"])


def _extent(X: np.ndarray) -> list[float]:
    """[x_min, x_max, y_min, y_max] around the data, with a margin."""
    low = np.floor((X.min(axis=0) - 0.25) * 2) / 2
    high = np.ceil((X.max(axis=0) + 0.25) * 2) / 2
    return [float(low[0]), float(high[0]), float(low[1]), float(high[1])]


def _grid_points(extent: list, size: int) -> np.ndarray:
    """(size * size, 2) points; row i of the grid is y = ys[i]."""
    xs = np.linspace(extent[0], extent[1], size)
    ys = np.linspace(extent[2], extent[3], size)
    gx, gy = np.meshgrid(xs, ys)
    return np.column_stack([gx.ravel(), gy.ravel()])


def _listed(a: np.ndarray, decimals: int = 5) -> list:
    """Rounded nested lists, NaN and inf as None (JSON has neither)."""
    a = np.round(np.asarray(a, dtype=np.float64), decimals)
    if np.isfinite(a).all():
        return a.tolist()
    return np.where(np.isfinite(a), a, None).tolist()
