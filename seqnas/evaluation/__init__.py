"""Evaluation: train-and-validate with early stopping, and the metrics of a trial.

The names below are loaded on first use (PEP 562): ``seqnas.evaluation.metrics`` and
``TrainBudget`` need no torch, so `seqnas show` reads a study without importing it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqnas._lazy import lazy_names

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

__all__ = ["METRICS", "OBJECTIVES", "ObjectiveEvaluator", "TaskEvaluator", "TrainBudget", "parse_objectives", "trial_seed"]

__getattr__, __dir__ = lazy_names(__name__, _WHERE, globals(), __all__)
