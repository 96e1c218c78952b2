"""A race as stored: its runs (one study per strategy and seed) and their trials, read from storage only."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import numpy as np

from seqnas.final import Final, load_final
from seqnas.race.spec import BASELINES_KEY, LSTM_KEY, RACE_KEY, RaceSpec, list_races, load_race_spec
from seqnas.storage import Storage
from seqnas.study import StudySettings
from seqnas.trial import TrialRecord, TrialState, best_first


def val_mse(record: TrialRecord) -> float | None:
    """The validation MSE of a completed architecture trial (the primary objective when there is none)."""
    if record.state is not TrialState.COMPLETE or record.kind != "arch":
        return None
    v = record.values.get("val_mse", record.metrics.get("val_mse", record.value))
    return float(v) if v is not None and math.isfinite(float(v)) else None


@dataclass
class Run:
    """One study of a race: one strategy with one seed."""

    study: str
    strategy: str
    seed: int
    records: list[TrialRecord]
    done: bool = False  # reached its budget (or its strategy ran out of proposals)
    error: str | None = None
    final: Final | None = None  # its selected architecture, retrained with fresh seeds

    @property
    def arch_trials(self) -> list[TrialRecord]:
        """Finished architecture trials in the order their results arrived."""
        done = [r for r in self.records if r.kind == "arch" and r.state.finished]
        return sorted(done, key=attrgetter("tell_order"))

    @property
    def finished(self) -> list[TrialRecord]:
        """Every finished trial (one-shot jobs such as a supernet search included), in told order."""
        done = [r for r in self.records if r.state.finished]
        return sorted(done, key=attrgetter("tell_order"))

    @property
    def n_trials(self) -> int:
        return len(self.arch_trials)

    @property
    def n_archs(self) -> int:
        """Distinct architectures started (a multi-fidelity run trains some in several rungs)."""
        return len({r.arch.key for r in self.arch_trials if r.arch is not None})

    def n_full(self, max_epochs: int | None) -> int:
        """Distinct architectures trained to the full fidelity: every completed one of a full-fidelity
        strategy; a multi-fidelity run's that reached the top rung (``max_epochs`` epochs)."""
        return len({r.arch.key for r in self.arch_trials if r.arch is not None and r.state is TrialState.COMPLETE
                    and (r.fidelity == math.inf or (max_epochs is not None and r.fidelity >= max_epochs))})

    @property
    def n_failed(self) -> int:
        return sum(r.state is TrialState.FAILED for r in self.arch_trials)

    @property
    def failed_jobs(self) -> list[TrialRecord]:
        """One-shot trials (e.g. a supernet search) that failed: the run may have nothing to show for them."""
        return [r for r in self.records if r.kind != "arch" and r.state is TrialState.FAILED]

    @property
    def n_running(self) -> int:
        return sum(not r.state.finished for r in self.records)

    @property
    def best(self) -> TrialRecord | None:
        """The architecture this run selects: lowest validation MSE (earliest on ties)."""
        ranked = best_first(self.arch_trials, key=val_mse)
        return ranked[0] if ranked else None

    @property
    def best_val(self) -> float | None:
        b = self.best
        return val_mse(b) if b is not None else None

    @property
    def test_of_best(self) -> float | None:
        b = self.best
        v = b.metrics.get("test_mse") if b is not None else None
        return float(v) if v is not None else None

    @property
    def cpu_seconds(self) -> float:
        """CPU-seconds of evaluation: every finished trial, failed ones and one-shot searches included."""
        return float(sum(float(r.metrics.get("cpu_seconds", 0.0) or 0.0) for r in self.finished))

    @property
    def strategy_cpu_seconds(self) -> float:
        """The strategy's own CPU time (its asks and tells), stored with each trial by the runner."""
        return float(sum(float(r.metrics.get("strategy_cpu_seconds", 0.0) or 0.0) for r in self.finished))

    @property
    def retrained_test(self) -> float | None:
        return self.final.test_mse if self.final is not None and self.final.test else None

    @property
    def retrained_val(self) -> float | None:
        return self.final.val_mse if self.final is not None and self.final.val else None

    def curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Best-so-far validation MSE after each architecture trial: (trial index 1.., CPU-seconds, best).

        CPU-seconds are cumulative over every finished trial, so a one-shot search's supernet
        cost is charged before the first architecture it derives. NaN until the first success.
        """
        idx, cpu, best = [], [], []
        used, b, n = 0.0, math.inf, 0
        for r in self.finished:
            used += float(r.metrics.get("cpu_seconds", 0.0) or 0.0)
            if r.kind != "arch":
                continue
            n += 1
            v = val_mse(r)
            if v is not None:
                b = min(b, v)
            idx.append(n)
            cpu.append(used)
            best.append(b if math.isfinite(b) else math.nan)
        return np.array(idx, dtype=float), np.array(cpu, dtype=float), np.array(best, dtype=float)

    @property
    def darts(self) -> dict[str, Any] | None:
        """The supernet search's diagnostics (metrics["darts"]) of a one-shot run, if any."""
        for r in self.records:
            d = r.metrics.get("darts") if r.kind != "arch" else None
            if isinstance(d, dict):
                return d
        return None


