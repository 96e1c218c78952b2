"""Multi-fidelity search: the bracket schedule, rungs that continue training, the scheduler strategies,
checkpoints, and a study that goes on when one of its trials kills the process."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import seqnas
from seqnas.errors import ConfigError
from seqnas.evaluation import TaskEvaluator, TrainBudget
from seqnas.execution.pool import PoolExecutor
from seqnas.runner import Runner
from seqnas.space import space_from_dict
from seqnas.storage import Storage
from seqnas.strategies import make_strategy
from seqnas.strategies.base import WAIT
from seqnas.strategies.multifidelity import brackets, rung_epochs
from seqnas.study import Budget, StudySettings, make_evaluator, open_study
from seqnas.tasks import task_spec
from seqnas.trial import Result, TrialRecord, TrialState
from tests.cli_helpers import env
from tests.conftest import SEQNAS, TINY_MACRO

TRAIN = TrainBudget(max_epochs=9, patience=20, batch_size=64)  # rungs 1, 3, 9 epochs; no early stop inside a rung
TASK = task_spec("sunspots")


# -- the schedule ------------------------------------------------------------------------------------------
def test_brackets_match_the_hyperband_paper_for_r27_and_r81_eta3():
    """Li et al. (JMLR 2018), Algorithm 1 and Table 1: (architectures, epochs) at each rung of each bracket."""
    epochs = rung_epochs(1, 27, 3)
    assert epochs == [1, 3, 9, 27]
    table = [[(n, epochs[k]) for n, k in b] for b in brackets(3, 3)]
    assert table == [
        [(27, 1), (9, 3), (3, 9), (1, 27)],
        [(12, 3), (4, 9), (1, 27)],
        [(6, 9), (2, 27)],
        [(4, 27)],
    ]
    epochs81 = rung_epochs(1, 81, 3)
    assert [[(n, epochs81[k]) for n, k in b] for b in brackets(4, 3)] == [
        [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
        [(34, 3), (11, 9), (3, 27), (1, 81)],
        [(15, 9), (5, 27), (1, 81)],
        [(8, 27), (2, 81)],
        [(5, 81)],
    ]
    assert rung_epochs(1, 30, 3) == [1, 3, 10, 30]  # a maximum that is no power of eta: rounded, still increasing
    assert rung_epochs(3, 30, 3) == [3, 10, 30]


def _run_schedule(name: str, n: int, space, released: list[int] | None = None, **options) -> list[TrialRecord]:
    """Drive a scheduler with made-up results (better with more epochs, fixed per architecture), one at a time."""
    s = make_strategy(name, space, seed=0, options=options, max_epochs=27)
    records: list[TrialRecord] = []
    for i in range(n):
        p = s.ask()
        if released is not None:
            released += s.released()
        assert p is not None and p is not WAIT
        score = (hash(p.arch.key) % 97) / 97 + 1.0 / p.info["rung_epochs"]
        r = TrialRecord(number=i, state=TrialState.COMPLETE, arch=p.arch, values={"val_mse": score}, info=p.info)
        s.tell(r)
        records.append(r)
    return records


def test_hyperband_runs_its_brackets_rung_by_rung_and_promotes_the_best_third():
    space = space_from_dict(TINY_MACRO | {"params": [{"name": "x", "type": "int", "low": 0, "high": 10_000}]})
    released: list[int] = []
    recs = _run_schedule("hyperband", 40 + 17 + 8 + 4, space, released, min_epochs=1, eta=3)
    by = lambda b, k: [r for r in recs if r.info["bracket"] == b and r.info["rung"] == k]  # noqa: E731
    assert [len(by(0, k)) for k in range(4)] == [27, 9, 3, 1]
    assert [len(by(1, k)) for k in range(1, 4)] == [12, 4, 1]
    assert [len(by(2, k)) for k in (2, 3)] == [6, 2] and len(by(3, 3)) == 4
    for b, k in ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)):
        below = sorted(by(b, k - 1), key=lambda r: (r.value, r.number))
        kept = [r.arch.key for r in below[: len(by(b, k))]]
        assert [r.arch.key for r in by(b, k)] == kept  # the best of the rung below, best first
        assert all(r.info["parent"] == next(x.number for x in below if x.arch.key == r.arch.key) for r in by(b, k))
    # Once a rung is decided, the architectures it stopped are released (their checkpoints can go).
    parents = {r.info["parent"] for r in recs}
    decided = [r.number for b, k in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)) for r in by(b, k)]
    assert sorted(released) == sorted(n for n in decided if n not in parents)


def test_asha_promotes_without_waiting_for_a_rung_to_fill():
    """With 2 trials in flight and results arriving one by one, ASHA always has a job: never WAIT."""
    space = space_from_dict({"params": [{"name": "x", "type": "int", "low": 0, "high": 10_000}]})
    s = make_strategy("random", space, seed=0, options={"scheduler": "asha"}, max_epochs=9)
    flying = [s.ask(), s.ask()]
    for i in range(60):
        p = flying.pop(0)
        s.tell(TrialRecord(number=i, state=TrialState.COMPLETE, arch=p.arch, info=p.info,
                           values={"val_mse": p.arch["x"] / 1e4 + 1.0 / p.info["rung_epochs"]}))
        nxt = s.ask()
        assert nxt is not None and nxt is not WAIT
        flying.append(nxt)
    assert s.brackets[0].asked[2]  # some reached the top rung


# -- training that continues -------------------------------------------------------------------------------
def test_a_promoted_rung_continues_training_exactly():
    """Training 3 epochs, then continuing from the checkpoint to 9, gives the numbers of training 9 at once
    (weights, Adam's moments, the batch order all carry over); from other weights it does not."""
    import io

    import torch

    arch = seqnas.space.get_space("rnn-macro").sample(__import__("numpy").random.default_rng(1))
    ev = TaskEvaluator(TASK, "rnn-macro", TRAIN)
    first = ev(arch, 7, epochs=3)
    assert first.state is TrialState.COMPLETE and first.metrics["epochs"] == 3 and len(first.curve) == 3
    assert first.checkpoint is not None
    cont = ev(arch, 7, epochs=9, resume=first.checkpoint)
    straight = ev(arch, 7, epochs=9)
    assert cont.metrics["epochs"] == 9 and len(cont.curve) == 9 and cont.curve[:3] == first.curve
    assert cont.curve == straight.curve and cont.values == straight.values
    assert cont.metrics["test_mse"] == straight.metrics["test_mse"]
    # The continuation really starts from the saved weights: zero them and the curve changes.
    ck = torch.load(io.BytesIO(first.checkpoint), weights_only=False)
    ck["model"] = {k: torch.zeros_like(v) for k, v in ck["model"].items()}
    buf = io.BytesIO()
    torch.save(ck, buf)
    other = ev(arch, 7, epochs=9, resume=buf.getvalue())
    assert other.curve[:3] == first.curve and other.curve[3:] != cont.curve[3:]


def _study(db: str, strategy: str, trials: int, **options):
    return seqnas.search(TINY_MACRO, task="sunspots", strategy=strategy, strategy_options=options or None, trials=trials, seed=4,
                         train=TRAIN, study=strategy, db=db, final_repeats=0, progress=False)


def test_a_hyperband_study_stores_rungs_with_curves_and_keeps_only_the_best_checkpoint(tmp_path):
    db = str(tmp_path / "mf.db")
    res = _study(db, "hyperband", 16)
    recs = res.records
    assert [r.info["rung"] for r in recs[:13]] == [0] * 9 + [1] * 3 + [2]  # bracket 0: 9 at 1 epoch, 3 at 3, 1 at 9
    for r in recs:
        assert r.state is TrialState.COMPLETE
        assert r.metrics["epochs"] == r.info["rung_epochs"] == len(r.curve)  # epochs in all: the rungs' sum
        if r.info["parent"] is not None:
            parent = recs[r.info["parent"]]
            assert parent.arch == r.arch and parent.info["rung"] == r.info["rung"] - 1
            assert r.curve[: len(parent.curve)] == parent.curve  # continued, not restarted
    # One trial per rung and architecture; the selection is the best at the highest rung reached.
    assert len({(r.arch.key, r.info["rung"]) for r in recs}) == len(recs)
    top = max(r.info["rung"] for r in recs)
    assert res.best_trial == min((r for r in recs if r.info["rung"] == top), key=lambda r: r.value)
    df = res.trials
    assert list(df["rung"][:10]) == [0] * 9 + [1] and len(df["curve"][12]) == 9
    # The checkpoints: only the selected architecture's is kept at the end, with its row, no temporary file (the
    # folder "final" beside them holds the study's final forecasters, no rung's state).
    ckdir = Path(f"{db}.checkpoints") / "study-1"
    assert sorted(p.name for p in ckdir.iterdir() if p.is_file()) == [f"{res.best_trial.number}.pt"]
    assert [p.name for p in ckdir.iterdir() if p.is_dir()] in ([], ["final"]) and not list(ckdir.rglob("*.tmp"))
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT number FROM checkpoints").fetchall() == [(res.best_trial.number,)]


class _EpochCounter(torch.nn.Module):
    """A forecaster from each window's last row that counts the epochs it is trained: with one batch per epoch
    (``ONE_BATCH``), every forward pass in training mode is one epoch. Every model built is noted, in build order."""

    built: list[_EpochCounter] = []

    def __init__(self, arch, n_features: int, horizon: int) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(n_features, horizon)
        self.epochs_trained = 0
        _EpochCounter.built.append(self)

    def forward(self, x):
        if self.training:
            self.epochs_trained += 1
        return self.lin(x[:, -1, :])


ONE_BATCH = TrainBudget(max_epochs=9, patience=20, batch_size=100_000)  # sunspots has 195 training windows


def test_a_promotion_trains_only_the_epochs_it_adds(tmp_path, plant_family):
    """Counted in the model, not read from the study: a rung promoted from k to K epochs trains K - k epochs in
    its trial (it continues its parent's checkpoint); a first rung trains all of its epochs. A promotion that
    trained from scratch would give the same curve (training is deterministic) but train K epochs."""
    plant_family("qa-epoch-counter", _EpochCounter)
    _EpochCounter.built.clear()
    space = {"family": "qa-epoch-counter", "params": {"x": list(range(100))}}
    res = seqnas.search(space, task="sunspots", strategy="hyperband", trials=16, seed=4, train=ONE_BATCH,
                        db=str(tmp_path / "count.db"), study="c", final_repeats=0, progress=False)
    recs = res.records
    assert len(recs) == 16 and all(r.state is TrialState.COMPLETE for r in recs)
    assert len(_EpochCounter.built) == len(recs)  # one model per trial, built in trial order (inline, one at a time)
    promoted = [r for r in recs if r.info["parent"] is not None]
    assert {r.info["rung_epochs"] for r in promoted} == {3, 9}  # promotions 1 -> 3 and 3 -> 9 epochs happened
    for r, model in zip(recs, _EpochCounter.built):
        parent = r.info["parent"]
        added = r.info["rung_epochs"] - (0 if parent is None else recs[parent].info["rung_epochs"])
        assert model.epochs_trained == added, (r.number, r.info, model.epochs_trained)
        assert len(r.curve) == r.info["rung_epochs"]  # the stored curve covers the earlier rungs too
    # In all: the epochs of the highest rung each architecture reached, not the sum over its rungs.
    top = {}
    for r in recs:
        top[r.arch.key] = max(top.get(r.arch.key, 0), r.info["rung_epochs"])
    assert sum(m.epochs_trained for m in _EpochCounter.built) == sum(top.values())
    _EpochCounter.built.clear()


def test_a_scheduler_over_any_strategy_and_the_options_it_refuses(tmp_path):
    db = str(tmp_path / "any.db")
    res = _study(db, "evolution", 8, scheduler="sh", eta=2, min_epochs=2)
    assert {r.info["rung_epochs"] for r in res.records} <= {2, 4, 9} and res.records[0].info["rung_epochs"] == 2
    space = space_from_dict(TINY_MACRO)
    for bad, msg in (({"scheduler": "fifo"}, "scheduler"), ({"scheduler": "asha", "eta": 1}, "eta"),
                     ({"scheduler": "asha", "min_epochs": 9}, "below max_epochs")):
        with pytest.raises(ConfigError, match=msg):
            make_strategy("random", space, options=bad, max_epochs=9)
    with pytest.raises(ConfigError, match="supernet"):
        make_strategy("darts", space, options={"scheduler": "asha"}, max_epochs=9)
    with pytest.raises(ConfigError, match="epochs per rung"):
        seqnas.search(space, objective=lambda a: 1.0, strategy="hyperband", trials=3)


def test_cli_scheduler_flags(tmp_path):
    db = tmp_path / "cli.db"
    base = [*SEQNAS, "search", "--task", "sunspots", "--space", str(_tiny_yaml(tmp_path)), "--trials", "5", "--max-epochs", "3",
            "--patience", "5", "--batch-size", "64", "--no-progress", "--workers", "1", "--db", str(db), "--final-repeats", "0"]
    out = subprocess.run([*base, "--strategy", "random", "--eta", "3", "--study", "bad"], capture_output=True, text=True,
                         env=env(), timeout=120)
    assert out.returncode == 2 and "--scheduler" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    ok = subprocess.run([*base, "--strategy", "random", "--scheduler", "asha", "--min-epochs", "1", "--study", "ok"],
                        capture_output=True, text=True, env=env(), timeout=120)
    assert ok.returncode == 0, ok.stderr
    shown = subprocess.run([*SEQNAS, "show", "--study", "ok", "--db", str(db)], capture_output=True, text=True, env=env(), timeout=60)
    assert shown.returncode == 0 and "learning curve" in shown.stdout
    with sqlite3.connect(db) as c:
        opts = json.loads(c.execute("SELECT strategy_options FROM studies WHERE name='ok'").fetchone()[0])
        assert opts == {"scheduler": "asha", "min_epochs": 1}
        rungs = [json.loads(i)["rung_epochs"] for (i,) in c.execute("SELECT info FROM trials")]
        assert set(rungs) <= {1, 3} and 3 in rungs


def _tiny_yaml(tmp_path: Path) -> Path:
    from tests.conftest import TINY_SPACE_YAML

    p = tmp_path / "tiny.yaml"
    p.write_text(TINY_SPACE_YAML)
    return p


class _CountingPool(PoolExecutor):
    """A real 2-worker pool that notes how many trials were in flight each time the runner waited."""

    def __init__(self) -> None:
        super().__init__(workers=2)
        self.in_flight_at_wait: list[int] = []

    def wait(self, timeout=None):
        self.in_flight_at_wait.append(len(self._work))
        return super().wait(timeout)


def test_asha_keeps_two_pool_workers_busy(tmp_path):
    """Until the budget is spent, every time the runner waits for a result both workers have a trial."""
    storage = Storage(str(tmp_path / "busy.db"))
    space = space_from_dict(TINY_MACRO)
    settings = StudySettings(seed=0, objectives=("val_mse",), budget=Budget(trials=20), task=TASK, train=TRAIN)
    row = open_study(storage, "busy", space, "asha-evolution", {}, settings)
    pool = _CountingPool()
    try:
        strat = make_strategy("asha-evolution", space, seed=0, max_epochs=TRAIN.max_epochs)
        Runner(storage, row, strat, make_evaluator(space, settings), pool, settings.budget, 0).run()
    finally:
        pool.shutdown()
    recs = storage.trials(row)
    assert len(recs) == 20 and max(r.info["rung"] for r in recs) >= 1
    started_all = pool.in_flight_at_wait[: len(pool.in_flight_at_wait) - 2]  # the last waits: the budget is spent
    assert started_all and set(started_all) == {2}, pool.in_flight_at_wait


def test_the_selection_prefers_the_highest_rung_over_a_lucky_low_rung():
    """Hyperband's rule: an architecture trained further beats a lower rung's value, however low; within a rung the
    lowest value wins (earliest on ties); an architecture is ranked once, at its highest rung."""
    from seqnas.space.base import Arch
    from seqnas.trial import best_first

    a, b, c, d = (Arch({"x": i}) for i in range(4))

    def rec(n, arch, epochs, v, parent=None):
        return TrialRecord(number=n, state=TrialState.COMPLETE, arch=arch, values={"val_mse": v},
                           info={"rung_epochs": epochs, "parent": parent})

    recs = [rec(0, a, 1, 0.05), rec(1, b, 1, 0.50), rec(2, c, 1, 0.40), rec(3, d, 1, 0.45),
            rec(4, b, 3, 0.30, parent=1), rec(5, c, 3, 0.30, parent=2), rec(6, c, 9, 0.35, parent=5)]
    assert [r.number for r in best_first(recs)] == [6, 4, 0, 3]


# -- BOHB and evolution learn from the rungs ---------------------------------------------------------------
def test_bohb_fits_on_the_highest_rung_with_enough_results():
    space = space_from_dict({"params": [{"name": "x", "type": "int", "low": 0, "high": 1000}]})
    s = make_strategy("bohb", space, seed=0, options={"inner_options": {"n_startup_trials": 3}}, max_epochs=9)
    inner = s.inner
    records = []
    for i in range(14):
        p = s.ask()
        r = TrialRecord(number=i, state=TrialState.COMPLETE, arch=p.arch, info=p.info,
                        values={"val_mse": p.arch["x"] / 1000 + 1.0 / p.info["rung_epochs"]})
        s.tell(r)
        records.append(r)
    # The rung the model should fit on, from the results told (not from the strategy's own bookkeeping):
    # the highest with at least n_startup_trials (3) of them.
    told: dict[int, list[TrialRecord]] = {}
    for r in records:
        told.setdefault(r.info["rung"], []).append(r)
    best_rung = max(k for k, rs in told.items() if len(rs) >= 3)
    assert best_rung >= 1  # 14 results: some rung above the first has 3, so the choice is not the trivial one
    expected = {inner._number[r.arch.key]: [r.values["val_mse"]] for r in told[best_rung]}
    assert len(expected) == len(told[best_rung]) >= 3
    assert inner._rung_view() == expected


def test_evolution_ranks_a_promoted_member_by_its_highest_rung():
    space = space_from_dict({"params": [{"name": "x", "type": "int", "low": 0, "high": 1000}]})
    evo = make_strategy("evolution", space, seed=0)
    p = evo.ask()
    low = TrialRecord(number=0, state=TrialState.COMPLETE, arch=p.arch, values={"val_mse": 5.0}, info={"rung": 0})
    evo.tell(low)
    high = TrialRecord(number=1, state=TrialState.COMPLETE, arch=p.arch, values={"val_mse": 1.0}, info={"rung": 1})
    evo.update(high)
    assert evo.population == [high]


# -- a trial cannot poison a study ---------------------------------------------------------------------
POISON = """
import os
import seqnas

def objective(arch):
    if arch["x"] == {poisoned}:
        os._exit(9)  # what a segfault or the OOM killer does to the process running the trial
    return float(arch["x"])

seqnas.search({{"params": [{{"name": "x", "type": "int", "low": 0, "high": 50}}]}}, objective=objective, strategy="random",
              trials=5, seed=1, study="p", db={db!r}, progress=False, load_if_exists=True)
"""


def test_a_trial_that_kills_the_process_fails_after_three_attempts(tmp_path):
    """The inline executor runs a user objective in the driver: a trial that kills it would kill every resume."""
    db = tmp_path / "poison.db"
    # The architecture of the study's third trial (random search is deterministic for a seed) is the poison.
    probe = seqnas.search({"params": [{"name": "x", "type": "int", "low": 0, "high": 50}]}, objective=lambda a: float(a["x"]),
                          strategy="random", trials=3, seed=1, progress=False, db=str(tmp_path / "probe.db"))
    script = tmp_path / "poison.py"
    script.write_text(POISON.format(poisoned=probe.records[2].arch["x"], db=str(db)))
    codes = [subprocess.run([sys.executable, str(script)], env=env(), timeout=120, capture_output=True).returncode for _ in range(4)]
    assert codes == [9, 9, 9, 0]
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT number, state, attempts, error FROM trials ORDER BY number").fetchall()
    assert [r[1] for r in rows] == ["COMPLETE", "COMPLETE", "FAILED", "COMPLETE", "COMPLETE"]
    assert rows[2][2] == 3 and "ended 3 times" in rows[2][3]


# -- schema v2 and the v1 database --------------------------------------------------------------------
V1 = Path(__file__).parent / "fixtures" / "v1.db"
V1_COLUMNS = ("number, kind, state, arch, arch_hash, info, value_json, metrics, error, started_at, finished_at, duration, "
              "told_before, tell_seq, attempts")


def test_a_v1_database_is_backed_up_migrated_shown_and_resumed(tmp_path):
    db = tmp_path / "old.db"
    db.write_bytes(V1.read_bytes())
    with sqlite3.connect(db) as c:
        before = c.execute(f"SELECT {V1_COLUMNS} FROM trials ORDER BY number").fetchall()
        assert c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)
    shown = subprocess.run([*SEQNAS, "show", "--study", "v1-study", "--db", str(db)], capture_output=True, text=True,
                           env=env(), timeout=60)
    assert shown.returncode == 0, shown.stderr
    backup = tmp_path / "old.db.v1.bak"
    with sqlite3.connect(backup) as c:  # the copy is the database as it was, schema 1
        assert c.execute(f"SELECT {V1_COLUMNS} FROM trials ORDER BY number").fetchall() == before
        assert c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("2",)
        assert c.execute(f"SELECT {V1_COLUMNS} FROM trials ORDER BY number").fetchall() == before
        assert c.execute("SELECT curve FROM trials").fetchall() == [("[]",)] * 4
    res = seqnas.resume("v1-study", str(db))  # the trial a crash left RUNNING runs again
    assert [r.state for r in res.records] == [TrialState.COMPLETE] * 4
    with sqlite3.connect(db) as c:
        assert c.execute(f"SELECT {V1_COLUMNS} FROM trials WHERE number < 3 ORDER BY number").fetchall() == before[:3]
        assert c.execute("SELECT attempts FROM trials WHERE number=3").fetchone() == (2,)
        assert len(json.loads(c.execute("SELECT curve FROM trials WHERE number=3").fetchone()[0])) >= 1


