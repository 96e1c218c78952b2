"""The records that flow between strategy, runner, executor and storage."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable

from seqnas.space.base import Arch


class TrialState(str, Enum):
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"

    @property
    def finished(self) -> bool:
        return self is not TrialState.RUNNING


@dataclass(frozen=True)
class Proposal:
    """What a strategy asks the runner to run.

    Either an architecture to evaluate with the study's evaluator, or a one-shot ``job``
    (a picklable callable ``job(context) -> Result``, e.g. a supernet search) whose result
    goes back to the strategy like any other trial's.
    """

    arch: Arch | None = None
    job: Any = None
    kind: str = "arch"
    info: dict[str, Any] = field(default_factory=dict)
    # A multi-fidelity promotion: the saved training state of the previous rung that this trial
    # continues (filled in by the runner when it submits the trial; never stored in ``info``).
    checkpoint: bytes | None = field(default=None, repr=False, compare=False)
    # The CPU-seconds left of a --cpu-seconds budget when the runner submitted it: an evaluator that supports it
    # (``accepts_cpu_limit``) ends training after the epoch that spends it (filled in by the runner; never stored).
    cpu_limit: float | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.arch is None) == (self.job is None):
            raise ValueError("a Proposal holds exactly one of arch or job")


@dataclass
class Result:
    """The outcome of one evaluation: state, objective values, metrics, timings, error."""

    state: TrialState
    values: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    duration: float = 0.0
    error: str | None = None
    curve: list[float] = field(default_factory=list)  # validation MSE after each epoch trained in this trial's run
    # Multi-fidelity: the training state to continue from at the next rung (the runner writes it
    # next to the database; it is not a column).
    checkpoint: bytes | None = field(default=None, repr=False)

    @classmethod
    def failed(cls, reason: str, duration: float = 0.0, **metrics: Any) -> Result:
        return cls(TrialState.FAILED, {}, dict(metrics), duration, reason)

    def check_finite(self) -> Result:
        """A COMPLETE result whose objective values are not finite becomes FAILED."""
        if self.state is TrialState.COMPLETE:
            bad = [k for k, v in self.values.items() if not math.isfinite(float(v))]
            if bad:
                return Result.failed(f"non-finite objective {', '.join(bad)}", self.duration, **self.metrics)
        return self


@dataclass
class TrialRecord:
    """A stored trial as strategies, reports and the API see it."""

    number: int
    state: TrialState
    arch: Arch | None
    kind: str = "arch"
    values: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    started_at: float | None = None
    finished_at: float | None = None
    duration: float = 0.0
    told_before: int = 0  # how many results the strategy had been told when it proposed this
    tell_seq: int | None = None  # order in which the result was told (None while running)
    curve: list[float] = field(default_factory=list)  # validation MSE after each epoch (all rungs so far)

    @property
    def tell_order(self) -> tuple[bool, int, int]:
        """Sort key of the order results were told: told ones by ``tell_seq``, then the rest by number."""
        return (self.tell_seq is None, self.tell_seq or 0, self.number)

    @property
    def fidelity(self) -> float:
        """Epochs this trial's evaluation was allowed (multi-fidelity rungs); full training: inf."""
        epochs = self.info.get("rung_epochs")
        return float(epochs) if epochs is not None else math.inf

    @property
    def value(self) -> float | None:
        """The first objective's value (None unless COMPLETE)."""
        if self.state is not TrialState.COMPLETE or not self.values:
            return None
        return next(iter(self.values.values()))


def oriented(record: TrialRecord, maximized: Collection[str]) -> TrialRecord:
    """The record as a strategy sees it: the values of the ``maximized`` objectives negated, because
    every strategy minimises. The same record when nothing is maximised; else a copy (the stored
    values stay as the objective returned them)."""
    if not maximized or not record.values:
        return record
    return dataclasses.replace(record, values={k: -float(v) if k in maximized else v for k, v in record.values.items()})


def best_first(records: Sequence[TrialRecord], key: Callable[[TrialRecord], float | None] | None = None, *,
               maximize: bool = False) -> list[TrialRecord]:
    """The completed architecture trials a study would select from, best first, one per architecture.

    Ranked by fidelity first (a multi-fidelity study's rungs: an architecture trained to the
    full budget beats one stopped at a lower rung, as in Hyperband), then by ``key`` (default:
    the primary objective; the highest first with ``maximize``), then earliest. An architecture
    appears once, at its best rank.
    """
    key = key or (lambda r: r.value)
    sign = -1.0 if maximize else 1.0
    scored = [(-r.fidelity, sign * v, r.number, r) for r in records
              if r.kind == "arch" and r.arch is not None and r.state is TrialState.COMPLETE
              and (v := key(r)) is not None and math.isfinite(v)]
    out, seen = [], set()
    for *_, r in sorted(scored, key=lambda t: t[:3]):
        if r.arch.key not in seen:  # type: ignore[union-attr]
            seen.add(r.arch.key)  # type: ignore[union-attr]
            out.append(r)
    return out
