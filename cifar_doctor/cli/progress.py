"""The progress view of `cifar-doctor compare`, on stderr.

On a terminal: a Rich Live display redrawn a few times a second from the
runs' `RunState`s (a progress bar per run and the epochs side by side).
Elsewhere (a pipe, a CI log): one plain line per epoch.

Run names and notes are drawn as `Text` with control characters shown as
escapes: nothing from a run's name is parsed as markup.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ..sanitize import one_line, terminal
from ..training.fit import HISTORY_KEYS, RunState

if TYPE_CHECKING:
    from rich.live import Live

#: Redraws per second of the live view (cheap: it only reads counters).
LIVE_REFRESH_PER_SECOND = 4


class LiveView:
    """A `cifar_doctor.training.compare.Progress` drawn with Rich.

    Args:
        console: Rich console. Defaults to `None` (stderr).
        enabled: Show anything at all. Defaults to `True`.
    """

    def __init__(self, console: Any = None, enabled: bool = True) -> None:
        from rich.console import Console

        self.states: list[RunState] = []
        self.console = console or Console(file=sys.stderr, highlight=False, markup=False, emoji=False)
        self.enabled = enabled
        self.live: Live | None = None

    # renderables are rebuilt on each refresh: Rich calls __rich__
    def __rich__(self) -> Any:
        from rich.console import Group

        from ..render.text import epochs_table

        return Group(
            self.progress_table(),
            epochs_table(
                [s.name for s in self.states], [s.history for s in self.states], planned=[s.epochs for s in self.states]
            ),
        )

    def progress_table(self) -> Any:
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        t = Table.grid(padding=(0, 1))
        for _ in range(6):
            t.add_column(no_wrap=True)
        for s in self.states:
            total = max(s.epochs * s.steps, 1)
            done = min(s.epoch * s.steps + (s.step if s.phase == "training" else 0), total)
            if s.phase == "done":
                done = total
            ips = s.images_per_second()
            eta = s.eta_seconds()
            t.add_row(
                Text(one_line(s.name), style="bold"),
                Text(
                    f"epoch {min(s.epoch + (1 if s.phase in ('training', 'validating') else 0), s.epochs)}/{s.epochs}"
                ),
                ProgressBar(total=total, completed=done, width=28),
                Text(f"{ips:,.0f} img/s" if ips else ""),
                Text(f"ETA {_hms(eta)}" if eta is not None else ""),
                Text(one_line(f"{s.phase}{' · ' + s.note if s.note else ''}"), style="dim"),
            )
        return t

    def start(self, states: list[RunState]) -> None:
        self.states = states
        if self.enabled and self.console.is_terminal:
            from rich.live import Live

            self.live = Live(
                self,
                console=self.console,
                refresh_per_second=LIVE_REFRESH_PER_SECOND,
                transient=False,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self.live.start()

    def stop(self) -> None:
        if self.live is not None:
            self.live.refresh()
            self.live.stop()
            self.live = None

    def epoch_done(self, s: RunState) -> None:
        """Plain per-epoch line when there is no live display."""
        from rich.text import Text

        if self.live is not None or not self.enabled:
            return
        h = s.history
        parts = [f"{one_line(s.name)}: epoch {s.epoch}/{s.epochs}"]
        for key in HISTORY_KEYS:
            if h.get(key):
                parts.append(f"{key} {h[key][-1]:.4g}")
        parts.append(f"{s.epoch_seconds[-1]:.1f}s")
        self.console.print(Text(" - ".join(parts)), highlight=False, soft_wrap=True)

    def message(self, text: str) -> None:
        from rich.text import Text

        if self.enabled:
            self.console.print(Text(terminal(text)), highlight=False, soft_wrap=True)


def _hms(sec: float) -> str:
    sec = int(round(sec))
    return f"{sec // 3600}:{sec % 3600 // 60:02d}:{sec % 60:02d}"
