"""End-to-end smoke tests of the core: API search, continuing with load_if_exists=True, load."""

from __future__ import annotations

import seqnas
from seqnas.trial import TrialState
from tests.conftest import TINY_TRAIN


def test_objective_search_finds_the_optimum_of_a_small_grid(db):
    space = seqnas.space_from_dict({"params": {"a": [0, 1, 2, 3], "b": [0, 1, 2]}})
    result = seqnas.search(space, objective=lambda a: (a["a"] - 2) ** 2 + a["b"], strategy="grid", trials=100, seed=0,
                           study="g", db=db)
    assert len(result.records) == 12  # the grid is exhausted before the budget
    assert result.best_arch == {"a": 2, "b": 0}
    assert result.best_value == 0.0
    df = result.trials
    assert {"number", "state", "value", "arch", "arch_hash", "error"} <= set(df.columns)
    assert df["arch_hash"].is_unique


def test_task_search_stores_every_metric_and_reloads(db, tiny_macro):
    r = seqnas.search(tiny_macro, task="sunspots", strategy="random", trials=3, seed=1, train=TINY_TRAIN, study="s", db=db)
    assert [t.state for t in r.records] == [TrialState.COMPLETE] * 3
    for m in ("val_mse", "test_mse", "params", "latency_ms", "train_seconds", "epochs", "cpu_seconds"):
        assert m in r.trials.columns
    again = seqnas.load("s", db)
    assert again.best_value == r.best_value
    assert again.trials["arch_hash"].tolist() == r.trials["arch_hash"].tolist()
    # Calling search again with load_if_exists=True and a larger budget continues the study instead of starting over.
    more = seqnas.search(tiny_macro, task="sunspots", strategy="random", trials=5, seed=1, train=TINY_TRAIN, study="s", db=db,
                         load_if_exists=True)
    assert len(more.records) == 5
    assert more.trials["arch_hash"].tolist()[:3] == r.trials["arch_hash"].tolist()
