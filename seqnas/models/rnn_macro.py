"""Stacked recurrent forecasters for rnn-macro architectures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from seqnas.errors import SpaceError

_CELLS = {
    "rnn_tanh": lambda i, h: nn.RNN(i, h, batch_first=True, nonlinearity="tanh"),
    "rnn_relu": lambda i, h: nn.RNN(i, h, batch_first=True, nonlinearity="relu"),
    "lstm": lambda i, h: nn.LSTM(i, h, batch_first=True),
    "gru": lambda i, h: nn.GRU(i, h, batch_first=True),
}

# Values a user-declared rnn-macro space may leave out.
DEFAULTS: dict[str, Any] = {"depth": 1, "cell1": "lstm", "hidden1": 32, "dropout": 0.0, "residual": False,
                            "layer_norm": False, "lr": 3e-3}


def macro_value(arch: Mapping[str, Any], name: str) -> Any:
    if name in arch:
        return arch[name]
    if name.startswith(("cell", "hidden")) and name not in DEFAULTS:
        # Deeper layers repeat the layer above unless the space says otherwise.
        prefix = "cell" if name.startswith("cell") else "hidden"
        return macro_value(arch, f"{prefix}{int(name[len(prefix):]) - 1}")
    return DEFAULTS[name]


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