@dataclass
class BaselineResult:
    """A reference forecaster of the race (not a strategy): its figures per race seed."""

    name: str
    val: dict[int, float]  # race seed -> validation MSE (mean of its trainings for the default LSTM)
    test: dict[int, float]
    trainings: int = 0  # 0: deterministic (computed once)
    cpu_seconds: float = 0.0


@dataclass
class RaceData:
    name: str
    db: str
    strategies: list[str]
    seeds: list[int]
    runs: list[Run]
    settings: StudySettings | None
    space_name: str
    spec: dict[str, Any] = field(default_factory=dict)
    baselines: list[BaselineResult] = field(default_factory=list)
    final_repeats: int = 0

    def runs_of(self, strategy: str) -> list[Run]:
        return [r for r in self.runs if r.strategy == strategy]

    @property
    def records(self) -> list[tuple[Run, TrialRecord]]:
        return [(run, r) for run in self.runs for r in run.records]


def load_race(db: str, race: str | None = None) -> RaceData:
    """Read a race from its database. Without a race record, every study is a run, grouped by strategy."""
    storage = Storage(db, create=False)
    try:
        if race is not None or list_races(storage):
            spec = load_race_spec(storage, race)
            runs = []
            budget = spec.settings.budget.to_json()
            for strategy, seed in spec.studies():
                row = storage.find_study(spec.study_name(strategy, seed))
                if row is None:
                    runs.append(Run(spec.study_name(strategy, seed), strategy, seed, [], False, None))
                    continue
                marker = storage.get_state(row, "race_done") or {}
                records = storage.trials(row)
                runs.append(Run(row.name, strategy, seed, records, marker.get("budget") == budget,
                                storage.get_state(row, "race_error"), load_final(storage, row, records, seed)))
            space_name = str(spec.space.get("name", "custom"))
            return RaceData(spec.name, str(db), list(spec.strategies), list(spec.seeds), runs, spec.settings, space_name,
                            storage.get_meta(RACE_KEY + spec.name) or {}, _baselines(storage, spec), spec.final_repeats)
        # A database of separate `seqnas search` studies: each study is one run of its strategy.
        runs, settings, space_name = [], None, "custom"
        for name in storage.study_names():
            row = storage.get_study(name)
            s = StudySettings.from_json(row.settings)
            settings = settings or s
            space_name = str(row.space.get("name", space_name))
            records = storage.trials(row)
            runs.append(Run(name, row.strategy, s.seed, records, True, None, load_final(storage, row, records, s.seed)))
        strategies = list(dict.fromkeys(r.strategy for r in runs))
        seeds = sorted({r.seed for r in runs})
        return RaceData(str(db), str(db), strategies, seeds, runs, settings, space_name)
    finally:
        storage.close()


def _baselines(storage: Storage, spec: RaceSpec) -> list[BaselineResult]:
    """The race's reference rows as stored by compare: persistence and ridge once, the default LSTM per seed."""
    from seqnas import baselines

    out = []
    fixed = storage.get_meta(BASELINES_KEY + spec.name) or {}
    # Persistence and ridge first, then the statistical forecasts (races since one budget), by name.
    for name in sorted(fixed, key=lambda n: ({baselines.PERSISTENCE: 0, baselines.LINEAR: 1}.get(n, 2), n)):
        v, t = float(fixed[name]["val_mse"]), float(fixed[name]["test_mse"])
        out.append(BaselineResult(baselines.label(name), {k: v for k in spec.seeds}, {k: t for k in spec.seeds}))
    val, test, n, cpu = {}, {}, 0, 0.0
    for k in spec.seeds:
        runs = [r for r in (storage.get_meta(f"{LSTM_KEY}{spec.name}/seed{k}") or {}).values()]
        ok = [r for r in runs if "test_mse" in r]
        n += len(runs)
        cpu += sum(float(r.get("cpu_seconds") or 0.0) for r in runs)
        if ok:
            val[k] = float(np.mean([r["val_mse"] for r in ok]))
            test[k] = float(np.mean([r["test_mse"] for r in ok]))
    if n:
        out.append(BaselineResult(baselines.label(baselines.DEFAULT_LSTM), val, test, n, cpu))
    return out
