"""Search strategies behind one interface, looked up by name.

``STRATEGIES`` maps a name to its ``Strategy`` subclass: the built-ins, and the strategies of
installed packages (plugins). A package registers its strategies under the entry-point group
``seqnas.strategies`` (``ENTRY_POINT_GROUP``), each entry point a name and a Strategy subclass, e.g.
in its pyproject.toml::

    [project.entry-points."seqnas.strategies"]
    mystrat = "mystrat:MyStrategy"

Entry points are loaded at the first lookup in the registry (``make_strategy``, ``strategy_names``,
any read of ``STRATEGIES``), once per process. A plugin that fails to load (its module raises, the
object is no Strategy subclass) is skipped with a one-line ``PluginWarning`` naming its package; a
plugin may not replace a strategy already registered (a built-in name): it is skipped with a
warning and the registered strategy kept. ``seqnas.testing`` is the conformance kit a plugin's
tests can run.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from seqnas.errors import ConfigError
from seqnas.space.base import SearchSpace
from seqnas.strategies.base import Strategy
from seqnas.strategies.bayesian import BayesianSearch
from seqnas.strategies.darts import DartsSearch
from seqnas.strategies.evolution import RegularizedEvolution
from seqnas.strategies.grid import GridSearch
from seqnas.strategies.local_search import LocalSearch
from seqnas.strategies.multifidelity import OPTIONS as SCHEDULER_OPTIONS
from seqnas.strategies.multifidelity import MultiFidelity
from seqnas.strategies.random_search import RandomSearch
from seqnas.strategies.reinforce import ReinforceSearch

if TYPE_CHECKING:
    from _collections_abc import dict_items, dict_keys, dict_values


class Hyperband(MultiFidelity):
    """Hyperband (Li et al. 2018): its brackets of successive halving over random proposals."""

    name = "hyperband"
    default_scheduler, default_inner = "hyperband", "random"


class BOHB(MultiFidelity):
    """BOHB (Falkner et al. 2018): Hyperband's brackets, proposals from TPE fitted on the highest
    rung with enough results."""

    name = "bohb"
    default_scheduler, default_inner = "hyperband", "bayesian"


class AshaEvolution(MultiFidelity):
    """ASHA (Li et al. 2020) over regularized evolution: members ranked by their highest rung."""

    name = "asha-evolution"
    default_scheduler, default_inner = "asha", "evolution"


ENTRY_POINT_GROUP = "seqnas.strategies"


class PluginWarning(UserWarning):
    """A strategy plugin (entry point of group ``seqnas.strategies``) was skipped."""


class _Registry(dict[str, type[Strategy]]):
    """A dict that loads the plugins' entry points before its first read (``load_plugins``)."""

    def __getitem__(self, name: str) -> type[Strategy]:
        _ensure_plugins()
        return super().__getitem__(name)

    def __contains__(self, name: object) -> bool:
        _ensure_plugins()
        return super().__contains__(name)

    def __iter__(self) -> Iterator[str]:
        _ensure_plugins()
        return super().__iter__()

    def __len__(self) -> int:
        _ensure_plugins()
        return super().__len__()

    def __repr__(self) -> str:
        _ensure_plugins()
        return super().__repr__()

    def get(self, name: str, default: Any = None, /) -> Any:  # type: ignore[override]
        _ensure_plugins()
        return super().get(name, default)

    def keys(self) -> dict_keys[str, type[Strategy]]:
        _ensure_plugins()
        return super().keys()

    def values(self) -> dict_values[str, type[Strategy]]:
        _ensure_plugins()
        return super().values()

    def items(self) -> dict_items[str, type[Strategy]]:
        _ensure_plugins()
        return super().items()

    def copy(self) -> dict[str, type[Strategy]]:
        _ensure_plugins()
        return dict(super().items())


STRATEGIES: dict[str, type[Strategy]] = _Registry({
    "random": RandomSearch, "grid": GridSearch, "evolution": RegularizedEvolution, "rl": ReinforceSearch,
    "bayesian": BayesianSearch, "darts": DartsSearch, "local": LocalSearch,
    "hyperband": Hyperband, "bohb": BOHB, "asha-evolution": AshaEvolution,
})
BUILTIN_STRATEGIES: tuple[str, ...] = tuple(dict.keys(STRATEGIES))

_plugins: dict[str, str] = {}  # name -> the package (name and version) of each plugin loaded
_plugins_state = "unloaded"  # -> "loading" -> "loaded"
_plugins_lock = threading.RLock()


def _ensure_plugins() -> None:
    if _plugins_state != "loaded":
        load_plugins()


def _package(ep: EntryPoint) -> str:
    """The name and version of the package an entry point comes from."""
    dist = ep.dist
    return "(unknown)" if dist is None else f"{dist.name} {dist.version}"


