"""Ray executor: trials run on Ray actors, on a local loopback-only Ray instance or on a cluster."""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Sequence
from typing import Any

from seqnas.errors import ConfigError
from seqnas.execution.base import Evaluator, SlotExecutor, run_trial
from seqnas.threads import restore_environment, single_threaded_process
from seqnas.trial import Proposal, Result

# For an instance we start (a real cluster needs them unset). RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0,
# read when Ray is imported, makes the node address 127.0.0.1 and binds every Ray process to
# loopback (by default Ray listens on all interfaces and advertises the machine's external
# address). RAY_USAGE_STATS_ENABLED=0: Ray would otherwise report usage to an outside server.
# RAY_AUTH_MODE=disabled: no token file in the home directory for a private instance.
LOCAL_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
# A worker that cannot even start (e.g. seqnas missing on a node) this many times in a row is fatal.
_MAX_START_FAILURES = 3
_INSTALL_HINT = "pip install 'seqnas[ray]' (or pip install ray==2.60.0)"


class TrialActor:
    """The body of one Ray actor: a persistent worker process that runs one trial at a time."""

    def __init__(self) -> None:
        single_threaded_process()

    def ready(self) -> int:
        return os.getpid()

    def run(self, evaluator: Evaluator, proposal: Proposal, seed: int) -> Result:
        return run_trial(evaluator, proposal, seed)


class _Slot:
    """One actor and what it is doing."""

    def __init__(self, actor: Any, ready_ref: Any) -> None:
        self.actor, self.ready_ref = actor, ready_ref
        self.pid: int | None = None
        self.tag: int | None = None
        self.ref: Any = None
        self.started = 0.0


