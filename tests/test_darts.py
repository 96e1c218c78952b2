"""One-shot search (strategy "darts"): supernets, derivation, diagnostics, determinism, the CLI with resume."""

from __future__ import annotations

import json
import math
import signal
import sqlite3
import subprocess
import time

import numpy as np
import pytest
import torch

import seqnas
from seqnas.errors import ConfigError
from seqnas.evaluation import TaskEvaluator
from seqnas.evaluation.training import seed_everything
from seqnas.models.cell_supernet import CellSupernet
from seqnas.models.macro_supernet import MacroSupernet
from seqnas.models.supernet import build_supernet, expected_weights, mixing_weights, top_architectures
from seqnas.space import rnn_cell_space, space_from_dict
from seqnas.strategies import make_strategy
from seqnas.strategies.base import WAIT
from seqnas.strategies.darts import DartsConfig, Diagnostics, SupernetJob, perturbation_select, search_supernet
from seqnas.tasks import load_task, task_spec
from seqnas.tasks.base import TaskData
from seqnas.trial import TrialRecord, TrialState
from tests.conftest import SEQNAS, TINY_TRAIN, TINY_TRAIN_ARGS

TINY_CELL = {"family": "rnn-cell", "params": {
    "node1_input": [0], "node1_act": ["tanh", "identity"],
    "node2_input": [0, 1], "node2_act": ["tanh", "relu", "identity"],
    "hidden": [6],
}}
FAST = {"epochs": 3, "batch_size": 64, "top_k": 5}


@pytest.fixture
def tiny_cell():
    return space_from_dict(TINY_CELL)


