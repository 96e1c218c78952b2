"""Progress bar with ETA and the best value so far (rich, on stderr)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

_STDERR: Console | None = None


def stderr_console() -> Console:
    """The process's one rich console on stderr: bars started on it nest instead of fighting
    (e.g. a supernet search's epoch bar inside the runner's trial bar)."""
    global _STDERR
    if _STDERR is None:
        _STDERR = Console(stderr=True)
    return _STDERR


class RichProgress:
    def __init__(self, label: str = "search", console: Console | None = None) -> None:
        self.label = label
        self.console = console or stderr_console()
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def start(self, done: int, total: int | None, best: float | None) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("best {task.fields[best]}"), TextColumn("failed {task.fields[failed]}"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=self.console, transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(self.label, total=total, completed=done, best=_fmt(best), failed=0)

    def update(self, done: int, best: float | None, failed: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=done, best=_fmt(best), failed=failed)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"
