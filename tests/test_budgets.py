"""Budgets end studies where they say: --cpu-seconds (API, CLI, compare; across resumes; failures charged),
--seconds across resumes, and extending a finished race runs only what is missing."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import torch
import yaml

import seqnas
from seqnas.space import space_from_dict
from tests.conftest import SEQNAS, TINY_TRAIN, TINY_TRAIN_ARGS, burn_cpu

# A line of 200 architectures: no CPU budget below is large enough to use it up.
LINE = space_from_dict({"params": {"a": list(range(200))}})

# A small rnn-macro-family space with 252 architectures (each trains in ~0.05-0.3 CPU-s with TINY_TRAIN):
# the CPU budgets below end a study long before its strategy could run out of architectures.
BUDGET_SPACE = {
    "family": "rnn-macro",
    "params": [
        {"name": "depth", "type": "categorical", "choices": [1, 2]},
        {"name": "cell1", "type": "categorical", "choices": ["rnn_tanh", "gru", "lstm"]},
        {"name": "hidden1", "type": "categorical", "choices": [4, 6, 8, 10, 12, 16]},
        {"name": "cell2", "type": "categorical", "choices": ["rnn_tanh", "gru", "lstm"],
         "condition": {"parent": "depth", "values": [2]}},
        {"name": "hidden2", "type": "categorical", "choices": [4, 8], "condition": {"parent": "depth", "values": [2]}},
        {"name": "lr", "type": "categorical", "choices": [0.003, 0.01]},
    ],
}

# Every architecture diverges in its first epoch (lr 1e30: the loss becomes inf): a study of failures only.
DIVERGING_SPACE = {
    "family": "rnn-macro",
    "params": [
        {"name": "cell1", "type": "categorical", "choices": ["rnn_tanh", "gru", "lstm"]},
        {"name": "hidden1", "type": "int", "low": 4, "high": 200},
        {"name": "lr", "type": "categorical", "choices": [1.0e30]},
    ],
}

COLS = ("number", "kind", "state", "arch_hash", "value_json", "metrics", "error", "started_at", "finished_at", "duration",
        "attempts", "tell_seq")


# -- objectives ---------------------------------------------------------------------------------------------
def burning(arch) -> float:
    """Costs at least 0.03 CPU-seconds."""
    burn_cpu(0.03)
    return float(arch["a"])


def failing(arch) -> float:
    """Burns at least 0.03 CPU-seconds, then fails."""
    burn_cpu(0.03)
    raise RuntimeError("planted failure after burning CPU")


def napping(arch) -> float:
    """Costs wall-clock time, almost no CPU."""
    time.sleep(0.03)
    return float(arch["a"])


# -- reading the database as stored ---------------------------------------------------------------------------
def trial_rows(db: str | Path, study: str) -> list[dict]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as c:
        c.execute("PRAGMA busy_timeout = 30000")
        rows = c.execute(f"SELECT {', '.join('t.' + k for k in COLS)} FROM trials t JOIN studies s ON s.id = t.study_id "
                         "WHERE s.name=? ORDER BY t.number", (study,)).fetchall()
    return [dict(zip(COLS, r)) for r in rows]


def study_names(db: str | Path) -> list[str]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as c:
        return [r[0] for r in c.execute("SELECT name FROM studies ORDER BY name")]


def state(db: str | Path, study: str, key: str):
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as c:
        row = c.execute("SELECT v.value FROM study_state v JOIN studies s ON s.id = v.study_id WHERE s.name=? AND v.key=?",
                        (study, key)).fetchone()
    return None if row is None else json.loads(row[0])


def charged(row: dict) -> float:
    """What the runner charges a finished trial: its evaluation CPU plus the strategy's ask/tell CPU stored with it."""
    m = json.loads(row["metrics"])
    return float(m["cpu_seconds"]) + float(m["strategy_cpu_seconds"])


