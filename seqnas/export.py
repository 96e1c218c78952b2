"""Export a study's best architecture: its JSON, retrained weights, and how to load them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from seqnas.api import load
from seqnas.errors import StudyError, UserError
from seqnas.evaluation import TaskEvaluator
from seqnas.evaluation.training import naive_scale_of
from seqnas.models import build
from seqnas.space import Arch
from seqnas.tasks import TaskSpec, load_task
from seqnas.tasks.inputs import task_for

_README = """# Exported seqnas model

Study `{study}` ({strategy}), best trial #{number}: validation MSE {val:.6g} when searched.
Retrained here with the study's seed: validation MSE {val2:.6g}, test MSE {test:.6g}, {params} parameters
(MSE of standardised values).

It forecasts `{target}` {horizon} step(s) ahead from the last {window} rows of {columns}{calendar}{time}.

## Errors in the data's own units (the retrained model)

{errors}

MAE and RMSE are in the units of `{target}`; sMAPE and MAPE in percent (MAPE only where no actual
value is 0); MASE is the MAE divided by the MAE of the in-sample naive forecast (each value
predicted by the one before it, over the training part: {naive}): below 1 beats repeating the last
value.

## Forecast

```bash
seqnas predict --model {out} --csv new.csv --out forecasts.csv   # the {horizon} step(s) after the last row
seqnas predict --model {out} --csv new.csv --backtest --out backtest.csv   # every window beside the truth
```

```python
import seqnas
model = seqnas.load_model("{out}")
model.predict(df)            # a DataFrame with the columns {columns}{time_df}
model.backtest(df).errors    # MAE, RMSE, sMAPE, MAPE, MASE over every window of df
```

Files: `arch.json` (architecture, task, columns, scaling, window, horizon, time step), `model.pt`
(the weights, a state dict). `seqnas.export.load_exported("{out}")` gives the bare torch model: its
inputs are (batch, {window}, {features}) windows standardised with meta["mean"] / meta["std"] (per
column, fitted on the training part), its outputs (batch, {horizon}) standardised targets.
"""


def _errors_markdown(metrics: dict[str, Any], horizon: int) -> str:
    """Validation and test rows of the error measures, overall and per horizon step."""
    from seqnas.evaluation.metrics import unit_table

    lines = ["| split | measure | all steps | " + " | ".join(f"step {k}" for k in range(1, horizon + 1)) + " |",
             "|---|---|---|" + "---|" * horizon]
    for split, label in (("val", "validation"), ("test", "test")):
        for measure, values in unit_table(metrics, split):
            cells = ["-" if v is None else f"{v:.4g}" for v in values]
            lines.append(f"| {label} | {measure} | " + " | ".join(cells) + " |")
    return "\n".join(lines) if len(lines) > 2 else "(not measured)"


def _time_step(spec: TaskSpec) -> dict[str, Any] | None:
    """The step of the training file's time column (None without one)."""
    import pandas as pd

    from seqnas.timeaxis import infer_time_step, parse_times

    if spec.name != "csv" or not spec.time_column or not spec.csv:
        return None
    times = pd.read_csv(spec.csv, usecols=[spec.time_column], dtype=str, keep_default_na=False)[spec.time_column]
    return infer_time_step(parse_times(times))


def export_study(study: str, db: str, out: str | Path) -> dict[str, Any]:
    """Write arch.json, model.pt (retrained best architecture) and README.md into ``out``."""
    result = load(study, db)
    ranked = result.ranked()  # the best by the primary objective (a multi-objective study: by its first objective)
    best = ranked[0] if ranked else None
    if best is None or best.arch is None:
        raise StudyError(f"study {study!r} has no completed trial to export yet")
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create export directory {str(out)!r}: {e.strerror}") from None
    settings = result.settings
    meta: dict[str, Any] = {"study": study, "strategy": result.strategy, "trial": best.number, "arch": best.arch.to_dict(),
                            "family": result.space.family, "searched_metrics": best.metrics}
    if settings.task is None:
        (out / "arch.json").write_text(json.dumps(meta, indent=2))
        return meta  # an objective-function study has no model to retrain
    evaluator = TaskEvaluator(settings.task, result.space.family, settings.train, settings.objectives)
    model, metrics = evaluator.fit(best.arch, settings.seed)
    data = load_task(task_for(settings.task, best.arch))  # its window and calendar inputs, if they were searched
    step = _time_step(settings.task)
    naive = naive_scale_of(data)
    meta.update({"task": settings.task.to_json(), "n_features": data.n_features, "window": data.window,
                 "horizon": data.horizon, "columns": data.columns, "target": data.target,
                 "calendar": data.info.get("calendar") or [],
                 "time_column": settings.task.time_column, "time_step": step,
                 "scaling": "standard: (x - mean) / std per column, fitted on the training part", "mean": data.mean.tolist(),
                 "std": data.std.tolist(), "naive_mae": naive, "retrained_metrics": metrics})
    torch.save(model.state_dict(), out / "model.pt")
    (out / "arch.json").write_text(json.dumps(meta, indent=2))
    (out / "README.md").write_text(_README.format(
        study=study, strategy=result.strategy, number=best.number, val=best.value, val2=metrics["val_mse"],
        test=metrics["test_mse"], params=metrics["params"], out=str(out), window=data.window,
        features=data.n_features, horizon=data.horizon, target=data.target, columns=", ".join(f"`{c}`" for c in data.columns),
        calendar=_inputs_phrase(data.info.get("calendar") or [], bool(best.arch.get("level"))),
        time=_time_phrase(settings.task.time_column, step), time_df=f" (and {settings.task.time_column!r}: continued)"
        if settings.task.time_column else "", errors=_errors_markdown(metrics, data.horizon),
        naive="-" if naive is None else f"{naive:.4g}"))
    return meta


def _inputs_phrase(calendar: list[str], level: bool) -> str:
    """The README's words for the calendar inputs and level normalisation of an exported model ("" without them)."""
    out = f" and the calendar inputs {', '.join(calendar)} (from the time column)" if calendar else ""
    if level:
        out += " (level-normalised: it reads the window relative to its last target value and forecasts the change)"
    return out


def _time_phrase(column: str | None, step: dict[str, Any] | None) -> str:
    if not column:
        return ""
    if step is None:
        return f"; time column `{column}`"
    if step["kind"] == "number":
        return f"; time column `{column}`, step {step['step']:g}"
    return f"; time column `{column}`, step {step['freq'] or str(step['seconds']) + ' s'}"


def load_exported(path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild an exported model (in eval mode) and return it with its metadata."""
    p = Path(path)
    meta = json.loads((p / "arch.json").read_text())
    if "n_features" not in meta:
        raise UserError(f"{str(p)!r} holds an architecture only (an objective-function study), no model")
    model = build(Arch(meta["arch"]), meta["family"], meta["n_features"], meta["horizon"])
    model.load_state_dict(torch.load(p / "model.pt", weights_only=True))
    model.eval()
    return model, meta


__all__ = ["export_study", "load_exported"]
