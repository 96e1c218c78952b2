"""Checking strategy options (``--option key=value`` / ``strategy_options=``) with messages that say what to fix."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from seqnas.errors import ConfigError


def int_option(strategy: str, name: str, value: Any, low: int = 0) -> int:
    """An integer >= ``low`` (JSON gives 3.0 for some writers; that is accepted)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"strategy {strategy!r}: option {name} must be an integer >= {low}, got {value!r}")
    return value


def float_option(strategy: str, name: str, value: Any, low: float = -math.inf, high: float = math.inf,
                 low_open: bool = False) -> float:
    """A finite number in [low, high] (or (low, high] with ``low_open``)."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and value <= high
    if not ok:
        lo = "(" if low_open else "["
        raise ConfigError(f"strategy {strategy!r}: option {name} must be a number in {lo}{low}, {high}], got {value!r}")
    return float(value)


def bool_option(strategy: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"strategy {strategy!r}: option {name} must be true or false, got {value!r}")
    return value


def choice_option(strategy: str, name: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ConfigError(f"strategy {strategy!r}: option {name} must be one of {list(choices)}, got {value!r}")
    return str(value)
