"""Random search: uniform samples of the space, never the same architecture twice."""

from __future__ import annotations

import numpy as np

from seqnas.space.base import Arch
from seqnas.strategies.base import Strategy


class RandomSearch(Strategy):
    name = "random"

    def _propose(self, rng: np.random.Generator) -> Arch | None:
        return self.sample_fresh(rng)
