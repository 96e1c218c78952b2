"""What a model reads, searched: the lookback ``window`` and the ``calendar`` inputs (seqnas.tasks.inputs,
seqnas.tasks.calendar, TaskSpec.reach), on real CSV files, real (tiny) torch training, real SQLite studies
and the real `seqnas` command."""

from __future__ import annotations

import calendar as pycal
import datetime as dt
import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from torch import nn

import seqnas
import seqnas.models
from seqnas.errors import SpaceError, TaskError, UserError
from seqnas.evaluation.budget import TrainBudget
from seqnas.evaluation.evaluator import TaskEvaluator
from seqnas.evaluation.training import split_actual
from seqnas.export import export_study, load_exported
from seqnas.models import check_space
from seqnas.space import Arch, get_space, space_from_dict
from seqnas.study import StudySettings
from seqnas.tasks import TaskSpec, load_task
from seqnas.tasks.calendar import calendar_features, calendar_names
from seqnas.tasks.csv import load_calendar, load_csv
from seqnas.tasks.inputs import auto_windows, dominant_period, fit_reach, parse_mode, parse_window, task_for
from seqnas.timeaxis import parse_times
from tests.cli_helpers import run

ONE_GRU = {"cell1": ["gru"], "hidden1": [8], "lr": [0.01]}  # one rnn-macro architecture (depth 1), before inputs
FAST = TrainBudget(max_epochs=2, patience=1, batch_size=64)


# -- data -----------------------------------------------------------------------------------------------------------
def write_csv(path: Path, y: np.ndarray, times: list[str] | None = None) -> Path:
    df = pd.DataFrame({"y": np.round(np.asarray(y, dtype=np.float64), 6)})
    if times is not None:
        df.insert(0, "time", times)
    df.to_csv(path, index=False)
    return path


