"""The tabular benchmark: lookups return the recorded trainings (values, curves, simulated CPU-seconds),
multi-fidelity strategies see and pay for only the epochs they ask for, and a race on a slice of the
table runs in seconds."""

from __future__ import annotations

import re

import pytest

import seqnas
from seqnas.errors import ConfigError, TaskError
from seqnas.evaluation import TrainBudget
from seqnas.space import get_space, space_from_dict
from seqnas.space.base import Arch
from seqnas.storage import Storage
from seqnas.study import StudySettings
from seqnas.tabular import LookupEvaluator, load_table, tasks
from seqnas.tabular.table import MAX_EPOCHS, PATIENCE
from seqnas.trial import TrialState

TRAIN = TrainBudget(max_epochs=MAX_EPOCHS, patience=PATIENCE)
ARCH = Arch({"depth": 1, "cell1": "gru", "hidden1": 16, "lr": 0.01})
# A slice of the table's space: 8 one-layer architectures.
SLICE = {"family": "rnn-macro", "params": {"depth": [1], "cell1": ["gru", "lstm"], "hidden1": [16, 64], "lr": [0.003, 0.01]}}


def test_the_table_covers_its_space_on_every_task_with_three_seeds():
    space = get_space("rnn-macro-272")
    keys = {a.key for a in space.grid()}
    assert len(keys) == 272
    assert tasks() == ["co2", "elnino", "sunspots"]
    for task in tasks():
        table = load_table()[task]
        assert set(table) == keys
        assert all([r.seed for r in rows] == [0, 1, 2] for rows in table.values())


def test_a_lookup_returns_the_recorded_training():
    ev = LookupEvaluator("bench:sunspots", TRAIN)
    picked = set()
    for seed in range(12):
        row = ev.row(ARCH, seed)
        r = ev(ARCH, seed)
        assert r.state is TrialState.COMPLETE
        assert r.values == {"val_mse": row.metrics["val_mse"]}
        assert r.metrics["test_mse"] == row.metrics["test_mse"] and r.metrics["params"] == row.metrics["params"]
        assert r.metrics["cpu_seconds"] == pytest.approx(row.metrics["cpu_seconds"])  # simulated time: the recorded one
        assert r.curve == list(row.curve) and min(r.curve) == pytest.approx(r.values["val_mse"], rel=1e-5)
        picked.add(row.seed)
    assert picked == {0, 1, 2}  # the study seed picks a recorded training seed: the noise between seeds stays


def test_a_rung_sees_and_pays_for_only_its_epochs_and_a_promotion_only_for_the_new_ones():
    ev = LookupEvaluator("bench:sunspots", TRAIN)
    row = ev.row(ARCH, 0)
    per_epoch = row.metrics["cpu_seconds"] / len(row.curve)
    low = ev(ARCH, 0, epochs=3)
    assert low.curve == list(row.curve[:3]) and low.values["val_mse"] == min(row.curve[:3])
    assert low.metrics["cpu_seconds"] == pytest.approx(3 * per_epoch)
    assert "test_mse" not in low.metrics  # the recorded test error belongs to the finished training
    high = ev(ARCH, 0, epochs=9, resume=low.checkpoint)
    assert high.curve == list(row.curve[:9]) and high.metrics["cpu_seconds"] == pytest.approx(6 * per_epoch)
    full = ev(ARCH, 0, epochs=MAX_EPOCHS, resume=high.checkpoint)
    assert full.metrics["test_mse"] == row.metrics["test_mse"]
    assert full.metrics["cpu_seconds"] == pytest.approx((len(row.curve) - 9) * per_epoch)


def test_what_the_table_cannot_answer_is_refused_in_one_line():
    with pytest.raises(ConfigError, match="--max-epochs 30 --patience 5"):
        LookupEvaluator("bench:sunspots", TrainBudget(max_epochs=10, patience=5))
    with pytest.raises(TaskError, match="bench:"):
        LookupEvaluator("bench:mackey-glass", TRAIN)
    with pytest.raises(ConfigError, match="test_mse|not in the benchmark"):
        LookupEvaluator("bench:sunspots", TRAIN, objectives=("val_mase",))
    wide = Arch({"depth": 1, "cell1": "gru", "hidden1": 32, "lr": 0.01})
    r = LookupEvaluator("bench:sunspots", TRAIN)(wide, 0)
    assert r.state is TrialState.FAILED and "not in the benchmark table" in (r.error or "")
    with pytest.raises(ConfigError, match="rnn-macro-272"):
        seqnas.search("rnn-macro", task="bench:sunspots", strategy="random", trials=2, train=TRAIN, progress=False)


