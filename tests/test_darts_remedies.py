"""The anti-collapse remedies of the one-shot search, each checked for its mechanism on a small planted case:
darts- (an auxiliary skip whose weight decays to 0), drnas (Dirichlet mixing weights and the KL pull to the
uniform prior) and gdas (one hard-sampled path per step)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seqnas.evaluation.training import seed_everything
from seqnas.models import macro_supernet
from seqnas.models.supernet import build_supernet, concentration, dirichlet_kl, expected_weights, mixing_weights
from seqnas.space import space_from_dict
from seqnas.strategies.darts import REMEDIES, DartsConfig, search_supernet
from seqnas.strategies.darts import search as darts_search
from seqnas.tasks.base import TaskData
from tests.conftest import TINY_MACRO

TINY_CELL = {"family": "rnn-cell", "params": {
    "node1_input": [0], "node1_act": ["tanh", "identity"],
    "node2_input": [0, 1], "node2_act": ["tanh", "relu", "identity"],
    "hidden": [6],
}}
# The planted case: the target is the last 3 inputs, which a width-1 layer cannot hold and a width-6 layer can.
WIDTH_SPACE = {"family": "rnn-macro", "params": {"cell1": ["rnn_tanh"], "hidden1": [1, 6], "lr": [0.01]}}


def _toy_data(n: int, window: int, horizon: int, seed: int = 0) -> TaskData:
    """Random inputs; the target is the last ``horizon`` inputs of the window (so it needs that much memory)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, window, 1)).astype(np.float32)
    y = X[:, -horizon:, 0].copy()
    a, b = int(n * 0.6), int(n * 0.8)
    return TaskData("toy", X[:a], y[:a], X[a:b], y[a:b], X[b:], y[b:], ["x"], "x", np.zeros(1), np.ones(1))


