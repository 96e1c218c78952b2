"""Executors: where trials run (in-process, a local process pool, a Ray cluster)."""

from __future__ import annotations

import os
from typing import Any, Callable

from seqnas.errors import ConfigError
from seqnas.execution.base import Executor, run_trial
from seqnas.execution.inline import InlineExecutor
from seqnas.execution.pool import PoolExecutor

EXECUTORS: dict[str, Callable[..., Executor]] = {"inline": InlineExecutor, "pool": PoolExecutor}


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def make_executor(name: str | None, workers: int | None = None, **options: Any) -> Executor:
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"--workers must be a positive integer, got {workers!r}")
    name = name or ("pool" if (workers or 1) > 1 else "inline")
    if name not in EXECUTORS:
        raise ConfigError(f"unknown executor {name!r}; use one of {sorted(EXECUTORS)}")
    return EXECUTORS[name](workers=workers or 1, **options)


__all__ = ["EXECUTORS", "Executor", "InlineExecutor", "PoolExecutor", "default_workers", "make_executor", "run_trial"]
