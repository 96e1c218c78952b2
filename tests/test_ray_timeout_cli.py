"""`seqnas search --executor ray --trial-timeout S` end to end: a trial that runs past S is stopped and stored FAILED
with the reason, the other trial completes, the search finishes, and the private Ray instance (127.0.0.1 only) is gone."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SEQNAS
from tests.execution_helpers import processes_mentioning

pytest.importorskip("ray")

TIMEOUT = 8.0
# Two architectures, trained for one epoch on ~5,600 windows of 16 steps: 3 LSTM layers of 4 units (about a second
# of CPU) and of 512 units (about a minute of CPU here, 0.6 s per batch; still far over TIMEOUT on a much faster CPU).
SPACE = """\
family: rnn-macro
params:
  - {name: depth, type: categorical, choices: [3]}
  - {name: cell1, type: categorical, choices: [lstm]}
  - {name: hidden1, type: categorical, choices: [4, 512]}
  - {name: lr, type: categorical, choices: [0.01]}
"""


def _write_csv(path: Path, rows: int = 8000) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(rows)
    load = np.sin(t / 6.0) + 0.1 * rng.normal(size=rows)
    temp = np.cos(t / 6.0) + 0.1 * rng.normal(size=rows)
    path.write_text("load,temp\n" + "".join(f"{a:.5f},{b:.5f}\n" for a, b in zip(load, temp)))
    return path


def _trials(db: Path) -> list[tuple]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as c:
        return c.execute("SELECT number, state, arch, error, metrics, attempts FROM trials ORDER BY number").fetchall()


def _state(db: Path, key: str):
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as c:
        row = c.execute("SELECT value FROM study_state WHERE key=?", (key,)).fetchone()
    return None if row is None else json.loads(row[0])


def test_cli_trial_timeout_on_ray_fails_the_long_trial_and_the_search_finishes(tmp_path, env):
    csv = _write_csv(tmp_path / "long.csv")
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    db = tmp_path / "runs.db"
    # Short (Ray's unix socket paths must stay under ~100 characters); also how this test finds the instance's processes.
    ray_tmp = tempfile.mkdtemp(prefix="sqt-", dir="/tmp")
    run_env = {**env, "RAY_TMPDIR": ray_tmp, "OMP_NUM_THREADS": "1"}
    try:
        p = subprocess.run([*SEQNAS, "search", "--csv", str(csv), "--target", "load", "--features", "temp", "--window", "16",
                            "--horizon", "2", "--space", str(space), "--strategy", "grid", "--option", "shuffle=false",
                            "--trials", "2", "--max-epochs", "1", "--patience", "1", "--batch-size", "64",
                            "--executor", "ray", "--workers", "1", "--trial-timeout", str(TIMEOUT), "--final-repeats", "0",
                            "--no-progress", "--study", "rt", "--db", str(db)],
                           capture_output=True, text=True, env=run_env, timeout=400)
        assert p.returncode == 0, p.stderr
        assert "Traceback" not in p.stderr, p.stderr
        assert os.listdir(ray_tmp), "Ray did not use RAY_TMPDIR; this test cannot see its processes"
        assert processes_mentioning(ray_tmp) == [], "Ray processes outlived `seqnas search`"
    finally:
        for pid in processes_mentioning(ray_tmp):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(ray_tmp, ignore_errors=True)

    rows = _trials(db)
    assert len(rows) == 2 and all(r[1] in ("COMPLETE", "FAILED") for r in rows)
    by_hidden = {json.loads(r[2])["hidden1"]: r for r in rows}
    small, large = by_hidden[4], by_hidden[512]
    assert small[1] == "COMPLETE" and small[3] is None and json.loads(small[4])["val_mse"] > 0
    assert large[1] == "FAILED"
    assert large[3].startswith("timed out: ran ") and "over the --trial-timeout of 8 s; its worker was stopped" in large[3]
    ran = float(large[3].split("ran ", 1)[1].split(" s", 1)[0])
    assert ran >= TIMEOUT
    metrics = json.loads(large[4])
    assert metrics["timed_out"] is True
    assert metrics["cpu_seconds"] >= TIMEOUT  # on Ray a stopped trial is charged its wall time
    assert large[5] == 1  # stopped, not retried as a lost worker
    assert _state(db, "trial_timeout") == TIMEOUT  # `seqnas resume` keeps the limit
    assert "1 complete, 1 failed" in p.stdout and "timed out" in p.stdout
