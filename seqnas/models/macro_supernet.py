"""The rnn-macro supernet: per layer a mixture of cell types and widths (shared, sliced weights), and of depth."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seqnas.errors import SpaceError
from seqnas.models.rnn_macro import DEFAULTS
from seqnas.models.supernet import Choice, Supernet
from seqnas.space.base import SearchSpace
from seqnas.space.params import Categorical

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def _run(cell: str, x: torch.Tensor, params: list[torch.Tensor], width: int, training: bool) -> torch.Tensor:
    """One recurrent layer with explicit weights (the kernels nn.RNN / nn.LSTM / nn.GRU call)."""
    h0 = x.new_zeros(1, x.shape[0], width)
    if cell == "lstm":
        return torch._VF.lstm(x, (h0, h0), params, True, 1, 0.0, training, False, True)[0]
    if cell == "gru":
        return torch._VF.gru(x, h0, params, True, 1, 0.0, training, False, True)[0]
    fn = torch._VF.rnn_tanh if cell == "rnn_tanh" else torch._VF.rnn_relu
    return fn(x, h0, params, True, 1, 0.0, training, False, True)[0]


class _SharedCell(nn.Module):
    """The widest layer of one cell type; a narrower candidate uses the first ``width`` units of every gate."""

    def __init__(self, cell: str, n_in: int, widest: int, widths: Sequence[int]) -> None:
        super().__init__()
        g = GATES[cell]
        self.cell, self.widest = cell, widest
        self.w_ih = nn.Parameter(torch.empty(g * widest, n_in))
        self.w_hh = nn.Parameter(torch.empty(g * widest, widest))
        self.b_ih = nn.Parameter(torch.empty(g * widest))
        self.b_hh = nn.Parameter(torch.empty(g * widest))
        bound = 1.0 / widest ** 0.5  # nn.RNN's initialisation
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)
        self.rows = {w: torch.cat([torch.arange(k * widest, k * widest + w) for k in range(g)]) for w in widths}

    def forward(self, x: torch.Tensor, width: int) -> torch.Tensor:
        params: list[torch.Tensor]
        if width == self.widest:
            params = [self.w_ih, self.w_hh, self.b_ih, self.b_hh]
        else:
            r = self.rows[width]
            params = [self.w_ih[r], self.w_hh[r][:, :width], self.b_ih[r], self.b_hh[r]]
        out = _run(self.cell, x, params, width, self.training)
        return F.pad(out, (0, self.widest - width)) if width < self.widest else out


class MacroSupernet(Supernet):
    """Stacked recurrent layers where each layer mixes every (cell type, width) of the space.

    Weight sharing: per layer and cell type one widest weight matrix; a width-w candidate is
    the slice of the first w units of every gate (input and recurrent weights, biases), run
    with the same kernels nn.LSTM / nn.GRU / nn.RNN use, and zero-padded to the widest width.
    A layer's output is sum_c p(cell=c) sum_w p(hidden=w) out_{c,w}; the next layer reads it.
    Depth is an early-exit mixture: one linear head per depth choice on the last step of that
    layer, mixed by p(depth). Residual connections are one choice for the network: from layer
    2 on, a layer's output plus p(residual) times its input (cut or zero-padded to the layer's
    width, where the discrete model projects linearly). Dropout and the learning rate are not
    relaxed (they take fixed values).

    Cost per forward: sum over layers of |cells| x sum(widths) recurrent units (for the
    built-in space 4 layers x 4 cells x 248 units, ~8x a single widest LSTM per layer);
    the memory for back-propagation scales the same way. Hard (Gumbel) mixing skips every
    candidate whose weight is zero, so a GDAS step costs about one sampled network.
    """

    def __init__(self, space: SearchSpace, n_features: int, horizon: int, fixed: Mapping[str, Any]) -> None:
        names = set(space.names)
        choices: list[Choice] = []
        if "depth" in names:
            depth = self._categorical(space, "depth")
            self.depths = [int(d) for d in depth.choices]
            choices.append(Choice("depth", ("depth",), tuple((d,) for d in depth.choices),
                                  tuple(f"depth{d}" for d in self.depths), tuple(False for _ in self.depths)))
        else:
            self.depths = [int(fixed.get("depth", DEFAULTS["depth"]))]
        if min(self.depths) < 1:
            raise SpaceError("depth choices must be at least 1")
        max_depth = max(self.depths)
        # Per layer: (index of the cell choice or None, cell options) and the same for widths;
        # a layer whose parameter is not in the space repeats the layer above (as the model does).
        self.cell_src: list[int | None] = []
        self.width_src: list[int | None] = []
        options: dict[str, list[list[Any]]] = {"cell": [], "hidden": []}
        for layer in range(1, max_depth + 1):
            for kind, src in (("cell", self.cell_src), ("hidden", self.width_src)):
                name, opts_list = f"{kind}{layer}", options[kind]
                if name in names:
                    p = self._categorical(space, name)
                    values: list[Any] = [str(v) for v in p.choices] if kind == "cell" else [int(v) for v in p.choices]
                    labels = tuple(str(v) if kind == "cell" else f"h{v}" for v in values)
                    choices.append(Choice(name, (name,), tuple((v,) for v in p.choices), labels, tuple(False for _ in values)))
                    src.append(len(choices) - 1)
                    opts_list.append(values)
                elif layer > 1:
                    src.append(src[-1])
                    opts_list.append(opts_list[-1])
                else:
                    default = fixed.get(name, DEFAULTS[name])
                    src.append(None)
                    opts_list.append([str(default)] if kind == "cell" else [int(default)])
        # Residual connections between layers: a choice when the space has the parameter (a
        # layer's output plus p(residual) times its input), else the fixed value.
        self.residual_src: int | None = None
        self.residual_on = 0  # the index of the option residual=True in that choice
        self.residual_fixed = bool(fixed.get("residual", DEFAULTS["residual"]))
        if "residual" in names and max_depth > 1:
            res = self._categorical(space, "residual")
            if sorted(bool(v) for v in res.choices) != [False, True] or len(res.choices) != 2:
                self.residual_fixed = bool(res.choices[0])
            else:
                choices.append(Choice("residual", ("residual",), tuple((v,) for v in res.choices),
                                      tuple("residual" if v else "plain" for v in res.choices), (False, False)))
                self.residual_src = len(choices) - 1
                self.residual_on = [bool(v) for v in res.choices].index(True)
        self.cells: list[list[str]] = options["cell"]
        self.widths: list[list[int]] = options["hidden"]
        for cells in self.cells:
            unknown = sorted(set(cells) - set(GATES))
            if unknown:
                raise SpaceError(f"unknown cell type(s) {unknown}; use some of {sorted(GATES)}")
        super().__init__(choices)
        self.layers = nn.ModuleList()
        n_in = n_features
        for cells, widths in zip(self.cells, self.widths):
            widest = max(widths)
            self.layers.append(nn.ModuleDict({c: _SharedCell(c, n_in, widest, widths) for c in cells}))
            n_in = widest
        self.heads = nn.ModuleDict({str(d): nn.Linear(max(self.widths[d - 1]), horizon) for d in self.depths})

    @staticmethod
    def _categorical(space: SearchSpace, name: str) -> Categorical:
        p = space[name]
        if not isinstance(p, Categorical):
            raise SpaceError(f"one-shot search of rnn-macro needs {name!r} to be categorical")
        return p

    def _weights(self, weights: Sequence[torch.Tensor], src: int | None) -> torch.Tensor:
        return weights[src] if src is not None else torch.ones(1)

    def forward(self, x: torch.Tensor, weights: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        if weights is None:
            weights = [torch.softmax(a, dim=-1) for a in self.alphas]
        has_depth = bool(self.choices) and self.choices[0].name == "depth"
        w_depth = weights[0] if has_depth else torch.ones(1)
        live_depths = [d for d, w in zip(self.depths, w_depth.detach()) if float(w) != 0.0]
        deepest = max(live_depths)
        h = x
        y: torch.Tensor | int = 0
        for layer in range(1, deepest + 1):
            wc = self._weights(weights, self.cell_src[layer - 1])
            ww = self._weights(weights, self.width_src[layer - 1])
            cells, widths = self.cells[layer - 1], self.widths[layer - 1]
            mod = cast(nn.ModuleDict, self.layers[layer - 1])
            out: torch.Tensor | int = 0
            for ci, cell in enumerate(cells):
                if float(wc[ci].detach()) == 0.0:
                    continue  # hard sampling: only the sampled candidate runs
                inner: torch.Tensor | int = 0
                for wi, width in enumerate(widths):
                    if float(ww[wi].detach()) == 0.0:
                        continue
                    inner = inner + ww[wi] * mod[cell](h, width)
                out = out + wc[ci] * inner
            if layer > 1:
                # The layer's input cut or zero-padded to its width: the residual connection (the
                # discrete model projects linearly between different widths) and DARTS-'s auxiliary skip.
                skip = h[..., : out.shape[-1]] if h.shape[-1] >= out.shape[-1] else F.pad(h, (0, out.shape[-1] - h.shape[-1]))  # type: ignore[union-attr]
                if self.residual_src is not None:
                    w_res = weights[self.residual_src][self.residual_on]
                    if float(w_res.detach()) != 0.0:
                        out = out + w_res * skip
                elif self.residual_fixed:
                    out = out + skip
                if self.aux_weight != 0:
                    out = (out + self.aux_weight * skip) / (1 + self.aux_weight)
            h = out  # type: ignore[assignment]
            if layer in self.depths:
                di = self.depths.index(layer)
                if float(w_depth[di].detach()) != 0.0:
                    y = y + w_depth[di] * self.heads[str(layer)](h[:, -1, :])
        return y  # type: ignore[return-value]

    def param_free_share(self, probs: Sequence[np.ndarray]) -> float:
        """Expected share of the optional layers (beyond the smallest depth) that are skipped:
        a skipped layer is the identity, the macro analogue of DARTS's skip connection."""
        if not self.choices or self.choices[0].name != "depth" or len(self.depths) < 2:
            return 0.0
        lo, hi = min(self.depths), max(self.depths)
        return float(sum(float(p) * (hi - d) / (hi - lo) for d, p in zip(self.depths, probs[0])))
