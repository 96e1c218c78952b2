"""The Bayesian strategy: space -> Optuna distributions, samplers, failed trials, rebuild on resume."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

import seqnas
from seqnas.errors import ConfigError
from seqnas.space import space_from_dict
from seqnas.strategies import make_strategy
from seqnas.strategies.bayesian import INFO_KEY, KERNEL_KEY, BayesianSearch, distribution
from seqnas.trial import TrialRecord, TrialState

SPACE = space_from_dict({"params": [
    {"name": "cell", "type": "categorical", "choices": ["lstm", "gru", 1, True]},
    {"name": "units", "type": "int", "low": 2, "high": 64, "log": True},
    {"name": "rate", "type": "float", "low": 1e-4, "high": 1e-1, "log": True, "condition": {"parent": "cell", "values": ["lstm"]}},
    {"name": "drop", "type": "float", "low": 0.0, "high": 0.5},
]})


def finish(s: BayesianSearch, number: int, arch, value: float | None, **values: float) -> TrialRecord:
    if value is None and not values:
        r = TrialRecord(number, TrialState.FAILED, arch, error="boom")
    else:
        r = TrialRecord(number, TrialState.COMPLETE, arch, values=values or {"value": value})
    r.tell_seq = s.n_told + 1
    s.tell(r)
    return r


def test_space_maps_onto_optuna_distributions():
    d = {p.name: distribution(p) for p in SPACE.params}
    assert d["cell"] == CategoricalDistribution([0, 1, 2, 3])  # by index: True == 1 in Python, not in seqnas
    assert d["units"] == IntDistribution(2, 64, log=True)
    assert d["rate"] == FloatDistribution(1e-4, 1e-1, log=True)
    assert d["drop"] == FloatDistribution(0.0, 0.5)


def test_bad_options_are_config_errors():
    for options, fragment in (({"sampler": "cmaes"}, "sampler"), ({"n_startup_trials": -1}, "n_startup_trials"),
                              ({"multivariate": "yes"}, "multivariate"), ({"max_resample": 0}, "max_resample")):
        with pytest.raises(ConfigError, match=fragment):
            make_strategy("bayesian", SPACE, options=options)


def test_categoricals_that_python_confuses_stay_apart():
    s = BayesianSearch(SPACE, seed=0, objectives=("value",), n_startup_trials=3)
    cells = set()
    for n in range(40):
        arch = s.ask().arch
        assert SPACE.validate(arch) == arch
        cells.add(repr(arch["cell"]))
        finish(s, n, arch, float(arch["units"]))
    assert cells == {"'lstm'", "'gru'", "1", "True"}


def test_tpe_concentrates_on_good_regions():
    # A smooth optimum at units ~ 32, drop ~ 0.1: after the random start TPE samples near it.
    def value(arch):
        return (math.log(arch["units"]) - math.log(32)) ** 2 + (arch["drop"] - 0.1) ** 2 * 10

    s = BayesianSearch(SPACE, seed=1, objectives=("value",))
    vals = []
    for n in range(50):
        arch = s.ask().arch
        vals.append(value(arch))
        finish(s, n, arch, vals[-1])
    assert sorted(vals[30:])[10] < sorted(vals[:10])[3]  # the median of late trials beats most random ones


def test_failed_trials_are_told_as_worse_than_the_worst():
    s = BayesianSearch(SPACE, seed=2, objectives=("value",))
    a, b, c, d = (s.ask().arch for _ in range(4))
    finish(s, 0, a, None)  # before anything finished: no penalty yet, left out (failed)
    assert s.study.get_trials()[0].state == optuna.trial.TrialState.FAIL
    finish(s, 1, b, 1.0)
    finish(s, 2, c, 3.0)
    finish(s, 3, d, None)
    trials = s.study.get_trials()
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 4  # the early failure counts too
    assert trials[0].values == trials[3].values and trials[3].values[0] == pytest.approx(3.2)  # worst + a tenth of the range


def test_several_objectives_use_the_multi_objective_sampler():
    s = BayesianSearch(SPACE, seed=3, objectives=("error", "size"), n_startup_trials=5)
    for n in range(15):
        arch = s.ask().arch
        finish(s, n, arch, None, error=arch["drop"], size=float(arch["units"]))
    assert len(s.study.directions) == 2
    done = [t for t in s.study.get_trials() if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 15 and all(len(t.values) == 2 for t in done)


def test_gp_sampler_option(tmp_path):
    def objective(arch):
        return (arch["drop"] - 0.2) ** 2 + abs(math.log(arch["units"] / 16))

    runs = [seqnas.search(SPACE, objective=objective, strategy="bayesian", strategy_options={"sampler": "gp", "n_startup_trials": 4},
                          trials=6, seed=4, progress=False) for _ in range(2)]
    assert [r.arch for r in runs[0].records] == [r.arch for r in runs[1].records]
    assert len({r.arch.key for r in runs[0].records}) == 6


def test_replay_rebuilds_the_optuna_study_from_stored_trials():
    s = BayesianSearch(SPACE, seed=5, objectives=("value",), n_startup_trials=4)
    records = []
    for n in range(12):
        told_before = s.n_told
        p = s.ask()
        records.append(TrialRecord(n, TrialState.RUNNING, p.arch, info=p.info, told_before=told_before))
        if n >= 1:  # one trial stays in flight: results arrive one ask late
            r = records[n - 1]
            r.state, r.values = (TrialState.FAILED, {}) if n == 5 else (TrialState.COMPLETE, {"value": float(r.arch["units"])})
            r.tell_seq = s.n_told + 1
            s.tell(r)
    assert any(INFO_KEY in r.info for r in records)  # TPE's notes travel with the stored trial
    rebuilt = BayesianSearch(SPACE, seed=5, objectives=("value",), n_startup_trials=4)
    running = rebuilt.replay(records)
    assert list(running) == [11]

    original = [t for t in s.study.get_trials() if t.number in s._number.values()]
    assert [(t.params, t.values, t.state, t.system_attrs) for t in original] == \
        [(t.params, t.values, t.state, t.system_attrs) for t in rebuilt.study.get_trials()]
    assert [s.ask().arch for _ in range(3)] == [rebuilt.ask().arch for _ in range(3)]


# -- failures: one rule whatever the order results arrive in -------------------------------------------
PLANTED = [  # the same five results, told in different orders
    ("S", 1.0), ("S", 3.0), ("F", "boom"), ("F", "constraint: 30000 parameters > --max-params 20000"), ("F", "non-finite objective value"),
]


def told(s: BayesianSearch, archs, order) -> None:
    for k in order:
        kind, what = PLANTED[k]
        if kind == "S":
            r = TrialRecord(k, TrialState.COMPLETE, archs[k], values={"value": what})
        else:
            metrics = {"constraint": True, "params": 30000} if what.startswith("constraint") else {}
            r = TrialRecord(k, TrialState.FAILED, archs[k], error=what, metrics=metrics)
        r.tell_seq = s.n_told + 1
        s.tell(r)


def seen_at_next_ask(s: BayesianSearch) -> tuple[list, dict]:
    """The finished trials the sampler reads when it proposes the next trial, and what it proposes."""
    seen = []
    make = s._make_sampler

    def spy(seed):
        sampler = make(seed)
        relative = sampler.sample_relative

        def sample_relative(study, trial, search_space):
            seen.append([(t.number, t.state.name, t.values) for t in study.get_trials(deepcopy=False) if t.state.is_finished()])
            return relative(study, trial, search_space)

        sampler.sample_relative = sample_relative
        return sampler

    s._make_sampler = spy
    arch = s.ask().arch
    return seen[0], dict(arch)


@pytest.mark.parametrize("sampler", ["tpe", "gp"])
def test_failures_count_the_same_whatever_the_order(sampler):
    orders = [(2, 3, 0, 1, 4), (0, 2, 1, 3, 4), (4, 3, 2, 1, 0), (0, 1, 2, 3, 4)]  # F F S S F, S F S F F, ...
    runs = []
    for order in orders:
        s = BayesianSearch(SPACE, seed=3, objectives=("value",), sampler=sampler, n_startup_trials=2)
        archs = [s.ask().arch for _ in PLANTED]
        told(s, archs, order)
        runs.append(seen_at_next_ask(s))
    seen, _ = runs[0]
    # Every failure (an error, a --max-params constraint, a non-finite value) shows one penalty,
    # worst success + a tenth of the range, wherever it came in the order.
    assert [state for _, state, _ in seen] == ["COMPLETE"] * 5
    assert seen[2][2] == seen[3][2] == seen[4][2] and seen[2][2][0] == pytest.approx(3.2)
    assert all(r == runs[0] for r in runs[1:]), "what the sampler sees, and so proposes, depends on the order of the results"


def test_failures_before_any_success_stay_out_until_one_comes():
    s = BayesianSearch(SPACE, seed=3, objectives=("value",), n_startup_trials=0)
    archs = [s.ask().arch for _ in PLANTED]
    told(s, archs, (2, 3))
    seen, _ = seen_at_next_ask(s)
    assert [state for _, state, _ in seen] == ["FAIL", "FAIL"]  # no success: no penalty, ignored
    told(s, archs, (0,))
    seen, _ = seen_at_next_ask(s)
    assert [(n, state, v) for n, state, v in seen] == [(0, "COMPLETE", [1.0]), (2, "COMPLETE", [1.0 + 1e-9]), (3, "COMPLETE", [1.0 + 1e-9])]
    told(s, archs, (1,))  # a new worst success moves every failure's penalty with it
    seen, _ = seen_at_next_ask(s)
    assert [v for _, _, v in seen] == [[1.0], [3.0], [3.2 + 3e-9], [3.2 + 3e-9]]


def test_penalty_follows_each_objective():
    s = BayesianSearch(SPACE, seed=3, objectives=("error", "size"), n_startup_trials=2)
    a, b, c = (s.ask().arch for _ in range(3))
    finish(s, 0, a, None)
    finish(s, 1, b, None, error=1.0, size=10.0)
    finish(s, 2, c, None, error=2.0, size=5.0)
    trials = s.study.get_trials()
    assert trials[0].state == optuna.trial.TrialState.COMPLETE
    assert trials[0].values == pytest.approx([2.1, 10.5])


# -- resume after failures: the next proposals are those of an uninterrupted run ------------------------------
def drive(s: BayesianSearch, records: list[TrialRecord], until: int, order: np.random.Generator) -> None:
    """Ask with two trials in flight; results (a third fail, the first three all fail) come in a seeded order."""
    while len(records) < until:
        while sum(r.state is TrialState.RUNNING for r in records) < 2 and len(records) < until:
            told_before = s.n_told
            p = s.ask()
            records.append(TrialRecord(len(records), TrialState.RUNNING, p.arch, info=json.loads(json.dumps(p.info)),
                                       told_before=told_before))
        running = [r for r in records if r.state is TrialState.RUNNING]
        r = running[int(order.integers(len(running)))]
        if r.number < 3 or r.arch["units"] % 3 == 0:
            r.state, r.error = TrialState.FAILED, "boom"
        else:
            r.state, r.values = TrialState.COMPLETE, {"value": abs(math.log(r.arch["units"] / 16)) + r.arch["drop"]}
        r.tell_seq = s.n_told + 1
        s.tell(copy.deepcopy(r))


@pytest.fixture
def quick_gp(monkeypatch):
    """GPSampler searching its acquisition function in fewer steps: the same code, faster tests."""
    make = BayesianSearch._make_sampler

    def quick(self, seed):
        sampler = make(self, seed)
        if isinstance(sampler, optuna.samplers.GPSampler):
            sampler._n_preliminary_samples, sampler._n_local_search, sampler._n_qmc_samples_qei = 256, 3, 32
        return sampler

    monkeypatch.setattr(BayesianSearch, "_make_sampler", quick)


@pytest.mark.parametrize("sampler", ["tpe", "gp"])
def test_resume_after_failures_continues_as_an_uninterrupted_run(sampler, quick_gp):
    options = dict(objectives=("value",), sampler=sampler, n_startup_trials=4)
    whole, records, order = BayesianSearch(SPACE, seed=6, **options), [], np.random.default_rng(0)
    cuts = (7, 13)  # after the first GP fit, and later
    stored = {}
    for cut in cuts:
        drive(whole, records, cut, order)
        stored[cut] = (copy.deepcopy(records), copy.deepcopy(order), whole.n_told)
    drive(whole, records, 18, order)
    if sampler == "gp":
        assert KERNEL_KEY in records[-1].info  # the GP's kernel travels with each proposal
    assert {TrialState.FAILED, TrialState.COMPLETE} <= {r.state for r in records}
    for cut in cuts:
        at_crash, rest_order, _ = stored[cut]
        rebuilt = BayesianSearch(SPACE, seed=6, **options)
        rebuilt.replay(copy.deepcopy(at_crash))
        assert rebuilt._kernel == (at_crash[-1].info.get(KERNEL_KEY) if sampler == "gp" else None)
        resumed = copy.deepcopy(at_crash)
        drive(rebuilt, resumed, 18, rest_order)
        assert [r.arch for r in resumed] == [r.arch for r in records], f"resumed at {cut} went another way"
        assert [r.info for r in resumed] == [r.info for r in records]


def test_the_failure_rule_on_replay_is_the_rule_of_the_run():
    """Told one by one or replayed at once, failures show the same penalty."""
    s = BayesianSearch(SPACE, seed=3, objectives=("value",), n_startup_trials=2)
    archs = [s.ask().arch for _ in PLANTED]
    records = []
    for n, k in enumerate((2, 0, 3, 1, 4)):
        kind, what = PLANTED[k]
        r = TrialRecord(k, TrialState.COMPLETE if kind == "S" else TrialState.FAILED, archs[k], told_before=0,
                        values={"value": what} if kind == "S" else {}, error=None if kind == "S" else what)
        r.tell_seq = n + 1
        s.tell(r)
        records.append(r)
    rebuilt = BayesianSearch(SPACE, seed=3, objectives=("value",), n_startup_trials=2)
    rebuilt.replay(records)
    assert seen_at_next_ask(rebuilt) == seen_at_next_ask(s)
