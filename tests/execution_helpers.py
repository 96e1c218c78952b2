"""Helpers for the executor tests: objectives that misbehave on purpose, inline reference runs, process lookups."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import seqnas
from seqnas.space import space_from_dict
from tests.conftest import TINY_TRAIN

# a=1: sleeps until the test kills its worker (then, on the retry, returns); a=2: kills its own worker
# every time; a=3: hangs (for the time limit); any other a: returns (a - 2) ** 2 at once.
MISBEHAVING_SPACE = {"params": {"a": [0, 1, 2, 3, 4, 5]}}

TINY_MACRO = {
    "family": "rnn-macro",
    "params": [
        {"name": "depth", "type": "categorical", "choices": [1, 2]},
        {"name": "cell1", "type": "categorical", "choices": ["rnn_tanh", "gru", "lstm"]},
        {"name": "hidden1", "type": "categorical", "choices": [4, 8]},
        {"name": "cell2", "type": "categorical", "choices": ["rnn_tanh", "gru"], "condition": {"parent": "depth", "values": [2]}},
        {"name": "hidden2", "type": "categorical", "choices": [4, 8], "condition": {"parent": "depth", "values": [2]}},
        {"name": "lr", "type": "categorical", "choices": [0.003, 0.01]},
    ],
}
# Metrics that measure time, so differ between runs; everything else must be identical.
TIMING_METRICS = {"train_seconds", "latency_ms", "cpu_seconds"}


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
