"""Evaluation: train-and-validate with early stopping, and the metrics of a trial.

The names below are loaded on first use (PEP 562): ``seqnas.evaluation.metrics`` and
``TrainBudget`` need no torch, so `seqnas show` reads a study without importing it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seqnas.evaluation.budget import TrainBudget
    from seqnas.evaluation.evaluator import (
        METRICS,
        OBJECTIVES,
        ObjectiveEvaluator,
        TaskEvaluator,
        parse_objectives,
        trial_seed,
    )

_WHERE = {
    "METRICS": "evaluator", "OBJECTIVES": "evaluator", "ObjectiveEvaluator": "evaluator", "TaskEvaluator": "evaluator",
    "parse_objectives": "evaluator", "trial_seed": "evaluator", "TrainBudget": "budget",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    if not name.startswith("_"):  # a submodule not imported yet (seqnas.evaluation.training, ...)
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = ["METRICS", "OBJECTIVES", "ObjectiveEvaluator", "TaskEvaluator", "TrainBudget", "parse_objectives", "trial_seed"]
