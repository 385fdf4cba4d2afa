"""The `scratchnn` command: train, evaluate, predict and the tutorial.

The only module that prints. Results go to stdout, progress and messages
to stderr. Exit status: 0 success, 1 error, 2 usage, 130 interrupted.
"""
import argparse
import csv
import json
import logging
import math
import os
import sys
import tempfile
import warnings

import numpy as np

from . import __version__, cli_data, data
from .activations import ACTIVATIONS
from .atomic import atomic_write
from .checkpoint import Checkpoint, load_checkpoint
from .errors import ScratchnnError
from .layers import Dense
from .losses import CLASSIFICATION_LOSSES, LOSSES
from .network import Network
from .optimizers import OPTIMIZERS, SGD
from .training import Callback

EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130

# Learning rates that train every bundled dataset well in the default 100
# epochs; Adam's usual 0.001 leaves the small 2-D problems under-fitted.
DEFAULT_LR = {"adam": 0.003, "sgd": 0.05}
DEFAULT_BATCH = 32


class UserError(Exception):
    """A mistake in the command line or its files: one line, exit 1."""


class UsageError(UserError):
    """Options that cannot go together: one line, exit 2."""


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
        if self.quiet:
            return
        try:
            print(text, file=sys.stderr)
        except BrokenPipeError:
            # Nobody reads the diagnostics any more; the work goes on.
            self.quiet = True


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


def _number(value: float) -> str:
    # Adding 0.0 turns a -0.0 into 0.0, so no "-0.0000" is printed.
    return f"{value + 0.0:.4f}"


# ----------------------------------------------------------------------
# Arguments
# ----------------------------------------------------------------------
class Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake reported on one line (exit 2)."""

    def error(self, message):
        self.exit(
            EXIT_USAGE,
            f"{self.prog}: error: {message} (see {self.prog} --help)\n",
        )


class HelpFormatter(argparse.HelpFormatter):
    """Shows each option's default, except where there is nothing to show."""

    def _get_help_string(self, action):
        text = action.help or ""
        quiet = action.default in (None, False, True, argparse.SUPPRESS)
        if "%(default)" in text or quiet or not action.option_strings:
            return text
        return text + " (default: %(default)s)"


def _bounded(kind, low, high=None, low_open=False, what=""):
    """An argparse type: a number of `kind` in [low, high)."""

    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {what or kind.__name__}, got {text!r}"
            ) from None
        too_low = value <= low if low_open else value < low
        if not math.isfinite(value) or too_low or (
            high is not None and value >= high
        ):
            rule = f"> {low}" if low_open else f">= {low}"
            if high is not None:
                rule = f"in [{low}, {high})"
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
        return value

    return convert


def _layer_widths(text: str) -> list[int]:
    """An argparse type: "64,32" -> [64, 32]; "" or "0" -> no hidden layer."""
    if text.strip() in ("", "0", "none"):
        return []
    try:
        widths = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected widths separated by commas, like 64,32; got {text!r}"
        ) from None
    if any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(f"widths must be >= 1, got {text!r}")
    return widths


def _shared_options(parser, top_level: bool) -> None:
    # Accepted before or after the command; the command's copies default to
    # SUPPRESS so they don't undo one given before it.
    default = {} if top_level else {"default": argparse.SUPPRESS}
    parser.add_argument("-q", "--quiet", action="store_true", **default,
                        help="print results only, no progress or notes")
    parser.add_argument("-v", "--verbose", action="store_true", **default,
                        help="also show the library's log messages")
    parser.add_argument("--json", action="store_true", **default,
                        help="print the results as one JSON object")


def _command(commands, name: str, summary: str, description: str):
    """A sub-command with the shared options and the defaults shown."""
    parser = commands.add_parser(
        name, formatter_class=HelpFormatter, help=summary,
        description=description,
    )
    _shared_options(parser, top_level=False)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="scratchnn",
        description="A neural network from scratch in NumPy.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"scratchnn {__version__}"
    )
    _shared_options(parser, top_level=True)
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=Parser
    )
    commands.required = True
    _add_train(commands)
    _add_evaluate(commands)
    _add_predict(commands)
    _add_tutorial(commands)
    return parser


