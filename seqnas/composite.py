"""Exports of more than one network's making: a statistical forecast alone, or a weighted ensemble of parts.

``seqnas export`` writes one of three kinds (``arch.json``'s ``"kind"``): the selection's networks averaged
(no kind: ``model.pt``, ``seqnas.export``), a statistical forecast that beat them on validation
(``"statistical"``: ``model.pkl``), or the greedy ensemble (``seqnas.ensemble``) of networks (each with its own
window and calendar inputs, ``net-<i>.pt``) and statistical forecasts (``stat-<name>.pkl``) with their weights
(``"ensemble"``: ``"parts"``). ``load_parts`` rebuilds the parts that ``seqnas.forecast.Forecaster`` sums.
"""

from __future__ import annotations

import json
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqnas.candidates import load_fitted
from seqnas.evaluation.metrics import split_errors
from seqnas.evaluation.training import unscale
from seqnas.models import build
from seqnas.space.base import Arch
from seqnas.tasks import load_task


@dataclass
class Part:
    """One forecaster of an export: a network (torch module on scaled windows of ``window`` rows, with its
    ``calendar`` inputs) or a statistical model (``seqnas.statistical.Fitted``, on the target's history); the
    export's forecast is the ``weight``-ed sum of its parts' forecasts."""

    kind: str  # "network" | "statistical"
    model: Any
    weight: float = 1.0
    window: int = 0
    calendar: tuple[str, ...] = ()


def errors_markdown(metrics: dict[str, Any], horizon: int) -> str:
    """Validation and test rows of the error measures, overall and per horizon step."""
    from seqnas.evaluation.metrics import unit_table

    lines = ["| split | measure | all steps | " + " | ".join(f"step {k}" for k in range(1, horizon + 1)) + " |",
             "|---|---|---|" + "---|" * horizon]
    for split, label in (("val", "validation"), ("test", "test")):
        for measure, values in unit_table(metrics, split):
            cells = ["-" if v is None else f"{v:.4g}" for v in values]
            lines.append(f"| {label} | {measure} | " + " | ".join(cells) + " |")
    return "\n".join(lines) if len(lines) > 2 else "(not measured)"


_STAT_README = """# Exported seqnas model: a statistical forecast

Study `{study}` ({strategy}). No network beat it on validation: `{name}` (seqnas.statistical) has validation MSE
{val:.6g} against {net:.6g} for the mean of the networks' retrained selection (trial #{number}); test MSE {test:.6g}
(networks: {net_test:.6g}). MSE of standardised values, on the study's own validation and test target rows.
`seqnas export --networks-only` deploys the networks instead.

It forecasts `{target}` {horizon} step(s) ahead from the history of `{target}`.

## Errors in the data's own units

{errors}

```bash
seqnas predict --model {out} --csv new.csv --out forecasts.csv
seqnas predict --model {out} --csv new.csv --backtest --out backtest.csv
```

```python
import seqnas
model = seqnas.load_model("{out}")
model.predict(df)            # the {horizon} step(s) after the last row of df
model.backtest(df).errors    # MAE, RMSE, sMAPE, MAPE, MASE over every window of df
```

Files: `arch.json` (the model's name, task, columns, horizon, the networks it beat), `model.pkl` (the fitted model,
seqnas.statistical; a pickle: load only exports you trust).
"""


def export_statistical(study: str, result: Any, out: Path, folder: Path, top: tuple[str, dict[str, Any]],
                        net: dict[str, Any], step: Any, naive: float | None) -> dict[str, Any]:
    """Deploy a statistical forecast (its fitted model pickled as model.pkl) with what predict needs."""
    name, entry = top
    task = result.settings.task
    data = load_task(task)
    fitted = load_fitted(folder, entry)
    metrics: dict[str, Any] = {"val_mse": entry["val_mse"], "test_mse": entry["test_mse"]}
    series = np.asarray(data.series, dtype=np.float64)
    for split in ("val", "test"):
        rows = data.target_rows(split)
        metrics.update(split_errors(split, fitted.forecast_origins(series[:, 0], rows[:, 0] - 1), series[rows, 0], naive))
    shutil.copyfile(folder / str(entry["file"]), out / "model.pkl")
    stale = out / "model.pt"
    if stale.exists():
        stale.unlink()
    meta: dict[str, Any] = {
        "study": study, "strategy": result.strategy, "kind": "statistical", "model": name, "trial": None,
        "networks": {"trial": result.final.number, "val_mse": net["val_mse"], "test_mse": net["test_mse"]},
        "task": task.to_json(), "n_features": data.n_features, "window": data.window, "horizon": data.horizon,
        "columns": data.columns, "target": data.target, "calendar": [], "time_column": task.time_column, "time_step": step,
        "mean": data.mean.tolist(), "std": data.std.tolist(), "naive_mae": naive, "retrained_metrics": metrics}
    (out / "arch.json").write_text(json.dumps(meta, indent=2))
    (out / "README.md").write_text(_STAT_README.format(
        study=study, strategy=result.strategy, name=name, val=entry["val_mse"], net=net["val_mse"], number=result.final.number,
        test=entry["test_mse"], net_test=net["test_mse"], target=data.target, horizon=data.horizon, out=str(out),
        errors=errors_markdown(metrics, data.horizon)))
    return meta


