"""The `scratchnn` command: train, evaluate, predict, plot, info, export.

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
from . import cli_checks
from . import cli_inspect
from . import cli_playground
from . import cli_tune
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

# What `export` writes, by format: the suffix that selects it. The writer
# of each is imported only when used (see _exporter).
EXPORT_FORMATS = {"onnx": ".onnx", "python": ".py"}


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
        # `in (False, True)` would also hide the defaults 0 and 1.0.
        quiet = (action.default is None or isinstance(action.default, bool)
                 or action.default is argparse.SUPPRESS)
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


def _file_name(text: str) -> str:
    """An argparse type: a file to write; an empty name is a mistake."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a file name")
    return text


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
    _add_plot(commands)
    _add_info(commands)
    _add_export(commands)
    cli_inspect.add_commands(commands, _command)
    cli_tune.add_lr_find(commands)
    cli_playground.add_commands(commands, _command)
    return parser


def _add_train(commands) -> None:
    train = _command(
        commands, "train", "train a network and save it",
        "Train a network on a bundled dataset or a CSV file, report its "
        "accuracy on held-out test rows, save the model and a PNG of its "
        "training curves. For a classifier of two features (xor, circles, "
        "moons, spirals, a 2-feature CSV) the PNG also shows its decision "
        "boundary with the data points.",
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
    train.add_argument("--out", type=_file_name, default="model.npz",
                       help="the model file to write")
    train.add_argument("--plot", type=_file_name, default=None,
                       help="the PNG of the training curves (and decision "
                            "boundary, for 2 features); default: --out "
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
    train.add_argument("--diagnose", action="store_true",
                       help="watch for dead or saturated units, bad "
                            "gradients, divergence and plateaus; warn with "
                            "a fix")
    train.set_defaults(run=cmd_train)


def _add_evaluate(commands) -> None:
    evaluate = _command(
        commands, "evaluate", "score a saved model on labelled data",
        "Print loss and accuracy with a confusion matrix (RMSE and R² for "
        "regression). On the data the model was trained on, only the "
        "held-out test rows are scored.",
    )
    evaluate.add_argument("model", metavar="MODEL",
                          help="a model file written by train")
    _add_data_options(evaluate, default=None)
    evaluate.add_argument("--plot", type=_file_name, default=None,
                          metavar="PATH.png",
                          help="also draw the confusion matrix into this "
                               "PNG (classifiers only)")
    evaluate.set_defaults(run=cmd_evaluate)


def _add_predict(commands) -> None:
    predict = _command(
        commands, "predict", "predict each row of a CSV file",
        "Print one prediction per row of INPUT, a CSV file with the model's "
        "feature columns (matched by name, in any order; a column named "
        "like the training target is ignored).",
    )
    predict.add_argument("model", metavar="MODEL",
                         help="a model file written by train")
    predict.add_argument("input", metavar="INPUT",
                         help="CSV file of feature rows")
    predict.add_argument("--out", type=_file_name, default=None,
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


def _add_plot(commands) -> None:
    plot = _command(
        commands, "plot", "draw a saved model's curves (and boundary) again",
        "Draw the loss and accuracy per epoch, training and validation "
        "together, from the history kept in MODEL. For a classifier of two "
        "features the picture also shows its decision boundary over the "
        "data points: the model's training data (test rows hollow), or "
        "--data.",
    )
    plot.add_argument("model", metavar="MODEL",
                      help="a model file written by train")
    plot.add_argument("--out", type=_file_name, default=None,
                      metavar="PATH.png",
                      help="the PNG to write; default: MODEL with .png in "
                           "place of its extension")
    plot.add_argument("--data", default=None,
                      help="points to draw over the decision boundary "
                           "(2-feature classifiers only): a bundled dataset, "
                           "a .csv or a .npy file; default: the model's "
                           "training data")
    plot.add_argument("--target", default=None,
                      help="the target column of --data's CSV file; "
                           "default: the model's target, else the last")
    plot.set_defaults(run=cmd_plot)


def _add_info(commands) -> None:
    info = _command(
        commands, "info", "describe a saved model",
        "Print each layer with its shapes, activation and parameter count, "
        "the total, the loss and optimizer, the shape of the training data "
        "and the metrics reached at the end of training.",
    )
    info.add_argument("model", metavar="MODEL",
                      help="a model file written by train")
    info.set_defaults(run=cmd_info)


def _add_export(commands) -> None:
    suffixes = ", ".join(
        f"{suffix} for {name}" for name, suffix in EXPORT_FORMATS.items()
    )
    export = _command(
        commands, "export", "write a model in another format",
        "Write MODEL to OUT in a format other programs run. The format "
        f"follows OUT's suffix ({suffixes}) unless --format names it.",
    )
    export.add_argument("model", metavar="MODEL",
                        help="a model file written by train")
    export.add_argument("out", metavar="OUT", help="the file to write")
    export.add_argument("--format", default=None,
                        choices=sorted(EXPORT_FORMATS),
                        help="the format to write; default: from OUT's "
                             "suffix")
    export.set_defaults(run=cmd_export)


def _add_data_options(parser, default: str | None) -> None:
    names = ", ".join(data.DATASET_NAMES)
    where = "" if default else "; default: the model's training data"
    parser.add_argument(
        "--data", default=default,
        help=(f"a bundled dataset ({names}), a .csv file or a .npy file "
              f"(target in the last column){where}"),
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
    _check_target(args.data, args.target)
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
        notes = _model_notes(args, dataset, X_tr, X_te, metrics={})
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
            diagnose=args.diagnose,
        )
    if len(history) == 0:
        console.note("interrupted before the first epoch ended; nothing "
                     "was saved")
        return EXIT_INTERRUPTED

    metrics = _final_metrics(net, history, X_tr, y_tr, X_te, y_te)
    net.save(args.out, extra=_model_notes(args, dataset, X_tr, X_te, metrics))
    written = [args.out]
    plot_error = None
    if plot_path:
        points = None
        if _has_boundary(net):
            points = _points(X_tr, y_tr, X_te, y_te, dataset.feature_names)
        plot_error = _plot(plot_path, history, net, points, dataset)
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
    # The run's own output files, unless others are given now.
    for key in ("out", "plot", "no_plot"):
        if getattr(args, key) == defaults[key] and key in stored:
            setattr(args, key, stored[key])
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
        _plots(hint=" or use --no-plot")
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
    """Class labels read from a CSV as 0.0, 1.0 ... become 0, 1 ...

    Only when every label fits in int64: a cast would turn 1e19 or 1e300
    into -2**63, so such labels stay floats.
    """
    if y.dtype.kind != "f" or not np.all(y == np.round(y)):
        return y
    # -2**63 and 2**63 are exact floats; int64 holds [-2**63, 2**63).
    if np.all((y >= -(2.0**63)) & (y < 2.0**63)):
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


def _model_notes(args, dataset, X_tr, X_te, metrics: dict) -> dict:
    """What `evaluate`, `predict` and `info` need to know about the run."""
    options = {
        k: v for k, v in vars(args).items()
        if k not in {"run", "json", "quiet", "verbose"}
    }
    # Absolute, so that a resumed run writes the same files from any folder.
    for key in ("out", "plot"):
        if options.get(key):
            options[key] = os.path.abspath(options[key])
    return {
        "data": dataset.name,
        "bundled": dataset.bundled,
        "target": dataset.target,
        "feature_names": dataset.feature_names,
        "seed": args.seed,
        "test_size": args.test_size if X_te is not None else 0.0,
        # The rows and columns given to fit (validation rows included).
        "train_shape": list(X_tr.shape),
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


def _plot(path: str, history, net, points, dataset) -> str | None:
    """Draw train's picture; return why not, or None when it was written."""
    try:
        _plots().plot_training(
            path, history, net, points, title=_title(dataset.name)
        )
    except OSError as error:
        return f"could not write the plot {path!r}: {error.strerror}"
    return None


def _plots(hint: str = ""):
    """The plots module, or a UserError saying how to get matplotlib."""
    try:
        from . import plots
    except ImportError as error:
        if not (error.name or "").startswith("matplotlib"):
            raise
        raise UserError(
            f"drawing needs matplotlib, which is not installed; pip install "
            f"'scratchnn[plot]'{hint}"
        ) from None
    return plots


def _title(data_name: str) -> str:
    # A CSV is recorded by its absolute path; its file name is enough.
    return os.path.basename(data_name)


def _has_boundary(net: Network) -> bool:
    """Whether a decision boundary can be drawn: 2 features, classes."""
    return net.is_classifier and net.n_features_in_ == 2


def _points(X_tr, y_tr, X_te, y_te, feature_names):
    """The rows to draw over a boundary, with the test rows marked."""
    if X_te is None:
        X, y, held_out = X_tr, y_tr, None
    else:
        X = np.vstack([X_tr, X_te])
        y = np.concatenate([y_tr, y_te])
        held_out = np.arange(len(y)) >= len(y_tr)
    return _plots().Points(X, y, held_out, tuple(feature_names))


# ----------------------------------------------------------------------
# evaluate
# ----------------------------------------------------------------------
def cmd_evaluate(args, console: Console) -> int:
    net = _load_model(args.model, console)
    if args.plot:
        if not net.is_classifier:
            raise UsageError(
                f"--plot draws a confusion matrix, which only classifiers "
                f"have; {args.model!r} is a regression model (loss "
                f"{net.loss.name}); leave out --plot"
            )
        _check_plot_path(args.plot, "--plot", args.model)
    dataset = _model_data(args, net.metadata, net.is_classifier)
    X, y = dataset.X, dataset.y

    # On the data it was trained on, score only the rows train held out.
    parts = _training_split(dataset, net.metadata, net.is_classifier)
    if parts is not None and parts[2] is not None:
        X, y = parts[2], parts[3]
        console.note(f"scoring the {len(y)} test rows held out in training")

    metrics = net.evaluate(X, y)
    report = dict(metrics)
    if net.is_classifier:
        classes = net.classes_
        matrix = cli_data.confusion_matrix(y, net.predict(X), classes)
        report["classes"] = [_plain(c) for c in classes]
        report["confusion_matrix"] = matrix.tolist()
    if args.plot:
        title = (f"{_title(dataset.name)}: {len(y)} rows, accuracy "
                 f"{metrics['accuracy']:.3f}")
        _plots().plot_confusion_matrix(matrix, classes, args.plot, title)
        console.note(f"wrote {args.plot}")

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


def _load_model(path: str, console: Console) -> Network:
    """Network.load, with the metadata fields train records checked."""
    net = Network.load(path)
    net.metadata = cli_checks.checked_metadata(
        net.metadata, path, console.note
    )
    return net


def _check_target(spec: str, target: str | None) -> None:
    """--target names a CSV column; with other data it is a usage mistake."""
    if target is None or cli_data.is_csv(spec):
        return
    if cli_data.is_npy(spec):
        raise UsageError(
            f"--target names a CSV column; in {spec!r} the target is the "
            f"last column, so leave --target out"
        )
    raise UsageError(
        f"--target names a CSV column, but {spec!r} is a bundled dataset; "
        f"leave --target out"
    )


def _model_data(args, meta: dict, classify: bool) -> cli_data.Dataset:
    """--data, else the data the model was trained on, lined up with it."""
    # Silently: a caller that loaded the model has given the notes.
    meta = cli_checks.checked_metadata(meta, args.model)
    spec = args.data or meta.get("data")
    if spec is None:
        raise UserError("give --data: the model does not record its data")
    _check_target(spec, args.target)
    dataset = cli_data.load_like_training(spec, args.target, meta)
    if classify:
        dataset.y = _whole_numbers_as_ints(dataset.y)
    return dataset


def _training_split(dataset, meta: dict, classify: bool):
    """train's split of the data it was trained on, else None.

    The split is redone with the recorded test size and seed, which give
    the same rows; None for other data or a model trained on all rows.
    """
    if dataset.name != meta.get("data") or not meta.get("test_size"):
        return None
    return cli_data.split(dataset, meta["test_size"], meta["seed"], classify)


def _check_plot_path(path: str, flag: str, model: str) -> None:
    """Before any work: the picture is writable and spares the model."""
    if os.path.abspath(path) == os.path.abspath(model):
        raise UserError(
            f"{flag} {path!r} would overwrite the model file; choose another "
            f"name"
        )
    _check_writable(path, flag)
    _plots()


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
    net = _load_model(args.model, console)
    X = read_prediction_input(args.input, net.metadata)
    rows = _prediction_rows(net, net.predict(X))

    if args.out:
        with atomic_write(args.out, "w", newline="") as fh:
            csv.writer(fh).writerows(rows)
        if args.json:
            report = {"out": args.out, "rows": len(rows) - 1}
            console.result(json.dumps(report))
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
    with warnings.catch_warnings():
        # Ctrl-C is reported below, as a note and exit status 130.
        warnings.filterwarnings("ignore", message="training interrupted")
        history = net.fit(
            X, y, epochs=args.epochs, batch_size=None, seed=args.seed,
            callbacks=[] if quiet else [report],
        )
    if history.interrupted:
        console.note(f"interrupted after iteration {len(history)}")
        return EXIT_INTERRUPTED
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
# plot
# ----------------------------------------------------------------------
def cmd_plot(args, console: Console) -> int:
    net = _load_model(args.model, console)
    out = args.out or os.path.splitext(args.model)[0] + ".png"
    _check_plot_path(out, "--out", args.model)
    if not _has_boundary(net) and (args.data or args.target):
        raise UsageError(
            f"--data and --target give the points of a decision boundary, "
            f"which needs a classifier of 2 features; {args.model!r} is a "
            f"{_kind(net)}; leave them out"
        )

    points = None
    if _has_boundary(net):
        points = _boundary_points(args, net, console)
    history = net.history
    if (history is None or len(history) == 0) and points is None:
        raise UserError(
            f"{args.model!r} keeps no training history (it was saved "
            f"without one), so there is nothing to draw"
        )
    title = _title(net.metadata.get("data") or args.model)
    panels = _plots().plot_training(out, history, net, points, title)
    if args.json:
        console.result(json.dumps(
            {"model": args.model, "plot": out, "panels": panels}
        ))
    console.note(f"wrote {out} ({', '.join(panels)})")
    return 0


def _boundary_points(args, net: Network, console: Console):
    """The points for the boundary: --data, or the model's training data."""
    meta = net.metadata
    if args.data is None:
        spec = meta.get("data")
        if spec is None:
            console.note("note: the model does not record its data; give "
                         "--data to draw its decision boundary")
            return None
        if not meta.get("bundled", True) and not os.path.isfile(spec):
            console.note(f"note: the training data {spec} is gone, so no "
                         f"decision boundary is drawn; give --data")
            return None
    dataset = _model_data(args, meta, classify=True)
    # Before the grid over them, so a bad cell is named in its file.
    where = repr(args.data or dataset.name)
    cli_checks.check_points(dataset.X, where, dataset.feature_names, net)
    parts = _training_split(dataset, meta, classify=True)
    if parts is None:
        parts = (dataset.X, dataset.y, None, None)
    return _points(*parts, dataset.feature_names)


def _kind(net: Network) -> str:
    if not net.is_classifier:
        return f"regression model of {net.n_features_in_} features"
    return f"classifier of {net.n_features_in_} features"


# ----------------------------------------------------------------------
# info
# ----------------------------------------------------------------------
def cmd_info(args, console: Console) -> int:
    net = _load_model(args.model, console)
    info = model_info(net, args.model)
    if args.json:
        console.result(json.dumps(info))
        return 0

    # Names and labels come from the file: show control codes, not run them.
    lines = []
    what = f"a {_kind(net)}"
    if info["classes"] is not None:
        shown = ", ".join(str(c) for c in info["classes"])
        what += f", classes {shown}"
    lines.append(f"model {args.model}: {what}")
    lines += net.summary().split("\n")
    if info["data"] is not None:
        lines.append(f"data {_title(info['data'])} (target "
                     f"{info['target']})")
    for key, value in info["metrics"].items():
        lines.append(f"{key.replace('_', ' ')} {_number(value)}")
    for line in lines:
        console.result(cli_checks.printable(line))
    return 0


def model_info(net: Network, path: str) -> dict:
    """What `info --json` reports: the layers, the training and its scores.

    Counts and shapes are read from the network's arrays; the data's name
    and shape and the end-of-training metrics from what `train` recorded.
    """
    layers = [
        {
            "index": i,
            "type": type(layer).__name__,
            "input": layer.n_in,
            "output": layer.units,
            "activation": layer.activation.config(),
            "weights": {k: list(v.shape) for k, v in layer.params.items()},
            "params": layer.n_params,
        }
        for i, layer in enumerate(net.layers)
    ]
    history = net.history
    final = {}
    if history is not None and len(history) > 0:
        final = {
            key: values[-1] for key, values in history.history.items()
            if key != "seconds"
        }
    meta = net.metadata
    classes = None
    if net.is_classifier:
        classes = [_plain(c) for c in net.classes_]
    return {
        "model": path,
        "task": "classification" if net.is_classifier else "regression",
        "classes": classes,
        "layers": layers,
        "total_params": sum(layer["params"] for layer in layers),
        "loss": net.loss.name,
        "optimizer": net.optimizer.config(),
        "dtype": net.dtype.name,
        "standardize": net.standardize,
        "n_features": net.n_features_in_,
        "data": meta.get("data"),
        "target": meta.get("target"),
        "train_shape": meta.get("train_shape"),
        "epochs": 0 if history is None else len(history),
        "final_epoch": final,
        "metrics": meta.get("metrics") or {},
    }


# ----------------------------------------------------------------------
# export
# ----------------------------------------------------------------------
def cmd_export(args, console: Console) -> int:
    form = args.format or _format_of(args.out)
    if os.path.abspath(args.out) == os.path.abspath(args.model):
        raise UserError(f"OUT {args.out!r} would overwrite the model file; "
                        f"choose another name")
    _check_writable(args.out, "OUT")
    export = _exporter(form)
    net = Network.load(args.model)

    try:
        export(net, args.out)
    except ImportError:
        # The writer imports its package only when it runs, and an
        # ImportError from it means that package is missing.
        raise _missing_onnx() from None
    size = os.path.getsize(args.out)
    if args.json:
        console.result(json.dumps(
            {"model": args.model, "out": args.out, "format": form,
             "bytes": size}
        ))
    console.note(f"wrote {args.out} ({form}, {size} bytes)")
    return 0


def _format_of(out: str) -> str:
    """The export format named by OUT's suffix, or a usage error."""
    suffix = os.path.splitext(out)[1].lower()
    for form, known in EXPORT_FORMATS.items():
        if suffix == known:
            return form
    names = ", ".join(EXPORT_FORMATS.values())
    choices = ", ".join(EXPORT_FORMATS)
    raise UsageError(
        f"cannot tell the format from OUT {out!r}; end its name with "
        f"{names}, or give --format ({choices})"
    )


def _exporter(form: str):
    """The function that writes `form`, imported only now."""
    # Each format's writer needs its own optional package, so a
    # missing one fails this command alone.
    if form == "python":
        # NumPy alone: nothing that may be missing.
        from .export_python import export_python

        return export_python
    assert form == "onnx", form
    try:
        from .onnx_export import export_onnx
    except ImportError as error:
        if not (error.name or "").startswith("onnx"):
            raise
        raise _missing_onnx() from None
    return export_onnx


def _missing_onnx() -> UserError:
    return UserError("exporting to ONNX needs the onnx package, which is "
                     "not installed; pip install 'scratchnn[onnx]'")


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
        status = _run(args, console)
    # Output to a pipe waits in a buffer until exit, where a reader that
    # has gone away would make Python complain; flush it while we listen.
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    return status


def _run(args, console: Console) -> int:
    """Run the command; turn each kind of failure into its exit status."""
    try:
        return args.run(args, console)
    except KeyboardInterrupt:
        print("scratchnn: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head -1`): stop quietly.
        _silence_stdout()
        return 0
    except MemoryError:
        print("scratchnn: error: out of memory; use smaller --layers, "
              "less data or a smaller --batch-size", file=sys.stderr)
        return EXIT_ERROR
    except UsageError as error:
        print(f"scratchnn: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (UserError, ScratchnnError, ValueError, TypeError,
            NotImplementedError, OSError) as error:
        print(f"scratchnn: error: {error}", file=sys.stderr)
        return EXIT_ERROR


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so nothing left in it fails at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _show_warning(message, category, filename, lineno, file=None,
                  line=None):
    """A library warning as one plain line, without source locations."""
    print(f"scratchnn: warning: {message}", file=sys.stderr)