class RayExecutor(SlotExecutor):
    """``workers`` Ray actors (one CPU each), created at the first submit and reused.

    ``address`` None starts a private local Ray instance bound to 127.0.0.1 (``num_cpus=workers``)
    and stops it at shutdown; ``"auto"`` or ``"HOST:PORT"`` connects to a running cluster (which
    is left running). A lost actor (killed worker process, lost node) is replaced and its trial
    run again, up to ``max_retries`` times, then FAILED with the reason. With ``trial_timeout``
    an architecture trial that runs longer is stopped by killing its actor.
    """

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None, max_retries: int = 2,
                 trial_timeout: float | None = None, temp_dir: str | None = None) -> None:
        super().__init__(workers or 1, trial_timeout, max_retries)
        self.address, self.temp_dir = address, temp_dir
        self._slots: list[_Slot] = []  # the work items are (proposal, (evaluator, seed))
        self._start_failures = 0
        self._saved_env: dict[str, str | None] = {}
        self._saved_constant: bool | None = None
        self._owns_ray = False
        self.ray = self._connect()
        if workers is None and address is not None:
            # On a cluster, default to one trial per CPU it has.
            self.workers = max(1, int(self.ray.cluster_resources().get("CPU", 1)))
        self._actor_cls = self.ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(TrialActor)

    # -- connecting --------------------------------------------------------------------------------
    def _connect(self) -> Any:
        local = self.address is None
        if local:
            for k, v in LOCAL_ENV.items():
                self._saved_env[k] = os.environ.get(k)
                os.environ[k] = v
        try:
            import ray
        except ImportError:
            self._restore_env()
            raise ConfigError(f"--executor ray needs Ray, which is not installed: {_INSTALL_HINT}") from None
        if not local:
            _check_reachable(self.address)  # type: ignore[arg-type]
        if ray.is_initialized():
            # The caller runs Ray already (e.g. in a notebook): use it, and leave it running.
            self._restore_env()
            return ray
        if local:
            from ray._private import ray_constants

            # Ray may have been imported before the variable was set; the constant is what counts.
            self._saved_constant = ray_constants.ENABLE_RAY_CLUSTER
            ray_constants.ENABLE_RAY_CLUSTER = False
            try:
                # address="local": a new private instance even if RAY_ADDRESS names a cluster.
                ray.init(address="local", num_cpus=self.workers, include_dashboard=False, _node_ip_address="127.0.0.1",
                         _temp_dir=self.temp_dir, object_store_memory=256 * 1024**2, logging_level=logging.WARNING,
                         log_to_driver=False,  # as for a cluster, below
                         # Workers see the modules the driver sees (user objectives, test helpers).
                         runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}})
            except Exception:
                self._restore_env()
                raise
        else:
            try:
                # Workers' output and Ray's "a worker died" notices stay in Ray's log files: what
                # matters reaches the trial's error (a killed worker, a timed-out trial).
                ray.init(address=self.address, logging_level=logging.WARNING, log_to_driver=False)
            except Exception as e:  # noqa: BLE001 - Ray raises several kinds for an unreachable cluster
                raise ConfigError(f"could not connect to the Ray cluster at --ray-address {self.address!r} "
                                  f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); start it with "
                                  "`ray start --head` on the head node, or check the address") from None
        self._owns_ray = True
        return ray

    def _restore_env(self) -> None:
        restore_environment(self._saved_env)
        self._saved_env = {}
        if self._saved_constant is not None:
            from ray._private import ray_constants

            ray_constants.ENABLE_RAY_CLUSTER = self._saved_constant
            self._saved_constant = None

    # -- submitting --------------------------------------------------------------------------------
    def submit(self, tag: int, evaluator: Evaluator, proposal: Proposal, seed: int) -> None:
        if not self._slots:
            self._slots = [self._new_slot() for _ in range(self.workers)]
        self._work[tag] = (proposal, (evaluator, seed))
        self._queue.append(tag)
        self._dispatch()

    def _new_slot(self) -> _Slot:
        actor = self._actor_cls.remote()
        return _Slot(actor, actor.ready.remote())

    def _dispatch(self) -> None:
        for s in self._slots:
            if not self._queue:
                return
            if s.pid is not None and s.tag is None:
                tag = self._queue.popleft()
                proposal, (evaluator, seed) = self._work[tag]
                try:
                    ref = s.actor.run.remote(evaluator, proposal, seed)
                except Exception as e:  # noqa: BLE001 - Ray serialises the arguments here
                    self._finish(tag, Result.failed(f"could not send the trial to a Ray worker: {type(e).__name__}: {e}"))
                    continue
                s.tag, s.ref, s.started = tag, ref, time.monotonic()

    def worker_pids(self) -> list[int]:
        """PIDs of the ready actors' worker processes (on their nodes)."""
        return [s.pid for s in self._slots if s.pid is not None]

    def running(self) -> dict[int, int]:
        """Trial tag -> PID of the actor process running it."""
        return {s.tag: s.pid for s in self._slots if s.tag is not None and s.pid is not None}

    # -- collecting --------------------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> list[tuple[int, Result]]:
        until = None if timeout is None else time.monotonic() + timeout
        while True:
            out, self._done = self._done, []
            if out or not self._work:
                return out
            self._dispatch()
            refs = {}
            for s in self._slots:
                if s.pid is None:
                    refs[s.ready_ref] = s
                elif s.ref is not None:
                    refs[s.ref] = s
            now = time.monotonic()
            limit = min([d for d in (until, self._next_deadline()) if d is not None], default=None)
            if refs:
                wait_s = None if limit is None else max(0.0, limit - now)
                ready, _ = self.ray.wait(list(refs), num_returns=1, timeout=wait_s)
                if ready:  # collect everything that is done by now, not only the first
                    ready, _ = self.ray.wait(list(refs), num_returns=len(refs), timeout=0)
                for ref in ready:
                    self._collect(refs[ref], ref)
            elif limit is not None:
                time.sleep(max(0.0, min(limit - now, 0.1)))
            self._expire()
            if until is not None and time.monotonic() >= until:
                out, self._done = self._done, []
                return out

    def _collect(self, s: _Slot, ref: Any) -> None:
        ex = self.ray.exceptions
        if s.pid is None:  # the actor's ready() answered, or it failed to start
            try:
                s.pid = int(self.ray.get(ref))
                self._start_failures = 0
            except ex.RayError as e:
                self._start_failures += 1
                if self._start_failures >= _MAX_START_FAILURES:
                    raise ConfigError(f"Ray workers cannot start a seqnas worker ({_first_line(e)}); install seqnas, "
                                      "with the same torch, on every node of the cluster") from None
                self._replace(s)
            return
        tag = s.tag
        assert tag is not None
        s.tag, s.ref = None, None
        try:
            result = self.ray.get(ref)
        except ex.RayTaskError as e:
            # An error raised inside the actor's method, e.g. arguments it could not unpickle; running it
            # again would give the same error.
            self._finish(tag, Result.failed(f"could not run the trial on a Ray worker: {_first_line(e)}"))
        except ex.RayError as e:
            # The actor's process or node is gone (ActorDiedError, ActorUnavailableError, ObjectLostError...).
            self._replace(s)
            self._lost(tag, f"its Ray worker was lost ({type(e).__name__})")
        else:
            self._finish(tag, result if isinstance(result, Result) else Result.failed(f"a Ray worker returned {type(result).__name__}"))

    def _slot_list(self) -> Sequence[_Slot]:
        return self._slots

    def _replace(self, s: _Slot) -> None:
        try:
            self.ray.kill(s.actor, no_restart=True)
        except Exception:  # noqa: BLE001 - it is usually dead already
            pass
        self._slots[self._slots.index(s)] = self._new_slot()

    # The actor's CPU time is not visible from here (it may be on another node): a trial stopped at
    # the time limit counts its wall time (SlotExecutor._slot_cpu).

    # -- stopping ----------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Kill the actors (running trials are abandoned); stop the local instance if we started it."""
        for s in self._slots:
            try:
                self.ray.kill(s.actor, no_restart=True)
            except Exception:  # noqa: BLE001 - Ray may already be down
                pass
        self._slots = []
        self._clear()
        if self._owns_ray:
            self._owns_ray = False
            self.ray.shutdown()
            self._restore_env()