def _add_train(commands) -> None:
    train = _command(
        commands, "train", "train a network and save it",
        "Train a network on a bundled dataset or a CSV file, report its "
        "accuracy on held-out test rows, save the model and a PNG of its "
        "training curves.",
    )
    _add_data_options(train, default="digits")
    train.add_argument("--layers", type=_layer_widths, default="64",
                       help="hidden layer widths, comma-separated; the "
                            "output layer is sized to fit the target")
    train.add_argument("--activation", default="relu",
                       choices=sorted(set(ACTIVATIONS) - {"softmax"}),
                       help="activation of the hidden layers")
    train.add_argument("--loss", default=None, choices=sorted(LOSSES),
                       help="default: categorical_crossentropy when the "
                            "target holds text or at most "
                            f"{cli_data.MAX_CLASSES_FOR_NUMBERS} distinct "
                            "whole numbers, else mse")
    train.add_argument("--optimizer", default="adam",
                       choices=sorted(OPTIMIZERS), help="update rule")
    lrs = ", ".join(f"{v:g} for {k}" for k, v in DEFAULT_LR.items())
    train.add_argument("--lr", type=_bounded(float, 0, low_open=True),
                       default=None, help=f"learning rate; default: {lrs}")
    train.add_argument("--epochs", type=_bounded(int, 1), default=100,
                       help="passes over the training rows")
    train.add_argument("--batch-size", type=_bounded(int, 1), default=None,
                       help=f"rows per step; default: {DEFAULT_BATCH}, or "
                            "all training rows when there are fewer")
    train.add_argument("--test-size", type=_bounded(float, 0, 1),
                       default=0.2,
                       help="share of rows held out for testing; 0 trains "
                            "on all rows")
    train.add_argument("--validation-fraction", type=_bounded(float, 0, 1),
                       default=0.0,
                       help="share of the training rows scored after each "
                            "epoch (shown in the plot)")
    train.add_argument("--no-standardize", dest="standardize",
                       action="store_false",
                       help="feed the features unscaled; by default each is "
                            "scaled to mean 0 and standard deviation 1")
    train.add_argument("--seed", type=_bounded(int, 0), default=0,
                       help="seed for weights, split and shuffling")
    train.add_argument("--out", default="model.npz",
                       help="the model file to write")
    train.add_argument("--plot", default=None,
                       help="the PNG of the training curves; default: --out "
                            "with .png in place of its extension")
    train.add_argument("--no-plot", action="store_true",
                       help="write no PNG")
    train.add_argument("--checkpoint", default=None, metavar="PATH",
                       help="save the run's full state here every "
                            "--checkpoint-every epochs and when it stops, "
                            "so --resume can finish it")
    train.add_argument("--checkpoint-every", type=_bounded(int, 1),
                       default=1, metavar="N",
                       help="epochs between checkpoints")
    train.add_argument("--resume", default=None, metavar="PATH",
                       help="go on with the run saved in this checkpoint: "
                            "its data and training options are used, and "
                            "it ends as the uninterrupted run would have")
    train.set_defaults(run=cmd_train)


def _add_evaluate(commands) -> None:
    evaluate = _command(
        commands, "evaluate", "score a saved model on labelled data",
        "Print loss and accuracy with a confusion matrix (RMSE and R² for "
        "regression). On the data the model was trained on, only the "
        "held-out test rows are scored.",
    )
    evaluate.add_argument("model", help="a model file written by train")
    _add_data_options(evaluate, default=None)
    evaluate.set_defaults(run=cmd_evaluate)


