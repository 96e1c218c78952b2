"""The rnn-cell supernet: every node mixes all (input node, activation) pairs by its architecture weights."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from seqnas.errors import SpaceError
from seqnas.models.rnn_cell import ACTIVATION_FNS, DEFAULTS, init_uniform
from seqnas.models.supernet import Choice, Supernet
from seqnas.space.base import SearchSpace
from seqnas.space.params import Categorical

PARAM_FREE_ACTIVATIONS = ("identity",)


class CellSupernet(Supernet):
    """DARTS's recurrent supernet, with one joint choice per node.

    Node i's relaxed state is sum over (p, a) of w[p, a] * (s_p + c_p * (a(z_p) - s_p)), with
    [c_p, z_p] = W_i s_p: one softmax (or Dirichlet / Gumbel sample) per node over every
    (input node, activation) pair, so its argmax is exactly one architecture decision and the
    weights of a node sum to one (DARTS-RNN instead gives each edge its own softmax and needs
    a "none" op to switch edges off). W_i is shared by all inputs and activations of node i, as
    in DARTS, and the discrete cell has the same W_i: the supernet holds exactly the weights
    of every cell, nothing more.

    Cost per time step: sum_i |inputs(i)| matmuls and sum_i |inputs(i)| * |activations|
    element-wise ops, i.e. (N+1)/2 * |activations| times the discrete cell (18x for N=8, four
    activations); memory for back-propagation grows the same way.
    """

    def __init__(self, space: SearchSpace, n_features: int, horizon: int, fixed: Mapping[str, Any]) -> None:
        nodes = 0
        while f"node{nodes + 1}_input" in space.names:
            nodes += 1
        if nodes == 0:
            raise SpaceError("an rnn-cell space needs node1_input, node1_act, ... parameters")
        choices = []
        self.preds: list[list[int]] = []
        self.act_names: list[list[str]] = []
        for i in range(1, nodes + 1):
            pin, pact = space[f"node{i}_input"], space[f"node{i}_act"] if f"node{i}_act" in space.names else None
            if not isinstance(pin, Categorical) or (pact is not None and not isinstance(pact, Categorical)):
                raise SpaceError(f"node{i}_input and node{i}_act must be categorical parameters")
            preds = [int(v) for v in pin.choices]
            acts = [str(v) for v in pact.choices] if pact is not None else [str(fixed.get(f"node{i}_act", "tanh"))]
            opts = tuple((p, a) for p in preds for a in acts)
            params = (f"node{i}_input", f"node{i}_act") if pact is not None else (f"node{i}_input",)
            choices.append(Choice(
                name=f"node{i}", params=params,
                options=tuple(o if pact is not None else o[:1] for o in opts),
                labels=tuple(f"{a}<-{p}" for p, a in opts),
                param_free=tuple(a in PARAM_FREE_ACTIVATIONS for _, a in opts),
            ))
            self.preds.append(preds)
            self.act_names.append(acts)
        super().__init__(choices)
        hidden = int(fixed.get("hidden", DEFAULTS["hidden"]))
        self.hidden = hidden
        self.w0x = nn.Linear(n_features, 2 * hidden)
        self.w0h = nn.Parameter(torch.empty(hidden, 2 * hidden))
        self.ws = nn.Parameter(torch.empty(nodes, hidden, 2 * hidden))
        init_uniform(self.w0h, hidden)
        init_uniform(self.ws, hidden)
        self.head = nn.Linear(hidden, horizon)

    def _plan(self, weights: Sequence[torch.Tensor]) -> list[tuple[Any, ...]]:
        """Per node, what every time step computes; the weights are rearranged once per forward."""
        plan: list[tuple[Any, ...]] = []
        for i, (preds, acts) in enumerate(zip(self.preds, self.act_names)):
            w = weights[i].view(len(preds), len(acts))
            hot = torch.nonzero(w.detach())
            if len(hot) == 1:
                # Hard (Gumbel) sample: only the sampled (input, activation) runs, scaled by its
                # straight-through weight (1 in value), so a step costs what the discrete cell costs.
                pi, ai = int(hot[0, 0]), int(hot[0, 1])
                plan.append((preds[pi], ACTIVATION_FNS[acts[ai]], w[pi, ai], w[pi, ai]))
            else:
                plan.append((preds, [ACTIVATION_FNS[a] for a in acts], w.t(), w.sum(dim=1)))
        return plan

    def step(self, xz: torch.Tensor, h: torch.Tensor, plan: Sequence[tuple[Any, ...]]) -> torch.Tensor:
        c0, z0 = (xz + h @ self.w0h).chunk(2, dim=-1)
        states = [h + torch.sigmoid(c0) * (torch.tanh(z0) - h)]
        aux = self.aux_weight
        for i, (preds, fns, w, beta) in enumerate(plan):
            if isinstance(preds, int):
                sp = states[preds]
                c, z = (sp @ self.ws[i]).chunk(2, dim=-1)
                out = w * (sp + torch.sigmoid(c) * (fns(z) - sp))
                states.append(out if aux == 0 else (out + aux * w * sp) / (1 + aux))
                continue
            s = torch.stack(states) if len(preds) == len(states) else torch.stack([states[p] for p in preds])
            c, z = (s @ self.ws[i]).chunk(2, dim=-1)  # (P, B, H) each
            cand = torch.stack([fn(z) for fn in fns])  # (A, P, B, H)
            # Every (activation a, input p) candidate s_p + c_p (a(z_p) - s_p), mixed by w[a, p].
            out = torch.einsum("ap,apbh->bh", w, s + torch.sigmoid(c) * (cand - s))
            if aux != 0:  # the auxiliary skip: each input state passed through, by its total weight
                out = (out + aux * torch.einsum("p,pbh->bh", beta, s)) / (1 + aux)
            states.append(out)
        return torch.stack(states[1:]).mean(dim=0)

    def forward(self, x: torch.Tensor, weights: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        if weights is None:
            weights = [torch.softmax(a, dim=-1) for a in self.alphas]
        plan = self._plan(weights)
        xz = self.w0x(x)
        h = x.new_zeros(x.shape[0], self.hidden)
        for t in range(x.shape[1]):
            h = self.step(xz[:, t], h, plan)
        return self.head(h)

    def edges(self, probs: Sequence[np.ndarray]) -> tuple[list[str], list[str], list[list[float]]]:
        """One edge per (input node -> node); its ops are the activations, with the joint
        probability of (input, activation), so the edges into one node sum to one."""
        ops: list[str] = []
        for acts in self.act_names:
            ops.extend(a for a in acts if a not in ops)
        names, rows = [], []
        for i, (preds, acts, p) in enumerate(zip(self.preds, self.act_names, probs), start=1):
            w = np.asarray(p, dtype=np.float64).reshape(len(preds), len(acts))
            for pi, pred in enumerate(preds):
                row = [0.0] * len(ops)
                for ai, a in enumerate(acts):
                    row[ops.index(a)] = float(w[pi, ai])
                names.append(f"{pred}->{i}")
                rows.append(row)
        return names, ops, rows
