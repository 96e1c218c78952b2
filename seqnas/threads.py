"""CPU threads and the process environment: one torch/OpenMP thread per worker, restored afterwards.

Tiny recurrent networks and controllers gain nothing from intra-op threads; on a busy machine extra
threads only add contention (two workers with spinning OpenMP pools on two cores ran each trial
about 2x slower), so every place that trains or steps a model runs on one thread.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set these environment variables for the block, then restore each (unset ones are removed)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        restore_environment(saved)


def restore_environment(saved: Mapping[str, str | None]) -> None:
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def single_threaded_process() -> None:
    """For a worker process: one OpenMP thread in its environment and one torch thread."""
    os.environ.update(ONE_THREAD_ENV)
    import torch

    torch.set_num_threads(1)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block on one torch thread, then restore the caller's thread count."""
    import torch

    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)
