"""Stacked recurrent forecasters for rnn-macro architectures."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from seqnas.errors import SpaceError
from seqnas.space.rnn_macro import DEFAULTS  # values a user space may leave out

_CELLS = {
    "rnn_tanh": lambda i, h: nn.RNN(i, h, batch_first=True, nonlinearity="tanh"),
    "rnn_relu": lambda i, h: nn.RNN(i, h, batch_first=True, nonlinearity="relu"),
    "lstm": lambda i, h: nn.LSTM(i, h, batch_first=True),
    "gru": lambda i, h: nn.GRU(i, h, batch_first=True),
}


def macro_value(arch: Mapping[str, Any], name: str) -> Any:
    if name in arch:
        return arch[name]
    if name.startswith(("cell", "hidden")) and name not in DEFAULTS:
        # Deeper layers repeat the layer above unless the space says otherwise.
        prefix = "cell" if name.startswith("cell") else "hidden"
        return macro_value(arch, f"{prefix}{int(name[len(prefix):]) - 1}")
    return DEFAULTS[name]


def _macro_rule(name: str) -> tuple[str, Callable[[Any], bool]] | None:
    """(what a value must be, test) for a parameter name of the family; None for an unknown name."""
    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    def positive_int(v: Any) -> bool:
        return number(v) and float(v).is_integer() and v >= 1

    if name == "depth" or re.fullmatch(r"hidden[1-9][0-9]*", name):
        return "an integer >= 1", positive_int
    if re.fullmatch(r"cell[1-9][0-9]*", name):
        return f"one of {sorted(_CELLS)}", lambda v: isinstance(v, str) and v in _CELLS
    if name == "dropout":
        return "a number in [0, 1)", lambda v: number(v) and 0 <= v < 1
    if name in ("residual", "layer_norm"):
        return "true or false", lambda v: isinstance(v, bool)
    if name == "lr":
        return "a number > 0", lambda v: number(v) and v > 0
    return None


def check_macro_space(space: Any) -> None:
    """Every parameter of an rnn-macro space must be one the model uses, with values it can build:
    a typo in a name or a value fails now with a message, not as failed trials later."""
    for p in space.params:
        rule = _macro_rule(p.name)
        if rule is None:
            raise SpaceError(f"parameter {p.name!r} is not used by family rnn-macro; its parameters are depth, cell1.., "
                             "hidden1.., dropout, residual, layer_norm and lr")
        what, ok = rule
        values = list(p.choices) if hasattr(p, "choices") else [p.low, p.high]
        if hasattr(p, "low") and p.type_name == "float" and what.startswith("an integer"):
            raise SpaceError(f"parameter {p.name!r} must be {what}; declare it as int or categorical, not float")
        bad = [v for v in values if not ok(v)]
        if bad:
            raise SpaceError(f"parameter {p.name!r}: {bad[0]!r} is not valid for rnn-macro; it must be {what}")


class StackedRNN(nn.Module):
    """depth recurrent layers (each its own cell type and width) and a linear head on the last step."""

    def __init__(self, arch: Mapping[str, Any], n_features: int, horizon: int) -> None:
        super().__init__()
        depth = int(macro_value(arch, "depth"))
        if depth < 1:
            raise SpaceError(f"depth must be at least 1, got {depth}")
        self.layers = nn.ModuleList()
        self.projections = nn.ModuleList()
        self.norms = nn.ModuleList()
        self.residual = bool(macro_value(arch, "residual")) and depth > 1
        layer_norm = bool(macro_value(arch, "layer_norm"))
        width = n_features
        for i in range(1, depth + 1):
            cell, hidden = macro_value(arch, f"cell{i}"), int(macro_value(arch, f"hidden{i}"))
            if cell not in _CELLS:
                raise SpaceError(f"unknown cell type {cell!r}; use one of {sorted(_CELLS)}")
            self.layers.append(_CELLS[cell](width, hidden))
            # A residual between layers of different widths goes through a linear projection.
            needs_proj = self.residual and i > 1 and width != hidden
            self.projections.append(nn.Linear(width, hidden, bias=False) if needs_proj else nn.Identity())
            self.norms.append(nn.LayerNorm(hidden) if layer_norm else nn.Identity())
            width = hidden
        self.dropout = nn.Dropout(float(macro_value(arch, "dropout")))
        self.head = nn.Linear(width, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for i, (layer, proj, norm) in enumerate(zip(self.layers, self.projections, self.norms)):
            out, _ = layer(h)
            if self.residual and i > 0:
                out = out + proj(h)
            h = self.dropout(norm(out))
        return self.head(h[:, -1, :])
