"""A study's settings: what is searched, how it is judged, its budget; created once, checked on reopen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable

from seqnas.checks import optional_positive_int, optional_positive_number
from seqnas.errors import ConfigError, StudyError
from seqnas.evaluation.budget import TrainBudget
from seqnas.space.base import SearchSpace
from seqnas.storage import Storage, StudyRow
from seqnas.tasks import TaskSpec, is_bench_task


@dataclass(frozen=True)
class Budget:
    """When a study stops: after ``trials`` finished trials, ``seconds`` of wall-clock time or
    ``cpu_seconds`` of evaluation CPU time, whichever comes first (any may be None)."""

    trials: int | None = None
    seconds: float | None = None
    cpu_seconds: float | None = None
    # The strategy's own CPU time (ask and tell: model fitting, controller updates) counts toward
    # ``cpu_seconds`` too; False leaves it out (the report says so).
    charge_strategy: bool = True
    # One budget: the share of ``cpu_seconds`` kept for the final retraining (``seqnas.final``), which then
    # spends what the search left. None: the search has all of it and the retraining comes on top (studies
    # made before one budget existed).
    final_share: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.charge_strategy, bool):
            raise ConfigError(f"charge_strategy must be true or false, got {self.charge_strategy!r}")
        if self.trials is None and self.seconds is None and self.cpu_seconds is None:
            raise ConfigError("give a budget: --trials N, --seconds S or --cpu-seconds S")
        optional_positive_int(self.trials, "--trials")
        for name in ("seconds", "cpu_seconds"):
            optional_positive_number(getattr(self, name), f"--{name.replace('_', '-')}")
        if self.final_share is not None and not (isinstance(self.final_share, float) and 0.0 <= self.final_share < 1.0):
            raise ConfigError(f"final_share must be a number in [0, 1), got {self.final_share!r}")

    def charged(self, metrics: dict[str, Any]) -> float:
        """CPU-seconds a finished trial costs the budget: its evaluation and (``charge_strategy``) the strategy's work for it."""
        cpu = float(metrics.get("cpu_seconds", 0.0) or 0.0)
        if self.charge_strategy:
            cpu += float(metrics.get("strategy_cpu_seconds", 0.0) or 0.0)
        return cpu

    def search(self) -> Budget:
        """The search's part: ``cpu_seconds`` less the share kept for the final retraining."""
        if self.cpu_seconds is None or not self.final_share:
            return self
        return replace(self, cpu_seconds=self.cpu_seconds * (1.0 - self.final_share))

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        if d["final_share"] is None:  # stored as before one budget existed
            d.pop("final_share")
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Budget:
        return cls(**d)


MINIMIZE, MAXIMIZE = "minimize", "maximize"


def parse_directions(directions: str | Sequence[str] | None, objectives: Sequence[str]) -> tuple[str, ...]:
    """One direction per objective, "minimize" (the default for all) or "maximize"; a string may list
    them comma-separated."""
    if directions is None or (not isinstance(directions, str) and len(directions) == 0):
        return (MINIMIZE,) * len(objectives)
    items = directions.split(",") if isinstance(directions, str) else list(directions)
    out = tuple(str(d).strip().lower() for d in items)
    bad = [d for d in out if d not in (MINIMIZE, MAXIMIZE)]
    if bad:
        raise ConfigError(f"directions must be 'minimize' or 'maximize' per objective, got {bad[0]!r}")
    if len(out) != len(objectives):
        raise ConfigError(f"directions has {len(out)} entr{'y' if len(out) == 1 else 'ies'} for {len(objectives)} "
                          f"objective(s) {list(objectives)}: give one per objective, each 'minimize' or 'maximize'")
    return out


@dataclass(frozen=True)
class StudySettings:
    """Everything that defines a study besides its space and strategy.

    ``directions``: per objective, "minimize" or "maximize" (empty: all minimised, as every study
    before directions existed). Only a Python objective function's objectives may be maximised;
    values are stored as the function returned them, and strategies see maximised ones negated
    (``trial.oriented``, at the runner).
    """

    seed: int
    objectives: tuple[str, ...]
    budget: Budget
    task: TaskSpec | None = None  # None: the study evaluates a user objective function
    train: TrainBudget = TrainBudget()
    max_params: int | None = None
    directions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"--seed must be a non-negative integer, got {self.seed!r}")
        optional_positive_int(self.max_params, "--max-params")
        directions = parse_directions(self.directions, self.objectives)
        object.__setattr__(self, "directions", directions)
        if self.task is not None and MAXIMIZE in directions:
            name = self.objectives[directions.index(MAXIMIZE)]
            raise ConfigError(f"objective {name!r} is built in and built-in objectives are minimised; only the objectives "
                              "of a Python objective= function may be maximised")

    @property
    def maximized(self) -> frozenset[str]:
        """The objectives whose direction is "maximize"."""
        return frozenset(o for o, d in zip(self.objectives, self.directions) if d == MAXIMIZE)

    @property
    def maximize_primary(self) -> bool:
        return self.directions[0] == MAXIMIZE

    def to_json(self) -> dict[str, Any]:
        d = {
            "seed": self.seed, "objectives": list(self.objectives), "budget": self.budget.to_json(),
            "task": self.task.to_json() if self.task else None, "train": self.train.to_json(), "max_params": self.max_params,
        }
        if self.maximized:  # all minimised: stored as before directions existed (older seqnas reads it)
            d["directions"] = list(self.directions)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> StudySettings:
        return cls(
            seed=int(d["seed"]), objectives=tuple(d["objectives"]), budget=Budget.from_json(d["budget"]),
            task=TaskSpec.from_json(d["task"]) if d.get("task") else None, train=TrainBudget(**d["train"]),
            max_params=d.get("max_params"), directions=tuple(d.get("directions") or ()),
        )

    def identity(self) -> dict[str, Any]:
        """What must match for a reopened study to be the same study (the budget may change)."""
        d = self.to_json()
        d.pop("budget")
        return d


