"""SQLite storage (stdlib sqlite3, WAL): studies, trials and strategy state; the one source of truth."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqnas.errors import StudyError
from seqnas.space.base import Arch
from seqnas.trial import Proposal, Result, TrialRecord, TrialState

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS studies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    space TEXT NOT NULL,
    strategy TEXT NOT NULL,
    strategy_options TEXT NOT NULL,
    settings TEXT NOT NULL,
    owner TEXT,
    heartbeat REAL
);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    number INTEGER NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('RUNNING', 'COMPLETE', 'FAILED')),
    arch TEXT,
    arch_hash TEXT,
    info TEXT NOT NULL DEFAULT '{}',
    value_json TEXT NOT NULL DEFAULT '{}',
    metrics TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    started_at REAL,
    finished_at REAL,
    duration REAL NOT NULL DEFAULT 0,
    told_before INTEGER NOT NULL DEFAULT 0,
    tell_seq INTEGER,
    attempts INTEGER NOT NULL DEFAULT 1,
    curve TEXT NOT NULL DEFAULT '[]',
    UNIQUE (study_id, number)
);
CREATE INDEX IF NOT EXISTS trials_by_arch ON trials (study_id, arch_hash);
CREATE TABLE IF NOT EXISTS study_state (
    study_id INTEGER NOT NULL REFERENCES studies(id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (study_id, key)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    study_id INTEGER NOT NULL REFERENCES studies(id),
    number INTEGER NOT NULL,
    path TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (study_id, number)
);
"""

# Each step takes a database from schema version k to k + 1 (key: k); run in one transaction.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (  # v2: learning curves (validation MSE per epoch) and multi-fidelity checkpoints
        "ALTER TABLE trials ADD COLUMN curve TEXT NOT NULL DEFAULT '[]'",
        "CREATE TABLE checkpoints (study_id INTEGER NOT NULL REFERENCES studies(id), number INTEGER NOT NULL, "
        "path TEXT NOT NULL, bytes INTEGER NOT NULL, PRIMARY KEY (study_id, number))",
    ),
}


@dataclass
class StudyRow:
    id: int
    name: str
    created_at: float
    space: dict[str, Any]
    strategy: str
    strategy_options: dict[str, Any]
    settings: dict[str, Any]


def _json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, allow_nan=True)


def _ordered_json(obj: Any) -> str:
    # Objective values keep their order: the first one is the primary objective (TrialRecord.value).
    return json.dumps(obj, allow_nan=True)


