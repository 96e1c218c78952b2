"""Random search: samples of the space, never the same architecture twice.

Two priors: ``prior="decision"`` (default) draws each active decision uniformly, so every
depth of a conditional space is drawn equally often however many architectures it holds;
``prior="architecture"`` draws uniformly over the distinct architectures (as grid search
visits them), which in rnn-macro means mostly the deepest networks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seqnas.errors import ConfigError
from seqnas.space.base import Arch, SearchSpace
from seqnas.strategies.base import Strategy

PRIORS = ("decision", "architecture")


class RandomSearch(Strategy):
    name = "random"

    def __init__(self, space: SearchSpace, *, seed: int = 0, objectives: Sequence[str] = ("val_mse",),
                 prior: str = "decision") -> None:
        super().__init__(space, seed=seed, objectives=objectives)
        if prior not in PRIORS:
            raise ConfigError(f"random search: prior must be one of {list(PRIORS)}, got {prior!r}")
        self.prior = prior
        if prior == "architecture":
            if any(p.size is None for p in space.params):
                raise ConfigError("random search: prior=architecture needs a space of finite choices "
                                  "(this one has a continuous parameter); use prior=decision")
            # Index i of the exact grid of distinct architectures, counted without enumerating.
            self._size, self._at = space.grid_sampler(resolution=max(p.size or 1 for p in space.params))

    def _propose(self, rng: np.random.Generator) -> Arch | None:
        if self.prior == "decision":
            return self.sample_fresh(rng)
        for _ in range(1000):
            arch = self._at(int(rng.integers(self._size)))
            if self.fresh(arch):
                return arch
        return self.sample_fresh(rng)  # almost used up: the base class finds what is left
