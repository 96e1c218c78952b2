"""What a race is, as stored: its settings (``RaceSpec``), the meta-table keys, and reading and writing them.

The report reads a race through this module alone: it imports neither the runner nor the report.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from seqnas.checks import positive_int
from seqnas.errors import ConfigError, StudyError
from seqnas.storage import Storage
from seqnas.study import StudySettings

RACE_KEY = "race:"  # meta-table key prefix of a race's record
BASELINES_KEY = "race-baselines:"  # + race name: the deterministic baselines (persistence, linear)
LSTM_KEY = "race-baseline-lstm:"  # + race name + "/seed<k>": the default LSTM's retrainings for race seed k
DEFAULT_RACE = "race"
BASELINE = "random"


@dataclass(frozen=True)
class RaceSpec:
    """A race's settings, stored in the database so that ``--resume`` and ``report`` need nothing else.

    Every study of the race is ``StudySettings`` = ``settings`` with its own seed; the study of
    strategy ``s`` and seed ``k`` is named ``<name>/<s>/seed<k>``.
    """

    name: str
    strategies: tuple[str, ...]
    seeds: tuple[int, ...]
    space: dict[str, Any]
    settings: StudySettings  # the seed in here is a placeholder; each study gets its own
    strategy_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    out: str | None = None
    trial_timeout: float | None = None
    final_repeats: int = 0  # retrainings of each run's selected architecture (0: none; races before it had none)
    final_top: int = 1  # candidates retrained per run; the best by mean retrained validation MSE is selected

    def study_name(self, strategy: str, seed: int) -> str:
        return f"{self.name}/{strategy}/seed{seed}"

    def settings_for(self, seed: int) -> StudySettings:
        return dataclasses.replace(self.settings, seed=seed)

    def studies(self) -> list[tuple[str, int]]:
        """(strategy, seed) of every study, seed-major: an interrupted race has whole seeds done."""
        return [(s, k) for k in self.seeds for s in self.strategies]

    def to_json(self) -> dict[str, Any]:
        settings = self.settings.to_json()
        settings.pop("seed")
        return {"version": 1, "name": self.name, "strategies": list(self.strategies), "seeds": list(self.seeds),
                "space": self.space, "settings": settings, "strategy_options": self.strategy_options, "out": self.out,
                "trial_timeout": self.trial_timeout, "final_repeats": self.final_repeats, "final_top": self.final_top}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RaceSpec:
        return cls(name=d["name"], strategies=tuple(d["strategies"]), seeds=tuple(int(k) for k in d["seeds"]),
                   space=d["space"], settings=StudySettings.from_json({**d["settings"], "seed": 0}),
                   strategy_options={k: dict(v) for k, v in (d.get("strategy_options") or {}).items()}, out=d.get("out"),
                   trial_timeout=d.get("trial_timeout"), final_repeats=int(d.get("final_repeats", 0)),
                   final_top=int(d.get("final_top", 1)))

    def identity(self) -> dict[str, Any]:
        """What must match for a stored race to be continued (strategies, seeds, budget and retraining may grow)."""
        return {"space": self.space, "settings": self.settings.identity()}

    def done_marker(self) -> dict[str, Any]:
        """Stored with a finished study: a resume skips the study while this matches."""
        return {"budget": self.settings.budget.to_json(), "final": [self.final_repeats, self.final_top]}


def resolve_strategies(strategies: str | Sequence[str]) -> tuple[str, ...]:
    """``"all"`` = every registered strategy now (random first: it is the baseline), or a checked list."""
    from seqnas.strategies import STRATEGIES

    names = [s.strip() for s in strategies.split(",")] if isinstance(strategies, str) else [str(s).strip() for s in strategies]
    names = [s for s in names if s]
    if names == ["all"]:
        return tuple(sorted(STRATEGIES, key=lambda s: (s != BASELINE, list(STRATEGIES).index(s))))
    unknown = [s for s in names if s not in STRATEGIES]
    if not names or unknown:
        raise ConfigError(f"unknown strategy {unknown[0] if unknown else ''!r} in --strategies; use 'all' or a "
                          f"comma-separated list of {list(STRATEGIES)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"--strategies repeats a name: {names}")
    return tuple(names)


def resolve_seeds(seeds: int | Sequence[int]) -> tuple[int, ...]:
    """``3`` = seeds 0, 1, 2; or an explicit list of distinct non-negative seeds."""
    if isinstance(seeds, int):  # a bool too: it is refused
        return tuple(range(positive_int(seeds, "--seeds")))
    out = tuple(int(k) for k in seeds)
    if not out or any(k < 0 for k in out) or len(set(out)) != len(out):
        raise ConfigError(f"seeds must be distinct non-negative integers, got {list(seeds)}")
    return out


# -- the race record in the database ------------------------------------------------------------------------
def list_races(storage: Storage) -> list[str]:
    return [k[len(RACE_KEY):] for k in storage.meta_keys(RACE_KEY)]


def load_race_spec(storage: Storage, race: str | None = None) -> RaceSpec:
    """The stored race (``race`` None: the only race in the database)."""
    names = list_races(storage)
    if race is None:
        if len(names) != 1:
            raise StudyError(f"{str(storage.path)!r} has no race; run `seqnas compare` first" if not names else
                             f"{str(storage.path)!r} holds several races ({', '.join(names)}); pick one with --race")
        race = names[0]
    d = storage.get_meta(RACE_KEY + race)
    if d is None:
        raise StudyError(f"no race {race!r} in {str(storage.path)!r}" + (f"; races here: {', '.join(names)}" if names else ""))
    return RaceSpec.from_json(d)


def _store_spec(storage: Storage, spec: RaceSpec) -> RaceSpec:
    """Create the race record, or continue a stored race whose task, space and training match."""
    old_d = storage.get_meta(RACE_KEY + spec.name)
    if old_d is not None:
        old = RaceSpec.from_json(old_d)
        if old.identity() != spec.identity():
            what = "space" if old.space != spec.space else "settings (task, training, objectives, constraints)"
            raise StudyError(f"race {spec.name!r} already exists in {str(storage.path)!r} with a different {what}; "
                             "use another --race name or --db, or `seqnas compare --resume` to continue it")
    storage.set_meta(RACE_KEY + spec.name, {**spec.to_json(), "machine": machine_info()})
    return spec


def machine_info() -> dict[str, Any]:
    """Where a race ran, stored with it for the report."""
    import platform

    import torch

    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return {"cpus": n, "system": f"{platform.system()} {platform.machine()}", "python": platform.python_version(),
            "torch": torch.__version__}
