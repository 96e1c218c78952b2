"""CLI start-up time: whole-process runs of `seqnas --help`, `seqnas show` and `seqnas search --help`.

Each command is run as a user runs it (the installed `seqnas` script of this interpreter, a fresh
process each time, output discarded): one untimed warm-up run (file cache), then ``--runs`` timed
ones; the median and the spread (min, quartiles, max) are reported. `show` reads a small study
this script makes first in a temporary directory: a tiny search of the built-in sunspots task
(3 trials of 1 epoch, the best retrained once, so `show` prints every part of a task study:
metrics, the errors in the data's own units, the retraining), independent of any other file.
Each run's CPU time (user + system, from the child's rusage) is reported beside its wall time:
it is what a busy machine inflates least. Each command is also run once with
``python -X importtime`` to list which heavy libraries (torch, ray, optuna, matplotlib, pandas,
scipy) it imports.

Results are kept per phase (``--phase before`` / ``--phase after`` of a change) in
bench/results/cli_startup.{json,md}; a run replaces only its own phase. ``--tree`` measures the
seqnas package of another checkout (put first on PYTHONPATH), e.g. a `git worktree` of the commit
before a change, so that both phases can be measured back to back under the same load. The load
average is recorded at start and end: on a busy machine the figures are disturbed (slower, wider
spread).

    .venv/bin/python bench/cli_startup.py --phase after [--runs 10]
    git worktree add --detach /tmp/before HEAD~1
    .venv/bin/python bench/cli_startup.py --phase before --tree /tmp/before
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
TREE = ROOT  # the checkout whose seqnas is measured (--tree)
TARGET_S = 0.4  # issue 13: `--help` and `show` within this, median of 10 runs
HEAVY = ("torch", "ray", "optuna", "matplotlib", "pandas", "scipy")
STUDY = "startup"

MAKE_STUDY = """
import sys
import seqnas
seqnas.search("rnn-macro", task="sunspots", trials=3, seed=0, train={"max_epochs": 1, "patience": 1, "batch_size": 64},
              study=sys.argv[2], db=sys.argv[1], workers=1, final_repeats=1, final_top=1, progress=False)
