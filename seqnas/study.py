"""A study's settings: what is searched, how it is judged, its budget; created once, checked on reopen."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable

from seqnas.errors import ConfigError, StudyError
from seqnas.evaluation.budget import TrainBudget
from seqnas.space.base import SearchSpace
from seqnas.storage import Storage, StudyRow
from seqnas.tasks import TaskSpec


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

    def __post_init__(self) -> None:
        if not isinstance(self.charge_strategy, bool):
            raise ConfigError(f"charge_strategy must be true or false, got {self.charge_strategy!r}")
        if self.trials is None and self.seconds is None and self.cpu_seconds is None:
            raise ConfigError("give a budget: --trials N, --seconds S or --cpu-seconds S")
        if self.trials is not None and (isinstance(self.trials, bool) or not isinstance(self.trials, int) or self.trials <= 0):
            raise ConfigError(f"--trials must be a positive integer, got {self.trials!r}")
        for name in ("seconds", "cpu_seconds"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0):
                raise ConfigError(f"--{name.replace('_', '-')} must be a positive number, got {v!r}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Budget:
        return cls(**d)


@dataclass(frozen=True)
class StudySettings:
    """Everything that defines a study besides its space and strategy."""

    seed: int
    objectives: tuple[str, ...]
    budget: Budget
    task: TaskSpec | None = None  # None: the study evaluates a user objective function
    train: TrainBudget = TrainBudget()
    max_params: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"--seed must be a non-negative integer, got {self.seed!r}")
        if self.max_params is not None and (isinstance(self.max_params, bool) or not isinstance(self.max_params, int) or self.max_params <= 0):
            raise ConfigError(f"--max-params must be a positive integer, got {self.max_params!r}")

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed, "objectives": list(self.objectives), "budget": self.budget.to_json(),
            "task": self.task.to_json() if self.task else None, "train": self.train.to_json(), "max_params": self.max_params,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> StudySettings:
        return cls(
            seed=int(d["seed"]), objectives=tuple(d["objectives"]), budget=Budget.from_json(d["budget"]),
            task=TaskSpec.from_json(d["task"]) if d.get("task") else None, train=TrainBudget(**d["train"]),
            max_params=d.get("max_params"),
        )

    def identity(self) -> dict[str, Any]:
        """What must match for a reopened study to be the same study (the budget may change)."""
        d = self.to_json()
        d.pop("budget")
        return d


def make_evaluator(space: SearchSpace, settings: StudySettings, objective: Callable[..., Any] | None = None) -> Any:
    # Imported here, not at the top: they import torch, and reading a study's settings (`seqnas show`) must not.
    from seqnas.evaluation.evaluator import ObjectiveEvaluator, TaskEvaluator
    from seqnas.models import check_space, families

    if settings.task is None:
        if objective is None:
            raise StudyError("this study evaluates a Python objective function; resume it from Python with the same objective=")
        return ObjectiveEvaluator(objective, settings.objectives)
    if space.family not in families():
        raise ConfigError(f"space {space.name!r} has no model family to train on a task; give 'family: one of {families()}' "
                          "in the space file, or search it with a Python objective=")
    check_space(space)  # a space the family cannot build is refused before any study is written
    return TaskEvaluator(settings.task, space.family, settings.train, settings.objectives, settings.max_params)


def open_study(storage: Storage, name: str, space: SearchSpace, strategy: str, strategy_options: dict[str, Any],
               settings: StudySettings) -> StudyRow:
    """Create the study, or reopen it when everything but the budget matches (the new budget is stored)."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("--study must be a non-empty name")
    row = storage.find_study(name)
    if row is None:
        try:
            return storage.create_study(name, space.to_json(), strategy, strategy_options, settings.to_json())
        except StudyError:
            # Another process created it between our look and our write: treat it as an existing study
            # (its lease then decides who runs it).
            row = storage.find_study(name)
            if row is None:
                raise
    old = StudySettings.from_json(row.settings)
    differences = [what for what, same in (
        ("space", row.space == space.to_json()),
        ("strategy", row.strategy == strategy and row.strategy_options == strategy_options),
        ("settings (task, seed, objectives, training, constraints)", old.identity() == settings.identity()),
    ) if not same]
    if differences:
        raise StudyError(f"study {name!r} already exists in {str(storage.path)!r} with a different {differences[0]}; "
                         "use a new --study name, or `seqnas resume` to continue it")
    if old.budget != settings.budget:
        with storage.transaction() as c:
            c.execute("UPDATE studies SET settings=? WHERE id=?", (_dumps({**row.settings, "budget": settings.budget.to_json()}), row.id))
        row = storage.get_study(name)
    return row


def _dumps(obj: Any) -> str:
    import json

    return json.dumps(obj, sort_keys=True)
