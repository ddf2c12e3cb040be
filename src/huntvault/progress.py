"""Progress bars for the CLI and the demo: rich bars on a terminal, a plain line every few seconds elsewhere.

Stages never import this module: their run functions take a plain `progress(done, total)` callback, and
`Bars.bar(...)` hands out an object that is such a callback.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console

#: What a stage's run function accepts: `progress(done, total)`; `total` is None while it is unknown.
ProgressFn = Callable[[int, "int | None"], None]

#: Seconds between two plain progress lines when the output is not a terminal.
PLAIN_EVERY = 10.0


def _human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} GB"  # pragma: no cover - the loop always returns


class Bar:
    """One task's progress: call it as `bar(done, total)` (a stage's progress callback), `bar.info = ...`."""

    def __init__(self, owner: Bars, description: str, unit: str, task: Any = None) -> None:
        self.owner = owner
        self.description = description
        self.unit = unit  # "bytes" shows sizes; anything else is a count label ("rows", "windows")
        self.task = task
        self.done = 0
        self.total: int | None = None
        self.info = ""
        self._last_line = time.monotonic()

    @property
    def callback(self) -> Bar | None:
        """What to hand a stage's `progress=`: this bar, or None when bars are off (a stage may skip the
        work of counting its total, e.g. the index sync's pending documents)."""
        return self if self.owner.enabled else None

    def __call__(self, done: int, total: int | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        self.owner._update(self)

    def describe(self) -> str:
        """`description: 12,345 / 67,890 rows (18%)`, as the plain lines and the final line show it."""
        fmt = _human_bytes if self.unit == "bytes" else (lambda n: f"{n:,}")
        unit = "" if self.unit == "bytes" else f" {self.unit}"
        if self.total:
            pct = min(100.0, 100.0 * self.done / self.total)
            text = f"{self.description}: {fmt(self.done)} / {fmt(self.total)}{unit} ({pct:.0f}%)"
        else:
            text = f"{self.description}: {fmt(self.done)}{unit}"
        return text + (f", {self.info}" if self.info else "")


class Bars:
    """Progress for one command or demo step; `enabled=False` makes every bar a no-op (nothing imported).

    On a terminal console the bars are rich's live bars; otherwise (a log file, a pipe) one plain line per
    bar every `PLAIN_EVERY` seconds, so a long step never looks hung.
    """

    def __init__(self, console: Console | None = None, *, enabled: bool = True, stream: TextIO | None = None):
        self.enabled = enabled
        self._console = console
        self._stream = stream
        self._progress: Any = None

    @classmethod
    def for_cli(cls, wanted: bool | None) -> Bars:
        """CLI bars on stderr: shown when asked (`--progress`), or by default when stderr is a terminal."""
        enabled = sys.stderr.isatty() if wanted is None else wanted
        return cls(None, enabled=enabled, stream=sys.stderr)

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self._stream or sys.stderr)
        return self._console

    @contextlib.contextmanager
    def bar(self, description: str, unit: str = "") -> Iterator[Bar]:
        """A bar for one task; it is completed (and shown once more) when the block ends."""
        if not self.enabled:
            yield Bar(self, description, unit)
            return
        live = self.console.is_terminal
        if live:
            bar = Bar(self, description, unit, task=self._start_live(description, unit))
        else:
            bar = Bar(self, description, unit)
        try:
            yield bar
        finally:
            if live:
                self._stop_live(bar)
            else:
                self.console.print(bar.describe(), markup=False, highlight=False)

    # -- rich ---------------------------------------------------------------------------------------
    def _start_live(self, description: str, unit: str) -> Any:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        count = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            count,
            TextColumn("{task.fields[unit]}"),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
        )
        self._progress = Progress(*columns, console=self.console, transient=False)
        self._progress.start()
        return self._progress.add_task(description, total=None, unit="" if unit == "bytes" else unit, info="")

    def _stop_live(self, bar: Bar) -> None:
        if self._progress is None:
            return
        total = bar.total if bar.total is not None else bar.done
        self._progress.update(bar.task, completed=bar.done, total=total, info=bar.info)
        self._progress.stop()
        self._progress = None

    def _update(self, bar: Bar) -> None:
        if not self.enabled:
            return
        if bar.task is not None and self._progress is not None:
            self._progress.update(bar.task, completed=bar.done, total=bar.total, info=bar.info)
            return
        now = time.monotonic()
        if now - bar._last_line >= PLAIN_EVERY:
            bar._last_line = now
            self.console.print(bar.describe(), markup=False, highlight=False)


__all__ = ["PLAIN_EVERY", "Bar", "Bars", "ProgressFn"]
