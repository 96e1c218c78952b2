"""The race protocol's pieces: honest CPU accounting, retraining the selection, baselines, random search's prior."""

from __future__ import annotations

import subprocess
from collections import Counter

import numpy as np
import pytest
from scipy import stats

import seqnas
from seqnas import baselines
from seqnas.evaluation import TaskEvaluator
from seqnas.execution.inline import InlineExecutor
from seqnas.final import STATE_KEY, final_seeds
from seqnas.runner import Runner
from seqnas.space import space_from_dict
from seqnas.storage import Storage
from seqnas.strategies.random_search import RandomSearch
from seqnas.study import Budget, StudySettings, make_evaluator, open_study
from seqnas.tasks import load_task, task_spec
from tests.conftest import SEQNAS, TINY_MACRO, TINY_TRAIN, TINY_TRAIN_ARGS, burn_cpu

LINE = space_from_dict({"params": {"a": list(range(200))}})


def _failing_objective(arch) -> float:
    burn_cpu(0.05)
    raise RuntimeError("planted failure")


def test_a_failed_trial_is_charged_its_cpu_seconds(tmp_path):
    # Before, a failure was charged 0 CPU-seconds: this search would have run all 200 architectures.
    result = seqnas.search(LINE, objective=_failing_objective, strategy="random", cpu_seconds=0.3, seed=0)
    failed = [r for r in result.records if r.kind == "arch"]
    assert all(r.state.value == "FAILED" for r in failed)
    assert all(r.metrics["cpu_seconds"] >= 0.05 for r in failed)
    assert 6 <= len(failed) <= 8  # the budget ends it: 0.3 CPU-s / 0.05 per failure (+ the one that crosses it)


def test_a_task_trial_that_fails_reports_what_it_ran(tiny_macro):
    from seqnas.space import Arch

    ev = TaskEvaluator(task_spec("sunspots"), "rnn-macro", TINY_TRAIN, max_params=1)
    arch = tiny_macro.validate(Arch({"depth": 1, "cell1": "gru", "hidden1": 8, "lr": 0.01}))
    res = ev(arch, 0)
    assert res.state.value == "FAILED" and res.error.startswith("constraint") and res.metrics["cpu_seconds"] > 0


class _SlowAsker(RandomSearch):
    """Random search whose own work (ask) costs 0.03 CPU-seconds, like a model-based strategy's fitting."""

    name = "slow"

    def _propose(self, rng):
        burn_cpu(0.03)
        return super()._propose(rng)


def _free(arch) -> float:
    return float(arch["a"])


@pytest.mark.parametrize("charge", [True, False])
def test_strategy_overhead_is_measured_and_charged_to_the_cpu_budget(tmp_path, charge):
    storage = Storage(str(tmp_path / "runs.db"))
    try:
        settings = StudySettings(seed=0, objectives=("value",), budget=Budget(trials=40, cpu_seconds=0.3, charge_strategy=charge))
        row = open_study(storage, "s", LINE, "slow", {}, settings)
        Runner(storage, row, _SlowAsker(LINE, seed=0, objectives=("value",)), make_evaluator(LINE, settings, _free),
               InlineExecutor(), settings.budget, 0).run()
        records = storage.trials(row)
    finally:
        storage.close()
    overhead = [r.metrics["strategy_cpu_seconds"] for r in records]
    assert all(x >= 0.025 for x in overhead[1:])  # each trial carries the ask that preceded it (and its tell)
    if charge:
        assert 9 <= len(records) <= 12  # 0.3 CPU-s of asks at 0.03 each end the study
    else:
        assert len(records) == 40  # not charged: the trial budget ends it, the overhead is still recorded