def _toy_data(n: int, window: int, horizon: int, seed: int = 0, features: int = 1) -> TaskData:
    """Random inputs; the target is the last ``horizon`` inputs of the window (so it needs that much memory)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, window, features)).astype(np.float32)
    y = X[:, -horizon:, 0].copy()
    a, b = int(n * 0.6), int(n * 0.8)
    return TaskData("toy", X[:a], y[:a], X[a:b], y[a:b], X[b:], y[b:], ["x"], "x", np.zeros(1), np.ones(1))


# -- supernets -------------------------------------------------------------------------------------------
def test_cell_supernet_forward_backward_shapes_and_alphas_in_state_dict(tiny_cell):
    net = build_supernet(tiny_cell, 2, 3, {"hidden": 6})
    assert isinstance(net, CellSupernet)
    assert [len(a) for a in net.arch_parameters()] == [2, 6]  # node1: 1 input x 2 acts; node2: 2 inputs x 3 acts
    assert {"alphas.0", "alphas.1"} <= set(net.state_dict())
    for mixing in ("softmax", "dirichlet", "gumbel"):
        net.zero_grad()
        out = net(torch.randn(4, 5, 2), mixing_weights(net.arch_parameters(), mixing))
        assert out.shape == (4, 3)
        out.pow(2).sum().backward()
        assert all(a.grad is not None and a.grad.shape == a.shape for a in net.arch_parameters())
        assert all(p.grad is not None for p in net.weight_parameters())
    # The supernet holds exactly the weights of one discrete cell of the space.
    discrete = seqnas.models.build(tiny_cell.sample(np.random.default_rng(0)), "rnn-cell", 2, 3)
    assert sum(p.numel() for p in net.weight_parameters()) == sum(p.numel() for p in discrete.parameters())


def test_cell_supernet_with_one_hot_weights_is_the_discrete_cell(tiny_cell):
    net = build_supernet(tiny_cell, 1, 2, {"hidden": 6})
    arch = {"node1_input": 0, "node1_act": "identity", "node2_input": 1, "node2_act": "relu", "hidden": 6}
    model = seqnas.models.build(arch, "rnn-cell", 1, 2)
    model.load_state_dict({k: v for k, v in net.state_dict().items() if not k.startswith("alphas")})
    one_hot = []
    for c in net.choices:
        w = torch.zeros(len(c.options))
        w[[i for i, o in enumerate(c.options) if c.assignment(i).items() <= arch.items()][0]] = 1.0
        one_hot.append(w)
    x = torch.randn(3, 4, 1)
    assert torch.allclose(net(x, one_hot), model(x), atol=1e-6)


def test_macro_supernet_mixes_cells_widths_and_depth_with_shared_weights(tiny_macro):
    net = build_supernet(tiny_macro, 1, 2, {"lr": 0.003})
    assert isinstance(net, MacroSupernet)
    assert [c.name for c in net.choices] == ["depth", "cell1", "hidden1", "cell2", "hidden2"]
    out = net(torch.randn(4, 6, 1), mixing_weights(net.arch_parameters(), "softmax"))
    assert out.shape == (4, 2)
    out.sum().backward()
    assert all(a.grad is not None for a in net.arch_parameters())
    # One widest weight set per layer and cell type, whatever the number of widths.
    names = {k for k in net.state_dict() if k.startswith("layers.")}
    assert names == {f"layers.{layer}.{cell}.{w}" for layer, cells in ((0, ["rnn_tanh", "gru", "lstm"]), (1, ["rnn_tanh", "gru"]))
                     for cell in cells for w in ("w_ih", "w_hh", "b_ih", "b_hh")}
    # A one-hot path through the supernet is the discrete network with the sliced weights.
    arch = {"depth": 2, "cell1": "gru", "hidden1": 4, "cell2": "rnn_tanh", "hidden2": 8, "lr": 0.003}
    one_hot = [torch.tensor([0.0, 1.0]), torch.tensor([0.0, 1.0, 0.0]), torch.tensor([1.0, 0.0]),
               torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])]
    model = seqnas.models.build(arch, "rnn-macro", 1, 2)
    g, t = net.layers[0]["gru"], net.layers[1]["rnn_tanh"]
    rows = g.rows[4]
    with torch.no_grad():
        model.layers[0].weight_ih_l0.copy_(g.w_ih[rows])
        model.layers[0].weight_hh_l0.copy_(g.w_hh[rows][:, :4])
        model.layers[0].bias_ih_l0.copy_(g.b_ih[rows])
        model.layers[0].bias_hh_l0.copy_(g.b_hh[rows])
        model.layers[1].weight_ih_l0.copy_(t.w_ih[:, :4])
        model.layers[1].weight_hh_l0.copy_(t.w_hh)
        model.layers[1].bias_ih_l0.copy_(t.b_ih)
        model.layers[1].bias_hh_l0.copy_(t.b_hh)
        model.head.weight.copy_(net.heads["2"].weight)
        model.head.bias.copy_(net.heads["2"].bias)
    x = torch.randn(3, 6, 1)
    assert torch.allclose(net(x, one_hot), model(x), atol=1e-5)


def test_macro_supernet_relaxes_the_residual_connection():
    """With equal widths the discrete model's residual is the identity; a one-hot path through the
    supernet with residual=True (or False) is that network."""
    space = space_from_dict({"family": "rnn-macro", "params": {
        "depth": [2], "cell1": ["gru"], "hidden1": [4], "cell2": ["rnn_tanh"], "hidden2": [4], "residual": [False, True]}})
    net = build_supernet(space, 1, 2, {"lr": 0.003})
    assert [c.name for c in net.choices] == ["depth", "cell1", "hidden1", "cell2", "hidden2", "residual"]
    x = torch.randn(3, 5, 1)
    outs = {}
    for on in (False, True):
        arch = {"depth": 2, "cell1": "gru", "hidden1": 4, "cell2": "rnn_tanh", "hidden2": 4, "residual": on, "lr": 0.003}
        model = seqnas.models.build(arch, "rnn-macro", 1, 2)
        with torch.no_grad():
            for i, cell in ((0, "gru"), (1, "rnn_tanh")):
                src, dst = net.layers[i][cell], model.layers[i]
                for a, b in (("w_ih", "weight_ih_l0"), ("w_hh", "weight_hh_l0"), ("b_ih", "bias_ih_l0"), ("b_hh", "bias_hh_l0")):
                    getattr(dst, b).copy_(getattr(src, a))
            model.head.weight.copy_(net.heads["2"].weight)
            model.head.bias.copy_(net.heads["2"].bias)
        hot = [torch.ones(1)] * 5 + [torch.tensor([0.0, 1.0]) if on else torch.tensor([1.0, 0.0])]
        outs[on] = net(x, hot)
        assert torch.allclose(outs[on], model(x), atol=1e-5)
    assert not torch.allclose(outs[False], outs[True])
    mixed = net(x, mixing_weights(net.arch_parameters(), "softmax"))
    mixed.sum().backward()
    assert net.alphas[-1].grad is not None and net.alphas[-1].grad.abs().sum() > 0


def test_architecture_weights_move_toward_a_planted_good_choice():
    """The target is the last 3 inputs: a width-1 layer cannot hold them, width 6 can, so the
    bilevel search must move the width's architecture weight toward 6."""
    space = space_from_dict({"family": "rnn-macro", "params": {"cell1": ["rnn_tanh"], "hidden1": [1, 6], "lr": [0.01]}})
    data = _toy_data(200, window=5, horizon=3)
    cfg = DartsConfig(epochs=12, remedy="none", batch_size=40, arch_lr=0.1, weight_lr=0.03, top_k=2)
    out = search_supernet(space, data, cfg, seed_everything(0))
    width = out["darts"]["edge_names"].index("hidden1")
    h1, h6 = out["darts"]["op_names"].index("h1"), out["darts"]["op_names"].index("h6")
    first, last = out["darts"]["alphas"][0][width], out["darts"]["alphas"][-1][width]
    assert last[h6] > 0.7 and last[h6] > first[h6]
    assert last[h1] < first[h1]
    assert out["derived"][0]["hidden1"] == 6
    assert out["darts"]["supernet_val_loss"][-1] < out["darts"]["supernet_val_loss"][0]


