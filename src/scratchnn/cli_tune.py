"""The `lr-find` command: sweep the learning rate, suggest one, draw it.

It takes `train`'s data and architecture options, so the network swept is
the one `train` would build. The helpers shared with `train` live in
`cli`, which imports this module; they are imported inside the functions.
"""
import json

import numpy as np

from . import cli_data, streaming
from .activations import ACTIVATIONS
from .losses import LOSSES
from .lr_finder import MIN_STEPS, find_learning_rate
from .optimizers import OPTIMIZERS

DEFAULT_PLOT = "lr-find.png"


def add_lr_find(commands) -> None:
    """Register `lr-find` on the sub-command set `commands`."""
    from .cli import (
        DEFAULT_BATCH,
        _add_data_options,
        _bounded,
        _command,
        _layer_widths,
    )

    finder = _command(
        commands, "lr-find", "sweep the learning rate and suggest one",
        "Train the network train would build for a few hundred mini-batch "
        "steps, the learning rate growing exponentially from --start to "
        "--stop, and print the rate where the smoothed loss falls fastest. "
        "The weights are thrown away; nothing is saved but the picture of "
        "the loss against the rate.",
    )
    _add_data_options(finder, default="digits")
    finder.add_argument("--layers", type=_layer_widths, default="64",
                        help="hidden layer widths, comma-separated")
    finder.add_argument("--activation", default="relu",
                        choices=sorted(set(ACTIVATIONS) - {"softmax"}),
                        help="activation of the hidden layers")
    finder.add_argument("--loss", default=None, choices=sorted(LOSSES),
                        help="default: as for train")
    finder.add_argument("--optimizer", default="adam",
                        choices=sorted(OPTIMIZERS), help="update rule")
    finder.add_argument("--batch-size", type=_bounded(int, 1),
                        default=None,
                        help=f"rows per step; default: {DEFAULT_BATCH}, or "
                             "all training rows when there are fewer")
    finder.add_argument("--test-size", type=_bounded(float, 0, 1),
                        default=0.2,
                        help="share of rows held out, as train holds them "
                             "out; the sweep never sees them")
    finder.add_argument("--no-standardize", dest="standardize",
                        action="store_false",
                        help="feed the features unscaled")
    finder.add_argument("--seed", type=_bounded(int, 0), default=0,
                        help="seed for weights, split and shuffling "
                             "(default: %(default)s)")
    finder.add_argument("--start", type=_bounded(float, 0, low_open=True),
                        default=1e-6, help="the first learning rate")
    finder.add_argument("--stop", type=_bounded(float, 0, low_open=True),
                        default=1.0,
                        help="the last learning rate (default: %(default)s)")
    finder.add_argument("--steps", type=_bounded(int, MIN_STEPS),
                        default=200, help="mini-batch steps in the sweep")
    finder.add_argument("--plot", default=None, metavar="PATH.png",
                        help=f"draw the loss against the rate here; "
                             f"default: {DEFAULT_PLOT} when matplotlib is "
                             f"installed")
    finder.add_argument("--no-plot", action="store_true",
                        help="draw nothing")
    # _make_network reads --lr; the sweep sets every step's rate itself.
    finder.set_defaults(run=cmd_lr_find, lr=None)


def cmd_lr_find(args, console) -> int:
    from . import cli

    if args.stop <= args.start:
        raise cli.UsageError(
            f"--stop must be larger than --start, got --start "
            f"{args.start:g} --stop {args.stop:g}"
        )
    plot_path = _plot_path(args, console)
    dataset = cli_data.load(args.data, args.target, args.seed)
    classify = cli._is_classification(args, dataset, console)
    loss = args.loss or ("categorical_crossentropy" if classify else "mse")
    if classify:
        dataset.y = cli._whole_numbers_as_ints(dataset.y)
    X_tr, y_tr, _, _ = cli_data.split(
        dataset, args.test_size, args.seed, classify
    )
    X_tr, y_tr = _in_memory(X_tr, y_tr, args)

    net = cli._make_network(args, loss, y_tr)
    console.note(
        f"sweeping lr from {args.start:g} to {args.stop:g} over "
        f"{args.steps} steps: {cli._architecture(net, X_tr.shape[1])} on "
        f"{args.data} ({len(y_tr)} training rows), loss {loss}, "
        f"{args.optimizer}, seed {args.seed}"
    )
    result = find_learning_rate(
        net, X_tr, y_tr, start=args.start, stop=args.stop,
        steps=args.steps, batch_size=args.batch_size or "auto",
        seed=args.seed,
    )
    if result.stopped_early:
        console.note(
            f"the loss blew up beyond lr {result.lrs[-1]:.3g}; the sweep "
            f"stopped after {len(result.lrs)} of {args.steps} steps"
        )
    if plot_path:
        title = f"{cli._title(dataset.name)}: learning-rate sweep"
        cli._plots().plot_lr_find(result, plot_path, title)

    if args.json:
        console.result(json.dumps({**result.to_dict(), "plot": plot_path}))
    else:
        console.result(f"suggested lr {result.suggestion:.3g}")
    if plot_path:
        console.note(f"wrote {plot_path}")
    console.note(f"train with it: scratchnn train --lr "
                 f"{result.suggestion:.3g} (and the same options)")
    return 0


def _plot_path(args, console) -> str | None:
    """Where to draw, checked before any work; None to draw nothing.

    Without --plot a missing matplotlib only skips the picture, with a
    note; an explicit --plot needs it.
    """
    from . import cli

    if args.no_plot:
        if args.plot:
            raise cli.UsageError("give --plot or --no-plot, not both")
        return None
    path = args.plot or DEFAULT_PLOT
    try:
        cli._plots(hint=" or use --no-plot")
    except cli.UserError:
        if args.plot:
            raise
        console.note("note: matplotlib is not installed, so no curve is "
                     "drawn; pip install 'scratchnn[plot]'")
        return None
    cli._check_writable(path, "--plot")
    return path


def _in_memory(X, y, args) -> tuple:
    """X and y as they are, or for a memory-mapped file a random sample of
    the rows in memory: the sweep reads at most steps x batch-size."""
    from .cli import DEFAULT_BATCH

    if not isinstance(X, streaming.MappedRows):
        return X, y
    wanted = min(len(X), args.steps * (args.batch_size or DEFAULT_BATCH))
    rng = np.random.default_rng(args.seed)
    rows = np.sort(rng.choice(len(X), size=wanted, replace=False))
    return X.gather(rows), np.asarray(y)[rows]