def test_search_retrains_the_best_architecture_and_show_reports_it(tmp_path, env):
    db = str(tmp_path / "runs.db")
    space = space_from_dict(TINY_MACRO)
    result = seqnas.search(space, task="sunspots", strategy="random", trials=3, seed=1, train=TINY_TRAIN, db=db,
                           study="s", final_repeats=2, final_top=1)
    final = result.final
    assert final is not None and final.number == result.best_trial.number and len(final.test) == 2
    storage = Storage(db, create=False)
    try:
        runs = storage.get_state(storage.get_study("s"), STATE_KEY)["runs"][result.best_arch.key]
    finally:
        storage.close()
    assert sorted(runs) == sorted(str(s) for s in final_seeds(1, 2))
    # Retrained with other seeds than the search's: not the search's single value.
    assert final.val_mse != pytest.approx(result.best_value)
    # More repeats later run only what is missing: the 2 stored trainings are kept exactly.
    more = seqnas.api.retrain("s", db, repeats=3, top=1)
    assert more.final is not None and len(more.final.test) == 3 and more.final.test[:2] == final.test
    shown = subprocess.run([*SEQNAS, "show", "--study", "s", "--db", db], capture_output=True, text=True, env=env, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "retrained 3 times with fresh seeds" in shown.stdout
    # The default selection retrains the top 3 and keeps the best by mean retrained validation MSE.
    top3 = seqnas.api.retrain("s", db, repeats=3)
    cands = top3.final.candidates
    assert len(cands) == 3 and top3.final.number == min(cands, key=lambda c: c["val_mse"])["number"]
    assert {c["number"] for c in cands} == {r.number for r in sorted(result.completed, key=lambda r: r.value)[:3]}


def test_search_cli_retrains_by_default_and_final_repeats_0_turns_it_off(tmp_path, env):
    db = str(tmp_path / "runs.db")
    base = [*SEQNAS, "search", "--task", "sunspots", "--space", "rnn-macro", "--strategy", "random", "--trials", "1",
            *TINY_TRAIN_ARGS, "--db", db, "--no-progress", "--option", "prior=architecture"]
    default = subprocess.run([*base, "--study", "default"], capture_output=True, text=True, env=env, timeout=300)
    assert default.returncode == 0, default.stderr
    assert "retrained 3 times with fresh seeds" in default.stdout and "not retrained" not in default.stdout
    off = subprocess.run([*base, "--study", "off", "--final-repeats", "0"], capture_output=True, text=True, env=env, timeout=120)
    assert off.returncode == 0, off.stderr
    assert "not retrained" in off.stdout and "retrained 3 times" not in off.stdout
    # What is stored: the default run's one architecture trained again with the 3 seeds a retraining uses (not the
    # search's), each with its validation and test MSE; nothing for the run that turned it off.
    storage = Storage(db, create=False)
    try:
        (trial,) = [r for r in storage.trials(storage.get_study("default")) if r.kind == "arch"]
        runs = storage.get_state(storage.get_study("default"), STATE_KEY)["runs"]
        assert list(runs) == [trial.arch.key]
        assert sorted(runs[trial.arch.key]) == sorted(str(s) for s in final_seeds(0, 3))
        assert all(m.get("error") is None and m["val_mse"] > 0 and m["test_mse"] > 0 for m in runs[trial.arch.key].values())
        assert not (storage.get_state(storage.get_study("off"), STATE_KEY) or {}).get("runs")
    finally:
        storage.close()
    bad = subprocess.run([*base, "--study", "bad", "--final-repeats", "-1"], capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "--final-repeats must be a non-negative integer" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_baselines_on_the_race_splits():
    data = load_task(task_spec("sunspots"))
    p = baselines.persistence(data)
    t = data.columns.index(data.target)
    expect = float(np.mean((data.X_test[:, -1, t][:, None] - data.y_test) ** 2))
    assert p["test_mse"] == pytest.approx(expect)
    r = baselines.ridge(data)
    assert r["penalty"] in baselines.RIDGE_PENALTIES
    # The chosen penalty is the one with the lowest validation MSE; a tiny penalty is ordinary least squares.
    assert r["val_mse"] == min(baselines.ridge(data, (lam,))["val_mse"] for lam in baselines.RIDGE_PENALTIES)
    ols = baselines.ridge(data, (1e-10,))
    A = np.hstack([data.X_train.reshape(len(data.X_train), -1), np.ones((len(data.X_train), 1))]).astype(np.float64)
    W = np.linalg.lstsq(A, data.y_train.astype(np.float64), rcond=None)[0]
    Av = np.hstack([data.X_val.reshape(len(data.X_val), -1), np.ones((len(data.X_val), 1))])
    assert ols["val_mse"] == pytest.approx(float(np.mean((Av @ W - data.y_val) ** 2)), rel=1e-4)
    assert r["val_mse"] < p["val_mse"]  # on sunspots a linear model beats persistence
    arch = baselines.default_lstm_arch()
    assert arch["cell1"] == arch["cell2"] == "lstm" and arch["hidden1"] == arch["hidden2"] == 64


COND = space_from_dict({"params": [
    {"name": "depth", "type": "categorical", "choices": [1, 2]},
    {"name": "a", "type": "categorical", "choices": [0, 1]},
    {"name": "b", "type": "categorical", "choices": [0, 1, 2, 3], "condition": {"parent": "depth", "values": [2]}},
    {"name": "c", "type": "categorical", "choices": [0, 1, 2], "condition": {"parent": "depth", "values": [2]}},
]})  # 2 architectures of depth 1, 24 of depth 2


def _counts(prior: str, n: int) -> Counter:
    s = RandomSearch(COND, seed=0, prior=prior)
    rng = np.random.default_rng(0)
    return Counter(s._propose(rng).key for _ in range(n))  # raw draws, without the no-duplicates rule


def test_prior_architecture_is_uniform_over_distinct_architectures():
    n = 26 * 200
    arch = _counts("architecture", n)
    assert len(arch) == 26
    assert stats.chisquare(list(arch.values())).pvalue > 0.001
    # The default prior draws each decision uniformly: each depth-1 architecture 1/4 of the time, not 1/26.
    dec = _counts("decision", n)
    assert stats.chisquare([dec.get(k, 0) for k in arch]).pvalue < 1e-6


def test_prior_architecture_is_refused_on_a_continuous_space():
    space = space_from_dict({"params": {"x": {"type": "float", "low": 0.0, "high": 1.0}}})
    with pytest.raises(seqnas.errors.ConfigError, match="prior=architecture needs a space of finite choices"):
        RandomSearch(space, prior="architecture")
    with pytest.raises(seqnas.errors.ConfigError, match="prior must be one of"):
        RandomSearch(LINE, prior="nope")
