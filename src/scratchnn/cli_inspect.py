"""The `explain` and `gradcheck` commands: look inside one training step.

`explain` prints every number of one iteration beside its equation
(see `explain.py`); `gradcheck` compares backprop with central
differences (see `gradcheck.py`). Both take the tutorial's network, a
saved model or an architecture given like train's.
"""
import json
from types import SimpleNamespace

from . import cli_data, data
from .activations import ACTIVATIONS
from .explain import PRINT_THRESHOLD, explain_iteration
from .layers import Dense
from .losses import LOSSES
from .network import Network
from .optimizers import OPTIMIZERS, SGD

EXIT_FAILED = 1

# Train's defaults, for an architecture option left out.
DEFAULT_LAYERS = [64]
DEFAULT_ACTIVATION = "relu"
DEFAULT_OPTIMIZER = "adam"


def add_commands(commands, make_command) -> None:
    """Add `explain` and `gradcheck` to the CLI's sub-commands.

    `make_command` is cli's `_command`: a sub-parser with the shared
    options (--json, -q, -v) and defaults shown in --help.
    """
    from .cli import _bounded

    explain = make_command(
        commands, "explain", "print every number of one training iteration",
        "Print one full-batch training iteration in order: each layer's "
        "z = x W + b and a = σ(z), the loss, then backwards each δ, dW and "
        "db, and the update, each beside its equation and shapes. Without "
        "--model or an architecture option, the tutorial's 3-4-1 network "
        "on its 4 rows. Matrices of more than "
        f"{PRINT_THRESHOLD} numbers show their corners; --json gives "
        "every number.",
    )
    _add_network_options(explain, optimizer=True)
    explain.add_argument("--step", type=_bounded(int, 1), default=1,
                         metavar="N",
                         help="show iteration N; the N-1 before it are "
                              "trained first (full batch) (default: "
                              "%(default)s)")
    explain.set_defaults(run=cmd_explain)

    gradcheck = make_command(
        commands, "gradcheck", "compare backprop with finite differences",
        "Compare every layer's backprop gradients with central differences "
        "(L(θ + eps) − L(θ − eps)) / 2 eps, in float64, and print each "
        "weight array's worst relative error with pass or FAIL. An entry "
        "passes when |a − n| <= tol (|a| + |n|), or when |a − n| is below "
        "the rounding noise of a difference quotient. Exit status: 0 when "
        "every array passes, 1 when any fails (or on an error), 2 on a "
        "usage mistake.",
    )
    _add_network_options(gradcheck, optimizer=False)
    gradcheck.add_argument("--tol", type=_bounded(float, 0, low_open=True),
                           default=1e-6,
                           help="largest relative error that passes")
    gradcheck.add_argument("--eps", type=_bounded(float, 0, low_open=True),
                           default=1e-6,
                           help="how far each weight is moved either way")
    gradcheck.add_argument("--max-entries", type=_bounded(int, 0),
                           default=100, metavar="N",
                           help="check N entries of each larger array, "
                                "drawn at random with --seed; 0 checks all")
    gradcheck.set_defaults(run=cmd_gradcheck)


def _add_network_options(parser, optimizer: bool) -> None:
    from .cli import DEFAULT_LR, _bounded, _layer_widths

    parser.add_argument("--model", default=None, metavar="PATH",
                        help="a model file written by train")
    names = ", ".join(data.DATASET_NAMES)
    parser.add_argument("--data", default=None,
                        help=f"a bundled dataset ({names}), a .csv or a "
                             f".npy file; default: tutorial, or with "
                             f"--model the rows it was trained on")
    parser.add_argument("--target", default=None,
                        help="the target column of a CSV file; default: "
                             "the model's target if the file has it, else "
                             "the last column")
    widths = ",".join(str(w) for w in DEFAULT_LAYERS)
    parser.add_argument("--layers", type=_layer_widths, default=None,
                        help="hidden layer widths, comma-separated, as for "
                             f"train; default: {widths}")
    parser.add_argument("--activation", default=None,
                        choices=sorted(set(ACTIVATIONS) - {"softmax"}),
                        help="activation of the hidden layers; default: "
                             f"{DEFAULT_ACTIVATION}")
    parser.add_argument("--loss", default=None, choices=sorted(LOSSES),
                        help="default: chosen from the target, as in train")
    if optimizer:
        lrs = ", ".join(f"{v:g} for {k}" for k, v in DEFAULT_LR.items())
        parser.add_argument("--optimizer", default=None,
                            choices=sorted(OPTIMIZERS),
                            help=f"update rule; default: {DEFAULT_OPTIMIZER}")
        parser.add_argument("--lr", type=_bounded(float, 0, low_open=True),
                            default=None,
                            help=f"learning rate; default: {lrs}")
    parser.add_argument("--no-standardize", action="store_true",
                        help="feed the features unscaled (an architecture "
                             "is standardised by default, as in train)")
    # 0 and 1 compare equal to False and True, which the shared help
    # formatter leaves unshown, so these defaults are written out.
    drawn = "" if optimizer else ", and for the entries drawn"
    parser.add_argument("--seed", type=_bounded(int, 0), default=0,
                        help="seed for the initial weights of the tutorial "
                             f"network or an architecture{drawn} (default: "
                             "%(default)s)")


