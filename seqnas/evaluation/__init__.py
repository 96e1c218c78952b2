"""Evaluation: train-and-validate with early stopping, and the metrics of a trial."""

from seqnas.evaluation.evaluator import (
    METRICS,
    OBJECTIVES,
    ObjectiveEvaluator,
    TaskEvaluator,
    parse_objectives,
    trial_seed,
)
from seqnas.evaluation.training import TrainBudget

__all__ = ["METRICS", "OBJECTIVES", "ObjectiveEvaluator", "TaskEvaluator", "TrainBudget", "parse_objectives", "trial_seed"]