def test_a_database_from_a_newer_seqnas_is_refused_in_one_line(tmp_path):
    db = tmp_path / "new.db"
    Storage(str(db)).close()
    with sqlite3.connect(db) as c:
        c.execute("UPDATE meta SET value='7' WHERE key='schema_version'")
    out = subprocess.run([*SEQNAS, "show", "--study", "x", "--db", str(db)], capture_output=True, text=True, env=env(), timeout=60)
    assert out.returncode == 2 and "newer seqnas" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_failed_results_carry_no_checkpoint_and_are_never_promoted():
    space = space_from_dict({"params": [{"name": "x", "type": "int", "low": 0, "high": 1000}]})
    s = make_strategy("random", space, seed=0, options={"scheduler": "asha"}, max_epochs=9)
    failed: set[str] = set()
    for i in range(80):
        p = s.ask()
        if p.info["parent"] is not None:
            assert p.arch.key not in failed
        bad = p.arch["x"] % 2 == 0
        if bad:
            failed.add(p.arch.key)
        s.tell(TrialRecord(number=i, state=TrialState.FAILED if bad else TrialState.COMPLETE, arch=p.arch, info=p.info,
                           values={} if bad else {"val_mse": math.log1p(p.arch["x"])}))
    assert Result.failed("x").checkpoint is None