"""


def _seqnas() -> list[str]:
    """The installed console script next to this interpreter (what a user types), else `python -m seqnas.cli`."""
    script = Path(sys.executable).with_name("seqnas")
    return [str(script)] if script.exists() else [sys.executable, "-m", "seqnas.cli"]


def _env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(TREE) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def make_study(db: Path) -> None:
    subprocess.run([sys.executable, "-c", MAKE_STUDY, str(db), STUDY], check=True, env=_env(), cwd=db.parent,
                   stdout=subprocess.DEVNULL)


def time_command(argv: list[str], runs: int, cwd: Path) -> dict[str, Any]:
    def once() -> tuple[float, float]:
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = subprocess.run([*_seqnas(), *argv], env=_env(), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        dt = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode != 0:
            raise SystemExit(f"`seqnas {' '.join(argv)}` exited {p.returncode}: {p.stderr.decode()[-500:]}")
        return dt, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)

    once()  # warm-up: file cache, .pyc files
    measured = [once() for _ in range(runs)]
    times = [w for w, _ in measured]
    q = statistics.quantiles(times, n=4) if runs >= 2 else [times[0]] * 3
    return {"argv": argv, "times_s": [round(t, 4) for t in times], "median_s": round(statistics.median(times), 4),
            "min_s": round(min(times), 4), "q1_s": round(q[0], 4), "q3_s": round(q[2], 4), "max_s": round(max(times), 4),
            "cpu_s": [round(c, 4) for _, c in measured], "cpu_median_s": round(statistics.median(c for _, c in measured), 4),
            "heavy_imports": heavy_imports(argv, cwd)}


def heavy_imports(argv: list[str], cwd: Path) -> list[str]:
    """The heavy libraries the command imports (from `python -X importtime`: top-level package names)."""
    p = subprocess.run([sys.executable, "-X", "importtime", "-m", "seqnas.cli", *argv], env=_env(), cwd=cwd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    loaded = set()
    for line in p.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            loaded.add(line.rsplit("|", 1)[1].strip())
    return [m for m in HEAVY if m in loaded]


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=TREE, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def measure(runs: int) -> dict[str, Any]:
    started = datetime.datetime.now().isoformat(timespec="seconds")
    load_start = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        db = cwd / "startup.db"
        t0 = time.perf_counter()
        make_study(db)
        study_s = time.perf_counter() - t0
        commands = {
            "seqnas --help": ["--help"],
            "seqnas show": ["show", "--study", STUDY, "--db", str(db)],
            "seqnas search --help": ["search", "--help"],
        }
        results = {name: time_command(argv, runs, cwd) for name, argv in commands.items()}
    dirty = bool(_git("status", "--porcelain", "--", "seqnas"))
    return {
        "date": started,
        "commit": _git("rev-parse", "--short", "HEAD") + (" + uncommitted changes to seqnas/" if dirty else ""),
        "tree": "this checkout" if TREE == ROOT else str(TREE),
        "runs": runs,
        "study_seconds": round(study_s, 1),
        "machine": {"cores": len(os.sched_getaffinity(0)), "machine": platform.machine(),
                    "processor": platform.processor(), "python": platform.python_version(),
                    "load_start": load_start, "load_end": [round(x, 2) for x in os.getloadavg()]},
        "commands": results,
    }


def _cell(c: dict[str, Any] | None) -> str:
    if c is None:
        return "-"
    return f"{c['median_s']:.3f} ({c['min_s']:.3f}-{c['max_s']:.3f})"


def _cpu(c: dict[str, Any] | None) -> str:
    return "-" if c is None or "cpu_median_s" not in c else f"{c['cpu_median_s']:.3f}"


def markdown(res: dict[str, Any]) -> str:
    phases = res["phases"]
    before, after = phases.get("before"), phases.get("after")
    lines = ["# CLI start-up time", "",
             f"Made with `bench/cli_startup.py`: whole-process runs of the installed `seqnas` script, one warm-up then "
             f"{res['runs']} timed runs; seconds, median (min-max in brackets) of the wall time, and the median CPU time "
             "(user + system) of the process. `show` reads a small sunspots study the script makes first (3 trials of "
             f"1 epoch, retrained once). Target (issue 13): median wall time <= {TARGET_S} s for `--help` and `show`.", ""]
    for name, ph in phases.items():
        m = ph["machine"]
        tree = "" if ph.get("tree", "this checkout") == "this checkout" else f" (measured in {ph['tree']})"
        lines.append(f"- {name}: commit {ph['commit']}{tree}, {ph['date']}; {m['cores']} cores "
                     f"({m['processor'] or m['machine']}), Python {m['python']}; load average {m['load_start']} at start, "
                     f"{m['load_end']} at end.")
    busy = any(ph["machine"]["load_start"][0] > ph["machine"]["cores"] / 2 for ph in phases.values())
    if busy:
        lines += ["", "**Caveat: the machine was busy with other work while this ran (load average above half the cores): "
                  "the wall times are slower and more spread than on a quiet machine; the CPU times less so.**"]
    lines += ["", "| command | before: wall | after: wall | speed-up | target | before: CPU | after: CPU | "
              "heavy imports before | heavy imports after |", "|---|---|---|---|---|---|---|---|---|"]
    for name in (before or after or {"commands": {}})["commands"]:
        b = before["commands"].get(name) if before else None
        a = after["commands"].get(name) if after else None
        speedup = f"{b['median_s'] / a['median_s']:.1f}x" if a and b else "-"
        last = a or b
        target = "-" if name == "seqnas search --help" or last is None else (
            "met" if last["median_s"] <= TARGET_S else "not met")
        lines.append(f"| `{name}` | {_cell(b)} | {_cell(a)} | {speedup} | {target} | {_cpu(b)} | {_cpu(a)} | "
                     f"{', '.join(b['heavy_imports']) or 'none' if b else '-'} | "
                     f"{', '.join(a['heavy_imports']) or 'none' if a else '-'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    global TREE
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--phase", choices=["before", "after"], default="after", help="which column this run fills")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--tree", type=Path, default=ROOT, help="checkout whose seqnas package is measured (default: this one)")
    args = ap.parse_args()
    TREE = args.tree.resolve()
    if not (TREE / "seqnas" / "cli.py").is_file() and not (TREE / "seqnas" / "cli" / "__init__.py").is_file():
        raise SystemExit(f"--tree {str(args.tree)!r} holds no seqnas/cli.py or seqnas/cli/ package")
    out = RESULTS / "cli_startup.json"
    res = json.loads(out.read_text()) if out.exists() else {"phases": {}}
    res["runs"] = args.runs
    res["phases"][args.phase] = measure(args.runs)
    res["phases"] = {k: res["phases"][k] for k in ("before", "after") if k in res["phases"]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    md = markdown(res)
    (RESULTS / "cli_startup.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
