"""The local process pool: same results as inline, killed workers, time limits, Ctrl-C then resume."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys

import pytest

import seqnas
from seqnas.errors import ConfigError
from seqnas.evaluation.evaluator import ObjectiveEvaluator
from seqnas.execution import InlineExecutor, PoolExecutor, RayExecutor, make_executor
from seqnas.space import Arch
from seqnas.trial import Proposal, TrialState
from tests.conftest import SEQNAS
from tests.execution_helpers import (
    MISBEHAVING_SPACE,
    Misbehave,
    comparable,
    inline_reference,
    interrupt_then_resume,
    kill_victim_when_running,
    tiny_search,
)


@pytest.fixture(scope="module")
def pool():
    """One 2-worker pool for the whole module (the runner leaves a caller's executor running)."""
    ex = PoolExecutor(workers=2, max_retries=1)
    try:
        yield ex
    finally:
        ex.shutdown()


@pytest.mark.parametrize("strategy", ["random", "grid"])
def test_pool_gives_the_same_results_as_inline(pool, strategy):
    assert comparable(tiny_search(strategy, executor=pool)) == inline_reference(strategy)


def test_a_killed_worker_s_trial_is_retried_and_the_worker_replaced(pool, tmp_path):
    pool.trial_timeout = None
    evaluator = ObjectiveEvaluator(Misbehave(str(tmp_path)))
    pool.submit(0, evaluator, Proposal(arch=Arch({"a": 1})), 0)
    pool.submit(1, evaluator, Proposal(arch=Arch({"a": 4})), 0)
    victim = kill_victim_when_running(str(tmp_path), pool.worker_pids)
    results = {}
    while pool.pending():
        results.update(pool.wait(timeout=5))
    assert results[0].state is TrialState.COMPLETE and results[0].values == {"value": 1.0}
    assert results[1].state is TrialState.COMPLETE and results[1].values == {"value": 4.0}
    assert victim not in pool.worker_pids() and len(pool.worker_pids()) == 2


def test_search_goes_on_past_dying_workers_and_trials_over_the_time_limit(pool, tmp_path, db):
    """a=2 kills its worker every time (FAILED after 1 retry), a=3 hangs (stopped at 1.5 s); the rest complete."""
    pool.trial_timeout = 1.5
    try:
        space = seqnas.space_from_dict({"params": {"a": [0, 2, 3, 4, 5]}})
        r = seqnas.search(space, objective=Misbehave(str(tmp_path)), strategy="grid", trials=5, study="m", db=db,
                          executor=pool, progress=False)
    finally:
        pool.trial_timeout = None
    by_a = {t.arch["a"]: t for t in r.records}
    assert sorted(by_a) == [0, 2, 3, 4, 5]
    assert by_a[2].state is TrialState.FAILED
    assert "worker process died (killed by SIGKILL) 2 times" in by_a[2].error
    assert by_a[3].state is TrialState.FAILED and "timed out" in by_a[3].error and "--trial-timeout of 1.5 s" in by_a[3].error
    assert by_a[3].metrics["timed_out"] is True
    for a in (0, 4, 5):
        assert by_a[a].state is TrialState.COMPLETE and by_a[a].value == (a - 2) ** 2
    assert len(pool.worker_pids()) == 2
    # The study keeps its limit for `resume`, which an explicit inline executor (that cannot enforce it) ignores.
    again = seqnas.resume("m", db, objective=Misbehave(str(tmp_path)), executor="inline", progress=False)
    assert [t.state for t in again.records] == [t.state for t in r.records]
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT value FROM study_state WHERE key='trial_timeout'").fetchone()[0] == "1.5"


def test_a_trial_that_cannot_be_sent_to_a_worker_fails_with_the_reason(pool):
    pool.submit(7, ObjectiveEvaluator(lambda a: 0.0), Proposal(arch=Arch({"a": 0})), 0)
    [(tag, result)] = pool.wait(timeout=5)
    assert tag == 7 and result.state is TrialState.FAILED and "could not send the trial to a worker process" in result.error


def test_executor_choices_and_their_errors(monkeypatch):
    assert isinstance(make_executor(None, 1), InlineExecutor)
    implied = make_executor(None, 1, trial_timeout=2)  # a time limit needs a worker process that can be stopped
    assert isinstance(implied, PoolExecutor) and implied.trial_timeout == 2.0 and implied.workers == 1
    assert isinstance(make_executor(None, 2), PoolExecutor)
    with pytest.raises(ConfigError, match="--trial-timeout needs --executor pool or ray"):
        make_executor("inline", 1, trial_timeout=5)
    for bad in (0, -1, float("nan"), float("inf"), True):
        with pytest.raises(ConfigError, match="--trial-timeout must be a positive number"):
            make_executor("pool", 2, trial_timeout=bad)
    with pytest.raises(ConfigError, match="unknown executor 'dask'"):
        make_executor("dask", 2)
    with pytest.raises(ConfigError, match="--ray-address needs --executor ray"):
        make_executor("pool", 2, ray_address="auto")
    for bad in ("head-node", "10.0.0.5:", ":6379", "h:99999"):
        with pytest.raises(ConfigError, match="--ray-address must be 'auto' or HOST:PORT"):
            make_executor(None, 2, ray_address=bad)
    with pytest.raises(ConfigError, match="objective= must be a module-level function"):
        seqnas.search(seqnas.space_from_dict(MISBEHAVING_SPACE), objective=lambda a: 0.0, trials=1, workers=2)
    # An unreachable cluster fails at once (ray.init would retry for minutes); the port is a closed one on loopback.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    with pytest.raises(ConfigError, match=f"cannot reach the Ray cluster at 127.0.0.1:{closed}"):
        make_executor("ray", 2, ray_address=f"127.0.0.1:{closed}")
    # Ray is an optional extra: without it, a one-line message that says what to install.
    env_before = dict(os.environ)
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError, match=r"pip install 'seqnas\[ray\]'"):
        RayExecutor(workers=2)
    assert dict(os.environ) == env_before


def test_cli_refuses_an_unknown_executor_in_one_line(env, tmp_path):
    p = subprocess.run([*SEQNAS, "search", "--executor", "dask", "--db", str(tmp_path / "x.db")], capture_output=True,
                       text=True, env=env, timeout=60)
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and "invalid choice: 'dask'" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "x.db").exists()


def test_ctrl_c_stops_cleanly_and_resume_finishes_with_nothing_lost(env, tmp_path):
    db = interrupt_then_resume(env, tmp_path, ["--workers", "2", "--trial-timeout", "120"])
    with sqlite3.connect(db) as c:
        # resume kept the study's time limit
        assert json.loads(c.execute("SELECT value FROM study_state WHERE key='trial_timeout'").fetchone()[0]) == 120.0