# -- derivation --------------------------------------------------------------------------------------------
def _score(space, choices, probs, arch):
    total = 0.0
    for c, p in zip(choices, probs):
        if c.params[0] in arch:
            k = [i for i in range(len(c.options)) if all(arch.get(n) == v for n, v in c.assignment(i).items())]
            total += math.log(p[k[0]])
    return total


@pytest.mark.parametrize("which", ["cell", "macro"])
def test_derivation_ranks_architectures_exactly_by_probability(which, tiny_cell, tiny_macro):
    space = tiny_cell if which == "cell" else tiny_macro
    fixed = {"hidden": 6} if which == "cell" else {"lr": 0.003}
    net = build_supernet(space, 1, 1, fixed)
    rng = np.random.default_rng(3)
    with torch.no_grad():
        for a in net.arch_parameters():
            a.copy_(torch.from_numpy(rng.normal(0, 2, len(a))))
    probs = [p.detach().numpy().astype(np.float64) for p in expected_weights(net.arch_parameters(), "softmax")]
    ranked = top_architectures(space, net.choices, probs, fixed, 1000, derive="joint")
    every = [a for a in space.grid() if all(a[k] == v for k, v in fixed.items())]  # the supernet does not relax lr
    assert len(ranked) == len(every)  # all of them, each once
    assert len({a.key for a, _ in ranked}) == len(every)
    brute = sorted(every, key=lambda a: -_score(space, net.choices, probs, a))
    assert [round(s, 9) for _, s in ranked] == [round(_score(space, net.choices, probs, a), 9) for a in brute]
    # The first is the per-choice argmax.
    best = ranked[0][0]
    for c, p in zip(net.choices, probs):
        if c.params[0] in best:
            assert c.assignment(int(np.argmax(p))).items() <= dict(best).items()


def test_derivation_from_planted_alphas_and_a_parameter_limit(tiny_cell):
    net = build_supernet(tiny_cell, 1, 1, {"hidden": 6})
    planted = [np.array([0.1, 0.9]), np.array([0.03, 0.02, 0.05, 0.1, 0.6, 0.2])]  # node2: input 1, relu
    top = top_architectures(tiny_cell, net.choices, planted, {"hidden": 6}, 3)
    assert dict(top[0][0]) == {"node1_input": 0, "node1_act": "identity", "node2_input": 1, "node2_act": "relu", "hidden": 6}
    assert dict(top[1][0])["node2_act"] == "identity" and dict(top[1][0])["node2_input"] == 1
    assert top_architectures(tiny_cell, net.choices, planted, {"hidden": 6}, 3, accept=lambda a: a["node2_input"] == 0)[0][0][
        "node2_act"] == "identity"


