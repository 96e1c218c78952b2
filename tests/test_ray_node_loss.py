"""A node of a Ray cluster lost in the middle of a multi-fidelity study.

A two-node cluster is simulated on this machine (``ray.cluster_utils.Cluster``: a head node and a
second node, one CPU each, every process on 127.0.0.1). An ``asha-evolution`` study runs on it
through ``seqnas.search`` with a ``RayExecutor`` connected to the cluster's address, one actor per
node. While a promotion (a rung that continues its parent's checkpoint) runs on the second node,
that node is removed. The study must go on: the promotion is run again on the head node from the
checkpoint shipped with it, and every stored number equals what an uninterrupted run gives.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import sqlite3
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import seqnas
from seqnas.evaluation import TaskEvaluator, TrainBudget
from seqnas.execution import RayExecutor
from seqnas.execution.ray_executor import LOCAL_ENV
from seqnas.tasks import task_spec
from seqnas.trial import TrialState
from tests.conftest import ROOT, TINY_MACRO
from tests.execution_helpers import TIMING_METRICS, descendants, is_loopback, processes_mentioning, sockets_of

# Not importorskip: importing ray here would read RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER before the fixture sets it.
if importlib.util.find_spec("ray") is None:
    pytest.skip("needs Ray", allow_module_level=True)

TRAIN = TrainBudget(max_epochs=9, patience=20, batch_size=64)  # rungs of 1, 3 and 9 epochs
TRIALS, SEED = 15, 4
HOLD_S = 120.0  # how long the chosen promotion waits on the second node for the node to go


def _study(**kw: Any) -> Any:
    return seqnas.search(TINY_MACRO, task="sunspots", strategy="asha-evolution", trials=TRIALS, seed=SEED, train=TRAIN,
                         final_repeats=0, progress=False, **kw)


@dataclass(frozen=True)
class HoldOnNode:
    """Wraps the study's evaluator on the Ray workers; changes no number, only timing.

    Logs each run (worker PID, node, architecture, epochs). The first promotion that reaches the
    node ``victim`` writes ``held`` (its PID, architecture and epochs) and waits there until the
    node is removed under it. Until then, trials on the other node start 0.4 s late, so the
    victim's worker is the one free most often and soon gets a promotion.
    """

    inner: Any
    victim: str  # Ray node id (hex)
    log_dir: str

    def __call__(self, arch: Any, seed: int, *, epochs: int | None = None, resume: bytes | None = None) -> Any:
        import ray

        here = ray.get_runtime_context().get_node_id()
        d = Path(self.log_dir)
        entry = {"pid": os.getpid(), "node": here, "arch": arch.key, "epochs": epochs, "resumed": resume is not None,
                 "t": time.time()}
        with open(d / "runs.jsonl", "a") as f:
            f.write(json.dumps(entry) + "\n")
        if here == self.victim and resume is not None and not (d / "held").exists():
            (d / "held.tmp").write_text(json.dumps(entry))
            (d / "held.tmp").rename(d / "held")  # atomic: the test never reads half of it
            time.sleep(HOLD_S)  # the test removes this node meanwhile; this process dies with it
        elif here != self.victim and not (d / "held").exists():
            time.sleep(0.4)
        return self.inner(arch, seed, epochs=epochs, resume=resume)


class NodeLossRayExecutor(RayExecutor):
    """A RayExecutor whose trials run under ``HoldOnNode`` and that notes each trial it retries after a loss."""

    def __init__(self, *, log_dir: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.log_dir, self.victim = log_dir, ""
        self.lost: list[tuple[int, str]] = []

    def submit(self, tag, evaluator, proposal, seed):  # noqa: ANN001 - as in the base class
        super().submit(tag, HoldOnNode(evaluator, self.victim, self.log_dir), proposal, seed)

    def _lost(self, tag: int, why: str) -> None:
        self.lost.append((tag, why))
        super()._lost(tag, why)


def _alive(pids: set[int]) -> list[int]:
    out = []
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    out.append(p)
        except OSError:
            pass
    return out


def _left_after(before: set[int], temp: str, timeout: float = 30.0) -> list[int]:
    """Live processes this test started (below this process, or using the cluster's directory), after
    waiting up to ``timeout`` for them to end."""
    started = descendants(os.getpid()) - before
    deadline = time.monotonic() + timeout
    while (left := _alive(started | set(processes_mentioning(temp)))) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.fixture
def two_nodes(monkeypatch):
    """A loopback-only two-node Ray cluster (head + one more node, 1 CPU each); always shut down, and
    every process it started checked gone (killed by PID if not) at the end."""
    temp = tempfile.mkdtemp(prefix="sqn-", dir="/tmp")  # short: Ray's unix sockets live under it
    for k, v in LOCAL_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("RAY_TMPDIR", temp)  # also where Cluster writes its address file
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    import ray
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    # Ray may have been imported (by another test module) before the variable was set: the constant counts.
    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)
    before = descendants(os.getpid())
    os.mkdir(f"{temp}/ray")  # what RAY_TMPDIR makes Ray's default temporary directory
    node = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False, "temp_dir": f"{temp}/ray",
            "object_store_memory": 100 * 1024**2}
    cluster = None
    try:
        cluster = Cluster(initialize_head=True, head_node_args=node)
        second = cluster.add_node(**node)
        yield cluster, second, temp, before
    finally:
        if ray.is_initialized():
            ray.shutdown()
        if cluster is not None:
            cluster.shutdown()
        left = _left_after(before, temp)
        for pid in left:  # only what this fixture started
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)
        assert not left, f"Ray processes outlived the cluster's shutdown: {left}"


def _rows(db: str) -> list[tuple[int, str, str, dict[str, Any]]]:
    """(number, state, arch_hash, info) of every trial, read from SQLite as another process would."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as c:
            return [(n, s, h, json.loads(i)) for n, s, h, i in
                    c.execute("SELECT number, state, arch_hash, info FROM trials ORDER BY number")]
    except sqlite3.OperationalError:  # not created yet
        return []


def _check_loopback(pids: set[int]) -> int:
    socks = sockets_of(pids)
    for s in socks:
        assert is_loopback(s["local"]), f"a Ray process listens or talks beyond loopback: {s}"
        if not s["peer"].endswith(":*"):
            assert is_loopback(s["peer"]), f"a Ray process is connected beyond loopback: {s}"
    return len(socks)


def _comparable(r: Any) -> tuple[Any, ...]:
    return r.values, r.curve, {k: v for k, v in r.metrics.items() if k not in TIMING_METRICS}


@pytest.mark.slow
def test_a_node_lost_during_a_promotion_loses_and_changes_nothing(two_nodes, tmp_path):
    cluster, second, temp, before = two_nodes
    log_dir = tmp_path / "runs"
    log_dir.mkdir()
    db = str(tmp_path / "mf.db")
    ex = NodeLossRayExecutor(address=cluster.address, workers=2, max_retries=2, log_dir=str(log_dir))
    seen: dict[str, Any] = {}
    errors: list[BaseException] = []
    study_done = threading.Event()

    def remove_the_second_node_under_a_promotion() -> None:
        removed = False
        try:
            held = log_dir / "held"
            deadline = time.monotonic() + 120
            while not held.exists():
                assert not study_done.is_set(), "the study ended before a promotion ran on the second node"
                assert time.monotonic() < deadline, "no promotion ran on the second node in time"
                time.sleep(0.01)
            seen["held"] = h = json.loads(held.read_text())
            # The database says which trial it is: RUNNING, a promotion (its parent is set), that rung.
            running = [r for r in _rows(db) if r[1] == "RUNNING" and r[2] == h["arch"] and r[3]["rung_epochs"] == h["epochs"]]
            assert len(running) == 1 and running[0][3]["parent"] is not None, running
            seen["trial"], seen["parent"] = running[0][0], running[0][3]["parent"]
            raylet = second.all_processes["raylet"][0].process.pid
            assert h["pid"] in descendants(raylet), "the held trial does not run on the second node"
            # Both nodes up, both actors busy: every socket of every Ray process is on loopback.
            seen["sockets_before"] = _check_loopback((descendants(os.getpid()) - before) | {os.getpid()})
            seen["t_removed"] = time.time()
            cluster.remove_node(second)
            removed = True
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)
        finally:
            if not removed and (log_dir / "held").exists():
                try:
                    cluster.remove_node(second)  # never leave the held trial waiting out HOLD_S
                except BaseException as e:  # noqa: BLE001
                    errors.append(e)

    watcher = threading.Thread(target=remove_the_second_node_under_a_promotion, daemon=True)
    t0 = time.monotonic()
    try:
        nodes = {n["NodeID"]: n for n in ex.ray.nodes()}
        assert len(nodes) == 2 and {n["NodeManagerAddress"] for n in nodes.values()} == {"127.0.0.1"}
        assert second.node_id in nodes
        driver_raylet = ex.ray._private.worker.global_worker.node.raylet_socket_name
        assert driver_raylet != second.raylet_socket_name  # the driver is on the head node: the other one can go
        ex.victim = second.node_id
        watcher.start()
        try:
            res = _study(executor=ex, db=db, study="lost-node")
        finally:
            study_done.set()
            watcher.join(timeout=150)
        if errors:
            raise errors[0]
        assert "t_removed" in seen
        seen["sockets_after"] = _check_loopback((descendants(os.getpid()) - before) | {os.getpid()})
        assert not any(n["Alive"] for n in ex.ray.nodes() if n["NodeID"] == second.node_id)
    finally:
        ex.shutdown()
    took = time.monotonic() - t0
    # No Ray process is left once the driver is gone and the cluster is shut down (the fixture makes sure too).
    cluster.shutdown()
    assert _left_after(before, temp) == []

    recs = res.records
    by_number = {r.number: r for r in recs}
    # The study reached its budget, every trial COMPLETE: the lost node's trial was retried, not failed.
    assert len(recs) == TRIALS
    assert [r.state for r in recs] == [TrialState.COMPLETE] * TRIALS, [(r.number, r.error) for r in recs if r.error]
    assert len({(r.arch.key, r.info["rung"]) for r in recs}) == TRIALS  # no rung of an architecture run twice
    # Exactly the held promotion was lost, once, and run again elsewhere: on the head node, after the removal.
    assert [tag for tag, _ in ex.lost] == [seen["trial"]] and "Ray worker was lost" in ex.lost[0][1]
    held = by_number[seen["trial"]]
    assert held.info["parent"] == seen["parent"] and held.arch.key == seen["held"]["arch"]
    runs = [json.loads(line) for line in (log_dir / "runs.jsonl").read_text().splitlines()]
    again = [r for r in runs if r["arch"] == held.arch.key and r["epochs"] == held.info["rung_epochs"]]
    assert len(again) == 2 and again[0]["node"] == second.node_id
    assert again[1]["node"] != second.node_id and again[1]["resumed"] and again[1]["t"] > seen["t_removed"]
    assert {r["node"] for r in runs} == {second.node_id, again[1]["node"]}  # both nodes worked
    # Promotions continue their parent (same architecture, the rung below), not restart.
    promotions = [r for r in recs if r.info["parent"] is not None]
    assert promotions and held in promotions
    for r in promotions:
        parent = by_number[r.info["parent"]]
        assert parent.arch == r.arch and parent.info["rung"] == r.info["rung"] - 1
        assert r.curve[: len(parent.curve)] == parent.curve and len(r.curve) == r.info["rung_epochs"]
    # Every stored number is what an uninterrupted inline run gives. ASHA's choices depend on the
    # order results arrive in, so the inline run of the same study may try other rungs; those are
    # trained straight to their epochs (what a continued rung must equal).
    inline = {(r.arch.key, r.info["rung"]): _comparable(r) for r in _study(executor="inline").records}
    evaluator = TaskEvaluator(task_spec("sunspots"), TINY_MACRO["family"], TRAIN)  # as the study builds it
    for r in recs:
        want = inline.get((r.arch.key, r.info["rung"]))
        if want is None:
            want = _comparable(evaluator(r.arch, SEED, epochs=r.info["rung_epochs"]))
        assert _comparable(r) == want, f"trial {r.number} ({r.info})"
    print(f"\n{TRIALS} trials on 2 nodes, node removed under trial {seen['trial']} (parent {seen['parent']}); "
          f"{len(promotions)} promotions, {sum(1 for k in inline if k in {(r.arch.key, r.info['rung']) for r in recs})} "
          f"rungs shared with the inline run; study {took:.1f} s; retried {again[1]['t'] - seen['t_removed']:.2f} s after the "
          f"removal ({ex.lost[0][1]}); sockets checked {seen['sockets_before']}/{seen['sockets_after']}")
