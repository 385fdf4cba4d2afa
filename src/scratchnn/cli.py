"""The `scratchnn` command: train, evaluate, predict and the tutorial.

The only module that prints. Results go to stdout, progress and messages
to stderr. Exit status: 0 success, 1 error, 2 usage, 130 interrupted.
"""
import argparse
import csv
import json
import logging
import os
import sys
import tempfile

import numpy as np

from . import __version__, data
from .atomic import atomic_write
from .errors import ScratchnnError
from .layers import Dense
from .losses import LOSSES
from .network import Network
from .optimizers import SGD, OPTIMIZERS
from .activations import ACTIVATIONS
from .training import Callback

EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130

# A numeric CSV target with at most this many distinct whole numbers is
# read as class labels; anything else is a regression target.
MAX_CLASSES_FOR_NUMBERS = 20


# Learning rates that train every bundled dataset well in the default 100
# epochs; Adam's usual 0.001 leaves the small 2-D problems under-fitted.
DEFAULT_LR = {"adam": 0.003, "sgd": 0.05}


class UserError(Exception):
    """A mistake in the command line or its files: one line, exit 1."""


# ----------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------
class Console:
    """Where the command's words go: results to stdout, the rest to stderr."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet

    def result(self, text: str = "") -> None:
        print(text, file=sys.stdout)

    def note(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr)


class EpochProgress(Callback):
    """A live bar on a terminal, else one line per epoch, on stderr."""

    def __init__(self, epochs: int, console: Console):
        self.epochs = epochs
        self.console = console
        self.bar = None
        if console.quiet or not sys.stderr.isatty():
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self.bar = tqdm(total=epochs, unit="epoch", file=sys.stderr)

    def on_epoch_end(self, epoch, logs):
        shown = {k: v for k, v in logs.items() if k != "seconds"}
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in shown.items()})
            self.bar.update(1)
            return
        width = len(str(self.epochs))
        parts = [f"epoch {epoch:>{width}}/{self.epochs}"]
        parts += [f"{_short(k)} {v:.4f}" for k, v in shown.items()]
        parts.append(f"{logs['seconds']:.2f}s")
        self.console.note("  ".join(parts))

    def on_train_end(self, history):
        if self.bar is not None:
            self.bar.close()


def _short(key: str) -> str:
    return key.replace("accuracy", "acc")


# ----------------------------------------------------------------------
# Arguments
# ----------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scratchnn",
        description="A neural network from scratch in NumPy.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"scratchnn {__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true",
                        help="print results only, no progress")
    common.add_argument("-v", "--verbose", action="store_true",
                        help="also log the library's messages")
    common.add_argument("--json", action="store_true",
                        help="print the results as one JSON object")

    defaults = argparse.ArgumentDefaultsHelpFormatter
    train = commands.add_parser(
        "train", parents=[common], formatter_class=defaults,
        help="train a network and save it",
        description="Train a network, report its test accuracy, save it.",
    )
    _add_data_arguments(train)
    train.add_argument("--layers", default="64",
                       help="hidden layer widths, comma-separated "
                            "(the output layer is added to fit the data)")
    train.add_argument("--activation", default="relu",
                       choices=sorted(set(ACTIVATIONS) - {"softmax"}),
                       help="activation of the hidden layers")
    train.add_argument("--loss", default=None, choices=sorted(LOSSES),
                       help="default: categorical_crossentropy for class "
                            "labels, mse for numeric targets")
    train.add_argument("--optimizer", default="adam",
                       choices=sorted(OPTIMIZERS))
    train.add_argument("--lr", type=float, default=None,
                       help="learning rate (default: "
                            + ", ".join(f"{v:g} for {k}"
                                        for k, v in DEFAULT_LR.items())
                            + ")")
    train.add_argument("--epochs", type=int, default=100)
    train.add_argument("--batch-size", type=int, default=32,
                       help="samples per step (capped at the training rows)")
    train.add_argument("--test-size", type=float, default=0.2,
                       help="share of rows held out for testing; 0 trains "
                            "on all rows")
    train.add_argument("--validation-fraction", type=float, default=0.0,
                       help="share of training rows scored after each "
                            "epoch")
    train.add_argument("--no-standardize", dest="standardize",
                       action="store_false",
                       help="feed the features unscaled")
    train.add_argument("--seed", type=int, default=0,
                       help="seed for weights, split and shuffling")
    train.add_argument("--out", default="model.npz",
                       help="where to write the model file")
    train.add_argument("--plot", default=None,
                       help="where to write the PNG of the training curves "
                            "(default: next to --out, ending in .png)")
    train.add_argument("--no-plot", action="store_true",
                       help="write no PNG")
    train.set_defaults(run=cmd_train)

    evaluate = commands.add_parser(
        "evaluate", parents=[common], formatter_class=defaults,
        help="score a saved model on labelled data",
        description="Print loss and accuracy with a confusion matrix "
                    "(RMSE and R² for regression). On the bundled dataset "
                    "the model was trained on, the held-out test rows are "
                    "used.",
    )
    evaluate.add_argument("model", help="a model file written by train")
    _add_data_arguments(evaluate, default=None)
    evaluate.set_defaults(run=cmd_evaluate)

    predict = commands.add_parser(
        "predict", parents=[common], formatter_class=defaults,
        help="predict each row of a CSV file",
        description="Print one prediction per row of INPUT (a CSV with the "
                    "training feature columns; a target column is ignored).",
    )
    predict.add_argument("model", help="a model file written by train")
    predict.add_argument("input", help="CSV file of feature rows")
    predict.add_argument("--out", default=None,
                         help="write the predictions to this CSV instead")
    predict.set_defaults(run=cmd_predict)

    tutorial = commands.add_parser(
        "tutorial", parents=[common], formatter_class=defaults,
        help="rerun the original tutorial's 3-4-1 network",
        description="The network of 'How to build your own Neural Network "
                    "from scratch in Python': 3-4-1 sigmoid, no biases, "
                    "U[0, 1) weights, sum of squared errors, full batch, "
                    "learning rate 1.",
    )
    tutorial.add_argument("--seed", type=int, default=0,
                          help="seed for the initial weights")
    tutorial.add_argument("--epochs", type=int, default=1500,
                          help="iterations of feedforward + backprop")
    tutorial.set_defaults(run=cmd_tutorial)
    return parser


def _add_data_arguments(parser, default: str | None = "digits") -> None:
    names = ", ".join(data.DATASET_NAMES)
    parser.add_argument(
        "--data", default=default,
        help=f"a bundled dataset ({names}) or a CSV file"
             + ("" if default else "; default: the model's training data"),
    )
    parser.add_argument("--target", default=None,
                        help="target column of a CSV file (default: last)")


# ----------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------
def load_data(spec: str, target: str | None, seed: int) -> dict:
    """Features, targets and names for a dataset name or a CSV path."""
    if spec.lower().endswith(".csv") or os.sep in spec:
        table = data.read_csv(spec, target=target)
        return {
            "X": table.X,
            "y": table.y,
            "feature_names": table.feature_names,
            "target": table.target_name,
            "name": spec,
            "bundled": False,
        }
    if target is not None:
        raise UserError("--target applies to CSV files only")
    X, y = data.load_dataset(spec, seed=seed)
    return {
        "X": X,
        "y": y,
        "feature_names": [f"x{i}" for i in range(X.shape[1])],
        "target": "y",
        "name": spec,
        "bundled": True,
    }


def looks_like_classes(y: np.ndarray) -> bool:
    """True for text labels or a few distinct whole numbers."""
    if y.dtype.kind in "USO":
        return True
    if y.ndim == 2 and y.shape[1] > 1:
        return False
    values = np.unique(y)
    whole = np.all(values == np.round(values))
    return bool(whole) and len(values) <= MAX_CLASSES_FOR_NUMBERS


def split(dataset: dict, test_size: float, seed: int, classify: bool):
    """Train and test parts; None for test when the data is too small."""
    X, y = dataset["X"], dataset["y"]
    if test_size == 0:
        return X, y, None, None
    try:
        X_tr, X_te, y_tr, y_te = data.train_test_split(
            X, y, test_size=test_size, seed=seed, stratify=classify
        )
    except ScratchnnError as error:
        raise SplitTooSmall(str(error)) from None
    return X_tr, y_tr, X_te, y_te


class SplitTooSmall(Exception):
    pass


# ----------------------------------------------------------------------
# Commands
# ----------------------------------------------------------------------
def cmd_train(args, console: Console) -> int:
    _check_train_arguments(args)
    dataset = load_data(args.data, args.target, args.seed)
    classify = (
        args.loss in ("binary_crossentropy", "categorical_crossentropy")
        if args.loss
        else looks_like_classes(dataset["y"])
    )
    loss = args.loss or ("categorical_crossentropy" if classify else "mse")

    plot_path = None if args.no_plot else (
        args.plot or os.path.splitext(args.out)[0] + ".png"
    )
    _check_writable(args.out, "--out")
    if plot_path:
        _check_writable(plot_path, "--plot")

    try:
        X_tr, y_tr, X_te, y_te = split(
            dataset, args.test_size, args.seed, classify
        )
    except SplitTooSmall as why:
        console.note(
            f"note: no test split ({why}); training and reporting on all "
            f"{len(dataset['y'])} rows"
        )
        X_tr, y_tr, X_te, y_te = dataset["X"], dataset["y"], None, None

    net = _make_network(args, loss, y_tr)
    batch_size = min(args.batch_size, len(y_tr))
    console.note(
        f"training {_architecture(net, X_tr.shape[1])} on {dataset['name']} "
        f"({len(y_tr)} training rows"
        + (f", {len(y_te)} test rows" if y_te is not None else "")
        + f"), loss {loss}, {args.optimizer} lr {net.optimizer.lr:g}, "
        f"batch {batch_size}, {args.epochs} epochs, seed {args.seed}"
    )

    progress = EpochProgress(args.epochs, console)
    history = net.fit(
        X_tr,
        y_tr,
        epochs=args.epochs,
        batch_size=batch_size,
        seed=args.seed,
        validation_fraction=args.validation_fraction,
        callbacks=[progress],
    )

    metrics = _final_metrics(net, X_tr, y_tr, X_te, y_te)
    extra = {
        "data": dataset["name"],
        "bundled": dataset["bundled"],
        "target": dataset["target"],
        "feature_names": dataset["feature_names"],
        "seed": args.seed,
        "test_size": args.test_size if X_te is not None else 0.0,
        "metrics": metrics,
        "arguments": _arguments_dict(args),
    }
    net.save(args.out, extra=extra)
    written = [args.out]
    if plot_path:
        if _plot(history, plot_path, f"{dataset['name']}", console):
            written.append(plot_path)

    if args.json:
        console.result(json.dumps({**metrics, "model": args.out}))
    else:
        for key, value in metrics.items():
            console.result(f"{key.replace('_', ' ')} {value:.4f}")
    console.note("wrote " + ", ".join(written))
    if history.interrupted:
        console.note("interrupted: saved the last finished epoch")
        return EXIT_INTERRUPTED
    return 0


def _check_train_arguments(args) -> None:
    if args.epochs < 1:
        raise UserError(f"--epochs must be >= 1, got {args.epochs}")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.lr is not None and not args.lr > 0:
        raise UserError(f"--lr must be > 0, got {args.lr}")
    if not 0.0 <= args.test_size < 1.0:
        raise UserError(
            f"--test-size must be in [0, 1), got {args.test_size}"
        )
    args.hidden = _parse_layers(args.layers)


def _parse_layers(text: str) -> list[int]:
    if text.strip() in ("", "none", "0"):
        return []
    try:
        widths = [int(part) for part in text.split(",")]
    except ValueError:
        raise UserError(
            f"--layers must be widths separated by commas, like 64,32; "
            f"got {text!r}"
        ) from None
    if any(w < 1 for w in widths):
        raise UserError(f"--layers widths must be >= 1, got {text!r}")
    return widths


def _make_network(args, loss: str, y_train) -> Network:
    layers = [Dense(w, activation=args.activation) for w in args.hidden]
    if loss == "categorical_crossentropy":
        n_classes = len(np.unique(np.asarray(y_train).ravel()))
        layers.append(Dense(n_classes, activation="softmax"))
    elif loss == "binary_crossentropy":
        layers.append(Dense(1, activation="sigmoid"))
    else:
        y = np.asarray(y_train)
        if y.dtype.kind not in "biuf":
            raise UserError(
                f"--loss {loss} needs numeric targets, but the target "
                f"column holds text; use categorical_crossentropy"
            )
        n_out = 1 if y.ndim == 1 else y.shape[1]
        layers.append(Dense(n_out, activation="identity"))
    return Network(
        layers,
        loss=loss,
        optimizer=args.optimizer,
        lr=args.lr or DEFAULT_LR[args.optimizer],
        standardize=args.standardize,
    )


def _architecture(net: Network, n_features: int) -> str:
    widths = [n_features] + [layer.units for layer in net.layers]
    return "-".join(str(w) for w in widths)


def _final_metrics(net, X_tr, y_tr, X_te, y_te) -> dict:
    train = net.evaluate(X_tr, y_tr)
    metrics = {f"train_{k}": v for k, v in train.items()}
    if X_te is not None:
        test = net.evaluate(X_te, y_te)
        metrics.update({f"test_{k}": v for k, v in test.items()})
    return metrics


def _arguments_dict(args) -> dict:
    skip = {"run", "json", "quiet", "verbose", "hidden"}
    return {k: v for k, v in vars(args).items() if k not in skip}


def _check_writable(path: str, flag: str) -> None:
    """Fail before training, not after, when an output cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UserError(f"{flag} {path!r} is a folder; give a file name")
    if not os.path.isdir(folder):
        raise UserError(
            f"{flag}: the folder {folder!r} does not exist; create it first"
        )
    # Creating a file is the only test that also catches read-only disks
    # and permissions that os.access cannot see (e.g. for root).
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise UserError(
            f"{flag}: the folder {folder!r} is not writable "
            f"({error.strerror}); choose another"
        ) from None


