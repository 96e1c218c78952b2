"""The rnn-macro space: its size, its conditions, and models built from its architectures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqnas.models import build, count_params, learning_rate
from seqnas.space import get_space, rnn_macro_space
from seqnas.space.rnn_macro import CELLS, DROPOUT, HIDDEN, LEARNING_RATES


def test_grid_has_4041840_points_and_equals_the_cardinality():
    space = get_space("rnn-macro")
    # depth d: (4 cells * 5 widths)^d * 4 dropouts * 3 learning rates * (2 residual settings if d > 1)
    expected = sum(20**d * 4 * 3 * (2 if d > 1 else 1) for d in range(1, 5))
    assert expected == 4_041_840
    assert space.grid_size() == expected
    assert space.cardinality == expected
    first, last = space.grid_at(0), space.grid_at(expected - 1)
    assert first == {"depth": 1, "cell1": CELLS[0], "hidden1": HIDDEN[0], "dropout": DROPOUT[0], "lr": LEARNING_RATES[0]}
    assert last["depth"] == 4 and last["residual"] is True and last["cell4"] == CELLS[-1] and last["lr"] == LEARNING_RATES[-1]


def test_layer_parameters_exist_only_up_to_depth_and_residual_only_with_two_layers():
    space = rnn_macro_space()
    rng = np.random.default_rng(0)
    depths = set()
    for _ in range(300):
        a = space.sample(rng)
        d = a["depth"]
        depths.add(d)
        layer_keys = {k for k in a if k.startswith(("cell", "hidden"))}
        assert layer_keys == {f"{p}{i}" for p in ("cell", "hidden") for i in range(1, d + 1)}
        assert ("residual" in a) == (d >= 2)
        assert a["cell1"] in CELLS and a["hidden1"] in HIDDEN and a["dropout"] in DROPOUT and a["lr"] in LEARNING_RATES
    assert depths == {1, 2, 3, 4}


def test_a_deep_spelling_of_a_shallow_network_is_the_shallow_network():
    space = rnn_macro_space()
    shallow = space.validate({"depth": 1, "cell1": "gru", "hidden1": 16, "dropout": 0.1, "lr": 0.003})
    spelled = space.canonical({"depth": 1, "cell1": "gru", "hidden1": 16, "cell2": "lstm", "hidden2": 64, "residual": True,
                               "dropout": 0.1, "lr": 0.003})
    assert spelled == shallow and spelled.key == shallow.key


def test_options_extend_the_space():
    space = rnn_macro_space(max_depth=2, layer_norm=True)
    assert "layer_norm" in space.names and "cell3" not in space.names
    assert space.grid_size() == (20 * 4 * 3 + 400 * 4 * 3 * 2) * 2


@pytest.mark.parametrize("seed", range(6))
def test_every_sampled_architecture_builds_a_forecaster_of_the_right_shape(seed):
    space = rnn_macro_space()
    arch = space.sample(np.random.default_rng(seed))
    model = build(arch, "rnn-macro", n_features=3, horizon=5)
    out = model(torch.zeros(7, 12, 3))
    assert out.shape == (7, 5)
    assert count_params(model) > 0
    assert learning_rate(arch, "rnn-macro") == arch["lr"]


def test_residual_and_width_change_the_model():
    base = {"depth": 2, "cell1": "gru", "hidden1": 8, "cell2": "gru", "hidden2": 16, "dropout": 0.0, "lr": 0.01}
    plain = build({**base, "residual": False}, "rnn-macro", 1, 1)
    res = build({**base, "residual": True}, "rnn-macro", 1, 1)
    # A residual between layers of different widths needs a projection: more parameters.
    assert count_params(res) == count_params(plain) + 8 * 16
