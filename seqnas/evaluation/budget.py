"""TrainBudget: how long one architecture is trained (no torch here: a study's settings hold one,
and `seqnas show` reads settings without importing torch)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from seqnas.checks import positive_int


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
            positive_int(getattr(self, name), name)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
