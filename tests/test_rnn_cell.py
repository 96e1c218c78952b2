"""The rnn-cell space and its model family: space shape, model wiring, training through the evaluator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqnas.errors import SpaceError
from seqnas.evaluation import TaskEvaluator
from seqnas.models import build, check_space, count_params, learning_rate
from seqnas.models.rnn_cell import CellRNN, genotype
from seqnas.space import get_space, rnn_cell_space, space_from_dict
from seqnas.space.base import Arch
from seqnas.tasks import task_spec
from seqnas.trial import TrialState
from tests.conftest import TINY_TRAIN


def test_builtin_space_has_a_node_input_and_activation_per_node():
    sp = get_space("rnn-cell")
    assert sp.family == "rnn-cell" and sp.name == "rnn-cell"
    assert len(sp.params) == 16
    for i in range(1, 9):
        assert list(sp[f"node{i}_input"].choices) == list(range(i))
        assert list(sp[f"node{i}_act"].choices) == ["tanh", "relu", "sigmoid", "identity"]
    # 8! input wirings x 4^8 activations
    assert sp.cardinality == 40320 * 4 ** 8
    check_space(sp)


def test_space_factory_checks_its_arguments():
    assert len(rnn_cell_space(nodes=3, activations=["tanh", "identity"]).params) == 6
    with pytest.raises(SpaceError, match="at least one node"):
        rnn_cell_space(nodes=0)
    with pytest.raises(SpaceError, match="unknown activation"):
        rnn_cell_space(activations=["tanh", "swish"])


def test_every_strategy_operation_works_on_the_cell_space():
    sp = rnn_cell_space(nodes=4)
    rng = np.random.default_rng(0)
    a = sp.sample(rng)
    assert sp.validate(a) == a
    m = sp.mutate(a, rng)
    assert sum(a[k] != m[k] for k in a) == 1
    assert len(sp.encode(a)) == sp.encoding_size
    assert all(sp.validate(n) for n in sp.neighbors(a))


def test_model_follows_the_genotype_and_has_the_same_size_for_every_wiring():
    sp = rnn_cell_space(nodes=4)
    rng = np.random.default_rng(1)
    sizes = set()
    for _ in range(5):
        a = sp.sample(rng)
        model = build(a, "rnn-cell", 2, 3)
        assert isinstance(model, CellRNN)
        assert model.genotype == [(a[f"node{i}_input"], a[f"node{i}_act"]) for i in range(1, 5)]
        out = model(torch.randn(5, 7, 2))
        assert out.shape == (5, 3)
        out.sum().backward()
        assert all(p.grad is not None for p in model.parameters())
        sizes.add(count_params(model))
    assert len(sizes) == 1
    assert learning_rate(a, "rnn-cell") == 3e-3


def test_cell_computes_the_highway_recurrence_by_hand():
    arch = Arch({"node1_input": 0, "node1_act": "relu", "node2_input": 0, "node2_act": "identity", "hidden": 3})
    model = CellRNN(arch, 1, 1)
    x = torch.randn(2, 1, 1)
    h = torch.zeros(2, 3)
    c0, z0 = model.w0x(x[:, 0]).chunk(2, dim=-1)
    s0 = h + torch.sigmoid(c0) * (torch.tanh(z0) - h)
    c1, z1 = (s0 @ model.ws[0]).chunk(2, dim=-1)
    s1 = s0 + torch.sigmoid(c1) * (torch.relu(z1) - s0)
    c2, z2 = (s0 @ model.ws[1]).chunk(2, dim=-1)
    s2 = s0 + torch.sigmoid(c2) * (z2 - s0)
    expected = model.head((s1 + s2) / 2)
    assert torch.allclose(model(x), expected, atol=1e-6)


def test_user_space_may_search_hidden_lr_and_dropout_and_bad_ones_are_refused():
    sp = space_from_dict({"family": "rnn-cell", "params": {
        "node1_input": [0], "node1_act": ["tanh", "relu"], "node2_input": [0, 1], "node2_act": ["identity"],
        "hidden": [4, 8], "lr": [0.01], "dropout": [0.0, 0.2]}})
    check_space(sp)
    a = Arch({"node1_input": 0, "node1_act": "tanh", "node2_input": 1, "node2_act": "identity", "hidden": 4, "lr": 0.01,
              "dropout": 0.2})
    assert build(a, "rnn-cell", 1, 1).hidden == 4
    assert learning_rate(a, "rnn-cell") == 0.01
    for bad, msg in (({"node1_input": [0, 1], "node1_act": ["tanh"]}, "earlier node"),
                     ({"node1_input": [0], "node1_act": ["swish"]}, "one of"),
                     ({"node1_input": [0], "node1_act": ["tanh"], "node3_input": [0], "node3_act": ["tanh"]}, "without gaps"),
                     ({"node1_input": [0], "node1_act": ["tanh"], "width": [3]}, "not used by family rnn-cell"),
                     ({"node1_act": ["tanh"]}, "node1_input")):
        with pytest.raises(SpaceError, match=msg):
            check_space(space_from_dict({"family": "rnn-cell", "params": bad}))
    with pytest.raises(SpaceError, match="earlier node"):
        genotype({"node1_input": 1, "node1_act": "tanh"})


def test_evaluator_trains_a_cell_architecture(tiny_cell):
    ev = TaskEvaluator(task_spec("sunspots"), "rnn-cell", TINY_TRAIN)
    a = tiny_cell.sample(np.random.default_rng(0))
    r = ev(a, 0)
    assert r.state is TrialState.COMPLETE
    assert r.values["val_mse"] > 0 and r.metrics["cpu_seconds"] > 0
    assert ev(a, 0).values == r.values  # same seed, same numbers


@pytest.fixture
def tiny_cell():
    return rnn_cell_space(nodes=3)