def _plot(history, path: str, title: str, console: Console) -> bool:
    try:
        from .plots import plot_history
    except ImportError:
        console.note("note: matplotlib is not installed; no plot written "
                     "(pip install 'scratchnn[cli]')")
        return False
    try:
        plot_history(history, path, title=title)
    except ImportError:
        console.note("note: matplotlib is not installed; no plot written "
                     "(pip install 'scratchnn[cli]')")
        return False
    return True


def cmd_evaluate(args, console: Console) -> int:
    net = Network.load(args.model)
    meta = net.metadata
    spec = args.data or meta.get("data")
    if spec is None:
        raise UserError("give --data: the model does not record its data")
    dataset = load_data(spec, args.target, meta.get("seed", 0))
    X, y = dataset["X"], dataset["y"]

    # On the bundled data it was trained on, score the held-out rows only.
    if dataset["bundled"] and spec == meta.get("data") and meta.get("test_size"):
        try:
            _, _, X, y = split(
                dataset, meta["test_size"], meta["seed"], net.is_classifier
            )
            console.note(f"evaluating on the {len(y)} held-out test rows")
        except SplitTooSmall:
            pass

    metrics = net.evaluate(X, y)
    report = dict(metrics)
    if net.is_classifier:
        classes = net.classes_
        matrix = confusion_matrix(y, net.predict(X), classes)
        report["classes"] = [_plain(c) for c in classes]
        report["confusion_matrix"] = matrix.tolist()
    if args.json:
        console.result(json.dumps(report))
        return 0
    for key, value in metrics.items():
        console.result(f"{key} {value:.4f}")
    if net.is_classifier:
        console.result("confusion matrix (rows: true class, columns: "
                       "predicted class)")
        console.result(format_matrix(matrix, classes))
    return 0


