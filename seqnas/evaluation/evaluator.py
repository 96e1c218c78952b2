"""Evaluators: pure, picklable ``(arch, seed) -> Result`` callables, for tasks or user objectives."""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from seqnas.errors import ConfigError
from seqnas.evaluation.metrics import UNIT_METRICS, VAL_UNIT_METRICS
from seqnas.evaluation.training import (
    Diverged,
    TrainBudget,
    latency_ms,
    seed_everything,
    split_actual,
    state_bytes,
    train,
    unit_errors,
)
from seqnas.models import build, count_params, learning_rate
from seqnas.seeds import derive_seed
from seqnas.space.base import Arch
from seqnas.tasks import TaskSpec, load_task
from seqnas.tasks.inputs import task_for
from seqnas.trial import Result, TrialState

# Every task trial's metrics (and the per-step lists of the error measures; val_mape and test_mape
# only where that split's actual values hold no 0).
METRICS = ("val_mse", "test_mse", *(m for m in UNIT_METRICS if not m.endswith("_mape")), "params", "latency_ms", "train_seconds", "epochs", "best_epoch",
           "cpu_seconds")
# Minimised. The error measures in the data's own units (seqnas.evaluation.metrics) on validation:
# the test split's figures are reported, never searched on.
OBJECTIVES = ("val_mse", *VAL_UNIT_METRICS, "params", "latency_ms")
OBJECTIVE_ALIASES = {"latency": "latency_ms", "mse": "val_mse", "size": "params",
                     **{name[len("val_"):]: name for name in VAL_UNIT_METRICS}}


def parse_objectives(objectives: str | Sequence[str] | None) -> tuple[str, ...]:
    """Objective names to minimise; the first is the primary one (``val_mse`` by default)."""
    if objectives is None:
        return ("val_mse",)
    items = [s.strip() for s in objectives.split(",")] if isinstance(objectives, str) else [str(s).strip() for s in objectives]
    out = tuple(OBJECTIVE_ALIASES.get(s, s) for s in items if s)
    unknown = [s for s in out if s not in OBJECTIVES]
    on_test = [s for s in unknown if s.startswith("test_")]
    if on_test:
        raise ConfigError(f"objective(s) {on_test} are measured on the test split, which is reported and never searched "
                          f"on; use the validation figure ({', '.join('val_' + s[len('test_'):] for s in on_test)})")
    if not out or unknown:
        raise ConfigError(f"unknown objective(s) {unknown or items}; use a comma-separated list of {list(OBJECTIVES)} (or 'latency')")
    if len(set(out)) != len(out):
        raise ConfigError(f"objectives repeat a name: {list(out)}")
    return out


def trial_seed(seed: int, arch: Arch) -> int:
    """Per-architecture seed: the same architecture gets the same result whenever it is run."""
    return derive_seed(seed, arch.key)