def _add_predict(commands) -> None:
    predict = _command(
        commands, "predict", "predict each row of a CSV file",
        "Print one prediction per row of INPUT, a CSV file with the model's "
        "feature columns (matched by name, in any order; a column named "
        "like the training target is ignored).",
    )
    predict.add_argument("model", help="a model file written by train")
    predict.add_argument("input", help="CSV file of feature rows")
    predict.add_argument("--out", default=None,
                         help="write the predictions to this CSV file "
                              "instead of printing them")
    predict.set_defaults(run=cmd_predict)


def _add_tutorial(commands) -> None:
    tutorial = _command(
        commands, "tutorial", "rerun the original tutorial's 3-4-1 network",
        "The network of James Loy's 'How to build your own Neural Network "
        "from scratch in Python': 3-4-1 sigmoid, no biases, U[0, 1) "
        "weights, sum of squared errors, full batch, learning rate 1.",
    )
    tutorial.add_argument("--seed", type=_bounded(int, 0), default=0,
                          help="seed for the initial weights")
    tutorial.add_argument("--epochs", type=_bounded(int, 1), default=1500,
                          help="iterations of feedforward and backprop")
    tutorial.set_defaults(run=cmd_tutorial)


def _add_data_options(parser, default: str | None) -> None:
    names = ", ".join(data.DATASET_NAMES)
    where = "" if default else "; default: the model's training data"
    parser.add_argument(
        "--data", default=default,
        help=f"a bundled dataset ({names}) or a .csv file{where}",
    )
    parser.add_argument(
        "--target", default=None,
        help="the target column of a CSV file; default: the last column "
             "(for evaluate: the model's target, if the file has it)",
    )


# ----------------------------------------------------------------------
# train
# ----------------------------------------------------------------------
# The options that decide what training does; a resumed run takes them from
# its checkpoint, while output options come from the command line.
TRAINING_OPTIONS = (
    "data", "target", "layers", "activation", "loss", "optimizer", "lr",
    "epochs", "batch_size", "test_size", "validation_fraction",
    "standardize", "seed",
)


def cmd_train(args, console: Console) -> int:
    if args.checkpoint_every != 1 and not (args.checkpoint or args.resume):
        raise UsageError("--checkpoint-every needs --checkpoint PATH")
    if args.resume:
        _use_checkpoint_options(args, console)
    plot_path = _output_paths(args)
    dataset = cli_data.load(args.data, args.target, args.seed)
    classify = _is_classification(args, dataset, console)
    loss = args.loss or ("categorical_crossentropy" if classify else "mse")
    if classify:
        dataset.y = _whole_numbers_as_ints(dataset.y)

    X_tr, y_tr, X_te, y_te = cli_data.split(
        dataset, args.test_size, args.seed, classify
    )
    if args.test_size and X_te is None:
        console.note(
            f"note: {len(dataset.y)} rows are too few to hold out "
            f"{args.test_size:g} of each class for testing; training and "
            f"reporting on all of them"
        )

    net = _make_network(args, loss, y_tr)
    console.note(
        f"training {_architecture(net, X_tr.shape[1])} on {args.data} "
        f"({len(y_tr)} training rows"
        + (f", {len(y_te)} test rows" if y_te is not None else "")
        + f"), loss {loss}, {args.optimizer} lr {net.optimizer.lr:g}, "
        f"{args.epochs} epochs, seed {args.seed}"
    )
    callbacks = [EpochProgress(args.epochs, console)]
    if args.checkpoint:
        notes = _model_notes(args, dataset, X_te, metrics={})
        callbacks.append(
            Checkpoint(args.checkpoint, args.checkpoint_every, extra=notes)
        )
    with warnings.catch_warnings():
        # The CLI says itself what an interruption means for the files.
        warnings.filterwarnings("ignore", message="training interrupted")
        history = net.fit(
            X_tr,
            y_tr,
            epochs=args.epochs,
            batch_size=args.batch_size or "auto",
            seed=args.seed,
            validation_fraction=args.validation_fraction,
            callbacks=callbacks,
            resume=args.resume,
        )
    if len(history) == 0:
        console.note("interrupted before the first epoch ended; nothing "
                     "was saved")
        return EXIT_INTERRUPTED

    metrics = _final_metrics(net, history, X_tr, y_tr, X_te, y_te)
    net.save(args.out, extra=_model_notes(args, dataset, X_te, metrics))
    written = [args.out]
    plot_error = None
    if plot_path:
        plot_error = _plot(history, plot_path, args.data)
        if plot_error is None:
            written.append(plot_path)

    if args.json:
        console.result(json.dumps({**metrics, "model": args.out}))
    else:
        for key, value in metrics.items():
            console.result(f"{key.replace('_', ' ')} {_number(value)}")
    console.note("wrote " + ", ".join(written))
    if history.interrupted:
        console.note(f"interrupted: saved the model after epoch "
                     f"{len(history)}")
        return EXIT_INTERRUPTED
    if plot_error:
        print(f"scratchnn: error: {plot_error}", file=sys.stderr)
        return EXIT_ERROR
    return 0


