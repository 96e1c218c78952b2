"""Local process pool: persistent worker processes (torch imported once each, one thread each)."""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_any
from typing import Any

from seqnas.execution.base import Evaluator, SlotExecutor, run_trial
from seqnas.threads import ONE_THREAD_ENV, environment, single_threaded_process
from seqnas.trial import Proposal, Result

# A worker that dies this many times in a row before it is ready means workers cannot start at all.
_MAX_START_FAILURES = 3
def _worker_main(conn: Connection) -> None:
    """One worker: receive pickled trials, run them one at a time, send the results back."""
    # Ctrl-C in a terminal reaches the whole process group; the driver handles it and stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from seqnas.evaluation.training import warm_up_torch

    single_threaded_process()
    warm_up_torch()
    conn.send(("ready", os.getpid()))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return  # the driver is gone
        if msg is None:
            return
        tag, payload = msg
        try:
            evaluator, proposal, seed = pickle.loads(payload)
        except Exception as e:  # noqa: BLE001 - e.g. a module the worker cannot import
            result = Result.failed(f"could not load the trial in a worker process: {type(e).__name__}: {e}")
        else:
            result = run_trial(evaluator, proposal, seed)
        try:
            conn.send((tag, result))
        except OSError:
            return  # the driver is gone
        except Exception as e:  # noqa: BLE001 - an unpicklable metric must not kill the worker
            conn.send((tag, Result.failed(f"could not send the result back from the worker: {type(e).__name__}: {e}")))


def _cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a live process has used, from /proc; None where unavailable."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _how_it_died(exitcode: int | None) -> str:
    if exitcode is None:
        return "it stopped responding"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


class _Worker:
    """A worker process, its pipe, and the trial it runs (if any)."""

    def __init__(self, ctx: Any) -> None:
        self.conn, child = ctx.Pipe()
        # daemon: if the driver exits without shutdown(), the workers do not keep it alive.
        self.proc = ctx.Process(target=_worker_main, args=(child,), daemon=True, name="seqnas-worker")
        # The spawned child may import torch (re-importing the caller's __main__) before
        # _worker_main runs, so one OpenMP thread must already be in its environment: two
        # workers with spinning OpenMP pools on two cores ran each trial about 2x slower.
        with environment(ONE_THREAD_ENV):
            self.proc.start()
        child.close()
        self.ready = False
        self.tag: int | None = None
        self.started = 0.0
        self.cpu0: float | None = None

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()


class PoolExecutor(SlotExecutor):
    """``workers`` processes from a spawn context (safe with torch), reused across trials.

    Each worker runs one trial at a time over its own pipe, so the pool knows which trial each
    process runs. A worker that dies (killed, out of memory) is replaced and only its trial is
    run again, up to ``max_retries`` times; after that the trial comes back FAILED with the
    reason. With ``trial_timeout`` an architecture trial that runs longer is stopped by killing
    its worker (which is replaced) and comes back FAILED.
    """

    name = "pool"

    def __init__(self, workers: int = 2, max_retries: int = 2, trial_timeout: float | None = None) -> None:
        super().__init__(workers, trial_timeout, max_retries)
        self._ctx = mp.get_context("spawn")
        self._workers: list[_Worker] = []
        self._start_failures = 0  # the work items are (proposal, the pickled (evaluator, proposal, seed))

    # -- submitting --------------------------------------------------------------------------------
    def submit(self, tag: int, evaluator: Evaluator, proposal: Proposal, seed: int) -> None:
        try:
            # Pickled here, so a trial that cannot be sent fails now, with the reason, in the driver.
            payload = pickle.dumps((evaluator, proposal, seed))
        except Exception as e:  # noqa: BLE001 - any pickling failure means the same thing here
            self._done.append((tag, Result.failed(f"could not send the trial to a worker process: {type(e).__name__}: {e}")))
            return
        if not self._workers:
            self._workers = [_Worker(self._ctx) for _ in range(self.workers)]
        self._work[tag] = (proposal, payload)
        self._queue.append(tag)
        self._dispatch()

    def _dispatch(self) -> None:
        for w in self._workers:
            if not self._queue:
                return
            if w.ready and w.tag is None:
                tag = self._queue.popleft()
                w.tag, w.started, w.cpu0 = tag, time.monotonic(), _cpu_seconds(w.proc.pid or 0)
                try:
                    w.conn.send((tag, self._work[tag][1]))
                except (OSError, ValueError):
                    pass  # the worker just died; its sentinel reports it and the trial is retried

    def worker_pids(self) -> list[int]:
        """PIDs of the live worker processes."""
        return [w.proc.pid for w in self._workers if w.proc.pid is not None and w.proc.is_alive()]

    def running(self) -> dict[int, int]:
        """Trial tag -> PID of the worker process running it."""
        return {w.tag: w.proc.pid for w in self._workers if w.tag is not None and w.proc.pid is not None}

    # -- collecting --------------------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> list[tuple[int, Result]]:
        until = None if timeout is None else time.monotonic() + timeout
        while True:
            out, self._done = self._done, []
            if out or not self._work:
                return out
            self._dispatch()
            handles: dict[Any, _Worker] = {}
            for w in self._workers:
                handles[w.conn] = w
                handles[w.proc.sentinel] = w
            now = time.monotonic()
            limit = min([d for d in (until, self._next_deadline()) if d is not None], default=None)
            for h in wait_any(list(handles), None if limit is None else max(0.0, limit - now)):
                w = handles[h]
                if w in self._workers:  # not already replaced during this round
                    self._service(w)
            self._expire()
            if until is not None and time.monotonic() >= until:
                out, self._done = self._done, []
                return out

    def _service(self, w: _Worker) -> None:
        """Read what a worker sent; if it is dead, replace it and retry or fail its trial."""
        try:
            while w.conn.poll():
                msg = w.conn.recv()
                if msg[0] == "ready":
                    w.ready = True
                    self._start_failures = 0
                else:
                    tag, result = msg
                    w.tag = None
                    self._finish(tag, result)
        except (EOFError, OSError):
            w.proc.join(5)  # the pipe closed: the process is exiting; reap it rather than spin
        if w.proc.is_alive():
            return
        w.proc.join()
        how = _how_it_died(w.proc.exitcode)
        if not w.ready:
            self._start_failures += 1
            if self._start_failures >= _MAX_START_FAILURES:
                raise RuntimeError(f"seqnas worker processes cannot start ({how}, {self._start_failures} times in a row); "
                                   "a script that runs a search with workers > 1 must start it under "
                                   "`if __name__ == '__main__':` (worker processes import the script)")
        self._replace(w)
        if w.tag is not None:
            self._lost(w.tag, f"its worker process died ({how})")

    def _slot_list(self) -> Sequence[_Worker]:
        return self._workers

    def _replace(self, w: _Worker) -> None:
        w.kill()
        self._workers[self._workers.index(w)] = _Worker(self._ctx)

    def _slot_cpu(self, w: _Worker, ran: float) -> float:
        cpu1 = _cpu_seconds(w.proc.pid or 0)
        return cpu1 - w.cpu0 if cpu1 is not None and w.cpu0 is not None else ran

    # -- stopping ----------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Idle workers are asked to exit; running trials are abandoned (their workers are killed)."""
        idle = [w for w in self._workers if w.ready and w.tag is None and w.proc.is_alive()]
        for w in idle:
            try:
                w.conn.send(None)
            except (OSError, ValueError):
                pass
        for w in self._workers:
            if w in idle:
                w.proc.join(2)
            w.kill()  # busy, or still starting: nothing to wait for
        self._workers = []
        self._clear()