class Recorder:
    """Every forward pass of the searched supernet: its kind, the mixing weights it got, the auxiliary skip
    weight, and (rnn-macro) which (cell, width) candidates actually ran."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.net = None
        self.cells_run: list[tuple[str, int]] = []

    def arch_steps(self) -> list[dict]:
        return [c for c in self.calls if c["kind"] == "arch"]

    def weight_steps(self) -> list[dict]:
        return [c for c in self.calls if c["kind"] == "weights"]


@pytest.fixture
def recorder(monkeypatch) -> Recorder:
    rec = Recorder()
    real_build = darts_search.build_supernet
    real_cell = macro_supernet._SharedCell.forward

    def cell_forward(self, x, width):
        rec.cells_run.append((self.cell, int(width)))
        return real_cell(self, x, width)

    def build(*args, **kwargs):
        net = real_build(*args, **kwargs)
        forward = net.forward

        def recorded(x, weights=None):
            ws = list(weights) if weights is not None else None
            if not torch.is_grad_enabled():
                kind = "eval"
            elif ws is not None and any(w.requires_grad for w in ws):
                kind = "arch"  # the architecture step differentiates the mixing weights
            else:
                kind = "weights"  # the weight step gets them detached
            start = len(rec.cells_run)
            out = forward(x, weights)
            rec.calls.append({"kind": kind, "weights": None if ws is None else [w.detach().clone() for w in ws],
                              "alphas": [a.detach().clone() for a in net.arch_parameters()],
                              "aux": float(net.aux_weight), "cells": rec.cells_run[start:]})
            return out

        net.forward = recorded
        rec.net = net  # the last one built is the one searched (the first is a probe)
        return net

    monkeypatch.setattr(darts_search, "build_supernet", build)
    monkeypatch.setattr(macro_supernet._SharedCell, "forward", cell_forward)
    return rec


# -- darts-: the auxiliary skip ----------------------------------------------------------------------------------
def test_darts_minus_aux_weight_starts_at_aux_and_decays_linearly_to_zero_over_the_steps(recorder):
    data = _toy_data(120, window=4, horizon=1)  # 72 training windows: 3 steps of 32 per epoch
    epochs, steps = 4, 3
    out = search_supernet(space_from_dict(TINY_CELL), data, DartsConfig(epochs=epochs, remedy="darts-", batch_size=32,
                                                                        top_k=2), seed_everything(0))
    assert out["darts"]["remedy"] == "darts-" and REMEDIES["darts-"]["aux"] == 1.0
    total = epochs * steps
    aux = [c["aux"] for c in recorder.weight_steps()]
    assert aux == pytest.approx([1.0 - s / total for s in range(total)])  # 1 at the first step, linear, never 0 or below
    # The architecture step of a step sees the same skip weight as its weight step (no warm-up in darts-).
    assert [c["aux"] for c in recorder.arch_steps()] == pytest.approx(aux)
    assert aux[-1] == pytest.approx(1 / total) and min(aux) > 0

    # Another starting weight scales the schedule; plain DARTS has no skip at all.
    recorder.calls.clear()
    search_supernet(space_from_dict(TINY_CELL), data, DartsConfig(epochs=epochs, remedy="darts-", aux=0.5, batch_size=32,
                                                                  top_k=2), seed_everything(0))
    assert [c["aux"] for c in recorder.weight_steps()] == pytest.approx([0.5 * (1.0 - s / total) for s in range(total)])
    recorder.calls.clear()
    search_supernet(space_from_dict(TINY_CELL), data, DartsConfig(epochs=2, remedy="none", batch_size=32, top_k=2),
                    seed_everything(0))
    assert {c["aux"] for c in recorder.calls} == {0.0}


def test_aux_skip_passes_a_layer_s_input_through_with_weight_aux():
    """rnn-macro: the output of layer 2 becomes (out + a * input) / (1 + a), so with a linear head
    (1 + a) y(a) - y(0) = a * head(layer-1 output at the last step)."""
    space = space_from_dict({"family": "rnn-macro", "params": {
        "depth": [2], "cell1": ["gru"], "hidden1": [4], "cell2": ["rnn_tanh"], "hidden2": [4]}})
    torch.manual_seed(0)
    net = build_supernet(space, 1, 2, {"lr": 0.003})
    net.eval()
    x = torch.randn(5, 6, 1)
    hot = [torch.ones(1)] * len(net.choices)
    with torch.no_grad():
        def y(a: float) -> torch.Tensor:
            net.aux_weight = a
            return net(x, hot)

        y0 = y(0.0)
        skip = net.heads["2"](net.layers[0]["gru"](x, 4)[:, -1, :])
        for a in (0.5, 2.0):
            assert torch.allclose((1 + a) * y(a) - y0, a * skip, atol=1e-5)
        assert not torch.allclose(y(1.0), y0)


def test_aux_skip_in_the_cell_passes_each_node_s_input_through():
    """rnn-cell, one node, one time step from h = 0: node 1 = (out + a * s0) / (1 + a), s0 the input node's state."""
    space = space_from_dict({"family": "rnn-cell", "params": {"node1_input": [0], "node1_act": ["relu"], "hidden": [5]}})
    torch.manual_seed(1)
    net = build_supernet(space, 2, 3, {"hidden": 5})
    x = torch.randn(4, 1, 2)
    hot = [torch.ones(1)]
    with torch.no_grad():
        net.aux_weight = 0.0
        y0 = net(x, hot)
        c0, z0 = net.w0x(x[:, 0]).chunk(2, dim=-1)
        s0 = torch.sigmoid(c0) * torch.tanh(z0)
        for a in (0.25, 3.0):
            net.aux_weight = a
            assert torch.allclose((1 + a) * net(x, hot) - y0, a * net.head(s0), atol=1e-5)


# -- drnas: Dirichlet mixing weights ----------------------------------------------------------------------------
def test_dirichlet_mixing_weights_are_samples_of_the_elu_plus_one_concentration():
    alpha = torch.tensor([1.0, 0.0, -1.0], requires_grad=True)
    c = torch.tensor([2.0, 1.0, math.exp(-1.0)])  # elu(alpha) + 1
    assert torch.allclose(concentration(alpha), c)
    assert float(concentration(torch.tensor([-10.0]))) > 0  # positive for very negative logits too
    assert torch.allclose(expected_weights([alpha], "dirichlet")[0], c / c.sum())  # what derivation ranks by
    torch.manual_seed(0)
    n = 4000
    samples = torch.stack([mixing_weights([alpha], "dirichlet")[0].detach() for _ in range(n)])
    assert (samples > 0).all() and torch.allclose(samples.sum(dim=1), torch.ones(n), atol=1e-5)
    assert len({tuple(s.tolist()) for s in samples[:10]}) == 10  # a fresh sample each forward pass
    c0 = float(c.sum())
    mean = (c / c0).numpy()
    var = (c * (c0 - c) / (c0 ** 2 * (c0 + 1))).numpy()
    assert samples.mean(dim=0).numpy() == pytest.approx(mean, abs=0.015)
    assert samples.var(dim=0).numpy() == pytest.approx(var, rel=0.12)
    # Reparameterised: the sample is differentiable in the logits.
    mixing_weights([alpha], "dirichlet")[0][0].backward()
    assert alpha.grad is not None and alpha.grad.abs().sum() > 0


