"""What a search delivers: its selected architecture trained again from scratch with fresh seeds.

One training's validation MSE is noisy (retrained with other seeds, a sunspots architecture's
varies with a median coefficient of variation of 7%: bench/results/noise.md), and the best of
many noisy values is the luckiest draw. So after a
study, its ``top`` best architectures by the search objective are each retrained ``repeats``
times, outside the search budget, and the one with the lowest mean retrained validation MSE is
the selection (with ``top=1``, simply the search's best; the default 3 is SMAC-style
intensification applied once, at the end). Its mean retrained test MSE is what a user gets, and
what the race ranks on.

The retraining seeds depend only on the study seed, so seed k of every strategy of a race (and
the race's default-LSTM baseline) trains with the same seeds: paired comparisons by seed.
Results are stored in the study (state ``final``) after each training, so an interruption loses
at most the trainings running, and a later call with more repeats or a larger ``top`` only runs
what is missing.

**Members.** Each retraining's trained weights are kept next to the database
(``<db>.checkpoints/study-<id>/final/<arch key>-<seed>.pt``, written before its result is stored):
the selection's retrainings are the members of the ensemble that ``seqnas export`` deploys, copied,
not trained again.

**One budget.** A study made with ``Budget.final_share`` (every new task study with ``--cpu-seconds``)
searches with ``cpu_seconds * (1 - final_share)`` and the retraining spends what is left of
``cpu_seconds``: each training is told its share of what is left when it starts
(``Proposal.cpu_limit``: it ends after the epoch that spends it), so search and retraining together
stay within the budget, give or take the epochs in flight.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seqnas.errors import ConfigError
from seqnas.space.base import Arch
from seqnas.storage import Storage, StudyRow
from seqnas.study import Budget
from seqnas.trial import Proposal, Result, TrialRecord, TrialState, best_first

STATE_KEY = "final"
STATISTICAL_KEY = "statistical"  # the statistical forecasts beside the study (seqnas.candidates): their CPU counts too
# Candidates retrained by default: re-evaluating the search's top 3 with fresh seeds and keeping the best by mean
# retrained validation MSE removed the most selection regret per CPU-second in bench/results/noise.md.
DEFAULT_TOP = 3
# The share of a --cpu-seconds budget kept for the retraining: in the 30 CPU-second races the 3 x 3
# retrainings cost about two thirds of the search's CPU (README: 19.5-22.4 against 30-33.7 CPU-s).
FINAL_SHARE = 0.4
SEED_BASE = 1_000_003  # retraining seeds live far from the search's seeds


def final_share(task: Any, cpu_seconds: float | None, repeats: int) -> float | None:
    """``Budget.final_share`` of a new study: ``FINAL_SHARE`` for a task study with a CPU budget that retrains
    (one budget for both), None otherwise (a tabular ``bench:`` task simulates the races as they were measured)."""
    from seqnas.tasks import is_bench_task

    if task is None or cpu_seconds is None or repeats == 0 or is_bench_task(task.name):
        return None
    return FINAL_SHARE


def final_seeds(seed: int, repeats: int) -> list[int]:
    """The evaluator seeds of the ``repeats`` retrainings for study seed ``seed``."""
    return [SEED_BASE + 1000 * int(seed) + r for r in range(repeats)]


def check_final(repeats: Any, top: Any = DEFAULT_TOP) -> tuple[int, int]:
    for name, v, low in (("--final-repeats", repeats, 0), ("--final-top", top, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ConfigError(f"{name} must be an integer >= {low}, got {v!r}")
    return repeats, top


def candidates(records: Sequence[TrialRecord], top: int) -> list[TrialRecord]:
    """The ``top`` architectures with the lowest primary objective (earliest on ties; multi-fidelity:
    the highest rung first), one trial each (``trial.best_first``)."""
    return best_first(records)[:top]


@dataclass
class Final:
    """The retrained selection of one study."""

    number: int  # the selected trial
    arch: dict[str, Any]
    val: list[float]  # retrained validation MSEs, one per successful retraining
    test: list[float]
    cpu_seconds: float  # all retrainings of all candidates
    failed: int = 0
    candidates: list[dict[str, Any]] = field(default_factory=list)  # number, mean val, mean test, n
    # The selection's successful retrainings, in seed order: {"seed", "val_mse", "test_mse", "weights" (file name or
    # None: trained before members were kept)}.
    members: list[dict[str, Any]] = field(default_factory=list)

    @property
    def val_mse(self) -> float:
        return float(np.mean(self.val)) if self.val else math.nan

    @property
    def test_mse(self) -> float:
        return float(np.mean(self.test)) if self.test else math.nan

    @property
    def val_std(self) -> float:
        return float(np.std(self.val, ddof=1)) if len(self.val) > 1 else 0.0

    @property
    def test_std(self) -> float:
        return float(np.std(self.test, ddof=1)) if len(self.test) > 1 else 0.0


def stored_runs(storage: Storage, row: StudyRow) -> dict[str, dict[str, dict[str, Any]]]:
    """arch key -> str(seed) -> {val_mse, test_mse, cpu_seconds[, error]} of every retraining stored."""
    state = storage.get_state(row, STATE_KEY) or {}
    return {k: dict(v) for k, v in (state.get("runs") or {}).items()}


def selection(records: Sequence[TrialRecord], runs: dict[str, dict[str, dict[str, Any]]], seed: int, repeats: int,
              top: int) -> Final | None:
    """The selected architecture from stored retrainings (None when no candidate has a successful one)."""
    seeds = [str(s) for s in final_seeds(seed, repeats)]
    best: Final | None = None
    cands, cpu, failed = [], 0.0, 0
    for rec in candidates(records, top):
        assert rec.arch is not None
        mine = [runs.get(rec.arch.key, {}).get(s) for s in seeds]
        done = [m for m in mine if m is not None]
        cpu += sum(float(m.get("cpu_seconds") or 0.0) for m in done)
        ok = [m for m in done if m.get("error") is None]
        failed += len(done) - len(ok)
        if not ok:
            continue
        f = Final(rec.number, dict(rec.arch), [float(m["val_mse"]) for m in ok], [float(m["test_mse"]) for m in ok], 0.0,
                  members=[{"seed": int(s), "val_mse": float(m["val_mse"]), "test_mse": float(m["test_mse"]),
                            "weights": m.get("weights")} for s, m in zip(seeds, mine) if m is not None and m.get("error") is None])
        cands.append({"number": rec.number, "val_mse": f.val_mse, "test_mse": f.test_mse, "n": len(ok)})
        if best is None or f.val_mse < best.val_mse:
            best = f
    if best is not None:
        best.cpu_seconds, best.failed, best.candidates = cpu, failed, cands
    return best


def stored_final_settings(storage: Storage, row: StudyRow) -> tuple[int, int] | None:
    """(repeats, top) the study was last retrained with; None if never."""
    state = storage.get_state(row, STATE_KEY)
    if not state or not state.get("repeats"):
        return None
    return int(state["repeats"]), int(state.get("top", 1))


def load_final(storage: Storage, row: StudyRow, records: Sequence[TrialRecord], seed: int) -> Final | None:
    """The stored selection with the repeats and top it was run with (None if never run)."""
    stored = stored_final_settings(storage, row)
    return None if stored is None else selection(records, stored_runs(storage, row), seed, *stored)


def member_dir(storage: Storage, row: StudyRow) -> Path | None:
    """Where the retrainings' weights live (None: an in-memory database keeps none)."""
    base = storage.checkpoint_dir(row)
    return None if base is None else base / "final"


