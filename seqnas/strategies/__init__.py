"""Search strategies behind one interface, looked up by name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from seqnas.errors import ConfigError
from seqnas.space.base import SearchSpace
from seqnas.strategies.base import Strategy
from seqnas.strategies.bayesian import BayesianSearch
from seqnas.strategies.darts import DartsSearch
from seqnas.strategies.evolution import RegularizedEvolution
from seqnas.strategies.grid import GridSearch
from seqnas.strategies.local_search import LocalSearch
from seqnas.strategies.multifidelity import OPTIONS as SCHEDULER_OPTIONS
from seqnas.strategies.multifidelity import MultiFidelity
from seqnas.strategies.random_search import RandomSearch
from seqnas.strategies.reinforce import ReinforceSearch


class Hyperband(MultiFidelity):
    """Hyperband (Li et al. 2018): its brackets of successive halving over random proposals."""

    name = "hyperband"
    default_scheduler, default_inner = "hyperband", "random"


class BOHB(MultiFidelity):
    """BOHB (Falkner et al. 2018): Hyperband's brackets, proposals from TPE fitted on the highest
    rung with enough results."""

    name = "bohb"
    default_scheduler, default_inner = "hyperband", "bayesian"


class AshaEvolution(MultiFidelity):
    """ASHA (Li et al. 2020) over regularized evolution: members ranked by their highest rung."""

    name = "asha-evolution"
    default_scheduler, default_inner = "asha", "evolution"


STRATEGIES: dict[str, type[Strategy]] = {
    "random": RandomSearch, "grid": GridSearch, "evolution": RegularizedEvolution, "rl": ReinforceSearch,
    "bayesian": BayesianSearch, "darts": DartsSearch, "local": LocalSearch,
    "hyperband": Hyperband, "bohb": BOHB, "asha-evolution": AshaEvolution,
}


def register_strategy(cls: type[Strategy]) -> type[Strategy]:
    STRATEGIES[cls.name] = cls
    return cls


def default_trials(name: str) -> int:
    """The --trials budget when no budget is given: 30, or the strategy's own (darts: 1 derived architecture)."""
    return int(getattr(STRATEGIES.get(name), "default_trials", 30))


def make_strategy(name: str, space: SearchSpace, *, seed: int = 0, objectives: Sequence[str] = ("val_mse",),
                  options: dict[str, Any] | None = None, max_epochs: int | None = None) -> Strategy:
    """The strategy ``name`` with its options. Option ``scheduler`` (asha, hyperband, sh; with
    ``min_epochs``, ``eta``, ``max_epochs``) puts any strategy under a multi-fidelity scheduler;
    ``max_epochs`` (the study's training budget) is its highest rung unless the options say."""
    if name not in STRATEGIES:
        raise ConfigError(f"unknown strategy {name!r}; use one of {sorted(STRATEGIES)}")
    options = dict(options or {})
    cls = STRATEGIES[name]
    if "scheduler" in options and not issubclass(cls, MultiFidelity):
        wrap = {k: options.pop(k) for k in SCHEDULER_OPTIONS if k in options}
        options = {**wrap, "inner": name, "inner_options": options}
        cls = MultiFidelity
    if issubclass(cls, MultiFidelity) and options.get("max_epochs") is None:
        options["max_epochs"] = max_epochs
    try:
        return cls(space, seed=seed, objectives=objectives, **options)
    except TypeError as e:
        raise ConfigError(f"bad option for strategy {name!r}: {e}") from None


__all__ = ["STRATEGIES", "MultiFidelity", "Strategy", "default_trials", "make_strategy", "register_strategy"]