def test_dirichlet_kl_is_the_closed_form_kl_to_the_uniform_prior_and_pulls_the_logits_back():
    zero = [torch.zeros(3), torch.zeros(5)]
    assert float(dirichlet_kl(zero)) == pytest.approx(0.0, abs=1e-6)
    alphas = [torch.tensor([1.0, 0.0, -1.0]), torch.tensor([0.5, 2.0])]

    def closed_form(a: torch.Tensor) -> float:
        c = (torch.nn.functional.elu(a) + 1).double()
        c0, k = c.sum(), len(c)
        return float(torch.lgamma(c0) - torch.lgamma(c).sum() - math.lgamma(k)
                     + ((c - 1) * (torch.digamma(c) - torch.digamma(c0))).sum())

    assert float(dirichlet_kl(alphas)) == pytest.approx(sum(closed_form(a) for a in alphas), rel=1e-5)
    assert float(dirichlet_kl(alphas)) > 0
    # Gradient descent on the KL alone brings the concentration back toward 1 (the logits toward 0).
    a = torch.tensor([1.0, 0.3, -1.0], requires_grad=True)
    opt = torch.optim.SGD([a], lr=0.1)
    for _ in range(200):
        opt.zero_grad()
        dirichlet_kl([a]).backward()
        opt.step()
    assert float(a.detach().abs().max()) < 0.1


def test_drnas_search_mixes_with_dirichlet_samples_and_ranks_by_the_concentration(recorder):
    data = _toy_data(120, window=4, horizon=1)
    cfg = DartsConfig(epochs=4, remedy="drnas", warmup=0, stop_patience=0, batch_size=32, top_k=3)
    out = search_supernet(space_from_dict(TINY_CELL), data, cfg, seed_everything(0))
    assert out["darts"]["mixing"] == "dirichlet"
    arch, weights = recorder.arch_steps(), recorder.weight_steps()
    assert len(arch) == len(weights) == 4 * 3
    for call in arch + weights:
        for w in call["weights"]:
            assert (w > 0).all() and float(w.sum()) == pytest.approx(1.0, abs=1e-5)
    # Samples, not the mean: they differ from step to step and from the mean of the concentration at that step.
    node2 = [tuple(c["weights"][1].tolist()) for c in arch]
    assert len(set(node2)) == len(node2)
    for call in arch + weights:
        mean_now = expected_weights(call["alphas"], "dirichlet")
        assert not any(torch.allclose(w, m, atol=1e-3) for w, m in zip(call["weights"], mean_now))
    alphas = recorder.net.arch_parameters()
    # Validation and the diagnostics use the distribution's mean, c / sum(c), of the logits (the last epoch's
    # validation pass is followed by one pass of the derived, one-hot architecture).
    evals = [c for c in recorder.calls if c["kind"] == "eval"]
    mean = [w.detach() for w in expected_weights(alphas, "dirichlet")]
    assert all(torch.allclose(w, m) for w, m in zip(evals[-2]["weights"], mean))
    assert all(sorted(w.tolist()) == [0.0] * (len(w) - 1) + [1.0] for w in evals[-1]["weights"])
    edge = out["darts"]["alphas"][-1][0]  # edge 0->1: ops tanh, identity, relu
    assert edge[:2] == pytest.approx(mean[0].tolist(), abs=1e-6) and edge[2] == 0.0


def test_drnas_kl_term_keeps_the_distribution_near_the_uniform_prior():
    """On the planted width case plain Dirichlet mixing moves toward width 6; a heavy KL weight holds it near uniform."""
    data = _toy_data(200, window=5, horizon=3)
    space = space_from_dict(WIDTH_SPACE)

    def run(kl: float) -> dict:
        cfg = DartsConfig(epochs=8, remedy="drnas", kl=kl, warmup=0, stop_patience=0, batch_size=40, arch_lr=0.1,
                          weight_lr=0.03, top_k=2)
        return search_supernet(space, data, cfg, seed_everything(0))["darts"]

    free, pulled = run(0.0), run(100.0)
    width = free["edge_names"].index("hidden1")
    h6 = free["op_names"].index("h6")
    assert free["alphas"][-1][width][h6] > 0.6  # the planted choice wins without the pull
    assert abs(pulled["alphas"][-1][width][h6] - 0.5) < 0.05
    assert pulled["entropy"][-1] > 0.99 > free["entropy"][-1]