@dataclass(frozen=True)
class TaskEvaluator:
    """Train the architecture's model on the task and measure it."""

    task: TaskSpec
    family: str | None
    budget: TrainBudget = field(default_factory=TrainBudget)
    objectives: tuple[str, ...] = ("val_mse",)
    max_params: int | None = None

    def __post_init__(self) -> None:
        if "val_mape" in self.objectives:  # refused before any study is written, not trial by trial
            data = load_task(self.task)
            if np.any(split_actual(data, "val") == 0):
                raise ConfigError(f"objective val_mape is undefined on {self.task.label}: the target is 0 in the validation "
                                  "part; use val_smape or val_mase")

    accepts_cpu_limit = True  # run_trial passes what is left of a --cpu-seconds budget (Proposal.cpu_limit)
    returns_weights = True  # run_trial asks a final retraining for its trained weights (weights=True)

    def __call__(self, arch: Arch, seed: int, *, epochs: int | None = None, resume: bytes | None = None,
                 cpu_limit: float | None = None, weights: bool = False) -> Result:
        """Train and measure. Multi-fidelity: ``epochs`` trains to that many epochs in all (from
        ``resume``, the previous rung's checkpoint, when given) and returns the state to continue
        from in ``Result.checkpoint``. ``cpu_limit``: training ends after the epoch in which this
        trial's CPU-seconds reach it (metric ``cut_by_budget``; at least one epoch runs). ``weights``:
        ``Result.checkpoint`` holds the trained model's state dict (``torch.save``), what an export deploys."""
        t0 = time.perf_counter()
        metrics: dict[str, Any] = {}
        curve: list[float] = []
        checkpoint: bytes | None = None
        c0: float | None = None

        def failed(error: str, **extra: Any) -> Result:
            # A failed trial costs what it ran: charged to --cpu-seconds like a finished one.
            if c0 is not None:
                metrics["cpu_seconds"] = time.process_time() - c0
            return Result.failed(error, time.perf_counter() - t0, **extra, **metrics)

        try:
            data = load_task(task_for(self.task, arch))  # the architecture's window and calendar inputs, if searched
            # CPU-seconds count this trial's own work: reading the task happens once per process
            # (then it is cached), so the first trial a process runs must not pay for it.
            c0 = time.process_time()
            gen = seed_everything(trial_seed(seed, arch))
            model = build_for(arch, self.family, data)
            metrics["params"] = count_params(model)
            if self.max_params is not None and metrics["params"] > self.max_params:
                return failed(f"constraint: {metrics['params']} parameters > --max-params {self.max_params}", constraint=True)
            trained = train(model, data, learning_rate(arch, self.family), self.budget, gen, until=epochs, resume=resume,
                            save=epochs is not None, cpu_deadline=None if cpu_limit is None else c0 + cpu_limit)
            curve, checkpoint = trained.pop("curve"), trained.pop("checkpoint", None)
            metrics.update(trained)
            metrics.update(unit_errors(model, data))
            metrics["latency_ms"] = latency_ms(model, data)
            if weights:
                checkpoint = state_bytes(model)
        except Diverged as e:
            return failed(f"diverged: {e}")
        except Exception as e:  # noqa: BLE001 - any error in one trial must not stop the search
            return failed(_describe(e))
        metrics["cpu_seconds"] = time.process_time() - c0
        missing = [k for k in self.objectives if k not in metrics]
        if missing:
            return failed(f"objective(s) {missing} undefined for this trial (val_mape: the target is 0 in the validation part)")
        values = {k: float(metrics[k]) for k in self.objectives}
        return Result(TrialState.COMPLETE, values, metrics, time.perf_counter() - t0, curve=curve,
                      checkpoint=checkpoint).check_finite()


@dataclass(frozen=True)
class ObjectiveEvaluator:
    """Wrap a user function ``fn(arch) -> float`` (or a mapping of objective -> float)."""

    fn: Callable[[Arch], Any]
    objectives: tuple[str, ...] = ("value",)

    def __call__(self, arch: Arch, seed: int) -> Result:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            out = self.fn(arch)
            if isinstance(out, Mapping):
                values = {k: float(out[k]) for k in self.objectives}
            else:
                values = {self.objectives[0]: float(out)}
        except Exception as e:  # noqa: BLE001 - a failing objective is a failed trial
            return Result.failed(_describe(e), time.perf_counter() - t0, cpu_seconds=time.process_time() - c0)
        metrics = {**values, "cpu_seconds": time.process_time() - c0}
        return Result(TrialState.COMPLETE, values, metrics, time.perf_counter() - t0).check_finite()


def build_for(arch: Arch, family: str | None, data: Any) -> Any:
    """The architecture's model for a task's windows, its base forecast (if any) fitted on the training windows."""
    from seqnas.models.base_forecast import fit_base

    model = build(arch, family, data.n_features, data.horizon, window=data.window, season=data.info.get("season"))
    fit_base(model, data.X_train, data.y_train, data.X_val, data.y_val)
    return model


def _describe(e: BaseException) -> str:
    tb = traceback.extract_tb(e.__traceback__)
    where = f" (at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno})" if tb else ""
    return f"{type(e).__name__}: {e}{where}"
