"""Helpers for the executor tests: objectives that misbehave on purpose, inline reference runs, process lookups."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import seqnas
from seqnas.space import space_from_dict
from tests.conftest import SEQNAS, TINY_MACRO, TINY_TRAIN, TINY_TRAIN_ARGS

# a=1: sleeps until the test kills its worker (then, on the retry, returns); a=2: kills its own worker
# every time; a=3: hangs (for the time limit); any other a: returns (a - 2) ** 2 at once.
MISBEHAVING_SPACE = {"params": {"a": [0, 1, 2, 3, 4, 5]}}

# Metrics that measure time, so differ between runs; everything else must be identical.
TIMING_METRICS = {"train_seconds", "latency_ms", "cpu_seconds", "strategy_cpu_seconds"}


@dataclass(frozen=True)
class Misbehave:
    """A picklable objective whose behaviour depends on ``arch['a']`` (see MISBEHAVING_SPACE)."""

    marker_dir: str

    def __call__(self, arch: Any) -> float:
        a = arch["a"]
        d = Path(self.marker_dir)
        if a == 1 and not (d / "killed").exists():
            (d / "running.tmp").write_text(str(os.getpid()))
            (d / "running.tmp").rename(d / "running")  # atomic: the test never reads half a PID
            time.sleep(120)
        elif a == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        elif a == 3:
            time.sleep(120)
        return float((a - 2) ** 2)


def kill_victim_when_running(marker_dir: str, pids: Any, timeout: float = 120.0) -> int:
    """Wait for the a=1 trial to start, check its PID is one of ``pids()``, SIGKILL it; returns the PID."""
    d = Path(marker_dir)
    deadline = time.monotonic() + timeout
    while not (d / "running").exists():
        if time.monotonic() > deadline:
            raise AssertionError("the a=1 trial never started")
        time.sleep(0.02)
    pid = int((d / "running").read_text())
    assert pid in pids(), f"{pid} is not one of the executor's worker PIDs {pids()}"
    (d / "killed").write_text("")
    os.kill(pid, signal.SIGKILL)
    return pid


_REFERENCE: dict[str, list[tuple[Any, ...]]] = {}


def comparable(result: Any) -> list[tuple[Any, ...]]:
    """Each trial's number, architecture, state, objective values and non-timing metrics."""
    return [
        (r.number, r.arch.key, r.state.value, r.values, {k: v for k, v in r.metrics.items() if k not in TIMING_METRICS})
        for r in result.records
    ]


def tiny_search(strategy: str, **kw: Any) -> Any:
    """A tiny real search on sunspots (4 trials, 3 epochs) that every executor must reproduce exactly."""
    return seqnas.search(space_from_dict(TINY_MACRO), task="sunspots", strategy=strategy, trials=4, seed=3,
                         train=TINY_TRAIN, progress=False, **kw)


def inline_reference(strategy: str) -> list[tuple[Any, ...]]:
    """The inline run of ``tiny_search`` (computed once per test session)."""
    if strategy not in _REFERENCE:
        _REFERENCE[strategy] = comparable(tiny_search(strategy, workers=1, executor="inline"))
    return _REFERENCE[strategy]


def descendants(root: int) -> set[int]:
    """PIDs of every live process below ``root`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out: set[int] = set()
    todo = [root]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def processes_mentioning(text: str) -> list[int]:
    """PIDs of live processes whose command line contains ``text``."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if text.encode() in f.read():
                        out.append(int(entry))
            except OSError:
                continue
    return out


_SS_LINE = re.compile(r"^(?P<state>\S+)\s+\d+\s+\d+\s+(?P<local>\S+)\s+(?P<peer>\S+)\s*(?P<users>.*)$")


def sockets_of(pids: set[int]) -> list[dict[str, str]]:
    """TCP and UDP sockets (listening and connected) owned by ``pids``, from `ss -tunapH`."""
    out = subprocess.run(["ss", "-tunapH"], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) < 2:
            continue
        m = _SS_LINE.match(parts[1])  # the first column is the protocol (tcp/udp)
        if not m:
            continue
        owners = {int(p) for p in re.findall(r"pid=(\d+)", m["users"])}
        if owners & pids:
            rows.append({"proto": parts[0], "state": m["state"], "local": m["local"], "peer": m["peer"], "users": m["users"]})
    return rows


def is_loopback(addr: str) -> bool:
    """An ss address (``127.0.0.1:80``, ``[::1]:80``, ``[::ffff:127.0.0.1]:80``, ``*:*`` for no peer)."""
    host = addr.rsplit(":", 1)[0].strip("[]")
    host = host.split("%", 1)[0]
    return host.startswith("127.") or host == "::1" or host.startswith("::ffff:127.")


def trial_rows(db: str) -> dict[int, tuple[Any, ...]]:
    """number -> (state, arch_hash, value_json, metrics, finished_at, attempts), straight from SQLite."""
    with sqlite3.connect(db) as c:
        return {r[0]: r[1:] for r in c.execute(
            "SELECT number, state, arch_hash, value_json, metrics, finished_at, attempts FROM trials")}


def interrupt_then_resume(env: dict[str, str], tmp_path: Path, execution_args: list[str], trials: int = 6,
                          between: Any = None) -> str:
    """`seqnas search` on a tiny task, Ctrl-C once a trial is COMPLETE, checks, `seqnas resume`, checks; returns the db.

    Checks: exit code 130, no traceback, a message naming the resume command, the running trials
    left RUNNING; then resume ends with exactly ``trials`` COMPLETE trials, the ones completed
    before unchanged (same values and finish time), every architecture evaluated once, each
    interrupted trial run once more, and an intact database. ``between()`` runs after the interrupt.
    """
    space = tmp_path / "tiny.json"
    space.write_text(json.dumps(TINY_MACRO))
    db = str(tmp_path / "runs.db")
    common = ["--db", db, "--study", "c", "--no-progress", *execution_args]
    search = [*SEQNAS, "search", "--task", "sunspots", "--space", str(space), "--strategy", "random", "--trials",
              str(trials), "--seed", "0", *TINY_TRAIN_ARGS, *common]
    # A new session, so the SIGINT can go to the whole process group, as Ctrl-C in a terminal does.
    proc = subprocess.Popen(search, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, f"the search ended before it could be interrupted: {proc.communicate()}"
            assert time.monotonic() < deadline, "no trial finished in time"
            try:
                if any(r[0] == "COMPLETE" for r in trial_rows(db).values()):
                    break
            except sqlite3.Error:
                pass  # not created yet
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Traceback" not in out, err
    assert f"seqnas resume --study c --db {db}" in err
    before = trial_rows(db)
    complete_before = {n: r for n, r in before.items() if r[0] == "COMPLETE"}
    assert any(r[0] == "RUNNING" for r in before.values()), "the interrupted trials should stay RUNNING for resume"
    assert len(before) < trials
    if between is not None:
        between()

    p = subprocess.run([*SEQNAS, "resume", *common], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr, p.stderr
    after = trial_rows(db)
    assert len(after) == trials and all(r[0] == "COMPLETE" for r in after.values())
    for n, row in complete_before.items():
        assert after[n] == row  # unchanged: same values, same finish time, not run again
    assert len({r[1] for r in after.values()}) == trials  # no architecture evaluated twice
    for n, r in before.items():
        if r[0] == "RUNNING":
            assert after[n][5] == r[5] + 1  # run again once, by resume
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    return db