def _use_checkpoint_options(args, console: Console) -> None:
    """Take the training options of the run saved in --resume's checkpoint.

    Only --epochs may be given again, to train the run for longer; any
    other training option would change what the saved epochs mean.
    """
    saved = load_checkpoint(args.resume).metadata
    stored = saved.get("arguments")
    if not isinstance(stored, dict) or any(
        key not in stored for key in TRAINING_OPTIONS
    ):
        raise UserError(
            f"{args.resume!r} was not written by scratchnn train "
            f"--checkpoint; resume it from Python with fit(resume=...)"
        )
    defaults = vars(build_parser().parse_args(["train"]))
    given = [
        key for key in TRAINING_OPTIONS
        if key != "epochs" and getattr(args, key) != defaults[key]
    ]
    if given:
        flags = ", ".join("--" + key.replace("_", "-") for key in given)
        raise UsageError(
            f"--resume takes the training options from the checkpoint; "
            f"leave out {flags} (only --epochs may be given, to train longer)"
        )
    epochs = args.epochs if args.epochs != defaults["epochs"] else None
    for key in TRAINING_OPTIONS:
        setattr(args, key, stored[key])
    if epochs is not None:
        args.epochs = epochs
    if not saved.get("bundled", True):
        # The absolute path, so a run resumes from any folder.
        args.data = saved["data"]
    if args.checkpoint is None:
        args.checkpoint = args.resume
        args.checkpoint_every = stored.get("checkpoint_every", 1)
    console.note(f"resuming the run saved in {args.resume} with its "
                 f"options: --data {args.data}, {args.epochs} epochs")


def _output_paths(args) -> str | None:
    """Check where train will write before any work; return the plot path."""
    if not args.out:
        raise UserError("--out is empty; give a file name such as model.npz")
    outputs = {"--out": args.out}
    if not args.no_plot:
        outputs["--plot"] = args.plot or os.path.splitext(args.out)[0] + ".png"
    if args.checkpoint:
        outputs["--checkpoint"] = args.checkpoint
    seen = {}
    for flag, path in outputs.items():
        other = seen.setdefault(os.path.abspath(path), flag)
        if other != flag:
            raise UserError(
                f"{other} and {flag} would both write {path!r}; give each "
                f"its own file name"
            )
        _check_writable(path, flag)
    return outputs.get("--plot")


def _is_classification(args, dataset, console: Console) -> bool:
    if args.loss is None:
        return cli_data.looks_like_classes(dataset.y)
    classify = args.loss in CLASSIFICATION_LOSSES
    if not classify and cli_data.looks_like_classes(dataset.y):
        console.note(f"note: --loss {args.loss} treats the target as "
                     f"numbers to predict (regression), not as classes")
    return classify


