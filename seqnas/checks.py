"""Validation of the numbers users give (budgets, sizes, limits): one wording everywhere."""

from __future__ import annotations

import math
from typing import Any

from seqnas.errors import ConfigError, UserError


def is_positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def is_positive_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def positive_int(v: Any, name: str, error: type[UserError] = ConfigError) -> int:
    """``v`` if it is an int >= 1 (not a bool), else ``error("<name> must be a positive integer, got v")``."""
    if not is_positive_int(v):
        raise error(f"{name} must be a positive integer, got {v!r}")
    return int(v)


def positive_number(v: Any, name: str, error: type[UserError] = ConfigError, unit: str = "") -> float:
    """``v`` if it is a finite number > 0 (not a bool), else a one-line ``error``."""
    if not is_positive_number(v):
        raise error(f"{name} must be a positive number{' of ' + unit if unit else ''}, got {v!r}")
    return float(v)


def optional_positive_int(v: Any, name: str, error: type[UserError] = ConfigError) -> int | None:
    return None if v is None else positive_int(v, name, error)


def optional_positive_number(v: Any, name: str, error: type[UserError] = ConfigError, unit: str = "") -> float | None:
    return None if v is None else positive_number(v, name, error, unit)