# -- gdas: one sampled path per step ----------------------------------------------------------------------------
def test_gumbel_mixing_weights_are_one_hot_samples_of_the_softmax_with_straight_through_gradients():
    alpha = torch.tensor([2.0, 0.0, -1.0], requires_grad=True)
    torch.manual_seed(0)
    n = 3000
    draws = [mixing_weights([alpha], "gumbel")[0] for _ in range(n)]
    hits = np.zeros(3)
    for w in draws:
        v = w.detach()
        assert int((v != 0).sum()) == 1 and float(v.max()) == 1.0
        hits[int(v.argmax())] += 1
    assert hits / n == pytest.approx(torch.softmax(alpha.detach(), 0).numpy(), abs=0.03)  # the Gumbel-max trick
    (draws[0] * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert alpha.grad is not None and alpha.grad.abs().sum() > 0


def test_gdas_search_runs_exactly_one_sampled_path_per_step(recorder):
    """rnn-macro supernet, remedy gdas: in every training forward pass each choice has exactly one option with
    nonzero weight, and only that path's (cell, width) candidates run (one per layer of the sampled depth)."""
    space = space_from_dict(TINY_MACRO)
    data = _toy_data(120, window=4, horizon=1)
    epochs, steps = 4, 3
    cfg = DartsConfig(epochs=epochs, remedy="gdas", batch_size=32, top_k=2)  # its warm-up: 1 epoch of weights only
    out = search_supernet(space, data, cfg, seed_everything(0))
    assert out["darts"]["mixing"] == "gumbel"
    names = [c.name for c in recorder.net.choices]
    assert names == ["depth", "cell1", "hidden1", "cell2", "hidden2"]
    net = recorder.net
    arch, weights = recorder.arch_steps(), recorder.weight_steps()
    assert len(weights) == epochs * steps and len(arch) == (epochs - 1) * steps
    sampled_paths = set()
    for call in arch + weights:
        picks = []
        for w in call["weights"]:
            assert int((w != 0).sum()) == 1 and float(w.max()) == pytest.approx(1.0)
            picks.append(int(w.argmax()))
        depth = net.depths[picks[0]]
        expect = [(net.cells[0][picks[1]], net.widths[0][picks[2]])]
        if depth == 2:
            expect.append((net.cells[1][picks[3]], net.widths[1][picks[4]]))
        assert call["cells"] == expect  # one candidate per layer of the sampled depth, nothing else
        sampled_paths.add(tuple(picks))
    assert len(sampled_paths) > 1  # sampled anew, not one fixed path
    # Each epoch's validation uses the softmax mean, so every candidate runs (each is followed by one pass of the
    # derived, one-hot architecture: the discretisation gap).
    evals = [c for c in recorder.calls if c["kind"] == "eval"]
    assert len(evals) == 2 * epochs
    assert all(all((w > 0).all() for w in c["weights"]) and len(c["cells"]) == 3 * 2 + 2 * 2 for c in evals[::2])


def test_plain_darts_mixes_every_candidate_in_every_step(recorder):
    """The contrast to gdas: softmax mixing runs every (cell, width) candidate of both layers."""
    data = _toy_data(120, window=4, horizon=1)
    search_supernet(space_from_dict(TINY_MACRO), data, DartsConfig(epochs=1, remedy="none", batch_size=32, top_k=2),
                    seed_everything(0))
    train = recorder.arch_steps() + recorder.weight_steps()
    assert train and all(len(c["cells"]) == 3 * 2 + 2 * 2 for c in train)
    assert all(all((w > 0).all() for w in c["weights"]) for c in train)


def test_a_far_drifted_logit_is_still_a_valid_dirichlet_concentration():
    # elu(-20) + 1 is exactly 0 in float32: without the floor the Dirichlet sample raised a ValueError.
    import torch

    from seqnas.models.supernet import concentration, mixing_weights

    alpha = torch.tensor([0.0, -20.0, 1.0])
    assert float(concentration(alpha).min()) > 0
    w = mixing_weights([alpha], "dirichlet")[0]
    assert torch.isfinite(w).all() and abs(float(w.sum()) - 1.0) < 1e-5
