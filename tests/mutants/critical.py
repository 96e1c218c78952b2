"""The curated critical mutants: changes to the product that its focused tests must catch (tests/mutants/run.py
applies each to a temporary copy and runs those tests; CI fails if one survives or if an original snippet is no
longer in its file, so the list stays in step with the code).

Each mutant is one exact snippet of one file and what it becomes. The first four are the table of issue 30
(the export one aside); the others are the errors judged most dangerous among stable modules: each would give a
user wrong numbers or a wrong selection with every run still "succeeding".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str  # relative to the project root
    original: str  # must occur exactly once in the file
    mutated: str
    tests: tuple[str, ...]  # pytest arguments: the focused test file(s), with a -k selection where one suffices
    why: str


MUTANTS: list[Mutant] = [
    Mutant(
        "promotion-restarts-from-scratch", "seqnas/runner.py",
        "proposal = dataclasses.replace(proposal, checkpoint=self.checkpoints.read(int(parent)))",
        "proposal = dataclasses.replace(proposal, checkpoint=None)",
        ("tests/test_multifidelity.py", "-k", "promotion_trains_only"),
        "a promoted rung ignores its parent's checkpoint: same curve, but it pays all its epochs again",
    ),
    Mutant(
        "cpu-deadline-on-the-wall-clock", "seqnas/evaluation/training.py",
        "time.process_time() >= cpu_deadline",
        "time.perf_counter() >= cpu_deadline",
        ("tests/test_budgets.py", "-k", "capped_trial_stops"),
        "the per-trial CPU deadline compared with perf_counter: every capped trial stops after one epoch",
    ),
    Mutant(
        "cpu-cap-ignored", "seqnas/evaluation/evaluator.py",
        "cpu_deadline=None if cpu_limit is None else c0 + cpu_limit",
        "cpu_deadline=None",
        ("tests/test_budgets.py", "-k", "capped_trial_stops"),
        "the per-trial CPU cap is never passed to training: one long trial runs a study far past its budget",
    ),
    Mutant(
        "unscale-drops-the-mean", "seqnas/evaluation/training.py",
        "return np.asarray(y, dtype=np.float64) * float(std) + float(mean)",
        "return np.asarray(y, dtype=np.float64) * float(std)",
        ("tests/test_oracles.py", "-k", "constant_scaled"),
        "forecasts and error measures in the wrong units (the series' mean left out)",
    ),
    Mutant(
        "scaling-fitted-on-all-rows", "seqnas/tasks/base.py",
        "fit = values[:train_end]",
        "fit = values",
        ("tests/test_oracles.py", "-k", "split_is_chronological"),
        "the scaling statistics see the validation and test rows: the future leaks into training",
    ),
    Mutant(
        "final-selects-the-worst-retrained", "seqnas/final.py",
        "if best is None or f.val_mse < best.val_mse:",
        "if best is None or f.val_mse > best.val_mse:",
        ("tests/test_oracles.py", "-k", "selection"),
        "the delivered architecture is the candidate with the highest mean retrained validation MSE",
    ),
    Mutant(
        "holm-does-not-correct", "seqnas/report/stats.py",
        'corrected = multipletests([pvalues[i] for i in idx], alpha=ALPHA, method="holm")[1]',
        "corrected = [pvalues[i] for i in idx]",
        ("tests/test_report.py", "-k", "holm_on_planted"),
        "the race claims a strategy beats random search on uncorrected p-values",
    ),
    Mutant(
        "scheduler-promotes-the-worst", "seqnas/strategies/multifidelity.py",
        "key=lambda kv: (kv[1][0], kv[1][1])",
        "key=lambda kv: (-kv[1][0], kv[1][1])",
        ("tests/test_multifidelity.py", "-k", "hyperband_runs_its_brackets"),
        "successive halving continues the worst architectures of each rung",
    ),
    Mutant(
        "selection-ignores-the-rung", "seqnas/trial.py",
        "scored = [(-r.fidelity, sign * v, r.number, r)",
        "scored = [(0.0, sign * v, r.number, r)",
        ("tests/test_multifidelity.py", "-k", "prefers_the_highest_rung"),
        "a multi-fidelity study selects a low rung's lucky value over the architectures trained to the end",
    ),
    Mutant(
        "export-writes-the-searchs-best", "seqnas/export.py",
        "    arch = Arch(final.arch)\n",
        "    arch = Arch(result.ranked()[0].arch)\n",
        ("tests/test_export_studies.py", "-k", "stored_selection_not_the_searchs_best"),
        "the export deploys the search's best single training instead of the retrained selection (the winner's curse)",
    ),
    Mutant(
        "ensemble-ignores-its-weights", "seqnas/forecast.py",
        "total += part.weight * out",
        "total += out / len(self.parts)",
        ("tests/test_ensemble.py", "-k", "weighted_sum"),
        "an exported greedy ensemble averages its parts equally: not the forecast its validation figures measured",
    ),
    Mutant(
        "one-budget-ignores-the-search", "seqnas/final.py",
        "return max(0.0, budget.cpu_seconds - searched - retrained - statistical)",
        "return max(0.0, budget.cpu_seconds - retrained - statistical)",
        ("tests/test_base_forecast.py", "-k", "one_budget"),
        "the retraining spends the whole budget again after the search: a study runs far past --cpu-seconds",
    ),
]
