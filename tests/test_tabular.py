"""The tabular benchmark: lookups return the recorded trainings (values, curves, simulated CPU-seconds),
multi-fidelity strategies see and pay for only the epochs they ask for, and a race on a slice of the
table runs in seconds."""

from __future__ import annotations

import math

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


def test_the_default_lstm_baseline_is_in_the_table_and_dropout_zero_is_the_same_architecture():
    from seqnas.baselines import default_lstm_arch

    r = LookupEvaluator("bench:co2", TRAIN)(default_lstm_arch(), 0)
    assert r.state is TrialState.COMPLETE and math.isfinite(r.metrics["test_mse"])


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
    bad = run(["search", "--task", "bench:co2", "--strategy", "random", "--trials", "2", "--max-epochs", "30", "--patience", "5",
               "--study", "u", "--db", db, "--no-progress"])
    assert bad.returncode == 2 and "rnn-macro-272" in bad.stderr and "Traceback" not in bad.stderr
