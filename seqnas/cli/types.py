"""Argument types of the command line and `--option` parsing: every bad value is one line, exit 2.

Only argparse, json and seqnas.checks / seqnas.errors here: `seqnas --help` must start fast.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from seqnas.checks import positive_int, positive_number
from seqnas.errors import ConfigError, UserError


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line and exit code 2 (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"seqnas: error: {message} (see `{self.prog} --help`)\n")


def _checked(name: str, kind: str, convert: Callable[[str], Any], check: Callable[[Any, str], Any]) -> Callable[[str], Any]:
    """An argparse type: ``convert`` the text, then the shared validator ``check``; the message names the text given."""

    def parse(s: str) -> Any:
        try:
            return check(convert(s), name)
        except (ValueError, UserError):
            raise argparse.ArgumentTypeError(f"{name} must be a positive {kind}, got {s!r}") from None

    return parse


def positive_int_arg(name: str) -> Callable[[str], int]:
    """``--name N``: an integer >= 1 (``seqnas.checks.positive_int``)."""
    return _checked(name, "integer", int, positive_int)


def positive_float_arg(name: str) -> Callable[[str], float]:
    """``--name X``: a finite number > 0 (``seqnas.checks.positive_number``)."""
    return _checked(name, "number", float, positive_number)


def nonneg_int_arg(name: str) -> Callable[[str], int]:
    def parse(s: str) -> int:
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a non-negative integer, got {s!r}") from None
        if v < 0:
            raise argparse.ArgumentTypeError(f"{name} must be a non-negative integer, got {s!r}")
        return v

    return parse


def seeds_arg(s: str) -> int | list[int]:
    """--seeds: a count N (seeds 0..N-1), a range A-B (both included) or a comma-separated list."""
    try:
        if "," in s:
            out = [int(x) for x in s.split(",") if x.strip()]
        elif "-" in s.strip()[1:]:
            a, b = (int(x) for x in s.split("-", 1))
            out = list(range(a, b + 1))
        else:
            n = int(s)
            if n < 1:
                raise ValueError
            return n
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds must be a count N, a range A-B or a list 0,1,2, got {s!r}") from None
    if not out or any(k < 0 for k in out) or len(set(out)) != len(out):
        raise argparse.ArgumentTypeError(f"--seeds must name distinct non-negative seeds, got {s!r}")
    return out


def csv_list(s: str | None) -> list[str]:
    return [x.strip() for x in (s or "").split(",") if x.strip()]


# -- --option [strategy.]key=value ----------------------------------------------------------------------
def parse_options(pairs: Sequence[str] | None) -> list[tuple[str | None, str, Any, str]]:
    """Each ``--option [STRATEGY.]KEY=VALUE`` as (strategy or None, key, value, the text given); the value is
    parsed as JSON when it can be (numbers, true/false, lists, objects), else kept as text."""
    out: list[tuple[str | None, str, Any, str]] = []
    for pair in pairs or ():
        key, sep, raw = pair.partition("=")
        prefix, dot, name = key.strip().partition(".")
        if not sep or not key.strip() or (dot and (not prefix or not name)):
            raise ConfigError(f"strategy option {pair!r} must look like key=value (or strategy.key=value)")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.append((prefix if dot else None, name if dot else prefix, value, pair))
    return out


def search_options(pairs: Sequence[str] | None, strategy: str) -> dict[str, Any]:
    """`seqnas search --option`: KEY=VALUE, or STRATEGY.KEY=VALUE where STRATEGY is the search's own."""
    out: dict[str, Any] = {}
    for prefix, key, value, pair in parse_options(pairs):
        if prefix is not None and prefix != strategy:
            raise ConfigError(f"--option {pair!r} is for strategy {prefix!r}, but this search runs {strategy!r}: "
                              f"write {key}=VALUE (or {strategy}.{key}=VALUE)")
        out[key] = value
    return out


def race_options(pairs: Sequence[str] | None) -> dict[str, dict[str, Any]]:
    """`seqnas compare --option`: STRATEGY.KEY=VALUE (the strategy is required: a race runs several)."""
    out: dict[str, dict[str, Any]] = {}
    for prefix, key, value, _ in parse_options(pairs):
        if prefix is None:
            raise ConfigError(f"race option {key!r} must look like STRATEGY.KEY=VALUE, e.g. evolution.population=10")
        out.setdefault(prefix, {})[key] = value
    return out


# For a CSV with a time column, what is searched unless turned off (--window N, --calendar off, ...).
CSV_DEFAULTS = {"window": "auto", "calendar": "search", "base": "search", "highway": "search"}


def task_inputs_of(args: argparse.Namespace) -> dict[str, Any]:
    """--window / --calendar / --level / --base / --highway as keywords, with ``CSV_DEFAULTS`` for a CSV with
    --time-column (a space that declares one of them keeps its own)."""
    out = {k: getattr(args, k) for k in ("window", "calendar", "level", "base", "highway")}
    if args.csv and args.time_column:
        declared = _declared(args)
        for k, v in CSV_DEFAULTS.items():
            if out[k] is None and k not in declared:
                out[k] = v
    return out


def _declared(args: argparse.Namespace) -> set[str]:
    """The input parameters the --space file declares itself (nothing for a built-in space)."""
    from seqnas.space import get_space

    try:
        return set(get_space(args.space or "rnn-macro").names)
    except Exception:  # noqa: BLE001 - a bad space is reported where the search loads it
        return set()