def write_member(folder: Path, arch: Arch, seed: int, data: bytes) -> str:
    """Put one retraining's weights in place (a temporary file renamed: never half-written); returns its file name."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{arch.key}-{seed}.pt"
    tmp = folder / f".{name}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, folder / name)
    return name


def final_cpu_budget(storage: Storage, row: StudyRow, records: Sequence[TrialRecord],
                     runs: dict[str, dict[str, dict[str, Any]]]) -> float | None:
    """CPU-seconds the retraining may still spend under the study's one budget (None: it has no limit)."""
    budget = Budget.from_json(row.settings["budget"])
    if budget.cpu_seconds is None or budget.final_share is None:
        return None
    searched = sum(budget.charged(r.metrics) for r in records if r.state.finished)
    retrained = sum(float(m.get("cpu_seconds") or 0.0) for per in runs.values() for m in per.values())
    statistical = sum(float(m.get("cpu_seconds") or 0.0)
                      for m in ((storage.get_state(row, STATISTICAL_KEY) or {}).get("models") or {}).values())
    return max(0.0, budget.cpu_seconds - searched - retrained - statistical)


def run_final(storage: Storage, row: StudyRow, evaluator: Any, executor: Any, seed: int, repeats: int, top: int = DEFAULT_TOP,
              on_result: Callable[[], None] | None = None) -> Final | None:
    """Retrain the study's ``top`` candidates ``repeats`` times each (what is stored is not run again).

    ``executor`` runs the trainings (any seqnas executor: inline, pool, Ray); each result is
    stored as it arrives, its weights first (``member_dir``). Under a study's one budget
    (``final_cpu_budget``) each training gets its share of what is left. Returns the selection,
    or None when there is nothing to retrain.
    """
    repeats, top = check_final(repeats, top)
    if repeats == 0:
        return None
    records = storage.trials(row)
    runs = stored_runs(storage, row)
    todo: list[tuple[Arch, int]] = []
    for rec in candidates(records, top):
        assert rec.arch is not None
        have = runs.get(rec.arch.key, {})
        todo += [(rec.arch, s) for s in final_seeds(seed, repeats) if str(s) not in have]
    state = {"repeats": repeats, "top": top, "runs": runs}
    storage.set_state(row, STATE_KEY, state)
    folder = member_dir(storage, row)

    def store(arch: Arch, s: int, result: Result) -> None:
        entry = result_entry(result)
        if folder is not None and result.checkpoint is not None and "error" not in entry:
            entry["weights"] = write_member(folder, arch, s, result.checkpoint)
        runs.setdefault(arch.key, {})[str(s)] = entry
        storage.set_state(row, STATE_KEY, state)
        if on_result is not None:
            on_result()

    train_each(executor, evaluator, todo, store, cpu_budget=final_cpu_budget(storage, row, records, runs))
    return selection(records, runs, seed, repeats, top)


