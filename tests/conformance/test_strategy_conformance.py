"""The strategy conformance suite for every built-in strategy: ``seqnas.testing.StrategyConformance``.

One test class per strategy of ``seqnas.strategies`` (built in, or registered in-process; not
the plugins of installed packages, which run the kit in their own tests), generated below:
deterministic for a seed, never an architecture twice, conditions respected, several trials in
flight, a tiny space exhausted cleanly, resume after replay (and through storage) == an
uninterrupted run, failed trials never crash it, its failure contract (``FAILURE_CONTRACTS``),
several objectives. On spaces with a model family the suite is task-backed: darts' supernet search
really runs on sunspots with a tiny budget (``options``). A strategy is skipped on a case only
when it cannot apply to it, with the reason (a one-shot strategy on a space without a model family).

A multi-fidelity strategy (``MultiFidelity``: successive halving, Hyperband, ASHA over an inner
strategy) proposes an architecture once per rung it reaches; ``seqnas.testing.assert_no_repeats``
checks it never runs the same (architecture, rung) twice and promotes only finished trials. Its
studies train for ``seqnas.testing.MAX_EPOCHS`` epochs (rungs of 1, 3 and 9).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from seqnas.space import SearchSpace
from seqnas.strategies import make_strategy, strategy_names
from seqnas.strategies.base import Strategy
from seqnas.testing import MAX_EPOCHS, StrategyConformance

NAMES = sorted(strategy_names(plugins=False))

# What each strategy does with a failed trial (``seqnas.testing.contracts.CONTRACTS``); a strategy
# without a contract here fails its test_failed_trials_count_as_worst.
FAILURE_CONTRACTS: dict[str, str] = {
    "random": "results_change_nothing", "grid": "results_change_nothing", "evolution": "no_failed_parent",
    "rl": "avoids_what_fails", "bayesian": "avoids_what_fails", "darts": "derived_order_whatever_fails",
    "local": "failed_never_improve",
    "hyperband": "failed_never_promoted", "bohb": "failed_never_promoted", "asha-evolution": "failed_never_promoted",
}



def options(name: str, space: SearchSpace) -> dict[str, Any]:
    """Strategy options that keep a case fast: darts' supernet search in about a second (two epochs on
    a tiny space; one epoch training one sampled path per step on the full rnn-macro space)."""
    if name != "darts":
        return {}
    if space.name == "rnn-macro":
        return {"epochs": 1, "batch_size": 512, "weight_paths": "sampled"}
    return {"epochs": 2, "batch_size": 64}


class BuiltinConformance(StrategyConformance):
    """A registered strategy, made by name as a study of MAX_EPOCHS training epochs makes it."""

    require_failure_contract = True

    def make_strategy(self, space: SearchSpace, *, seed: int, objectives: Sequence[str], **extra: Any) -> Strategy:
        assert self.registered_name is not None
        return make_strategy(self.registered_name, space, seed=seed, objectives=objectives, options=extra,
                             max_epochs=MAX_EPOCHS)

    def strategy_options(self, space: SearchSpace) -> dict[str, Any]:
        assert self.registered_name is not None
        return options(self.registered_name, space)


for _name in NAMES:
    _cls = type(f"Test_{_name.replace('-', '_')}", (BuiltinConformance,), {
        "registered_name": _name, "failure_contract": FAILURE_CONTRACTS.get(_name), "__module__": __name__,
        "__doc__": f"The conformance kit on strategy {_name!r}.",
    })
    globals()[_cls.__name__] = _cls
del _name, _cls
