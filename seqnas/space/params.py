"""Parameter types of a search space: Categorical, Int, Float, and their conditions.

Longer than 350 lines: each parameter type implements the same interface (sample, mutate, encode,
grid, validate, JSON), and the three are read side by side.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqnas.errors import SpaceError

Scalar = Any  # str | int | float | bool: a JSON scalar


def _finite(v: object) -> bool:
    """A real number (not bool) that a float can hold: no NaN, inf, or int too large for a float."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


def _is_scalar(v: object) -> bool:
    return isinstance(v, (str, bool)) or _finite(v)


@dataclass(frozen=True)
class Condition:
    """A parameter is active only when ``parent`` is active and its value is one of ``values``."""

    parent: str
    values: tuple[Scalar, ...]

    def to_json(self) -> dict[str, Any]:
        return {"parent": self.parent, "values": list(self.values)}


class Param(ABC):
    """One decision of an architecture."""

    type_name: str = ""

    def __init__(self, name: str, condition: Condition | None = None) -> None:
        if not isinstance(name, str) or not name.strip():
            raise SpaceError(f"parameter name must be a non-empty string, got {name!r}")
        self.name = name
        self.condition = condition

    @abstractmethod
    def check(self, value: Any) -> Scalar:
        """Return the canonical form of ``value`` or raise SpaceError."""

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Scalar: ...

    @abstractmethod
    def grid_values(self, resolution: int) -> list[Scalar]: ...

    @abstractmethod
    def neighbor_values(self, value: Scalar, resolution: int) -> list[Scalar]:
        """Values one step away from ``value`` (never ``value`` itself)."""

    @abstractmethod
    def mutate(self, value: Scalar, rng: np.random.Generator) -> Scalar:
        """A different value (``value`` itself only when the parameter has one value)."""

    @abstractmethod
    def encode(self, value: Scalar | None) -> list[float]:
        """Fixed-width numeric encoding; ``None`` for an inactive parameter."""

    @property
    @abstractmethod
    def default(self) -> Scalar: ...

    @property
    @abstractmethod
    def size(self) -> int | None:
        """Number of distinct values, None when continuous."""

    @abstractmethod
    def _json_fields(self) -> dict[str, Any]: ...

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type_name, **self._json_fields()}
        if self.condition is not None:
            out["condition"] = self.condition.to_json()
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_json()})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Param) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(repr(self))


class Categorical(Param):
    type_name = "categorical"

    def __init__(self, name: str, choices: Any, condition: Condition | None = None) -> None:
        super().__init__(name, condition)
        if isinstance(choices, (str, bytes)) or not hasattr(choices, "__iter__"):
            raise SpaceError(f"parameter {name!r}: choices must be a list, got {choices!r}")
        choices = list(choices)
        if not choices:
            raise SpaceError(f"parameter {name!r}: choices must not be empty")
        for c in choices:
            if not _is_scalar(c):
                raise SpaceError(f"parameter {name!r}: choice {c!r} is not a string, number or boolean")
        keys = [self._key(c) for c in choices]
        if len(set(keys)) != len(keys):
            raise SpaceError(f"parameter {name!r}: choices contain duplicates: {choices!r}")
        self.choices: tuple[Scalar, ...] = tuple(choices)
        self._index = {k: i for i, k in enumerate(keys)}

    @staticmethod
    def _key(v: Any) -> tuple[str, Any]:
        # bool is an int in Python; keep True and 1 apart, but 1 and 1.0 together.
        if isinstance(v, bool):
            return ("b", v)
        if isinstance(v, (int, float)):
            return ("n", float(v))
        return ("s", v)

    def index(self, value: Any) -> int:
        if not _is_scalar(value) or self._key(value) not in self._index:
            raise SpaceError(f"parameter {self.name!r}: {value!r} is not one of {list(self.choices)!r}")
        return self._index[self._key(value)]

    def check(self, value: Any) -> Scalar:
        return self.choices[self.index(value)]

    def sample(self, rng: np.random.Generator) -> Scalar:
        return self.choices[int(rng.integers(len(self.choices)))]

    def grid_values(self, resolution: int) -> list[Scalar]:
        return list(self.choices)

    def neighbor_values(self, value: Scalar, resolution: int) -> list[Scalar]:
        i = self.index(value)
        return [c for j, c in enumerate(self.choices) if j != i]

    def mutate(self, value: Scalar, rng: np.random.Generator) -> Scalar:
        if len(self.choices) == 1:
            return value
        i = self.index(value)
        j = int(rng.integers(len(self.choices) - 1))
        return self.choices[j + 1 if j >= i else j]

    def encode(self, value: Scalar | None) -> list[float]:
        out = [0.0] * len(self.choices)
        if value is not None:
            out[self.index(value)] = 1.0
        return out

    @property
    def default(self) -> Scalar:
        return self.choices[0]

    @property
    def size(self) -> int:
        return len(self.choices)

    def _json_fields(self) -> dict[str, Any]:
        return {"choices": list(self.choices)}


