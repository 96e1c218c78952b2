"""What an Optuna / Keras Tuner user expects of the API and the CLI: load_if_exists, one default study
name, a strategy instance, directions (maximize), best_trials / best_trial on multi-objective studies,
and flags with one meaning each (--parallel-runs, --option [STRATEGY.]KEY=VALUE)."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

import seqnas
from seqnas.api import default_study_name
from seqnas.cli import main
from seqnas.errors import ConfigError, StudyError
from seqnas.storage import Storage
from seqnas.strategies import STRATEGIES
from seqnas.strategies.evolution import RegularizedEvolution
from seqnas.strategies.random_search import RandomSearch
from seqnas.trial import TrialState
from tests.cli_helpers import FAST_TRAIN, TINY_SPACE_YAML, rows, run, task_args, write_series_csv

GRID = seqnas.space_from_dict({"params": {"a": list(range(10)), "b": list(range(10))}})


def accuracy(arch) -> float:
    """A planted 'accuracy' in (0, 1]: highest (1.0) at a=7, b=3, lowest (0.47) at a=0, b=9."""
    return 1.0 - ((arch["a"] - 7) ** 2 + (arch["b"] - 3) ** 2) / 160.0


def two_objectives(arch) -> dict[str, float]:
    """Accuracy to maximise, size to minimise: a larger a is both more accurate and larger."""
    return {"acc": float(arch["a"]) - 0.1 * arch["b"], "size": float(arch["a"] + arch["b"])}


def _settings_json(db: str, study: str) -> dict:
    with sqlite3.connect(db) as c:
        return json.loads(c.execute("SELECT settings FROM studies WHERE name=?", (study,)).fetchone()[0])


def _study_names(db: str | Path) -> list[str]:
    with sqlite3.connect(db) as c:
        return [r[0] for r in c.execute("SELECT name FROM studies ORDER BY id")]


def _one_line(msg: str) -> str:
    assert "\n" not in msg
    return msg


def _interrupting(fn, at: int):
    """``fn``, but Ctrl-C (KeyboardInterrupt) inside its ``at``-th call."""
    calls = []

    def wrapped(arch):
        calls.append(arch.key)
        if len(calls) == at:
            raise KeyboardInterrupt
        return fn(arch)

    return wrapped


# -- load_if_exists ------------------------------------------------------------------------------------------------
def test_a_second_search_of_an_existing_study_is_refused_and_names_both_ways_to_continue(db):
    first = seqnas.search(GRID, objective=accuracy, strategy="random", trials=3, seed=0, study="s", db=db, progress=False)
    before = rows(db)
    with pytest.raises(StudyError) as e:
        seqnas.search(GRID, objective=accuracy, strategy="random", trials=5, seed=0, study="s", db=db, progress=False)
    msg = _one_line(str(e.value))
    assert msg.startswith(f"study 's' already exists in {db!r}")
    assert "load_if_exists=True" in msg and f"`seqnas resume --study s --db {db}`" in msg
    assert rows(db) == before  # nothing written

    # load_if_exists=True continues it (to the new budget), as re-calling search did before.
    more = seqnas.search(GRID, objective=accuracy, strategy="random", trials=5, seed=0, study="s", db=db, load_if_exists=True,
                         progress=False)
    assert len(more.records) == 5
    assert more.trials["arch_hash"].tolist()[:3] == first.trials["arch_hash"].tolist()
    # ... and its settings must still match.
    with pytest.raises(StudyError, match="with a different settings"):
        seqnas.search(GRID, objective=accuracy, strategy="random", trials=5, seed=1, study="s", db=db, load_if_exists=True,
                      progress=False)
    # load_if_exists=True on a new name creates the study.
    fresh = seqnas.search(GRID, objective=accuracy, strategy="random", trials=2, seed=0, study="t", db=db, load_if_exists=True,
                          progress=False)
    assert len(fresh.records) == 2


def test_the_default_study_name_is_the_same_in_the_api_and_the_cli(tmp_path):
    csv = write_series_csv(tmp_path / "data.csv")
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_SPACE_YAML)
    cli_db, api_db = tmp_path / "cli.db", tmp_path / "api.db"
    search = ["search", *task_args(csv), "--space", str(space), "--strategy", "random", "--trials", "1", "--seed", "2",
              *FAST_TRAIN, "--final-repeats", "0", "--workers", "1", "--no-progress", "--db", str(cli_db)]
    p = run(search)
    assert p.returncode == 0, p.stderr
    seqnas.search(str(space), csv=str(csv), target="load", features=["temp"], time_column="date", window=8, horizon=2,
                  strategy="random", trials=1, seed=2, train={"max_epochs": 2, "patience": 1, "batch_size": 64},
                  final_repeats=0, db=str(api_db), progress=False)
    assert _study_names(cli_db) == _study_names(api_db) == [default_study_name("random", 2)] == ["random-seed2"]
    assert "study random-seed2" in p.stdout

    # The same command again: exit 2, one line naming --load-if-exists and `seqnas resume`; nothing written.
    before = rows(cli_db)
    again = run(search)
    assert again.returncode == 2 and "Traceback" not in again.stderr
    line = _one_line(again.stderr.strip())
    assert line.startswith("seqnas: error: study 'random-seed2' already exists")
    assert "--load-if-exists" in line and f"`seqnas resume --study random-seed2 --db {cli_db}`" in line
    assert rows(cli_db) == before

    # With --load-if-exists it continues the study to the new budget.
    more = run([*search[:search.index("--trials") + 1], "2", *search[search.index("--trials") + 2:], "--load-if-exists"])
    assert more.returncode == 0, more.stderr
    r = seqnas.load("random-seed2", str(cli_db))
    assert len(r.records) == 2 and r.records[0].arch.key == before[0][6]


# -- a strategy instance -------------------------------------------------------------------------------------------
def test_a_strategy_instance_is_searched_stored_by_name_and_options_and_resumed(db):
    inst = RegularizedEvolution(GRID, seed=3, objectives=("value",), population_size=4, sample_size=2)
    r = seqnas.search(GRID, objective=accuracy, strategy=inst, trials=10, study="i", db=db, progress=False)
    assert r.strategy == "evolution" and r.settings.seed == 3  # the instance's seed is the study's
    storage = Storage(db, create=False)
    try:
        row = storage.get_study("i")
        assert row.strategy == "evolution" and row.strategy_options == {"population_size": 4, "sample_size": 2}
    finally:
        storage.close()
    # The same search by name and options gives the same study.
    by_name = seqnas.search(GRID, objective=accuracy, strategy="evolution", strategy_options={"population_size": 4, "sample_size": 2},
                            seed=3, trials=10, progress=False)
    assert by_name.trials["arch_hash"].tolist() == r.trials["arch_hash"].tolist()

    # Interrupted, then resumed without the instance: rebuilt from its name and options, the same study as a whole run.
    with pytest.raises(KeyboardInterrupt):
        seqnas.search(GRID, objective=_interrupting(accuracy, 6), strategy=RegularizedEvolution(
            GRID, seed=3, objectives=("value",), population_size=4, sample_size=2), trials=10, study="cut", db=db, progress=False)
    done = seqnas.resume("cut", db, objective=accuracy, progress=False)
    assert done.trials["arch_hash"].tolist() == r.trials["arch_hash"].tolist()


class Mine(RandomSearch):
    """A user's strategy, not registered: a study searched with it is resumed with strategy= a new instance."""

    name = "mine"


