"""Failing trials: each becomes FAILED with a readable reason, counts as worst, and the study goes on."""

from __future__ import annotations

import io

import pytest
import torch
from rich.console import Console
from torch import nn

import seqnas
from seqnas.errors import ConfigError
from seqnas.show import render_study
from seqnas.space import Arch, space_from_dict
from seqnas.strategies import STRATEGIES, make_strategy
from seqnas.strategies.base import Strategy
from seqnas.trial import TrialRecord, TrialState
from tests.cli_helpers import run, sleepy, write_series_csv
from tests.conftest import TINY_TRAIN


def test_a_failed_trial_scores_worst():
    s = Strategy(space_from_dict({"params": {"a": [1, 2]}}), objectives=("val_mse",))
    failed = TrialRecord(0, TrialState.FAILED, Arch({"a": 1}), error="diverged")
    done = TrialRecord(1, TrialState.COMPLETE, Arch({"a": 2}), values={"val_mse": 1e300})
    assert s.score(failed) == float("inf") and s.score(done) == 1e300


def _flaky(arch) -> float:
    """Fails in three ways on most of the space; a smooth bowl elsewhere."""
    x = arch["x"]
    if x % 4 == 1:
        raise RuntimeError(f"cannot evaluate x={x}")
    if x % 4 == 2:
        return float("nan")
    if x % 4 == 3:
        return float("inf")
    return (x - 20) ** 2 / 100.0


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_goes_on_past_failing_trials(name, db):
    space = space_from_dict({"params": {"x": list(range(40)), "y": ["a", "b"]}})
    try:
        make_strategy(name, space, seed=0, objectives=("value",))
    except ConfigError as e:
        pytest.skip(f"strategy {name!r} does not search objective functions: {e}")
    r = seqnas.search(space, objective=_flaky, strategy=name, trials=16, seed=0, study=name, db=db)
    states = [t.state for t in r.records if t.kind == "arch"]
    assert len(states) == 16 and TrialState.RUNNING not in states
    failed = [t for t in r.records if t.state is TrialState.FAILED]
    assert failed, "the objective fails on 3/4 of the space"
    for t in failed:
        assert t.error and "\n" not in t.error
        assert ("cannot evaluate" in t.error) or ("non-finite objective" in t.error)
    assert r.best_trial is not None and r.best_trial.state is TrialState.COMPLETE
    assert r.best_value == min(t.value for t in r.records if t.state is TrialState.COMPLETE)


class _Explodes(nn.Module):
    """A model that builds (or not), trains (or not), or diverges, by architecture."""

    def __init__(self, n_features: int, horizon: int, how: str) -> None:
        super().__init__()
        self.lin = nn.Linear(n_features, horizon)
        self.how = how

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.lin(x[:, -1, :])
        if self.how == "nan":
            return out * float("nan")
        if self.how == "train-error" and self.training:
            raise RuntimeError("CUDA error: simulated failure while training")
        return out


def test_a_task_study_records_every_failure_and_show_lists_them(db, plant_family):
    def build(arch, n_features, horizon):
        if arch["how"] == "build-error":
            raise ValueError("no such layer (simulated)")
        return _Explodes(n_features, horizon, arch["how"])

    plant_family("qa-explodes", build)
    space = space_from_dict({"family": "rnn-macro", "params": {"how": ["fine", "nan", "build-error", "train-error"]}})
    space.family = "qa-explodes"
    r = seqnas.search(space, task="mackey-glass", window=8, horizon=2, strategy="grid", trials=10, seed=0, train=TINY_TRAIN,
                      study="boom", db=db)
    by_how = {t.arch["how"]: t for t in r.records}
    assert by_how["fine"].state is TrialState.COMPLETE
    assert by_how["nan"].error.startswith("diverged: training loss became nan")
    assert by_how["build-error"].error.startswith("ValueError: no such layer (simulated)")
    assert by_how["train-error"].error.startswith("RuntimeError: CUDA error: simulated failure while training")
    assert r.best_arch == {"how": "fine"}
    buf = io.StringIO()
    render_study(seqnas.load("boom", db), console=Console(file=buf, width=200))
    out = buf.getvalue()
    assert "1 complete, 3 failed" in out and "failed trials (3)" in out
    for reason in ("diverged: training loss became nan", "ValueError: no such layer", "RuntimeError: CUDA error"):
        assert reason in out


