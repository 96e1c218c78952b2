"""SearchSpace and Arch: the operations every strategy needs, over conditional parameters."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from typing import Any, Callable

import numpy as np

from seqnas.errors import SpaceError
from seqnas.space.params import Categorical, Param, Scalar, param_from_json

DEFAULT_RESOLUTION = 5


class Arch(Mapping[str, Any]):
    """An immutable architecture: parameter name -> value, with a stable content hash."""

    __slots__ = ("_items", "_key")

    def __init__(self, items: Mapping[str, Any] | None = None) -> None:
        self._items: dict[str, Any] = dict(items or {})
        payload = json.dumps(self._items, sort_keys=True, separators=(",", ":"))
        self._key = hashlib.sha1(payload.encode()).hexdigest()[:16]

    @property
    def key(self) -> str:
        """Stable hash, equal for equal architectures across processes and runs."""
        return self._key

    def __getitem__(self, name: str) -> Any:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Arch):
            return self._key == other._key
        return isinstance(other, Mapping) and dict(self._items) == dict(other)

    def __repr__(self) -> str:
        return f"Arch({self._items!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Arch, (self._items,))

    def to_dict(self) -> dict[str, Any]:
        return dict(self._items)


Fill = Callable[[Param], Scalar]


class SearchSpace:
    """An ordered list of (possibly conditional) parameters.

    Parameters come in dependency order: a condition names an earlier parameter. An
    architecture is canonical when it holds exactly the active parameters, so two spellings
    of one network (differing only in inactive values) are one ``Arch``.
    """

    def __init__(self, params: Sequence[Param], name: str = "custom", family: str | None = None) -> None:
        self.params: tuple[Param, ...] = tuple(params)
        self.name = name
        self.family = family
        self._by_name: dict[str, Param] = {}
        self._check()

    def _check(self) -> None:
        if not self.params:
            raise SpaceError("a search space needs at least one parameter")
        for p in self.params:
            if p.name in self._by_name:
                raise SpaceError(f"parameter {p.name!r} is declared twice")
            c = p.condition
            if c is not None:
                if c.parent not in self._by_name:
                    known = c.parent in {q.name for q in self.params}
                    where = "is declared after it; declare parents first" if known else "is not a parameter of this space"
                    raise SpaceError(f"parameter {p.name!r}: condition parent {c.parent!r} {where}")
                parent = self._by_name[c.parent]
                for v in c.values:
                    try:
                        parent.check(v)
                    except SpaceError:
                        raise SpaceError(
                            f"parameter {p.name!r}: condition value {v!r} is not a value of {c.parent!r}"
                        ) from None
            self._by_name[p.name] = p
        # Condition values are checked against the parent, and parents come first, so every
        # parameter can be active in some architecture: a space is never empty.

    # -- basics -----------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Param:
        return self._by_name[name]

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        return f"SearchSpace(name={self.name!r}, family={self.family!r}, params={self.names})"

    @staticmethod
    def is_active(param: Param, partial: Mapping[str, Any]) -> bool:
        c = param.condition
        if c is None:
            return True
        if c.parent not in partial:
            return False
        v = partial[c.parent]
        return any(Categorical._key(v) == Categorical._key(x) for x in c.values)

    def _build(self, choose: Callable[[Param, dict[str, Any]], Scalar]) -> Arch:
        """Walk the parameters in order, choosing a value for each active one."""
        out: dict[str, Any] = {}
        for p in self.params:
            if self.is_active(p, out):
                out[p.name] = choose(p, out)
        return Arch(out)

    def canonical(self, values: Mapping[str, Any], fill: Fill | None = None) -> Arch:
        """Canonical Arch from ``values``: inactive entries dropped, values checked.

        A missing active parameter is taken from ``fill``; with no ``fill`` it is an error.
        """
        if not isinstance(values, Mapping):
            raise SpaceError(f"an architecture must be a mapping of parameter -> value, got {type(values).__name__}")
        unknown = sorted(set(values) - set(self._by_name), key=str)
        if unknown:
            raise SpaceError(f"unknown parameter(s) {unknown}; this space has {self.names}")

        def choose(p: Param, _: dict[str, Any]) -> Scalar:
            if p.name in values:
                return p.check(values[p.name])
            if fill is None:
                raise SpaceError(f"architecture is missing active parameter {p.name!r}")
            return fill(p)

        return self._build(choose)

    def validate(self, arch: Mapping[str, Any]) -> Arch:
        """Raise SpaceError unless ``arch`` is a canonical architecture of this space."""
        canon = self.canonical(arch)
        extra = sorted(set(arch) - set(canon), key=str)
        if extra:
            raise SpaceError(f"parameter(s) {extra} are inactive in this architecture; drop them")
        return canon

    # -- the strategy operations ------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Arch:
        return self._build(lambda p, _: p.sample(rng))

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """Change one active decision; newly activated parameters are sampled."""
        arch = self.validate(arch)
        movable = [p for p in self.params if p.name in arch and (p.size is None or p.size > 1)]
        if not movable:
            return arch
        p = movable[int(rng.integers(len(movable)))]
        changed = dict(arch)
        changed[p.name] = p.mutate(arch[p.name], rng)
        return self.canonical(changed, fill=lambda q: q.sample(rng))

    def crossover(self, a: Arch, b: Arch, rng: np.random.Generator) -> Arch:
        """Uniform crossover: each active decision from either parent; sampled if neither has it."""

        def choose(p: Param, _: dict[str, Any]) -> Scalar:
            have = [x[p.name] for x in (a, b) if p.name in x]
            if not have:
                return p.sample(rng)
            return have[int(rng.integers(len(have)))]

        return self._build(choose)

    def neighbors(self, arch: Arch, resolution: int = DEFAULT_RESOLUTION) -> Iterator[Arch]:
        """Every architecture one decision away; newly active parameters take their default."""
        arch = self.validate(arch)
        seen = {arch.key}
        for p in self.params:
            if p.name not in arch:
                continue
            for v in p.neighbor_values(arch[p.name], resolution):
                n = self.canonical({**arch, p.name: v}, fill=lambda q: q.default)
                if n.key not in seen:
                    seen.add(n.key)
                    yield n

    @property
    def encoding_size(self) -> int:
        return sum(len(p.encode(None)) for p in self.params)

    def encode(self, arch: Arch) -> np.ndarray:
        """Fixed-length vector: one-hot categoricals, unit-scaled numbers, zeros when inactive."""
        out: list[float] = []
        for p in self.params:
            out.extend(p.encode(arch.get(p.name)))
        return np.asarray(out, dtype=np.float64)

    # -- the grid -----------------------------------------------------------------------------
    def _grid_tables(self, resolution: int) -> tuple[list[list[Scalar]], Callable[[int, tuple[Any, ...]], int], list[list[str]]]:
        values = [p.grid_values(resolution) for p in self.params]
        # Which already-chosen values can influence activity from position i on: the memo key.
        parents_from: list[list[str]] = []
        for i in range(len(self.params) + 1):
            names = sorted({p.condition.parent for p in self.params[i:] if p.condition is not None})
            parents_from.append(names)

        @cache
        def count(i: int, state: tuple[Any, ...]) -> int:
            if i == len(self.params):
                return 1
            partial = {n: v for n, _, v in state}
            p = self.params[i]
            if not self.is_active(p, partial):
                return count(i + 1, self._state(parents_from[i + 1], partial))
            return sum(count(i + 1, self._state(parents_from[i + 1], {**partial, p.name: v})) for v in values[i])

        return values, count, parents_from

    @staticmethod
    def _state(names: list[str], partial: Mapping[str, Any]) -> tuple[Any, ...]:
        # The memo key: False == 0 and True == 1 in Python, but they are different choices.
        return tuple((n, isinstance(partial[n], bool), partial[n]) for n in names if n in partial)

    def grid_size(self, resolution: int = DEFAULT_RESOLUTION) -> int:
        _, count, _ = self._grid_tables(resolution)
        return count(0, ())

    def grid_at(self, index: int, resolution: int = DEFAULT_RESOLUTION) -> Arch:
        """The ``index``-th architecture of the grid in lexicographic order, without enumerating."""
        values, count, parents_from = self._grid_tables(resolution)
        total = count(0, ())
        if not 0 <= index < total:
            raise IndexError(f"grid index {index} out of range [0, {total})")
        return self._grid_walk(index, values, count, parents_from)

    def _grid_walk(self, index: int, values: list[list[Scalar]], count: Callable[[int, tuple[Any, ...]], int], parents_from: list[list[str]]) -> Arch:
        out: dict[str, Any] = {}
        for i, p in enumerate(self.params):
            if not self.is_active(p, out):
                continue
            for v in values[i]:
                trial = {**out, p.name: v}
                c = count(i + 1, self._state(parents_from[i + 1], trial))
                if index < c:
                    out = trial
                    break
                index -= c
        return Arch(out)

    def grid(self, resolution: int = DEFAULT_RESOLUTION) -> Iterator[Arch]:
        """All grid architectures in lexicographic order (lazily)."""
        tables = self._grid_tables(resolution)
        total = tables[1](0, ())
        for i in range(total):
            yield self._grid_walk(i, *tables)

    def grid_sampler(self, resolution: int = DEFAULT_RESOLUTION) -> tuple[int, Callable[[int], Arch]]:
        """(size, index -> Arch) sharing one memo table: for strategies that walk the grid."""
        tables = self._grid_tables(resolution)
        return tables[1](0, ()), lambda i: self._grid_walk(i, *tables)

    @property
    def cardinality(self) -> int | None:
        """Number of distinct architectures, None when a parameter is continuous."""
        if any(p.size is None for p in self.params):
            return None
        return self.grid_size(resolution=max(p.size or 1 for p in self.params))

    # -- JSON ------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "family": self.family, "params": [p.to_json() for p in self.params]}

    @classmethod
    def from_json(cls, data: Any) -> SearchSpace:
        if not isinstance(data, Mapping):
            raise SpaceError(f"a search space must be a mapping with 'params', got {type(data).__name__}")
        unknown = set(data) - {"name", "family", "params"}
        if unknown:
            raise SpaceError(f"unknown top-level field(s) {sorted(unknown, key=str)} in space; allowed: family, name, params")
        params = data.get("params")
        if not isinstance(params, list):
            raise SpaceError("a search space needs 'params': a list of parameters")
        family = data.get("family")
        if family is not None and not isinstance(family, str):
            raise SpaceError(f"space 'family' must be a string, got {family!r}")
        name = data.get("name", "custom")
        return cls([param_from_json(p) for p in params], name=str(name), family=family)
