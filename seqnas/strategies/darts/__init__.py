"""Strategy "darts": gradient-based one-shot search (DARTS) with anti-collapse remedies.

- ``strategy``: ``DartsSearch`` (the strategy) and ``SupernetJob`` (the supernet search as a one-shot trial).
- ``remedies``: ``DartsConfig`` (the options) and ``REMEDIES`` (what each remedy turns on).
- ``search``: ``search_supernet``, the bilevel training loop (``SupernetSearch``) and derivation.
- ``hypergradient``: the second-order architecture gradient.
- ``diagnostics``: the per-epoch ``Diagnostics`` (collapse indicator) and the epoch progress bar.
- ``selection``: DARTS-PT perturbation selection, one-hot paths, the parameter limit.
"""

from __future__ import annotations

from seqnas.strategies.darts.diagnostics import Diagnostics
from seqnas.strategies.darts.remedies import DEFAULT_REMEDY, REMEDIES, SELECTIONS, DartsConfig
from seqnas.strategies.darts.search import fixed_values, search_supernet
from seqnas.strategies.darts.selection import perturbation_select
from seqnas.strategies.darts.strategy import DartsSearch, SupernetJob, supernet_seed

__all__ = [
    "DEFAULT_REMEDY", "REMEDIES", "SELECTIONS", "DartsConfig", "DartsSearch", "Diagnostics", "SupernetJob", "fixed_values",
    "perturbation_select", "search_supernet", "supernet_seed",
]
