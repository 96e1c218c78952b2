"""An evaluator that looks an architecture's training up in the table instead of training it.

A trial's CPU-seconds are the recorded ones (simulated time), so --cpu-seconds budgets, the race
and its reports work unchanged; the study seed and the architecture pick one of the recorded
training seeds, so the noise between seeds is the real one. Multi-fidelity: a rung of k epochs
sees the recorded curve up to epoch k only (its value is the best validation MSE so far, as
early stopping's restored weights give), is charged k epochs' CPU-seconds, and a promotion
pays only for the epochs it adds; test errors exist only once the recorded training is over.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from seqnas.errors import ConfigError
from seqnas.evaluation.budget import TrainBudget
from seqnas.seeds import derive_seed
from seqnas.space.base import Arch
from seqnas.tabular.table import MAX_EPOCHS, PATIENCE, Row, bench_task_name, load_table, table_key
from seqnas.trial import Result, TrialState

OBJECTIVES = ("val_mse", "params", "latency_ms")
FINAL_ONLY = ("test_mse", "test_mae", "test_mase", "best_epoch")


@dataclass(frozen=True)
class LookupEvaluator:
    task: str  # "bench:sunspots"
    budget: TrainBudget = TrainBudget(max_epochs=MAX_EPOCHS, patience=PATIENCE)
    objectives: tuple[str, ...] = ("val_mse",)
    max_params: int | None = None

    def __post_init__(self) -> None:
        bench_task_name(self.task)
        if (self.budget.max_epochs, self.budget.patience) != (MAX_EPOCHS, PATIENCE):
            raise ConfigError(f"the benchmark table was trained with --max-epochs {MAX_EPOCHS} --patience {PATIENCE}; "
                              "use those with a bench: task")
        bad = [o for o in self.objectives if o not in OBJECTIVES]
        if bad:
            raise ConfigError(f"objective(s) {bad} are not in the benchmark table; use {list(OBJECTIVES)}")

    def row(self, arch: Arch, seed: int) -> Row | None:
        key = table_key(arch)
        rows = load_table()[bench_task_name(self.task)].get(key) if key else None
        return rows[derive_seed(seed, key, "bench") % len(rows)] if rows else None

    def __call__(self, arch: Arch, seed: int, *, epochs: int | None = None, resume: bytes | None = None) -> Result:
        t0 = time.perf_counter()
        row = self.row(arch, seed)
        if row is None:
            return Result.failed(f"architecture {dict(arch)} is not in the benchmark table (its space is rnn-macro-272)")
        done = int(json.loads(resume)["epochs"]) if resume else 0
        until = min(epochs or MAX_EPOCHS, len(row.curve))  # training stops early where the recorded one did
        metrics: dict[str, float] = {"cpu_seconds": row.cpu_per_epoch * max(until - done, 0), "params": row.metrics["params"],
                                     "latency_ms": row.metrics["latency_ms"], "epochs": float(until)}
        if self.max_params is not None and metrics["params"] > self.max_params:
            return Result.failed(f"constraint: {int(metrics['params'])} parameters > --max-params {self.max_params}",
                                 constraint=True, cpu_seconds=0.0)
        if row.state != "COMPLETE":
            return Result.failed(row.error or "failed in the recorded training", time.perf_counter() - t0, **metrics)
        curve = list(row.curve[:until])
        metrics["val_mse"] = min(curve)
        if until == len(row.curve):  # the recorded training is over: its final errors apply
            metrics.update({k: row.metrics[k] for k in FINAL_ONLY if k in row.metrics})
            metrics["val_mse"] = row.metrics["val_mse"]
        checkpoint = json.dumps({"epochs": until}).encode() if epochs is not None else None
        values = {k: float(metrics[k]) for k in self.objectives}
        return Result(TrialState.COMPLETE, values, metrics, time.perf_counter() - t0, curve=curve, checkpoint=checkpoint)
