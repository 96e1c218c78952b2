"""TrainBudget: how long one architecture is trained (no torch here: a study's settings hold one,
and `seqnas show` reads settings without importing torch)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from seqnas.errors import ConfigError


@dataclass(frozen=True)
class TrainBudget:
    """How long one architecture is trained."""

    max_epochs: int = 60
    patience: int = 8
    batch_size: int = 32
    grad_clip: float = 1.0
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        for name in ("max_epochs", "patience", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
