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
from seqnas.strategies.random_search import RandomSearch
from seqnas.strategies.reinforce import ReinforceSearch

STRATEGIES: dict[str, type[Strategy]] = {
    "random": RandomSearch, "grid": GridSearch, "evolution": RegularizedEvolution, "rl": ReinforceSearch,
    "bayesian": BayesianSearch, "darts": DartsSearch, "local": LocalSearch,
}


def register_strategy(cls: type[Strategy]) -> type[Strategy]:
    STRATEGIES[cls.name] = cls
    return cls


def default_trials(name: str) -> int:
    """The --trials budget when no budget is given: 30, or the strategy's own (darts: 1 derived architecture)."""
    return int(getattr(STRATEGIES.get(name), "default_trials", 30))


def make_strategy(name: str, space: SearchSpace, *, seed: int = 0, objectives: Sequence[str] = ("val_mse",),
                  options: dict[str, Any] | None = None) -> Strategy:
    if name not in STRATEGIES:
        raise ConfigError(f"unknown strategy {name!r}; use one of {sorted(STRATEGIES)}")
    try:
        return STRATEGIES[name](space, seed=seed, objectives=objectives, **(options or {}))
    except TypeError as e:
        raise ConfigError(f"bad option for strategy {name!r}: {e}") from None


__all__ = ["STRATEGIES", "Strategy", "default_trials", "make_strategy", "register_strategy"]
