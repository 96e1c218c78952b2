"""Independent oracles: expected values from a hand computation, a closed form or a second implementation
written here, never from the function under test or its helpers.

- the error measures (``seqnas.evaluation.metrics``): MAE, RMSE, sMAPE, MAPE, MASE overall and per horizon
  step, against plain loops over the definitions in the module's docstring;
- the chronological split and the train-only scaling (``seqnas.tasks.base.make_windows``) and forecasts in
  the data's own units (``unscale``, through ``split_forecast`` / ``unit_errors``): on the series
  y_t = 10 + 2t, whose mean and standard deviation over the first N rows have a closed form, a model that
  forecasts a constant c in scaled units must forecast c * std + mean in the data's units.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from seqnas.evaluation.metrics import errors, naive_scale
from seqnas.evaluation.training import split_forecast, unit_errors
from seqnas.tasks.base import make_windows


# -- a second implementation of the error measures ---------------------------------------------------------
def oracle(forecast: list[list[float]], actual: list[list[float]], scale: float | None) -> dict[str, object]:
    """The measures by their definitions, one term at a time (Hyndman & Koehler 2006 for MASE)."""
    n, h = len(forecast), len(forecast[0])

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs)

    def terms(step: int | None, f) -> list[float]:
        return [f(forecast[i][j], actual[i][j]) for i in range(n) for j in range(h) if step is None or j == step]

    absolute = lambda F, A: abs(F - A)  # noqa: E731
    squared = lambda F, A: (F - A) ** 2  # noqa: E731
    sym = lambda F, A: 0.0 if abs(A) + abs(F) == 0 else 2 * abs(F - A) / (abs(A) + abs(F))  # noqa: E731
    rel = lambda F, A: abs(F - A) / abs(A)  # noqa: E731
    out: dict[str, object] = {}
    for name, f, post in (("mae", absolute, lambda v: v), ("rmse", squared, math.sqrt), ("smape", sym, lambda v: 100 * v)):
        out[name] = post(mean(terms(None, f)))
        out[f"{name}_per_step"] = [post(mean(terms(j, f))) for j in range(h)]
    if all(actual[i][j] != 0 for i in range(n) for j in range(h)):
        out["mape"] = 100 * mean(terms(None, rel))
        out["mape_per_step"] = [100 * mean(terms(j, rel)) for j in range(h)]
    if scale is not None:
        out["mase"] = out["mae"] / scale  # type: ignore[operator]
        out["mase_per_step"] = [v / scale for v in out["mae_per_step"]]  # type: ignore[union-attr]
    return out


def oracle_naive_scale(series: list[float]) -> float:
    return sum(abs(series[t] - series[t - 1]) for t in range(1, len(series))) / (len(series) - 1)


def assert_same(got: dict[str, object], want: dict[str, object]) -> None:
    assert set(got) == set(want)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-12, abs=1e-12), k


def test_the_measures_by_hand_on_a_three_step_horizon():
    F = [[10.0, 12.0, 15.0], [20.0, 18.0, 30.0]]
    A = [[11.0, 12.0, 10.0], [16.0, 20.0, 30.0]]  # errors -1, 0, 5 / 4, -2, 0
    e = errors(np.array(F), np.array(A), scale=2.0)
    assert e["mae"] == pytest.approx(12 / 6) and e["mae_per_step"] == pytest.approx([5 / 2, 2 / 2, 5 / 2])
    assert e["rmse"] == pytest.approx(math.sqrt(46 / 6))
    assert e["rmse_per_step"] == pytest.approx([math.sqrt(17 / 2), math.sqrt(4 / 2), math.sqrt(25 / 2)])
    # sMAPE terms 2|F-A|/(|A|+|F|): 2/21, 0, 10/25 / 8/36, 4/38, 0
    s = [2 / 21, 0.0, 10 / 25, 8 / 36, 4 / 38, 0.0]
    assert e["smape"] == pytest.approx(100 * sum(s) / 6)
    assert e["smape_per_step"] == pytest.approx([100 * (s[0] + s[3]) / 2, 100 * (s[1] + s[4]) / 2, 100 * (s[2] + s[5]) / 2])
    # MAPE terms |F-A|/|A|: 1/11, 0, 5/10 / 4/16, 2/20, 0
    m = [1 / 11, 0.0, 0.5, 0.25, 0.1, 0.0]
    assert e["mape"] == pytest.approx(100 * sum(m) / 6)
    assert e["mape_per_step"] == pytest.approx([100 * (m[0] + m[3]) / 2, 100 * (m[1] + m[4]) / 2, 100 * (m[2] + m[5]) / 2])
    assert e["mase"] == pytest.approx(1.0) and e["mase_per_step"] == pytest.approx([1.25, 0.5, 1.25])
    assert_same(e, oracle(F, A, 2.0))


@pytest.mark.parametrize("seed", range(5))
def test_the_measures_match_a_second_implementation_on_random_forecasts(seed):
    rng = np.random.default_rng(seed)
    windows, horizon = int(rng.integers(1, 9)), int(rng.integers(1, 5))
    A = rng.normal(5.0, 3.0, size=(windows, horizon))
    F = A + rng.normal(0.0, 2.0, size=(windows, horizon))
    if seed % 2:
        A[0, 0] = 0.0  # MAPE is left out, sMAPE still defined
        if windows * horizon > 1:
            F[-1, -1] = A[-1, -1] = 0.0  # a 0/0 sMAPE term counts 0
    series = list(rng.normal(0.0, 1.0, size=20))
    scale = naive_scale(np.array(series))
    assert scale == pytest.approx(oracle_naive_scale(series), rel=1e-12)
    assert_same(errors(F, A, scale), oracle(F.tolist(), A.tolist(), oracle_naive_scale(series)))
    assert_same(errors(F, A), oracle(F.tolist(), A.tolist(), None))


def test_a_one_dimensional_forecast_is_one_step_per_window():
    F, A = [3.0, -1.0, 4.0], [2.0, 1.0, 4.0]
    assert_same(errors(np.array(F), np.array(A), 0.5), oracle([[f] for f in F], [[a] for a in A], 0.5))


# -- the split, the scaling and forecasts in the data's units -------------------------------------------------
ROWS, WINDOW, HORIZON = 100, 5, 2
SERIES = 10.0 + 2.0 * np.arange(ROWS)  # y_t = 10 + 2t
# By hand (make_windows' docstring: splits on target times, horizon - 1 = 1 window dropped at each boundary):
# 100 - 5 - 2 + 1 = 94 windows, 92 after the two dropped; test = val = round(0.15 * 92) = 14; train 64.
# Training windows 0..63 forecast rows 5..69, so the scaling sees rows 0..69 only: for y_t = 10 + 2t over
# t = 0..N-1 the mean is 10 + (N - 1) and the (population) standard deviation 2 * sqrt((N^2 - 1) / 12).
N_FIT = 70
MEAN = 10.0 + (N_FIT - 1)
STD = 2.0 * math.sqrt((N_FIT**2 - 1) / 12)
# Validation windows 65..78 forecast rows 70+k, 71+k (k = 0..13); test windows 80..93 rows 85+k, 86+k.
VAL_ROWS = [[70 + k, 71 + k] for k in range(14)]
TEST_ROWS = [[85 + k, 86 + k] for k in range(14)]


class Constant(nn.Module):
    """Forecasts ``c`` (scaled units) at every step of every window, whatever its input."""

    def __init__(self, c: float, horizon: int) -> None:
        super().__init__()
        self.c, self.horizon = c, horizon

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((len(x), self.horizon), self.c, dtype=torch.float32)


def planted():
    return make_windows(SERIES[:, None].copy(), 0, WINDOW, HORIZON, 0.15, 0.15, name="planted", columns=["y"])


def test_the_split_is_chronological_and_the_scaling_sees_the_training_rows_only():
    data = planted()
    assert (len(data.X_train), len(data.X_val), len(data.X_test)) == (64, 14, 14)
    assert data.mean[0] == pytest.approx(MEAN, rel=1e-12) and data.std[0] == pytest.approx(STD, rel=1e-12)
    # Every window's inputs are the WINDOW rows before its first target, scaled with the training statistics.
    for X, y, rows in ((data.X_val, data.y_val, VAL_ROWS), (data.X_test, data.y_test, TEST_ROWS)):
        for k, (r0, r1) in enumerate(rows):
            assert y[k] * STD + MEAN == pytest.approx([10 + 2 * r0, 10 + 2 * r1], rel=1e-6)
            assert X[k, :, 0] * STD + MEAN == pytest.approx(10 + 2 * np.arange(r0 - WINDOW, r0), rel=1e-6)
    assert data.y_train[-1] * STD + MEAN == pytest.approx([10 + 2 * 68, 10 + 2 * 69], rel=1e-6)  # the last training row: 69


@pytest.mark.parametrize("c", [0.0, 0.5, -1.25])
def test_a_constant_scaled_forecast_is_c_std_plus_mean_in_the_data_units(c):
    data = planted()
    in_units = c * STD + MEAN
    for split, rows in (("val", VAL_ROWS), ("test", TEST_ROWS)):
        forecast, actual = split_forecast(Constant(c, HORIZON), data, split)
        assert forecast.shape == (14, HORIZON) and np.allclose(forecast, in_units, rtol=1e-6)
        assert actual == pytest.approx(10.0 + 2.0 * np.array(rows, dtype=float), rel=1e-12)
    # The error measures of that forecast, in the data's units, against the hand-made truth: MASE's scale is the
    # training rows' naive MAE, 2 (every step of y_t = 10 + 2t changes it by 2).
    got = unit_errors(Constant(c, HORIZON), data)
    for split, rows in (("val", VAL_ROWS), ("test", TEST_ROWS)):
        F = [[in_units] * HORIZON for _ in rows]
        A = [[10.0 + 2.0 * r for r in pair] for pair in rows]
        want = oracle(F, A, 2.0)
        for k, v in want.items():
            assert got[f"{split}_{k}"] == pytest.approx(v, rel=1e-6), f"{split}_{k}"


# -- the final selection: retraining decides, not the search's single training ------------------------------------
def test_the_selection_is_the_candidate_with_the_lowest_mean_retrained_validation_mse():
    """A planted study where retraining reverses the search's order: the search ranks a < b < c < d by its single
    training; the stored retrainings (3 seeds each) rank c < b < a. The top 3 are retrained and c, the lowest mean
    retrained validation MSE, is selected; d (4th in the search) is no candidate however good its retrainings."""
    from seqnas.final import final_seeds, selection
    from seqnas.space.base import Arch
    from seqnas.trial import TrialRecord, TrialState

    archs = {name: Arch({"x": i}) for i, name in enumerate("abcd")}
    search = {"a": 0.10, "b": 0.20, "c": 0.30, "d": 0.40}
    records = [TrialRecord(number=i, state=TrialState.COMPLETE, arch=archs[n], values={"val_mse": v})
               for i, (n, v) in enumerate(search.items())]
    retrained = {"a": [0.9, 1.0, 1.1], "b": [0.5, 0.7, 0.6], "c": [0.35, 0.45, 0.40], "d": [0.01, 0.01, 0.01]}
    seeds = [str(s) for s in final_seeds(7, 3)]
    runs = {archs[n].key: {s: {"val_mse": v, "test_mse": 2 * v, "cpu_seconds": 0.5} for s, v in zip(seeds, vals)}
            for n, vals in retrained.items()}
    f = selection(records, runs, 7, 3, 3)
    assert f is not None and f.number == 2 and f.arch == {"x": 2}
    assert f.val == pytest.approx([0.35, 0.45, 0.40]) and f.val_mse == pytest.approx(0.40)
    assert f.test_mse == pytest.approx(0.80)
    assert sorted(c["number"] for c in f.candidates) == [0, 1, 2]
    assert {c["number"]: c["val_mse"] for c in f.candidates} == pytest.approx({0: 1.0, 1: 0.6, 2: 0.40})
    assert f.cpu_seconds == pytest.approx(9 * 0.5)  # every retraining of every candidate, d's not among them
    # With top 1 the search's best is retrained alone, and selected whatever its retrainings say.
    assert selection(records, runs, 7, 3, 1).number == 0