def check_address(address: str) -> tuple[str, int] | None:
    """``auto`` -> None; ``HOST:PORT`` -> (host, port); anything else is a ConfigError."""
    if address == "auto":
        return None
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--ray-address must be 'auto' or HOST:PORT (e.g. 10.0.0.5:6379), got {address!r}")
    return host.strip("[]"), int(port)


def _check_reachable(address: str) -> None:
    """Fail in seconds, with a clear message, where ray.init would retry an unreachable address for minutes."""
    target = check_address(address)
    if target is None:
        try:
            from ray._private.services import get_ray_address_from_environment

            found = get_ray_address_from_environment("auto", None)  # RAY_ADDRESS, or the cluster `ray start` made here
        except Exception as e:  # noqa: BLE001 - Ray raises ConnectionError when there is none
            raise ConfigError(f"--ray-address auto found no running Ray cluster on this machine ({_first_line(e)}); "
                              "start one with `ray start --head`, or give HOST:PORT of the head node") from None
        if not isinstance(found, str) or found == "auto":
            return  # this Ray version resolves it later; let ray.init report
        target = check_address(found)
        assert target is not None
    try:
        socket.create_connection(target, timeout=10).close()
    except OSError as e:
        raise ConfigError(f"cannot reach the Ray cluster at {target[0]}:{target[1]} ({e.strerror or e}); start it with "
                          "`ray start --head` on the head node, or check --ray-address") from None


def _first_line(e: BaseException) -> str:
    """A one-line reason: for an error raised inside a Ray worker, the original error, not Ray's wrapper."""
    cause = getattr(e, "cause", None)
    if isinstance(cause, BaseException):
        e = cause
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"
