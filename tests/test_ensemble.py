"""The greedy ensemble (Caruana) over a study's retrained networks and statistical forecasts: the selection rule
by hand, and an exported ensemble whose forecast is its parts' weighted sum, each part rebuilt by hand."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import torch

import seqnas
from seqnas.ensemble import Item, greedy
from seqnas.export import export_study
from seqnas.models import build
from seqnas.space.base import Arch
from tests.cli_helpers import run


def test_greedy_picks_with_replacement_by_the_validation_mse_of_the_running_mean():
    """A = y + 1, B = y - 1, C = y + 3. Round 1: A (ties with B at MSE 1; names break ties); round 2: B (the mean is
    exact); round 3: A or B give y +- 1/3, C gives y + 1: A; then B, A, ... : 13 x A, 12 x B in 25 rounds, never C."""
    y = np.linspace(0, 1, 12).reshape(4, 3)
    items = [Item("A", "network", y + 1, y), Item("B", "network", y - 1, y), Item("C", "statistical", y + 3, y)]
    assert greedy(items, y) == {"A": 13 / 25, "B": 12 / 25}
    # One item alone is picked every round.
    assert greedy(items[2:], y) == {"C": 1.0}
    assert greedy([], y) == {}


def _noisy_seasonal(path, n: int = 900):
    rng = np.random.default_rng(5)
    t = np.arange(n)
    y = 10 + 2 * np.sin(2 * np.pi * t / 24) + np.cumsum(rng.normal(0, 0.15, n)) + rng.normal(0, 0.4, n)
    pd.DataFrame({"time": pd.date_range("2024-03-01", periods=n, freq="h").astype(str), "y": y}).to_csv(path, index=False)
    return path


def test_an_exported_greedy_ensemble_forecasts_the_weighted_sum_of_its_parts(tmp_path):
    csv = _noisy_seasonal(tmp_path / "n.csv")
    db = str(tmp_path / "n.db")
    space = {"family": "rnn-macro", "params": {"cell1": ["gru", "lstm"], "hidden1": [4, 8], "lr": [0.01], "window": [12, 24]}}
    seqnas.search(space, csv=str(csv), target="y", time_column="time", horizon=3, strategy="grid", trials=8, seed=0,
                  train={"max_epochs": 4, "patience": 2}, final_repeats=2, final_top=2, db=db, study="n", progress=False)
    meta = export_study("n", db, tmp_path / "out")
    assert meta["kind"] == "ensemble", meta.get("kind")
    assert sum(p["weight"] for p in meta["parts"]) == pytest.approx(1.0)
    assert meta["retrained_metrics"]["val_mse"] < meta["selection"]["val_mse"]  # why it was deployed
    assert json.loads((tmp_path / "out" / "arch.json").read_text()) == meta
    df = pd.read_csv(csv)
    y = df["y"].to_numpy(np.float64)
    mean, std = meta["mean"][0], meta["std"][0]
    want = np.zeros(3)
    for part in meta["parts"]:  # each part by hand: its own window, its own file
        if part["kind"] == "statistical":
            fitted = pickle.loads((tmp_path / "out" / part["file"]).read_bytes())
            f = fitted.forecast(y)
        else:
            net = build(Arch(part["arch"]), "rnn-macro", 1, 3, window=part["window"], season=meta["season"])
            net.load_state_dict(torch.load(tmp_path / "out" / part["file"], weights_only=True))
            net.eval()
            x = ((y[-part["window"]:] - mean) / std).astype(np.float32)[None, :, None]
            with torch.no_grad():
                f = net(torch.from_numpy(x)).numpy()[0].astype(np.float64) * std + mean
        want += part["weight"] * f
    got = seqnas.load_model(tmp_path / "out").predict(df)["forecast"].to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert "greedy ensemble" in (tmp_path / "out" / "README.md").read_text()
    # --ensemble selection: the selection's networks, averaged, whatever the greedy ensemble would do.
    sel = export_study("n", db, tmp_path / "sel", ensemble="selection", networks_only=True)
    assert "kind" not in sel and sel["members"] == 2


def test_a_bad_ensemble_choice_is_one_line(tmp_path):
    p = run(["export", "--study", "x", "--db", str(tmp_path / "none.db"), "--out", str(tmp_path / "o"), "--ensemble", "best"])
    assert p.returncode == 2 and "--ensemble" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "o").exists()
