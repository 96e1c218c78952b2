"""A live dashboard for a seqnas database: optuna-dashboard over a read-only view of the file.

``seqnas dashboard --db runs.db [--port 8080]`` serves every study of the file on 127.0.0.1. The
seqnas database stays the truth: :class:`SeqnasStorage` is an Optuna storage that reads it on
each request (so trials appear while a search runs, without a restart) through a read-only
SQLite connection, and refuses every write the dashboard's buttons would make.

Each seqnas trial becomes an Optuna trial: its architecture as parameters (distributions built
from the study's space), its objective values (each study's directions), its metrics as user attributes,
a failure as state FAIL with the reason in the user attribute ``error``, and its learning curve
(validation MSE after each epoch) as intermediate values, step = epoch.

Longer than 350 lines: the storage adapter implements Optuna's whole read interface (studies,
trials, attributes, distributions) for one concept, the read-only view; the server around it is short.

optuna-dashboard is an optional extra: ``pip install 'seqnas[dashboard]'``.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import math
import sqlite3
import sys
import threading
from collections.abc import Container, Sequence
from datetime import datetime
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.storages import BaseStorage
from optuna.study import StudyDirection
from optuna.study._frozen import FrozenStudy
from optuna.trial import FrozenTrial
from optuna.trial import TrialState as OptunaState

from seqnas.errors import ConfigError, StudyError, UserError
from seqnas.space.base import SearchSpace
from seqnas.space.params import Categorical, Param

INSTALL_HINT = "the dashboard needs optuna-dashboard; install it with: pip install 'seqnas[dashboard]'"
SCHEMA_VERSION_READ = 2  # the newest seqnas schema this reader knows (seqnas.storage.sqlite.SCHEMA_VERSION)

_STATES = {"RUNNING": OptunaState.RUNNING, "COMPLETE": OptunaState.COMPLETE, "FAILED": OptunaState.FAIL}


class DashboardUnavailable(UserError):
    """optuna-dashboard is not installed."""


class ReadOnlyError(NotImplementedError):
    """The dashboard tried to change the seqnas database, which it only reads."""

    def __init__(self, what: str) -> None:
        super().__init__(f"the seqnas dashboard is read-only ({what}); change studies with the seqnas commands")


def _check_dashboard_installed() -> None:
    try:
        import optuna_dashboard  # noqa: F401
    except ImportError:
        raise DashboardUnavailable(INSTALL_HINT) from None


def _when(t: float | None) -> datetime | None:
    return datetime.fromtimestamp(t) if t is not None else None


def _param_distribution(param: Param) -> tuple[BaseDistribution, bool]:
    """The Optuna distribution shown for a seqnas parameter, and whether values are choice indices.

    A categorical shows its own choices where Optuna can tell them apart (Optuna finds a value by
    equality, and ``True == 1``); otherwise, and for numbers, the mapping the Bayesian strategy
    uses (:func:`seqnas.strategies.bayesian.distribution`), where a categorical is its indices.
    """
    if isinstance(param, Categorical) and len(set(param.choices)) == len(param.choices):
        return CategoricalDistribution(list(param.choices)), False
    from seqnas.strategies.bayesian import distribution  # imports torch: only once a study is read

    return distribution(param), isinstance(param, Categorical)


class SeqnasStorage(BaseStorage):
    """An Optuna storage that reads a seqnas SQLite database on every call and never writes it.

    Study ids are the seqnas study ids; trial ids are the rows' ids in the ``trials`` table.
    """

    def __init__(self, db: str | Path) -> None:
        self.path = Path(db)
        if str(db) == ":memory:" or not self.path.is_file():
            raise StudyError(f"database {str(db)!r} does not exist; check the --db path")
        try:
            self._conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0,
                                         isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout = 30000")
            tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not {"meta", "studies", "trials"} <= tables:
                raise StudyError(f"{str(db)!r} is not a seqnas database; pick another --db path")
            row = self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = int(row[0]) if row else 0
            columns = {r[1] for r in self._conn.execute("PRAGMA table_info(trials)")}
        except sqlite3.DatabaseError as e:
            raise StudyError(f"{str(db)!r} is not a readable seqnas database ({e}); pick another --db path") from None
        if version > SCHEMA_VERSION_READ:
            raise StudyError(f"{str(db)!r} was written by a newer seqnas (schema {version}); upgrade seqnas")
        self._curve = "curve" if "curve" in columns else "'[]'"  # schema 1 stored no learning curves
        self._lock = threading.Lock()
        self._spaces: dict[int, dict[str, tuple[Param, BaseDistribution, bool]]] = {}

    def close(self) -> None:
        self._conn.close()

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, tuple(args)).fetchall()

    # -- studies -----------------------------------------------------------------------------------
    def _study_row(self, study_id: int) -> Any:
        rows = self._rows("SELECT id, name, space, strategy, settings FROM studies WHERE id=?", (study_id,))
        if not rows:
            raise KeyError(f"no study with id {study_id}")
        return rows[0]

    @staticmethod
    def _objectives(settings_json: str) -> list[str]:
        try:
            objectives = json.loads(settings_json).get("objectives") or []
        except (ValueError, AttributeError):
            objectives = []
        return [str(o) for o in objectives] or ["value"]

    def get_study_id_from_name(self, study_name: str) -> int:
        rows = self._rows("SELECT id FROM studies WHERE name=?", (study_name,))
        if not rows:
            raise KeyError(f"no study named {study_name!r}")
        return int(rows[0][0])

    def get_study_name_from_id(self, study_id: int) -> str:
        return str(self._study_row(study_id)[1])

    @classmethod
    def _directions(cls, settings_json: str) -> list[StudyDirection]:
        """Per objective (a study stores "directions" only when one is maximised)."""
        try:
            stored = json.loads(settings_json).get("directions") or []
        except (ValueError, AttributeError):
            stored = []
        n = len(cls._objectives(settings_json))
        return [StudyDirection.MAXIMIZE if i < len(stored) and stored[i] == "maximize" else StudyDirection.MINIMIZE
                for i in range(n)]

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        return self._directions(self._study_row(study_id)[4])

    @staticmethod
    def _study_attrs(row: Any, n_trials: int) -> dict[str, Any]:
        settings = json.loads(row[4])
        space = json.loads(row[2])
        task = settings.get("task") or {}
        attrs: dict[str, Any] = {
            "strategy": row[3],
            "space": space.get("name") or space.get("family") or "custom",
            "objectives": ", ".join(SeqnasStorage._objectives(row[4])),
            "trials": n_trials,
        }
        if isinstance(task, dict) and task:
            attrs["task"] = task.get("name") or task.get("csv") or json.dumps(task, sort_keys=True)
        return attrs

    def _n_trials(self, study_id: int) -> int:
        return int(self._rows("SELECT COUNT(*) FROM trials WHERE study_id=?", (study_id,))[0][0])

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        return self._study_attrs(self._study_row(study_id), self._n_trials(study_id))

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        self._study_row(study_id)
        return {}

    def get_all_studies(self) -> list[FrozenStudy]:
        counts = dict(self._rows("SELECT study_id, COUNT(*) FROM trials GROUP BY study_id"))
        out = []
        for row in self._rows("SELECT id, name, space, strategy, settings FROM studies ORDER BY id"):
            directions = self._directions(row[4])
            out.append(FrozenStudy(study_name=row[1], direction=None, directions=directions,
                                   user_attrs=self._study_attrs(row, int(counts.get(row[0], 0))), system_attrs={},
                                   study_id=int(row[0])))
        return out

    # -- trials ------------------------------------------------------------------------------------
    def _space(self, study_id: int, space_json: str) -> dict[str, tuple[Param, BaseDistribution, bool]]:
        if study_id not in self._spaces:  # a study's space never changes
            try:
                space = SearchSpace.from_json(json.loads(space_json))
                self._spaces[study_id] = {p.name: (p, *_param_distribution(p)) for p in space.params}
            except (UserError, ValueError, TypeError):
                self._spaces[study_id] = {}
        return self._spaces[study_id]

    _TRIAL_COLUMNS = "t.id, t.study_id, t.number, t.kind, t.state, t.arch, t.value_json, t.metrics, t.error, t.info, " \
                     "t.started_at, t.finished_at, t.duration, t.attempts, {curve}, s.space, s.settings"

    def _select(self, where: str, args: Sequence[Any]) -> list[FrozenTrial]:
        sql = (f"SELECT {self._TRIAL_COLUMNS.format(curve='t.' + self._curve if self._curve == 'curve' else self._curve)} "
               f"FROM trials t JOIN studies s ON s.id = t.study_id WHERE {where} ORDER BY t.number")
        return [self._frozen(r) for r in self._rows(sql, args)]

    def _frozen(self, r: Any) -> FrozenTrial:
        (trial_id, study_id, number, kind, state_name, arch_json, values_json, metrics_json, error, info_json,
         started, finished, duration, attempts, curve_json, space_json, settings_json) = r
        state = _STATES.get(state_name, OptunaState.FAIL)
        space = self._space(study_id, space_json)
        params: dict[str, Any] = {}
        distributions: dict[str, BaseDistribution] = {}
        user_attrs: dict[str, Any] = {}
        arch = json.loads(arch_json) if arch_json else {}
        for name, value in arch.items():
            if name in space:
                param, dist, by_index = space[name]
                try:
                    params[name] = param.index(value) if by_index else value  # type: ignore[attr-defined]
                    dist.to_internal_repr(params[name])
                    distributions[name] = dist
                    continue
                except (UserError, ValueError, TypeError):
                    params.pop(name, None)
            user_attrs[f"arch.{name}"] = value  # not in the stored space: shown, though not as a parameter
        if kind != "arch":
            user_attrs["kind"] = kind
        metrics = json.loads(metrics_json or "{}")
        if isinstance(metrics, dict):
            user_attrs.update({str(k): v for k, v in metrics.items()})
        info = json.loads(info_json or "{}")
        for key in ("rung", "rung_epochs", "bracket"):
            if isinstance(info, dict) and key in info:
                user_attrs[key] = info[key]
        user_attrs["duration_s"] = round(float(duration or 0.0), 3)
        if attempts and attempts > 1:
            user_attrs["attempts"] = attempts
        system_attrs: dict[str, Any] = {}
        if state is OptunaState.FAIL:
            user_attrs["error"] = error or "failed (no reason stored)"
            system_attrs["fail_reason"] = user_attrs["error"]
        values: list[float] | None = None
        if state is OptunaState.COMPLETE:
            stored = json.loads(values_json or "{}")
            objectives = self._objectives(settings_json)
            values = [float(stored[o]) for o in objectives if o in stored]
            if len(values) != len(objectives):
                values = [float(v) for v in list(stored.values())[: len(objectives)]]
            if len(values) != len(objectives) or not all(math.isfinite(v) for v in values):
                state, values = OptunaState.FAIL, None
                user_attrs["error"] = f"stored objective values {stored!r} do not match the objectives {objectives}"
        curve = json.loads(curve_json or "[]")
        intermediate = {i + 1: float(v) for i, v in enumerate(curve) if isinstance(v, (int, float)) and math.isfinite(v)}
        return FrozenTrial(
            number=int(number), state=state, value=None, values=values,
            datetime_start=_when(started), datetime_complete=_when(finished) if state.is_finished() else None,
            params=params, distributions=distributions, user_attrs=user_attrs, system_attrs=system_attrs,
            intermediate_values=intermediate, trial_id=int(trial_id),
        )

    def get_trial(self, trial_id: int) -> FrozenTrial:
        trials = self._select("t.id=?", (trial_id,))
        if not trials:
            raise KeyError(f"no trial with id {trial_id}")
        return trials[0]

    def get_all_trials(self, study_id: int, deepcopy: bool = True,
                       states: Container[OptunaState] | None = None) -> list[FrozenTrial]:
        self._study_row(study_id)
        trials = self._select("t.study_id=?", (study_id,))
        return trials if states is None else [t for t in trials if t.state in states]

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        rows = self._rows("SELECT id FROM trials WHERE study_id=? AND number=?", (study_id, trial_number))
        if not rows:
            raise KeyError(f"no trial {trial_number} in study {study_id}")
        return int(rows[0][0])

    # -- writes: refused -----------------------------------------------------------------------------
    def create_new_study(self, directions: Sequence[StudyDirection], study_name: str | None = None) -> int:
        raise ReadOnlyError("create a study")

    def delete_study(self, study_id: int) -> None:
        raise ReadOnlyError("delete a study")

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        raise ReadOnlyError("set a study attribute")

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        raise ReadOnlyError("set a study attribute")

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        raise ReadOnlyError("create a trial")

    def set_trial_param(self, trial_id: int, param_name: str, param_value_internal: float,
                        distribution: BaseDistribution) -> None:
        raise ReadOnlyError("set a trial parameter")

    def set_trial_state_values(self, trial_id: int, state: OptunaState, values: Sequence[float] | None = None) -> bool:
        raise ReadOnlyError("tell a trial")

    def set_trial_intermediate_value(self, trial_id: int, step: int, intermediate_value: float) -> None:
        raise ReadOnlyError("report an intermediate value")

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        raise ReadOnlyError("set a trial attribute")

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        raise ReadOnlyError("set a trial attribute")


# -- the server ---------------------------------------------------------------------------------------
class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a browser's open request never keeps the process alive
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


def _loopback(host: str) -> str:
    """The IPv4 loopback address to bind: the dashboard never listens on another interface."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        addr = None
    if addr is None or addr.version != 4 or not addr.is_loopback:
        raise ConfigError(f"--host {host!r}: the dashboard serves on loopback only (127.0.0.1); "
                          "to view it from another machine, forward the port (ssh -L 8080:127.0.0.1:8080 ...)")
    return str(addr)


