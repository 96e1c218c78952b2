"""Crash harness: SIGKILL a running `seqnas` command at seeded random moments, resume, and check the study.

Used by tests/test_crash.py (a few kill points) and bench/crash.py (many). After every kill the
database must pass ``PRAGMA integrity_check`` and every trial that was finished before the kill
must still be there byte for byte; at the end the study must hold exactly its budget of finished
trials, with no architecture evaluated twice and no finished trial run again.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tests.cli_helpers import env, integrity

# Column positions in `SELECT * FROM trials` (see seqnas/storage/sqlite.py).
_COLS = ["id", "study_id", "number", "kind", "state", "arch", "arch_hash", "info", "value_json", "metrics", "error",
         "started_at", "finished_at", "duration", "told_before", "tell_seq", "attempts"]


def _trials(db: Path) -> list[dict[str, Any]]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as c:
            names = [r[1] for r in c.execute("PRAGMA table_info(trials)")]
            if not names:
                return []  # the schema is not there yet (killed while creating it)
            assert names[: len(_COLS)] == _COLS, names
            return [dict(zip(names, r)) for r in c.execute("SELECT * FROM trials ORDER BY study_id, number")]
    except sqlite3.OperationalError:  # the schema is not there yet (killed while creating it)
        return []


def _owner(db: Path) -> set[str]:
    if not db.exists():
        return set()
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as c:
            return {r[0] for r in c.execute("SELECT owner FROM studies WHERE owner IS NOT NULL")}
    except sqlite3.OperationalError:
        return set()


def _finished(trials: list[dict[str, Any]], kinds: Sequence[str] | None = ("arch",)) -> list[dict[str, Any]]:
    return [t for t in trials if t["state"] != "RUNNING" and (kinds is None or t["kind"] in kinds)]


@dataclass
class Kill:
    """One kill point: when it was chosen to land and what the study held at that moment."""

    launch: int
    command: str
    moment: str  # startup | lease | progress
    delay: float
    finished_before: int  # finished trials (all kinds) when the process was killed
    running_at_kill: list[int] = field(default_factory=list)
    running_kinds: list[str] = field(default_factory=list)
    exited_by_itself: bool = False


@dataclass
class CrashReport:
    kills: list[Kill]
    budget: int
    finished: int
    distinct_archs: int
    max_attempts: int
    launches: int
    seconds: float

    @property
    def survived(self) -> int:
        return sum(1 for k in self.kills if not k.exited_by_itself)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "survived": self.survived}


class CrashError(AssertionError):
    pass


def crash_and_resume(
    db: Path,
    first: Sequence[str],
    again: Callable[[np.random.Generator], Sequence[str]],
    *,
    budget: int,
    kills: int,
    seed: int,
    moments: Sequence[str] = ("startup", "lease", "lease", "progress", "progress", "progress", "progress"),
    schedule: Sequence[str] = (),
    finish: Sequence[str] | None = None,
    kinds: Sequence[str] | None = ("arch",),
    log: Callable[[str], None] | None = None,
    timeout: float = 240.0,
) -> CrashReport:
    """Run ``first`` (a `seqnas ...` argument list), SIGKILL it at a seeded moment, then relaunch with
    ``again(rng)`` and kill again, ``kills`` times; then run ``finish`` (default: ``again``) to the end.

    Moments: ``startup`` (a random time after launch, usually while importing), ``lease`` (just after
    the process took the study's lease: replaying, restarting trials, the first trial), ``progress``
    (a random time after 1-3 more trials finished: inside a trial or a transaction), ``running:KIND``
    (a random time after a trial of that kind, e.g. ``supernet``, is running; ``progress`` once
    every such trial has finished).
    """
    import sys

    rng = np.random.default_rng(seed)
    t_start = time.monotonic()
    seen: dict[tuple[int, int], dict[str, Any]] = {}  # (study_id, number) -> the row when first seen finished
    running_counts: dict[tuple[int, int], int] = {}
    log_ = log or (lambda s: None)
    report_kills: list[Kill] = []
    cmd = [sys.executable, "-m", "seqnas.cli"]
    args = list(first)
    host = socket.gethostname()

    def check(where: str) -> list[dict[str, Any]]:
        if db.exists():
            ok = integrity(db)
            if ok != "ok":
                raise CrashError(f"{where}: integrity_check says {ok!r}")
        rows = _trials(db)
        by_key = {(r["study_id"], r["number"]): r for r in rows}
        for key, old in seen.items():
            if by_key.get(key) != old:
                raise CrashError(f"{where}: finished trial {key} changed or vanished: {old} -> {by_key.get(key)}")
        for r in _finished(rows, None):
            seen.setdefault((r["study_id"], r["number"]), r)
        hashes = [(r["study_id"], r["arch_hash"]) for r in rows if r["arch_hash"] is not None]
        if len(hashes) != len(set(hashes)):
            raise CrashError(f"{where}: an architecture was stored twice in one study")
        if len(_finished(rows, kinds)) > budget:
            raise CrashError(f"{where}: {len(_finished(rows, kinds))} finished trials, more than the budget {budget}")
        return rows

    for k in range(kills):
        moment = str(rng.choice(list(moments)))
        if k < len(schedule):
            moment = schedule[k]  # the first kills at chosen kinds of moment (their timing stays random)
        now = _trials(db)
        before = len(_finished(now, kinds))
        if moment.startswith("running:") and any(r["kind"] == moment[8:] for r in now) and \
                all(r["state"] != "RUNNING" for r in now if r["kind"] == moment[8:]):
            moment = "progress"  # that phase is over: nothing of that kind will run again
        err_path = db.parent / f"{db.name}.launch{k}.stderr"
        with open(err_path, "w") as err_file:  # a file, not a pipe: a chatty child can never block on it
            proc = subprocess.Popen([*cmd, *args], stdout=subprocess.DEVNULL, stderr=err_file, env=env(),
                                    start_new_session=True)
        delay = 0.0
        try:
            deadline = time.monotonic() + timeout
            if moment == "startup":
                delay = float(rng.uniform(0.0, 3.0))
                time.sleep(delay)
            else:
                target = before + int(rng.integers(1, 4))
                delay = float(rng.uniform(0.0, {"progress": 0.25, "lease": 0.4}.get(moment, 1.0)))
                while proc.poll() is None and time.monotonic() < deadline:
                    if moment == "lease" and f"{host}:{proc.pid}" in _owner(db):
                        break
                    if moment.startswith("running:") and f"{host}:{proc.pid}" in _owner(db) and any(
                            r["kind"] == moment[8:] and r["state"] == "RUNNING" for r in _trials(db)):
                        break
                    if moment == "progress" and len(_finished(_trials(db), kinds)) >= target:
                        break
                    time.sleep(0.01)
                time.sleep(delay)
        finally:
            exited = proc.poll() is not None
            if not exited:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            err = err_path.read_text(errors="replace")
        if exited and proc.returncode != 0:
            raise CrashError(f"launch {k} ({args[0]}) failed by itself with exit {proc.returncode}: {err.strip()[-2000:]}")
        rows = check(f"after kill {k} ({moment}, {args[0]})")
        running = [r["number"] for r in rows if r["state"] == "RUNNING"]
        running_kinds = sorted({r["kind"] for r in rows if r["state"] == "RUNNING"})
        for r in rows:
            if r["state"] == "RUNNING":
                running_counts[(r["study_id"], r["number"])] = running_counts.get((r["study_id"], r["number"]), 0) + 1
        kill = Kill(k, args[0], moment, round(delay, 3), len(_finished(rows, None)), running, running_kinds, exited_by_itself=exited)
        report_kills.append(kill)
        log_(f"kill {k}: {asdict(kill)}")
        args = list(again(rng))

    final = list(finish) if finish is not None else args
    p = subprocess.run([*cmd, *final], capture_output=True, text=True, env=env(), timeout=timeout)
    if p.returncode != 0:
        raise CrashError(f"final {final[0]} failed with exit {p.returncode}: {p.stderr.strip()[-2000:]}")
    rows = check("at the end")
    finished = _finished(rows, kinds)
    if any(r["state"] == "RUNNING" for r in rows):
        raise CrashError("trials are still RUNNING at the end")
    if len(finished) != budget:
        raise CrashError(f"{len(finished)} finished trials at the end, budget {budget}")
    for r in rows:
        key = (r["study_id"], r["number"])
        # A trial runs again only if a kill caught it RUNNING: never once it had finished.
        if r["attempts"] - 1 > running_counts.get(key, 0):
            raise CrashError(f"trial {key} ran {r['attempts']} times but was caught running only {running_counts.get(key, 0)} times")
    return CrashReport(
        kills=report_kills, budget=budget, finished=len(finished),
        distinct_archs=len({(r["study_id"], r["arch_hash"]) for r in rows if r["arch_hash"]}),
        max_attempts=max((r["attempts"] for r in rows), default=0), launches=kills + 1,
        seconds=round(time.monotonic() - t_start, 1),
    )
