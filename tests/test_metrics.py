"""Errors in the data's own units: MAE, RMSE, sMAPE, MAPE and MASE against hand computations on planted numbers and a
planted series, overall and per horizon step; the new objectives."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from seqnas.errors import ConfigError
from seqnas.evaluation import TaskEvaluator, parse_objectives
from seqnas.evaluation.metrics import errors, naive_scale
from seqnas.evaluation.training import split_actual, unit_errors
from seqnas.tasks import TaskSpec, load_task
from tests.conftest import TINY_TRAIN


def test_the_measures_on_planted_numbers():
    forecast = np.array([[1.0, 2.0], [3.0, 4.0]])
    actual = np.array([[2.0, 2.0], [1.0, 8.0]])  # errors -1, 0 / 2, -4
    e = errors(forecast, actual, scale=0.5)
    assert e["mae"] == pytest.approx(7 / 4) and e["mae_per_step"] == pytest.approx([3 / 2, 4 / 2])
    assert e["rmse"] == pytest.approx(math.sqrt(21 / 4)) and e["rmse_per_step"] == pytest.approx([math.sqrt(5 / 2), math.sqrt(16 / 2)])
    # sMAPE terms 2|F-A|/(|A|+|F|): 2/3, 0, 1, 2/3
    assert e["smape"] == pytest.approx(100 * (2 / 3 + 0 + 1 + 2 / 3) / 4)
    assert e["smape_per_step"] == pytest.approx([100 * (2 / 3 + 1) / 2, 100 * (0 + 2 / 3) / 2])
    # MAPE terms |F-A|/|A|: 1/2, 0, 2, 1/2
    assert e["mape"] == pytest.approx(75.0) and e["mape_per_step"] == pytest.approx([125.0, 25.0])
    assert e["mase"] == pytest.approx(3.5) and e["mase_per_step"] == pytest.approx([3.0, 4.0])


def test_mape_is_left_out_where_an_actual_value_is_zero_and_mase_without_a_scale():
    e = errors(np.array([[0.0], [1.0]]), np.array([[0.0], [2.0]]))
    assert "mape" not in e and "mape_per_step" not in e and "mase" not in e
    assert e["smape"] == pytest.approx(100 * (0 + 2 * 1 / 3) / 2)  # 0/0 counts 0
    assert e["mae"] == pytest.approx(0.5)


def test_naive_scale_is_the_in_sample_one_step_naive_mae():
    assert naive_scale(np.array([1.0, 3.0, 2.0, 6.0])) == pytest.approx((2 + 1 + 4) / 3)
    assert naive_scale(np.array([5.0])) is None and naive_scale(np.array([2.0, 2.0, 2.0])) is None


class LastValue(nn.Module):
    """Persistence as a model: every step of the horizon is the last scaled target value of the window."""

    def __init__(self, horizon: int) -> None:
        super().__init__()
        self.horizon = horizon

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, -1, 0:1].repeat(1, self.horizon)


def _planted_csv(path: Path, rows: int = 120) -> Path:
    t = np.arange(rows)
    y = 100 + 10 * np.sin(t / 3.0) + (t % 5)  # in "MW": never 0
    path.write_text("t,y\n" + "".join(f"{i},{v:.6f}\n" for i, v in zip(t, y)))
    return path


def test_the_trial_measures_of_a_planted_series_match_a_hand_computation(tmp_path):
    csv = _planted_csv(tmp_path / "planted.csv")
    spec = TaskSpec("csv", csv=str(csv), target="y", time_column="t", window=6, horizon=3)
    data = load_task(spec)
    y = [float(line.split(",")[1]) for line in csv.read_text().splitlines()[1:]]
    w, h, info = 6, 3, data.info
    assert info["val_start"] == info["train"] + info["gap"] and info["test_start"] == info["val_start"] + info["val"] + info["gap"]
    train_rows = info["scaling_rows"]
    scale = sum(abs(y[t] - y[t - 1]) for t in range(1, train_rows)) / (train_rows - 1)
    got = unit_errors(LastValue(h), data)
    for split in ("val", "test"):
        start, n = info[f"{split}_start"], info[split]
        abs_err = [[abs(y[i + w - 1] - y[i + w + k]) for k in range(h)] for i in range(start, start + n)]
        sq = [[e * e for e in row] for row in abs_err]
        pct = [[abs(y[i + w - 1] - y[i + w + k]) / abs(y[i + w + k]) for k in range(h)] for i in range(start, start + n)]
        mae = sum(map(sum, abs_err)) / (n * h)
        assert got[f"{split}_mae"] == pytest.approx(mae, rel=1e-5)
        assert got[f"{split}_mae_per_step"] == pytest.approx([sum(r[k] for r in abs_err) / n for k in range(h)], rel=1e-5)
        assert got[f"{split}_rmse"] == pytest.approx(math.sqrt(sum(map(sum, sq)) / (n * h)), rel=1e-5)
        assert got[f"{split}_mape"] == pytest.approx(100 * sum(map(sum, pct)) / (n * h), rel=1e-4)
        assert got[f"{split}_mase"] == pytest.approx(mae / scale, rel=1e-5)
        assert got[f"{split}_mase_per_step"][0] == pytest.approx(sum(r[0] for r in abs_err) / n / scale, rel=1e-5)
        # The truth is the series as read, not the scaled targets unscaled.
        assert np.array_equal(split_actual(data, split)[:, 0], np.array(y[start + w:start + w + n]))


def test_the_validation_measures_are_objectives_and_the_test_ones_are_refused():
    assert parse_objectives("val_mae,params") == ("val_mae", "params")
    assert parse_objectives("mase") == ("val_mase",)
    with pytest.raises(ConfigError, match="test split"):
        parse_objectives("test_mae")
    spec = TaskSpec("mackey-glass", window=8, horizon=2)
    ev = TaskEvaluator(spec, "rnn-macro", TINY_TRAIN, ("val_smape", "params"))
    from seqnas.space import Arch

    r = ev(Arch({"depth": 1, "cell1": "gru", "hidden1": 4, "lr": 0.01}), 0)
    assert r.values == {"val_smape": r.metrics["val_smape"], "params": r.metrics["params"]}
    assert len(r.metrics["test_mase_per_step"]) == 2


def test_val_mape_is_refused_at_once_where_the_validation_target_has_a_zero(tmp_path):
    rows = 120
    y = np.arange(rows) % 4  # 0, 1, 2, 3, 0, ...: a zero every fourth row
    csv = tmp_path / "zeros.csv"
    csv.write_text("y\n" + "".join(f"{v}\n" for v in y))
    spec = TaskSpec("csv", csv=str(csv), target="y", window=6, horizon=1)
    assert (split_actual(load_task(spec), "val") == 0).any()
    with pytest.raises(ConfigError, match="val_mape is undefined"):
        TaskEvaluator(spec, "rnn-macro", TINY_TRAIN, ("val_mape",))