def make_dashboard_server(db: str | Path, port: int = 8080, host: str = "127.0.0.1") -> tuple[WSGIServer, SeqnasStorage]:
    """A started-but-not-serving server for ``db`` (call ``serve_forever``; ``port=0``: any free port)."""
    _check_dashboard_installed()
    from optuna_dashboard import wsgi

    bind = _loopback(host)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"--port must be an integer 0-65535, got {port!r}")
    storage = SeqnasStorage(db)
    try:
        server = make_server(bind, port, wsgi(storage), server_class=_Server, handler_class=_QuietHandler)
    except OSError as e:
        storage.close()
        raise ConfigError(f"cannot listen on {bind}:{port} ({e.strerror}); pick another --port") from None
    return server, storage


def serve(db: str, port: int = 8080, host: str = "127.0.0.1", *, ready: Any = None) -> None:
    """Serve every study of ``db`` with optuna-dashboard on ``host:port`` (loopback only) until interrupted.

    ``ready(url)`` is called once the socket listens (default: print the address).
    """
    server, storage = make_dashboard_server(db, port, host)
    bound_host, bound_port = server.socket.getsockname()[:2]
    url = f"http://{bound_host}:{bound_port}/dashboard"
    n = len(storage.get_all_studies())
    if ready is None:
        print(f"seqnas dashboard: {n} {'study' if n == 1 else 'studies'} of {db} at {url} (read-only; Ctrl-C to stop)",
              flush=True)
    else:
        ready(url)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        storage.close()


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``seqnas dashboard``."""
    p.add_argument("--db", required=True, help="the seqnas SQLite file (read only)")
    p.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080; 0: any free port)")


def run(args: argparse.Namespace) -> int:
    """``seqnas dashboard``: serve until Ctrl-C; 0 on a clean stop."""
    try:
        serve(args.db, port=args.port)
    except KeyboardInterrupt:
        print("\nseqnas dashboard: stopped", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m seqnas.dashboard --db runs.db [--port 8080]`` (what ``seqnas dashboard`` runs)."""
    parser = argparse.ArgumentParser(prog="seqnas dashboard", description="live optuna-dashboard over a seqnas database")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UserError as e:
        print(f"seqnas: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["DashboardUnavailable", "INSTALL_HINT", "SeqnasStorage", "add_arguments", "main", "make_dashboard_server", "run",
           "serve"]