class _Numeric(Param):
    """Shared logic of Int and Float: bounds, optional log scale, unit-interval mapping."""

    def __init__(self, name: str, low: Any, high: Any, log: bool = False, condition: Condition | None = None) -> None:
        super().__init__(name, condition)
        for label, v in (("low", low), ("high", high)):
            if not _finite(v):
                raise SpaceError(f"parameter {name!r}: {label} must be a finite number, got {v!r}")
        if low > high:
            raise SpaceError(f"parameter {name!r}: low ({low}) is greater than high ({high})")
        if not math.isfinite(float(high) - float(low)):
            raise SpaceError(f"parameter {name!r}: the range [{low}, {high}] is too wide to compute with; narrow it")
        if not isinstance(log, bool):
            raise SpaceError(f"parameter {name!r}: log must be true or false, got {log!r}")
        if log and low <= 0:
            raise SpaceError(f"parameter {name!r}: a log-scale parameter needs low > 0, got {low}")
        self.low, self.high, self.log = low, high, log

    @property
    def _log_scale(self) -> bool:
        # Bounds too close for their logarithms to differ (1.7518528123679272e16 and ...302e16): there the log scale
        # is the linear one, and mapping through logarithms would divide by zero.
        return self.log and math.log(self.high) > math.log(self.low)

    def to_unit(self, value: float) -> float:
        if self.high == self.low:
            return 0.0
        if self._log_scale:
            return (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (value - self.low) / (self.high - self.low)

    def from_unit(self, u: float) -> float:
        u = min(1.0, max(0.0, u))
        if self._log_scale:
            v = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            v = self.low + u * (self.high - self.low)
        # exp(log(x)) is not always x: clamp so rounding never leaves the declared bounds.
        return min(self.high, max(self.low, v))

    def _check_number(self, value: Any) -> float:
        if not _finite(value):
            raise SpaceError(f"parameter {self.name!r}: {value!r} is not a finite number")
        if not self.low <= value <= self.high:
            raise SpaceError(f"parameter {self.name!r}: {value!r} is outside [{self.low}, {self.high}]")
        return value

    def encode(self, value: Scalar | None) -> list[float]:
        # A second slot marks activity so that "inactive" differs from "at the low bound".
        return [0.0, 0.0] if value is None else [self.to_unit(float(value)), 1.0]

    def _json_fields(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "log": self.log}


class Int(_Numeric):
    type_name = "int"

    def __init__(self, name: str, low: Any, high: Any, log: bool = False, condition: Condition | None = None) -> None:
        for label, v in (("low", low), ("high", high)):
            if isinstance(v, float) and v.is_integer():
                continue
            if not isinstance(v, int) or isinstance(v, bool):
                raise SpaceError(f"parameter {name!r}: {label} of an int parameter must be an integer, got {v!r}")
        for label, v in (("low", low), ("high", high)):
            # Values are mapped through floats (the unit interval, the log scale, condition matching), which hold
            # every integer only up to 2**53.
            if _finite(v) and not -(2**53) <= v <= 2**53:
                raise SpaceError(f"parameter {name!r}: {label} of an int parameter must be within +-2**53, got {v!r}")
        super().__init__(name, int(low), int(high), log, condition)

    def check(self, value: Any) -> int:
        v = self._check_number(value)
        if float(v) != int(v):
            raise SpaceError(f"parameter {self.name!r}: {value!r} is not an integer")
        return int(v)

    def sample(self, rng: np.random.Generator) -> int:
        if self.log:
            return min(self.high, max(self.low, int(round(self.from_unit(float(rng.random()))))))
        return int(rng.integers(self.low, self.high + 1))

    def grid_values(self, resolution: int) -> list[int]:
        if self.high - self.low + 1 <= resolution:
            return list(range(self.low, self.high + 1))
        pts = {int(round(self.from_unit(i / (resolution - 1)))) for i in range(resolution)} if resolution > 1 else {self.low}
        return sorted(pts)

    def neighbor_values(self, value: Scalar, resolution: int) -> list[int]:
        v = self.check(value)
        return [x for x in (v - 1, v + 1) if self.low <= x <= self.high]

    def mutate(self, value: Scalar, rng: np.random.Generator) -> int:
        v = self.check(value)
        if self.low == self.high:
            return v
        # A step in the unit interval (so log-scale ints move proportionally), at least 1.
        for _ in range(8):
            u = self.to_unit(v) + float(rng.normal(0.0, 0.2))
            w = min(self.high, max(self.low, int(round(self.from_unit(u)))))
            if w != v:
                return w
        return v + 1 if v < self.high else v - 1

    @property
    def default(self) -> int:
        return self.low

    @property
    def size(self) -> int:
        return self.high - self.low + 1


class Float(_Numeric):
    type_name = "float"

    def __init__(self, name: str, low: Any, high: Any, log: bool = False, condition: Condition | None = None) -> None:
        super().__init__(name, low, high, log, condition)
        # Bounds written as ints (low: 0, high: 1) are floats too, or sample/grid/neighbors would give the int bound
        # itself: one architecture with two keys.
        self.low, self.high = float(low), float(high)

    def check(self, value: Any) -> float:
        return float(self._check_number(value))

    def sample(self, rng: np.random.Generator) -> float:
        return self.from_unit(float(rng.random()))

    def grid_values(self, resolution: int) -> list[float]:
        if self.low == self.high or resolution <= 1:
            return [float(self.low)]
        return [self.from_unit(i / (resolution - 1)) for i in range(resolution)]

    def neighbor_values(self, value: Scalar, resolution: int) -> list[float]:
        u = self.to_unit(self.check(value))
        step = 1.0 / max(1, resolution - 1)
        return [self.from_unit(w) for w in (u - step, u + step) if -1e-12 <= w <= 1 + 1e-12]

    def mutate(self, value: Scalar, rng: np.random.Generator) -> float:
        v = self.check(value)
        if self.low == self.high:
            return v
        w = self.from_unit(self.to_unit(v) + float(rng.normal(0.0, 0.2)))
        return w if w != v else self.from_unit(float(rng.random()))

    @property
    def default(self) -> float:
        return float(self.low)

    @property
    def size(self) -> int | None:
        # A float with low == high has one value: it is not a decision that mutate can change.
        return 1 if self.low == self.high else None


PARAM_TYPES: dict[str, type[Param]] = {"categorical": Categorical, "int": Int, "float": Float}


def param_from_json(d: Any) -> Param:
    """Build a parameter from its JSON form; raise SpaceError on anything malformed."""
    if not isinstance(d, dict):
        raise SpaceError(f"a parameter must be a mapping, got {d!r}")
    name = d.get("name")
    kind = d.get("type")
    if not isinstance(kind, str) or kind not in PARAM_TYPES:
        raise SpaceError(f"parameter {name!r}: unknown type {kind!r}; use one of {sorted(PARAM_TYPES)}")
    cond = d.get("condition")
    condition = None
    if cond is not None:
        if not isinstance(cond, dict) or "parent" not in cond or "values" not in cond:
            raise SpaceError(f"parameter {name!r}: condition needs 'parent' and 'values', got {cond!r}")
        values = cond["values"]
        if not isinstance(values, list) or not values:
            raise SpaceError(f"parameter {name!r}: condition values must be a non-empty list, got {values!r}")
        condition = Condition(str(cond["parent"]), tuple(values))
    allowed = {"name", "type", "condition"} | ({"choices"} if kind == "categorical" else {"low", "high", "log"})
    unknown = set(d) - allowed
    if unknown:
        raise SpaceError(f"parameter {name!r}: unknown field(s) {sorted(unknown, key=str)}; allowed: {sorted(allowed)}")
    try:
        if kind == "categorical":
            if "choices" not in d:
                raise SpaceError(f"parameter {name!r}: a categorical parameter needs 'choices'")
            return Categorical(name, d["choices"], condition)  # type: ignore[arg-type]
        if "low" not in d or "high" not in d:
            raise SpaceError(f"parameter {name!r}: a {kind} parameter needs 'low' and 'high'")
        cls = Int if kind == "int" else Float
        return cls(name, d["low"], d["high"], d.get("log", False), condition)  # type: ignore[arg-type]
    except TypeError as e:  # e.g. comparing a string bound with a number
        raise SpaceError(f"parameter {name!r}: {e}") from None