def test_argmax_derivation_takes_each_decision_s_argmax_where_joint_prefers_fewer_choices(tiny_macro):
    """Planted weights: depth 2 slightly ahead, clear favourites per layer. The joint log-probability
    charges layer 2's two choices (about ln 3 + ln 2 nats), so it ranks depth 1 first; DARTS's
    per-decision argmax takes depth 2 with every layer's favourite."""
    fixed = {"lr": 0.003}
    net = build_supernet(tiny_macro, 1, 1, fixed)
    names = [c.name for c in net.choices]
    assert names == ["depth", "cell1", "hidden1", "cell2", "hidden2"]
    planted = [np.array([0.45, 0.55]), np.array([0.2, 0.2, 0.6]), np.array([0.3, 0.7]),
               np.array([0.6, 0.4]), np.array([0.7, 0.3])]
    value = {c.name: [o[0] for o in c.options] for c in net.choices}
    argmax_arch = {"depth": value["depth"][1], "cell1": value["cell1"][2], "hidden1": value["hidden1"][1],
                   "cell2": value["cell2"][0], "hidden2": value["hidden2"][0], "lr": 0.003}
    joint = top_architectures(tiny_macro, net.choices, planted, fixed, 3, derive="joint")
    assert joint[0][0]["depth"] == value["depth"][0]
    ranked = top_architectures(tiny_macro, net.choices, planted, fixed, 1000, derive="argmax")
    assert dict(ranked[0][0]) == argmax_arch and ranked[0][1] == pytest.approx(0.0)
    # The runners-up rank by their deviation from the argmax: the sum of log(p / max p) over active choices.
    every = [a for a in tiny_macro.grid() if a["lr"] == 0.003]
    assert len(ranked) == len(every)

    def deviation(arch):
        return sum(math.log(p[[o[0] for o in c.options].index(arch[c.name])] / p.max())
                   for c, p in zip(net.choices, planted) if c.name in arch)

    assert [round(s, 9) for _, s in ranked] == sorted((round(deviation(a), 9) for a in every), reverse=True)
    with pytest.raises(ConfigError, match="derivation"):
        top_architectures(tiny_macro, net.choices, planted, fixed, 1, derive="mean")


# -- diagnostics -------------------------------------------------------------------------------------------
def test_collapse_is_flagged_when_the_parameter_free_share_dominates(tiny_cell):
    net = build_supernet(tiny_cell, 1, 1, {"hidden": 6})
    uniform = net.param_free_share(net.uniform_probs())
    assert uniform == pytest.approx((1 / 2 + 1 / 3) / 2)
    d = Diagnostics(op_names=[], edge_names=[], remedy="none", mixing="softmax", uniform_share=uniform)
    d.param_free_share = [uniform]
    assert not d.collapsed
    d.param_free_share.append(net.param_free_share([np.array([0.02, 0.98]), np.array([0.01, 0.01, 0.3, 0.01, 0.02, 0.65])]))
    assert d.collapsed


def test_a_collapsing_search_is_detected_and_the_diagnostics_have_the_report_format():
    """Plain DARTS on sunspots piles a 3-node cell onto the identity activation within a few
    epochs (DARTS's collapse toward the op that fits fastest); the diagnostics say so."""
    space = rnn_cell_space(nodes=3)
    data = load_task(task_spec("sunspots"))
    out = search_supernet(space, data, DartsConfig(epochs=10, remedy="none", batch_size=64, arch_lr=0.1),
                          seed_everything(0))
    d = out["darts"]
    assert d["collapsed"] is True and d["remedy"] == "none"
    assert d["param_free_share"][0] < d["collapse_threshold"] <= d["param_free_share"][-1]
    assert d["entropy"][-1] < d["entropy"][0]
    assert all(a == "identity" for k, a in out["derived"][0].items() if k.endswith("_act"))
    e = len(d["epochs"])
    assert d["epochs"] == list(range(1, e + 1)) == list(range(1, 11))
    assert len(d["entropy"]) == len(d["param_free_share"]) == len(d["supernet_val_loss"]) == len(d["alphas"]) == e
    assert len(d["derived_val_loss"]) == e and all(math.isfinite(v) for v in d["derived_val_loss"])
    assert d["op_names"] == ["tanh", "relu", "sigmoid", "identity"]
    assert d["edge_names"] == ["0->1", "0->2", "1->2", "0->3", "1->3", "2->3"]
    assert all(len(epoch) == 6 and all(len(row) == 4 for row in epoch) for epoch in d["alphas"])
    for epoch in d["alphas"]:  # the edges into one node share one distribution
        assert sum(epoch[0]) == pytest.approx(1) and sum(epoch[1]) + sum(epoch[2]) == pytest.approx(1)
    json.dumps(d)  # stored as JSON with the trial