def _whole_numbers_as_ints(y: np.ndarray) -> np.ndarray:
    """Class labels read from a CSV as 0.0, 1.0 ... become 0, 1 ..."""
    if y.dtype.kind == "f" and np.all(y == np.round(y)):
        return y.astype(np.int64)
    return y


def _make_network(args, loss: str, y_train) -> Network:
    layers = [Dense(w, activation=args.activation) for w in args.layers]
    y = np.asarray(y_train)
    if loss in CLASSIFICATION_LOSSES:
        n_classes = len(np.unique(y))
        if n_classes < 2:
            raise UserError(
                f"the target holds a single class ({y[0]}); a classifier "
                f"needs at least two"
            )
        if loss == "binary_crossentropy" and n_classes != 2:
            raise UserError(
                f"--loss binary_crossentropy needs exactly 2 classes, but "
                f"the target has {n_classes}; use categorical_crossentropy"
            )
        if loss == "binary_crossentropy":
            layers.append(Dense(1, activation="sigmoid"))
        else:
            layers.append(Dense(n_classes, activation="softmax"))
    else:
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


def _final_metrics(net, history, X_tr, y_tr, X_te, y_te) -> dict:
    metrics = {f"train_{k}": v for k, v in net.evaluate(X_tr, y_tr).items()}
    for key in history.history:
        if key.startswith("val_"):
            metrics[key] = history[key][-1]
    if X_te is not None:
        test = net.evaluate(X_te, y_te)
        metrics.update({f"test_{k}": v for k, v in test.items()})
    return metrics


def _model_notes(args, dataset, X_te, metrics: dict) -> dict:
    """What `evaluate` and `predict` need to know about the training run."""
    options = {
        k: v for k, v in vars(args).items()
        if k not in {"run", "json", "quiet", "verbose"}
    }
    return {
        "data": dataset.name,
        "bundled": dataset.bundled,
        "target": dataset.target,
        "feature_names": dataset.feature_names,
        "seed": args.seed,
        "test_size": args.test_size if X_te is not None else 0.0,
        "metrics": metrics,
        "arguments": options,
    }


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


def _plot(history, path: str, title: str) -> str | None:
    """Draw the curves; return why not, or None when the PNG was written."""
    try:
        from .plots import plot_history
    except ImportError:
        return ("matplotlib is not installed, so no plot was written; "
                "pip install 'scratchnn[cli]' or use --no-plot")
    try:
        plot_history(history, path, title=title)
    except OSError as error:
        return f"could not write the plot {path!r}: {error.strerror}"
    return None


# ----------------------------------------------------------------------
# evaluate
# ----------------------------------------------------------------------
def cmd_evaluate(args, console: Console) -> int:
    net = Network.load(args.model)
    meta = net.metadata
    spec = args.data or meta.get("data")
    if spec is None:
        raise UserError("give --data: the model does not record its data")
    dataset = cli_data.load_like_training(spec, args.target, meta)
    X, y = dataset.X, dataset.y
    if net.is_classifier:
        y = _whole_numbers_as_ints(y)

    # On the data it was trained on, score only the rows train held out.
    same_data = dataset.name == meta.get("data")
    if same_data and meta.get("test_size"):
        dataset.y = y
        _, _, X_te, y_te = cli_data.split(
            dataset, meta["test_size"], meta["seed"], net.is_classifier
        )
        if X_te is not None:
            X, y = X_te, y_te
            console.note(f"scoring the {len(y)} test rows held out in "
                         f"training")

    metrics = net.evaluate(X, y)
    report = dict(metrics)
    if net.is_classifier:
        classes = net.classes_
        matrix = cli_data.confusion_matrix(y, net.predict(X), classes)
        report["classes"] = [_plain(c) for c in classes]
        report["confusion_matrix"] = matrix.tolist()
    if args.json:
        console.result(json.dumps(report))
        return 0
    for key, value in metrics.items():
        console.result(f"{key} {_number(value)}")
    if net.is_classifier:
        console.result("confusion matrix (rows: true class, columns: "
                       "predicted class)")
        console.result(cli_data.format_matrix(matrix, classes))
    return 0