def assert_ended_at_cpu_budget(rows: list[dict], budget: float) -> None:
    """The study ended because of its CPU budget, and at it.

    Every trial is finished and carries its CPU-seconds and the strategy's; the charged sum reached
    the budget; no trial started once the CPU charged by the trials finished before it had reached
    the budget; and (trials run one at a time) the last trial is the one that crossed it.
    """
    assert rows, "no trial ran"
    assert all(r["state"] in ("COMPLETE", "FAILED") for r in rows), [r["state"] for r in rows]
    for r in rows:
        m = json.loads(r["metrics"])
        assert m["cpu_seconds"] > 0, r
        assert m["strategy_cpu_seconds"] >= 0, r
    cost = {r["number"]: charged(r) for r in rows}
    total = sum(cost.values())
    assert total >= budget, f"the study stopped at {total:.4f} charged CPU-s, before its budget of {budget}"
    for r in rows:
        spent = sum(cost[u["number"]] for u in rows if u["finished_at"] <= r["started_at"])
        assert spent < budget, f"trial {r['number']} started with {spent:.4f} CPU-s charged, the budget is {budget}"
    order = sorted(rows, key=lambda r: r["finished_at"])
    before_last = sum(cost[r["number"]] for r in order[:-1])
    assert before_last < budget <= before_last + cost[order[-1]["number"]]


def write_space(path: Path, space: dict) -> Path:
    path.write_text(yaml.safe_dump(space, sort_keys=False))
    return path


