"""SQLite storage: every field round-trips, schema and file errors are clear, the lease refuses a second runner."""

from __future__ import annotations

import math
import os
import socket
import sqlite3
import subprocess
import sys

import pytest

from seqnas.errors import StudyError
from seqnas.space import Arch
from seqnas.storage import Storage
from seqnas.storage.sqlite import SCHEMA_VERSION
from seqnas.trial import Proposal, Result, TrialState


def _job(evaluator, seed):  # a one-shot job: stored with no architecture
    return Result(TrialState.COMPLETE, {"v": 1.0})


@pytest.fixture
def storage(db):
    s = Storage(db)
    yield s
    s.close()


def _study(storage, name="s"):
    return storage.create_study(name, {"params": [{"name": "a", "type": "categorical", "choices": [1, 2]}]}, "random",
                                {"opt": [1, 2]}, {"seed": 3, "nested": {"x": 1.5}})


def test_study_round_trip(storage):
    row = _study(storage)
    again = storage.get_study("s")
    assert again == row
    assert row.space["params"][0]["choices"] == [1, 2] and row.strategy == "random"
    assert row.strategy_options == {"opt": [1, 2]} and row.settings == {"seed": 3, "nested": {"x": 1.5}}
    assert storage.study_names() == ["s"]
    with pytest.raises(StudyError, match="already exists"):
        _study(storage)


def test_every_trial_field_round_trips(storage):
    study = _study(storage)
    arch = Arch({"a": 2, "name": "x", "f": 0.1})
    n0 = storage.add_trial(study, Proposal(arch=arch, info={"gen": 3, "parent": "abc"}), told_before=0)
    n1 = storage.add_trial(study, Proposal(job=_job, kind="supernet", info={"epochs": 5}), told_before=0)
    n2 = storage.add_trial(study, Proposal(arch=Arch({"a": 1})), told_before=1)
    assert (n0, n1, n2) == (0, 1, 2)
    metrics = {"val_mse": 0.25, "params": 123, "nested": {"k": [1, 2]}, "nan": math.nan, "flag": True, "txt": "é"}
    seq1 = storage.finish_trial(study, n1, Result(TrialState.COMPLETE, {"v": 1.0}, {"cpu_seconds": 1.5}, 2.0))
    seq0 = storage.finish_trial(study, n0, Result(TrialState.COMPLETE, {"val_mse": 0.25, "params": 123.0}, metrics, 3.5),
                                state={"pop": [1, 2, 3]})
    storage.restart_trial(study, n2)
    storage.restart_trial(study, n0)  # not RUNNING any more: no effect
    recs = storage.trials(study)
    assert [r.number for r in recs] == [0, 1, 2] and (seq1, seq0) == (0, 1)
    r0, r1, r2 = recs
    assert r0.state is TrialState.COMPLETE and r0.arch == arch and r0.arch.key == arch.key and r0.kind == "arch"
    # Objective values keep their order: the first is the primary objective.
    assert list(r0.values.items()) == [("val_mse", 0.25), ("params", 123.0)] and r0.value == 0.25
    assert {k: v for k, v in r0.metrics.items() if k != "nan"} == {k: v for k, v in metrics.items() if k != "nan"}
    assert math.isnan(r0.metrics["nan"])
    assert r0.error is None and r0.info == {"gen": 3, "parent": "abc"} and r0.duration == 3.5
    assert r0.told_before == 0 and r0.tell_seq == 1 and r0.started_at <= r0.finished_at
    assert r1.arch is None and r1.kind == "supernet" and r1.info == {"epochs": 5} and r1.tell_seq == 0
    assert r2.state is TrialState.RUNNING and r2.tell_seq is None and r2.finished_at is None and r2.told_before == 1
    assert storage.attempts(study) == {0: 1, 1: 1, 2: 2}
    assert storage.get_state(study, "strategy") == {"pop": [1, 2, 3]}
    storage.set_state(study, "elapsed", 12.5)
    assert storage.get_state(study, "elapsed") == 12.5 and storage.get_state(study, "missing") is None
    # A failed trial keeps its reason and metrics.
    storage.finish_trial(study, n2, Result.failed("diverged: loss became nan", 0.5, params=7))
    r2 = storage.trials(study)[2]
    assert r2.state is TrialState.FAILED and r2.error == "diverged: loss became nan" and r2.metrics == {"params": 7}
    assert r2.values == {} and r2.value is None


