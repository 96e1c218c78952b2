"""The strategy race: every strategy on the same task, space, budget and seeds, in one SQLite file.

Modules, each importing only those above it (and the report only ``spec``):

- ``spec``: what a race is (``RaceSpec``), its record in the database, the meta-table keys;
- ``progress``: the race's progress bar, fed by every study's runner;
- ``baselines``: the reference forecasters (persistence, ridge, the default LSTM) of a race;
- ``lanes``: the threads that run the studies, each with one persistent worker process;
- ``run``: ``compare``, ``resume_race`` and ``RaceResult`` (whose report is built by ``seqnas.report``).

The public names load on first use (PEP 562), so that the report can read ``seqnas.race.spec``
without importing the runner, and ``import seqnas.race`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqnas._lazy import lazy_names

if TYPE_CHECKING:
    from seqnas.race.baselines import lstm_baseline_done, store_fixed_baselines
    from seqnas.race.progress import RaceProgress
    from seqnas.race.run import RaceResult, compare, resume_race
    from seqnas.race.spec import (
        BASELINE,
        BASELINES_KEY,
        DEFAULT_RACE,
        LSTM_KEY,
        RACE_KEY,
        RaceSpec,
        list_races,
        load_race_spec,
        machine_info,
        resolve_seeds,
        resolve_strategies,
    )

# public name -> the module of this package that defines it
_WHERE = {
    **{name: "spec" for name in ("BASELINE", "BASELINES_KEY", "DEFAULT_RACE", "LSTM_KEY", "RACE_KEY", "RaceSpec", "list_races",
                                 "load_race_spec", "machine_info", "resolve_seeds", "resolve_strategies")},
    "RaceProgress": "progress",
    "lstm_baseline_done": "baselines", "store_fixed_baselines": "baselines",
    "RaceResult": "run", "compare": "run", "resume_race": "run",
}

__all__ = [
    "BASELINE", "BASELINES_KEY", "DEFAULT_RACE", "LSTM_KEY", "RACE_KEY", "RaceProgress", "RaceResult", "RaceSpec", "compare",
    "list_races", "load_race_spec", "lstm_baseline_done", "machine_info", "resolve_seeds", "resolve_strategies", "resume_race",
    "store_fixed_baselines",
]

__getattr__, __dir__ = lazy_names(__name__, _WHERE, globals(), __all__)
