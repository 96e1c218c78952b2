"""The statistical and tabular forecasts beside a study: scored on its target rows, stored with it, deployable.

After its search, a task study scores the forecasters a forecaster would run first
(``seqnas.statistical``: seasonal naive, AutoETS, AutoTheta on series short enough for it, LightGBM on
lags, ridge on seven seasons of lags) on the study's own validation and test target rows, in the same standardised MSE as its
networks. The scores go into the study (state ``statistical``), their fitted models next to the
database (``<db>.checkpoints/study-<id>/final/statistical-<name>.pkl``), and their CPU-seconds count
toward the study's one budget (``seqnas.final.final_cpu_budget``). ``seqnas show`` prints them; ``seqnas
export`` deploys the best of them instead of the networks where it has the lower validation MSE.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from seqnas.final import STATISTICAL_KEY as STATE_KEY
from seqnas.final import member_dir
from seqnas.storage import Storage, StudyRow
from seqnas.tasks import TaskSpec, load_task

THETA_MAX_ROWS = 3000  # AutoTheta's cost grows with the cube of the series' length (seqnas.statistical): 59 CPU-s at 8,760 rows


def models_for(rows: int) -> tuple[str, ...]:
    from seqnas.statistical import MODELS

    return tuple(m for m in MODELS if m != "auto_theta" or rows <= THETA_MAX_ROWS)


def season_for(task: TaskSpec) -> int | None:
    """The season the statistical models use: the task's (a seasonal base set it), else the data's."""
    if task.season:
        return task.season
    from seqnas.tasks.inputs import season_of, series_of

    return season_of(task, series_of(task))


def stored(storage: Storage, row: StudyRow) -> dict[str, dict[str, Any]]:
    """name -> {val_mse, test_mse, cpu_seconds, file} of the stored statistical forecasts ({} if none)."""
    return dict((storage.get_state(row, STATE_KEY) or {}).get("models") or {})


def run_statistical(storage: Storage, row: StudyRow, task: TaskSpec) -> dict[str, dict[str, Any]]:
    """Score the statistical forecasts on the study's target rows and store them (once: what is stored is kept)."""
    state = storage.get_state(row, STATE_KEY)
    if state is not None:
        return dict(state.get("models") or {})
    from seqnas.statistical import score_all

    data = load_task(task)
    season = season_for(task)
    skipped: dict[str, str] = {}
    scores = score_all(data, season, models_for(data.info["rows"]), skipped=skipped)
    folder = member_dir(storage, row)
    out: dict[str, dict[str, Any]] = {}
    for name, s in scores.items():
        entry: dict[str, Any] = {"val_mse": s.val_mse, "test_mse": s.test_mse, "cpu_seconds": s.cpu_seconds, "file": None}
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"statistical-{name}.pkl"
            path.write_bytes(pickle.dumps(s.fitted))
            entry["file"] = path.name
        out[name] = entry
    storage.set_state(row, STATE_KEY, {"season": season, "models": out, "skipped": skipped})
    return out


def best(models: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    """The stored statistical forecast with the lowest validation MSE (None without any)."""
    ranked = sorted(models.items(), key=lambda kv: kv[1]["val_mse"])
    return ranked[0] if ranked else None


def load_fitted(folder: Path, entry: dict[str, Any]) -> Any:
    """A stored statistical forecast's fitted model (``seqnas.statistical.Fitted``), unpickled from its file."""
    return pickle.loads((folder / str(entry["file"])).read_bytes())
