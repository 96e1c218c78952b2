"""Peer bench: what a seqnas user deploys against the forecasters people run first, on the same test target rows.

    .venv/bin/python bench/forecasters.py                 # 5 tasks x 3 seeds, B = 300 CPU-s, two runs at a time
    .venv/bin/python bench/forecasters.py --quick         # harness check: one task, one seed, a tiny budget
    .venv/bin/python bench/forecasters.py --render        # rewrite the report from the stored runs

seqnas: the README's own-data default (`seqnas search --csv F --target T --time-column C --horizon H --strategy
bayesian --cpu-seconds B --seed S --workers 1`: window auto, calendar / base / highway searched), then `seqnas
export` (deploys a statistical model where one beat the networks on validation) and `seqnas export --networks-only`;
both exports forecast the study's test target rows through `seqnas.load_model(dir).backtest(csv)`. Peers (one
process each, deterministic, run once per task) are fitted on the rows before the first test target and forecast
every test origin without refitting: statsforecast SeasonalNaive / AutoETS / AutoTheta / MSTL
(`StatsForecast.cross_validation(refit=False, step_size=1)`), mlforecast LightGBM (recursive, lags + date features,
Differences([1])), ridge on a week of lags with calendar inputs (sklearn, direct multi-output, penalty chosen on the
study's validation span). Every process's CPU (user + system, `os.wait4`) is measured as bench/peer.py does.
Runs: bench/results/forecasters/ (not committed; a run whose result JSON exists is skipped). Report:
bench/results/forecasters.md and .json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peer  # noqa: E402 - bench/peer.py: the measured child process, one definition for both benches

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
RUNS = RESULTS / "forecasters"
SEQNAS = ROOT / ".venv" / "bin" / "seqnas"
PY = ROOT / ".venv" / "bin" / "python"
TARGET_GAIN = 15.0
SCORE_VERSION = 2  # a stored result scored by an older version is scored again (its search and exports are kept)
MSTL_WEEKS = 4  # MSTL reads the last 4 weeks at each origin (sub-daily data)
THETA_MAX_ROWS = 5000  # AutoTheta is skipped above this many training rows (its cost grows steeply with length)
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1",
              "NUMBA_NUM_THREADS": "1", "POLARS_MAX_THREADS": "1"}
PEERS = ["seasonal_naive", "auto_ets", "auto_theta", "mstl", "lightgbm", "ridge"]
PEER_TITLE = {"seasonal_naive": "SeasonalNaive", "auto_ets": "AutoETS", "auto_theta": "AutoTheta", "mstl": "MSTL",
              "lightgbm": "LightGBM (mlforecast)", "ridge": "ridge (week + calendar)"}


@dataclass(frozen=True)
class Task:
    name: str
    title: str
    csv: str
    target: str
    time: str
    horizon: int
    season: int
    freq: str  # pandas frequency of the time column
    week: int  # steps in a week
    mstl: tuple[int, ...]  # MSTL's seasons (where the training rows cover each at least twice)

    def cli(self) -> list[str]:
        return ["--csv", self.csv, "--target", self.target, "--time-column", self.time, "--horizon", str(self.horizon)]


TASKS = {t.name: t for t in (
    Task("taylor-48", "England & Wales electricity demand (MW), half-hourly, 4,032 rows: day ahead (horizon 48)",
         "examples/taylor_demand.csv", "demand_mw", "time", 48, 48, "30min", 336, (48, 336)),
    Task("taylor-1", "England & Wales electricity demand (MW), half-hourly, 4,032 rows: one step (horizon 1)",
         "examples/taylor_demand.csv", "demand_mw", "time", 1, 48, "30min", 336, (48, 336)),
    Task("seattle-weather", "Seattle daily maximum temperature (°C), 2012-2015, 1,461 rows: a week ahead (horizon 7)",
         "examples/seattle_weather.csv", "temp_max", "date", 7, 7, "D", 7, (7, 365)),
    Task("sf-temps", "San Francisco hourly temperature (°F), 2010, 8,760 rows: a day ahead (horizon 24)",
         "examples/sf_temps.csv", "temp_f", "time", 24, 24, "h", 168, (24, 168)),
    Task("seattle-temps", "Seattle hourly temperature (°F), 2010, 8,760 rows: a day ahead (horizon 24)",
         "examples/seattle_temps.csv", "temp_f", "time", 24, 24, "h", 168, (24, 168)),
)}
ORDER = ["sf-temps", "seattle-temps", "taylor-48", "taylor-1", "seattle-weather"]
_lock = threading.Lock()
T0 = time.monotonic()


def say(msg: str) -> None:
    with _lock:
        print(f"[{time.monotonic() - T0:7.0f}s] {msg}", flush=True)


def run_measured(cmd: list[str], log: Path) -> dict[str, Any]:
    """``bench/peer.py``'s measurement (whole-process CPU from ``os.wait4``), one thread, no PYTHONPATH."""
    env = dict(os.environ, **ONE_THREAD, PYTHONUNBUFFERED="1")
    env.pop("PYTHONPATH", None)
    return peer.run_measured(cmd, log, ROOT, env)


def tail(path: Path, n: int = 12) -> str:
    return peer.tail(path, n)


