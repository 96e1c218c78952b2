"""The Bayesian strategy: space -> Optuna distributions, samplers, failed trials, rebuild on resume."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

import seqnas
from seqnas.errors import ConfigError
from seqnas.space import space_from_dict
from seqnas.strategies import make_strategy
from seqnas.strategies.bayesian import INFO_KEY, BayesianSearch, distribution
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
    finish(s, 0, a, None)  # before anything finished: a plain failure
    finish(s, 1, b, 1.0)
    finish(s, 2, c, 3.0)
    finish(s, 3, d, None)
    trials = s.study.get_trials()
    assert trials[0].state == optuna.trial.TrialState.FAIL
    assert trials[3].state == optuna.trial.TrialState.COMPLETE and trials[3].values[0] > 3.0


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
