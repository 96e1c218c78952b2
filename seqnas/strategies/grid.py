"""Grid search: every architecture of the grid once, in a seeded shuffled order, then exhausted."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from seqnas.space.base import DEFAULT_RESOLUTION, Arch, SearchSpace
from seqnas.strategies.base import Strategy


class GridSearch(Strategy):
    """Walks the whole grid (Int/Float at ``resolution`` points) exactly once.

    Grids of NAS spaces are large (rnn-macro has about 4 million points), so the order
    matters when the budget ends first: ``shuffle=True`` (default) visits the grid in a
    seeded pseudo-random permutation computed in O(1) memory; ``shuffle=False`` is the plain
    lexicographic order.
    """

    name = "grid"

    def __init__(self, space: SearchSpace, *, seed: int = 0, objectives: Sequence[str] = ("val_mse",),
                 resolution: int = DEFAULT_RESOLUTION, shuffle: bool = True) -> None:
        super().__init__(space, seed=seed, objectives=objectives)
        self.size, self._at = space.grid_sampler(resolution)
        self.shuffle = shuffle
        rng = np.random.default_rng([seed, 0x6121D])
        # i -> (a*i + b) mod size with gcd(a, size) = 1 is a permutation of the grid indices.
        self._a, self._b = 1, 0
        if shuffle and self.size > 1:
            while True:
                a = int(rng.integers(1, self.size))
                if math.gcd(a, self.size) == 1:
                    break
            self._a, self._b = a, int(rng.integers(self.size))
        self._next = 0

    def _propose(self, rng: np.random.Generator) -> Arch | None:
        while self._next < self.size:
            arch = self._at((self._a * self._next + self._b) % self.size)
            self._next += 1
            if self.fresh(arch):
                return arch
        return None
