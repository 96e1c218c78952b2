"""The strategy race end to end: `seqnas compare` in a subprocess, SIGKILL and --resume, the report it writes."""

from __future__ import annotations

import base64
import json
import os
import signal
import sqlite3
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from seqnas.errors import ConfigError
from seqnas.race import compare, resolve_strategies
from seqnas.space import get_space
from seqnas.strategies import STRATEGIES, make_strategy
from seqnas.strategies.base import WAIT, Strategy
from seqnas.trial import Proposal, Result, TrialRecord, TrialState
from tests.conftest import ROOT, SEQNAS, TINY_SPACE_YAML, TINY_TRAIN

TINY_SPACE = TINY_SPACE_YAML
STRATS, SEEDS, TRIALS = ("random", "grid"), 2, 4
# Trials long enough (a few tenths of a second) that the kill lands mid-race, short enough for the suite.
TRAIN = ["--max-epochs", "5", "--patience", "5", "--batch-size", "64"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def _rows(db: Path) -> list[dict[str, Any]]:
    """Every trial with its study name (read only; empty while the schema does not exist yet)."""
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as c:
            c.row_factory = sqlite3.Row
            return [dict(r) for r in c.execute(
                "SELECT s.name AS study, t.number, t.kind, t.state, t.arch_hash, t.value_json, t.metrics, t.finished_at, "
                "t.attempts FROM trials t JOIN studies s ON s.id = t.study_id ORDER BY s.name, t.number")]
    except sqlite3.OperationalError:
        return []


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _reap(pids: list[int], wait: float = 30.0) -> None:
    """Workers of a killed driver exit on their own (broken pipe); whatever is left is ours to stop."""
    until = time.monotonic() + wait
    for pid in pids:
        while time.monotonic() < until and Path(f"/proc/{pid}").exists() and "Z" not in _state(pid):
            time.sleep(0.2)
        if Path(f"/proc/{pid}").exists():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


@pytest.fixture(scope="module")
def race(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A tiny race (2 strategies, 2 seeds) killed with SIGKILL mid-run, then finished with --resume."""
    tmp = tmp_path_factory.mktemp("race")
    space, out = tmp / "tiny.yaml", tmp / "report"
    space.write_text(TINY_SPACE)
    db = out / "race.db"
    cmd = [*SEQNAS, "compare", "--task", "sunspots", "--space", str(space), "--strategies", ",".join(STRATS),
           "--trials", str(TRIALS), "--seeds", str(SEEDS), *TRAIN, "--parallel-runs", "2", "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=tmp, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if sum(r["state"] != "RUNNING" for r in _rows(db)) >= 3:
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"the race ended before it could be interrupted: {proc.communicate()}"
        kids = _children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    _reap(kids)
    before = _rows(db)
    resumed = subprocess.run([*SEQNAS, "compare", "--resume", "--db", str(db), "--no-progress"], cwd=tmp, env=_env(),
                             capture_output=True, text=True, timeout=400)
    return {"tmp": tmp, "out": out, "db": db, "space": space, "before": before, "after": _rows(db), "resumed": resumed}


def test_resume_keeps_every_finished_trial_and_completes_every_run(race):
    r = race["resumed"]
    assert r.returncode == 0, r.stderr
    before, after = race["before"], race["after"]
    done_before = [t for t in before if t["state"] != "RUNNING"]
    assert 3 <= len(done_before) < len(STRATS) * SEEDS * TRIALS
    key = {(t["study"], t["number"]): t for t in after}
    for t in done_before:  # nothing finished before the kill was lost, changed or run again
        assert key[(t["study"], t["number"])] == t
    for t in before:
        if t["state"] == "RUNNING":  # what was running was run again, under the same number
            assert key[(t["study"], t["number"])]["attempts"] == 2
    space = get_space(str(race["space"]))
    for strategy in STRATS:
        for seed in range(SEEDS):
            study = [t for t in after if t["study"] == f"race/{strategy}/seed{seed}"]
            assert [t["number"] for t in study] == list(range(TRIALS))
            assert all(t["state"] == "COMPLETE" for t in study)
            # Random and grid propose independently of results: the resumed run is the uninterrupted one.
            s = make_strategy(strategy, space, seed=seed)
            assert [t["arch_hash"] for t in study] == [s.ask().arch.key for _ in range(TRIALS)]


def _study_state(db: Path, study: str, key: str) -> Any:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        row = c.execute("SELECT v.value FROM study_state v JOIN studies s ON s.id = v.study_id WHERE s.name=? AND v.key=?",
                        (study, key)).fetchone()
    return json.loads(row[0]) if row else None


def test_the_table_matches_the_stored_trials(race):
    from seqnas.final import final_seeds

    stdout = race["resumed"].stdout
    assert "Retrained Test MSE" in stdout and "Best Validation MSE" in stdout and "Key Finding" in stdout
    assert f"report: {race['out'] / 'report.html'}" in stdout
    table = pd.read_csv(race["out"] / "results.csv")
    assert list(table.columns[:5]) == ["Strategy", "Retrained Test MSE", "Retrained Val MSE", "Best Validation MSE",
                                       "Key Finding"]
    strategies = table[table["kind"] == "strategy"]
    assert sorted(strategies["Strategy"]) == sorted(STRATS)
    # The reference rows, after the strategies, marked as such: persistence, ridge, the default LSTM and the statistical
    # forecasts (sunspots' 2,820 rows: AutoTheta too).
    assert sorted(table["Strategy"][len(STRATS):]) == sorted(
        ["baseline: persistence", "baseline: linear", "baseline: default LSTM", "baseline: seasonal_naive",
         "baseline: auto_ets", "baseline: auto_theta", "baseline: lightgbm", "baseline: ridge"])
    assert "p_holm" in table.columns
    after = race["after"]
    for _, row in strategies.iterrows():
        runs = [[json.loads(t["value_json"])["val_mse"] for t in after if t["study"] == f"race/{row['Strategy']}/seed{k}"]
                for k in range(SEEDS)]
        best = [min(v) for v in runs]
        assert row["Trials"] == sum(len(v) for v in runs) == SEEDS * TRIALS
        assert row["Failed"] == 0
        assert row["best_val_mean"] == pytest.approx(np.mean(best))
        assert row["best_val_std"] == pytest.approx(np.std(best, ddof=1))
        assert row["Best Validation MSE"].startswith(f"{np.mean(best):.4g} ± ")
        assert row["rank"] in (1, 2)
        # What the table ranks on: each run's top 3 by validation retrained 3 times with the seeds of its race
        # seed; the selection is the one with the lowest mean retrained validation MSE, its mean test MSE the score.
        tests = []
        for k in range(SEEDS):
            study = [t for t in after if t["study"] == f"race/{row['Strategy']}/seed{k}"]
            top = sorted(study, key=lambda t: (json.loads(t["value_json"])["val_mse"], t["number"]))[:3]
            final = _study_state(race["db"], f"race/{row['Strategy']}/seed{k}", "final")
            assert final["top"] == 3 and final["repeats"] == 3
            retrained = [final["runs"][t["arch_hash"]] for t in top]
            for runs in retrained:
                assert sorted(runs) == sorted(str(s) for s in final_seeds(k, 3))
            chosen = min(retrained, key=lambda runs: np.mean([r["val_mse"] for r in runs.values()]))
            tests.append(np.mean([r["test_mse"] for r in chosen.values()]))
        assert row["test_mse_mean"] == pytest.approx(np.mean(tests))
        assert row["Retrained Test MSE"].startswith(f"{np.mean(tests):.4g} ± ")
        # CPU-seconds per run: the search's trials and the retrainings (one budget).
        cpu = [sum(json.loads(t["metrics"])["cpu_seconds"] for t in after if t["study"] == f"race/{row['Strategy']}/seed{k}")
               + sum(r["cpu_seconds"] for per in _study_state(race["db"], f"race/{row['Strategy']}/seed{k}", "final")["runs"].values()
                     for r in per.values())
               for k in range(SEEDS)]
        assert row["cpu_seconds_mean"] == pytest.approx(np.mean(cpu))
    grid = strategies[strategies["Strategy"] == "grid"].iloc[0]
    assert "not distinguishable from random search at 2 seeds" in grid["Key Finding"] and grid["verdict"] == "not distinguishable"
    lstm = table[table["Strategy"] == "baseline: default LSTM"].iloc[0]
    assert lstm["Trials"] == 6 and lstm["test_mse_mean"] > 0  # 3 trainings for each of the 2 race seeds


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[str] = []
        self.tables = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.imgs.append(dict(attrs)["src"] or "")
        self.tables += tag == "table"


def test_plots_and_the_self_contained_html_report(race):
    out = race["out"]
    for name in ("best_vs_trials", "best_vs_cpu", "pareto", "learning_curves"):
        png = out / f"{name}.png"
        assert png.read_bytes()[:8] == PNG_MAGIC
        img = mpimg.imread(png)
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    page = _Page()
    page.feed((out / "report.html").read_text())
    # retrained per seed, best vs trials, best vs CPU, Pareto, learning curves
    assert page.tables == 2 and len(page.imgs) == 5
    for src in page.imgs:
        head, data = src.split(",", 1)
        assert head == "data:image/png;base64" and base64.b64decode(data)[:8] == PNG_MAGIC
    md = (out / "report.md").read_text()
    assert "![best_vs_cpu](best_vs_cpu.png)" in md and "![retrained](retrained.png)" in md
    assert "| Strategy | Retrained Test MSE | Retrained Val MSE | Best Validation MSE | Key Finding |" in md


def test_report_command_rebuilds_the_report_from_storage_alone(race):
    again = race["tmp"] / "again"
    r = subprocess.run([*SEQNAS, "report", "--db", str(race["db"]), "--out", str(again)], cwd=race["tmp"], env=_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (again / "results.csv").read_text() == (race["out"] / "results.csv").read_text()
    assert {p.name for p in again.glob("*.png")} == {p.name for p in race["out"].glob("*.png")}
    assert (again / "report.html").stat().st_size > 10_000


def test_user_errors_are_one_line_exit_2(tmp_path, capsys):
    from seqnas.cli import main

    r = subprocess.run([*SEQNAS, "compare", "--strategies", "random,nope", "--out", str(tmp_path / "a")], cwd=tmp_path,
                       env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("seqnas: error: unknown strategy 'nope'"), r.stderr
    assert r.stderr.count("\n") == 1 and r.stdout == ""
    assert not (tmp_path / "a").exists()  # checked before anything is written
    cases = [
        (["compare", "--resume", "--db", str(tmp_path / "missing.db")], "does not exist"),
        (["compare", "--resume", "--db", str(tmp_path / "x.db"), "--task", "co2", "--seeds", "2"], "drop --task, --seeds"),
        (["compare", "--resume"], "--resume needs --db"),
        (["compare", "--option", "depth=3", "--out", str(tmp_path / "b")], "STRATEGY.KEY=VALUE"),
        (["report", "--db", str(tmp_path / "missing.db"), "--out", str(tmp_path / "o")], "does not exist"),
    ]
    for args, message in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("seqnas: error:") and message in err and err.count("\n") == 1, err


# -- a one-shot strategy that arrives later: registered at run time, raced like the others -----------------
def _diag(seed: int) -> dict[str, Any]:
    alphas = [[[0.5 - 0.1 * e, 0.5 + 0.1 * e]] for e in range(3)]
    return {"epochs": [1, 2, 3], "entropy": [0.69, 0.67, 0.61], "param_free_share": [0.5, 0.6, 0.7],
            "supernet_val_loss": [1.0, 0.8, 0.7], "alphas": alphas, "op_names": ["tanh", "identity"],
            "edge_names": ["node1"], "collapsed": seed == 0, "remedy": "test-remedy"}


class FakeSupernet:
    """A picklable one-shot job (module level, so spawned workers can import it)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __call__(self, evaluator: Any, seed: int) -> Result:
        return Result(TrialState.COMPLETE, {}, {"darts": _diag(self.seed), "cpu_seconds": 0.25})


class OneShot(Strategy):
    """Supernet first (kind "supernet"), then derived architectures: the shape of the darts strategy."""

    name = "oneshot-test"

    def __init__(self, space: Any, *, seed: int = 0, objectives: Any = ("val_mse",)) -> None:
        super().__init__(space, seed=seed, objectives=objectives)
        self.searched = False

    def _propose(self, rng: np.random.Generator) -> Any:
        if self.n_asked == 0:
            return Proposal(job=FakeSupernet(self.seed), kind="supernet")
        return self.sample_fresh(rng) if self.searched else WAIT

    def _observe(self, record: TrialRecord) -> None:
        self.searched = self.searched or record.kind == "supernet"


def test_a_strategy_registered_later_joins_all_and_one_shot_runs_are_reported(tmp_path, tiny_macro):
    STRATEGIES[OneShot.name] = OneShot
    try:
        assert resolve_strategies("all")[0] == "random" and OneShot.name in resolve_strategies("all")
        result = compare(tiny_macro, task="sunspots", strategies=["random", OneShot.name], trials=2, seeds=2,
                         train=TINY_TRAIN, db=str(tmp_path / "race.db"), workers=1, progress=False)
    finally:
        del STRATEGIES[OneShot.name]
    assert result.errors == {}
    row = result.table.set_index("Strategy").loc[OneShot.name]
    assert row["Trials"] == 4  # architecture trials only; the supernet searches are not counted as trials
    assert "supernet collapsed in 1/2 seeds" in row["Key Finding"] and "test-remedy" in row["Key Finding"]
    assert row["darts_collapsed"] == 1 and result.files == {}  # no out=: no report files
    rows = _rows(tmp_path / "race.db")
    supernets = [t for t in rows if t["kind"] == "supernet"]
    assert len(supernets) == 2 and all(t["state"] == "COMPLETE" for t in supernets)
    # CPU-seconds per run include the supernet search.
    cpu = [sum(json.loads(t["metrics"])["cpu_seconds"] for t in rows if t["study"] == f"race/{OneShot.name}/seed{k}")
           for k in range(2)]
    retrain = [sum(r["cpu_seconds"] for per in _study_state(tmp_path / "race.db", f"race/{OneShot.name}/seed{k}", "final")["runs"].values()
                   for r in per.values()) for k in range(2)]
    assert row["cpu_seconds_mean"] == pytest.approx(np.mean(cpu) + np.mean(retrain)) and min(cpu) > 0.25


def test_race_arguments_are_checked_before_anything_runs(tmp_path, tiny_macro):
    with pytest.raises(ConfigError, match="unknown strategy"):
        resolve_strategies("random,bogus")
    with pytest.raises(ConfigError, match="repeats"):
        resolve_strategies("random,random")
    with pytest.raises(ConfigError, match="db= .* or out="):
        compare(tiny_macro, task="sunspots", strategies="random")
    with pytest.raises(ConfigError, match="not in this race"):
        compare(tiny_macro, task="sunspots", strategies="random", strategy_options={"grid": {"shuffle": False}},
                db=str(tmp_path / "x.db"))
    with pytest.raises(ConfigError, match="bad option"):
        compare(tiny_macro, task="sunspots", strategies="grid", strategy_options={"grid": {"nope": 1}}, db=str(tmp_path / "x.db"))
    assert not (tmp_path / "x.db").exists()


class Picky(Strategy):
    """A strategy that cannot search spaces without a "depth" of 3 (like darts without a supernet family)."""

    name = "picky-test"

    def __init__(self, space: Any, *, seed: int = 0, objectives: Any = ("val_mse",), level: int = 1) -> None:
        super().__init__(space, seed=seed, objectives=objectives)
        if 3 not in space["depth"].choices:
            raise ConfigError("strategy 'picky-test' needs depth 3")


def test_all_is_every_strategy_that_can_search_the_space(tmp_path, tiny_macro, capsys):
    # "all" is whatever is registered today (the main job names options of strategies that arrive later).
    STRATEGIES[Picky.name] = Picky
    try:
        with pytest.raises(ConfigError, match="--parallel-runs"):  # stops the race right after the strategies are sorted out
            compare(tiny_macro, task="sunspots", strategies="all", strategy_options={"later": {"epochs": 3}},
                    db=str(tmp_path / "x.db"), workers=0)
        err = capsys.readouterr().err
        assert "strategy 'later' is not registered, its options are not used" in err
        assert "strategy 'picky-test' left out of the race: strategy 'picky-test' needs depth 3" in err
        # Named explicitly, or given options, it is an error instead.
        with pytest.raises(ConfigError, match="needs depth 3"):
            compare(tiny_macro, task="sunspots", strategies="random,picky-test", db=str(tmp_path / "x.db"))
        with pytest.raises(ConfigError, match="needs depth 3"):
            compare(tiny_macro, task="sunspots", strategies="all", strategy_options={"picky-test": {"level": 2}},
                    db=str(tmp_path / "x.db"))
    finally:
        del STRATEGIES[Picky.name]
    assert not (tmp_path / "x.db").exists()
