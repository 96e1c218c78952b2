"""The RL strategy: controller decisions, learning, MnasNet-style rewards, stored controller state."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import seqnas
from seqnas.errors import ConfigError
from seqnas.space import space_from_dict
from seqnas.storage import Storage
from seqnas.strategies import make_strategy
from seqnas.strategies.reinforce import ReinforceSearch
from seqnas.trial import TrialRecord, TrialState

SPACE = space_from_dict({"params": {f"x{i}": [0, 1, 2, 3, 4] for i in range(4)}})
BIG = space_from_dict({"params": {f"x{i}": [0, 1, 2, 3, 4] for i in range(8)}})
MIXED = space_from_dict({"params": [
    {"name": "depth", "type": "categorical", "choices": [1, 2]},
    {"name": "units", "type": "int", "low": 1, "high": 200, "log": True},
    {"name": "rate", "type": "float", "low": 0.0, "high": 1.0, "condition": {"parent": "depth", "values": [2]}},
]})


def done(number: int, arch, **values: float) -> TrialRecord:
    return TrialRecord(number=number, state=TrialState.COMPLETE, arch=arch, values=values, metrics=dict(values))


def test_bad_options_are_config_errors():
    for options, fragment in (({"lr": 0}, "lr"), ({"batch_size": 0}, "batch_size"), ({"bins": 1}, "bins"),
                              ({"reward_mode": "medium"}, "reward_mode"), ({"target_params": -5}, "target_params"),
                              ({"targets": [1, 2]}, "targets"), ({"entropy_weight": -1}, "entropy_weight")):
        with pytest.raises(ConfigError, match=fragment):
            make_strategy("rl", SPACE, options=options)
    with pytest.raises(ConfigError, match="needs a target"):
        make_strategy("rl", SPACE, objectives=("val_mse", "params"), options={"reward_mode": "hard"})


def test_building_the_controller_leaves_torch_global_generator_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ReinforceSearch(SPACE, seed=0, objectives=("value",))
    assert torch.equal(torch.rand(3), expected)


def test_decisions_follow_conditions_and_cover_ints_and_floats():
    s = ReinforceSearch(MIXED, seed=0, objectives=("value",))
    kinds = {d.param.name: (d.kind, d.n) for d in s.decisions}
    assert kinds == {"depth": ("categorical", 2), "units": ("bins", 8), "rate": ("bins", 8)}
    for _ in range(30):
        arch = s.ask().arch
        assert ("rate" in arch) == (arch["depth"] == 2)
        assert MIXED.validate(arch) == arch
        # The log-probability walks exactly the active decisions.
        logp, _ = s._log_prob_entropy(arch)
        assert float(logp.detach()) < 0


def test_the_controller_learns_the_best_choices():
    # Additive landscape: choice 3 is best for every decision (8 decisions, 390,625 architectures).
    def value(arch):
        return sum(abs(arch[k] - 3) for k in arch)

    s = ReinforceSearch(BIG, seed=2, objectives=("value",))
    hits = []
    for n in range(160):
        arch = s.ask().arch
        hits.append(sum(arch[k] == 3 for k in arch))
        s.tell(done(n, arch, value=value(arch)))
    first, last = np.mean(hits[:40]), np.mean(hits[-40:])
    assert first < 2.5  # 8 * 1/5 at random
    assert last > 4.0


def test_mnasnet_reward_hard_and_soft_targets():
    a = SPACE.canonical({"x0": 0, "x1": 0, "x2": 0, "x3": 0})
    hard = ReinforceSearch(SPACE, objectives=("val_mse",), target_params=1000)
    assert (hard.reward_mode, hard.reward_weight) == ("hard", 1.0)
    rec = TrialRecord(0, TrialState.COMPLETE, a, values={"val_mse": 0.5}, metrics={"params": 500})
    assert hard.scalarize(rec) == 0.5  # under the target: no penalty
    rec.metrics["params"] = 4000
    assert hard.scalarize(rec) == pytest.approx(0.5 * 4.0)  # 4x over: multiplied by 4 ** 1
    soft = ReinforceSearch(SPACE, objectives=("val_mse",), target_params=1000, reward_mode="soft", reward_weight=0.07)
    rec.metrics["params"] = 500
    assert soft.scalarize(rec) == pytest.approx(0.5 * 0.5 ** 0.07)  # soft: smaller models earn a bonus
    # Several objectives, no target: secondary objectives traded softly (MnasNet's 0.07).
    multi = ReinforceSearch(SPACE, objectives=("val_mse", "params"))
    assert (multi.reward_mode, multi.reward_weight, multi.costs) == ("soft", 0.07, {"params": 1.0})
    rec2 = done(1, a, val_mse=0.5, params=100.0)
    assert multi.scalarize(rec2) == pytest.approx(0.5 * 100 ** 0.07)
    # A negative primary objective (e.g. minus accuracy) is penalised towards zero.
    neg = done(2, a, val_mse=-0.8)
    neg.metrics["params"] = 4000
    assert hard.scalarize(neg) == pytest.approx(-0.8 / 4.0)
    failed = TrialRecord(3, TrialState.FAILED, a, error="constraint")
    assert hard.scalarize(failed) == float("inf")


def test_a_target_the_results_do_not_have_is_reported_once():
    s = ReinforceSearch(SPACE, objectives=("value",), target_latency_ms=5.0)
    a = s.ask().arch
    with pytest.warns(UserWarning, match="latency_ms"):
        s.tell(done(0, a, value=1.0))


def test_the_most_accurate_model_under_n_parameters():
    # A bigger x0 is more accurate and bigger; the target allows x0 <= 2.
    def result(arch):
        size = 100 * (1 + arch["x0"])
        return (1 + arch["x0"]) ** -0.5 + 0.05 * sum(arch[k] for k in arch if k != "x0"), size

    def run(**options):
        s = ReinforceSearch(BIG, seed=1, objectives=("val_mse",), **options)
        x0 = []
        for n in range(150):
            arch = s.ask().arch
            err, size = result(arch)
            x0.append(arch["x0"])
            s.tell(TrialRecord(n, TrialState.COMPLETE, arch, values={"val_mse": err}, metrics={"params": size}))
        return np.array(x0[-60:])

    targeted = run(target_params=300)
    assert np.mean(targeted > 2) < 0.15  # within the target...
    assert np.mean(targeted == 2) > 0.5  # ...and the most accurate that fits
    free = run()
    assert np.mean(free > 2) > 0.5  # without the target, the bigger models win


def test_state_dict_restores_the_controller_exactly():
    s = ReinforceSearch(SPACE, seed=3, objectives=("value",), batch_size=3)
    records = []
    for n in range(10):
        arch = s.ask().arch
        records.append(done(n, arch, value=float(arch["x0"])))
        records[-1].told_before, records[-1].tell_seq = n, n + 1
        s.tell(records[-1])
    state = json.loads(json.dumps(s.state_dict()))
    fresh = ReinforceSearch(SPACE, seed=3, objectives=("value",), batch_size=3)
    before = [p.clone() for p in fresh.controller.parameters()]
    fresh.load_state_dict(state)
    for p, q in zip(fresh.controller.parameters(), s.controller.parameters(), strict=True):
        assert torch.equal(p, q)
    assert any(not torch.equal(p, q) for p, q in zip(before, s.controller.parameters(), strict=True))
    assert fresh.baseline == s.baseline and fresh.pending == s.pending and fresh.n_updates == s.n_updates
    # After replay (which rebuilds the reward ranking) and the stored state, the optimizer
    # continues where it was: the same results give the same weights.
    resumed = ReinforceSearch(SPACE, seed=3, objectives=("value",), batch_size=3)
    resumed.replay(records)
    resumed.load_state_dict(state)
    arch = SPACE.canonical({"x0": 1, "x1": 1, "x2": 1, "x3": 1})
    for strat in (s, resumed):
        for n in range(3):
            strat.tell(done(100 + n, arch, value=0.5))
    for p, q in zip(resumed.controller.parameters(), s.controller.parameters(), strict=True):
        assert torch.equal(p, q)
    fresh.load_state_dict({"something": "else"})  # a state it does not know is ignored


def test_the_runner_stores_the_controller_and_resume_continues_learning(tmp_path):
    db = str(tmp_path / "rl.db")

    def objective(arch):
        return float(sum(arch.values()))

    seqnas.search(SPACE, objective=objective, strategy="rl", trials=12, seed=4, study="rl", db=db, progress=False)
    storage = Storage(db, create=False)
    try:
        state = storage.get_state(storage.get_study("rl"), "strategy")
    finally:
        storage.close()
    assert state["n_updates"] == 12 and state["controller"]
    more = seqnas.search(SPACE, objective=objective, strategy="rl", trials=20, seed=4, study="rl", db=db, progress=False, load_if_exists=True)
    whole = seqnas.search(SPACE, objective=objective, strategy="rl", trials=20, seed=4, study="whole", db=db, progress=False)
    assert [r.arch for r in more.records] == [r.arch for r in whole.records]


def _sharp(off_policy: str) -> ReinforceSearch:
    """A controller planted to prefer x0 = 0 strongly (p about 0.95), uniform elsewhere."""
    s = ReinforceSearch(SPACE, seed=0, objectives=("value",), off_policy=off_policy, lr=0.2)
    with torch.no_grad():
        s.controller.heads[0].weight.zero_()
        s.controller.heads[0].bias.copy_(torch.tensor([2.4, -0.6, -0.6, -0.6, -0.6]))
    return s


def _p_x0(s: ReinforceSearch, k: int) -> float:
    with torch.no_grad():
        h, _ = s.controller.step(s.controller.start, None)
        return float(torch.softmax(s.controller.logits(0, h), -1)[k])


@pytest.mark.parametrize("off_policy", ["exclude", "importance"])
def test_off_policy_proposals_do_not_drag_the_policy_toward_them(off_policy):
    """The random fallback proposes x0 = 4, which the policy almost never draws, and it scores
    best. Treated as the policy's own sample (the old behaviour, still what a record without
    proposal info gets), REINFORCE's step on it is scaled by 1 / pi(arch) relative to the truth
    and drags the policy toward x0 = 4; the fix keeps it out (exclude) or weighs it by
    pi / q (importance)."""
    fallback = SPACE.validate({"x0": 4, "x1": 1, "x2": 2, "x3": 3})
    moved = {}
    for label in ("biased", "fixed"):
        s = _sharp(off_policy)
        for i in range(8):  # the policy's own samples first: a baseline, and Adam's moments as in a real run
            p = s.ask()
            s.tell(TrialRecord(number=i, state=TrialState.COMPLETE, arch=p.arch, values={"value": 5.0 + i % 3},
                               metrics={}, info=p.info))
        before = _p_x0(s, 4)
        info = {} if label == "biased" else {"temperature": None, "logq": s._uniform_logq(fallback)}
        s.tell(TrialRecord(number=8, state=TrialState.COMPLETE, arch=fallback, values={"value": 1.0}, metrics={}, info=info))
        moved[label] = _p_x0(s, 4) - before
    assert moved["biased"] > 0.01  # the planted trap is real
    if off_policy == "exclude":
        assert moved["fixed"] == 0.0  # no update at all
    else:
        assert moved["fixed"] < 0.25 * moved["biased"]


def test_proposals_record_what_drew_them_and_on_policy_samples_weigh_one():
    s = ReinforceSearch(SPACE, seed=1, objectives=("value",), off_policy="importance")
    p = s.ask()
    assert p.info["temperature"] == 1.0
    logp, _ = s._log_prob_entropy(p.arch)
    assert p.info["logq"] == pytest.approx(float(logp.detach()), abs=1e-5)  # same policy, same log-probability
    # A policy that repeats itself falls back to warmer samples, then to uniform ones, and says so.
    tiny = space_from_dict({"params": {"a": [0, 1], "b": [0, 1]}})
    s = ReinforceSearch(tiny, seed=0, objectives=("value",))
    with torch.no_grad():
        for head in s.controller.heads:
            head.weight.zero_()
            head.bias.copy_(torch.tensor([8.0, -8.0]))
    temps = [s.ask().info["temperature"] for _ in range(4)]
    assert temps[0] == 1.0 and any(t != 1.0 for t in temps[1:])
