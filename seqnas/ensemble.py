"""A greedy ensemble (Caruana et al. 2004) over a study's retrained networks and its statistical forecasts.

The pool: every retrained member of the final retraining's candidates whose weights were kept
(``seqnas.final``: the selection's and the other candidates', each with its own window and calendar
inputs) and every statistical forecast scored beside the study (``seqnas.candidates``). Starting from
nothing, each round adds (with replacement) the forecast that lowers the validation MSE of the
running mean the most; the weights are how often each was picked (``ROUNDS`` rounds). All of them
forecast the same validation and test target rows, so their forecasts average point by point.

``seqnas export`` deploys it where its validation MSE is below the plain mean of the selection's
members (what AutoGluon-TimeSeries does over its models); the weights are chosen on the very windows
that measure them, so its validation figure is optimistic: the test figure beside it is the check.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqnas.candidates import load_fitted
from seqnas.evaluation.training import forecast
from seqnas.final import candidates
from seqnas.models import build
from seqnas.space.base import Arch
from seqnas.tasks import TaskSpec, load_task
from seqnas.tasks.inputs import task_for

ROUNDS = 25


@dataclass
class Item:
    """One forecast of the pool: its scaled validation and test forecasts, and what an export needs to rebuild it."""

    name: str
    kind: str  # "network" | "statistical"
    val: np.ndarray
    test: np.ndarray
    spec: dict[str, Any] = field(default_factory=dict)  # network: trial, seed, arch, window, calendar, n_features, weights


def pool(result: Any, records: Any, runs: dict[str, dict[str, dict[str, Any]]], folder: Path, top: int,
         statistical: bool = True) -> list[Item]:
    """The candidates' kept members and (``statistical``) the stored statistical forecasts, on the study's target rows."""
    task: TaskSpec = result.settings.task
    base = load_task(task)
    items: list[Item] = []
    for rec in candidates(records, top):
        arch = Arch(rec.arch)
        data = load_task(task_for(task, arch))
        for seed, entry in sorted(runs.get(arch.key, {}).items()):
            path = folder / str(entry.get("weights") or "")
            if entry.get("error") is not None or not entry.get("weights") or not path.is_file():
                continue
            net = build(arch, result.space.family, data.n_features, data.horizon, window=data.window,
                        season=data.info.get("season"))
            net.load_state_dict(torch.load(path, weights_only=True))
            items.append(Item(f"trial #{rec.number} seed {seed}", "network", forecast(net, data.X_val), forecast(net, data.X_test),
                              {"trial": rec.number, "seed": int(seed), "arch": arch.to_dict(), "window": data.window,
                               "calendar": list(data.info.get("calendar") or []), "n_features": data.n_features,
                               "weights": str(entry["weights"])}))
    if statistical:
        series = np.asarray(base.series, dtype=np.float64)
        for name, entry in sorted(result.statistical.items()):
            if not entry.get("file") or not (folder / str(entry["file"])).is_file():
                continue
            fitted = load_fitted(folder, entry)
            scaled = []
            for split in ("val", "test"):
                rows = base.target_rows(split)
                scaled.append((fitted.forecast_origins(series[:, 0], rows[:, 0] - 1) - base.mean[0]) / base.std[0])
            items.append(Item(name, "statistical", scaled[0], scaled[1], {"model": name, "file": str(entry["file"])}))
    return items


def greedy(items: list[Item], y_val: np.ndarray, rounds: int = ROUNDS) -> dict[str, float]:
    """Item name -> weight (picks / rounds): forward selection with replacement on the validation MSE of the mean."""
    if not items:
        return {}
    total = np.zeros_like(np.asarray(items[0].val, dtype=np.float64))
    picks: Counter[str] = Counter()
    for k in range(1, rounds + 1):
        best = min(items, key=lambda it: (float(np.mean(((total + it.val) / k - y_val) ** 2)), it.name))
        total = total + best.val
        picks[best.name] += 1
    return {name: n / rounds for name, n in picks.items()}


def combine(items: list[Item], weights: dict[str, float], split: str) -> np.ndarray:
    """The weighted forecast of a split ("val" or "test")."""
    chosen = [it for it in items if it.name in weights]
    return sum(weights[it.name] * np.asarray(getattr(it, split), dtype=np.float64) for it in chosen)  # type: ignore[return-value]


def mse(forecast: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((np.asarray(forecast, dtype=np.float64) - y) ** 2))