# -- kill and resume -----------------------------------------------------------------------------------
def _rows(db: Path) -> list[tuple]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as c:
            return c.execute("SELECT number, state, arch_hash, info, value_json, metrics, curve FROM trials ORDER BY number").fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []


def _kill_when(cmd: list[str], db: Path, running_promotion: bool, timeout: float = 120.0) -> None:
    """Start ``cmd``; SIGKILL it as soon as a trial of the wanted kind is RUNNING (a promotion: a rung that
    continues a checkpoint; else a first rung)."""
    import os
    import signal
    import time

    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            running = [json.loads(r[3]) for r in _rows(db) if r[1] == "RUNNING"]
            if any((i.get("parent") is not None) == running_promotion for i in running):
                break
            time.sleep(0.005)
    finally:
        assert proc.poll() is None, "the study ended before the moment to kill it"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.slow
def test_kill_during_a_rung_and_during_a_promotion_then_resume_loses_and_repeats_nothing(tmp_path):
    db = tmp_path / "kill.db"
    space = _tiny_yaml(tmp_path)
    cmd = [*SEQNAS, "search", "--task", "sunspots", "--space", str(space), "--strategy", "hyperband", "--trials", "16",
           "--seed", "4", "--max-epochs", "9", "--patience", "20", "--batch-size", "64", "--workers", "1", "--no-progress",
           "--study", "k", "--db", str(db), "--final-repeats", "0"]
    _kill_when(cmd, db, running_promotion=False)
    first = [r for r in _rows(db) if r[1] != "RUNNING"]
    _kill_when([*cmd, "--load-if-exists"], db, running_promotion=True)
    rows = _rows(db)
    assert [r for r in rows if r[0] in {f[0] for f in first}] == first  # finished rungs are kept as they were
    promoted = [r for r in rows if r[1] == "RUNNING" and json.loads(r[3])["parent"] is not None]
    assert promoted
    parent = json.loads(promoted[0][3])["parent"]
    ckdir = Path(f"{db}.checkpoints") / "study-1"
    assert (ckdir / f"{parent}.pt").exists()  # what the killed promotion continues is still there
    done = subprocess.run([*SEQNAS, "resume", "--study", "k", "--db", str(db), "--no-progress", "--workers", "1"],
                          env=env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    after = _rows(db)
    assert [r for r in after if r[0] in {r[0] for r in rows if r[1] != "RUNNING"}] == [r for r in rows if r[1] != "RUNNING"]
    # Nothing promoted or trained twice, and the study is the one an uninterrupted run gives.
    keys = [(r[2], json.loads(r[3])["rung"]) for r in after]
    assert len(keys) == len(set(keys)) == 16
    whole = _study(str(tmp_path / "whole.db"), "hyperband", 16)
    assert [(r.arch.key, r.info["rung"]) for r in whole.records] == keys
    assert [r.value for r in whole.records] == pytest.approx([json.loads(r[4])["val_mse"] for r in after], rel=1e-9)
    assert [r.curve for r in whole.records] == [json.loads(r[6]) for r in after]
    assert not list(ckdir.glob(".*.tmp")) and len(list(ckdir.glob("*.pt"))) == 1