def test_a_strategy_that_cannot_be_rebuilt_needs_the_instance_to_resume(db):
    assert "mine" not in STRATEGIES
    whole = seqnas.search(GRID, objective=accuracy, strategy=Mine(GRID, objectives=("value",)), trials=8, progress=False)
    with pytest.raises(KeyboardInterrupt):
        seqnas.search(GRID, objective=_interrupting(accuracy, 4), strategy=Mine(GRID, objectives=("value",)), trials=8,
                      study="m", db=db, progress=False)
    with pytest.raises(StudyError) as e:
        seqnas.resume("m", db, objective=accuracy, progress=False)
    msg = _one_line(str(e.value))
    assert "cannot be rebuilt" in msg and "is not the registered strategy 'mine'" in msg and "strategy=" in msg
    with pytest.raises(ConfigError, match="is a 'random' strategy, but study 'm' was searched with 'mine'"):
        seqnas.resume("m", db, objective=accuracy, strategy=RandomSearch(GRID, objectives=("value",)), progress=False)
    done = seqnas.resume("m", db, objective=accuracy, strategy=Mine(GRID, objectives=("value",)), progress=False)
    assert done.strategy == "mine" and done.trials["arch_hash"].tolist() == whole.trials["arch_hash"].tolist()
    assert [t.state for t in done.records] == [TrialState.COMPLETE] * 8