# ----------------------------------------------------------------------
# The two commands
# ----------------------------------------------------------------------
def cmd_explain(args, console) -> int:
    net, X, y = _network_and_data(args, console)
    explanation = explain_iteration(net, X, y, step=args.step,
                                    seed=args.seed)
    if args.json:
        console.result(json.dumps(explanation.to_dict()))
    else:
        console.result(explanation.to_text())
    return 0


def cmd_gradcheck(args, console) -> int:
    net, X, y = _network_and_data(args, console)
    report = net.check_gradients(
        X, y, tol=args.tol, eps=args.eps,
        max_entries=args.max_entries or None, seed=args.seed,
    )
    if args.json:
        console.result(json.dumps(report.to_dict()))
    else:
        console.result(report.to_text())
    return 0 if report.passed else EXIT_FAILED


# ----------------------------------------------------------------------
# Which network, on which rows
# ----------------------------------------------------------------------
def _network_and_data(args, console):
    """(network, X, y): a saved model, an architecture or the tutorial's."""
    from .cli import UsageError

    given = [
        "--" + key.replace("_", "-") for key in
        ("layers", "activation", "loss", "optimizer", "lr", "no_standardize")
        if getattr(args, key, None) not in (None, False)
    ]
    if args.model:
        if given:
            raise UsageError(
                f"--model brings its own network; leave out "
                f"{', '.join(given)}"
            )
        return _saved_model(args, console)
    if not given and args.data in (None, "tutorial") and not args.target:
        console.note("the tutorial's network: 3 inputs, 4 sigmoid units, "
                     "1 sigmoid output, no biases, U[0, 1) weights, SSE "
                     "loss, full batch, lr 1")
        X, y = data.load_tutorial()
        return _tutorial_network(), X, y
    return _architecture(args, console)


def _tutorial_network() -> Network:
    """The network `scratchnn tutorial` trains (see cmd_tutorial)."""
    return Network(
        [
            Dense(4, activation="sigmoid", use_bias=False, init="uniform"),
            Dense(1, activation="sigmoid", use_bias=False, init="uniform"),
        ],
        loss="sse",
        optimizer=SGD(lr=1.0),
        dtype="float64",
    )


def _saved_model(args, console):
    """The model of --model, on --data or else the rows train used."""
    from .cli import _model_data, _training_split

    net = Network.load(args.model)
    dataset = _model_data(args, net.metadata, net.is_classifier)
    X, y = dataset.X, dataset.y
    if args.data is None:
        parts = _training_split(dataset, net.metadata, net.is_classifier)
        if parts is not None:
            X, y = parts[0], parts[1]
            console.note(f"using the {len(y)} rows {args.model} was "
                         f"trained on")
    return net, X, y


def _architecture(args, console):
    """A new network built from train's options, on all rows of --data."""
    from .cli import (
        DEFAULT_LR,
        _is_classification,
        _make_network,
        _whole_numbers_as_ints,
    )

    dataset = cli_data.load(args.data or "tutorial", args.target, args.seed)
    classify = _is_classification(args, dataset, console)
    loss = args.loss or ("categorical_crossentropy" if classify else "mse")
    if classify:
        dataset.y = _whole_numbers_as_ints(dataset.y)
    optimizer = getattr(args, "optimizer", None) or DEFAULT_OPTIMIZER
    options = SimpleNamespace(
        layers=DEFAULT_LAYERS if args.layers is None else args.layers,
        activation=args.activation or DEFAULT_ACTIVATION,
        optimizer=optimizer,
        lr=getattr(args, "lr", None) or DEFAULT_LR[optimizer],
        standardize=not args.no_standardize,
    )
    net = _make_network(options, loss, dataset.y)
    console.note(f"a new network on all {len(dataset.y)} rows of "
                 f"{args.data or 'tutorial'}, loss {loss}, seed {args.seed}")
    return net, dataset.X, dataset.y