def test_the_default_remedy_stops_at_the_onset_of_collapse_and_derives_from_before_it():
    space = rnn_cell_space(nodes=3)
    data = load_task(task_spec("sunspots"))
    out = search_supernet(space, data, DartsConfig(epochs=14, batch_size=64, arch_lr=0.1), seed_everything(0))
    d = out["darts"]
    assert d["remedy"] == "darts+" and d["mixing"] == "softmax"
    assert d["stop_reason"] == "collapse" and d["stopped_early"]
    last = d["epochs"][-1]
    assert d["collapse_detected_epoch"] == last < 14
    assert d["param_free_share"][-1] >= d["collapse_threshold"]
    assert d["derived_from_epoch"] == last - 1 and d["derivation_param_free_share"] == d["param_free_share"][-2]
    assert d["collapsed"] is False
    assert d["entropy"][:3] == pytest.approx([1.0, 1.0, 1.0])  # the warm-up trains only the weights
    assert 0 <= d["derived_param_free_share"] <= 1


def test_perturbation_selection_chooses_by_what_removing_an_option_costs_not_by_its_weight(tiny_macro):
    """Planted supernet loss: removing option k of choice c raises the loss by w[c][k] * importance[c][k].
    Where the larger weight sits on the less important option, the selection follows importance;
    a choice made inactive by an earlier decision is skipped; the weights are tuned after each decision."""
    choices = build_supernet(tiny_macro, 1, 1, {"lr": 0.003}).choices
    assert [c.name for c in choices] == ["depth", "cell1", "hidden1", "cell2", "hidden2"]
    importance = [[3.0, 1.0], [1.0, 1.0, 2.0], [1.0, 2.0], [1.0, 5.0], [5.0, 1.0]]
    start = [np.array([0.5, 0.5]), np.array([0.1, 0.2, 0.7]), np.array([0.6, 0.4]), np.array([0.5, 0.5]), np.array([0.5, 0.5])]

    def loss(weights):
        return 10.0 - sum(float((w * torch.tensor(imp)).sum()) for w, imp in zip(weights, importance))

    tuned = []
    ranking, scores, after = perturbation_select(tiny_macro, choices, start, {"lr": 0.003}, loss,
                                                 lambda weights, decided: tuned.append(decided))
    # depth: 0.5*3 > 0.5*1 -> depth 1; cell1: lstm; hidden1: 0.4*2 = 0.8 > 0.6*1 -> width 8 although alpha prefers 4.
    assert scores[0] == pytest.approx([1.5, 0.5]) and scores[2] == pytest.approx([0.6, 0.8])
    assert scores[3] is None and scores[4] is None  # depth 1 leaves layer 2 out
    assert tuned == [1, 2, 3] and len(after) == 3
    assert after[-1] < after[0]
    top = top_architectures(tiny_macro, choices, ranking, {"lr": 0.003}, 3, derive="joint")
    assert dict(top[0][0]) == {"depth": 1, "cell1": "lstm", "hidden1": 8, "lr": 0.003}
    assert [a for a, _ in top] == sorted((a for a, _ in top), key=lambda a: -sum(
        scores[i][[o[0] for o in c.options].index(a[c.name])] for i, c in enumerate(choices) if c.name in a and scores[i]))
    # The inactive choices keep their architecture weights for the alternatives that use them.
    assert np.allclose(ranking[3], start[3])


def test_search_with_perturbation_selection_derives_its_choice_first_and_is_deterministic(tiny_cell):
    data = _toy_data(120, window=5, horizon=1)
    cfg = DartsConfig(epochs=3, remedy="none", batch_size=64, top_k=4, selection="pt", pt_tune=1)
    out = search_supernet(tiny_cell, data, cfg, seed_everything(3))
    d = out["darts"]
    assert d["selection"] == "pt"
    assert [len(s) for s in d["pt_scores"]] == [2, 6] and len(d["pt_val_loss"]) == 2
    net = build_supernet(tiny_cell, 1, 1, {"hidden": 6})
    first = {k: v for c, s in zip(net.choices, d["pt_scores"]) for k, v in c.assignment(int(np.argmax(s))).items()}
    assert {k: out["derived"][0][k] for k in first} == first
    assert len(out["derived"]) == 4 and out["derived_logp"] == sorted(out["derived_logp"], reverse=True)
    again = search_supernet(tiny_cell, data, cfg, seed_everything(3))
    assert again["derived"] == out["derived"] and again["darts"]["pt_scores"] == d["pt_scores"]
    with pytest.raises(ConfigError, match="selection"):
        search_supernet(tiny_cell, data, DartsConfig(epochs=1, selection="best"), seed_everything(0))


