"""The Ray executor on a real local Ray instance: loopback only, same results as inline, lost workers, time limits."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time

import pytest

import seqnas
from seqnas.evaluation.evaluator import ObjectiveEvaluator
from seqnas.execution import RayExecutor
from seqnas.execution.ray_executor import LOCAL_ENV
from seqnas.space import Arch
from seqnas.trial import Proposal, TrialState
from tests.execution_helpers import (
    Misbehave,
    comparable,
    descendants,
    inline_reference,
    interrupt_then_resume,
    is_loopback,
    kill_victim_when_running,
    processes_mentioning,
    sockets_of,
    tiny_search,
)

pytest.importorskip("ray")


_NOT_RAY: set[int] = set()


def ray_processes() -> set[int]:
    """This process's children and their descendants that the Ray instance started."""
    return descendants(os.getpid()) - _NOT_RAY


@pytest.fixture(scope="module")
def ray_ex():
    """One local Ray instance (2 CPUs) for the module; always stopped, even when a test fails."""
    # Short: Ray puts unix sockets under it, and their paths must stay under ~100 characters.
    temp = tempfile.mkdtemp(prefix="sqr-", dir="/tmp")
    ex = None
    _NOT_RAY.update(descendants(os.getpid()))  # e.g. multiprocessing's resource tracker, left by other tests
    try:
        ex = RayExecutor(workers=2, max_retries=1, temp_dir=temp)
        yield ex
    finally:
        if ex is not None:
            ex.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.parametrize("strategy", ["random", "grid"])
def test_ray_gives_the_same_results_as_inline(ray_ex, strategy):
    assert comparable(tiny_search(strategy, executor=ray_ex)) == inline_reference(strategy)


def test_local_ray_listens_and_talks_on_loopback_only(ray_ex):
    """Every socket of every process of the local instance (gcs, raylet, agents, workers) is on 127.0.0.0/8."""
    assert len(ray_ex.worker_pids()) == 2  # the actors are up (the previous tests used them)
    ray_pids = ray_processes()
    assert set(ray_ex.worker_pids()) <= ray_pids
    socks = sockets_of(ray_pids)
    listening = [s for s in socks if s["state"] in ("LISTEN", "UNCONN")]
    assert any("gcs_server" in s["users"] for s in listening) and any("raylet" in s["users"] for s in listening)
    for s in socks:
        assert is_loopback(s["local"]), f"a Ray process listens or talks beyond loopback: {s}"
        if not s["peer"].endswith(":*"):
            assert is_loopback(s["peer"]), f"a Ray process is connected beyond loopback: {s}"
    assert {n["NodeManagerAddress"] for n in ray_ex.ray.nodes()} == {"127.0.0.1"}


def test_a_lost_ray_worker_s_trial_is_retried(ray_ex, tmp_path):
    ray_ex.trial_timeout = None
    evaluator = ObjectiveEvaluator(Misbehave(str(tmp_path)))
    ray_ex.submit(0, evaluator, Proposal(arch=Arch({"a": 1})), 0)
    victim = kill_victim_when_running(str(tmp_path), ray_ex.worker_pids)
    results = {}
    while ray_ex.pending():
        results.update(ray_ex.wait(timeout=5))
    assert results[0].state is TrialState.COMPLETE and results[0].values == {"value": 1.0}
    assert victim not in ray_ex.worker_pids()


def test_ray_search_goes_on_past_dying_workers_and_trials_over_the_time_limit(ray_ex, tmp_path, db):
    # The limit must outlast Ray noticing a killed worker, which took over 1.5 s on a loaded 2-core machine
    # (the dying trial then timed out instead of failing as lost).
    ray_ex.trial_timeout = 6.0
    try:
        space = seqnas.space_from_dict({"params": {"a": [0, 2, 3, 4]}})
        r = seqnas.search(space, objective=Misbehave(str(tmp_path)), strategy="grid", trials=4, study="m", db=db,
                          executor=ray_ex, progress=False)
    finally:
        ray_ex.trial_timeout = None
    by_a = {t.arch["a"]: t for t in r.records}
    assert sorted(by_a) == [0, 2, 3, 4]
    assert by_a[2].state is TrialState.FAILED and "Ray worker was lost (ActorDiedError) 2 times" in by_a[2].error
    assert by_a[3].state is TrialState.FAILED and "over the --trial-timeout of 6 s" in by_a[3].error
    assert by_a[0].value == 4.0 and by_a[4].value == 4.0


def test_shutdown_stops_the_local_instance_and_restores_the_environment(ray_ex):
    ray_pids = ray_processes()
    assert any(_comm(p) == "gcs_server" for p in ray_pids)
    ray_ex.shutdown()
    assert not ray_ex.ray.is_initialized()
    deadline = time.monotonic() + 30
    while (alive := [p for p in ray_pids if _comm(p) not in (None, "<zombie>")]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive, f"Ray processes outlived shutdown: {[(p, _comm(p)) for p in alive]}"
    for key in LOCAL_ENV:
        assert os.environ.get(key) == _ENV_AT_IMPORT.get(key)


def _comm(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return "<zombie>" if stat.rsplit(")", 1)[1].split()[0] == "Z" else stat.split("(", 1)[1].rsplit(")", 1)[0]


_ENV_AT_IMPORT = dict(os.environ)


def test_ctrl_c_on_local_ray_stops_it_and_resume_on_ray_finishes_with_nothing_lost(env, tmp_path):
    """`seqnas search --executor ray` interrupted: clean stop and no Ray process left; then resume on Ray."""
    temp = tempfile.mkdtemp(prefix="sqc-", dir="/tmp")  # RAY_TMPDIR: lets the test find that instance's processes

    def no_ray_left() -> None:
        assert os.listdir(temp), "Ray did not use RAY_TMPDIR; this test cannot see its processes"
        assert processes_mentioning(temp) == [], "Ray processes outlived `seqnas`"

    try:
        interrupt_then_resume({**env, "RAY_TMPDIR": temp}, tmp_path, ["--executor", "ray", "--workers", "2"],
                              between=no_ray_left)
        no_ray_left()
    finally:
        for pid in processes_mentioning(temp):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)
