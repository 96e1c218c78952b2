"""Export the generated tabular benchmark (bench/tabular/generate.py's database) to the compact table
shipped in the package: one row per (task, architecture, training seed), gzip-compressed CSV.

    python bench/tabular/export.py --db bench/tabular/gen.db
"""

from __future__ import annotations

import argparse
import gzip
import json
import sqlite3
from pathlib import Path

import pandas as pd

import seqnas
from seqnas.tabular.table import ARCH_COLUMNS, TABLE_PATH

HERE = Path(__file__).resolve().parent
METRICS = ("val_mse", "test_mse", "test_mae", "test_mase", "params", "latency_ms", "cpu_seconds", "epochs", "best_epoch")


def rows(db: Path) -> list[dict]:
    with sqlite3.connect(db) as con:
        names = [r[0] for r in con.execute("SELECT name FROM studies ORDER BY name")]
    out = []
    for name in names:
        result = seqnas.load(name, db=str(db))
        task, seed = result.settings.task.name, result.settings.seed
        for r in result.records:
            if r.kind != "arch" or r.arch is None or not r.state.finished:
                continue
            row = {"task": task, "seed": seed, **{k: r.arch.to_dict().get(k) for k in ARCH_COLUMNS},
                   "state": r.state.value, "error": r.error or ""}
            row.update({k: r.metrics.get(k) for k in METRICS})
            row["curve"] = " ".join(f"{v:.6g}" for v in r.curve)
            out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=str(HERE / "gen.db"))
    ap.add_argument("--out", default=str(TABLE_PATH))
    a = ap.parse_args()
    df = pd.DataFrame(rows(Path(a.db))).sort_values(["task", *ARCH_COLUMNS, "seed"], key=lambda c: c.astype(str))
    for c in ("depth", "hidden1", "hidden2", "params", "epochs", "best_epoch"):
        df[c] = df[c].astype("Int64")  # integers stay integers beside the empty cells of inactive parameters
    for c in ("val_mse", "test_mse", "test_mae", "test_mase", "latency_ms", "cpu_seconds"):
        df[c] = df[c].map(lambda v: float(f"{v:.6g}") if pd.notna(v) else v)
    # mtime=0: the same rows give the same bytes (no timestamp in the gzip header).
    tmp = Path(a.out).with_suffix(".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as f:
        f.write(df.to_csv(index=False).encode("utf-8"))
    tmp.replace(a.out)  # readers (a race loading the table) never see a half-written file
    counts = df.groupby("task").size().to_dict()
    print(json.dumps({"rows": len(df), "per_task": counts, "failed": int((df.state != "COMPLETE").sum()),
                      "bytes": Path(a.out).stat().st_size}))


if __name__ == "__main__":
    main()