def confusion_matrix(y_true, y_pred, classes) -> np.ndarray:
    """Counts of (true class, predicted class) pairs, in `classes` order."""
    index = {c: i for i, c in enumerate(classes.tolist())}
    y_true = np.asarray(y_true).ravel()
    if y_true.dtype.kind == "f" and classes.dtype.kind in "iu":
        y_true = y_true.astype(classes.dtype)
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for t, p in zip(y_true.tolist(), np.asarray(y_pred).tolist()):
        matrix[index[t], index[p]] += 1
    return matrix


def format_matrix(matrix: np.ndarray, classes) -> str:
    labels = [str(c) for c in classes.tolist()]
    width = max(max(map(len, labels)), len(str(matrix.max()))) + 1
    lines = [" " * width + "".join(f"{name:>{width}}" for name in labels)]
    for label, row in zip(labels, matrix):
        lines.append(f"{label:>{width}}" + "".join(f"{n:>{width}}" for n in row))
    return "\n".join(lines)


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def cmd_predict(args, console: Console) -> int:
    net = Network.load(args.model)
    meta = net.metadata
    X = read_prediction_input(args.input, meta)
    predictions = net.predict(X)
    rows = _prediction_rows(net, predictions)

    if args.out:
        _check_writable(args.out, "--out")
        _write_csv(args.out, rows)
        console.note(f"wrote {len(rows) - 1} predictions to {args.out}")
        return 0
    if args.json:
        console.result(json.dumps({"predictions": [r[0] if len(r) == 1 else r
                                                   for r in rows[1:]]}))
        return 0
    for row in rows[1:]:
        console.result(",".join(str(v) for v in row))
    return 0