# -- the strategy ------------------------------------------------------------------------------------------
def _record(number, kind, state, metrics=None, arch=None, told=0):
    return TrialRecord(number=number, state=state, arch=arch, kind=kind, metrics=metrics or {}, told_before=told)


def test_strategy_proposes_the_supernet_waits_then_the_derived_architectures(tiny_cell):
    s = make_strategy("darts", tiny_cell, seed=0, options=dict(FAST))
    first = s.ask()
    assert first.kind == "supernet" and isinstance(first.job, SupernetJob)
    assert s.ask() is WAIT and s.ask() is WAIT
    derived = [{"node1_input": 0, "node1_act": "tanh", "node2_input": 1, "node2_act": "relu", "hidden": 6},
               {"node1_input": 0, "node1_act": "identity", "node2_input": 1, "node2_act": "relu", "hidden": 6}]
    s.tell(_record(0, "supernet", TrialState.COMPLETE, {"derived": derived, "derived_logp": [-1.0, -2.0]}))
    a, b = s.ask(), s.ask()
    assert (a.kind, dict(a.arch), a.info["rank"]) == ("arch", derived[0], 1)
    assert dict(b.arch) == derived[1]
    assert s.ask() is None


def test_a_failed_supernet_ends_the_search_without_crashing(tiny_cell):
    s = make_strategy("darts", tiny_cell, seed=0)
    s.ask()
    s.tell(_record(0, "supernet", TrialState.FAILED))
    assert s.ask() is None


def test_darts_refuses_spaces_and_studies_it_cannot_search(tiny_cell):
    with pytest.raises(ConfigError, match=r"model family with a supernet.*\['rnn-cell', 'rnn-macro'\]"):
        make_strategy("darts", space_from_dict({"params": {"a": [1, 2]}}))
    with pytest.raises(ConfigError, match="cannot search an objective"):
        seqnas.search(tiny_cell, objective=lambda a: 1.0, strategy="darts", trials=1)
    for bad, msg in (({"order": 3}, "order"), ({"remedy": "magic"}, "remedy"), ({"epochs": 0}, "epochs"),
                     ({"weight_paths": "some"}, "weight_paths"),
                     ({"fixed": {"nope": 1}}, "unknown parameter"), ({"fixed": {"hidden": 5}}, "fixed")):
        with pytest.raises(ConfigError, match=msg):
            s = make_strategy("darts", tiny_cell, options=bad)
            s.ask().job(TaskEvaluator(task_spec("sunspots"), "rnn-cell", TINY_TRAIN), 0)


def test_supernet_job_is_deterministic_for_a_seed_and_charges_its_cpu_time(tiny_cell):
    ev = TaskEvaluator(task_spec("sunspots"), "rnn-cell", TINY_TRAIN)
    job = make_strategy("darts", tiny_cell, seed=0, options=dict(FAST)).ask().job
    r1, r2 = job(ev, 7), job(ev, 7)
    assert r1.state is TrialState.COMPLETE and r1.values == {}
    assert r1.metrics["derived"] == r2.metrics["derived"]
    assert r1.metrics["darts"]["alphas"] == r2.metrics["darts"]["alphas"]
    assert r1.metrics["darts"]["supernet_val_loss"] == r2.metrics["darts"]["supernet_val_loss"]
    assert r1.metrics["cpu_seconds"] > 0
    other = job(ev, 8)
    assert other.metrics["darts"]["supernet_val_loss"] != r1.metrics["darts"]["supernet_val_loss"]


@pytest.mark.parametrize("order,remedy,paths", [(2, "drnas", "mixture"), (1, "gdas", "mixture"), (2, "none", "sampled"),
                                               (1, "darts-", "mixture"), (2, "darts+", "mixture"), (1, "darts+", "sampled")])
def test_second_order_and_every_remedy_run(tiny_cell, order, remedy, paths):
    data = _toy_data(120, window=4, horizon=1)
    cfg = DartsConfig(epochs=2, order=order, remedy=remedy, warmup=0, batch_size=32, top_k=3, weight_paths=paths)
    out = search_supernet(tiny_cell, data, cfg, seed_everything(0))
    assert len(out["derived"]) == 3
    assert all(math.isfinite(v) for v in out["darts"]["supernet_val_loss"])
    assert out["darts"]["alphas"][-1] != out["darts"]["alphas"][0]  # the architecture moved


