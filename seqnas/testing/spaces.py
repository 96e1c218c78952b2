"""The search spaces the conformance kit runs strategies on.

Spaces without a model family are searched with made-up results only; the rnn-macro spaces
(``tiny_macro_space``, ``tiny_macro_six``, the built-in ``rnn_macro_space``) have a model
family, so a one-shot job a strategy proposes on them (darts' supernet search) trains for real on
a task (``driver.Driver``). Every function returns a fresh space: a check may spy on a space's
methods without touching another check's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from seqnas.space import SearchSpace, rnn_macro_space, space_from_dict

# An rnn-macro-family space of 60 architectures (depth 1-2, 4-8 units) whose architectures train in a
# fraction of a second (the same as tests/conftest.py's TINY_MACRO).
TINY_MACRO: dict[str, Any] = {
    "family": "rnn-macro",
    "params": [
        {"name": "depth", "type": "categorical", "choices": [1, 2]},
        {"name": "cell1", "type": "categorical", "choices": ["rnn_tanh", "gru", "lstm"]},
        {"name": "hidden1", "type": "categorical", "choices": [4, 8]},
        {"name": "cell2", "type": "categorical", "choices": ["rnn_tanh", "gru"], "condition": {"parent": "depth", "values": [2]}},
        {"name": "hidden2", "type": "categorical", "choices": [4, 8], "condition": {"parent": "depth", "values": [2]}},
        {"name": "lr", "type": "categorical", "choices": [0.003, 0.01]},
    ],
}


def conditional_space() -> SearchSpace:
    """Categoricals, an int, a log float, and conditions two levels deep (no model family)."""
    return space_from_dict({"name": "conditional", "params": [
        {"name": "kind", "type": "categorical", "choices": ["a", "b", "c"]},
        {"name": "n", "type": "int", "low": 1, "high": 6, "condition": {"parent": "kind", "values": ["a", "b"]}},
        {"name": "mode", "type": "categorical", "choices": [True, False], "condition": {"parent": "kind", "values": ["b"]}},
        {"name": "rate", "type": "float", "low": 1e-4, "high": 1e-1, "log": True, "condition": {"parent": "mode", "values": [True]}},
        {"name": "width", "type": "categorical", "choices": [8, 16, 32]},
        {"name": "extra", "type": "int", "low": 0, "high": 3, "condition": {"parent": "width", "values": [32]}},
    ]})


def small_space() -> SearchSpace:
    """90 architectures (also on the grid): small enough that duplicates would happen, large enough not to run out."""
    return space_from_dict({"name": "small", "params": [
        {"name": "a", "type": "categorical", "choices": [0, 1, 2]},
        {"name": "b", "type": "categorical", "choices": ["x", "y", "z"]},
        {"name": "c", "type": "int", "low": 0, "high": 4, "condition": {"parent": "a", "values": [2]}},
        {"name": "d", "type": "categorical", "choices": [1, 2], "condition": {"parent": "a", "values": [0, 1]}},
        {"name": "e", "type": "categorical", "choices": [False, True], "condition": {"parent": "b", "values": ["x", "y"]}},
        {"name": "f", "type": "categorical", "choices": [0.5, 1.5]},
    ]})


def tiny_space() -> SearchSpace:
    """6 architectures, one of them with a conditional parameter."""
    return space_from_dict({"name": "tiny", "params": [
        {"name": "a", "type": "categorical", "choices": [0, 1, 2]},
        {"name": "b", "type": "categorical", "choices": ["x", "y"], "condition": {"parent": "a", "values": [2]}},
        {"name": "c", "type": "int", "low": 0, "high": 1, "condition": {"parent": "a", "values": [0, 1]}},
    ]})


def tiny_macro_space() -> SearchSpace:
    """``TINY_MACRO``: an rnn-macro-family space of 60 architectures (depth 1-2, 4-8 units)."""
    return space_from_dict({"name": "tiny-macro", **TINY_MACRO})


def tiny_macro_six() -> SearchSpace:
    """6 rnn-macro architectures, one decision conditional on the depth."""
    return space_from_dict({"name": "tiny-macro-six", "family": "rnn-macro", "params": [
        {"name": "depth", "type": "categorical", "choices": [1, 2]},
        {"name": "cell1", "type": "categorical", "choices": ["rnn_tanh", "gru"]},
        {"name": "hidden1", "type": "categorical", "choices": [4]},
        {"name": "hidden2", "type": "categorical", "choices": [4, 8], "condition": {"parent": "depth", "values": [2]}},
    ]})


def planted_space() -> SearchSpace:
    """400 architectures; ``driver.planted`` fails every one whose ``op`` is "bad" (a quarter of them)."""
    return space_from_dict({"name": "planted", "params": [
        {"name": "op", "type": "categorical", "choices": ["ok1", "ok2", "ok3", "bad"]},
        {"name": "a", "type": "int", "low": 0, "high": 9},
        {"name": "b", "type": "categorical", "choices": list(range(10))},
    ]})


# The spaces most properties are checked on, by name: one without a model family, the built-in
# rnn-macro space (large: a strategy never runs out on it) and a tiny one of the same family.
SPACES: dict[str, Callable[[], SearchSpace]] = {"conditional": conditional_space, "rnn-macro": rnn_macro_space,
                                                "tiny-macro": tiny_macro_space}

# Every space of the kit, by name (``SPACES``, and those some properties use alone).
ALL_SPACES: dict[str, Callable[[], SearchSpace]] = {
    **SPACES, "small": small_space, "tiny": tiny_space, "tiny-macro-six": tiny_macro_six, "planted": planted_space,
}

__all__ = ["ALL_SPACES", "SPACES", "TINY_MACRO", "conditional_space", "planted_space", "small_space", "tiny_macro_six",
           "tiny_macro_space", "tiny_space"]
