"""Base forecasts the network corrects (none / last / seasonal / linear), the linear highway, the statistical
forecasts beside a study and their deployment, and one budget: against hand computations and planted series."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import seqnas
from seqnas.export import export_study
from seqnas.models.base_forecast import BaseForecast, fit_base
from tests.cli_helpers import run

TRAIN = {"max_epochs": 3, "patience": 2, "batch_size": 64}
ONE_NET = {"cell1": ["gru"], "hidden1": [4], "lr": [0.01]}


class Zero(nn.Module):
    """A network that always forecasts 0: the wrapped model's output is its base forecast (and highway)."""

    def __init__(self, horizon: int) -> None:
        super().__init__()
        self.horizon = horizon
        self.seen: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen = x
        return torch.zeros(x.shape[0], self.horizon)


def _windows(n: int = 5, window: int = 10, features: int = 2) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(0).normal(size=(n, window, features)).astype(np.float32))


def test_last_and_seasonal_bases_equal_a_hand_computation():
    x = _windows()
    last = BaseForecast(Zero(3), "last", False, 10, 3)
    with torch.no_grad():
        out = last(x)
    for i in range(5):
        assert out[i].tolist() == pytest.approx([float(x[i, 9, 0])] * 3)
    # The network read the window relative to its last target value; the other columns as given.
    assert torch.allclose(last.model.seen[:, :, 0], x[:, :, 0] - x[:, 9:10, 0])
    assert torch.equal(last.model.seen[:, :, 1], x[:, :, 1])
    # Season 4, horizon 6: steps 1-4 are rows 6, 7, 8, 9 of the window (one season back), steps 5, 6 rows 6, 7 again.
    seasonal = BaseForecast(Zero(6), "seasonal", False, 10, 6, season=4)
    with torch.no_grad():
        out = seasonal(x)
    for i in range(5):
        assert out[i].tolist() == pytest.approx([float(x[i, r, 0]) for r in (6, 7, 8, 9, 6, 7)])


def test_none_base_passes_the_window_through_and_a_zero_highway_starts_at_the_base():
    x = _windows()
    plain = BaseForecast(Zero(2), "none", True, 10, 2)
    with torch.no_grad():
        assert torch.equal(plain(x), torch.zeros(5, 2))
    assert torch.equal(plain.model.seen, x)
    # The highway is linear in the window's target values: set its weights and check the closed form.
    with torch.no_grad():
        plain.highway.weight.copy_(torch.arange(20, dtype=torch.float32).reshape(2, 10) / 10)
        plain.highway.bias.copy_(torch.tensor([1.0, -1.0]))
        want = x[:, :, 0].numpy() @ (np.arange(20).reshape(2, 10).T / 10) + np.array([1.0, -1.0])
        np.testing.assert_allclose(plain(x).numpy(), want, rtol=1e-5, atol=1e-5)


def test_a_seasonal_base_refuses_a_window_shorter_than_its_season():
    with pytest.raises(ValueError, match="season"):
        BaseForecast(Zero(2), "seasonal", False, 10, 2, season=12)


def test_the_linear_base_recovers_a_planted_linear_relation():
    """y = A w exactly (no noise): the ridge fitted on the training windows forecasts new windows to rounding."""
    rng = np.random.default_rng(1)
    w = rng.normal(size=(8, 2))
    X_train, X_val = rng.normal(size=(400, 8, 1)), rng.normal(size=(100, 8, 1))
    y_train, y_val = X_train[:, :, 0] @ w + 0.5, X_val[:, :, 0] @ w + 0.5
    model = BaseForecast(Zero(2), "linear", False, 8, 2)
    fit_base(model, X_train.astype(np.float32), y_train, X_val.astype(np.float32), y_val)
    np.testing.assert_allclose(model.coef.numpy(), w, atol=1e-2)
    with torch.no_grad():
        out = model(torch.from_numpy(X_val.astype(np.float32))).numpy()
    np.testing.assert_allclose(out, y_val, atol=2e-2)


