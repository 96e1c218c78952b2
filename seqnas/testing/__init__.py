"""A conformance kit for search strategies: the properties every seqnas strategy must have, as pytest tests.

Subclass ``StrategyConformance`` in a test module (the class name starting with ``Test``) and
implement ``make_strategy``; pytest then checks your strategy the way seqnas checks its own:
deterministic for a seed, never an architecture twice, proposals valid and canonical on
conditional spaces, several trials in flight with results out of order, a 6-architecture space
exhausted exactly, resume after replay (and through a stored study) continuing exactly as an
uninterrupted run, failed trials never crashing it, several objectives::

    import numpy as np
    from seqnas.strategies.base import Strategy
    from seqnas.testing import StrategyConformance

    class MyRandom(Strategy):
        name = "my-random"

        def _propose(self, rng: np.random.Generator):
            return self.sample_fresh(rng)  # an unseen architecture, None once the space is used up

    class TestMyRandom(StrategyConformance):
        def make_strategy(self, space, *, seed, objectives):
            return MyRandom(space, seed=seed, objectives=objectives)

Architecture trials get cheap made-up results (``driver.Driver``); no training runs unless the
strategy proposes a one-shot job (a ``Proposal`` with a ``job``, like darts' supernet search), which
trains for real on the built-in sunspots task with a tiny budget on spaces with a model family. A
check is skipped, with its reason, where the strategy cannot apply: ``make_strategy`` raises
``seqnas.errors.UserError`` (e.g. ``ConfigError``) for the space, or it proposes a one-shot job on a
space without a model family. Class attributes tune the rest (``StrategyConformance``'s docstring):
``failure_contract`` (what the strategy does with a failed trial, ``contracts.CONTRACTS``; unset,
that test is skipped), ``multi_fidelity``, ``one_shot``, ``deterministic``, ``requires_task``,
``registered_name``, and ``strategy_options(space)`` for options that keep a case fast.

The pieces are public for tests of your own: ``spaces`` (the kit's search spaces), ``driver``
(``Driver``, a stand-in for the runner, and the made-up results), ``checks`` (``assert_no_repeats``
and friends), ``contracts`` (the failure contracts). The kit imports pytest; ``import seqnas`` does
not import the kit.
"""

from __future__ import annotations

from seqnas.testing.checks import arch_records, assert_no_repeats, is_multi_fidelity, keys, promotions
from seqnas.testing.contracts import CONTRACTS, Contract, MakeStrategy
from seqnas.testing.driver import MAX_EPOCHS, TINY_TRAIN, Driver, always_fail, fails, never_fail, planted, values
from seqnas.testing.spaces import (
    ALL_SPACES,
    SPACES,
    TINY_MACRO,
    conditional_space,
    planted_space,
    small_space,
    tiny_macro_six,
    tiny_macro_space,
    tiny_space,
)
from seqnas.testing.suite import StrategyConformance

__all__ = [
    "ALL_SPACES", "CONTRACTS", "MAX_EPOCHS", "SPACES", "TINY_MACRO", "TINY_TRAIN", "Contract", "Driver", "MakeStrategy",
    "StrategyConformance", "always_fail", "arch_records", "assert_no_repeats", "conditional_space", "fails",
    "is_multi_fidelity", "keys", "never_fail", "planted", "planted_space", "promotions", "small_space", "tiny_macro_six",
    "tiny_macro_space", "tiny_space", "values",
]
