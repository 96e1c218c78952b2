"""The model-family registry: one place that says what a family of architectures is.

A family registers, once, its name, its built-in search space, how to build a model from one of
its architectures, optionally how to build its one-shot supernet (strategy "darts" needs one),
the values of parameters a user-declared space may leave out, and an optional check that refuses
a space the family cannot build. Everything else reads from here: ``space_from_dict`` (which
family names a space may declare), ``seqnas.models`` (build, learning rate, check_space),
``seqnas.models.supernet.build_supernet`` and the darts search.

This module imports no torch (nor anything of seqnas but its errors): ``seqnas.space`` sits
below the models in the layering and reads family names from here, and ``seqnas show`` stays
light. Builders may therefore be given as lazy ``"module:attribute"`` references, imported on
first use; the built-in families are registered that way at the bottom of this module.

Adding a family is one module (its model, space, defaults, ...) plus one ``register_family``::

    register_family(Family("tiny", model="mypkg.tiny:TinyNet", space="mypkg.tiny:tiny_space",
                           defaults={"hidden": 8, "lr": 3e-3}))

A family registered at run time lives in the registering process only: a study run on a process
pool or on Ray needs the registration in a module its workers import too.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from seqnas.errors import ConfigError, SpaceError

# The training's learning rate for a family whose architectures and defaults have no "lr".
DEFAULT_LEARNING_RATE = 3e-3


@dataclass(frozen=True)
class Family:
    """One model family. Each builder is a callable or a lazy ``"module:attribute"`` reference.

    - ``model(arch, n_features, horizon) -> nn.Module``: the forecaster of one architecture.
    - ``space() -> SearchSpace``: the family's built-in space (``get_space(name)``), if any.
    - ``supernet(space, n_features, horizon, fixed) -> Supernet``: the one-shot supernet, if any.
    - ``defaults``: values of parameters a user space leaves out (a mapping or a reference to one);
      the supernet search also takes the parameters it does not relax from here.
    - ``check_space(space)``: raises SpaceError for a parameter or value the family cannot build.
    - ``learning_rate(arch) -> float``: default: the architecture's ``lr``, else ``defaults["lr"]``.
    """

    name: str
    model: Callable[..., Any] | str
    space: Callable[[], Any] | str | None = None
    supernet: Callable[..., Any] | str | None = None
    defaults: Mapping[str, Any] | str = field(default_factory=dict)
    check_space: Callable[[Any], None] | str | None = None
    learning_rate: Callable[[Mapping[str, Any]], float] | str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(f"a model family needs a non-empty name, got {self.name!r}")
        if self.model is None:
            raise ConfigError(f"model family {self.name!r} needs a model builder")
        for what in ("model", "space", "supernet", "defaults", "check_space", "learning_rate"):
            ref = getattr(self, what)
            if isinstance(ref, str):
                _split(ref, f"model family {self.name!r}: {what}")
            elif what == "defaults" and not isinstance(ref, Mapping):
                raise ConfigError(f"model family {self.name!r}: defaults must be a mapping or a 'module:attribute' "
                                  f"reference, got {type(ref).__name__}")
            elif ref is not None and what != "defaults" and not callable(ref):
                raise ConfigError(f"model family {self.name!r}: {what} must be a callable or a 'module:attribute' "
                                  f"reference, got {type(ref).__name__}")

    def resolve(self, what: str) -> Any:
        """The field ``what`` with a lazy reference imported (ConfigError, one line, if it cannot be)."""
        ref = getattr(self, what)
        if not isinstance(ref, str):
            return ref
        module, attr = _split(ref, f"model family {self.name!r}: {what}")
        try:
            obj: Any = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as e:
            raise ConfigError(f"model family {self.name!r}: cannot load its {what} {ref!r}: {e}") from None
        return obj

    @property
    def has_supernet(self) -> bool:
        return self.supernet is not None

    def make_model(self, arch: Mapping[str, Any], n_features: int, horizon: int) -> Any:
        return self.resolve("model")(arch, n_features, horizon)

    def make_space(self) -> Any:
        if self.space is None:
            raise SpaceError(f"model family {self.name!r} has no built-in space; declare one with 'family: {self.name}'")
        return self.resolve("space")()

    def make_supernet(self, space: Any, n_features: int, horizon: int, fixed: Mapping[str, Any]) -> Any:
        if self.supernet is None:
            raise ConfigError(_no_supernet(self.name))
        return self.resolve("supernet")(space, n_features, horizon, fixed)

    def default_values(self) -> dict[str, Any]:
        return dict(self.resolve("defaults"))

    def check(self, space: Any) -> None:
        """Refuse a space whose architectures the family cannot build (no check registered: accept)."""
        if self.check_space is not None:
            self.resolve("check_space")(space)

    def learning_rate_of(self, arch: Mapping[str, Any]) -> float:
        if self.learning_rate is not None:
            return float(self.resolve("learning_rate")(arch))
        if "lr" in arch:
            return float(arch["lr"])
        return float(self.default_values().get("lr", DEFAULT_LEARNING_RATE))


_FAMILIES: dict[str, Family] = {}


def register_family(family: Family) -> Family:
    """Register (or replace) a family under its name; returns it."""
    if not isinstance(family, Family):
        raise ConfigError(f"register_family takes a Family, got {type(family).__name__}")
    _FAMILIES[family.name] = family
    return family


def unregister_family(name: str) -> Family | None:
    """Remove a family; returns what was registered under ``name`` (None if nothing was)."""
    return _FAMILIES.pop(name, None)


@contextmanager
def registered_family(family: Family) -> Iterator[Family]:
    """Register ``family`` for the block, then restore whatever was registered under its name before."""
    before = _FAMILIES.get(family.name)
    register_family(family)
    try:
        yield family
    finally:
        if before is None:
            _FAMILIES.pop(family.name, None)
        else:
            _FAMILIES[family.name] = before


def family_names() -> list[str]:
    """Registered family names, sorted."""
    return sorted(_FAMILIES)


def supernet_family_names() -> list[str]:
    """Registered families that have a supernet (what strategy "darts" can search)."""
    return sorted(n for n, f in _FAMILIES.items() if f.has_supernet)


def is_registered(name: Any) -> bool:
    return isinstance(name, str) and name in _FAMILIES


def get_family(name: Any) -> Family:
    """The family registered under ``name``; SpaceError naming the registered families otherwise."""
    if not is_registered(name):
        raise SpaceError(f"unknown model family {name!r}; registered families: {family_names()}")
    return _FAMILIES[name]


def supernet_family(name: Any, who: str = "one-shot search", hint: str = "") -> Family:
    """The family, if it has a supernet; a one-line ConfigError otherwise (``hint`` appended to it)."""
    tail = f"; {hint}" if hint else ""
    if not is_registered(name):
        raise ConfigError(f"{who} needs a space of a model family with a supernet, trained on a task (got family {name!r}; "
                          f"families with a supernet: {supernet_family_names()}){tail}")
    fam = _FAMILIES[name]
    if not fam.has_supernet:
        raise ConfigError(f"{who}: {_no_supernet(name)}{tail}")
    return fam


def _no_supernet(name: str) -> str:
    return (f"model family {name!r} registers no supernet builder (Family.supernet), which one-shot search needs "
            f"(families with a supernet: {supernet_family_names()})")


def _split(ref: str, what: str) -> tuple[str, str]:
    module, sep, attr = ref.partition(":")
    if not sep or not module or not attr:
        raise ConfigError(f"{what}: {ref!r} is not a 'module:attribute' reference")
    return module, attr


# -- the built-in families -------------------------------------------------------------------------
register_family(Family(
    "rnn-macro",
    model="seqnas.models.rnn_macro:StackedRNN",
    space="seqnas.space.rnn_macro:rnn_macro_space",
    supernet="seqnas.models.macro_supernet:MacroSupernet",
    defaults="seqnas.space.rnn_macro:DEFAULTS",
    check_space="seqnas.models.rnn_macro:check_macro_space",
))
register_family(Family(
    "rnn-cell",
    model="seqnas.models.rnn_cell:CellRNN",
    space="seqnas.space.rnn_cell:rnn_cell_space",
    supernet="seqnas.models.cell_supernet:CellSupernet",
    defaults="seqnas.space.rnn_cell:DEFAULTS",
    check_space="seqnas.models.rnn_cell:check_cell_space",
))

__all__ = [
    "DEFAULT_LEARNING_RATE", "Family", "family_names", "get_family", "is_registered", "register_family",
    "registered_family", "supernet_family", "supernet_family_names", "unregister_family",
]
