"""Helpers for tests that drive the real `seqnas` command: data files, a tiny space, subprocess runs."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import numpy as np

from tests.conftest import ROOT, SEQNAS, TINY_SPACE_YAML  # noqa: F401 - re-exported for the CLI tests

# Training flags that keep a CLI trial to a fraction of a second, and the task they run on.
FAST_TRAIN = ["--max-epochs", "2", "--patience", "1", "--batch-size", "64"]


def sleepy(arch) -> float:
    """A picklable objective (worker processes import it from here): a=3 hangs, anything else returns at once."""
    import time

    if arch["a"] == 3:
        time.sleep(600)
    return float(arch["a"])


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e["OMP_NUM_THREADS"] = "1"
    return e


def write_series_csv(path: Path, rows: int = 240, seed: int = 0) -> Path:
    """A small seasonal series with a feature and a timestamp column."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    load = np.sin(t / 6.0) + 0.3 * np.sin(t / 17.0) + 0.1 * rng.normal(size=rows)
    temp = np.cos(t / 6.0) + 0.1 * rng.normal(size=rows)
    lines = ["date,load,temp"] + [f"{_stamp(i)},{a:.5f},{b:.5f}" for i, (a, b) in enumerate(zip(load, temp))]
    path.write_text("\n".join(lines) + "\n")
    return path


def _stamp(i: int) -> str:
    """Hourly timestamps (28-day months keep it simple; fine up to a year of rows)."""
    day, hour = divmod(i, 24)
    month, day = divmod(day, 28)
    return f"2021-{month + 1:02d}-{day + 1:02d} {hour:02d}:00"


def task_args(csv: Path) -> list[str]:
    """A CSV task with a fixed window and none of the inputs a CSV with a time column searches by default."""
    return ["--csv", str(csv), "--target", "load", "--features", "temp", "--time-column", "date", "--window", "8",
            "--horizon", "2", "--calendar", "off", "--base", "off", "--highway", "off"]


def run(args: list[str], timeout: float = 240, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SEQNAS, *args], capture_output=True, text=True, timeout=timeout, env=env(), **kwargs)


def search_demo(d: Path, trials: int, seed: int, *extra: str) -> tuple[Path, Path, Path, subprocess.CompletedProcess[str]]:
    """A CLI random search of the tiny space on a CSV task written into ``d``: study 'demo' in d/runs.db.
    Returns (csv, space file, database, the finished process)."""
    csv = write_series_csv(d / "data.csv")
    space = d / "tiny.yaml"
    space.write_text(TINY_SPACE_YAML)
    db = d / "runs.db"
    p = run(["search", *task_args(csv), "--space", str(space), "--strategy", "random", "--trials", str(trials), "--seed",
             str(seed), *FAST_TRAIN, "--workers", "1", "--no-progress", *extra, "--study", "demo", "--db", str(db)])
    return csv, space, db, p


def popen(args: list[str], **kwargs) -> subprocess.Popen[str]:
    return subprocess.Popen([*SEQNAS, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(),
                            start_new_session=True, **kwargs)


def rows(db: Path | str, study: str | None = None) -> list[tuple]:
    """Every trial row as stored (all columns), ordered by study and number; [] if there is no database."""
    if not Path(db).exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as c:
        c.execute("PRAGMA busy_timeout = 30000")
        if study is None:
            return c.execute("SELECT * FROM trials ORDER BY study_id, number").fetchall()
        return c.execute("SELECT t.* FROM trials t JOIN studies s ON s.id = t.study_id WHERE s.name=? ORDER BY number",
                         (study,)).fetchall()


def integrity(db: Path | str) -> str:
    with sqlite3.connect(db, timeout=30) as c:
        return c.execute("PRAGMA integrity_check").fetchone()[0]
