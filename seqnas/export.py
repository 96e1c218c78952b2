"""Export a study's best architecture: its JSON, retrained weights, and how to load them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from seqnas.api import load
from seqnas.errors import StudyError, UserError
from seqnas.evaluation import TaskEvaluator
from seqnas.models import build
from seqnas.space import Arch
from seqnas.tasks import load_task

_README = """# Exported seqnas model

Study `{study}` ({strategy}), best trial #{number}: validation MSE {val:.6g} when searched.
Retrained here with the study's seed: validation MSE {val2:.6g}, test MSE {test:.6g}, {params} parameters.

Files: `arch.json` (architecture, task and scaling), `model.pt` (the weights, a state dict).

```python
from seqnas.export import load_exported
model, meta = load_exported("{out}")
# inputs: (batch, {window}, {features}) windows scaled with meta["mean"] / meta["std"];
# outputs: (batch, {horizon}) scaled targets; unscale with meta["mean"][0] / meta["std"][0].
```
"""


def export_study(study: str, db: str, out: str | Path) -> dict[str, Any]:
    """Write arch.json, model.pt (retrained best architecture) and README.md into ``out``."""
    result = load(study, db)
    best = result.best_trial
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
    data = load_task(settings.task)
    meta.update({"task": settings.task.to_json(), "n_features": data.n_features, "window": data.window,
                 "horizon": data.horizon, "columns": data.columns, "mean": data.mean.tolist(), "std": data.std.tolist(),
                 "retrained_metrics": metrics})
    torch.save(model.state_dict(), out / "model.pt")
    (out / "arch.json").write_text(json.dumps(meta, indent=2))
    (out / "README.md").write_text(_README.format(
        study=study, strategy=result.strategy, number=best.number, val=best.value, val2=metrics["val_mse"],
        test=metrics["test_mse"], params=metrics["params"], out=str(out), window=data.window,
        features=data.n_features, horizon=data.horizon))
    return meta


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