class Storage:
    """One SQLite file. Every write is one short transaction; readers never block writers (WAL)."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        self.path = Path(path)
        if str(path) == ":memory:":
            pass  # a throw-away study (the Python API without db=)
        elif self.path.is_dir():
            raise StudyError(f"--db {str(self.path)!r} is a directory; give a file path such as runs.db")
        elif not self.path.exists():
            if not create:
                raise StudyError(f"database {str(self.path)!r} does not exist; check the --db path")
            parent = self.path.parent if str(self.path.parent) else Path(".")
            if parent.exists() and not parent.is_dir():
                raise StudyError(f"{str(parent)!r} in --db is a file, not a directory; pick another --db path")
            if not parent.is_dir():
                raise StudyError(f"directory {str(parent)!r} for --db does not exist; create it or pick another path")
            if not os.access(parent, os.W_OK):
                raise StudyError(f"directory {str(parent)!r} is not writable; pick another --db path")
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False)
            self.conn.execute("PRAGMA busy_timeout = 30000")
            mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            self.conn.execute("PRAGMA synchronous = NORMAL" if mode == "wal" else "PRAGMA synchronous = FULL")
            self.conn.execute("PRAGMA foreign_keys = ON")
            self._init_schema()
        except sqlite3.OperationalError as e:
            if "unable to open" in str(e) or "readonly" in str(e) or "read-only" in str(e):
                raise StudyError(f"cannot write the database {str(self.path)!r} ({e}); check that it and its directory are "
                                 "writable, or pick another --db path") from None
            raise StudyError(f"{str(self.path)!r} is not a usable seqnas database ({e}); pick another --db path") from None
        except sqlite3.DatabaseError as e:
            raise StudyError(f"{str(self.path)!r} is not a seqnas database ({e}); pick another --db path") from None

    def _init_schema(self) -> None:
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "meta" not in tables:
            raise StudyError(f"{str(self.path)!r} is an SQLite file of another program; pick another --db path")
        if "meta" in tables:
            row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise StudyError(f"{str(self.path)!r} was written by a newer seqnas (schema {version}, this one reads "
                                 f"up to {SCHEMA_VERSION}); upgrade seqnas")
            if version < SCHEMA_VERSION:
                self._migrate(version)
            return
        with self.transaction() as c:
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    c.execute(stmt)
            c.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def _migrate(self, version: int) -> None:
        """Bring an older database up to SCHEMA_VERSION: first a copy of the file as it was
        (``<db>.v<version>.bak``, kept if one exists), then every step in one transaction."""
        if str(self.path) != ":memory:":
            backup = self.path.with_name(f"{self.path.name}.v{version}.bak")
            if not backup.exists():
                tmp = backup.with_name(backup.name + ".tmp")
                dst = sqlite3.connect(str(tmp))
                try:
                    self.conn.backup(dst)  # a consistent copy, WAL content included
                finally:
                    dst.close()
                os.replace(tmp, backup)
        with self.transaction() as c:
            now = int(c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])
            for v in range(now, SCHEMA_VERSION):  # another process may have migrated meanwhile: now >= version
                for stmt in _MIGRATIONS[v]:
                    c.execute(stmt)
            c.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: one writer at a time, all or nothing."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()

    # -- studies ---------------------------------------------------------------------------------
    def create_study(self, name: str, space: dict[str, Any], strategy: str, strategy_options: dict[str, Any],
                     settings: dict[str, Any]) -> StudyRow:
        with self.transaction() as c:
            if c.execute("SELECT 1 FROM studies WHERE name=?", (name,)).fetchone():
                raise StudyError(f"study {name!r} already exists in {str(self.path)!r}")
            c.execute(
                "INSERT INTO studies (name, created_at, space, strategy, strategy_options, settings) VALUES (?,?,?,?,?,?)",
                (name, time.time(), _json(space), strategy, _json(strategy_options), _json(settings)),
            )
        return self.get_study(name)

    def find_study(self, name: str) -> StudyRow | None:
        row = self.conn.execute(
            "SELECT id, name, created_at, space, strategy, strategy_options, settings FROM studies WHERE name=?", (name,)
        ).fetchone()
        if row is None:
            return None
        return StudyRow(row[0], row[1], row[2], json.loads(row[3]), row[4], json.loads(row[5]), json.loads(row[6]))

    def get_study(self, name: str) -> StudyRow:
        row = self.find_study(name)
        if row is None:
            known = self.study_names()
            hint = f"; studies here: {', '.join(known[:10])}" if known else "; this database has no studies"
            raise StudyError(f"no study {name!r} in {str(self.path)!r}{hint}")
        return row

    def study_names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM studies ORDER BY id")]

    # -- the lease: one process runs a study at a time -----------------------------------------------
    def acquire(self, study: StudyRow, stale_after: float = 120.0) -> None:
        me = f"{socket.gethostname()}:{os.getpid()}"
        with self.transaction() as c:
            owner, beat = c.execute("SELECT owner, heartbeat FROM studies WHERE id=?", (study.id,)).fetchone()
            if owner and owner != me and _alive(owner, beat, stale_after):
                raise StudyError(f"study {study.name!r} is being run by process {owner}; wait for it to finish or stop it first")
            c.execute("UPDATE studies SET owner=?, heartbeat=? WHERE id=?", (me, time.time(), study.id))

    def release(self, study: StudyRow) -> None:
        me = f"{socket.gethostname()}:{os.getpid()}"
        with self.transaction() as c:
            c.execute("UPDATE studies SET owner=NULL, heartbeat=NULL WHERE id=? AND owner=?", (study.id, me))

    # -- trials ------------------------------------------------------------------------------------------
    def add_trial(self, study: StudyRow, proposal: Proposal, told_before: int) -> int:
        """Store a proposal as RUNNING before it is submitted; returns its trial number."""
        arch = proposal.arch
        with self.transaction() as c:
            number = int(c.execute("SELECT COALESCE(MAX(number), -1) + 1 FROM trials WHERE study_id=?", (study.id,)).fetchone()[0])
            c.execute(
                "INSERT INTO trials (study_id, number, kind, state, arch, arch_hash, info, started_at, told_before) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                (study.id, number, proposal.kind, TrialState.RUNNING.value, _json(arch.to_dict()) if arch else None,
                 arch.key if arch else None, _json(proposal.info), time.time(), told_before),
            )
            c.execute("UPDATE studies SET heartbeat=? WHERE id=?", (time.time(), study.id))
        return number

    def restart_trial(self, study: StudyRow, number: int) -> None:
        """A trial left RUNNING by a crash is run again: count the attempt."""
        with self.transaction() as c:
            c.execute("UPDATE trials SET attempts = attempts + 1, started_at=? WHERE study_id=? AND number=? AND state='RUNNING'",
                      (time.time(), study.id, number))

    def finish_trial(self, study: StudyRow, number: int, result: Result, state: dict[str, Any] | None = None,
                     curve: list[float] | None = None, checkpoint: tuple[str, int] | None = None) -> int:
        """Store the result (and the strategy state that includes it) in one transaction; returns tell_seq.

        ``curve``: the trial's learning curve (default: the result's own); ``checkpoint``: (path,
        size) of the training state the runner wrote for it, recorded in the same transaction.
        """
        with self.transaction() as c:
            seq = int(c.execute("SELECT COALESCE(MAX(tell_seq), -1) + 1 FROM trials WHERE study_id=?", (study.id,)).fetchone()[0])
            cur = c.execute(
                "UPDATE trials SET state=?, value_json=?, metrics=?, error=?, finished_at=?, duration=?, tell_seq=?, curve=? "
                "WHERE study_id=? AND number=? AND state='RUNNING'",
                (result.state.value, _ordered_json(result.values), _json(result.metrics), result.error, time.time(),
                 result.duration, seq, _json(result.curve if curve is None else curve), study.id, number),
            )
            if cur.rowcount != 1:
                raise StudyError(f"trial {number} of study {study.name!r} is not running; was the study changed by another process?")
            if checkpoint is not None:
                c.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?)", (study.id, number, *checkpoint))
            if state is not None:
                c.execute("INSERT OR REPLACE INTO study_state VALUES (?, 'strategy', ?)", (study.id, _json(state)))
            c.execute("UPDATE studies SET heartbeat=? WHERE id=?", (time.time(), study.id))
        return seq

    def trials(self, study: StudyRow) -> list[TrialRecord]:
        rows = self.conn.execute(
            "SELECT number, state, kind, arch, value_json, metrics, error, info, started_at, finished_at, duration, "
            "told_before, tell_seq, curve FROM trials WHERE study_id=? ORDER BY number", (study.id,)
        ).fetchall()
        return [
            TrialRecord(
                number=r[0], state=TrialState(r[1]), kind=r[2], arch=Arch(json.loads(r[3])) if r[3] else None,
                values=json.loads(r[4]), metrics=json.loads(r[5]), error=r[6], info=json.loads(r[7]),
                started_at=r[8], finished_at=r[9], duration=r[10], told_before=r[11], tell_seq=r[12], curve=json.loads(r[13]),
            )
            for r in rows
        ]

    def attempts(self, study: StudyRow) -> dict[int, int]:
        return dict(self.conn.execute("SELECT number, attempts FROM trials WHERE study_id=?", (study.id,)).fetchall())

    # -- multi-fidelity checkpoints (files next to the database; rows say which exist) ------------------
    def checkpoint_dir(self, study: StudyRow) -> Path | None:
        """Where this study's checkpoints live: ``<db>.checkpoints/study-<id>`` (None: in-memory database)."""
        if str(self.path) == ":memory:":
            return None
        return self.path.with_name(f"{self.path.name}.checkpoints") / f"study-{study.id}"

    def checkpoints(self, study: StudyRow) -> dict[int, str]:
        return dict(self.conn.execute("SELECT number, path FROM checkpoints WHERE study_id=?", (study.id,)).fetchall())

    def drop_checkpoint(self, study: StudyRow, number: int) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM checkpoints WHERE study_id=? AND number=?", (study.id, number))

    # -- per-study state ------------------------------------------------------------------------------
    def get_state(self, study: StudyRow, key: str) -> Any:
        row = self.conn.execute("SELECT value FROM study_state WHERE study_id=? AND key=?", (study.id, key)).fetchone()
        return json.loads(row[0]) if row else None

    def set_state(self, study: StudyRow, key: str, value: Any) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO study_state VALUES (?, ?, ?)", (study.id, key, _json(value)))

    # -- records that belong to no single study (e.g. a race's settings), in the meta table -------------
    def get_meta(self, key: str) -> Any:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, key: str, value: Any) -> None:
        if key == "schema_version":
            raise ValueError("schema_version is not a free-form record")
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, _json(value)))

    def meta_keys(self, prefix: str) -> list[str]:
        rows = self.conn.execute("SELECT key FROM meta WHERE substr(key, 1, ?) = ? ORDER BY key", (len(prefix), prefix))
        return [r[0] for r in rows]


def _alive(owner: str, heartbeat: float | None, stale_after: float) -> bool:
    host, _, pid = owner.rpartition(":")
    if host == socket.gethostname():
        try:
            os.kill(int(pid), 0)
        except (ProcessLookupError, ValueError):
            return False
        except PermissionError:
            return True
        return True
    return heartbeat is not None and time.time() - heartbeat < stale_after
