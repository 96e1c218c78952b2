"""What a study is to its reader: ``SearchResult`` (trials, best trial(s), Pareto front, final retraining)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from seqnas.candidates import stored as stored_statistical
from seqnas.errors import ConfigError, StudyError
from seqnas.final import Final, load_final
from seqnas.pareto import pareto_mask
from seqnas.space import Arch, SearchSpace
from seqnas.storage import Storage, StudyRow
from seqnas.study import MAXIMIZE, StudySettings
from seqnas.trial import TrialRecord, TrialState, best_first

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class SearchResult:
    """A study as stored: its trials, the best architecture (one objective) or the Pareto-optimal
    trials (several objectives), and the selection retrained with fresh seeds (``final``)."""

    study: str
    db: str
    space: SearchSpace
    strategy: str
    settings: StudySettings
    records: list[TrialRecord]
    final: Final | None = None  # the selected architecture retrained with fresh seeds (``final_repeats``)
    # The statistical forecasts scored beside the study (seqnas.candidates): name -> val_mse, test_mse, cpu_seconds.
    statistical: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def objectives(self) -> tuple[str, ...]:
        return self.settings.objectives

    @property
    def directions(self) -> tuple[str, ...]:
        """Per objective, "minimize" or "maximize"."""
        return self.settings.directions

    @property
    def completed(self) -> list[TrialRecord]:
        return [r for r in self.records if r.kind == "arch" and r.state is TrialState.COMPLETE]

    def ranked(self, objective: str | None = None) -> list[TrialRecord]:
        """The completed architecture trials best first by ``objective`` (default: the first one), in
        its direction, one per architecture (multi-fidelity: the highest rung reached first;
        ``trial.best_first``). ``ranked()[0]`` is a multi-objective study's best by its first objective."""
        name = objective or self.objectives[0]
        if name not in self.objectives:
            raise ConfigError(f"{name!r} is not an objective of study {self.study!r}; its objectives are {list(self.objectives)}")
        maximize = self.directions[self.objectives.index(name)] == MAXIMIZE
        return best_first(self.records, key=lambda r: r.values.get(name), maximize=maximize)

    def _single(self, what: str) -> None:
        if len(self.objectives) > 1:
            raise StudyError(f"{what} is for single-objective studies; use best_trials (the Pareto-optimal trials), or "
                             f"ranked()[0] for the best by {self.objectives[0]!r} alone")

    @property
    def best_trial(self) -> TrialRecord | None:
        """The best trial by the objective, in its direction (multi-fidelity: among the highest rung
        reached). A study with several objectives has no single best: this raises; see ``best_trials``."""
        self._single("best_trial")
        ranked = self.ranked()
        return ranked[0] if ranked else None

    @property
    def best_trials(self) -> list[TrialRecord]:
        """The Pareto-optimal completed trials over all objectives (each in its direction), ordered by
        the first objective; with one objective, ``[best_trial]`` (empty before a trial completes)."""
        if len(self.objectives) == 1:
            best = self.best_trial
            return [best] if best is not None else []
        done = self.completed
        if not done:
            return []
        pts = np.array([[float(r.values[o]) for o in self.objectives] for r in done])
        keep = [r for r, k in zip(done, pareto_mask(pts, self.directions)) if k]
        signs = [-1.0 if d == MAXIMIZE else 1.0 for d in self.directions]
        return sorted(keep, key=lambda r: ([s * float(r.values[o]) for s, o in zip(signs, self.objectives)], r.number))

    @property
    def best_arch(self) -> Arch | None:
        self._single("best_arch")
        b = self.best_trial
        return b.arch if b else None

    @property
    def best_value(self) -> float | None:
        self._single("best_value")
        b = self.best_trial
        return b.value if b else None

    @property
    def trials(self) -> pd.DataFrame:
        """One row per trial: number, state, kind, value, arch, arch_hash, error, duration, curve (validation
        MSE per epoch), rung and rung_epochs (multi-fidelity studies; else empty), every metric."""
        rows = []
        for r in self.records:
            row: dict[str, Any] = {
                "number": r.number, "state": r.state.value, "kind": r.kind, "value": r.value,
                "arch": r.arch.to_dict() if r.arch else None, "arch_hash": r.arch.key if r.arch else None,
                "error": r.error, "duration": r.duration, "curve": r.curve,
                "rung": r.info.get("rung"), "rung_epochs": r.info.get("rung_epochs"),
            }
            row.update(r.metrics)
            row.update(r.values)
            rows.append(row)
        import pandas as pd

        cols = ["number", "state", "kind", "value", "arch", "arch_hash", "error", "duration", "curve", "rung", "rung_epochs"]
        return pd.DataFrame(rows, columns=cols + sorted({k for row in rows for k in row} - set(cols)))

    @property
    def pareto(self) -> pd.DataFrame:
        """The non-dominated completed trials over all objectives (each in its direction), best first."""
        done = self.completed
        if not done:
            return self.trials.iloc[0:0]
        pts = np.array([[float(r.values[o]) for o in self.objectives] for r in done])
        numbers = [r.number for r, keep in zip(done, pareto_mask(pts, self.directions)) if keep]
        df = self.trials
        return (df[df["number"].isin(numbers)]
                .sort_values(list(self.objectives), ascending=[d != MAXIMIZE for d in self.directions])
                .reset_index(drop=True))

    def __repr__(self) -> str:
        if len(self.objectives) > 1:
            best = f"pareto_optimal={len(self.best_trials)}"
        else:
            best = f"best_value={self.best_value!r}"
        return f"SearchResult(study={self.study!r}, strategy={self.strategy!r}, trials={len(self.records)}, {best})"


def result_of(storage: Storage, row: StudyRow) -> SearchResult:
    settings = StudySettings.from_json(row.settings)
    records = storage.trials(row)
    return SearchResult(row.name, str(storage.path), SearchSpace.from_json(row.space), row.strategy, settings, records,
                        load_final(storage, row, records, settings.seed), stored_statistical(storage, row))