def recorded(task: str) -> dict[tuple, list[dict[str, str]]]:
    """The shipped table read here with the csv module (not through seqnas.tabular): (depth, cell1, hidden1, cell2,
    hidden2, residual, lr) -> its rows, as strings; a column a one-layer architecture does not have is None."""
    import csv
    import gzip

    from seqnas.tabular.table import TABLE_PATH

    out: dict[tuple, list[dict[str, str]]] = {}
    with gzip.open(TABLE_PATH, "rt", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["task"] == task:
                out.setdefault(recorded_key(row), []).append(row)
    return out


def recorded_key(a) -> tuple:
    def get(k, cast):
        v = a.get(k)
        return None if v in (None, "") else cast(v)

    return (get("depth", int), get("cell1", str), get("hidden1", int), get("cell2", str), get("hidden2", int),
            get("residual", lambda v: str(v) == "True"), get("lr", float))


def test_the_default_lstm_baseline_is_in_the_table_and_dropout_zero_is_the_same_architecture():
    from seqnas.baselines import default_lstm_arch

    arch = default_lstm_arch()
    assert arch["dropout"] == 0.0  # the baseline sets dropout; the table has no dropout column (its default, 0)
    rows = recorded("co2")[(2, "lstm", 64, "lstm", 64, False, 0.003)]
    assert sorted(int(r["seed"]) for r in rows) == [0, 1, 2]
    ev = LookupEvaluator("bench:co2", TRAIN)
    without = Arch({k: v for k, v in arch.items() if k != "dropout"})
    seen = set()
    for seed in range(8):
        r = ev(arch, seed)
        assert r.state is TrialState.COMPLETE
        (row,) = [row for row in rows if float(row["val_mse"]) == r.values["val_mse"]]  # one recorded training
        assert r.metrics["test_mse"] == float(row["test_mse"]) and r.metrics["params"] == float(row["params"])
        assert r.curve == [float(v) for v in row["curve"].split()]
        assert r.metrics["cpu_seconds"] == pytest.approx(float(row["cpu_seconds"]))
        same = ev(without, seed)  # the same architecture without its default dropout: the same training
        assert (same.values, same.metrics, same.curve) == (r.values, r.metrics, r.curve)
        seen.add(row["seed"])
    assert len(seen) >= 2  # the study seed picks among the recorded trainings
    dropped = ev(Arch({**arch, "dropout": 0.2}), 0)  # another dropout is another architecture, not in the table
    assert dropped.state is TrialState.FAILED and "not in the benchmark table" in (dropped.error or "")


def test_a_race_on_a_slice_of_the_table_runs_and_its_numbers_are_the_recorded_ones(tmp_path):
    db = str(tmp_path / "race.db")
    out = seqnas.compare(space_from_dict(SLICE), task="bench:sunspots", strategies=["random", "evolution", "hyperband"],
                         seeds=2, cpu_seconds=6, train={"max_epochs": MAX_EPOCHS, "patience": PATIENCE}, final_repeats=2,
                         db=db, out=str(tmp_path / "report"), progress=False)
    assert not out.errors
    assert set(out.table["Strategy"]) >= {"random", "evolution", "hyperband", "baseline: default LSTM"}
    ev = LookupEvaluator("bench:sunspots", TRAIN)
    storage = Storage(db, create=False)
    try:
        studies = [row for row in map(storage.get_study, storage.study_names()) if row.strategy in ("random", "hyperband")]
        assert studies
        for row in studies:
            seed = StudySettings.from_json(row.settings).seed
            for r in storage.trials(row):
                if r.kind == "arch" and r.state is TrialState.COMPLETE:
                    again = ev(r.arch, seed, epochs=r.info.get("rung_epochs"))
                    assert r.values == again.values and r.curve == again.curve
    finally:
        storage.close()


def test_the_cli_searches_the_table(tmp_path):
    from tests.cli_helpers import run

    db = str(tmp_path / "cli.db")
    done = run(["search", "--task", "bench:co2", "--space", "rnn-macro-272", "--strategy", "hyperband", "--cpu-seconds", "20",
                "--max-epochs", "30", "--patience", "5", "--final-repeats", "1", "--study", "t", "--db", db, "--no-progress"])
    assert done.returncode == 0, done.stderr
    # "retrained 1 times ...", or "retrained (trial #N, best of the top candidates) 1 times ..." where the selection is
    # not the search's best (the strategy's own CPU is charged, so how many trials fit varies).
    assert "task=bench:co2" in done.stdout
    assert re.search(r"retrained( \(trial #\d+, best of the top candidates\))? 1 times with fresh seeds", done.stdout)
    # What the study holds: every trial is a recorded training of its architecture (read here from the shipped
    # file), cut at its rung, charged the recorded CPU-seconds of the epochs it added; the simulated CPU ends it at 20.
    table = recorded("co2")
    storage = Storage(db, create=False)
    try:
        recs = [r for r in storage.trials(storage.get_study("t")) if r.kind == "arch"]
    finally:
        storage.close()
    assert recs and all(r.state is TrialState.COMPLETE for r in recs)
    assert {r.info["rung_epochs"] for r in recs} == {1, 3, 10, 30} and any(r.info["parent"] is not None for r in recs)
    by_number = {r.number: r for r in recs}
    for r in recs:
        rows = table[recorded_key(r.arch)]
        curves = [[float(v) for v in row["curve"].split()] for row in rows]
        (i,) = [i for i, c in enumerate(curves) if r.curve == c[: r.info["rung_epochs"]]]  # one recorded training
        assert r.values["val_mse"] == (float(rows[i]["val_mse"]) if len(r.curve) == len(curves[i]) else min(r.curve))
        before = 0 if r.info["parent"] is None else len(by_number[r.info["parent"]].curve)
        per_epoch = float(rows[i]["cpu_seconds"]) / len(curves[i])
        assert r.metrics["cpu_seconds"] == pytest.approx(per_epoch * (len(r.curve) - before))
    cost = {r.number: r.metrics["cpu_seconds"] + r.metrics["strategy_cpu_seconds"] for r in recs}
    assert sum(cost.values()) >= 20
    for r in recs:  # trials run two at a time (a worker per core): what had finished when each one started
        spent = sum(cost[u.number] for u in recs if u.finished_at <= r.started_at)
        assert spent < 20, f"trial {r.number} started with {spent} CPU-s charged, past the budget of 20"
    bad = run(["search", "--task", "bench:co2", "--strategy", "random", "--trials", "2", "--max-epochs", "30", "--patience", "5",
               "--study", "u", "--db", db, "--no-progress"])
    assert bad.returncode == 2 and "rnn-macro-272" in bad.stderr and "Traceback" not in bad.stderr
