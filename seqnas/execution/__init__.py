"""Executors: where trials run (in-process, a local process pool, a Ray cluster)."""

from __future__ import annotations

import os
from typing import Any, Callable

from seqnas.checks import optional_positive_int
from seqnas.errors import ConfigError
from seqnas.execution.base import Executor, check_trial_timeout, run_trial
from seqnas.execution.inline import InlineExecutor
from seqnas.execution.pool import PoolExecutor
from seqnas.execution.ray_executor import RayExecutor, check_address

EXECUTORS: dict[str, Callable[..., Executor]] = {"inline": InlineExecutor, "pool": PoolExecutor, "ray": RayExecutor}


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def make_executor(name: str | None, workers: int | None = None, *, trial_timeout: float | None = None,
                  ray_address: str | None = None, **options: Any) -> Executor:
    """The executor called ``name``: inline, pool or ray (None: pool with >1 worker or a time limit, else inline).

    ``workers`` None means 1 for inline and pool, the number of cores for a local Ray instance and
    the number of CPUs of the cluster for Ray at an address.
    """
    optional_positive_int(workers, "--workers")
    trial_timeout = check_trial_timeout(trial_timeout)
    if name is None:
        # A time limit needs a worker process that can be stopped, so it implies a pool.
        name = "ray" if ray_address else ("pool" if (workers or 1) > 1 or trial_timeout is not None else "inline")
    if name not in EXECUTORS:
        raise ConfigError(f"unknown executor {name!r}; use one of {sorted(EXECUTORS)}")
    if name == "ray":
        if ray_address is not None:
            check_address(ray_address if isinstance(ray_address, str) else repr(ray_address))
        if workers is None and ray_address is None:
            workers = default_workers()
        return RayExecutor(workers=workers, address=ray_address, trial_timeout=trial_timeout, **options)
    if ray_address is not None:
        raise ConfigError(f"--ray-address needs --executor ray, not {name!r}")
    if trial_timeout is not None:
        options["trial_timeout"] = trial_timeout
    return EXECUTORS[name](workers=workers or 1, **options)


__all__ = ["EXECUTORS", "Executor", "InlineExecutor", "PoolExecutor", "RayExecutor", "default_workers", "make_executor",
           "run_trial"]
