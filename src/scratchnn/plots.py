"""Pictures of training: the loss and accuracy curves as a PNG.

Needs matplotlib (the `cli` extra); the core library never imports this
module. The non-interactive Agg backend is used, so no screen is needed.
"""
from .atomic import atomic_write


def plot_history(history, path: str, title: str = "") -> None:
    """Draw loss (and accuracy, if recorded) per epoch into a PNG at `path`.

    Training and validation curves share one panel per metric. The file is
    written to a temporary name first and renamed, so a crash never leaves
    a half-drawn picture under `path`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = ["loss"] + (["accuracy"] if "accuracy" in history else [])
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False
    )
    for ax, metric in zip(axes[0], metrics):
        ax.plot(history.epochs, history[metric], label="training")
        if f"val_{metric}" in history:
            ax.plot(
                history.epochs, history[f"val_{metric}"], label="validation"
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()

    try:
        with atomic_write(path) as fh:
            fig.savefig(fh, format="png", dpi=100)
    finally:
        plt.close(fig)