def cli(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([*SEQNAS, *args], capture_output=True, text=True, env=env, timeout=timeout)
    assert "Traceback" not in p.stderr, p.stderr
    return p


# -- --cpu-seconds ----------------------------------------------------------------------------------------------
def test_api_cpu_budget_ends_at_the_budget_and_resuming_continues_from_the_stored_cpu(tmp_path):
    db = str(tmp_path / "runs.db")
    r = seqnas.search(LINE, objective=burning, strategy="random", cpu_seconds=0.25, seed=0, db=db, study="c",
                      progress=False)
    first = trial_rows(db, "c")
    assert len(r.records) == len(first) < 200
    assert_ended_at_cpu_budget(first, 0.25)
    assert len(first) <= 0.25 / 0.03 + 1  # every trial burnt at least 0.03 CPU-s

    # The budget is used up: searching the same study again, or resuming it, starts nothing.
    seqnas.search(LINE, objective=burning, strategy="random", cpu_seconds=0.25, seed=0, db=db, study="c", progress=False,
                  load_if_exists=True)
    seqnas.resume("c", db, objective=burning, progress=False)
    assert trial_rows(db, "c") == first

    # A larger budget continues from the CPU already used (not from zero): the finished trials are kept and the
    # whole study, old and new trials together, ends at the new budget.
    seqnas.search(LINE, objective=burning, strategy="random", cpu_seconds=0.5, seed=0, db=db, study="c", progress=False,
                  load_if_exists=True)
    after = trial_rows(db, "c")
    assert after[: len(first)] == first
    assert len(after) > len(first)
    assert_ended_at_cpu_budget(after, 0.5)


def test_api_failures_are_charged_and_the_cpu_budget_ends_a_study_of_failures(tmp_path):
    db = str(tmp_path / "runs.db")
    seqnas.search(LINE, objective=failing, strategy="random", cpu_seconds=0.2, seed=0, db=db, study="f", progress=False)
    rows = trial_rows(db, "f")
    assert all(r["state"] == "FAILED" and r["error"].startswith("RuntimeError: planted failure") for r in rows)
    assert all(json.loads(r["metrics"])["cpu_seconds"] >= 0.03 for r in rows)  # what each failure burnt, not 0
    assert_ended_at_cpu_budget(rows, 0.2)


def test_api_task_study_with_a_cpu_budget_ends_at_it(tmp_path):
    """Real training on sunspots: the budget counts the trials' own CPU (torch's one-time costs are not a trial's)."""
    db = str(tmp_path / "runs.db")
    r = seqnas.search(BUDGET_SPACE, task="sunspots", strategy="random", cpu_seconds=0.6, seed=2, train=TINY_TRAIN,
                      final_repeats=0, db=db, study="t", progress=False)
    rows = trial_rows(db, "t")
    assert 1 <= len(rows) < 252 and r.final is None
    assert all(r["state"] == "COMPLETE" for r in rows)
    assert_ended_at_cpu_budget(rows, 0.6)


def test_cli_cpu_budget_charges_failed_trials_and_ends_the_study(tmp_path, env):
    """Every architecture diverges in training: each failure burns CPU, is charged, and the budget ends the search."""
    space = write_space(tmp_path / "diverging.yaml", DIVERGING_SPACE)
    db = str(tmp_path / "runs.db")
    p = cli(["search", "--task", "sunspots", "--space", str(space), "--strategy", "random", "--cpu-seconds", "0.15",
             "--seed", "0", *TINY_TRAIN_ARGS, "--final-repeats", "0", "--workers", "1", "--no-progress", "--study", "d",
             "--db", db], env)
    assert p.returncode == 0, p.stderr
    rows = trial_rows(db, "d")
    assert len(rows) < 3 * 197
    assert all(r["state"] == "FAILED" and r["error"].startswith("diverged: training loss became") for r in rows)
    assert_ended_at_cpu_budget(rows, 0.15)
    assert f"0 complete, {len(rows)} failed" in p.stdout


def test_cli_cpu_budget_survives_a_kill_and_resume_continues_from_the_stored_cpu(tmp_path, env):
    """SIGKILL mid-study, then `seqnas resume`: the study ends at the budget over both runs (resume counts the
    CPU the first run stored; counting from zero would run on to about the budget plus what the first run used)."""
    space = write_space(tmp_path / "space.yaml", BUDGET_SPACE)
    db = str(tmp_path / "runs.db")
    budget = 1.5
    proc = subprocess.Popen([*SEQNAS, "search", "--task", "sunspots", "--space", str(space), "--strategy", "random",
                             "--cpu-seconds", str(budget), "--seed", "1", *TINY_TRAIN_ARGS, "--final-repeats", "0",
                             "--workers", "1", "--no-progress", "--study", "k", "--db", db],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, f"the search ended before it could be killed: {proc.communicate()}"
            assert time.monotonic() < deadline, "no trial finished in time"
            try:
                if sum(r["state"] == "COMPLETE" for r in trial_rows(db, "k")) >= 2:
                    break
            except sqlite3.Error:
                pass  # not created yet
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    before = trial_rows(db, "k")
    done_before = [r for r in before if r["state"] != "RUNNING"]
    spent_before = sum(charged(r) for r in done_before)
    assert len(done_before) >= 2 and spent_before < budget, "killed too late to test resuming"

    p = cli(["resume", "--study", "k", "--db", db, "--workers", "1", "--no-progress"], env)
    assert p.returncode == 0, p.stderr
    after = trial_rows(db, "k")
    by_number = {r["number"]: r for r in after}
    for r in done_before:
        assert by_number[r["number"]] == r  # finished trials kept unchanged
    for r in before:
        if r["state"] == "RUNNING":
            assert by_number[r["number"]]["attempts"] == r["attempts"] + 1  # the interrupted trial ran again
    assert len(after) > len(before)
    assert len({r["arch_hash"] for r in after}) == len(after)
    assert_ended_at_cpu_budget(after, budget)


def test_cli_compare_cpu_budget_ends_every_run_at_its_budget(tmp_path, env):
    space = write_space(tmp_path / "space.yaml", BUDGET_SPACE)
    out = tmp_path / "race"
    p = cli(["compare", "--task", "sunspots", "--space", str(space), "--strategies", "random,evolution", "--seeds", "1",
             "--cpu-seconds", "0.5", *TINY_TRAIN_ARGS, "--final-repeats", "0", "--parallel-runs", "1", "--no-progress",
             "--out", str(out)], env)
    assert p.returncode == 0, p.stderr
    db = out / "race.db"
    assert study_names(db) == ["race/evolution/seed0", "race/random/seed0"]
    for study in study_names(db):
        rows = trial_rows(db, study)
        assert all(r["kind"] == "arch" for r in rows)
        assert_ended_at_cpu_budget(rows, 0.5)  # each run evaluates one trial at a time
        assert state(db, study, "race_done")["budget"]["cpu_seconds"] == 0.5
    table = json.loads((out / "results.json").read_text())
    assert {"random", "evolution"} <= {row["Strategy"] for row in table}


# -- --seconds across runs --------------------------------------------------------------------------------------
def test_api_wall_clock_budget_is_summed_across_runs(tmp_path):
    db = str(tmp_path / "runs.db")
    seqnas.search(LINE, objective=napping, strategy="random", seconds=0.3, seed=0, db=db, study="w", progress=False)
    first = trial_rows(db, "w")
    e1 = state(db, "w", "elapsed")
    assert first and e1 >= 0.3 and len(first) < 200

    # Exhausted: a new run of the same study, or a resume, starts nothing (the stored time counts, not this run's).
    seqnas.search(LINE, objective=napping, strategy="random", seconds=0.3, seed=0, db=db, study="w", progress=False,
                  load_if_exists=True)
    seqnas.resume("w", db, objective=napping, progress=False)
    assert trial_rows(db, "w") == first
    e2 = state(db, "w", "elapsed")
    assert e2 >= e1

    # Extended: it continues, and the stored elapsed time is the sum over the runs.
    seqnas.search(LINE, objective=napping, strategy="random", seconds=e2 + 0.3, seed=0, db=db, study="w", progress=False,
                  load_if_exists=True)
    after = trial_rows(db, "w")
    assert after[: len(first)] == first and len(after) > len(first)
    assert state(db, "w", "elapsed") >= e2 + 0.3


def test_cli_resume_of_a_study_whose_wall_clock_budget_is_spent_starts_nothing(tmp_path, env):
    db = str(tmp_path / "runs.db")
    seqnas.search(BUDGET_SPACE, task="sunspots", strategy="random", seconds=1.0, seed=0, train=TINY_TRAIN, final_repeats=0,
                  db=db, study="s", progress=False)
    first = trial_rows(db, "s")
    assert first and all(r["state"] == "COMPLETE" for r in first)
    elapsed = state(db, "s", "elapsed")
    assert elapsed >= 1.0
    p = cli(["resume", "--study", "s", "--db", db, "--workers", "1", "--no-progress"], env)
    assert p.returncode == 0, p.stderr
    assert trial_rows(db, "s") == first
    assert state(db, "s", "elapsed") >= elapsed  # the resumed run's time is added, never reset


# -- extending a finished race -----------------------------------------------------------------------------------
def _race_rows(db: str) -> dict[str, list[dict]]:
    return {s: trial_rows(db, s) for s in study_names(db)}


def test_extending_a_finished_race_runs_only_what_is_missing(tmp_path, env):
    db = str(tmp_path / "race.db")
    common = dict(task="sunspots", strategies="random,evolution", train=TINY_TRAIN, db=db, final_repeats=0, workers=1,
                  progress=False)
    seqnas.compare(BUDGET_SPACE, trials=2, seeds=1, **common)
    first = _race_rows(db)
    assert sorted(first) == ["race/evolution/seed0", "race/random/seed0"]
    assert all(len(rows) == 2 and all(r["state"] == "COMPLETE" for r in rows) for rows in first.values())

    # `compare --resume --trials 3`: one more trial per run; the finished ones are unchanged.
    p = cli(["compare", "--resume", "--db", db, "--trials", "3", "--parallel-runs", "1", "--no-progress"], env)
    assert p.returncode == 0, p.stderr
    second = _race_rows(db)
    assert sorted(second) == sorted(first)
    for study, rows in second.items():
        assert len(rows) == 3 and rows[:2] == first[study]
        assert rows[2]["state"] == "COMPLETE" and rows[2]["arch_hash"] not in {r["arch_hash"] for r in rows[:2]}

    # `compare` again with one more seed: the seed-1 runs are added, the seed-0 runs are not touched.
    seqnas.compare(BUDGET_SPACE, trials=3, seeds=2, **common)
    third = _race_rows(db)
    assert sorted(third) == ["race/evolution/seed0", "race/evolution/seed1", "race/random/seed0", "race/random/seed1"]
    for study, rows in second.items():
        assert third[study] == rows
    for study in ("race/evolution/seed1", "race/random/seed1"):
        assert len(third[study]) == 3 and all(r["state"] == "COMPLETE" for r in third[study])


def test_a_trial_that_would_outrun_the_cpu_budget_stops_training_at_it(tmp_path):
    """One architecture whose full training costs many times the budget: its training ends after the epoch in
    which the budget is spent (its best epoch so far is its result, marked cut_by_budget), so the study ends
    near its --cpu-seconds instead of one whole training past it. Without a budget it trains to the end."""
    space = {"family": "rnn-macro", "params": {"cell1": ["lstm"], "hidden1": [64], "lr": [0.003]}}
    train = {"max_epochs": 200, "patience": 200}
    r = seqnas.search(space, task="mackey-glass", strategy="random", cpu_seconds=1.5, seed=0, train=train,
                      final_repeats=0, progress=False)
    (t,) = r.completed
    assert t.metrics["cut_by_budget"] is True and 1 <= t.metrics["epochs"] < 200
    epoch_cost = t.metrics["cpu_seconds"] / t.metrics["epochs"]
    assert t.metrics["cpu_seconds"] <= 1.5 + 2 * epoch_cost + 0.5  # the budget, the epoch that crossed it, set-up
    assert t.metrics["cpu_seconds"] >= 1.5  # not before: training stopped only once the trial's CPU reached the budget
    assert t.metrics["best_epoch"] <= t.metrics["epochs"] and len(t.curve) == t.metrics["epochs"]
    full = seqnas.search(space, task="mackey-glass", strategy="random", trials=1, seed=0,
                         train={"max_epochs": 3, "patience": 3}, final_repeats=0, progress=False)
    assert full.completed[0].metrics["cut_by_budget"] is False and full.completed[0].metrics["epochs"] == 3


BURN = 0.05  # CPU-seconds each epoch of the burner family spends in its one training forward pass


class _Burner(torch.nn.Module):
    """A forecaster from each window's last row whose training forward pass burns BURN CPU-seconds. With one
    batch per epoch, each training forward is one epoch; it notes the process CPU time at its construction and
    at every forward pass (training and evaluation), so the test knows when each epoch started and ended
    without reading the product's accounting."""

    built: list[_Burner] = []

    def __init__(self, arch, n_features: int, horizon: int) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(n_features, horizon)
        self.t_built = time.process_time()
        self.calls: list[tuple[bool, float]] = []  # (training, process time at the call)
        _Burner.built.append(self)

    def forward(self, x):
        self.calls.append((self.training, time.process_time()))
        if self.training:
            burn_cpu(BURN)
        return self.lin(x[:, -1, :])


def test_a_capped_trial_stops_at_the_epoch_where_its_cpu_budget_runs_out(plant_family):
    """The per-trial CPU cap, against the process CPU clock read by the model itself: every epoch that ran
    started before the trial's budget was spent (not long after), and the first epoch that did not run would
    have started after it (not before). A cap compared with the wall clock (perf_counter, many seconds since
    boot) stops after one epoch; a cap that is ignored trains all 40."""
    plant_family("qa-burner", _Burner)
    _Burner.built.clear()
    budget = 0.6
    r = seqnas.search({"family": "qa-burner", "params": {"x": [0]}}, task="sunspots", strategy="random",
                      cpu_seconds=budget, seed=0, train={"max_epochs": 40, "patience": 40, "batch_size": 100_000},
                      final_repeats=0, progress=False)
    (t,) = r.completed
    (model,) = _Burner.built
    _Burner.built.clear()
    starts = [c for training, c in model.calls if training]
    n = len(starts)
    assert t.metrics["epochs"] == n == len(t.curve) and t.metrics["cut_by_budget"] is True
    # The trial's CPU clock starts before the model is built (the set-up between is a seed and a constructor).
    assert starts[-1] - model.t_built < budget + 0.01, f"epoch {n} started {starts[-1] - model.t_built:.3f} CPU-s in"
    end_of_last = next(c for training, c in model.calls if not training and c > starts[-1])  # its validation pass
    assert end_of_last - model.t_built >= budget - BURN, (
        f"stopped after {n} epochs, {end_of_last - model.t_built:.3f} CPU-s in: before the budget of {budget} ran out")
    # In epochs: the budget over the measured cost of one epoch (at least BURN), give or take the epoch that crosses it.
    assert n >= 2, f"stopped after {n} epoch(s); the budget pays for about {budget / BURN:.0f}"
    per_epoch = (starts[-1] - starts[0]) / (n - 1)
    assert per_epoch >= BURN
    assert budget / per_epoch - 1 <= n <= budget / per_epoch + 1.5, (n, per_epoch)