def train_each(executor: Any, evaluator: Any, todo: Sequence[tuple[Arch, int]], store: Callable[[Arch, int, Result], None],
               cpu_budget: float | None = None) -> None:
    """Train each (architecture, evaluator seed) on the executor, as many at once as it has workers;
    ``store`` gets each result as it arrives. ``cpu_budget``: CPU-seconds for all of them; each training
    starts with an equal share of what is left (less the shares of those in flight) as its limit."""
    queue = list(enumerate(todo))
    in_flight: dict[int, tuple[Arch, int, float]] = {}
    left = cpu_budget
    while queue or in_flight:
        while queue and len(in_flight) < max(1, executor.workers):
            i, (arch, s) = queue.pop(0)
            limit = None if left is None else max(0.0, left) / (len(queue) + 1)
            if left is not None and limit is not None:
                left -= limit
            in_flight[-1 - i] = (arch, s, limit or 0.0)
            executor.submit(-1 - i, evaluator, Proposal(arch=arch, kind="final", cpu_limit=limit), s)  # negative tags: never a trial's
        for tag, result in executor.wait(timeout=1.0):
            arch, s, limit = in_flight.pop(tag)
            if left is not None:
                left += limit - float(result.metrics.get("cpu_seconds", 0.0) or 0.0)
            store(arch, s, result)


def result_entry(result: Result) -> dict[str, Any]:
    cpu = float(result.metrics.get("cpu_seconds", 0.0) or 0.0)
    if result.state is not TrialState.COMPLETE:
        return {"error": result.error or "failed", "cpu_seconds": cpu}
    return {"val_mse": float(result.metrics["val_mse"]), "test_mse": float(result.metrics["test_mse"]), "cpu_seconds": cpu}
