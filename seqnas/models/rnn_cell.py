"""Recurrent forecasters built from an rnn-cell architecture (a DARTS/ENAS-style discrete cell)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from seqnas.errors import SpaceError
from seqnas.space.rnn_cell import DEFAULTS  # values a user space may leave out

ACTIVATION_FNS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "identity": lambda t: t,
}


def cell_value(arch: Mapping[str, Any], name: str) -> Any:
    return arch[name] if name in arch else DEFAULTS[name]


def genotype(arch: Mapping[str, Any]) -> list[tuple[int, str]]:
    """The cell as a list of (input node, activation) for nodes 1..N, checked."""
    nodes = 0
    while f"node{nodes + 1}_input" in arch:
        nodes += 1
    if nodes == 0:
        raise SpaceError("an rnn-cell architecture needs node1_input, node1_act, ...")
    out = []
    for i in range(1, nodes + 1):
        pred, act = arch[f"node{i}_input"], arch.get(f"node{i}_act")
        if isinstance(pred, bool) or not isinstance(pred, int) or not 0 <= pred < i:
            raise SpaceError(f"node{i}_input must be an earlier node 0..{i - 1}, got {pred!r}")
        if act not in ACTIVATION_FNS:
            raise SpaceError(f"node{i}_act must be one of {sorted(ACTIVATION_FNS)}, got {act!r}")
        out.append((int(pred), str(act)))
    return out


def init_uniform(t: torch.Tensor, fan_in: int) -> None:
    bound = 1.0 / math.sqrt(fan_in)
    with torch.no_grad():
        t.uniform_(-bound, bound)


class CellRNN(nn.Module):
    """A recurrent net whose step is the architecture's cell, with a linear head on the last state.

    Node 0: s0 = h + c0 * (tanh(z0) - h) with [c0, z0] = W0 [x_t; h] (sigmoid gate c0).
    Node i: s_i = s_p + c_i * (act_i(z_i) - s_p) with [c_i, z_i] = W_i s_p, p = the node's input.
    h_t = mean(s_1 .. s_N). Parameters do not depend on the wiring: every cell of a space has
    the same size, so the search is purely about how the cell computes.
    """

    def __init__(self, arch: Mapping[str, Any], n_features: int, horizon: int) -> None:
        super().__init__()
        self.genotype = genotype(arch)
        hidden = int(cell_value(arch, "hidden"))
        if hidden < 1:
            raise SpaceError(f"hidden must be at least 1, got {hidden}")
        self.hidden = hidden
        self.w0x = nn.Linear(n_features, 2 * hidden)
        self.w0h = nn.Parameter(torch.empty(hidden, 2 * hidden))
        self.ws = nn.Parameter(torch.empty(len(self.genotype), hidden, 2 * hidden))
        init_uniform(self.w0h, hidden)
        init_uniform(self.ws, hidden)
        self.acts = [ACTIVATION_FNS[a] for _, a in self.genotype]
        self.dropout = nn.Dropout(float(cell_value(arch, "dropout")))
        self.head = nn.Linear(hidden, horizon)

    def step(self, xz: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        c0, z0 = (xz + h @ self.w0h).chunk(2, dim=-1)
        states = [h + torch.sigmoid(c0) * (torch.tanh(z0) - h)]
        for i, (pred, _) in enumerate(self.genotype):
            sp = states[pred]
            c, z = (sp @ self.ws[i]).chunk(2, dim=-1)
            states.append(sp + torch.sigmoid(c) * (self.acts[i](z) - sp))
        return torch.stack(states[1:]).mean(dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xz = self.w0x(x)  # the input's share of node 0, for every step at once
        h = x.new_zeros(x.shape[0], self.hidden)
        for t in range(x.shape[1]):
            h = self.step(xz[:, t], h)
        return self.head(self.dropout(h))


def check_cell_space(space: Any) -> None:
    """Every parameter of an rnn-cell space must be one the model uses, with values it can build."""
    names = set(space.names)
    for p in space.params:
        values = list(p.choices) if hasattr(p, "choices") else [p.low, p.high]
        name = p.name
        if name.startswith("node") and name.endswith(("_input", "_act")) and name[4:].split("_")[0].isdigit():
            i = int(name[4:].split("_")[0])
            if i < 1 or f"node{i}_input" not in names:
                raise SpaceError(f"parameter {name!r}: an rnn-cell node needs node{i}_input (nodes count from 1)")
            if i > 1 and f"node{i - 1}_input" not in names:
                raise SpaceError(f"parameter {name!r}: nodes must be numbered 1..N without gaps (node{i - 1}_input is missing)")
            if name.endswith("_input"):
                bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < i]
                what = f"an earlier node 0..{i - 1}"
            else:
                bad = [v for v in values if v not in ACTIVATION_FNS]
                what = f"one of {sorted(ACTIVATION_FNS)}"
        elif name == "hidden":
            bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int) or v < 1]
            what = "a positive integer"
        elif name == "lr":
            bad = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0]
            what = "a positive number"
        elif name == "dropout":
            bad = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1]
            what = "a number in [0, 1)"
        else:
            raise SpaceError(f"parameter {name!r} is not used by family rnn-cell; its parameters are node1_input, node1_act, "
                             "..., hidden, lr and dropout")
        if bad:
            raise SpaceError(f"parameter {name!r}: {bad[0]!r} is not valid for rnn-cell; it must be {what}")
    if "node1_input" not in names:
        raise SpaceError("an rnn-cell space needs node1_input, node1_act, ... parameters")
