"""Local process pool: persistent worker processes (torch imported once each, one thread each)."""

from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from seqnas.execution.base import Evaluator, Executor, run_trial
from seqnas.trial import Proposal, Result


def _init_worker() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


class PoolExecutor(Executor):
    """``workers`` processes from a spawn context (safe with torch), reused across trials.

    A worker that dies (killed, out of memory) breaks the pool: the pool is rebuilt and every
    trial it held is submitted again, up to ``max_retries`` times each; after that the trial
    comes back FAILED with the reason.
    """

    name = "pool"

    def __init__(self, workers: int = 2, max_retries: int = 2) -> None:
        super().__init__(workers)
        self.max_retries = max_retries
        self._ctx = mp.get_context("spawn")
        self._pool: ProcessPoolExecutor | None = None
        self._futures: dict[Future[Result], int] = {}
        self._work: dict[int, tuple[Evaluator, Proposal, int]] = {}
        self.retries: dict[int, int] = {}

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=self._ctx, initializer=_init_worker)
        return self._pool

    def submit(self, tag: int, evaluator: Evaluator, proposal: Proposal, seed: int) -> None:
        self._work[tag] = (evaluator, proposal, seed)
        self._futures[self._ensure_pool().submit(run_trial, evaluator, proposal, seed)] = tag

    def pending(self) -> int:
        return len(self._work)

    def worker_pids(self) -> list[int]:
        procs = getattr(self._pool, "_processes", None) or {}
        return [p.pid for p in procs.values() if p.pid is not None]

    def wait(self, timeout: float | None = None) -> list[tuple[int, Result]]:
        if not self._futures:
            return []
        done, _ = wait(list(self._futures), timeout=timeout, return_when=FIRST_COMPLETED)
        out: list[tuple[int, Result]] = []
        broken: list[int] = []
        for fut in done:
            tag = self._futures.pop(fut)
            try:
                out.append((tag, fut.result()))
                self._work.pop(tag, None)
            except BrokenProcessPool:
                broken.append(tag)
            except Exception as e:  # noqa: BLE001 - e.g. an evaluator that cannot be pickled
                out.append((tag, Result.failed(f"could not run in a worker process: {type(e).__name__}: {e}")))
                self._work.pop(tag, None)
        if broken:
            out.extend(self._recover(broken))
        return out

    def _recover(self, broken: list[int]) -> list[tuple[int, Result]]:
        """A worker died: every future of the old pool is lost; rebuild it and resubmit."""
        for fut, tag in list(self._futures.items()):
            broken.append(tag)
            self._futures.pop(fut)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        failed: list[tuple[int, Result]] = []
        for tag in sorted(set(broken)):
            self.retries[tag] = self.retries.get(tag, 0) + 1
            evaluator, proposal, seed = self._work[tag]
            if self.retries[tag] > self.max_retries:
                self._work.pop(tag)
                failed.append((tag, Result.failed(f"worker process died {self.retries[tag]} times while running this trial")))
            else:
                self.submit(tag, evaluator, proposal, seed)
        return failed

    def shutdown(self) -> None:
        if self._pool is not None:
            # Running trials are abandoned: kill the workers rather than wait for them.
            for p in (getattr(self._pool, "_processes", None) or {}).values():
                if p.is_alive():
                    p.kill()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._futures.clear()
        self._work.clear()