@pytest.mark.parametrize("make, kwargs, message", [
    (lambda: RandomSearch(seqnas.space_from_dict({"params": {"a": [1, 2]}}), objectives=("value",)), {}, "constructed on space"),
    (lambda: RandomSearch(GRID, seed=1, objectives=("value",)), {"seed": 2}, "constructed with seed=1, but seed=2 was given"),
    (lambda: RandomSearch(GRID), {}, "objectives=['val_mse'], but the study's objectives are ['value']"),
    (lambda: RandomSearch(GRID, objectives=("value",)), {"strategy_options": {"prior": "decision"}}, "not strategy_options="),
    (lambda: _used(RandomSearch(GRID, objectives=("value",))), {}, "has been used already"),
])
def test_a_strategy_instance_that_does_not_fit_the_search_is_refused_in_one_line(make, kwargs, message, db):
    with pytest.raises(ConfigError) as e:
        seqnas.search(GRID, objective=accuracy, strategy=make(), trials=2, db=db, progress=False, **kwargs)
    assert message in _one_line(str(e.value))
    assert not Path(db).exists()


def _used(strategy):
    strategy.ask()
    return strategy


# -- directions ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["local", "evolution"])
def test_maximize_finds_the_highest_accuracy_and_stores_the_values_as_returned(strategy, db):
    r = seqnas.search(GRID, objective=accuracy, objectives=["acc"], directions=["maximize"], strategy=strategy, trials=60,
                      seed=0, study="max", db=db, progress=False)
    assert r.directions == ("maximize",)
    assert r.best_arch == {"a": 7, "b": 3} and r.best_value == pytest.approx(1.0)
    for t in r.completed:  # stored raw: positive accuracies, exactly what the function returned
        assert t.values["acc"] == accuracy(t.arch) and t.value == accuracy(t.arch)
    assert _settings_json(db, "max")["directions"] == ["maximize"]
    # The same search minimising finds the other end: the direction reached the strategy.
    low = seqnas.search(GRID, objective=accuracy, objectives=["acc"], strategy=strategy, trials=60, seed=0, progress=False)
    assert low.best_value < 0.6 and low.best_value == min(t.value for t in low.completed)
    # A maximising strategy samples better than a minimising one on the same budget.
    assert np.mean([t.value for t in r.completed]) > np.mean([t.value for t in low.completed])


def test_a_maximising_study_resumes_to_the_uninterrupted_study(db):
    whole = seqnas.search(GRID, objective=accuracy, directions="maximize", strategy="local", trials=30, seed=1, progress=False)
    with pytest.raises(KeyboardInterrupt):
        seqnas.search(GRID, objective=_interrupting(accuracy, 12), directions="maximize", strategy="local", trials=30, seed=1,
                      study="cut", db=db, progress=False)
    done = seqnas.resume("cut", db, objective=accuracy, progress=False)
    assert done.trials["arch_hash"].tolist() == whole.trials["arch_hash"].tolist()
    assert done.best_trial.number == whole.best_trial.number


def test_old_studies_and_minimised_ones_store_no_directions(db):
    r = seqnas.search(GRID, objective=accuracy, strategy="random", trials=2, study="min", db=db, progress=False)
    assert r.directions == ("minimize",) and "directions" not in _settings_json(db, "min")


@pytest.mark.parametrize("kwargs, message", [
    ({"task": "sunspots", "directions": ["maximize"]}, "objective 'val_mse' is built in and built-in objectives are minimised"),
    ({"task": "sunspots", "objectives": "val_mse,params", "directions": "minimize,maximize"}, "objective 'params' is built in"),
    ({"objective": accuracy, "directions": ["maximize", "minimize"]}, "directions has 2 entries for 1 objective(s)"),
    ({"objective": accuracy, "directions": ["up"]}, "directions must be 'minimize' or 'maximize' per objective, got 'up'"),
])
def test_bad_directions_are_refused_in_one_line_before_the_database(kwargs, message, db, tiny_macro):
    with pytest.raises(ConfigError) as e:
        seqnas.search(tiny_macro, trials=1, db=db, progress=False, **kwargs)
    assert message in _one_line(str(e.value))
    assert not Path(db).exists()