def _warn(message: str) -> None:
    """A warning of one line: no source line under it (the default format shows one), no newline in it."""
    warnings.warn_explicit(" ".join(message.split())[:400], PluginWarning, filename=ENTRY_POINT_GROUP, lineno=0,
                           module=__name__)


def _warn_skipped(name: str, package: str, why: str) -> None:
    _warn(f"strategy plugin {name!r} of package {package} skipped: {why}")


def load_plugins(*, reload: bool = False) -> dict[str, str]:
    """Register the strategies of the entry-point group ``seqnas.strategies`` (once per process; the
    registry's first lookup does it): name -> the package each plugin comes from. ``reload``: forget
    the plugins loaded before and look again (e.g. after installing a package)."""
    global _plugins_state
    with _plugins_lock:
        if reload and _plugins_state == "loaded":
            for name in _plugins:
                dict.pop(STRATEGIES, name, None)
            _plugins.clear()
            _plugins_state = "unloaded"
        if _plugins_state != "unloaded":  # loaded, or being loaded by this thread (a plugin's import reads the registry)
            return dict(_plugins)
        _plugins_state = "loading"
        try:
            try:
                found = list(entry_points(group=ENTRY_POINT_GROUP))
            except Exception as e:  # noqa: BLE001 - broken package metadata must not break seqnas
                _warn(f"strategy plugins skipped: reading the installed packages' entry points failed: {type(e).__name__}: {e}")
                found = []
            for ep in found:
                package = _package(ep)
                if dict.__contains__(STRATEGIES, ep.name):
                    kept = dict.__getitem__(STRATEGIES, ep.name)
                    _warn_skipped(ep.name, package, f"strategy {ep.name!r} exists already ({kept.__module__}.{kept.__qualname__}); "
                                  "a plugin may not replace it, so the registered strategy is kept")
                    continue
                try:
                    cls = ep.load()
                except (Exception, SystemExit) as e:  # noqa: BLE001 - a broken plugin is skipped, never a traceback
                    _warn_skipped(ep.name, package, f"loading {ep.value} raised {type(e).__name__}: {e}")
                    continue
                if not (isinstance(cls, type) and issubclass(cls, Strategy)):
                    _warn_skipped(ep.name, package, f"{ep.value} is {cls!r}, not a subclass of seqnas.strategies.base.Strategy")
                    continue
                dict.__setitem__(STRATEGIES, ep.name, cls)
                _plugins[ep.name] = package
        finally:
            _plugins_state = "loaded"
        return dict(_plugins)


def strategy_names(*, plugins: bool = True) -> list[str]:
    """The registered strategies' names: the built-ins in their order, then the plugins' (``plugins=False``:
    the built-ins and those registered in-process with ``register_strategy``, no entry points loaded)."""
    return list(STRATEGIES) if plugins else list(dict.keys(STRATEGIES))


def register_strategy(cls: type[Strategy]) -> type[Strategy]:
    STRATEGIES[cls.name] = cls
    return cls


def default_trials(name: str) -> int:
    """The --trials budget when no budget is given: 30, or the strategy's own (darts: 1 derived architecture)."""
    return int(getattr(STRATEGIES.get(name), "default_trials", 30))


def make_strategy(name: str, space: SearchSpace, *, seed: int = 0, objectives: Sequence[str] = ("val_mse",),
                  options: dict[str, Any] | None = None, max_epochs: int | None = None) -> Strategy:
    """The strategy ``name`` with its options. Option ``scheduler`` (asha, hyperband, sh; with
    ``min_epochs``, ``eta``, ``max_epochs``) puts any strategy under a multi-fidelity scheduler;
    ``max_epochs`` (the study's training budget) is its highest rung unless the options say."""
    if name not in STRATEGIES:
        raise ConfigError(f"unknown strategy {name!r}; use one of {sorted(STRATEGIES)}")
    options = dict(options or {})
    cls = STRATEGIES[name]
    if "scheduler" in options and not issubclass(cls, MultiFidelity):
        wrap = {k: options.pop(k) for k in SCHEDULER_OPTIONS if k in options}
        options = {**wrap, "inner": name, "inner_options": options}
        cls = MultiFidelity
    if issubclass(cls, MultiFidelity) and options.get("max_epochs") is None:
        options["max_epochs"] = max_epochs
    try:
        return cls(space, seed=seed, objectives=objectives, **options)
    except TypeError as e:
        raise ConfigError(f"bad option for strategy {name!r}: {e}") from None


__all__ = ["BUILTIN_STRATEGIES", "ENTRY_POINT_GROUP", "STRATEGIES", "MultiFidelity", "PluginWarning", "Strategy", "default_trials",
           "load_plugins", "make_strategy", "register_strategy", "strategy_names"]