def read_prediction_input(path: str, meta: dict) -> np.ndarray:
    """The feature columns of a CSV, in the order the model was trained on."""
    expected = meta.get("feature_names")
    target = meta.get("target")
    header = data.read_header(path)
    if expected is None:
        return data.read_features(path, header)
    missing = [c for c in expected if c not in header]
    unknown = [c for c in header if c not in expected and c != target]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"lacks {missing}")
        if unknown:
            parts.append(f"has unknown {unknown}")
        raise UserError(
            f"{path} " + " and ".join(parts) + f"; the model expects the "
            f"columns {expected}"
        )
    return data.read_features(path, expected)


def _prediction_rows(net: Network, predictions: np.ndarray) -> list:
    if net.is_classifier:
        return [["prediction"]] + [[_plain(p)] for p in predictions]
    outputs = predictions.reshape(len(predictions), -1)
    header = ["prediction"] if outputs.shape[1] == 1 else [
        f"prediction_{i}" for i in range(outputs.shape[1])
    ]
    return [header] + [[float(v) for v in row] for row in outputs]


def _write_csv(path: str, rows: list) -> None:
    with atomic_write(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)


def cmd_tutorial(args, console: Console) -> int:
    if args.epochs < 1:
        raise UserError(f"--epochs must be >= 1, got {args.epochs}")
    X, y = data.load_tutorial()
    net = Network(
        [
            Dense(4, activation="sigmoid", use_bias=False, init="uniform"),
            Dense(1, activation="sigmoid", use_bias=False, init="uniform"),
        ],
        loss="sse",
        optimizer=SGD(lr=1.0),
        dtype="float64",
    )
    console.note(
        "the tutorial's network: 3 inputs, 4 sigmoid units, 1 sigmoid "
        "output, no biases, U[0, 1) weights, SSE loss, full batch, lr 1"
    )

    def report(epoch, logs):
        if epoch == 1 or epoch % 100 == 0:
            console.result(f"iteration {epoch:>5}  loss {logs['loss']:.6f}")

    history = net.fit(
        X, y, epochs=args.epochs, batch_size=None, seed=args.seed,
        callbacks=[] if args.json else [report],
    )
    predictions = net.predict(X).ravel()
    if args.json:
        console.result(json.dumps({
            "loss": history["loss"],
            "predictions": predictions.tolist(),
            "targets": y.ravel().tolist(),
        }))
        return 0
    console.result("")
    console.result("input      target  prediction")
    for row, target, guess in zip(X, y.ravel(), predictions):
        inputs = " ".join(str(int(v)) for v in row)
        console.result(f"{inputs}    {target:.0f}       {guess:.4f}")
    return 0


# ----------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    console = Console(quiet=args.quiet)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return args.run(args, console)
    except KeyboardInterrupt:
        print("scratchnn: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `| head -1`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (UserError, ScratchnnError, ValueError, TypeError, OSError) as error:
        print(f"scratchnn: error: {error}", file=sys.stderr)
        return EXIT_ERROR
