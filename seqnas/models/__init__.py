"""build(arch, family, n_features, horizon) -> torch.nn.Module, one builder per space family."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

from torch import nn

from seqnas.errors import SpaceError

Builder = Callable[[Mapping[str, Any], int, int], nn.Module]
_BUILDERS: dict[str, Builder] = {}
_LEARNING_RATES: dict[str, Callable[[Mapping[str, Any]], float]] = {}
_SPACE_CHECKS: dict[str, Callable[[Any], None]] = {}


def register_family(family: str, builder: Builder, learning_rate: Callable[[Mapping[str, Any]], float],
                    check_space: Callable[[Any], None] | None = None) -> None:
    """``check_space(space)``, if given, raises SpaceError for a parameter or value the family cannot build."""
    _BUILDERS[family] = builder
    _LEARNING_RATES[family] = learning_rate
    if check_space is not None:
        _SPACE_CHECKS[family] = check_space


def check_space(space: Any) -> None:
    """Refuse a space whose architectures the family cannot build, before any trial runs."""
    check = _SPACE_CHECKS.get(_check(space.family))
    if check is not None:
        check(space)


def _check(family: str | None) -> str:
    if family not in _BUILDERS:
        raise SpaceError(f"no model family {family!r}; spaces trained on a task need family one of {sorted(_BUILDERS)}")
    return family  # type: ignore[return-value]


def build(arch: Mapping[str, Any], family: str | None, n_features: int, horizon: int) -> nn.Module:
    return _BUILDERS[_check(family)](arch, n_features, horizon)


def learning_rate(arch: Mapping[str, Any], family: str | None) -> float:
    return float(_LEARNING_RATES[_check(family)](arch))


def count_params(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def families() -> list[str]:
    return sorted(_BUILDERS)


def _register_builtins() -> None:
    from seqnas.models.rnn_cell import CellRNN, cell_value, check_cell_space
    from seqnas.models.rnn_macro import StackedRNN, check_macro_space, macro_value

    register_family("rnn-macro", StackedRNN, lambda a: macro_value(a, "lr"), check_macro_space)
    register_family("rnn-cell", CellRNN, lambda a: cell_value(a, "lr"), check_cell_space)


_register_builtins()
