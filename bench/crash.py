"""Crash bench: SIGKILL `seqnas search` / `seqnas compare` at many seeded moments; write bench/results/crash.json.

Each scenario runs one study (or race) to its budget while killing the process group with SIGKILL
at seeded random moments and relaunching it (`resume`, `compare --resume`, or the same command
again). After every kill the database must pass `PRAGMA integrity_check` and hold every trial
finished before the kill unchanged; at the end exactly the budget of finished trials, no
architecture twice, no finished trial run again (tests/crash_harness.py does the checks).

    .venv/bin/python bench/crash.py [--kills 10] [--scenarios search-inline,search-pool,compare,darts]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from tests.cli_helpers import FAST_TRAIN, TINY_SPACE_YAML, task_args, write_series_csv  # noqa: E402
from tests.crash_harness import crash_and_resume  # noqa: E402


def _has(db: Path, sql: str, *params: object) -> bool:
    if not db.exists():
        return False
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
            return c.execute(sql, params).fetchone() is not None
    except sqlite3.OperationalError:
        return False


def search_scenario(d: Path, seed: int, kills: int, workers: int, strategy: str = "random", budget: int = 30,
                    space_yaml: str = TINY_SPACE_YAML, extra: tuple[str, ...] = (),
                    moments: tuple[str, ...] = ("startup", "lease", "lease", "progress", "progress", "progress", "progress"),
                    schedule: tuple[str, ...] = ()) -> dict:
    csv = write_series_csv(d / "data.csv")
    space = d / "space.yaml"
    space.write_text(space_yaml)
    db = d / "crash.db"
    search = ["search", *task_args(csv), "--space", str(space), "--strategy", strategy, "--trials", str(budget),
              "--seed", str(seed), *FAST_TRAIN, *extra, "--workers", str(workers), "--no-progress", "--study", "s", "--db", str(db)]
    resume = ["resume", "--study", "s", "--db", str(db), "--workers", str(workers), "--no-progress"]

    def again(rng: np.random.Generator) -> list[str]:
        if not _has(db, "SELECT 1 FROM studies WHERE name='s'"):
            return search
        return resume if rng.random() < 0.7 else [*search, "--load-if-exists"]  # the same search, continuing the study

    report = crash_and_resume(db, search, again, budget=budget, kills=kills, seed=seed, moments=moments, schedule=schedule,
                              log=print)
    return report.to_json()


def compare_scenario(d: Path, seed: int, kills: int) -> dict:
    csv = write_series_csv(d / "data.csv")
    space = d / "space.yaml"
    space.write_text(TINY_SPACE_YAML)
    db = d / "race.db"
    strategies, seeds, trials = ["random", "grid"], 2, 8
    first = ["compare", *task_args(csv), "--space", str(space), "--strategies", ",".join(strategies), "--seeds", str(seeds),
             "--trials", str(trials), *FAST_TRAIN, "--parallel-runs", "1", "--no-progress", "--db", str(db), "--out", str(d / "report")]
    resume = ["compare", "--resume", "--db", str(db), "--parallel-runs", "1", "--no-progress"]

    def again(rng: np.random.Generator) -> list[str]:
        return resume if _has(db, "SELECT 1 FROM meta WHERE key LIKE 'race:%'") else first

    report = crash_and_resume(db, first, again, budget=len(strategies) * seeds * trials, kills=kills, seed=seed, log=print)
    return report.to_json()


def darts_available() -> str | None:
    """None when the darts strategy is there; else why not."""
    try:
        from seqnas.strategies import STRATEGIES
    except Exception as e:  # noqa: BLE001
        return f"cannot import strategies: {e}"
    return None if "darts" in STRATEGIES else "the darts strategy is not registered (seqnas/strategies/darts/ has not landed)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=10, help="kill points per scenario run")
    ap.add_argument("--seeds", default="1,2,3", help="seeds of the inline search scenario")
    ap.add_argument("--scenarios", default="search-inline,search-pool,compare,darts")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "crash.json"))
    args = ap.parse_args()
    wanted = args.scenarios.split(",")
    results: dict[str, object] = {}
    notes: dict[str, str] = {}
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        runs = []
        if "search-inline" in wanted:
            runs += [(f"search-inline-seed{s}", lambda d, s=s: search_scenario(d, s, args.kills, workers=1))
                     for s in map(int, args.seeds.split(","))]
        if "search-pool" in wanted:
            runs.append(("search-pool2-seed7", lambda d: search_scenario(d, 7, args.kills, workers=2)))
        if "compare" in wanted:
            runs.append(("compare-seed11", lambda d: compare_scenario(d, 11, args.kills)))
        if "darts" in wanted:
            why = darts_available()
            if why is None:
                # The first half of the kills land while the supernet trains (each kill makes it start
                # over), the rest anywhere, mostly in the trials of the derived architectures.
                runs.append(("search-darts-seed13", lambda d: search_scenario(
                    d, 13, args.kills, workers=1, strategy="darts", budget=20, extra=("--option", "epochs=40"),
                    moments=("startup", "lease", "progress"), schedule=("running:supernet",) * (args.kills // 2))))
            else:
                notes["darts"] = why
        for name, fn in runs:
            d = base / name
            d.mkdir()
            print(f"== {name}", flush=True)
            results[name] = fn(d)
            r = results[name]
            print(f"== {name}: {r['survived']}/{len(r['kills'])} kills survived, {r['finished']} finished, {r['seconds']} s",
                  flush=True)
    moments = Counter(k["moment"] for r in results.values() for k in r["kills"])  # type: ignore[index]
    summary = {
        "kill_points_survived": sum(r["survived"] for r in results.values()),  # type: ignore[index]
        "kill_points": sum(len(r["kills"]) for r in results.values()),  # type: ignore[index]
        "kills_that_interrupted_a_running_trial": sum(1 for r in results.values() for k in r["kills"]  # type: ignore[index]
                                                      if k["running_at_kill"]),
        "kills_during_a_supernet_search": sum(1 for r in results.values() for k in r["kills"]  # type: ignore[index]
                                              if "supernet" in k["running_kinds"]),
        "moments": dict(moments),
        "seconds": round(time.monotonic() - t0, 1),
        "notes": notes,
    }
    out = {"summary": summary, "scenarios": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