FAILING_SPACE = """\
family: rnn-macro
params:
  - {name: cell1, type: categorical, choices: [rnn_tanh, lstm]}
  - {name: hidden1, type: categorical, choices: [4, 2048]}
  - {name: lr, type: categorical, choices: [0.01, 1.0e+30, 1.0e+38]}
"""


def test_cli_study_with_every_kind_of_failure_goes_on_and_show_lists_the_reasons(tmp_path):
    """Grid over 12 architectures: lr 1e30 diverges (inf loss), lr 1e38 makes the optimizer raise, width 2048 is
    over --max-params; the two small models at lr 0.01 complete."""
    csv = write_series_csv(tmp_path / "data.csv")
    space = tmp_path / "failing.yaml"
    space.write_text(FAILING_SPACE)
    db = str(tmp_path / "runs.db")
    p = run(["search", "--csv", str(csv), "--target", "load", "--window", "8", "--horizon", "2", "--space", str(space),
             "--strategy", "grid", "--trials", "12", "--max-epochs", "3", "--patience", "3", "--batch-size", "64",
             "--max-params", "1000000", "--workers", "1", "--no-progress", "--study", "f", "--db", db])
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    r = seqnas.load("f", db)
    assert len(r.records) == 12 and all(t.state.finished for t in r.records)

    def reason(cell, hidden, lr):
        t = next(t for t in r.records if t.arch == {"cell1": cell, "hidden1": hidden, "lr": lr})
        return t.state, t.error or ""

    for cell in ("rnn_tanh", "lstm"):
        assert reason(cell, 4, 0.01)[0] is TrialState.COMPLETE
        assert reason(cell, 4, 1e30)[1].startswith("diverged: training loss became inf")
        assert reason(cell, 4, 1e38)[1].startswith("RuntimeError: value cannot be converted to type float without overflow")
        for lr in (0.01, 1e30, 1e38):
            assert reason(cell, 2048, lr)[1].startswith("constraint: ") and "> --max-params 1000000" in reason(cell, 2048, lr)[1]
    assert r.best_trial.state is TrialState.COMPLETE and r.best_arch["hidden1"] == 4 and r.best_arch["lr"] == 0.01

    show = run(["show", "--study", "f", "--db", db, "--top", "20"])
    assert show.returncode == 0, show.stderr
    assert "2 complete, 10 failed" in show.stdout and "failed trials (10)" in show.stdout
    for text in ("diverged: training loss became inf", "RuntimeError: value cannot be converted", "constraint:"):
        assert text in show.stdout, text


def test_a_trial_over_the_time_limit_fails_and_the_study_goes_on(db):
    """--trial-timeout (the pool stops the trial's worker): the hanging trial is FAILED with the reason, the rest run."""
    space = space_from_dict({"params": {"a": [0, 1, 2, 3, 4]}})
    r = seqnas.search(space, objective=sleepy, strategy="grid", strategy_options={"shuffle": False}, trials=5, seed=0,
                      study="t", db=db, workers=1, executor="pool", trial_timeout=2.0)
    states = {t.arch["a"]: (t.state, t.error or "") for t in r.records}
    assert len(states) == 5
    assert states[3][0] is TrialState.FAILED and states[3][1].startswith("timed out: ran ") and "--trial-timeout of 2 s" in states[3][1]
    assert all(states[a][0] is TrialState.COMPLETE for a in (0, 1, 2, 4))  # including the one after the timeout
    buf = io.StringIO()
    render_study(seqnas.load("t", db), console=Console(file=buf, width=200))
    assert "failed trials (1)" in buf.getvalue() and "timed out" in buf.getvalue()
