"""Does the main job's verdict replicate? Run its race twice with disjoint seed sets and compare.

    python bench/replication.py                 # the race of `make run` with seeds 0-4 and 5-9
    python bench/replication.py --render        # rewrite replication.md from the stored races

The race's arguments are the Makefile's (``make -s race-args``), so this measures exactly the
main job. Each race is stored with its report in ``<out>/a/`` and ``<out>/b/`` (not committed;
resumable: run it again after an interruption). Written: ``bench/results/replication.md`` and ``.json``: both
tables, Kendall's tau between the two strategy orders (by mean retrained test MSE), and every
claim made at Holm-corrected p < 0.05 in one race checked for its direction in the other.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
COLUMNS = ["Strategy", "Retrained Test MSE", "Best Validation MSE", "Key Finding", "Trials"]


def race_args() -> list[str]:
    out = subprocess.run(["make", "-s", "race-args"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return shlex.split(out)


def run_race(args: list[str], seeds: str, out: Path) -> float:
    cmd = [sys.executable, "-m", "seqnas.cli", "compare", *args, "--seeds", seeds, "--out", str(out), "--no-progress"]
    print("$", " ".join(shlex.quote(c) for c in cmd), flush=True)
    t0 = time.monotonic()
    subprocess.run(cmd, cwd=ROOT, check=True)
    return time.monotonic() - t0


def load(out: Path) -> list[dict[str, Any]]:
    return json.loads((out / "results.json").read_text())


def compare_races(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> dict[str, Any]:
    """Kendall's tau of the two strategy orders and the fate of every claim of one race in the other."""
    sa = {r["Strategy"]: r for r in a if r.get("kind") == "strategy" and r.get("test_mse_mean") is not None}
    sb = {r["Strategy"]: r for r in b if r.get("kind") == "strategy" and r.get("test_mse_mean") is not None}
    common = sorted(set(sa) & set(sb))
    tau = stats.kendalltau([sa[s]["test_mse_mean"] for s in common], [sb[s]["test_mse_mean"] for s in common])
    claims = []
    for name, this, other in (("A", sa, sb), ("B", sb, sa)):
        base = other.get("random")
        for s, row in this.items():
            if row.get("verdict") not in ("better", "worse") or s not in other or base is None:
                continue
            diff = other[s]["test_mse_mean"] - base["test_mse_mean"]
            held = (diff < 0) if row["verdict"] == "better" else (diff > 0)
            claims.append({"race": name, "strategy": s, "claim": f"{row['verdict']} than random search",
                           "p_holm": row.get("p_holm") if row["verdict"] == "better" else row.get("p_holm_worse"),
                           "other_race_difference": diff, "other_race_verdict": other[s].get("verdict"),
                           "contradicted": not held})
    return {"strategies": common, "kendall_tau": float(tau.statistic), "kendall_p": float(tau.pvalue), "claims": claims,
            "order_a": sorted(common, key=lambda s: sa[s]["test_mse_mean"]),
            "order_b": sorted(common, key=lambda s: sb[s]["test_mse_mean"])}


def _table(rows: list[dict[str, Any]]) -> str:
    from seqnas.report.tables import cell

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(cell(r.get(c)).replace("|", "\\|") for c in COLUMNS) + " |")
    return "\n".join(lines)


def _friedman(out: Path) -> str:
    md = (out / "report.md").read_text()
    return next((line for line in md.splitlines() if line.startswith("Friedman test")), "")


def render(info: dict[str, Any]) -> str:
    a, b = info["table_a"], info["table_b"]
    cmp = info["comparison"]
    n_claims = len(cmp["claims"])
    contradicted = [c for c in cmp["claims"] if c["contradicted"]]
    lines = [
        "# Does the race's verdict replicate?", "",
        f"The main job's race (`make run`: `seqnas compare {' '.join(info['race_args'])}`) run twice with disjoint "
        f"seed sets, A = seeds {info['seeds_a']} and B = seeds {info['seeds_b']}, on one machine.", "",
        f"- command: `{info['command']}`", f"- commit: {info['commit']}, date: {info['date']}",
        f"- machine: {info['machine']}", f"- wall time: A {info['wall_a'] / 60:.1f} min, B {info['wall_b'] / 60:.1f} min"
        + (f" ({info['note']})" if info.get("note") else ""), "",
        "## Verdict", "",
        f"- Kendall's tau between the two orders of the strategies by mean retrained test MSE: **{cmp['kendall_tau']:.2f}** "
        f"(p = {cmp['kendall_p']:.2g}, {len(cmp['strategies'])} strategies).",
        f"- Order in A: {', '.join(cmp['order_a'])}.", f"- Order in B: {', '.join(cmp['order_b'])}.",
        f"- Claims at Holm-corrected p < 0.05: {n_claims}; contradicted by the other race: {len(contradicted)}.",
    ]
    for c in cmp["claims"]:
        lines.append(f"  - race {c['race']}: {c['strategy']} {c['claim']} (Holm p = {c['p_holm']:.2g}); in the other race "
                     f"its mean differs from random search's by {c['other_race_difference']:+.4f} "
                     f"({'contradicted' if c['contradicted'] else 'same direction'}; verdict there: {c['other_race_verdict']})")
    lines += ["", f"Race A: {info['friedman_a']}", "", f"Race B: {info['friedman_b']}", "",
              "## Race A", "", _table(a), "", "## Race B", "", _table(b), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds-a", default="0-4")
    p.add_argument("--seeds-b", default="5-9")
    p.add_argument("--out", default=str(RESULTS / "replication"), help="where the two races are stored")
    p.add_argument("--render", action="store_true", help="only rewrite replication.md from replication.json")
    p.add_argument("--note", help="a remark on the conditions of the run (e.g. a busy machine), printed with the wall times")
    args = p.parse_args(argv)
    out = Path(args.out)
    info_path = RESULTS / "replication.json"
    if args.render:
        info = json.loads(info_path.read_text())
    else:
        ra = race_args()
        wall_a = run_race(ra, args.seeds_a, out / "a")
        wall_b = run_race(ra, args.seeds_b, out / "b")
        import platform

        import torch

        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        info = {"command": "python bench/replication.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                "race_args": ra, "seeds_a": args.seeds_a, "seeds_b": args.seeds_b, "commit": commit,
                "date": dt.date.today().isoformat(), "wall_a": wall_a, "wall_b": wall_b,
                "machine": f"{platform.system()} {platform.machine()}, {len(os.sched_getaffinity(0))} cores, "
                           f"Python {platform.python_version()}, torch {torch.__version__}"}
        info["table_a"], info["table_b"] = load(out / "a"), load(out / "b")
        info["friedman_a"], info["friedman_b"] = _friedman(out / "a"), _friedman(out / "b")
    if args.note:
        info["note"] = args.note
    info["comparison"] = compare_races(info["table_a"], info["table_b"])
    info_path.write_text(json.dumps(info, indent=2, default=lambda x: None if isinstance(x, float) and np.isnan(x) else x)
                         + "\n")
    (RESULTS / "replication.md").write_text(render(info) + "\n")
    print(f"wrote {RESULTS / 'replication.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