_GREEDY_README = """# Exported seqnas model: a greedy ensemble

Study `{study}` ({strategy}). The forecast is a weighted mean of {n} forecasters, picked greedily (Caruana et al.
2004, with replacement, {rounds} rounds) on the validation windows from the final retraining's networks and the
statistical forecasts scored beside the study:

{parts}

| forecast | validation MSE | test MSE |
|---|---|---|
| this ensemble (weights chosen on validation: its validation figure is optimistic) | {val:.6g} | {test:.6g} |
| the selection (trial #{number}): the mean of its {members} retrained networks | {sel_val:.6g} | {sel_test:.6g} |
{stat_row}
MSE of standardised values, on the study's own validation and test target rows. `seqnas export --ensemble selection`
deploys the selection's networks alone.

It forecasts `{target}` {horizon} step(s) ahead.

## Errors in the data's own units

{errors}

```bash
seqnas predict --model {out} --csv new.csv --out forecasts.csv
seqnas predict --model {out} --csv new.csv --backtest --out backtest.csv
```

Files: `arch.json` (task, columns, scaling, horizon, `"parts"`: each forecaster's kind, weight and files), `net-<i>.pt`
(a network's state dict), `stat-<name>.pkl` (a fitted statistical model, seqnas.statistical; a pickle: load only
exports you trust).
"""


def export_greedy(study: str, result: Any, out: Path, folder: Path, items: list[Any], weights: dict[str, float],
                  selection: dict[str, Any], step: Any, naive: float | None) -> dict[str, Any]:
    """Write the greedy ensemble: each part's files, arch.json with its weights, the README."""
    from seqnas.ensemble import ROUNDS, combine, mse

    task = result.settings.task
    data = load_task(task)
    parts: list[dict[str, Any]] = []
    for i, it in enumerate(x for x in items if x.name in weights):
        if it.kind == "network":
            shutil.copyfile(folder / it.spec["weights"], out / f"net-{i}.pt")
            parts.append({"kind": "network", "weight": weights[it.name], "file": f"net-{i}.pt", "name": it.name,
                          **{k: v for k, v in it.spec.items() if k != "weights"}})
        else:
            shutil.copyfile(folder / it.spec["file"], out / f"stat-{it.spec['model']}.pkl")
            parts.append({"kind": "statistical", "weight": weights[it.name], "file": f"stat-{it.spec['model']}.pkl",
                          "name": it.name, "model": it.spec["model"]})
    for stale in ("model.pt", "model.pkl"):
        if (out / stale).exists():
            (out / stale).unlink()
    val, test = combine(items, weights, "val"), combine(items, weights, "test")
    metrics: dict[str, Any] = {"val_mse": mse(val, data.y_val), "test_mse": mse(test, data.y_test)}
    for split, scaled in (("val", val), ("test", test)):
        rows = data.target_rows(split)
        metrics.update(split_errors(split, unscale(scaled, data.mean[0], data.std[0]),
                                    np.asarray(data.series, dtype=np.float64)[rows, 0], naive))
    stats = result.statistical or {}
    best_stat = min(stats.items(), key=lambda kv: kv[1]["val_mse"]) if stats else None
    meta: dict[str, Any] = {
        "study": study, "strategy": result.strategy, "kind": "ensemble", "trial": result.final.number,
        "members": sum(1 for p in parts if p["kind"] == "network"), "parts": parts, "family": result.space.family,
        "selection": {"trial": result.final.number, "val_mse": selection["val_mse"], "test_mse": selection["test_mse"]},
        "task": task.to_json(), "n_features": data.n_features, "window": max(int(p.get("window") or 1) for p in parts),
        "horizon": data.horizon, "columns": data.columns, "target": data.target, "calendar": [],
        "season": data.info.get("season"), "time_column": task.time_column, "time_step": step, "mean": data.mean.tolist(),
        "std": data.std.tolist(), "naive_mae": naive, "retrained_metrics": metrics}
    (out / "arch.json").write_text(json.dumps(meta, indent=2))
    lines = [f"- {p['weight']:.2f} x {p['name']}" + (f" ({p['model']})" if p["kind"] == "statistical" else
             f" (window {p['window']}{', calendar inputs' if p['calendar'] else ''})") for p in parts]
    stat_row = (f"| the best statistical forecast, {best_stat[0]} | {best_stat[1]['val_mse']:.6g} | {best_stat[1]['test_mse']:.6g} |\n"
                if best_stat else "")
    (out / "README.md").write_text(_GREEDY_README.format(
        study=study, strategy=result.strategy, n=len(parts), rounds=ROUNDS, parts="\n".join(lines), val=metrics["val_mse"],
        test=metrics["test_mse"], number=result.final.number, members=len(result.final.members),
        sel_val=selection["val_mse"], sel_test=selection["test_mse"], stat_row=stat_row, target=data.target,
        horizon=data.horizon, out=str(out), errors=errors_markdown(metrics, data.horizon)))
    return meta


def load_parts(p: Path, meta: dict[str, Any]) -> list[Part]:
    """The parts of an ``"ensemble"`` export, each model rebuilt (networks in eval mode)."""
    parts = []
    for part in meta["parts"]:
        if part["kind"] == "statistical":
            model: Any = pickle.loads((p / part["file"]).read_bytes())
        else:
            model = build(Arch(part["arch"]), meta["family"], int(part["n_features"]), int(meta["horizon"]),
                          window=int(part["window"]), season=meta.get("season"))
            model.load_state_dict(torch.load(p / part["file"], weights_only=True))
            model.eval()
        parts.append(Part(part["kind"], model, float(part["weight"]), int(part.get("window") or 0),
                          tuple(part.get("calendar") or ())))
    return parts