# -- several objectives: best_trials; best_trial raises ------------------------------------------------------------
def test_best_trials_is_the_pareto_front_in_each_direction_and_best_trial_raises(db):
    r = seqnas.search(GRID, objective=two_objectives, objectives=["acc", "size"], directions=["maximize", "minimize"],
                      strategy="grid", trials=100, study="mo", db=db, progress=False)
    done = r.completed
    assert len(done) == 100

    def dominated(t) -> bool:
        a, s = t.values["acc"], t.values["size"]
        return any(u.values["acc"] >= a and u.values["size"] <= s and (u.values["acc"] > a or u.values["size"] < s)
                   for u in done)

    front = r.best_trials
    assert {t.number for t in front} == {t.number for t in done if not dominated(t)}
    # b = 0 for every a: each more accurate and larger than the one before.
    assert sorted((t.arch["a"], t.arch["b"]) for t in front) == [(a, 0) for a in range(10)]
    assert [t.values["acc"] for t in front] == sorted((t.values["acc"] for t in front), reverse=True)  # best acc first
    assert sorted(r.pareto["number"]) == sorted(t.number for t in front)

    for what in ("best_trial", "best_arch", "best_value"):
        with pytest.raises(StudyError) as e:
            getattr(r, what)
        assert _one_line(str(e.value)).startswith(f"{what} is for single-objective studies; use best_trials")
    assert r.ranked()[0].values["acc"] == max(t.values["acc"] for t in done)  # the explicit pick by the first objective
    assert r.ranked("size")[0].values["size"] == 0.0
    assert "pareto_optimal=10" in repr(r)

    # What uses a study's best internally keeps working on it: show, export, load.
    con = Console(file=io.StringIO(), width=200)
    from seqnas.show import render_study

    render_study(seqnas.load("mo", db), console=con)
    text = con.file.getvalue()  # type: ignore[attr-defined]
    assert "acc (maximize),size" in text and "Pareto front (10 trials)" in text and "best by acc trial #" in text
    assert main(["export", "--study", "mo", "--db", db, "--out", str(Path(db).parent / "mo")]) == 0
    assert json.loads((Path(db).parent / "mo" / "arch.json").read_text())["arch"] == {"a": 9, "b": 0}


def test_single_objective_best_trials_is_the_best_trial(db):
    r = seqnas.search(GRID, objective=accuracy, directions=["maximize"], strategy="grid", trials=100, progress=False)
    assert r.best_trials == [r.best_trial] and r.best_arch == {"a": 7, "b": 3}


# -- flags with one meaning each ------------------------------------------------------------------------------------
def test_search_option_takes_an_optional_strategy_prefix(tmp_path, capsys):
    db = str(tmp_path / "runs.db")
    csv = write_series_csv(tmp_path / "data.csv")
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_SPACE_YAML)
    common = ["search", *task_args(csv), "--space", str(space), "--trials", "1", *FAST_TRAIN, "--final-repeats", "0",
              "--workers", "1", "--no-progress", "--db", db]
    assert main([*common, "--strategy", "random", "--option", "random.prior=architecture", "--study", "a"]) == 0
    assert main([*common, "--strategy", "random", "--option", "prior=architecture", "--study", "b"]) == 0
    storage = Storage(db, create=False)
    try:
        assert storage.get_study("a").strategy_options == storage.get_study("b").strategy_options == {"prior": "architecture"}
    finally:
        storage.close()
    capsys.readouterr()
    assert main([*common, "--strategy", "random", "--option", "evolution.population_size=4", "--study", "c"]) == 2
    err = capsys.readouterr().err.strip()
    assert _one_line(err) == ("seqnas: error: --option 'evolution.population_size=4' is for strategy 'evolution', but this "
                              "search runs 'random': write population_size=VALUE (or random.population_size=VALUE)")


def test_compare_workers_is_a_deprecated_alias_of_parallel_runs(tmp_path):
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_SPACE_YAML)
    p = run(["compare", "--task", "sunspots", "--space", str(space), "--strategies", "random", "--seeds", "1", "--trials", "1",
             "--max-epochs", "1", "--patience", "1", "--batch-size", "64", "--final-repeats", "0", "--workers", "1",
             "--no-progress", "--out", str(tmp_path / "race")])
    assert p.returncode == 0, p.stderr
    warning = ("seqnas: warning: --workers is deprecated in compare: use --parallel-runs; it will be removed in the next "
               "release")
    assert p.stderr.count(warning) == 1 and p.stderr.count("deprecated") == 1
    assert "race/random/seed0" in _study_names(tmp_path / "race" / "race.db")
    help_text = run(["compare", "--help"]).stdout
    assert "--parallel-runs N" in help_text and "deprecated alias of --parallel-runs" in help_text
