"""Export what a study selected: its retrained networks as one ensemble, its JSON, and how to load them.

The deployed model is the final retraining's selection (``seqnas.final``), not the search's best single
training: its retrained members (weights kept next to the database when they were trained) averaged.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch

from seqnas.api import load
from seqnas.candidates import best as best_statistical
from seqnas.composite import errors_markdown, export_greedy, export_statistical
from seqnas.ensemble import combine, greedy
from seqnas.ensemble import mse as ensemble_mse
from seqnas.ensemble import pool as ensemble_pool
from seqnas.errors import ConfigError, StudyError, UserError
from seqnas.evaluation import TaskEvaluator
from seqnas.evaluation.training import naive_scale_of
from seqnas.final import DEFAULT_TOP, stored_final_settings, stored_runs
from seqnas.models import build
from seqnas.space import Arch
from seqnas.tasks import TaskSpec, load_task
from seqnas.tasks.inputs import task_for

_README = """# Exported seqnas model

Study `{study}` ({strategy}), its selection: trial #{number} (validation MSE {val:.6g} when searched), the
architecture with the lowest mean validation MSE when its best candidates were trained again with fresh seeds.
The forecast is the mean of {members} network(s), those retrainings: validation MSE {val2:.6g}, test MSE
{test:.6g} (one network alone: {single:.6g} on average), {params} parameters in all (MSE of standardised values).

It forecasts `{target}` {horizon} step(s) ahead from the last {window} rows of {columns}{calendar}{time}.

## Errors in the data's own units (the deployed ensemble)

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

Files: `arch.json` (architecture, task, columns, scaling, window, horizon, time step, `trial`, `members`),
`model.pt` (the weights of the {members} network(s), one state dict). `seqnas.export.load_exported("{out}")` gives the
torch model (an `Ensemble` averaging them): its
inputs are (batch, {window}, {features}) windows standardised with meta["mean"] / meta["std"] (per
column, fitted on the training part), its outputs (batch, {horizon}) standardised targets.
"""


def _time_step(spec: TaskSpec) -> dict[str, Any] | None:
    """The step of the training file's time column (None without one)."""
    import pandas as pd

    from seqnas.timeaxis import infer_time_step, parse_times

    if spec.name != "csv" or not spec.time_column or not spec.csv:
        return None
    times = pd.read_csv(spec.csv, usecols=[spec.time_column], dtype=str, keep_default_na=False)[spec.time_column]
    return infer_time_step(parse_times(times))


class Ensemble(torch.nn.Module):
    """The mean forecast of ``members`` (networks of one architecture retrained with different seeds)."""

    def __init__(self, members: list[torch.nn.Module]) -> None:
        super().__init__()
        self.members = torch.nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x) for m in self.members]).mean(dim=0)


def _check_members(members: Any) -> int | None:
    if members is None:
        return None
    if isinstance(members, bool) or not isinstance(members, int) or members < 1:
        raise ConfigError(f"--members must be a positive integer (how many retrained networks the forecast averages), got {members!r}")
    return members


def _selection(study: str, db: str) -> Any:
    """The study's retrained selection; a study never retrained is retrained now (3 x its top 3, seqnas.final)."""
    from seqnas.api import retrain

    result = load(study, db)
    if result.settings.task is not None and (result.final is None or not result.final.members):
        print(f"seqnas: study {study!r} has no retrained selection yet: retraining its top {DEFAULT_TOP} candidates "
              "3 times each first", file=sys.stderr)
        result = retrain(study, db)
    return result


def _member_weights(result: Any, evaluator: TaskEvaluator, folder: Path | None, member: dict[str, Any], arch: Arch) -> bytes:
    """A member's trained weights: its stored file, else trained again (a study retrained before members were kept;
    the same seed gives the same network)."""
    if folder is not None and member.get("weights"):
        path = folder / str(member["weights"])
        if path.is_file():
            return path.read_bytes()
    res = evaluator(arch, member["seed"], weights=True)
    if res.checkpoint is None:
        raise StudyError(f"retraining member seed {member['seed']} of trial #{result.final.number} failed: {res.error}")
    return res.checkpoint


ENSEMBLES = ("greedy", "selection")


