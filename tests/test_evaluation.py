"""The evaluator: same seed same numbers, and every failure becomes a FAILED result with its reason."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import seqnas.evaluation.evaluator as evaluator_module
from seqnas.evaluation import METRICS, ObjectiveEvaluator, TaskEvaluator, TrainBudget, trial_seed
from seqnas.space import Arch
from seqnas.tasks import TaskSpec
from seqnas.trial import TrialState
from tests.conftest import TINY_TRAIN

TASK = TaskSpec("mackey-glass", window=12, horizon=2)
ARCH = Arch({"depth": 2, "cell1": "gru", "hidden1": 8, "cell2": "lstm", "hidden2": 8, "residual": True, "dropout": 0.1,
             "lr": 0.01})


def test_same_seed_gives_the_same_numbers():
    ev = TaskEvaluator(TASK, "rnn-macro", TINY_TRAIN)
    a, b = ev(ARCH, 7), ev(ARCH, 7)
    assert a.state is TrialState.COMPLETE and a.error is None
    for m in ("val_mse", "test_mse", "params", "epochs", "best_epoch"):
        assert a.metrics[m] == b.metrics[m], m
    assert a.values == b.values == {"val_mse": a.metrics["val_mse"]}
    assert set(METRICS) <= set(a.metrics)
    assert a.metrics["epochs"] <= TINY_TRAIN.max_epochs and 1 <= a.metrics["best_epoch"] <= a.metrics["epochs"]
    assert a.metrics["latency_ms"] > 0 and a.metrics["train_seconds"] > 0 and a.metrics["cpu_seconds"] > 0
    assert torch.get_num_threads() == 1  # one torch thread per evaluation
    c = ev(ARCH, 8)
    assert c.metrics["val_mse"] != a.metrics["val_mse"]  # the seed matters
    assert c.metrics["params"] == a.metrics["params"]


def test_early_stopping_and_the_best_epoch_weights():
    budget = TrainBudget(max_epochs=30, patience=1, batch_size=64)
    r = TaskEvaluator(TASK, "rnn-macro", budget)(Arch({"depth": 1, "cell1": "rnn_tanh", "hidden1": 4, "dropout": 0.0, "lr": 0.01}), 0)
    assert r.state is TrialState.COMPLETE
    # With patience 1 training stops one epoch after the last improvement, and keeps the best epoch's weights.
    assert r.metrics["epochs"] == min(30, r.metrics["best_epoch"] + 1)


def test_multiple_objectives_are_reported_as_values():
    r = TaskEvaluator(TASK, "rnn-macro", TINY_TRAIN, objectives=("val_mse", "params"))(ARCH, 0)
    assert list(r.values) == ["val_mse", "params"] and r.values["params"] == r.metrics["params"]


def test_trial_seed_is_per_architecture_and_per_study_seed():
    other = Arch({**ARCH, "lr": 0.003})
    assert trial_seed(0, ARCH) == trial_seed(0, Arch(dict(ARCH)))
    assert trial_seed(0, ARCH) != trial_seed(0, other) and trial_seed(0, ARCH) != trial_seed(1, ARCH)
    assert 0 <= trial_seed(123, ARCH) < 2**32


# -- failure paths: a family whose models misbehave on purpose -----------------------------------------
class _Model(nn.Module):
    def __init__(self, n_features: int, horizon: int, mode: str) -> None:
        super().__init__()
        self.lin = nn.Linear(n_features, horizon)
        self.mode = mode
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        out = self.lin(x[:, -1, :])
        if self.mode == "nan":
            return out * float("nan")
        if self.mode == "inf":
            return out + float("inf")
        if self.mode == "nan-in-eval" and not self.training:
            return out * float("nan")
        if self.mode == "raise-in-training" and self.calls == 3:
            raise RuntimeError("out of memory (simulated)")
        return out


@pytest.fixture
def misbehaving(plant_family):
    def builder(arch, n_features, horizon):
        if arch["mode"] == "raise-in-build":
            raise ValueError("cannot build this (simulated)")
        return _Model(n_features, horizon, arch["mode"])

    plant_family("qa-misbehaving", builder)
    return TaskEvaluator(TASK, "qa-misbehaving", TINY_TRAIN)


@pytest.mark.parametrize("mode, reason", [
    ("nan", "diverged: training loss became nan in epoch 1"),
    ("inf", "diverged: training loss became inf in epoch 1"),
    ("nan-in-eval", "diverged: validation loss became nan in epoch 1"),
    ("raise-in-build", "ValueError: cannot build this (simulated)"),
    ("raise-in-training", "RuntimeError: out of memory (simulated)"),
])
def test_a_misbehaving_model_gives_a_failed_trial_with_the_reason(misbehaving, mode, reason):
    r = misbehaving(Arch({"mode": mode}), 0)
    assert r.state is TrialState.FAILED
    assert r.error is not None and r.error.startswith(reason), r.error
    assert "\n" not in r.error and r.values == {}


def test_a_working_model_of_the_same_family_completes(misbehaving):
    assert misbehaving(Arch({"mode": "fine"}), 0).state is TrialState.COMPLETE


def test_max_params_fails_without_training(monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("trained a model over the parameter limit")

    monkeypatch.setattr(evaluator_module, "train", no_training)
    r = TaskEvaluator(TASK, "rnn-macro", TINY_TRAIN, max_params=50)(ARCH, 0)
    assert r.state is TrialState.FAILED
    assert r.error is not None and r.error.startswith("constraint: ") and "--max-params 50" in r.error
    assert r.metrics["params"] > 50 and r.metrics.get("constraint") is True and "val_mse" not in r.metrics


def test_a_model_under_max_params_trains():
    r = TaskEvaluator(TASK, "rnn-macro", TINY_TRAIN, max_params=10**6)(ARCH, 0)
    assert r.state is TrialState.COMPLETE


def test_a_missing_task_file_is_a_failed_trial_not_a_crash(tmp_path):
    r = TaskEvaluator(TaskSpec("csv", csv=str(tmp_path / "gone.csv"), target="y"), "rnn-macro", TINY_TRAIN)(ARCH, 0)
    assert r.state is TrialState.FAILED and "does not exist" in (r.error or "")


@pytest.mark.parametrize("fn, reason", [
    (lambda a: float("nan"), "non-finite objective value"),
    (lambda a: float("-inf"), "non-finite objective value"),
    (lambda a: 1 / 0, "ZeroDivisionError"),
    (lambda a: "abc", "ValueError"),
])
def test_objective_failures(fn, reason):
    r = ObjectiveEvaluator(fn)(Arch({"a": 1}), 0)
    assert r.state is TrialState.FAILED and reason in (r.error or "")


def test_objective_values_and_mappings():
    r = ObjectiveEvaluator(lambda a: {"err": a["a"] * 2, "size": 3}, objectives=("err", "size"))(Arch({"a": 2}), 0)
    assert r.state is TrialState.COMPLETE and r.values == {"err": 4.0, "size": 3.0}
    assert ObjectiveEvaluator(lambda a: 1.5)(Arch({"a": 2}), 0).values == {"value": 1.5}