def noisy_series(rows: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    return np.sin(2 * np.pi * t / 12.0) + 0.3 * np.sin(t / 17.0) + 0.2 * rng.normal(size=rows)


def half_hours(start: str, rows: int) -> list[str]:
    return [str(t) for t in pd.date_range(start, periods=rows, freq="30min")]


def by_hand(stamps: list[dt.datetime], cycles: list[str]) -> np.ndarray:
    """The calendar inputs computed with Python's datetime: (rows, 2 * len(cycles)), sin then cos per cycle."""
    out = []
    for s in stamps:
        frac = (s.hour * 3600 + s.minute * 60 + s.second) / 86400
        phase = {"day": frac, "week": (s.weekday() + frac) / 7,
                 "year": (s.timetuple().tm_yday - 1 + frac) / (366 if pycal.isleap(s.year) else 365)}
        out.append([f(2 * np.pi * phase[c]) for c in cycles for f in (np.sin, np.cos)])
    return np.asarray(out, dtype=np.float64)


def one_line(e: pytest.ExceptionInfo) -> str:
    text = str(e.value)
    assert text and "\n" not in text, text
    return text


def study_names(db: str | Path) -> list[str]:
    if not Path(db).exists():
        return []
    with sqlite3.connect(db) as c:
        try:
            return [r[0] for r in c.execute("SELECT name FROM studies")]
        except sqlite3.OperationalError:  # no table: nothing was written
            return []


def stored_settings(db: str | Path, study: str) -> dict:
    with sqlite3.connect(db) as c:
        return json.loads(c.execute("SELECT settings FROM studies WHERE name=?", (study,)).fetchone()[0])


def assert_cli_error(p, *words: str) -> None:
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    for w in words:
        assert w in lines[0], lines[0]


@pytest.fixture(scope="module")
def series_csv(tmp_path_factory) -> Path:
    """400 hourly rows of a noisy seasonal series with a time column."""
    d = tmp_path_factory.mktemp("series")
    return write_csv(d / "s.csv", noisy_series(400), [str(t) for t in pd.date_range("2024-01-01", periods=400, freq="h")])


# -- 1. every window is measured on the same target points ------------------------------------------------------------
def test_windows_of_one_reach_share_their_validation_and_test_targets(series_csv):
    spec = TaskSpec("csv", csv=str(series_csv), target="y", horizon=3, reach=96)
    short, long_ = load_task(task_for(spec, {"window": 24})), load_task(task_for(spec, {"window": 96}))
    assert (short.window, long_.window) == (24, 96)
    for split in ("train", "val", "test"):
        assert np.array_equal(short.target_rows(split), long_.target_rows(split)), split
    assert short.target_rows("val")[0, 0] > 96 and short.target_rows("test")[-1, -1] == 399  # the last row is a target
    for y in ("y_train", "y_val", "y_test"):
        assert np.array_equal(getattr(short, y), getattr(long_, y)), y
    assert np.array_equal(short.mean, long_.mean) and np.array_equal(short.std, long_.std)
    for split in ("val", "test"):
        actual = split_actual(short, split)
        assert np.array_equal(actual, split_actual(long_, split))
        assert np.array_equal(actual, short.series[short.target_rows(split), 0])
    # A window reads the rows just before its targets, whatever its length.
    scaled = ((short.series - short.mean) / short.std).astype(np.float32)
    for data in (short, long_):
        first = data.target_rows("test")[:, 0]
        want = scaled[first[:, None] - data.window + np.arange(data.window)[None, :]]
        assert np.array_equal(data.X_test, want)


def test_reach_below_the_window_and_no_reach_cut_the_windows_as_before(tmp_path):
    """60 rows, window 5, horizon 2: n = 54 windows, gap 1, 8 test, 8 val, 36 train; scaled on rows :42."""
    y = noisy_series(60, seed=3)
    csv = write_csv(tmp_path / "small.csv", y)
    plain = load_task(TaskSpec("csv", csv=str(csv), target="y", window=5, horizon=2))
    below = load_task(TaskSpec("csv", csv=str(csv), target="y", window=5, horizon=2, reach=3))
    values = load_csv(str(csv), "y")[0]
    mean, std = values[:42].mean(axis=0), values[:42].std(axis=0)
    scaled = ((values - mean) / std).astype(np.float32)
    X = np.stack([scaled[i:i + 5] for i in range(54)])
    Y = np.stack([scaled[i + 5:i + 7, 0] for i in range(54)])
    want = {"X_train": X[:36], "y_train": Y[:36], "X_val": X[37:45], "y_val": Y[37:45], "X_test": X[46:], "y_test": Y[46:]}
    for data in (plain, below):
        for name, arr in want.items():
            got = getattr(data, name)
            assert got.dtype == np.float32 and got.shape == arr.shape and got.tobytes() == arr.tobytes(), name
        assert np.array_equal(data.mean, mean) and np.array_equal(data.std, std)
        assert data.info["first_target"] == 5 and data.info["calendar"] == []
        assert (data.info["val_start"], data.info["test_start"], data.info["scaling_rows"]) == (37, 46, 42)
        assert np.array_equal(data.target_rows("test"), np.arange(46, 54)[:, None] + 5 + np.arange(2)[None, :])
    assert plain.info == below.info


def test_a_study_searching_the_window_measures_every_trial_on_the_same_points(series_csv, tmp_path):
    db = str(tmp_path / "w.db")
    space = {"family": "rnn-macro", "params": ONE_GRU}
    r = seqnas.search(space, csv=str(series_csv), target="y", window=[8, 24], strategy="grid", trials=2, seed=0,
                      train=FAST, study="w", db=db, final_repeats=0, progress=False)
    task = r.settings.task
    assert task.reach == 24 and task.window == 24  # the task's own window: at most the reach
    assert list(r.space["window"].choices) == [8, 24]
    assert stored_settings(db, "w")["task"]["reach"] == 24
    archs = [t.arch for t in r.completed]
    assert sorted(a["window"] for a in archs) == [8, 24]
    data = {a["window"]: load_task(task_for(task, a)) for a in archs}
    assert data[8].window == 8 and data[24].window == 24
    for split in ("val", "test"):
        assert np.array_equal(data[8].target_rows(split), data[24].target_rows(split))
        assert np.array_equal(split_actual(data[8], split), split_actual(data[24], split))
    for t in r.completed:  # each trial's figures were measured on that task
        assert np.isfinite(t.metrics["test_mse"]) and np.isfinite(t.metrics["test_mae"])


def test_the_study_task_itself_is_measured_on_the_trials_points(series_csv):
    space, spec = seqnas.tasks.inputs.task_inputs(space_from_dict({"family": "rnn-macro", "params": ONE_GRU}),
                                                   csv=str(series_csv), target="y", window=[8, 16])
    trial = load_task(task_for(spec, {"window": 8}))
    assert np.array_equal(load_task(spec).target_rows("test"), trial.target_rows("test"))


# -- 2. a planted lag-40 dependence: the search finds the window that sees it -----------------------------------------
def lag40_series(rows: int = 1500, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.normal(size=rows + 400)
    y = np.zeros_like(e)
    for t in range(len(e)):
        y[t] = (0.9 * y[t - 40] if t >= 40 else 0.0) + e[t]
    return y[400:]  # burnt in


@pytest.fixture(scope="module")
def lag40_csv(tmp_path_factory) -> Path:
    return write_csv(tmp_path_factory.mktemp("lag40") / "lag40.csv", lag40_series())


@pytest.fixture
def linear_ar(plant_family):
    plant_family("qa-linear-ar", lambda arch, n_features, horizon: nn.Sequential(
        nn.Flatten(), nn.Linear(int(arch["window"]) * n_features, horizon)), lr=0.01)
    return space_from_dict({"family": "qa-linear-ar", "params": {"window": [24, 48], "dummy": [0, 1]}})


AR_TRAIN = TrainBudget(max_epochs=12, patience=3, batch_size=32)


def test_a_linear_model_sees_lag_40_only_with_window_48(lag40_csv, linear_ar):
    spec = TaskSpec("csv", csv=str(lag40_csv), target="y", reach=48)
    ev = TaskEvaluator(spec, "qa-linear-ar", AR_TRAIN)
    r24, r48 = ev(Arch({"window": 24, "dummy": 0}), 0), ev(Arch({"window": 48, "dummy": 0}), 0)
    assert r24.metrics["val_mse"] > 0.8  # nothing in 24 lags predicts white noise plus a lag-40 echo
    assert r48.metrics["val_mse"] < 0.5 * r24.metrics["val_mse"]  # theory: 0.19 of the variance


def test_a_search_selects_window_48_on_the_lag_40_series(lag40_csv, linear_ar, tmp_path):
    db = str(tmp_path / "ar.db")
    r = seqnas.search(linear_ar, csv=str(lag40_csv), target="y", strategy="random", trials=4, seed=1, train=AR_TRAIN,
                      study="ar", db=db, final_repeats=1, final_top=2, progress=False)
    assert r.settings.task.reach == 48
    assert {t.arch["window"] for t in r.completed} == {24, 48}
    assert r.best_arch["window"] == 48
    assert r.final is not None and r.final.arch["window"] == 48 and r.final.val_mse < 0.5
    again = seqnas.load("ar", db)
    assert again.best_arch == r.best_arch and again.settings.task == r.settings.task


def test_auto_windows_find_the_period_40(lag40_csv):
    y = lag40_series()
    assert dominant_period(y, max_lag=200) == 40
    windows, period = auto_windows(y[:, None], 0.7)
    assert period == 40 and windows == (20, 40, 80, 140)
    space, spec = seqnas.tasks.inputs.task_inputs(space_from_dict({"family": "rnn-macro", "params": ONE_GRU}),
                                                   csv=str(lag40_csv), target="y", window="auto")
    assert list(space["window"].choices) == [20, 40, 80, 140] and spec.reach == 140
    assert dominant_period(np.random.default_rng(0).normal(size=1000), max_lag=200) is None  # white noise: no period
    assert auto_windows(np.random.default_rng(0).normal(size=(1000, 1)), 0.7) == ((12, 24, 48, 96), None)


# -- 3. calendar inputs by hand ------------------------------------------------------------------------------------
def test_half_hourly_calendar_inputs_match_a_hand_computation(tmp_path):
    """12 weeks of half-hours from a Friday 22:00: crosses midnight and weekends; day and week cycles, no year."""
    stamps = half_hours("2024-03-01 22:00", 12 * 7 * 48)
    csv = write_csv(tmp_path / "hh.csv", noisy_series(len(stamps)), stamps)
    cal, names = load_calendar(str(csv), "time")
    assert names == ["day_sin", "day_cos", "week_sin", "week_cos"]
    hand = by_hand([dt.datetime.fromisoformat(s) for s in stamps], ["day", "week"])
    np.testing.assert_allclose(cal, hand, atol=1e-12)
    assert calendar_features(parse_times(pd.Series(stamps)), names).tobytes() == cal.tobytes()
    # Spot checks: Friday 22:00, Saturday 00:00 (a new day, weekday 5), Monday 00:00.
    assert np.allclose(cal[0], by_hand([dt.datetime(2024, 3, 1, 22)], ["day", "week"])[0])
    sat = stamps.index("2024-03-02 00:00:00")
    assert np.allclose(cal[sat, :2], [0.0, 1.0]) and np.isclose(cal[sat, 2], np.sin(2 * np.pi * 5 / 7))
    mon = stamps.index("2024-03-04 00:00:00")
    assert np.allclose(cal[mon], [0.0, 1.0, 0.0, 1.0])

    spec = TaskSpec("csv", csv=str(csv), target="y", time_column="time", window=8, horizon=2, calendar=True)
    data = load_task(spec)
    assert data.info["calendar"] == names and data.n_features == 5 and data.columns == ["y"]
    assert data.mean.shape == (1,) and data.std.shape == (1,)
    plain = load_task(TaskSpec("csv", csv=str(csv), target="y", time_column="time", window=8, horizon=2))
    for split, X in (("train", data.X_train), ("val", data.X_val), ("test", data.X_test)):
        rows = data.target_rows(split)[:, :1] - 8 + np.arange(8)[None, :]  # each window's input rows
        assert np.array_equal(X[:, :, -4:], cal[rows].astype(np.float32)), split  # the last columns, unscaled
        assert np.array_equal(X[:, :, :1], getattr(plain, f"X_{split}")), split  # the data columns as without calendar
        assert np.array_equal(getattr(data, f"y_{split}"), getattr(plain, f"y_{split}"))


def test_daily_calendar_inputs_over_four_years_with_a_leap_year(tmp_path):
    days = pd.date_range("2019-01-01", "2022-12-31", freq="D")
    stamps = [d.strftime("%Y-%m-%d") for d in days]
    csv = write_csv(tmp_path / "daily.csv", noisy_series(len(stamps)), stamps)
    cal, names = load_calendar(str(csv), "time")
    assert names == ["week_sin", "week_cos", "year_sin", "year_cos"]  # a day step cannot resolve the hour
    hand = by_hand([dt.datetime.strptime(s, "%Y-%m-%d") for s in stamps], ["week", "year"])
    np.testing.assert_allclose(cal, hand, atol=1e-12)
    leap_last = stamps.index("2020-12-31")  # day 366 of 366: just before the phase wraps
    assert np.isclose(cal[leap_last, 2], np.sin(2 * np.pi * 365 / 366))
    assert np.allclose(cal[stamps.index("2021-01-01"), 2:], [0.0, 1.0])
    assert calendar_names(86400.0, 3 * 86400.0 * 365) == names
    assert calendar_names(1800.0, 13 * 86400.0) == ["day_sin", "day_cos"]  # under two weeks: no week cycle


def test_a_time_column_with_a_utc_offset_keeps_its_wall_clock_hour(tmp_path):
    stamps = [s.replace(" ", "T") + "+05:00" for s in half_hours("2024-03-01 22:00", 1000)]
    csv = write_csv(tmp_path / "tz.csv", noisy_series(len(stamps)), stamps)
    cal, names = load_calendar(str(csv), "time")
    assert names == ["day_sin", "day_cos", "week_sin", "week_cos"]
    naive = [dt.datetime.fromisoformat(s).replace(tzinfo=None) for s in stamps]  # the clock as written
    np.testing.assert_allclose(cal, by_hand(naive, ["day", "week"]), atol=1e-12)


def test_a_daylight_saving_time_column_keeps_its_wall_clock_hour(tmp_path):
    local = pd.date_range("2024-03-20", periods=24 * 21, freq="h", tz="Europe/Berlin")  # crosses 31 March
    stamps = [t.isoformat() for t in local]
    assert {s[-6:] for s in stamps} == {"+01:00", "+02:00"}
    csv = write_csv(tmp_path / "dst.csv", noisy_series(len(stamps)), stamps)
    cal, names = load_calendar(str(csv), "time")
    naive = [dt.datetime.fromisoformat(s).replace(tzinfo=None) for s in stamps]
    np.testing.assert_allclose(cal[:, :2], by_hand(naive, ["day"]), atol=1e-12)


def test_calendar_errors_are_one_line(tmp_path, series_csv):
    with pytest.raises(TaskError) as e:
        seqnas.search("rnn-macro", task="sunspots", calendar="on", trials=1, progress=False)
    assert "no time column" in one_line(e) and "--calendar" in str(e.value)
    with pytest.raises(TaskError) as e:
        seqnas.search("rnn-macro", csv=str(series_csv), target="y", calendar="search", trials=1, progress=False)
    assert "--time-column" in one_line(e)
    numeric = write_csv(tmp_path / "num.csv", noisy_series(200), [str(i) for i in range(200)])
    with pytest.raises(TaskError) as e:
        seqnas.search("rnn-macro", csv=str(numeric), target="y", time_column="time", calendar="on", trials=1, progress=False)
    assert "dates and times" in one_line(e) and "numbers" in str(e.value)
    ten_days = write_csv(tmp_path / "ten.csv", noisy_series(10), [f"2024-01-{d:02d}" for d in range(1, 11)])
    with pytest.raises(TaskError) as e:
        load_calendar(str(ten_days), "time")  # days resolve the week, but ten of them do not cover it twice
    assert "covers twice" in one_line(e)
    db = str(tmp_path / "cal.db")
    p = run(["search", "--csv", str(series_csv), "--target", "y", "--calendar", "on", "--trials", "1", "--db", db])
    assert_cli_error(p, "seqnas: error:", "--time-column")
    assert study_names(db) == []
    p = run(["search", "--csv", str(series_csv), "--target", "y", "--calendar", "sometimes", "--trials", "1", "--db", db])
    assert p.returncode == 2 and "--calendar" in p.stderr and "invalid choice" in p.stderr and "Traceback" not in p.stderr
    assert study_names(db) == []


# -- 4. a bad --window is a one-line error ----------------------------------------------------------------------------
@pytest.mark.parametrize("value, bad", [("24,x", "'x'"), ("0", "'0'"), ("-3", "'-3'"), ("24,24", "twice"), ("", "''"),
                                        ("2.5", "'2.5'"), ("auto,3", "'auto'"), ([8, 2.5], "2.5"), ([8, True], "True"),
                                        ([], "empty")])
def test_parse_window_names_the_bad_item(value, bad):
    with pytest.raises(TaskError) as e:
        parse_window(value)
    assert bad in one_line(e) and "--window" in str(e.value)


def test_parse_window_and_calendar_accept_what_they_document():
    assert parse_window(None) is None and parse_window("auto") == parse_window(" AUTO ") == "auto"
    assert parse_window("24") == parse_window(24) == parse_window([24]) == 24
    assert parse_window("96, 24,48") == parse_window([48, 24, 96]) == (24, 48, 96)
    assert parse_window(np.int64(7)) == 7
    assert [parse_mode(v) for v in (None, False, True, "off", "ON", " search ")] == ["off", "off", "on", "off", "on", "search"]
    with pytest.raises(TaskError) as e:
        parse_mode("sometimes")
    assert "'sometimes'" in one_line(e)


def test_cli_refuses_a_bad_window_list_in_one_line_before_any_study(series_csv, tmp_path):
    db = tmp_path / "bad.db"
    p = run(["search", "--csv", str(series_csv), "--target", "y", "--window", "24,x", "--trials", "1", "--db", str(db)])
    assert_cli_error(p, "seqnas: error:", "'x'")
    assert p.stderr.startswith("seqnas: error:")
    assert study_names(db) == []


# -- 5. export and predict with calendar inputs and a searched window -------------------------------------------------
@pytest.fixture(scope="module")
def hh_csv(tmp_path_factory) -> Path:
    """800 half-hours (16.7 days: day and week cycles) of a daily pattern with noise."""
    stamps = half_hours("2024-03-01 22:00", 800)
    t = np.arange(800)
    y = 10 + np.sin(2 * np.pi * t / 48) + 0.2 * np.random.default_rng(5).normal(size=800)
    return write_csv(tmp_path_factory.mktemp("hh") / "hh.csv", y, stamps)


def _predict_by_hand(out: Path, df: pd.DataFrame) -> np.ndarray:
    model, meta = load_exported(out)
    mean, std = np.asarray(meta["mean"]), np.asarray(meta["std"])
    w = meta["window"]
    x = ((df[meta["columns"]].to_numpy(np.float64)[-w:] - mean) / std).astype(np.float32)
    if meta["calendar"]:
        cycles = [n[:-4] for n in meta["calendar"][::2]]
        stamps = [dt.datetime.fromisoformat(s) for s in df["time"].iloc[-w:]]
        x = np.concatenate([x, by_hand(stamps, cycles).astype(np.float32)], axis=1)
    with torch.no_grad():
        pred = model(torch.from_numpy(x[None])).numpy()[0]
    return pred * std[0] + mean[0]


def _check_export(db: str, study: str, csv: Path, out: Path) -> dict:
    meta = export_study(study, db, out, networks_only=True, ensemble="selection")
    r = seqnas.load(study, db)
    best = Arch(r.final.arch)  # the deployed architecture is the retrained selection's
    assert meta["trial"] == r.final.number and meta["members"] == len(r.final.val)
    assert meta["window"] == best["window"] and meta["arch"] == best.to_dict()
    assert meta["task"]["reach"] == 16
    assert meta["calendar"] == (["day_sin", "day_cos", "week_sin", "week_cos"] if best.get("calendar", r.settings.task.calendar)
                                else [])
    assert meta["n_features"] == 1 + len(meta["calendar"])
    df = pd.read_csv(csv)
    f = seqnas.load_model(out)
    for rows in (df, df.iloc[:300]):
        pred = f.predict(rows)
        np.testing.assert_allclose(pred["forecast"].to_numpy(), _predict_by_hand(out, rows), rtol=1e-5, atol=1e-5)
    assert list(f.predict(df)["time"]) == [str(pd.Timestamp(df["time"].iloc[-1]) + pd.Timedelta(minutes=30 * k))
                                           for k in (1, 2)]
    # The backtest on the training file ends with the study task's test windows, forecast alike.
    data = load_task(task_for(r.settings.task, best))
    bt = f.backtest(csv).forecasts
    n_test = len(data.y_test)
    tail = bt[bt["window"] >= bt["window"].max() - n_test + 1]
    model, _ = load_exported(out)
    with torch.no_grad():
        want = model(torch.from_numpy(data.X_test)).numpy() * data.std[0] + data.mean[0]
    np.testing.assert_allclose(tail["forecast"].to_numpy().reshape(n_test, 2), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tail["actual"].to_numpy().reshape(n_test, 2), split_actual(data, "test"))
    assert list(tail["time"]) == list(df["time"].to_numpy()[data.target_rows("test").reshape(-1)])
    return meta


def test_export_and_predict_with_calendar_search_and_a_searched_window(hh_csv, tmp_path):
    db = str(tmp_path / "hh.db")
    space = {"family": "rnn-macro", "params": ONE_GRU}
    r = seqnas.search(space, csv=str(hh_csv), target="y", time_column="time", window=[8, 16], horizon=2, calendar="search",
                      strategy="grid", trials=4, seed=0, train=FAST, study="cs", db=db, final_repeats=0, progress=False)
    assert {(t.arch["window"], t.arch["calendar"]) for t in r.completed} == {(8, False), (8, True), (16, False), (16, True)}
    assert r.settings.task.reach == 16 and r.settings.task.calendar is False
    _check_export(db, "cs", hh_csv, tmp_path / "cs")
    # Calendar inputs on for every architecture: the export reads them whichever window wins.
    seqnas.search(space, csv=str(hh_csv), target="y", time_column="time", window=[8, 16], horizon=2, calendar="on",
                  strategy="grid", trials=2, seed=0, train=FAST, study="on", db=db, final_repeats=0, progress=False)
    meta = _check_export(db, "on", hh_csv, tmp_path / "on")
    assert meta["calendar"] and meta["task"]["calendar"] is True
    f = seqnas.load_model(tmp_path / "on")
    with pytest.raises(TaskError) as e:
        f.predict(pd.read_csv(hh_csv).drop(columns=["time"]))
    assert "calendar" in one_line(e) and "'time'" in str(e.value)
    with pytest.raises(TaskError) as e:
        f.backtest(pd.read_csv(hh_csv).drop(columns=["time"]))
    one_line(e)


# -- 6. darts fixes a searched window -------------------------------------------------------------------------------------
DARTS_SPACE = {"family": "rnn-macro", "params": {"cell1": ["gru", "lstm"], "hidden1": [4, 8], "lr": [0.01], "window": [8, 16]}}
DARTS_FAST = {"epochs": 1, "batch_size": 64, "top_k": 3}


@pytest.mark.parametrize("fixed, window", [(None, 8), ({"window": 16}, 16)])
def test_darts_derives_architectures_with_the_fixed_window(series_csv, tmp_path, fixed, window):
    options = dict(DARTS_FAST, **({"fixed": fixed} if fixed else {}))
    r = seqnas.search(DARTS_SPACE, csv=str(series_csv), target="y", strategy="darts", strategy_options=options, trials=2,
                      seed=0, train=FAST, study="d", db=str(tmp_path / "d.db"), final_repeats=0, progress=False)
    assert r.settings.task.reach == 16
    kinds = [(t.kind, t.state.name) for t in r.records]
    assert kinds == [("supernet", "COMPLETE"), ("arch", "COMPLETE"), ("arch", "COMPLETE")]
    derived = r.records[0].metrics["derived"]
    assert derived and all(a["window"] == window for a in derived)
    assert [t.arch["window"] for t in r.records[1:]] == [window, window]


# -- 7. spaces that declare the inputs -------------------------------------------------------------------------------
def test_a_space_file_declaring_the_window_sets_the_reach(series_csv, tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump({"family": "rnn-macro", "params": {**ONE_GRU, "window": [8, 16]}}))
    db = str(tmp_path / "s.db")
    r = seqnas.search(str(path), csv=str(series_csv), target="y", strategy="grid", trials=2, seed=0, train=FAST, study="y",
                      db=db, final_repeats=0, progress=False)
    assert r.settings.task.reach == 16 and sorted(t.arch["window"] for t in r.completed) == [8, 16]
    check_space(get_space(str(path)))  # the family does not complain about the task's parameters
    check_space(space_from_dict({"family": "rnn-macro", "params": {**ONE_GRU, "window": [8], "calendar": [False, True]}}))
    ints = space_from_dict({"family": "rnn-macro", "params": {**ONE_GRU, "window": {"type": "int", "low": 4, "high": 12}}})
    assert fit_reach(ints, TaskSpec("csv", csv="x", target="y")).reach == 12
    assert fit_reach(ints, TaskSpec("csv", csv="x", target="y", reach=30)).reach == 30


@pytest.mark.parametrize("params, words", [
    ({"window": [0, 8]}, ["'window'", "positive integers"]),
    ({"window": [8, "x"]}, ["'window'", "positive integers"]),
    ({"calendar": [1, 2]}, ["'calendar'", "true / false"]),
    ({"depth": [1, 2], "window": {"type": "categorical", "choices": [8, 16], "condition": {"parent": "depth", "values": [2]}}},
     ["'window'", "condition"]),
])
def test_a_space_with_bad_input_parameters_is_refused_before_a_study_is_written(series_csv, tmp_path, params, words):
    db = str(tmp_path / "bad.db")
    space = {"family": "rnn-macro", "params": {**ONE_GRU, **params}}
    with pytest.raises(UserError) as e:
        seqnas.search(space, csv=str(series_csv), target="y", trials=1, train=FAST, study="bad", db=db, progress=False)
    for w in words:
        assert w in one_line(e)
    assert study_names(db) == []


def test_window_and_calendar_flags_on_a_space_that_declares_them_are_refused(series_csv, tmp_path):
    space = {"family": "rnn-macro", "params": {**ONE_GRU, "window": [8, 16], "calendar": [False, True]}}
    db = str(tmp_path / "x.db")
    with pytest.raises(TaskError) as e:
        seqnas.search(space, csv=str(series_csv), target="y", time_column="time", window=[8, 24], trials=1, db=db,
                      progress=False)
    assert "'window'" in one_line(e)
    with pytest.raises(TaskError) as e:
        seqnas.search(space, csv=str(series_csv), target="y", time_column="time", calendar="search", trials=1, db=db,
                      progress=False)
    assert "'calendar'" in one_line(e)
    assert study_names(db) == []
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump(space))
    p = run(["search", "--csv", str(series_csv), "--target", "y", "--space", str(path), "--window", "8,16", "--trials", "1",
             "--db", db])
    assert_cli_error(p, "seqnas: error:", "'window'", "--window")
    assert study_names(db) == []


@pytest.mark.parametrize("flag", [{"window": 8}, {"calendar": "on"}])
def test_one_window_or_calendar_on_with_a_space_that_declares_them_is_refused(series_csv, flag):
    space = space_from_dict({"family": "rnn-macro", "params": {**ONE_GRU, "window": [8, 16], "calendar": [False, True]}})
    with pytest.raises(TaskError):
        seqnas.tasks.inputs.task_inputs(space, csv=str(series_csv), target="y", time_column="time", **flag)


def test_one_window_in_a_list_is_the_tasks_window_not_searched(series_csv):
    space, spec = seqnas.tasks.inputs.task_inputs(space_from_dict({"family": "rnn-macro", "params": ONE_GRU}),
                                                   csv=str(series_csv), target="y", window=[16])
    assert "window" not in space.names and spec.window == 16 and spec.reach is None
    assert task_for(spec, Arch({"cell1": "gru", "hidden1": 8, "lr": 0.01})) is spec
    with pytest.raises(TaskError) as e:  # a window longer than the series: one line, before the study
        seqnas.tasks.inputs.task_inputs(space, csv=str(series_csv), target="y", window=[8, 5000])
    assert "too short" in one_line(e) and "5000" in str(e.value)


def test_a_bench_task_refuses_a_searched_window_in_one_line(tmp_path):
    db = str(tmp_path / "b.db")
    with pytest.raises(UserError) as e:
        seqnas.search("rnn-macro-272", task="bench:sunspots", window=[8, 16], trials=1, db=db, progress=False)
    assert "window" in one_line(e)
    with pytest.raises(UserError) as e:
        seqnas.search("rnn-macro-272", task="bench:sunspots", calendar="on", trials=1, db=db, progress=False)
    one_line(e)
    assert study_names(db) == []


# -- 8. resume ------------------------------------------------------------------------------------------------------------
def test_an_interrupted_window_search_resumes_with_the_same_settings(series_csv, tmp_path, monkeypatch):
    import seqnas.evaluation.evaluator as evaluator_module

    space = {"family": "rnn-macro", "params": {"cell1": ["gru", "rnn_tanh", "lstm"], "hidden1": [4, 8], "lr": [0.01]}}
    kw = dict(csv=str(series_csv), target="y", window=[8, 16], strategy="random", trials=4, seed=2, train=FAST,
              final_repeats=0, progress=False)
    db = str(tmp_path / "r.db")
    whole = seqnas.search(space, **kw)
    real, calls = evaluator_module.train, []

    def interrupting(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluator_module, "train", interrupting)
    with pytest.raises(KeyboardInterrupt):
        seqnas.search(space, study="cut", db=db, **kw)
    monkeypatch.setattr(evaluator_module, "train", real)
    assert len(seqnas.load("cut", db).completed) == 2
    stored = stored_settings(db, "cut")
    assert stored["task"]["reach"] == 16
    done = seqnas.resume("cut", db, progress=False)
    assert done.settings == whole.settings and done.settings.task.reach == 16
    assert StudySettings.from_json(stored_settings(db, "cut")) == whole.settings
    assert [t.arch for t in done.completed] == [t.arch for t in whole.completed]
    assert [t.values["val_mse"] for t in done.completed] == [t.values["val_mse"] for t in whole.completed]
    # Reopened with the same arguments (a larger budget): the settings match, the study goes on.
    more = seqnas.search(space, study="cut", db=db, load_if_exists=True, **{**kw, "trials": 5})
    assert len(more.completed) == 5 and more.settings.task == whole.settings.task


# -- 9. stored settings without the new inputs are as before -----------------------------------------------------------
def test_a_task_without_window_search_or_calendar_stores_the_json_it_stored_before():
    spec = TaskSpec("csv", csv="/d/x.csv", target="y", features=("a",), time_column="t", window=24, horizon=2)
    old = {"name": "csv", "csv": "/d/x.csv", "target": "y", "features": ["a"], "time_column": "t", "window": 24,
           "horizon": 2, "val_fraction": 0.15, "test_fraction": 0.15}
    assert spec.to_json() == old and "calendar" not in spec.to_json() and "reach" not in spec.to_json()
    assert TaskSpec.from_json(old) == spec
    assert TaskSpec.from_json({"name": "sunspots", "features": None}) == TaskSpec("sunspots")
    new = TaskSpec("csv", csv="/d/x.csv", target="y", time_column="t", calendar=True, reach=96)
    assert new.to_json()["calendar"] is True and new.to_json()["reach"] == 96
    assert TaskSpec.from_json(json.loads(json.dumps(new.to_json()))) == new


def test_a_study_without_window_search_stores_the_old_settings(series_csv, tmp_path):
    db = str(tmp_path / "old.db")
    seqnas.search({"family": "rnn-macro", "params": ONE_GRU}, csv=str(series_csv), target="y", window=8, strategy="grid",
                  trials=1, train=FAST, study="o", db=db, final_repeats=0, progress=False)
    task = stored_settings(db, "o")["task"]
    assert "reach" not in task and "calendar" not in task and task["window"] == 8
    with sqlite3.connect(db) as c:
        space = json.loads(c.execute("SELECT space FROM studies WHERE name='o'").fetchone()[0])
    assert "window" not in json.dumps(space)


# -- 10. level normalisation ---------------------------------------------------------------------------------------------
def test_a_level_normalised_model_reads_the_change_from_the_last_value():
    from seqnas.models.level import LevelNormalized

    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append(x.clone())
            return x[:, -3:, 0] * 2.0  # horizon 3

    x = torch.tensor([[[1.0, 5.0], [2.0, 6.0], [4.0, 7.0], [7.0, 8.0]]])  # (1 window, 4 steps, target + feature)
    out = LevelNormalized(Probe())(x)
    assert torch.equal(seen[0][0, :, 0], torch.tensor([-6.0, -5.0, -3.0, 0.0]))  # the target relative to its last value
    assert torch.equal(seen[0][0, :, 1], x[0, :, 1])  # other columns as they are
    assert torch.equal(out, torch.tensor([[2 * -5.0 + 7, 2 * -3.0 + 7, 0.0 + 7]]))  # the change, plus the last value
    model = seqnas.models.build(Arch({"depth": 1, "cell1": "gru", "hidden1": 8, "level": True}), "rnn-macro", 2, 3)
    plain = seqnas.models.build(Arch({"depth": 1, "cell1": "gru", "hidden1": 8}), "rnn-macro", 2, 3)
    assert isinstance(model, LevelNormalized) and not isinstance(plain, LevelNormalized)


def test_level_normalisation_follows_co2s_trend_and_the_search_picks_it(tmp_path):
    """co2's test values lie above every training value: standardised once, an RNN cannot follow them; relative to
    each window's last value it can (measured: data-unit test MSE ~200 ppm^2 without, ~0.5 with, LSTM 32)."""
    arch = {"depth": 1, "cell1": "gru", "hidden1": 16, "dropout": 0.0, "lr": 0.01}
    ev = TaskEvaluator(TaskSpec("co2"), "rnn-macro", TrainBudget(max_epochs=8, patience=3))
    plain, level = ev(Arch(arch), 0), ev(Arch({**arch, "level": True}), 0)
    assert level.metrics["test_rmse"] ** 2 < 0.1 * plain.metrics["test_rmse"] ** 2
    space = {"family": "rnn-macro", "params": {"cell1": ["gru"], "hidden1": [16], "lr": [0.01]}}
    r = seqnas.search(space, task="co2", level="search", strategy="grid", trials=2, seed=0, train={"max_epochs": 8, "patience": 3},
                      study="lv", db=str(tmp_path / "lv.db"), final_repeats=0, progress=False)
    assert list(r.space["level"].choices) == [False, True] and r.best_arch["level"] is True


def test_level_flags_are_checked(series_csv, tmp_path):
    with pytest.raises(TaskError, match="--level must be one of"):
        seqnas.tasks.inputs.parse_mode("sometimes", "level")
    declared = space_from_dict({"family": "rnn-macro", "params": {**ONE_GRU, "level": [False, True]}})
    with pytest.raises(TaskError, match="declares 'level' itself"):
        seqnas.tasks.inputs.task_inputs(declared, csv=str(series_csv), target="y", level="on")
    with pytest.raises((TaskError, SpaceError), match="level"):
        seqnas.tasks.inputs.check_input_params(space_from_dict({"family": "rnn-macro", "params": {**ONE_GRU, "level": [0, 1]}}))