def export_study(study: str, db: str, out: str | Path, members: int | None = None, networks_only: bool = False,
                 ensemble: str = "greedy") -> dict[str, Any]:
    """Write arch.json, model.pt and README.md into ``out``: the study's selection (``seqnas.final``) as the
    ensemble of its retrained networks (the first ``members`` of them; default all), their mean forecast; or,
    where a statistical forecast scored beside the study (``seqnas.candidates``) has the lower validation MSE
    and ``networks_only`` is False, that model (``model.pkl``). ``ensemble`` "greedy" (the default; not with
    ``members``): where it has the lower validation MSE, the greedy ensemble (``seqnas.ensemble``) over every
    candidate's retrained networks and (unless ``networks_only``) the statistical forecasts instead."""
    if ensemble not in ENSEMBLES:
        raise ConfigError(f"--ensemble must be one of {list(ENSEMBLES)}, got {ensemble!r}")
    import io

    from seqnas.final import member_dir
    from seqnas.storage import Storage

    members = _check_members(members)
    result = _selection(study, db)
    settings = result.settings
    final = result.final
    if settings.task is None or final is None:
        ranked = result.ranked()  # an objective-function study: its best by the primary objective
        best = ranked[0] if ranked else None
        if best is None or best.arch is None:
            raise StudyError(f"study {study!r} has no completed trial to export yet")
        if settings.task is not None:
            raise StudyError(f"study {study!r}: no retraining of its best candidates succeeded; nothing to deploy")
        out = _out_dir(out)
        only = {"study": study, "strategy": result.strategy, "trial": best.number, "arch": best.arch.to_dict(),
                "family": result.space.family, "searched_metrics": best.metrics}
        (out / "arch.json").write_text(json.dumps(only, indent=2))
        return only  # an objective-function study has no model to retrain
    chosen = final.members[:members] if members is not None else final.members
    if members is not None and members > len(final.members):
        raise ConfigError(f"--members {members}: the selection (trial #{final.number}) has {len(final.members)} retrained "
                          f"network(s); give at most that, or retrain more (`seqnas retrain --final-repeats N`)")
    out = _out_dir(out)
    arch = Arch(final.arch)
    evaluator = TaskEvaluator(settings.task, result.space.family, settings.train, settings.objectives)
    storage = Storage(db, create=False)
    try:
        row = storage.get_study(study)
        folder = member_dir(storage, row)
        runs, top_n = stored_runs(storage, row), (stored_final_settings(storage, row) or (1, DEFAULT_TOP))[1]
    finally:
        storage.close()
    data = load_task(task_for(settings.task, arch))  # its window and calendar inputs, if they were searched
    nets = []
    for member in chosen:
        net = build(arch, result.space.family, data.n_features, data.horizon, window=data.window, season=data.info.get("season"))
        net.load_state_dict(torch.load(io.BytesIO(_member_weights(result, evaluator, folder, member, arch)), weights_only=True))
        nets.append(net)
    model = Ensemble(nets)
    metrics = ensemble_metrics(model, data)
    step = _time_step(settings.task)
    naive = naive_scale_of(data)
    if ensemble == "greedy" and members is None and folder is not None:
        items = ensemble_pool(result, result.records, runs, folder, top_n, statistical=not networks_only)
        weights = greedy(items, data.y_val)
        if ensemble_mse(combine(items, weights, "val"), data.y_val) < metrics["val_mse"]:
            if len(weights) == 1 and next(it for it in items if it.name in weights).kind == "statistical":
                name = next(iter(weights))
                return export_statistical(study, result, out, folder, (name, result.statistical[name]), metrics, step, naive)
            return export_greedy(study, result, out, folder, items, weights, metrics, step, naive)
    top = None if networks_only else best_statistical(result.statistical)
    if top is not None and top[1]["val_mse"] < metrics["val_mse"] and top[1].get("file") and folder is not None:
        return export_statistical(study, result, out, folder, top, metrics, step, naive)
    searched = next((r for r in result.records if r.number == final.number), None)
    meta: dict[str, Any] = {
        "study": study, "strategy": result.strategy, "trial": final.number, "members": len(nets),
        "member_seeds": [int(m["seed"]) for m in chosen], "arch": arch.to_dict(), "family": result.space.family,
        "searched_metrics": searched.metrics if searched is not None else {},
        "members_metrics": [{"seed": m["seed"], "val_mse": m["val_mse"], "test_mse": m["test_mse"]} for m in chosen],
        "task": settings.task.to_json(), "n_features": data.n_features, "window": data.window, "horizon": data.horizon,
        "columns": data.columns, "target": data.target, "calendar": data.info.get("calendar") or [],
        "season": data.info.get("season"), "time_column": settings.task.time_column, "time_step": step,
        "scaling": "standard: (x - mean) / std per column, fitted on the training part", "mean": data.mean.tolist(),
        "std": data.std.tolist(), "naive_mae": naive, "retrained_metrics": metrics}
    torch.save(model.state_dict(), out / "model.pt")
    (out / "arch.json").write_text(json.dumps(meta, indent=2))
    single = [m["test_mse"] for m in chosen]
    (out / "README.md").write_text(_README.format(
        study=study, strategy=result.strategy, number=final.number, members=len(nets),
        val=searched.value if searched is not None and searched.value is not None else float("nan"),
        val2=metrics["val_mse"], test=metrics["test_mse"], single=sum(single) / len(single), params=metrics["params"],
        out=str(out), window=data.window, features=data.n_features, horizon=data.horizon, target=data.target,
        columns=", ".join(f"`{c}`" for c in data.columns),
        calendar=_inputs_phrase(data.info.get("calendar") or [], bool(arch.get("level"))),
        time=_time_phrase(settings.task.time_column, step), time_df=f" (and {settings.task.time_column!r}: continued)"
        if settings.task.time_column else "", errors=errors_markdown(metrics, data.horizon),
        naive="-" if naive is None else f"{naive:.4g}"))
    return meta


def ensemble_metrics(model: torch.nn.Module, data: Any) -> dict[str, Any]:
    """The deployed forecast's errors: MSE of standardised values and the unit measures, validation and test."""
    from seqnas.evaluation.training import mse, unit_errors
    from seqnas.models import count_params

    metrics: dict[str, Any] = {"val_mse": mse(model, torch.from_numpy(data.X_val), torch.from_numpy(data.y_val)),
                               "test_mse": mse(model, torch.from_numpy(data.X_test), torch.from_numpy(data.y_test))}
    metrics.update(unit_errors(model, data))
    metrics["params"] = count_params(model)
    return metrics


def _out_dir(out: str | Path) -> Path:
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create export directory {str(out)!r}: {e.strerror}") from None
    return out


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
    arch, n = Arch(meta["arch"]), int(meta.get("members") or 0)
    def one() -> torch.nn.Module:
        return build(arch, meta["family"], meta["n_features"], meta["horizon"], window=meta["window"], season=meta.get("season"))

    # The ensemble of the selection's retrained members; an export without "members" holds one network.
    model: torch.nn.Module = Ensemble([one() for _ in range(n)]) if n else one()
    model.load_state_dict(torch.load(p / "model.pt", weights_only=True))
    model.eval()
    return model, meta


__all__ = ["Ensemble", "export_study", "load_exported"]
