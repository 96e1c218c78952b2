"""Strategy "darts": one supernet search (a one-shot trial), then its derived architectures, best first."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqnas.errors import ConfigError
from seqnas.families import supernet_family
from seqnas.models.supernet import DERIVATIONS, MIXINGS
from seqnas.seeds import derive_seed
from seqnas.space.base import Arch, SearchSpace
from seqnas.strategies.base import WAIT, Strategy
from seqnas.strategies.darts.remedies import DEFAULT_REMEDY, REMEDIES, SELECTIONS, DartsConfig
from seqnas.strategies.darts.search import search_supernet
from seqnas.strategies.options import bool_option, choice_option, float_option, int_option
from seqnas.trial import Proposal, Result, TrialRecord, TrialState


def supernet_seed(seed: int) -> int:
    """The seed of the supernet search of a trial seeded ``seed``."""
    return derive_seed(seed, "supernet")


@dataclass(frozen=True)
class SupernetJob:
    """The supernet search as a picklable one-shot job: ``job(evaluator, seed) -> Result``.

    It trains on the study's task (``evaluator.task``) with the study's batch size and
    gradient clipping, and returns a COMPLETE result without objective values whose metrics
    hold the ranked derived architectures (``derived``), the diagnostics (``darts``) and its
    ``cpu_seconds`` (charged to the study's CPU budget like any trial's).
    """

    space: dict[str, Any]
    config: dict[str, Any]

    def __call__(self, evaluator: Any, seed: int) -> Result:
        from seqnas.evaluation.training import seed_everything
        from seqnas.tasks import load_task

        t0, c0 = time.perf_counter(), time.process_time()
        task = getattr(evaluator, "task", None)
        if task is None:
            raise ConfigError("strategy 'darts' trains a supernet on a task; it cannot search a Python objective function")
        from seqnas.tasks.inputs import fixed_inputs, task_for

        space = SearchSpace.from_json(self.space)
        config = DartsConfig(**self.config)
        # The supernet reads one window: a searched window (or calendar) is fixed at its first choice or
        # the option fixed's value, and the derived architectures carry that value (fixed_values).
        data = load_task(task_for(task, fixed_inputs(space, config.fixed)))
        gen = seed_everything(supernet_seed(seed))
        budget = evaluator.budget
        metrics = search_supernet(space, data, config, gen, grad_clip=float(budget.grad_clip), default_batch=int(budget.batch_size),
                                  max_params=getattr(evaluator, "max_params", None))
        metrics["cpu_seconds"] = time.process_time() - c0
        if not metrics["derived"]:
            return Result.failed("the supernet derived no architecture (every candidate broke --max-params?)",
                                 time.perf_counter() - t0, **metrics)
        return Result(TrialState.COMPLETE, {}, metrics, time.perf_counter() - t0)


class DartsSearch(Strategy):
    """Gradient-based one-shot search (DARTS) with an anti-collapse remedy on by default.

    The first proposal is the supernet search (kind ``supernet``); until its result arrives
    the strategy waits. Then it proposes the derived architectures, most probable first, as
    ordinary architecture trials that the study's evaluator trains from scratch, so their
    validation MSE is measured like every other strategy's; ``--trials N`` evaluates the top
    N. When the list is used up (or the supernet failed) the strategy is exhausted.

    Options: epochs (20), order (1 or 2), remedy (darts+ (default), darts-, drnas, gdas, none; see
    ``remedies.REMEDIES``), and to override a remedy's parts: mixing (softmax, dirichlet,
    gumbel), warmup, kl, stop_patience, stop_on_collapse, aux; weight_paths (mixture, or
    sampled: each weight step trains one architecture drawn from the current distribution, at
    the cost of one discrete network); arch_lr, weight_lr, batch_size, xi, tau, top_k (length of
    the derived list), derive (argmax, default: DARTS's per-decision argmax first, the rest by
    their deviation from it; joint: by the joint log-probability of the active choices),
    selection (alpha: by architecture weight; pt: DARTS-PT perturbation, with pt_tune epochs of
    weight tuning after each decision), progress, fixed (values for the
    parameters the supernet does not relax, e.g. {"lr": 0.01}).
    """

    name = "darts"
    requires_task = "trains a supernet on a task"  # (why it cannot search an objective function)
    default_trials = 1  # with no budget given: the supernet search and its top-1 architecture

    def __init__(self, space: SearchSpace, *, seed: int = 0, objectives: Sequence[str] = ("val_mse",),
                 epochs: int = 20, order: int = 1, remedy: str = DEFAULT_REMEDY, mixing: str | None = None,
                 warmup: float | None = None, kl: float | None = None, stop_patience: int | None = None,
                 stop_on_collapse: bool | None = None, aux: float | None = None, weight_paths: str = "mixture",
                 arch_lr: float = 0.05, weight_lr: float | None = None, batch_size: int | None = None,
                 xi: float | None = None, tau: float = 1.0, top_k: int = 50, derive: str = "argmax",
                 selection: str = "alpha", pt_tune: int = 1,
                 progress: bool | None = None, fixed: dict[str, Any] | None = None) -> None:
        super().__init__(space, seed=seed, objectives=objectives)
        # A one-line ConfigError for a space without a registered family, or a family without a supernet.
        supernet_family(space.family, "strategy 'darts'", "search other spaces and objective functions with another strategy")
        n = self.name
        if fixed is not None and not isinstance(fixed, dict):
            raise ConfigError(f"strategy 'darts': option fixed must be a mapping of parameter -> value, got {fixed!r}")
        from seqnas.tasks.inputs import fixed_inputs

        fixed_inputs(space, fixed or {})  # a fixed window or calendar that is not one of the space's choices: refused now
        self.config = DartsConfig(
            epochs=int_option(n, "epochs", epochs, low=1), order=int_option(n, "order", order, low=1),
            remedy=choice_option(n, "remedy", remedy, sorted(REMEDIES)),
            mixing=None if mixing is None else choice_option(n, "mixing", mixing, MIXINGS),
            warmup=None if warmup is None else float_option(n, "warmup", warmup, 0.0),
            kl=None if kl is None else float_option(n, "kl", kl, 0.0),
            stop_patience=None if stop_patience is None else int_option(n, "stop_patience", stop_patience, low=0),
            stop_on_collapse=None if stop_on_collapse is None else bool_option(n, "stop_on_collapse", stop_on_collapse),
            aux=None if aux is None else float_option(n, "aux", aux, 0.0),
            weight_paths=choice_option(n, "weight_paths", weight_paths, ["mixture", "sampled"]),
            arch_lr=float_option(n, "arch_lr", arch_lr, 0.0, low_open=True),
            weight_lr=None if weight_lr is None else float_option(n, "weight_lr", weight_lr, 0.0, low_open=True),
            batch_size=None if batch_size is None else int_option(n, "batch_size", batch_size, low=1),
            xi=None if xi is None else float_option(n, "xi", xi, 0.0),
            tau=float_option(n, "tau", tau, 0.0, low_open=True), top_k=int_option(n, "top_k", top_k, low=1),
            derive=choice_option(n, "derive", derive, DERIVATIONS),
            selection=choice_option(n, "selection", selection, SELECTIONS), pt_tune=int_option(n, "pt_tune", pt_tune, low=0),
            progress=None if progress is None else bool_option(n, "progress", progress),
            fixed=dict(fixed or {}),
        ).resolved()
        if self.config.order not in (1, 2):
            raise ConfigError(f"strategy 'darts': option order must be 1 (first-order) or 2 (second-order), got {order!r}")
        self.derived: list[Arch] | None = None
        self.derived_logp: list[float] = []
        self.cursor = 0
        self.phase = "start"  # start -> searching -> derived | failed

    def _propose(self, rng: np.random.Generator) -> Arch | Proposal | None:
        if self.phase == "start":
            self.phase = "searching"
            job = SupernetJob(self.space.to_json(), self.config.to_json())
            return Proposal(job=job, kind="supernet", info={"remedy": self.config.remedy, "order": self.config.order,
                                                            "epochs": self.config.epochs})
        if self.phase == "searching":
            return WAIT
        if self.phase == "failed" or self.derived is None:
            return None
        while self.cursor < len(self.derived):
            rank = self.cursor
            self.cursor += 1
            arch = self.derived[rank]
            if self.fresh(arch):
                return Proposal(arch=arch, info={"rank": rank + 1, "logp": self.derived_logp[rank]})
        return None

    def _observe(self, record: TrialRecord) -> None:
        if record.kind != "supernet":
            return
        if record.state is not TrialState.COMPLETE:
            self.phase = "failed"
            return
        try:
            self.derived = [self.space.validate(a) for a in record.metrics.get("derived", [])]
        except Exception:  # noqa: BLE001 - a stored result that no longer fits the space: nothing to propose
            self.derived = []
        self.derived_logp = [float(v) for v in record.metrics.get("derived_logp", [])] + [float("nan")] * len(self.derived)
        self.phase = "derived"