def _seasonal_csv(path, n: int = 1200, noise: float = 0.05, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 5 + 2 * np.sin(2 * np.pi * t / 24) + np.sin(2 * np.pi * t / 8) + rng.normal(0, noise, n)
    pd.DataFrame({"time": pd.date_range("2024-01-01", periods=n, freq="h").astype(str), "y": y}).to_csv(path, index=False)
    return path


def test_a_planted_seasonal_series_is_fitted_far_better_with_a_seasonal_base(tmp_path):
    csv = _seasonal_csv(tmp_path / "s.csv")
    space = {"family": "rnn-macro", "params": ONE_NET}
    val = {}
    for base in ("none", "seasonal"):
        r = seqnas.search(space, csv=str(csv), target="y", time_column="time", window=12, horizon=6, base=base,
                          strategy="grid", trials=1, seed=0, train=TRAIN, final_repeats=0, progress=False)
        assert r.settings.task.season == (24 if base == "seasonal" else None)
        assert r.best_arch["base"] == base
        val[base] = r.best_trial.value
    # One season (24 rows) back is the whole signal but the noise: the seasonal base starts at the answer.
    assert val["seasonal"] < 0.2 * val["none"]


def test_bad_base_input_is_one_line_and_writes_nothing(tmp_path):
    csv = tmp_path / "noise.csv"
    pd.DataFrame({"y": np.random.default_rng(0).normal(size=400)}).to_csv(csv, index=False)
    for extra, words in ((["--base", "seasonal"], "no season"), (["--base", "bogus"], "--base must be")):
        db = tmp_path / "x.db"
        p = run(["search", "--csv", str(csv), "--target", "y", "--trials", "1", "--max-epochs", "1", "--db", str(db), *extra])
        assert p.returncode == 2 and words in p.stderr and "Traceback" not in p.stderr
        assert len(p.stderr.strip().splitlines()) == 1
        assert not db.exists()
    # A season longer than half the training part: daily data has a weekly season (7), so 12 rows cannot hold it.
    short = tmp_path / "short.csv"
    pd.DataFrame({"time": pd.date_range("2024-01-01", periods=12, freq="D").astype(str), "y": np.arange(12.0)}).to_csv(short)
    with pytest.raises(seqnas.errors.TaskError, match="season"):
        seqnas.tasks.inputs._seasonal(("seasonal",), seqnas.tasks.task_spec(csv=str(short), target="y", time_column="time"),
                                      searched=False)


def test_a_statistical_forecast_that_beats_the_networks_is_deployed_and_predicts(tmp_path):
    """A noise-free periodic series: seasonal naive is exact; tiny networks trained 1 epoch are not. The export says so,
    and predict runs the statistical model: the value one season back, by hand."""
    csv = _seasonal_csv(tmp_path / "p.csv", noise=0.0)
    db = str(tmp_path / "p.db")
    r = seqnas.search({"family": "rnn-macro", "params": ONE_NET}, csv=str(csv), target="y", time_column="time", window=8,
                      horizon=3, strategy="grid", trials=1, seed=0, train={"max_epochs": 1, "patience": 1}, final_repeats=1,
                      final_top=1, db=db, study="p", progress=False)
    assert r.statistical["seasonal_naive"]["val_mse"] < 1e-10
    df = pd.read_csv(csv)
    y = df["y"].to_numpy()
    one_season_back = [y[len(y) - 24 + k] for k in range(3)]  # exact on this series, by hand
    # The greedy ensemble (the default) puts no weight on the networks here.
    greedy = export_study("p", db, tmp_path / "greedy")
    assert greedy["kind"] in ("statistical", "ensemble")
    assert all(p["kind"] == "statistical" for p in greedy.get("parts", []))
    # --ensemble selection: the networks' selection or the best statistical forecast, whichever is better on validation.
    meta = export_study("p", db, tmp_path / "out", ensemble="selection")
    assert meta["kind"] == "statistical" and meta["model"] in r.statistical
    assert meta["networks"]["val_mse"] > meta["retrained_metrics"]["val_mse"]
    assert "No network beat it" in (tmp_path / "out" / "README.md").read_text()
    for out in ("greedy", "out"):
        pred = seqnas.load_model(tmp_path / out).predict(df)["forecast"].to_numpy()
        np.testing.assert_allclose(pred, one_season_back, atol=1e-3)
    # --networks-only deploys the networks' selection all the same.
    nets = export_study("p", db, tmp_path / "nets", networks_only=True, ensemble="selection")
    assert nets["trial"] == r.final.number and "kind" not in nets
    assert json.loads((tmp_path / "nets" / "arch.json").read_text())["members"] == 1


def test_one_budget_covers_search_retraining_and_statistical_forecasts(tmp_path):
    """Trainings that would run for 200 epochs: every one is cut by its share of the budget, so the retraining
    spends what the search and the statistical forecasts left of it (computed here from the stored figures), give
    or take an epoch per training, and not much less."""
    csv = _seasonal_csv(tmp_path / "b.csv", noise=0.3)
    db = str(tmp_path / "b.db")
    budget = 12.0
    r = seqnas.search("rnn-macro", csv=str(csv), target="y", time_column="time", window=24, horizon=3, strategy="random",
                      cpu_seconds=budget, seed=0, train={"max_epochs": 200, "patience": 200}, final_repeats=2, final_top=2,
                      db=db, study="b", progress=False)
    searched = sum(float(t.metrics.get("cpu_seconds", 0)) + float(t.metrics.get("strategy_cpu_seconds", 0))
                   for t in r.records if t.state.finished)
    stats = sum(m["cpu_seconds"] for m in r.statistical.values())
    assert r.settings.budget.final_share == pytest.approx(0.4)
    # The search stops once it has spent its 60% (the trials in flight finish: at most one epoch each beyond it).
    assert searched <= 0.6 * budget * 1.1 + 2
    left = budget - searched - stats
    assert left > 1.0
    epoch = max(float(t.metrics["cpu_seconds"]) / max(1, int(t.metrics["epochs"])) for t in r.records if t.state.finished)
    assert r.final is not None
    spent = r.final.cpu_seconds
    assert 0.5 * left <= spent <= left + 4 * (epoch + 0.2)  # 4 trainings, each at most an epoch (and its measuring) past
    assert searched + stats + spent <= budget * 1.1 + 4 * (epoch + 0.2)


def test_a_statistical_export_backtests_with_the_history_its_model_needs(tmp_path):
    """Ridge reads seven seasons (168 hourly rows), more than the study's window of 8: predict and backtest give it that
    history (the backtest's windows start later), and each backtest forecast is the model's own from its origin."""
    csv = _seasonal_csv(tmp_path / "r.csv", noise=0.2)
    db = str(tmp_path / "r.db")
    r = seqnas.search({"family": "rnn-macro", "params": ONE_NET}, csv=str(csv), target="y", time_column="time", window=8,
                      horizon=3, strategy="grid", trials=1, seed=0, train={"max_epochs": 1, "patience": 1}, final_repeats=1,
                      final_top=1, db=db, study="r", progress=False)
    assert "ridge" in r.statistical
    meta = export_study("r", db, tmp_path / "out", ensemble="selection")
    assert meta["kind"] == "statistical"
    # Whatever won, deploy the ridge: its fitted model from the study, as an export of kind "statistical" holds it.
    ridge_file = next(Path(db + ".checkpoints").rglob("statistical-ridge.pkl"))
    (tmp_path / "out" / "model.pkl").write_bytes(ridge_file.read_bytes())
    fitted = pickle.loads(ridge_file.read_bytes())
    assert fitted.min_history == 168 > meta["window"]
    df = pd.read_csv(csv)
    y = df["y"].to_numpy()
    f = seqnas.load_model(tmp_path / "out")
    np.testing.assert_allclose(f.predict(df)["forecast"].to_numpy(), fitted.forecast(y), rtol=1e-9)
    bt = f.backtest(df)
    assert bt.windows == len(y) - 168 - 3 + 1
    last = bt.forecasts[bt.forecasts["window"] == bt.windows - 1]["forecast"].to_numpy()
    np.testing.assert_allclose(last, fitted.forecast(y[: len(y) - 3]), rtol=1e-9)