def make_evaluator(space: SearchSpace, settings: StudySettings, objective: Callable[..., Any] | None = None) -> Any:
    # Imported here, not at the top: they import torch, and reading a study's settings (`seqnas show`) must not.
    from seqnas.evaluation.evaluator import ObjectiveEvaluator
    from seqnas.models import check_space, families

    if settings.task is None:
        if objective is None:
            raise StudyError("this study evaluates a Python objective function; resume it from Python with the same objective=")
        return ObjectiveEvaluator(objective, settings.objectives)
    if space.family not in families():
        raise ConfigError(f"space {space.name!r} has no model family to train on a task; give 'family: one of {families()}' "
                          "in the space file, or search it with a Python objective=")
    check_space(space)  # a space the family cannot build is refused before any study is written
    if is_bench_task(settings.task.name):
        from seqnas.tabular import check_bench_space

        check_bench_space(space)
    return task_evaluator(settings.task, space.family, settings.train, settings.objectives, settings.max_params)


def task_evaluator(task: TaskSpec, family: str, train: TrainBudget, objectives: Sequence[str] = ("val_mse",),
                   max_params: int | None = None) -> Any:
    """What evaluates an architecture on a task: training it (TaskEvaluator), or, on a ``bench:`` task,
    looking its recorded training up in the tabular benchmark (seqnas.tabular.LookupEvaluator)."""
    if is_bench_task(task.name):
        from seqnas.tabular import LookupEvaluator

        return LookupEvaluator(task.name, train, tuple(objectives), max_params)
    from seqnas.evaluation.evaluator import TaskEvaluator

    return TaskEvaluator(task, family, train, tuple(objectives), max_params)


class StudyExistsError(StudyError):
    """``search`` named a study that already exists, without ``load_if_exists``."""

    def __init__(self, name: str, db: str) -> None:
        self.name, self.db = name, db
        super().__init__(f"study {name!r} already exists in {db!r}; to continue it pass load_if_exists=True or run "
                         f"`seqnas resume --study {name} --db {db}`; or give a new study name")


def open_study(storage: Storage, name: str, space: SearchSpace, strategy: str, strategy_options: dict[str, Any],
               settings: StudySettings, *, load_if_exists: bool = True) -> StudyRow:
    """Create the study, or reopen it when everything but the budget matches (the new budget is stored).

    ``load_if_exists`` False: an existing study of that name is refused (``StudyExistsError``; one
    that a live process runs: the lease's message), and a study this call creates is leased to this
    process at once, so that a process starting the same study at the same moment is refused as
    running it (the runner keeps the lease and releases it when it stops).
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("--study must be a non-empty name")
    row = storage.find_study(name)
    raced = False
    if row is None:
        try:
            row = storage.create_study(name, space.to_json(), strategy, strategy_options, settings.to_json())
        except StudyError:
            # Another process created it between our look and our write: treat it as an existing study
            # (its lease then decides who runs it).
            row = storage.find_study(name)
            if row is None:
                raise
            raced = True
        else:
            if not load_if_exists:
                storage.acquire(row)
            return row
    old = StudySettings.from_json(row.settings)
    differences = [what for what, same in (
        ("space", row.space == space.to_json()),
        ("strategy", row.strategy == strategy and row.strategy_options == strategy_options),
        ("settings (task, seed, objectives, directions, training, constraints)", old.identity() == settings.identity()),
    ) if not same]
    if differences:
        raise StudyError(f"study {name!r} already exists in {str(storage.path)!r} with a different {differences[0]}; "
                         "use a new --study name, or `seqnas resume` to continue it")
    if not load_if_exists and not raced:
        owner = _live_owner(storage, row)
        if owner is not None:
            raise StudyError(f"study {name!r} is being run by process {owner}; wait for it to finish or stop it first")
        raise StudyExistsError(name, str(storage.path))
    if old.budget != settings.budget:
        with storage.transaction() as c:
            c.execute("UPDATE studies SET settings=? WHERE id=?", (_dumps({**row.settings, "budget": settings.budget.to_json()}), row.id))
        row = storage.get_study(name)
    return row


def _live_owner(storage: Storage, row: StudyRow, stale_after: float = 120.0) -> str | None:
    """The other process holding the study's lease, if it is alive (read only: nothing is written)."""
    import os
    import socket

    from seqnas.storage.sqlite import _alive

    found = storage.conn.execute("SELECT owner, heartbeat FROM studies WHERE id=?", (row.id,)).fetchone()
    if found is None or not found[0] or found[0] == f"{socket.gethostname()}:{os.getpid()}":
        return None
    owner, beat = found
    return str(owner) if _alive(owner, beat, stale_after) else None


def _dumps(obj: Any) -> str:
    import json

    return json.dumps(obj, sort_keys=True)
