"""The rnn-cell space: a DARTS/ENAS-style recurrent cell, each node an (input node, activation) pair."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from seqnas.errors import SpaceError
from seqnas.space.base import SearchSpace
from seqnas.space.params import Categorical, Param

ACTIVATIONS = ("tanh", "relu", "sigmoid", "identity")
DEFAULT_NODES = 8

# Values a user-declared rnn-cell space may leave out (they are not part of the built-in space).
DEFAULTS: dict[str, Any] = {"hidden": 32, "lr": 3e-3, "dropout": 0.0}


def rnn_cell_space(nodes: int = DEFAULT_NODES, activations: Sequence[str] = ACTIVATIONS) -> SearchSpace:
    """A recurrent cell with ``nodes`` intermediate nodes.

    Node 0 is the highway-gated combination of the input x_t and the previous state h_{t-1}.
    Node i (1..nodes) reads one earlier node ``node{i}_input`` (0..i-1) and applies
    ``node{i}_act`` to a highway-gated transform of it (as in DARTS and ENAS recurrent cells);
    the new state h_t is the mean of nodes 1..nodes. Hidden size and learning rate are fixed
    defaults of the model family; a user-declared space may add ``hidden``, ``lr`` and
    ``dropout`` parameters to search them too.
    """
    if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 1:
        raise SpaceError(f"an rnn-cell needs at least one node, got nodes={nodes!r}")
    unknown = sorted(set(activations) - set(ACTIVATIONS))
    if unknown or not activations:
        raise SpaceError(f"unknown activation(s) {unknown}; use some of {list(ACTIVATIONS)}")
    params: list[Param] = []
    for i in range(1, nodes + 1):
        params.append(Categorical(f"node{i}_input", list(range(i))))
        params.append(Categorical(f"node{i}_act", list(activations)))
    return SearchSpace(params, name="rnn-cell", family="rnn-cell")
