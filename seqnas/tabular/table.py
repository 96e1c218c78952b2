"""The tabular benchmark's table: every architecture of a reduced rnn-macro space trained on three
built-in tasks with three seeds each, looked up instead of trained (bench/tabular/README.md).

One row per (task, architecture, training seed): the validation MSE after every epoch, the final
validation and test errors, parameters, latency and CPU-seconds. Loaded once per process.
"""

from __future__ import annotations

import functools
import gzip
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from seqnas.errors import ConfigError, TaskError
from seqnas.space.base import Arch, SearchSpace
from seqnas.space.params import Categorical
from seqnas.space.rnn_macro import DEFAULTS
from seqnas.tasks import BENCH_PREFIX as PREFIX
from seqnas.tasks import builtin_name, is_bench_task

DATA = Path(__file__).resolve().parent / "data"
TABLE_PATH = DATA / "rnn-macro-272.csv.gz"
SPACE = "rnn-macro-272"
# Tune strategy defaults on the development tasks only; report the held-out one apart (an honest check).
DEV_TASKS, HELD_OUT_TASKS = ("sunspots", "co2"), ("elnino",)
ARCH_COLUMNS = ("depth", "cell1", "hidden1", "cell2", "hidden2", "residual", "lr")
_TYPES: dict[str, Callable[[Any], Any]] = {"depth": int, "hidden1": int, "hidden2": int, "lr": float, "cell1": str, "cell2": str,
          "residual": lambda v: str(v) == "True"}
# The training settings every row was generated with (bench/tabular/generate.py: the race's).
MAX_EPOCHS, PATIENCE = 30, 5


@dataclass(frozen=True)
class Row:
    """One recorded training of one architecture on one task with one seed."""

    seed: int
    state: str
    error: str
    curve: tuple[float, ...]  # validation MSE after each epoch trained (early stopping may end it before MAX_EPOCHS)
    metrics: dict[str, float]  # val_mse, test_mse, test_mae, test_mase, params, latency_ms, cpu_seconds, epochs, best_epoch

    @property
    def cpu_per_epoch(self) -> float:
        return self.metrics["cpu_seconds"] / max(len(self.curve), 1)


def bench_task_name(name: str) -> str:
    """'bench:sunspots' -> 'sunspots' (the built-in task the table was trained on)."""
    task = builtin_name(name)
    if not is_bench_task(name) or task not in tasks():
        raise TaskError(f"unknown benchmark task {name!r}; use one of {[PREFIX + t for t in tasks()]}")
    return task


def bench_space() -> SearchSpace:
    """rnn-macro-272: the space every row of the table belongs to."""
    from seqnas.space import get_space

    return get_space(SPACE)


def check_bench_space(space: SearchSpace) -> None:
    """A ``bench:`` task can answer only for architectures in the table: the space must be rnn-macro-272 or a
    subset of it (the same parameters, fewer choices)."""
    known = {p.name: p for p in bench_space().params}
    wider = [p.name for p in space.params if p.name not in known or not isinstance(p, Categorical)
             or not set(p.choices) <= set(getattr(known[p.name], "choices", ()))]
    if space.family != "rnn-macro" or wider:
        why = f"{wider} are not among its choices" if wider else f"family {space.family!r} is not rnn-macro"
        raise ConfigError(f"a {PREFIX} task looks architectures up in the table of {SPACE}; search --space {SPACE} or a "
                          f"subset of it ({why})")


def table_key(arch: Arch) -> str | None:
    """The table's key of an architecture: parameters at the rnn-macro default (dropout 0, no layer norm)
    are left out, as in the table; None if another parameter is set."""
    extra = {k: v for k, v in arch.items() if k not in ARCH_COLUMNS}
    if any(DEFAULTS.get(k, object()) != v for k, v in extra.items()):
        return None
    return Arch({k: v for k, v in arch.items() if k in ARCH_COLUMNS}).key


def _arch(raw: dict[str, Any]) -> Arch:
    return Arch({k: _TYPES[k](raw[k]) for k in ARCH_COLUMNS if raw.get(k) not in (None, "")})


@functools.lru_cache(maxsize=1)
def load_table() -> dict[str, dict[str, list[Row]]]:
    """task -> architecture key -> its rows (one per training seed, by seed)."""
    import csv

    if not TABLE_PATH.is_file():
        raise TaskError(f"the benchmark table {str(TABLE_PATH)!r} is missing; reinstall seqnas")
    table: dict[str, dict[str, list[Row]]] = {}
    with gzip.open(TABLE_PATH, "rt", encoding="utf-8") as f:
        for raw in csv.DictReader(f):
            metrics = {k: float(v) for k, v in raw.items()
                       if k not in ("task", "seed", "state", "error", "curve", *ARCH_COLUMNS) and v not in ("", None)}
            row = Row(int(raw["seed"]), raw["state"], raw["error"],
                      tuple(float(v) for v in raw["curve"].split()), {k: v for k, v in metrics.items() if math.isfinite(v)})
            table.setdefault(raw["task"], {}).setdefault(_arch(raw).key, []).append(row)
    for archs in table.values():
        for rows in archs.values():
            rows.sort(key=lambda r: r.seed)
    return table


def tasks() -> list[str]:
    return sorted(load_table())