def _plain(value):
    return value.item() if hasattr(value, "item") else value


# ----------------------------------------------------------------------
# predict
# ----------------------------------------------------------------------
def cmd_predict(args, console: Console) -> int:
    if args.out:
        for other, what in ((args.model, "model"), (args.input, "input")):
            if os.path.abspath(args.out) == os.path.abspath(other):
                raise UserError(
                    f"--out {args.out!r} would overwrite the {what} file; "
                    f"choose another name"
                )
        _check_writable(args.out, "--out")
    net = Network.load(args.model)
    X = read_prediction_input(args.input, net.metadata)
    rows = _prediction_rows(net, net.predict(X))

    if args.out:
        with atomic_write(args.out, "w", newline="") as fh:
            csv.writer(fh).writerows(rows)
        console.note(f"wrote {len(rows) - 1} predictions to {args.out}")
    elif args.json:
        values = [row[0] if len(row) == 1 else row for row in rows[1:]]
        console.result(json.dumps({"predictions": values}))
    else:
        for row in rows[1:]:
            console.result(",".join(str(v) for v in row))
    return 0


def read_prediction_input(path: str, meta: dict) -> np.ndarray:
    """The feature columns of a CSV, in the order the model was trained on."""
    header = data.read_header(path)
    expected = meta.get("feature_names")
    if expected is None:
        return data.read_features(path, header)
    found = [c for c in header if c != meta.get("target")]
    cli_data.columns_in_order(found, expected, path)
    return data.read_features(path, expected)


def _prediction_rows(net: Network, predictions: np.ndarray) -> list:
    if net.is_classifier:
        return [["prediction"]] + [[_plain(p)] for p in predictions]
    outputs = predictions.reshape(len(predictions), -1)
    header = ["prediction"] if outputs.shape[1] == 1 else [
        f"prediction_{i}" for i in range(outputs.shape[1])
    ]
    return [header] + [[float(v) for v in row] for row in outputs]


# ----------------------------------------------------------------------
# tutorial
# ----------------------------------------------------------------------
def cmd_tutorial(args, console: Console) -> int:
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

    quiet = args.json or args.quiet
    history = net.fit(
        X, y, epochs=args.epochs, batch_size=None, seed=args.seed,
        callbacks=[] if quiet else [report],
    )
    predictions = net.predict(X).ravel()
    if args.json:
        console.result(json.dumps({
            "loss": history["loss"],
            "predictions": predictions.tolist(),
            "targets": y.ravel().tolist(),
        }))
        return 0
    if not quiet:
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
    args = build_parser().parse_args(argv)
    console = Console(quiet=args.quiet)
    logging.basicConfig(
        level=logging.WARNING,
        format="scratchnn: %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.verbose:
        logging.getLogger("scratchnn").setLevel(logging.DEBUG)

    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return args.run(args, console)
        except KeyboardInterrupt:
            print("scratchnn: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            # The reader of stdout went away (e.g. `| head -1`): stop
            # quietly, and keep Python from complaining at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0
        except MemoryError:
            print("scratchnn: error: out of memory; use smaller --layers, "
                  "less data or a smaller --batch-size", file=sys.stderr)
            return EXIT_ERROR
        except UsageError as error:
            print(f"scratchnn: error: {error}", file=sys.stderr)
            return EXIT_USAGE
        except (UserError, ScratchnnError, ValueError, TypeError,
                OSError) as error:
            print(f"scratchnn: error: {error}", file=sys.stderr)
            return EXIT_ERROR


def _show_warning(message, category, filename, lineno, file=None,
                  line=None):
    """A library warning as one plain line, without source locations."""
    print(f"scratchnn: warning: {message}", file=sys.stderr)