def test_a_finished_trial_cannot_be_finished_again(storage):
    study = _study(storage)
    n = storage.add_trial(study, Proposal(arch=Arch({"a": 1})), 0)
    storage.finish_trial(study, n, Result(TrialState.COMPLETE, {"v": 1.0}))
    with pytest.raises(StudyError, match="not running"):
        storage.finish_trial(study, n, Result(TrialState.COMPLETE, {"v": 2.0}))
    assert storage.trials(study)[0].values == {"v": 1.0}


def test_a_failed_transaction_leaves_nothing(storage):
    _study(storage)
    with pytest.raises(RuntimeError), storage.transaction() as c:
        c.execute("UPDATE studies SET strategy='x'")
        raise RuntimeError("boom")
    assert storage.get_study("s").strategy == "random"


def test_reopening_a_database_keeps_everything(db):
    s = Storage(db)
    study = _study(s)
    s.add_trial(study, Proposal(arch=Arch({"a": 1})), 0)
    s.close()
    again = Storage(db, create=False)
    assert [r.arch for r in again.trials(again.get_study("s"))] == [{"a": 1}]
    assert again.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert again.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    again.close()


def test_file_and_schema_errors(tmp_path):
    with pytest.raises(StudyError, match="does not exist; check the --db path"):
        Storage(tmp_path / "nope.db", create=False)
    assert not (tmp_path / "nope.db").exists()
    with pytest.raises(StudyError, match="is a directory"):
        Storage(tmp_path)
    with pytest.raises(StudyError, match="for --db does not exist"):
        Storage(tmp_path / "missing" / "x.db")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(StudyError, match="is a file, not a directory"):
        Storage(tmp_path / "afile" / "x.db")
    with pytest.raises(StudyError, match="writable"):
        Storage("/proc/x.db")  # a directory nobody can create files in, not even root
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all\n" * 100)
    before = text.read_bytes()
    with pytest.raises(StudyError, match="not a seqnas database"):
        Storage(text)
    assert text.read_bytes() == before
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE t (x)")
    with pytest.raises(StudyError, match="another program"):
        Storage(other)
    newer = tmp_path / "newer.db"
    Storage(newer).close()
    with sqlite3.connect(newer) as c:
        c.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(StudyError, match="newer seqnas"):
        Storage(newer)


def test_unknown_study_lists_the_known_ones(storage):
    with pytest.raises(StudyError, match="this database has no studies"):
        storage.get_study("x")
    _study(storage, "alpha")
    with pytest.raises(StudyError, match="no study 'x' .*studies here: alpha"):
        storage.get_study("x")


# -- the lease ---------------------------------------------------------------------------------------
def _set_owner(storage, study, owner, heartbeat):
    with storage.transaction() as c:
        c.execute("UPDATE studies SET owner=?, heartbeat=? WHERE id=?", (owner, heartbeat, study.id))


def test_a_live_owner_is_refused_a_dead_one_is_taken_over(storage):
    study = _study(storage)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _set_owner(storage, study, f"{socket.gethostname()}:{live.pid}", 0.0)
        with pytest.raises(StudyError, match=f"being run by process .*:{live.pid}; wait for it"):
            storage.acquire(study)
    finally:
        live.kill()
        live.wait()
    # The same process, now dead (as after a crash): its lease is stale and taken over.
    storage.acquire(study)
    owner = storage.conn.execute("SELECT owner FROM studies").fetchone()[0]
    assert owner == f"{socket.gethostname()}:{os.getpid()}"
    storage.acquire(study)  # re-entrant for the owner
    storage.release(study)
    assert storage.conn.execute("SELECT owner FROM studies").fetchone()[0] is None


def test_a_lease_from_another_host_expires_with_its_heartbeat(storage):
    import time

    study = _study(storage)
    _set_owner(storage, study, "elsewhere.example:123", time.time())
    with pytest.raises(StudyError, match="being run by process elsewhere.example:123"):
        storage.acquire(study)
    _set_owner(storage, study, "elsewhere.example:123", time.time() - 3600)
    storage.acquire(study)


def test_release_does_not_drop_another_owners_lease(storage):
    study = _study(storage)
    _set_owner(storage, study, "elsewhere.example:1", 1.0)
    storage.release(study)
    assert storage.conn.execute("SELECT owner FROM studies").fetchone()[0] == "elsewhere.example:1"
