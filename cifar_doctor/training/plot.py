"""Learning-curve PNGs for `compare --save` (needs the `plot` extra: matplotlib)."""

from __future__ import annotations

from pathlib import Path

#: Above this max/min ratio of the plotted losses, the loss axis is logarithmic:
#: a scale-mismatched validation loss (hundreds) would flatten the training loss (~1).
LOG_SCALE_LOSS_RATIO = 30.0


def save_curves(history: dict[str, list[float]], path: Path, title: str = "") -> bool:
    """Write accuracy and loss curves of `history` to `path` (opened with "x": never overwrites).

    Args:
        history: Per-epoch metrics keyed as Keras names them.
        path: Destination PNG.
        title: Figure title. Defaults to `""`.

    Returns:
        `True` when written, `False` when matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(9, 3.4))
    try:
        for key, style in (("accuracy", "-"), ("val_accuracy", "--")):
            vals = history.get(key) or []
            if vals:
                ax_acc.plot(range(1, len(vals) + 1), vals, style, marker="o", label=key)
        ax_acc.set_xlabel("epoch")
        ax_acc.set_ylabel("accuracy")
        ax_acc.set_ylim(0, 1)
        ax_acc.legend(loc="lower right")
        losses = []
        for key, style in (("loss", "-"), ("val_loss", "--")):
            vals = [v for v in (history.get(key) or [])]
            if vals:
                ax_loss.plot(range(1, len(vals) + 1), vals, style, marker="o", label=key)
                losses += [v for v in vals if v == v and v > 0]
        if losses and max(losses) / min(losses) > LOG_SCALE_LOSS_RATIO:
            ax_loss.set_yscale("log")
        ax_loss.set_xlabel("epoch")
        ax_loss.set_ylabel("loss")
        ax_loss.legend(loc="upper right")
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        from ..atomic import atomic_path

        with atomic_path(path, exclusive=True) as tmp, open(tmp, "xb") as fh:
            fig.savefig(fh, format="png", dpi=100)
    finally:
        plt.close(fig)
    return True