def test_api_search_runs_the_supernet_then_trains_the_derived_architectures(db, tiny_macro):
    r = seqnas.search(tiny_macro, task="sunspots", strategy="darts", strategy_options=dict(FAST), trials=2, seed=0,
                      train=TINY_TRAIN, study="d", db=db)
    kinds = [(t.kind, t.state) for t in r.records]
    assert kinds == [("supernet", TrialState.COMPLETE), ("arch", TrialState.COMPLETE), ("arch", TrialState.COMPLETE)]
    sup = r.records[0]
    assert [dict(t.arch) for t in r.records[1:]] == sup.metrics["derived"][:2]
    assert r.best_value == min(t.values["val_mse"] for t in r.records[1:])
    assert sup.metrics["cpu_seconds"] > 0.05
    # With no budget at all, darts runs the supernet and trains its top-1 architecture.
    default = seqnas.search(tiny_macro, task="sunspots", strategy="darts", strategy_options=dict(FAST), seed=0,
                            train=TINY_TRAIN, study="default", db=db)
    assert [t.kind for t in default.records] == ["supernet", "arch"]
    assert default.settings.budget.trials == 1
    # CPU-seconds budgets see the supernet: a budget below its cost leaves no derived trial.
    small = seqnas.search(tiny_macro, task="sunspots", strategy="darts", strategy_options=dict(FAST),
                          cpu_seconds=0.05, seed=0, train=TINY_TRAIN, study="cpu", db=db)
    assert [t.kind for t in small.records] == ["supernet"]


# -- CLI end to end, with a kill during the supernet phase -------------------------------------------------
def _trials(db):
    with sqlite3.connect(db) as c:
        return c.execute("SELECT number, kind, state FROM trials ORDER BY number").fetchall()


