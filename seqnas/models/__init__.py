"""build(arch, family, n_features, horizon) -> torch.nn.Module, by the family registry (``seqnas.families``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

from torch import nn

from seqnas.errors import SpaceError
from seqnas.families import Family, family_names, get_family, is_registered
from seqnas.families import register_family as _register

Builder = Callable[[Mapping[str, Any], int, int], nn.Module]


def register_family(family: str | Family, builder: Builder | str | None = None,
                    learning_rate: Callable[[Mapping[str, Any]], float] | None = None,
                    check_space: Callable[[Any], None] | None = None, *, space: Callable[[], Any] | str | None = None,
                    supernet: Callable[..., Any] | str | None = None, defaults: Mapping[str, Any] | None = None) -> Family:
    """Register a model family: ``register_family(Family(...))``, or by parts (the historical signature).

    ``builder(arch, n_features, horizon) -> nn.Module``; ``learning_rate(arch)`` defaults to the
    architecture's ``lr``, else ``defaults["lr"]``; ``check_space(space)``, if given, raises
    SpaceError for a parameter or value the family cannot build; ``space()`` is the family's
    built-in space, ``supernet(space, n_features, horizon, fixed)`` its one-shot supernet
    (strategy "darts" refuses a family without one).
    """
    if isinstance(family, Family):
        return _register(family)
    if builder is None:
        raise TypeError("register_family(name, builder, ...) needs a model builder")
    return _register(Family(family, model=builder, space=space, supernet=supernet, defaults=dict(defaults or {}),
                            check_space=check_space, learning_rate=learning_rate))


def _check(family: str | None) -> Family:
    if not is_registered(family):
        raise SpaceError(f"no model family {family!r}; spaces trained on a task need family one of {family_names()}")
    return get_family(family)


def check_space(space: Any) -> None:
    """Refuse a space whose architectures the family cannot build, before any trial runs (the input
    parameters ``window``, ``calendar`` and ``level`` are checked by ``seqnas.tasks.inputs``)."""
    from seqnas.tasks.inputs import check_input_params, model_space

    check_input_params(space)
    _check(space.family).check(model_space(space))


def build(arch: Mapping[str, Any], family: str | None, n_features: int, horizon: int, window: int | None = None,
          season: int | None = None) -> nn.Module:
    """The family's model of ``arch``; with ``level`` on, wrapped to forecast the change from each window's last
    target value (``seqnas.models.level``); with ``base`` / ``highway``, wrapped to correct a base forecast
    (``seqnas.models.base_forecast``: they need the input ``window`` and, for a seasonal base, the ``season``)."""
    model: nn.Module = _check(family).make_model(arch, n_features, horizon)
    base, highway = str(arch.get("base", "none")), bool(arch.get("highway", False))
    if base != "none" or highway:
        from seqnas.models.base_forecast import BaseForecast

        if window is None:
            raise SpaceError("a model with a base forecast or a highway needs its input window")
        if base == "none" and arch.get("level"):
            base = "last"  # level normalisation is the base forecast "last"
        return BaseForecast(model, base, highway, window, horizon, season)
    if arch.get("level"):
        from seqnas.models.level import LevelNormalized

        model = LevelNormalized(model)
    return model


def learning_rate(arch: Mapping[str, Any], family: str | None) -> float:
    return _check(family).learning_rate_of(arch)


def defaults(family: str | None) -> dict[str, Any]:
    """Values of the parameters a user space of this family may leave out."""
    return _check(family).default_values()


def count_params(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def families() -> list[str]:
    return family_names()


__all__ = ["Builder", "Family", "build", "check_space", "count_params", "defaults", "families", "learning_rate",
           "register_family"]
