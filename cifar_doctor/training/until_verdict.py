"""`until_verdict`: stop a run of `compare` once its live `Session` says the verdict is certain."""

from __future__ import annotations

from typing import Any

from ..comparison import EarlyStop
from ..session import Session
from ..sources.history import history_from_dict
from .fit import RunState


class UntilVerdict:
    """Called after each epoch of a run; returns `True` to stop training.

    The session runs the engine on the run's data and its history so far (no
    model, so no counterfactual: that is measured once at the end). Certain
    means the same cause, supported by an error-level finding, on
    `cifar_doctor.session.CONFIRMING_EPOCHS` consecutive epochs.

    Args:
        inputs: The run's evidence before training (data, loss).

    Attributes:
        stopped: Why the run stopped early, once it did; else `None`.
    """

    def __init__(self, inputs: Any) -> None:
        self.session = Session(inputs)
        self.stopped: EarlyStop | None = None

    def __call__(self, state: RunState) -> bool:
        if self.stopped is not None:  # already decided; Keras is finishing the epoch
            return True
        state.phase = "diagnosing"
        update = self.session.update(
            history_from_dict({k: list(v) for k, v in state.history.items()}, source=f"compare:{state.name}")
        )
        state.phase = "training"
        cause = update.certain
        if cause is None or state.epoch >= state.epochs:
            return False
        saved = state.epochs - state.epoch
        per_epoch = sum(state.epoch_seconds) / len(state.epoch_seconds)
        self.stopped = EarlyStop(
            after_epoch=state.epoch,
            planned_epochs=state.epochs,
            epochs_saved=saved,
            seconds_saved_estimate=round(per_epoch * saved, 1),
            cause=cause,
            codes=tuple(sorted({f.code for f in update.report.findings if f.cause == cause})),
            reason=f"verdict {cause} (error-level) on {update.streak} consecutive epochs",
        )
        state.note = f"verdict certain: {cause}; {saved} epochs saved"
        return True
