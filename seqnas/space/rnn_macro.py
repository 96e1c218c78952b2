"""The rnn-macro space: stacked recurrent networks (depth, per-layer cell and width, ...)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from seqnas.space.base import SearchSpace
from seqnas.space.params import Categorical, Condition, Param

CELLS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
HIDDEN = (8, 16, 32, 64, 128)
DROPOUT = (0.0, 0.1, 0.2, 0.3)
LEARNING_RATES = (1e-3, 3e-3, 1e-2)

# Values a user-declared rnn-macro space may leave out (the family's defaults, see seqnas.families).
DEFAULTS: dict[str, Any] = {"depth": 1, "cell1": "lstm", "hidden1": 32, "dropout": 0.0, "residual": False,
                            "layer_norm": False, "lr": 3e-3}


def rnn_macro_space(
    max_depth: int = 4,
    cells: Sequence[str] = CELLS,
    hidden_sizes: Sequence[int] = HIDDEN,
    dropouts: Sequence[float] = DROPOUT,
    learning_rates: Sequence[float] = LEARNING_RATES,
    layer_norm: bool = False,
) -> SearchSpace:
    """A stacked RNN: ``depth`` layers, each with its own cell type and hidden size.

    Layer ``i`` exists only when ``depth >= i``; ``residual`` only when there are two or
    more layers. ``layer_norm=True`` adds a per-network layer-normalisation switch.
    """
    depths = list(range(1, max_depth + 1))
    params: list[Param] = [Categorical("depth", depths)]
    for i in range(1, max_depth + 1):
        cond = None if i == 1 else Condition("depth", tuple(d for d in depths if d >= i))
        params.append(Categorical(f"cell{i}", list(cells), cond))
        params.append(Categorical(f"hidden{i}", list(hidden_sizes), cond))
    params.append(Categorical("dropout", list(dropouts)))
    if max_depth >= 2:
        params.append(Categorical("residual", [False, True], Condition("depth", tuple(depths[1:]))))
    if layer_norm:
        params.append(Categorical("layer_norm", [False, True]))
    params.append(Categorical("lr", list(learning_rates)))
    return SearchSpace(params, name="rnn-macro", family="rnn-macro")
