"""The race's baselines (reference rows, not strategies): persistence and ridge regression once per
race, the default LSTM trained with each race seed's retraining seeds; stored in the meta table."""

from __future__ import annotations

import dataclasses
from typing import Any

from seqnas import baselines
from seqnas.candidates import models_for, season_for
from seqnas.execution.base import Executor
from seqnas.final import final_seeds, result_entry, train_each
from seqnas.race.progress import RaceProgress
from seqnas.race.spec import BASELINES_KEY, LSTM_KEY, RaceSpec
from seqnas.storage import Storage
from seqnas.study import task_evaluator
from seqnas.tasks import is_bench_task, load_task
from seqnas.trial import Result


def store_fixed_baselines(storage: Storage, spec: RaceSpec) -> None:
    """Persistence, ridge regression (on the longest window the race searches) and the statistical forecasts
    (seqnas.statistical: seasonal naive, AutoETS, AutoTheta, LightGBM; not for a tabular bench: task):
    deterministic, computed once per race on its target rows."""
    task = spec.settings.task
    if task is None or storage.get_meta(BASELINES_KEY + spec.name):
        return
    data = load_task(task)
    longest = load_task(dataclasses.replace(task, window=task.reach)) if task.reach and task.reach > data.window else data
    fixed: dict[str, Any] = {baselines.PERSISTENCE: baselines.persistence(data), baselines.LINEAR: baselines.ridge(longest)}
    if not is_bench_task(task.name):
        from seqnas.statistical import score_all

        for name, s in score_all(data, season_for(task), models_for(data.info["rows"])).items():
            fixed[name] = {"val_mse": s.val_mse, "test_mse": s.test_mse, "cpu_seconds": s.cpu_seconds}
    storage.set_meta(BASELINES_KEY + spec.name, fixed)


def _lstm_seeds(spec: RaceSpec, seed: int) -> list[int]:
    """The default LSTM trains with the strategies' retraining seeds (once even without retraining)."""
    return final_seeds(seed, max(1, spec.final_repeats))


def lstm_baseline_done(storage: Storage, spec: RaceSpec, seed: int) -> bool:
    runs = storage.get_meta(f"{LSTM_KEY}{spec.name}/seed{seed}") or {}
    return all(str(s) in runs for s in _lstm_seeds(spec, seed))


def run_lstm_baseline(storage: Storage, executor: Executor, spec: RaceSpec, seed: int, progress: RaceProgress) -> None:
    """Train the default LSTM with race seed ``seed``'s retraining seeds; each result is stored as it arrives."""
    key = f"{LSTM_KEY}{spec.name}/seed{seed}"
    runs: dict[str, Any] = dict(storage.get_meta(key) or {})
    evaluator = task_evaluator(spec.settings.task, "rnn-macro", spec.settings.train)  # type: ignore[arg-type]
    arch = baselines.default_lstm_arch()

    def store(_: Any, s: int, result: Result) -> None:
        runs[str(s)] = result_entry(result)
        storage.set_meta(key, runs)

    train_each(executor, evaluator, [(arch, s) for s in _lstm_seeds(spec, seed) if str(s) not in runs], store)
    ok = [r["test_mse"] for r in runs.values() if "test_mse" in r]
    progress.note(f"[green]done[/green] {baselines.label(baselines.DEFAULT_LSTM)} seed {seed}: test MSE "
                  f"{sum(ok) / len(ok) if ok else float('nan'):.4g} ({len(ok)} trainings)")