def mse(f: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    e2 = (np.asarray(f, dtype=np.float64) - y) ** 2
    return {"mse_all": float(e2.mean()), "mse_step1": float(e2[:, 0].mean()), "mse_per_step": e2.mean(axis=0).tolist()}


# -- child processes: the probe's rows, one peer, the scoring of a seqnas study's exports ------------------------------
def study_rows(db: str, study: str) -> dict[str, Any]:
    import seqnas
    from seqnas.tasks import load_task

    res = seqnas.load(study, db)
    data = load_task(res.settings.task)
    return {"res": res, "data": data, "test": np.asarray(data.target_rows("test")), "val": np.asarray(data.target_rows("val"))}


def child_probe(job: dict[str, Any]) -> dict[str, Any]:
    s = study_rows(job["db"], job["study"])
    y = np.asarray(s["data"].series, dtype=np.float64)[:, 0]
    test = s["test"]
    first, last, h = int(test[0, 0]), int(test[-1, -1]), test.shape[1]
    expect = (first + np.arange(last - h - first + 2))[:, None] + np.arange(h)[None, :]
    if test.shape != expect.shape or not np.array_equal(test, expect):
        raise RuntimeError("the test windows are not every origin of one contiguous block of rows")
    return {"test_rows": test.tolist(), "val_rows": s["val"].tolist(), "first_test_row": first, "last_test_row": last,
            "val_first_row": int(s["val"].min()), "rows": len(y), "series": y.tolist(), "task_spec": s["res"].settings.task.to_json()}


def frame(task: Task, y: np.ndarray) -> Any:
    import pandas as pd

    df = pd.read_csv(ROOT / task.csv, usecols=[task.time, task.target])
    if len(df) != len(y) or not np.allclose(df[task.target].to_numpy(dtype=np.float64), y):
        raise RuntimeError("the CSV's target is not the study's series")
    ds = pd.to_datetime(df[task.time])
    if not (ds.diff().iloc[1:] == pd.Timedelta(pd.tseries.frequencies.to_offset(task.freq))).all():
        raise RuntimeError(f"{task.csv}: the time column is not regular at {task.freq}")
    return pd.DataFrame({"unique_id": "s", "ds": ds, "y": y})


def child_peer(job: dict[str, Any]) -> dict[str, Any]:
    task, peer = TASKS[job["task"]], job["peer"]
    pr = json.loads(Path(job["probe"]).read_text())
    y = np.asarray(pr["series"])
    rows = np.asarray(pr["test_rows"])
    first, last, h = pr["first_test_row"], pr["last_test_row"], task.horizon
    df = frame(task, y)
    info: dict[str, Any] = {}
    if peer in ("seasonal_naive", "auto_ets", "auto_theta", "mstl"):
        from statsforecast import StatsForecast
        from statsforecast.models import MSTL, AutoETS, AutoTheta, SeasonalNaive

        seasons = [s for s in task.mstl if 2 * s <= first]
        model = {"seasonal_naive": lambda: SeasonalNaive(season_length=task.season),
                 "auto_ets": lambda: AutoETS(season_length=task.season),
                 "auto_theta": lambda: AutoTheta(season_length=task.season),
                 "mstl": lambda: MSTL(season_length=seasons, trend_forecaster=AutoETS(model="ZZN"))}[peer]()
        info["model"] = repr(model) + (f" seasons {seasons}" if peer == "mstl" else "")
        sf = StatsForecast(models=[model], freq=task.freq, n_jobs=1)
        # MSTL's forward decomposes the whole history again at every origin (~1 CPU-s per origin at 3,400 rows): it
        # reads the last MSTL_WEEKS weeks at each origin (statsforecast's input_size), where the data has more
        size = MSTL_WEEKS * task.week if peer == "mstl" and task.freq != "D" else None
        info["input_size"] = size
        cv = sf.cross_validation(df=df.iloc[: last + 1], h=h, step_size=1, n_windows=len(rows), refit=False, input_size=size)
        col = [c for c in cv.columns if c not in ("unique_id", "ds", "cutoff", "y")][0]
        F = cv[col].to_numpy(dtype=np.float64).reshape(len(rows), h)
        truth = cv["y"].to_numpy(dtype=np.float64).reshape(len(rows), h)
        cut = cv["cutoff"].to_numpy().reshape(len(rows), h)[:, 0]
        if not (np.allclose(truth, y[rows]) and np.array_equal(cut, df["ds"].to_numpy()[rows[:, 0] - 1])):
            raise RuntimeError("statsforecast's windows are not the test rows")
    elif peer == "lightgbm":
        import lightgbm as lgb
        import pandas as pd
        from mlforecast import MLForecast
        from mlforecast.target_transforms import Differences

        L = min(max(task.week, 28), 168)
        feats = ["hour", "minute", "dayofweek"] if task.freq == "30min" else ["hour", "dayofweek"] if task.freq == "h" else ["dayofweek", "dayofyear"]
        reg = lgb.LGBMRegressor(deterministic=True, force_row_wise=True, n_jobs=1, random_state=0, verbose=-1)
        fc = MLForecast(models={"lgbm": reg}, freq=task.freq, lags=range(1, L + 1), date_features=feats,
                        target_transforms=[Differences([1])])
        fc.fit(df.iloc[:first])
        # every origin at once: each origin a series of its last L + 1 rows (the lags and the difference need no more);
        # recursive forecasts identical to cross_validation(refit=False), which recomputes the whole history per window
        origins = rows[:, 0] - 1
        idx = origins[:, None] - np.arange(L, -1, -1)[None, :]
        new = pd.DataFrame({"unique_id": np.repeat(np.arange(len(origins)), L + 1), "ds": df["ds"].to_numpy()[idx.ravel()],
                            "y": y[idx.ravel()]})
        p = fc.predict(h, new_df=new).sort_values(["unique_id", "ds"])
        F = p["lgbm"].to_numpy(dtype=np.float64).reshape(len(rows), h)
        if not np.array_equal(p["ds"].to_numpy().reshape(len(rows), h), df["ds"].to_numpy()[rows]):
            raise RuntimeError("LightGBM's forecast times are not the test rows")
        checks = []
        for i in (0, len(origins) - 1):  # the same from the whole history up to the origin
            q = fc.predict(h, new_df=df.iloc[: origins[i] + 1])
            checks.append(float(np.max(np.abs(q["lgbm"].to_numpy() - F[i]))))
        info.update({"lags": L, "date_features": feats, "origin_check_max_abs_diff": max(checks),
                     "how": "mlforecast fit once, predict(h, new_df=...) recursive at every origin"})
    elif peer == "ridge":
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        L = task.week if task.week >= 28 else 28
        ds = df["ds"]
        if task.freq == "D":
            cyc = [(ds.dt.dayofyear.to_numpy() / 365.25, 2), (ds.dt.dayofweek.to_numpy() / 7, 1)]
        else:
            tod = (ds.dt.hour.to_numpy() * 60 + ds.dt.minute.to_numpy()) / 1440
            cyc = [(tod, 3), ((ds.dt.dayofweek.to_numpy() + tod) / 7, 2)]
        cal = np.column_stack([f(2 * np.pi * k * u) for u, K in cyc for k in range(1, K + 1) for f in (np.sin, np.cos)])

        def xy(origins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            X = np.column_stack([y[origins[:, None] - np.arange(L)[None, :]], cal[origins + 1]])
            tr = np.clip(origins[:, None] + 1 + np.arange(h)[None, :], 0, len(y) - 1)
            return X, y[tr]

        val_first = pr["val_first_row"]
        vrows = np.asarray(pr["val_rows"])
        fit_o = np.arange(L - 1, val_first - h)  # every target before the validation span
        Xf, Yf = xy(fit_o)
        Xv, _ = xy(vrows[:, 0] - 1)
        scores = {}
        for a in 10.0 ** np.arange(-4, 5):
            m = make_pipeline(StandardScaler(), Ridge(alpha=a)).fit(Xf, Yf)
            scores[float(a)] = float(np.mean((m.predict(Xv).reshape(len(vrows), h) - y[vrows]) ** 2))
        alpha = min(scores, key=scores.get)
        Xa, Ya = xy(np.arange(L - 1, first - h))  # refit on every target before the first test target
        m = make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(Xa, Ya)
        F = m.predict(xy(rows[:, 0] - 1)[0]).reshape(len(rows), h)
        info.update({"lags": L, "alpha": alpha, "val_mse_by_alpha": scores, "calendar_columns": cal.shape[1]})
    else:
        raise ValueError(peer)
    return {**mse(F, y[rows]), **info}


def child_score(job: dict[str, Any]) -> dict[str, Any]:
    """The study's test rows (checked against the probe's), each export's backtest on them, the ensemble's figures."""
    import seqnas

    pr = json.loads(Path(job["probe"]).read_text())
    s = study_rows(job["db"], job["study"])
    if s["test"].tolist() != pr["test_rows"]:
        raise RuntimeError("the study's test rows differ from the probe's")
    rows = s["test"]
    y = np.asarray(pr["series"])
    std0 = float(s["data"].std[0])
    res = s["res"]
    out: dict[str, Any] = {"trials": len(res.records), "completed": len(res.completed), "std": std0,
                           "statistical_candidates": {k: {kk: v.get(kk) for kk in ("val_mse", "test_mse", "cpu_seconds")}
                                                      for k, v in (res.statistical or {}).items()}}
    if res.final is not None:  # the selection: the mean of its retrained members, and each member alone (test MSE, x std^2)
        out["selection"] = {"trial": res.final.number, "arch": dict(res.final.arch),
                            "members_test_mse_units": [float(m["test_mse"]) * std0 ** 2 for m in res.final.members],
                            "members_val_mse": [float(m["val_mse"]) for m in res.final.members]}
    for kind in ("deployed", "networks"):
        d = Path(job[kind])
        model = seqnas.load_model(d)
        csv, h, note = str(ROOT / TASKS[job["task"]].csv), model.horizon, None
        try:
            f = model.backtest(csv).forecasts
            win = rows[:, 0] - model.window
            pred = f["forecast"].to_numpy().reshape(-1, h)[win]
            actual = f["actual"].to_numpy().reshape(-1, h)[win]
        except ValueError as e:  # backtest starts at row `window` - 1, before a statistical model's least history
            note = f"backtest failed ({e}); forecast at the test origins by the same call it makes (Forecaster._forecast)"
            pred = model._forecast(model._data(csv), rows[:, 0] - 1)
            actual = y[rows]
        if not np.allclose(actual, y[rows]):
            raise RuntimeError(f"{kind}: the backtest's windows are not the test rows")
        meta = json.loads((d / "arch.json").read_text())
        r = {**mse(pred, y[rows]), "kind": meta.get("kind", "networks"), "model": meta.get("model"),
             "window": meta.get("window"), "arch": meta.get("arch"), "calendar": meta.get("calendar"),
             "test_mse_scaled": (meta.get("retrained_metrics") or {}).get("test_mse"),
             "val_mse_scaled": (meta.get("retrained_metrics") or {}).get("val_mse"), "note": note}
        if meta.get("parts"):
            r["parts"] = [{k: p.get(k) for k in ("kind", "name", "weight", "window")} for p in meta["parts"]]
        if meta.get("selection"):
            r["selection_test_mse_units"] = float(meta["selection"]["test_mse"]) * std0 ** 2
        if meta.get("members_metrics"):
            r["members"] = meta["members_metrics"]
            r["ensemble_test_mse_units"] = float(r["test_mse_scaled"]) * std0 ** 2
            r["member_test_mse_units"] = [float(m["test_mse"]) * std0 ** 2 for m in meta["members_metrics"]]
        if meta.get("networks"):
            r["networks_beaten"] = meta["networks"]
        out[kind] = r
    sel = out.get("selection") or {}
    ens = out["networks"].get("selection_test_mse_units") or out["networks"].get("ensemble_test_mse_units")
    if ens is not None and sel.get("members_test_mse_units"):
        sel["mean_test_mse_units"] = ens  # arch.json: the selection's members averaged
    return {**out, "score_version": SCORE_VERSION}


def child(path: str) -> None:
    job = json.loads(Path(path).read_text())
    fn = {"probe": child_probe, "peer": child_peer, "score": child_score}[job["kind"]]
    out = fn(job)
    Path(job["out"]).write_text(json.dumps(out, default=float))


# -- the harness ---------------------------------------------------------------------------------------------------
def run_child(job: dict[str, Any], d: Path, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    d.mkdir(parents=True, exist_ok=True)
    jp = d / f"{name}.job.json"
    job["out"] = str(d / f"{name}.out.json")
    jp.write_text(json.dumps(job))
    r = run_measured([str(PY), str(Path(__file__).resolve()), "--child", str(jp)], d / f"{name}.log")
    if r["rc"] != 0:
        raise RuntimeError(f"{name} failed (rc {r['rc']}):\n{tail(d / f'{name}.log')}")
    return json.loads(Path(job["out"]).read_text()), r


def probe(task: Task, out: Path) -> dict[str, Any]:
    d = out / task.name
    path = d / "probe.json"
    if path.exists():
        return json.loads(path.read_text())
    d.mkdir(parents=True, exist_ok=True)
    for f in d.glob("probe.db*"):
        f.unlink()
    cmd = [str(SEQNAS), "search", *task.cli(), "--strategy", "random", "--trials", "1", "--max-epochs", "1",
           "--final-repeats", "0", "--seed", "0", "--workers", "1", "--db", str(d / "probe.db"), "--study", "probe", "--no-progress"]
    r = run_measured(cmd, d / "probe-search.log")
    if r["rc"] != 0:
        raise RuntimeError(f"probe of {task.name} failed:\n{tail(d / 'probe-search.log')}")
    p, _ = run_child({"kind": "probe", "db": str(d / "probe.db"), "study": "probe"}, d, "probe-rows")
    path.write_text(json.dumps(p))
    say(f"{task.name}: {p['rows']} rows, {len(p['test_rows'])} test windows, target rows {p['first_test_row']}-{p['last_test_row']}")
    return p


def run_peer(task: Task, peer: str, out: Path) -> None:
    d = out / task.name / "peers"
    path = d / f"{peer}.json"
    if path.exists():
        return
    pr = json.loads((out / task.name / "probe.json").read_text())
    if peer == "auto_theta" and pr["first_test_row"] > THETA_MAX_ROWS:
        path.write_text(json.dumps({"skipped": f"{pr['first_test_row']} training rows > {THETA_MAX_ROWS}"}))
        return
    say(f"{task.name}: {peer} starts")
    try:
        res, r = run_child({"kind": "peer", "task": task.name, "peer": peer, "probe": str(out / task.name / "probe.json")}, d, peer)
    except RuntimeError as e:
        path.write_text(json.dumps({"failed": str(e)[-1500:]}))
        say(f"{task.name}: {peer} FAILED: {str(e)[-300:]}")
        return
    path.write_text(json.dumps({**res, "run": r}))
    say(f"{task.name}: {peer} done, {r['cpu_seconds']:.1f} CPU-s, test MSE {res['mse_all']:.5g}")


def run_seqnas(task: Task, seed: int, out: Path, budget: float) -> None:
    d = out / task.name / f"seed{seed}"
    path = d / "result.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    if old.get("budget") == budget and old.get("score_version") == SCORE_VERSION:
        return
    if old.get("budget") == budget:  # scored by an older version of this script: score its exports again
        sc, rsc = run_child({"kind": "score", "task": task.name, "db": str(d / "seqnas.db"), "study": f"{task.name}-seed{seed}",
                             "probe": str(out / task.name / "probe.json"), "deployed": str(d / "deployed"),
                             "networks": str(d / "networks")}, d, "score")
        path.write_text(json.dumps({**old, **sc, "runs": {**old["runs"], "score": rsc}}, indent=1))
        return
    d.mkdir(parents=True, exist_ok=True)
    for f in d.glob("seqnas.db*"):
        if f.is_file():
            f.unlink()
        else:
            import shutil
            shutil.rmtree(f)
    db, study = d / "seqnas.db", f"{task.name}-seed{seed}"
    cmd = [str(SEQNAS), "search", *task.cli(), "--strategy", "bayesian", "--cpu-seconds", f"{budget:g}", "--seed", str(seed),
           "--workers", "1", "--db", str(db), "--study", study, "--no-progress"]
    say(f"{task.name} seed {seed}: seqnas search starts (--cpu-seconds {budget:g})")
    rs = run_measured(cmd, d / "search.log")
    if rs["rc"] != 0:
        raise RuntimeError(f"seqnas search {task.name} seed {seed} failed:\n{tail(d / 'search.log')}")
    runs = {"search": rs}
    for kind, extra in (("deployed", []), ("networks", ["--networks-only"])):
        import shutil
        shutil.rmtree(d / kind, ignore_errors=True)
        r = run_measured([str(SEQNAS), "export", "--study", study, "--db", str(db), "--out", str(d / kind), *extra], d / f"export-{kind}.log")
        if r["rc"] != 0:
            raise RuntimeError(f"seqnas export ({kind}) {task.name} seed {seed} failed:\n{tail(d / f'export-{kind}.log')}")
        runs[f"export_{kind}"] = r
    sc, rsc = run_child({"kind": "score", "task": task.name, "db": str(db), "study": study, "probe": str(out / task.name / "probe.json"),
                         "deployed": str(d / "deployed"), "networks": str(d / "networks")}, d, "score")
    res = {"task": task.name, "seed": seed, "budget": budget, "runs": {**runs, "score": rsc}, **sc}
    path.write_text(json.dumps(res, indent=1))
    say(f"{task.name} seed {seed}: seqnas done, search {rs['cpu_seconds']:.0f} CPU-s ({sc['completed']} trials); deployed "
        f"{sc['deployed']['kind']} {sc['deployed']['mse_all']:.5g}, networks {sc['networks']['mse_all']:.5g}")


# -- the report ----------------------------------------------------------------------------------------------------
def fmt(v: float | None) -> str:
    return "-" if v is None or not np.isfinite(v) else f"{v:.4g}"


def mean_sd(v: list[float]) -> str:
    a = np.asarray(v, dtype=np.float64)
    return "-" if not len(a) else fmt(a[0]) if len(a) == 1 else f"{fmt(a.mean())} ± {fmt(a.std(ddof=1))}"


def collect(out: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    tasks = {}
    for name in cfg["tasks"]:
        pp = out / name / "probe.json"
        if not pp.exists():
            continue
        pr = json.loads(pp.read_text())
        y, rows = np.asarray(pr["series"]), np.asarray(pr["test_rows"])
        peers = {p: json.loads((out / name / "peers" / f"{p}.json").read_text()) for p in cfg["peers"]
                 if (out / name / "peers" / f"{p}.json").exists()}
        persistence = mse(np.repeat(y[rows[:, :1] - 1], rows.shape[1], axis=1), y[rows])
        runs = []
        for s in cfg["seeds"]:
            f = out / name / f"seed{s}" / "result.json"
            if f.exists() and json.loads(f.read_text()).get("budget") == cfg["budget"]:
                r = json.loads(f.read_text())
                r["commit"] = commit_at((out / name / f"seed{s}" / "search.log").stat().st_mtime - r["runs"]["search"]["wall_seconds"])
                r["commit_export"] = commit_at((out / name / f"seed{s}" / "export-deployed.log").stat().st_mtime
                                               - r["runs"]["export_deployed"]["wall_seconds"])
                runs.append(r)
        tasks[name] = {"title": TASKS[name].title, "rows": pr["rows"], "horizon": rows.shape[1], "test_windows": len(rows),
                       "first_test_row": pr["first_test_row"], "last_test_row": pr["last_test_row"], "val_first_row": pr["val_first_row"],
                       "peers": peers, "persistence": persistence, "runs": runs}
    return tasks


def summarize(t: dict[str, Any]) -> dict[str, Any]:
    runs = t["runs"]
    ok = {p: r for p, r in t["peers"].items() if "mse_all" in r}
    cands = {**{p: r for p, r in ok.items()}, "persistence": t["persistence"]}
    s: dict[str, Any] = {"seeds": [r["seed"] for r in runs]}
    for key in ("mse_all", "mse_step1"):
        best = min(cands, key=lambda p: cands[p][key])
        dep = [r["deployed"][key] for r in runs]
        net = [r["networks"][key] for r in runs]
        b = cands[best][key]
        s[key] = {"best_peer": best, "best_peer_mse": b, "deployed": dep, "networks": net,
                  "ratio_deployed": float(np.mean(dep)) / b if runs else None, "ratio_networks": float(np.mean(net)) / b if runs else None,
                  "ratio_deployed_per_seed": [v / b for v in dep], "ratio_networks_per_seed": [v / b for v in net]}
        for k in ("deployed", "networks"):
            s[key][f"target_met_{k}"] = bool(runs) and s[key][f"ratio_{k}"] <= 1 - TARGET_GAIN / 100
    s["cpu"] = {"search": [r["runs"]["search"]["cpu_seconds"] for r in runs],
                "export_deployed": [r["runs"]["export_deployed"]["cpu_seconds"] for r in runs],
                "export_networks": [r["runs"]["export_networks"]["cpu_seconds"] for r in runs]}
    s["ensemble"] = [{"seed": r["seed"], "ensemble": (r.get("selection") or {}).get("mean_test_mse_units"),
                      "members": (r.get("selection") or {}).get("members_test_mse_units") or []} for r in runs]
    return s


def pooled(tasks: dict[str, Any], summ: dict[str, Any], which: str) -> list[str]:
    from scipy.stats import wilcoxon
    from statsmodels.stats.multitest import multipletests

    rows = []
    for key, label in (("mse_all", "all steps"), ("mse_step1", "step 1")):
        lr = np.log(np.concatenate([np.asarray(summ[n][key][f"ratio_{which}_per_seed"]) for n in summ if tasks[n]["runs"]]))
        p = float(wilcoxon(lr, alternative="less").pvalue) if len(lr) >= 2 and np.any(lr) else 1.0
        rows.append((label, lr, p))
    holm = multipletests([p for _, _, p in rows], method="holm")[1]
    return [f"- {label}: {len(lr)} (task, seed) pairs, seqnas lower on {int(np.sum(lr < 0))}; geometric-mean ratio "
            f"{np.exp(lr.mean()):.3f}; one-sided p = {p:.3g}, Holm-adjusted {ph:.3g}" for (label, lr, p), ph in zip(rows, holm)]


def versions() -> dict[str, str]:
    from importlib.metadata import version

    v = {"python": platform.python_version()}
    for p in ("seqnas", "torch", "statsforecast", "mlforecast", "lightgbm", "scikit-learn", "scipy", "statsmodels"):
        try:
            v[p] = version(p)
        except Exception:
            pass
    return v


def machine() -> str:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu})"


def render(out: Path, cfg: dict[str, Any]) -> None:
    tasks = collect(out, cfg)
    if not tasks:
        say("nothing to report yet")
        return
    summ = {n: summarize(t) for n, t in tasks.items() if t["runs"]}
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "seqnas"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    L = ["# seqnas against the forecasters people run first", "",
         f"Command: `{cfg['command']}`  ", f"Date: {dt.datetime.now():%Y-%m-%d %H:%M}; machine: {machine()}; "
         f"two runs at a time (one per core), each process on one thread.  ",
         f"Commit: {rev}" + (" (seqnas/ had uncommitted changes)" if dirty else "") + "  ",
         "Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()) + ".", "",
         "## Set-up", "",
         f"- **seqnas** (per task, seeds {cfg['seeds']}): the README's own-data default, `seqnas search --csv F --target T "
         f"--time-column C --horizon H --strategy bayesian --cpu-seconds {cfg['budget']:g} --seed S --workers 1` (window auto, "
         "calendar / base / highway searched; level off; target only, no extra columns), then `seqnas export` (deployed; with seqnas "
         "0e00594: a greedy ensemble (Caruana) over every retrained candidate network and the statistical forecasts "
         "scored beside the study where it beats the selection on validation, a single statistical model where greedy "
         "picks only that one, else the mean of the selection's retrained networks) and `seqnas export --networks-only` "
         "(the same without the statistical forecasts: a greedy ensemble of networks or the selection). Both exports forecast through `seqnas.load_model(dir)"
         ".backtest(csv)`; the windows whose targets are the study's test target rows (`TaskData.target_rows(\"test\")`, "
         "checked equal in every study) are scored. CPU: whole process, user + system (`os.wait4`), of the search and of "
         "each export.",
         "- **Peers** (deterministic: once per task; one process each, its CPU measured the same way, imports and numba "
         "compilation included): fitted on the rows before the first test target, forecasting every test origin without "
         "refitting. statsforecast `SeasonalNaive(season)`, `AutoETS(season_length=season)`, `AutoTheta(season_length=season)` "
         f"(skipped above {THETA_MAX_ROWS} training rows), `MSTL(season_length=[day, week] (daily data: [7, 365]), "
         f"trend_forecaster=AutoETS(model=\"ZZN\"))` (sub-daily: reading the last {MSTL_WEEKS} weeks at each origin, "
         "`input_size`: its forward decomposes the history again at every origin, ~1 CPU-s per origin on 3,400 rows), each by `StatsForecast.cross_validation(h=H, step_size=1, "
         "n_windows=<test windows>, refit=False)` (windows checked equal to the test rows); mlforecast "
         "`MLForecast(models=[LGBMRegressor(deterministic=True, force_row_wise=True, n_jobs=1, random_state=0)], "
         "lags=range(1, L+1), date_features=[hour(, minute), dayofweek] (daily: dayofweek, dayofyear), "
         "target_transforms=[Differences([1])])`, L = a week of steps, at least 28, at most 168: recursive, fitted once, "
         "every origin forecast by one `predict(h, new_df=...)` holding each origin's last L+1 rows as its own series "
         "(the same forecasts as `cross_validation(refit=False)`, which recomputes the whole history per window; checked "
         "against `predict(h, new_df=<history up to the origin>)` at the first and last origin); ridge (sklearn "
         "`StandardScaler` + `Ridge`, direct multi-output) on a week of lags (at least 28) plus sine/cosine calendar "
         "inputs of the first target time (time of day with 3 harmonics and time of week with 2; daily data: day of year "
         "2, day of week 1), the penalty chosen from 1e-4..1e4 on the study's validation span, then refitted on every "
         "target before the test span.",
         "- **Errors**: MSE in the data's units over every test window, all horizon steps and step 1; persistence (the "
         "last value) on the same rows. **Best peer**: the lowest test MSE among the peers and persistence, per task and "
         f"per measure (chosen on test: it flatters the peers). **Target**: seqnas at least {TARGET_GAIN:.0f}% below it "
         "(mean over seeds / best peer <= 0.85).", ""]
    if summ:
        L += ["## Headline", "", "| task | seqnas deployed (all steps) | networks only | best peer | deployed / best | "
              "networks / best | target met (deployed / networks) | step 1: deployed / best (best peer) | seqnas CPU-s search + export | best peer CPU-s |",
              "|---|---|---|---|---|---|---|---|---|---|"]
        for n, s in summ.items():
            t, a, b = tasks[n], s["mse_all"], s["mse_step1"]
            bp = a["best_peer"]
            bcpu = t["peers"][bp]["run"]["cpu_seconds"] if bp in t["peers"] else None
            cpu = np.asarray(s["cpu"]["search"]) + np.asarray(s["cpu"]["export_deployed"])
            L.append(f"| {n} | {mean_sd(a['deployed'])} | {mean_sd(a['networks'])} | {PEER_TITLE.get(bp, bp)} {fmt(a['best_peer_mse'])} | "
                     f"{a['ratio_deployed']:.3f} | {a['ratio_networks']:.3f} | {'yes' if a['target_met_deployed'] else 'no'} / "
                     f"{'yes' if a['target_met_networks'] else 'no'} | {b['ratio_deployed']:.3f} ({PEER_TITLE.get(b['best_peer'], b['best_peer'])}) | "
                     f"{mean_sd(list(cpu))} | {fmt(bcpu)} |")
        met_d = [n for n, s in summ.items() if s["mse_all"]["target_met_deployed"]]
        met_n = [n for n, s in summ.items() if s["mse_all"]["target_met_networks"]]
        beat = [n for n, s in summ.items() if s["mse_all"]["ratio_deployed"] < 1]
        L += ["", f"All-steps test MSE: the {TARGET_GAIN:.0f}% target holds for the deployed model on {len(met_d)} of {len(summ)} "
              f"task(s){' (' + ', '.join(met_d) + ')' if met_d else ''}, for the networks only on {len(met_n)} of {len(summ)}"
              f"{' (' + ', '.join(met_n) + ')' if met_n else ''}; the deployed model's mean is below the best peer's on "
              f"{len(beat)} of {len(summ)}{' (' + ', '.join(beat) + ')' if beat else ''}.", "",
              "Pooled over (task, seed), seqnas deployed vs each task's best peer (one-sided Wilcoxon signed-rank, scipy, "
              "on log(seqnas / best peer) test MSE, alternative: seqnas lower; Holm over the two measures, statsmodels):", ""]
        L += pooled(tasks, summ, "deployed")
        L += ["", "The same for the networks only (its own Holm family):", ""] + pooled(tasks, summ, "networks")
        over = [(n, r["seed"], r["runs"]["search"]["cpu_seconds"]) for n, t in tasks.items() for r in t["runs"]]
        worst = max(over, key=lambda x: x[2])
        L += ["", f"seqnas search CPU: {min(o[2] for o in over):.0f}-{worst[2]:.0f} CPU-s per run for a budget of "
              f"{cfg['budget']:g} (largest: {worst[0]} seed {worst[1]}, {100 * (worst[2] / cfg['budget'] - 1):+.0f}%; the whole "
              "process, imports and storage included).", ""]
    for n, t in tasks.items():
        L += task_section(n, t, summ.get(n), cfg)
    md, js = (out / "forecasters.md", out / "forecasters.json") if cfg["quick"] else (RESULTS / "forecasters.md", RESULTS / "forecasters.json")
    md.write_text("\n".join(L) + "\n")
    js.write_text(json.dumps({"config": cfg, "commit": rev, "versions": versions(), "machine": machine(), "summary": summ,
                              "tasks": {n: {k: v for k, v in t.items()} for n, t in tasks.items()}}, indent=1, default=float))
    say(f"wrote {md.relative_to(ROOT)} and {js.relative_to(ROOT)}")


def what(r: dict[str, Any]) -> str:
    if r["kind"] == "statistical":
        return f"statistical `{r['model']}`"
    if r.get("parts"):
        return "greedy ensemble (" + ", ".join(f"{p['weight']:g} {p['name']}" for p in r["parts"]) + ")"
    return "the selection's networks"


def commit_at(t: float) -> str:
    log = subprocess.run(["git", "log", "--format=%h %ct", "-50"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    return next((h for h, c in zip(log[::2], log[1::2]) if int(c) <= t), "?")


NOTES = {"sf-temps": "These hourly series are very smooth (the same hour one day earlier differs by sd 0.12 °F at SF, "
                     "0.19 °F at Seattle): they behave like NOAA hourly climate normals, not one year's observations "
                     "(examples/README.md). Tiny MSEs; a linear model on the last week is close to exact.",
         "seattle-weather": "No weekly cycle in daily temperatures: season 7 (the brief's) makes SeasonalNaive / AutoETS / "
                            "AutoTheta seasonal in name only; MSTL uses [7, 365]."}
NOTES["seattle-temps"] = NOTES["sf-temps"]


def task_section(n: str, t: dict[str, Any], s: dict[str, Any] | None, cfg: dict[str, Any]) -> list[str]:
    L = [f"## {n}: {t['title']}", "", *([NOTES[n], ""] if n in NOTES else []), f"Test: {t['test_windows']} windows (every origin), target rows {t['first_test_row']}-"
         f"{t['last_test_row']} (0-based); validation from row {t['val_first_row']}; peers fitted on rows 0-{t['first_test_row'] - 1}.", "",
         "| forecaster | test MSE all steps | per seed | step 1 | per seed | CPU-s | per seed |", "|---|---|---|---|---|---|---|"]
    runs = t["runs"]
    if runs:
        for kind, label, ex in (("deployed", "seqnas deployed", "export_deployed"), ("networks", "seqnas networks only", "export_networks")):
            a = [r[kind]["mse_all"] for r in runs]
            b = [r[kind]["mse_step1"] for r in runs]
            c = [r["runs"]["search"]["cpu_seconds"] + r["runs"][ex]["cpu_seconds"] for r in runs]
            L.append(f"| {label} | {mean_sd(a)} | {', '.join(fmt(v) for v in a)} | {mean_sd(b)} | {', '.join(fmt(v) for v in b)} | "
                     f"{mean_sd(c)} | {', '.join(f'{v:.0f}' for v in c)} |")
    notes = []
    for p in cfg["peers"]:
        r = t["peers"].get(p)
        if r is None:
            L.append(f"| {PEER_TITLE[p]} | (not run) | | | | | |")
        elif "mse_all" not in r:
            why = r.get("skipped") or r.get("failed", "")
            L.append(f"| {PEER_TITLE[p]} | {'skipped' if 'skipped' in r else 'FAILED'} | | | | | |")
            notes.append(f"{PEER_TITLE[p]}: {'skipped' if 'skipped' in r else 'failed'}: {why.splitlines()[-1][:300] if why else ''}")
        else:
            L.append(f"| {PEER_TITLE[p]} | {fmt(r['mse_all'])} | | {fmt(r['mse_step1'])} | | {r['run']['cpu_seconds']:.1f} | |")
    L.append(f"| persistence | {fmt(t['persistence']['mse_all'])} | | {fmt(t['persistence']['mse_step1'])} | | - | |")
    L.append("")
    for p in ("lightgbm", "ridge", "mstl"):
        r = t["peers"].get(p) or {}
        if p == "lightgbm" and "lags" in r:
            notes.append(f"LightGBM: {r['lags']} lags, date features {r['date_features']}; origin check max |diff| {fmt(r['origin_check_max_abs_diff'])}")
        if p == "ridge" and "alpha" in r:
            notes.append(f"ridge: {r['lags']} lags + {r['calendar_columns']} calendar columns, penalty {r['alpha']:g} (validation)")
        if p == "mstl" and "model" in r:
            notes.append(f"MSTL: {r['model']}, input_size {r.get('input_size') or 'all rows'}")
    L += [f"- {x}." for x in notes]
    if not runs or s is None:
        return L + ["", "(no finished seqnas runs)", ""]
    for key, label in (("mse_all", "all steps"), ("mse_step1", "step 1")):
        k = s[key]
        L.append(f"- {label}: best peer {PEER_TITLE.get(k['best_peer'], k['best_peer'])} ({fmt(k['best_peer_mse'])}); seqnas deployed / best "
                 f"{k['ratio_deployed']:.3f} (per seed {', '.join(f'{v:.3f}' for v in k['ratio_deployed_per_seed'])}), networks only "
                 f"{k['ratio_networks']:.3f} (per seed {', '.join(f'{v:.3f}' for v in k['ratio_networks_per_seed'])}); target "
                 f"(<= {1 - TARGET_GAIN / 100:.2f}) {'met' if k['target_met_deployed'] else 'not met'} deployed, "
                 f"{'met' if k['target_met_networks'] else 'not met'} networks only.")
    L.append("- deployed (`seqnas export`) / networks only (`--networks-only`) per seed: " + "; ".join(
        f"seed {r['seed']}: {what(r['deployed'])} / {what(r['networks'])}" for r in runs) + ".")
    L.append("- networks' selection per seed: " + "; ".join(
        f"seed {r['seed']}: trial #{(r.get('selection') or {}).get('trial')}, " + ", ".join(
            f"{k}={round(v, 5) if isinstance(v, float) else v}" for k, v in ((r.get("selection") or {}).get("arch") or {}).items())
        + f" ({r['completed']} trials)" for r in runs) + ".")
    L.append("- the last seqnas commit before each search started / before its exports (`git log`; others edit seqnas/, "
        "the working tree may be ahead of it): " + ", ".join(
        f"seed {r['seed']} {r.get('commit', '?')} / {r.get('commit_export', '?')}" for r in runs)
        + (" (seqnas changed while the bench ran)" if len({r.get(k) for r in runs for k in ('commit', 'commit_export')}) > 1 else "") + ".")
    ens = []
    for e in s["ensemble"]:
        if e["ensemble"] is not None and e["members"]:
            m = np.asarray(e["members"])
            ens.append(f"seed {e['seed']}: {fmt(e['ensemble'])} vs members {', '.join(fmt(v) for v in m)} (mean {fmt(m.mean())}, "
                       f"{100 * (e['ensemble'] / m.mean() - 1):+.1f}%)")
    if ens:
        L.append("- the selection's member average vs its single members, test MSE all steps in data units (arch.json "
                 "`selection.test_mse` vs the study's retrained members, `result.final.members`, x std²): " + "; ".join(ens) + ".")
    L.append("- CPU-s per seed, search / export / export --networks-only (budget " + f"{cfg['budget']:g}): " + "; ".join(
        f"{r['runs']['search']['cpu_seconds']:.0f} / {r['runs']['export_deployed']['cpu_seconds']:.1f} / "
        f"{r['runs']['export_networks']['cpu_seconds']:.1f}" for r in runs) + ".")
    fb = [r for r in runs if r["deployed"].get("note")]
    if fb:
        why = fb[0]["deployed"]["note"].split(";")[0]
        L.append(f"- seeds {[r['seed'] for r in fb]}: `backtest(csv)` of the deployed statistical export failed ({why}); its test "
                 "forecasts come from `Forecaster._forecast` at the test origins, the call backtest makes.")
    stat = runs[0].get("statistical_candidates") or {}
    if stat:
        L.append("- statistical forecasts scored inside the study (seed " + f"{runs[0]['seed']}, standardised val / test MSE): "
                 + ", ".join(f"{k} {fmt(v.get('val_mse'))} / {fmt(v.get('test_mse'))}" for k, v in stat.items()) + ".")
    return L + [""]


# -- main ------------------------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default=",".join(ORDER), help=f"comma-separated, of {', '.join(ORDER)}")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--budget", type=float, default=300.0, help="seqnas --cpu-seconds per run (default 300)")
    ap.add_argument("--parallel", type=int, default=2, help="runs at a time (default 2: one per core)")
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--quick", action="store_true", help="harness check: taylor-1, seed 0, budget 20; under forecasters/quick/")
    ap.add_argument("--render", action="store_true", help="only rewrite the report from the stored runs")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child)
        return
    if a.quick:
        a.tasks, a.seeds, a.budget = "taylor-1", "0", 20.0
    tasks = [TASKS[t] for t in a.tasks.split(",")]
    seeds = [int(s) for s in a.seeds.split(",") if s]  # --seeds "": the peers only
    peers = a.peers.split(",")
    out = RUNS / "quick" if a.quick else RUNS
    cfg = {"tasks": [t.name for t in tasks], "seeds": seeds, "budget": a.budget, "peers": peers, "quick": a.quick,
           "command": " ".join([".venv/bin/python", "bench/forecasters.py", *map(shlex.quote, (x for x in sys.argv[1:] if x != "--render"))])}
    if a.render:
        render(out, cfg)
        return
    out.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []

    def guard(fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except Exception as e:
            errors.append(f"{fn.__name__}{args[:2]}: {e}")
            say(f"FAILED {fn.__name__} {args[:2]}: {e}")

    with ThreadPoolExecutor(max_workers=a.parallel) as pool:
        list(pool.map(lambda t: guard(probe, t, out), tasks))
        units = [(run_seqnas, t, s, out, a.budget) for s in seeds for t in tasks] + [(run_peer, t, p, out) for t in tasks for p in peers]
        list(pool.map(lambda u: guard(*u), units))
    render(out, cfg)
    if errors:
        sys.exit("some runs failed (run again to retry them):\n" + "\n".join(errors))


if __name__ == "__main__":
    main()
