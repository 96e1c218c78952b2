"""The race's progress: one bar (with ETA) over every study, fed by each lane's runner."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from seqnas.race.spec import RaceSpec

if TYPE_CHECKING:
    from seqnas.runner import Runner


class RaceProgress:
    """One progress bar (with ETA) over the whole race, fed by every lane's runner."""

    def __init__(self, spec: RaceSpec, show: bool) -> None:
        budget = spec.settings.budget
        self.unit = "trials" if budget.trials is not None else "cpu"
        self.per_study = float(budget.trials if budget.trials is not None else budget.cpu_seconds or 0.0)
        self.n = len(spec.studies())
        self._values: dict[str, float] = {}
        self._lock = threading.Lock()
        self._bar: Any = None
        self._task: Any = None
        from rich.console import Console

        self.console = Console(stderr=True)
        if show:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            what = "trials" if self.unit == "trials" else "CPU-s"
            self._bar = Progress(TextColumn("[bold]race"), BarColumn(),
                                 TextColumn("{task.completed:.0f}/{task.total:.0f} " + what),
                                 TextColumn("{task.fields[studies]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), console=self.console)

    def __enter__(self) -> RaceProgress:
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task("race", total=self.n * self.per_study, studies=self._studies_text())
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.stop()

    def _studies_text(self) -> str:
        done = sum(1 for v in self._values.values() if v >= self.per_study)
        return f"{done}/{self.n} studies"

    def set(self, study: str, value: float) -> None:
        with self._lock:
            self._values[study] = min(float(value), self.per_study)
            if self._bar is not None and self._task is not None:
                self._bar.update(self._task, completed=sum(self._values.values()), studies=self._studies_text())

    def note(self, line: str) -> None:
        with self._lock:
            self.console.print(line, highlight=False)

    def for_study(self, study: str) -> _StudyProgress:
        return _StudyProgress(self, study)


class _StudyProgress:
    """The runner's Progress protocol for one study, reported into the race's bar."""

    def __init__(self, race: RaceProgress, study: str) -> None:
        self.race, self.study = race, study
        self.runner: Runner | None = None

    def _value(self, done: int) -> float:
        if self.race.unit == "trials":
            return float(done)
        return float(self.runner.cpu_used) if self.runner is not None else 0.0

    def start(self, done: int, total: int | None, best: float | None) -> None:
        self.race.set(self.study, self._value(done))

    def update(self, done: int, best: float | None, failed: int) -> None:
        self.race.set(self.study, self._value(done))

    def close(self) -> None: ...