@pytest.mark.parametrize("which", ["cell", "macro"])
def test_cli_search_killed_during_the_supernet_then_resumed(which, tmp_path, env, tiny_cell, tiny_macro):
    space = tiny_cell if which == "cell" else tiny_macro
    path = tmp_path / "space.json"
    path.write_text(json.dumps(space.to_json()))
    db = str(tmp_path / "runs.db")
    options = {"epochs": 12, "batch_size": 64, "stop_patience": 0, "top_k": 5}
    cmd = SEQNAS + ["search", "--task", "sunspots", "--space", str(path), "--strategy", "darts", "--study", "S", "--db", db,
                    "--trials", "2", "--workers", "1", "--no-progress", *TINY_TRAIN_ARGS]
    for k, v in options.items():
        cmd += ["--option", f"{k}={v}"]
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None:
        try:
            rows = _trials(db)
        except sqlite3.Error:
            rows = []
        if rows and rows[0][1:] == ("supernet", "RUNNING"):
            break
        time.sleep(0.02)
    assert p.poll() is None, p.communicate()
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert _trials(db) == [(0, "supernet", "RUNNING")]
    done = subprocess.run(SEQNAS + ["resume", "--study", "S", "--db", db, "--workers", "1", "--no-progress"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert _trials(db) == [(0, "supernet", "COMPLETE"), (1, "arch", "COMPLETE"), (2, "arch", "COMPLETE")]
    # A larger budget continues with the next derived architecture; the supernet is not searched again.
    more = seqnas.search(space, task="sunspots", strategy="darts", strategy_options=options, trials=3, seed=0,
                         train=TINY_TRAIN, study="S", db=db, load_if_exists=True)
    assert [t.kind for t in more.records] == ["supernet", "arch", "arch", "arch"]
    assert [dict(t.arch) for t in more.records[1:]] == more.records[0].metrics["derived"][:3]
    assert more.records[0].metrics["darts"]["epochs"] == list(range(1, 13))


def test_cli_refuses_darts_on_a_space_without_a_supernet(tmp_path, env):
    path = tmp_path / "space.json"
    path.write_text(json.dumps({"params": {"a": [1, 2]}}))
    out = subprocess.run(SEQNAS + ["search", "--task", "sunspots", "--space", str(path), "--strategy", "darts",
                                   "--db", str(tmp_path / "x.db")], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.startswith("seqnas: error:") and len(out.stderr.strip().splitlines()) == 1



# -- second order ------------------------------------------------------------------------------------------
def _trained_supernet(tiny_cell):
    """A tiny supernet, its Adam optimiser after two real (clipped) steps, and a batch of data."""
    from seqnas.strategies.darts.hypergradient import mse as _mse

    torch.manual_seed(0)
    net = build_supernet(tiny_cell, 1, 1, {"hidden": 6})
    x, y = torch.randn(16, 5, 1), torch.randn(16, 1)
    w_opt = torch.optim.Adam(net.weight_parameters(), lr=0.01)
    weights = mixing_weights(net.arch_parameters(), "softmax")
    for _ in range(2):
        w_opt.zero_grad()
        _mse(net(x, [w.detach() for w in weights]), y).backward()
        torch.nn.utils.clip_grad_norm_(net.weight_parameters(), 0.05)
        w_opt.step()
    return net, w_opt, x, y


def test_the_virtual_step_is_the_step_the_weight_optimiser_takes(tiny_cell):
    """Second order differentiates through the weight step: by default the same clipping and Adam
    update the search applies, not a plain SGD step with Adam's learning rate."""
    import copy

    from seqnas.strategies.darts.hypergradient import mse as _mse
    from seqnas.strategies.darts.hypergradient import virtual_step as _virtual_step

    net, w_opt, x, y = _trained_supernet(tiny_cell)
    twin = copy.deepcopy(net)
    twin_opt = torch.optim.Adam(twin.weight_parameters(), lr=0.01)
    twin_opt.load_state_dict(w_opt.state_dict())
    mixed = [w.detach() for w in mixing_weights(net.arch_parameters(), "softmax")]
    grads = torch.autograd.grad(_mse(net(x, mixed), y), net.weight_parameters())
    _virtual_step(net.weight_parameters(), grads, w_opt, None, 0.05)
    assert int(float(w_opt.state[net.weight_parameters()[0]]["step"])) == 2  # the real optimiser did not move
    twin_opt.zero_grad()
    _mse(twin(x, mixed), y).backward()
    torch.nn.utils.clip_grad_norm_(twin.weight_parameters(), 0.05)
    twin_opt.step()
    for a, b in zip(net.weight_parameters(), twin.weight_parameters()):
        assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("xi", [None, 0.01])
def test_second_order_gradient_matches_differentiating_through_the_virtual_step(tiny_cell, xi):
    """The finite-difference hypergradient equals autograd through w'(alpha) = w - P * dL_train/dw
    (P: the virtual step's size, its clipping and second moment held fixed)."""
    from torch.func import functional_call

    from seqnas.strategies.darts.hypergradient import mse as _mse
    from seqnas.strategies.darts.hypergradient import second_order_arch_grads as _second_order_arch_grads
    from seqnas.strategies.darts.hypergradient import virtual_step as _virtual_step

    net, w_opt, x, y = _trained_supernet(tiny_cell)
    xv, yv = torch.randn(16, 5, 1), torch.randn(16, 1)
    torch.manual_seed(1)
    got = _second_order_arch_grads(net, lambda: mixing_weights(net.arch_parameters(), "softmax"), x, y, xv, yv,
                                   lambda: torch.zeros(()), w_opt=w_opt, xi=xi, grad_clip=0.05)
    names = [n for n, _ in net.named_parameters() if not n.startswith("alphas.")]
    weights, alphas = net.weight_parameters(), net.arch_parameters()
    mixed = mixing_weights(alphas, "softmax")
    g0 = torch.autograd.grad(_mse(net(x, mixed), y), weights, retain_graph=True)
    backup = [p.detach().clone() for p in weights]
    sizes = _virtual_step(weights, g0, w_opt, xi, 0.05)
    stepped = [p.detach().clone() for p in weights]  # w' with the gradient's value; its alpha-dependence below
    with torch.no_grad():
        for p, b in zip(weights, backup):
            p.copy_(b)
    g = torch.autograd.grad(_mse(net(x, mixed), y), weights, create_graph=True)
    w_prime = {n: s + (size * (gi.detach() - gi)) for n, s, size, gi in zip(names, stepped, sizes, g)}
    w_prime.update({n: p for n, p in net.named_parameters() if n.startswith("alphas.")})
    exact = torch.autograd.grad(_mse(functional_call(net, w_prime, (xv, mixed)), yv), alphas, allow_unused=True)
    for a, e in zip(got, exact):
        e = torch.zeros_like(a) if e is None else e
        assert torch.allclose(a, e, rtol=0.05, atol=1e-4 * float(e.abs().max() + 1e-8) + 1e-7)
