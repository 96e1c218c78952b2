"""Generate the tabular benchmark: every architecture of bench/tabular/space.yaml trained on each task
with several seeds, as seqnas grid studies (one study per task and seed) in one SQLite file.

Resumable: run it again and finished studies are skipped, interrupted ones continue (`seqnas resume`).
Runnable on Ray: pass `--executor ray` (and `--ray-address`) through `--exec-args`.
Then `python bench/tabular/export.py` writes the compact table shipped in the package.

    python bench/tabular/generate.py --db bench/tabular/gen.db --workers 2
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPACE = HERE.parent.parent / "seqnas" / "space" / "rnn_macro_272.yaml"
TASKS = ("sunspots", "co2", "elnino")
SEEDS = (0, 1, 2)
ARCHS = 272  # the grid size of space.yaml: grid search visits each once, then the study ends
# The race's training settings (make run): 30 epochs at most, early stopping after 5 without progress.
TRAIN = ["--max-epochs", "30", "--patience", "5"]


def study_name(task: str, seed: int) -> str:
    return f"{task}-{seed}"


def existing(db: Path) -> set[str]:
    if not db.exists():
        return set()
    with sqlite3.connect(db) as con:
        try:
            return {r[0] for r in con.execute("SELECT name FROM studies")}
        except sqlite3.OperationalError:
            return set()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=str(HERE / "gen.db"))
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    ap.add_argument("--exec-args", default="", help="extra execution flags, e.g. '--executor ray'")
    a = ap.parse_args()
    seqnas = [str(Path(sys.executable).parent / "seqnas")]
    db = Path(a.db)
    t0 = time.time()
    for task in a.tasks.split(","):
        for seed in map(int, a.seeds.split(",")):
            name = study_name(task, seed)
            run = ["--workers", str(a.workers), *a.exec_args.split(), "--no-progress", "--study", name, "--db", str(db)]
            if name in existing(db):
                cmd = [*seqnas, "resume", *run]
            else:
                cmd = [*seqnas, "search", "--task", task, "--space", str(SPACE), "--strategy", "grid",
                       "--trials", str(ARCHS), "--seed", str(seed),
                       "--final-repeats", "0", *TRAIN, *run]
            print(f"[{time.time() - t0:7.0f} s] {name}: {cmd[1]}", flush=True)
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    print(f"done in {time.time() - t0:.0f} s wall", flush=True)


if __name__ == "__main__":
    main()
