"""Crash safety: `seqnas search` killed with SIGKILL at 10 seeded moments, resumed each time, loses nothing."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

import seqnas
from tests.cli_helpers import FAST_TRAIN, TINY_SPACE_YAML, rows, task_args, write_series_csv
from tests.crash_harness import crash_and_resume

BUDGET = 45  # room for 12 kills: a kill after 1-3 more trials lets a few more finish during its random delay
# Trials of 8 epochs: since validation passes run on one thread, 2-epoch trials of the tiny space took a few ms each, and
# one kill's random delay let ~20 finish, so the budget was spent before 10 kills had landed.
CRASH_TRAIN = ["--max-epochs", "8", "--patience", "8", "--batch-size", "64"]
KILLS = 12


def _study_exists(db, name: str) -> bool:
    if not db.exists():
        return False
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
            return c.execute("SELECT 1 FROM studies WHERE name=?", (name,)).fetchone() is not None
    except sqlite3.OperationalError:
        return False


@pytest.mark.slow
def test_search_survives_sigkill_at_seeded_moments_and_resumes_to_the_same_study(tmp_path):
    csv = write_series_csv(tmp_path / "data.csv")
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_SPACE_YAML)
    db = tmp_path / "crash.db"
    search = ["search", *task_args(csv), "--space", str(space), "--strategy", "random", "--trials", str(BUDGET), "--seed", "3",
              *CRASH_TRAIN, "--workers", "1", "--no-progress", "--study", "crash", "--db", str(db)]
    resume = ["resume", "--study", "crash", "--db", str(db), "--workers", "1", "--no-progress"]

    def again(rng: np.random.Generator) -> list[str]:
        # After a kill a user runs `resume`, or the same `search` again with --load-if-exists: both must continue the study.
        if not _study_exists(db, "crash"):
            return search
        return resume if rng.random() < 0.7 else [*search, "--load-if-exists"]

    report = crash_and_resume(db, search, again, budget=BUDGET, kills=KILLS, seed=20261127)
    # At least 10 kills landed while the process was still running (a last one may find the study already done).
    assert report.survived >= 10, report.to_json()
    assert {k.moment for k in report.kills} >= {"lease", "progress"}
    assert any(k.running_at_kill for k in report.kills)  # at least one kill interrupted a trial
    assert report.finished == BUDGET and report.distinct_archs == BUDGET

    # Resuming a finished study runs nothing more.
    before = rows(db)
    seqnas.resume("crash", str(db))
    assert rows(db) == before

    # The crashed-and-resumed study is the study an uninterrupted run gives: same trials, same numbers.
    stored = seqnas.load("crash", str(db))
    whole = seqnas.search(str(space), csv=str(csv), target="load", features=["temp"], time_column="date", window=8, horizon=2,
                          strategy="random", trials=BUDGET, seed=3,
                          train={"max_epochs": 8, "patience": 8, "batch_size": 64}, study="whole", db=str(tmp_path / "whole.db"))
    assert stored.trials["arch_hash"].tolist() == whole.trials["arch_hash"].tolist()
    assert stored.trials["value"].tolist() == pytest.approx(whole.trials["value"].tolist(), rel=1e-9)



@pytest.mark.slow
def test_a_kill_during_the_darts_supernet_phase_loses_nothing(tmp_path):
    """`--strategy darts` runs its supernet search as one trial; kill it mid-supernet twice (the second time while the
    re-run supernet trains), then resume: the supernet runs to the end once, then the derived architectures."""
    from seqnas.strategies import STRATEGIES

    if "darts" not in STRATEGIES:
        pytest.skip("the darts strategy is not registered (seqnas/strategies/darts/ has not landed)")
    csv = write_series_csv(tmp_path / "data.csv")
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_SPACE_YAML)
    db = tmp_path / "darts.db"
    search = ["search", *task_args(csv), "--space", str(space), "--strategy", "darts", "--option", "epochs=20", "--trials", "3",
              "--seed", "0", *FAST_TRAIN, "--workers", "1", "--no-progress", "--study", "d", "--db", str(db)]
    resume = ["resume", "--study", "d", "--db", str(db), "--workers", "1", "--no-progress"]
    report = crash_and_resume(db, search, lambda rng: resume if _study_exists(db, "d") else search, budget=3, kills=2, seed=5,
                              moments=("running:supernet",))
    assert report.survived == 2, report.to_json()
    assert all("supernet" in k.running_kinds for k in report.kills), report.to_json()
    trials = rows(db)
    supernet = [r for r in trials if r[3] == "supernet"]
    assert len(supernet) == 1 and supernet[0][4] == "COMPLETE" and supernet[0][16] == 3  # two attempts killed, the third ran
    assert [r[3] for r in trials].count("arch") == 3 and all(r[4] != "RUNNING" for r in trials)
