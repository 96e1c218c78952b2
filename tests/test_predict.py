"""From search to forecast: `seqnas predict` (and --backtest) and `seqnas.load_model(path).predict(df)` on an export,
in real subprocesses on a CSV with a time column; the forecasts of the training file reproduce the evaluator's test-split
forecasts exactly; bad input is one line and exit 2; the errors in the data's own units in show, the trials DataFrame,
the export README and the race table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

import seqnas
from seqnas.errors import ConfigError, TaskError, UserError
from seqnas.evaluation.metrics import UNIT_METRICS
from seqnas.evaluation.training import split_forecast
from seqnas.report.data import Run
from seqnas.report.stats import summarize
from seqnas.report.tables import result_table
from seqnas.show import render_study
from seqnas.tasks import TaskSpec, load_task
from seqnas.timeaxis import continue_times, infer_time_step, parse_times
from tests.cli_helpers import run, search_demo
from tests.conftest import TINY_MACRO, TINY_TRAIN


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A CLI search of 3 trials on an hourly CSV (target load, feature temp, time column date, window 8, horizon 2),
    its networks exported with `seqnas export --networks-only` (LightGBM beats these tiny networks on validation)."""
    d = tmp_path_factory.mktemp("predict")
    csv, _, db, p = search_demo(d, 3, 2, "--final-repeats", "0")
    assert p.returncode == 0, p.stderr
    out = d / "best"
    p = run(["export", "--study", "demo", "--db", str(db), "--out", str(out), "--networks-only", "--ensemble", "selection"])
    assert p.returncode == 0, p.stderr
    meta = json.loads((out / "arch.json").read_text())
    return {"dir": d, "csv": csv, "db": db, "out": out, "meta": meta}


def _one_line_error(p, *needles: str) -> None:
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqnas: error: "), p.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_the_export_carries_what_a_forecast_needs(exported):
    meta, data = exported["meta"], load_task(TaskSpec.from_json(exported["meta"]["task"]))
    assert meta["columns"] == ["load", "temp"] and meta["target"] == "load" and meta["time_column"] == "date"
    assert (meta["window"], meta["horizon"]) == (8, 2)
    assert meta["mean"] == data.mean.tolist() and meta["std"] == data.std.tolist()
    assert meta["time_step"] == {"kind": "datetime", "freq": "h", "seconds": 3600.0}
    y = np.loadtxt(exported["csv"], delimiter=",", skiprows=1, usecols=1)[: data.info["scaling_rows"]]
    assert meta["naive_mae"] == pytest.approx(np.abs(np.diff(y)).mean(), rel=1e-12)
    retrained = meta["retrained_metrics"]
    assert set(m for m in UNIT_METRICS) <= set(retrained) and len(retrained["test_mae_per_step"]) == 2
    readme = (exported["out"] / "README.md").read_text()
    assert "Errors in the data's own units" in readme and f"| test | mae | {retrained['test_mae']:.4g} |" in readme
    assert "seqnas predict --model" in readme and "seqnas.load_model(" in readme


def test_backtest_of_the_training_csv_reproduces_the_evaluators_test_forecasts_exactly(exported):
    """Same windows, same numbers after unscaling: in Python and through the command (CSV written and read back)."""
    model = seqnas.load_model(exported["out"])
    data = load_task(TaskSpec.from_json(exported["meta"]["task"]))
    forecast, actual = split_forecast(model.model, data, "test")
    start, h = data.info["test_start"], data.horizon
    bt = model.backtest(exported["csv"])
    assert bt.windows == data.info["windows"]
    test = bt.forecasts[bt.forecasts["window"] >= start]
    assert np.array_equal(test["forecast"].to_numpy().reshape(-1, h), forecast)
    assert np.array_equal(test["actual"].to_numpy().reshape(-1, h), actual)
    # The test windows' errors are the retrained model's test figures of the export.
    from seqnas.forecast import error_table

    table = error_table(forecast, actual, model.naive_mae).set_index("step")
    retrained = exported["meta"]["retrained_metrics"]
    for m in ("mae", "rmse", "smape", "mase"):
        assert table.loc["all", m] == pytest.approx(retrained[f"test_{m}"], rel=1e-12)
        assert table.loc["2", m] == pytest.approx(retrained[f"test_{m}_per_step"][1], rel=1e-12)

    out = exported["dir"] / "backtest.csv"
    p = run(["predict", "--model", str(exported["out"]), "--csv", str(exported["csv"]), "--backtest", "--out", str(out)])
    assert p.returncode == 0, p.stderr
    assert f"{bt.windows} windows x 2 step(s)" in p.stdout and "errors in the units of load" in p.stdout
    assert "mase" in p.stdout and "Traceback" not in p.stderr
    written = pd.read_csv(out, float_precision="round_trip")  # pandas 2 reads the last digit otherwise
    assert list(written.columns) == ["window", "origin", "step", "date", "actual", "forecast", "error"]
    cli_test = written[written["window"] >= start]
    assert np.array_equal(cli_test["forecast"].to_numpy().reshape(-1, h), forecast)
    # Window i reads rows i..i+7 and forecasts rows i+8, i+9: the time column says which.
    dates = pd.read_csv(exported["csv"], dtype=str)["date"]
    first = cli_test.iloc[0]
    assert first["origin"] == dates[start + 7] and first["date"] == dates[start + 8] and first["step"] == 1


def test_predict_forecasts_the_horizon_after_the_last_row_with_the_time_column_continued(exported, tmp_path):
    """On the training file cut after the last test window's inputs, predict gives the evaluator's last test
    forecast, and the time column continues hourly (the rows the file had next)."""
    data = load_task(TaskSpec.from_json(exported["meta"]["task"]))
    model = seqnas.load_model(exported["out"])
    forecast, _ = split_forecast(model.model, data, "test")
    lines = exported["csv"].read_text().splitlines()
    last_window = data.info["windows"] - 1
    cut = tmp_path / "cut.csv"
    cut.write_text("\n".join(lines[: 1 + last_window + 8]) + "\n")
    out = tmp_path / "forecast.csv"
    p = run(["predict", "--model", str(exported["out"]), "--csv", str(cut), "--out", str(out)])
    assert p.returncode == 0, p.stderr
    got = pd.read_csv(out, float_precision="round_trip")
    assert list(got.columns) == ["step", "date", "forecast"] and got["step"].tolist() == [1, 2]
    assert np.array_equal(got["forecast"].to_numpy(), forecast[-1])
    nxt = [lines[1 + last_window + 8 + k].split(",")[0] for k in range(2)]
    assert [pd.Timestamp(t) for t in got["date"]] == [pd.Timestamp(t) for t in nxt]
    # Without --out: the CSV on standard output; after the file's last row (2021-01-10 23:00).
    p = run(["predict", "--model", str(exported["out"]), "--csv", str(exported["csv"])])
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0] == "step,date,forecast"
    assert [r.split(",")[1] for r in p.stdout.splitlines()[1:]] == ["2021-01-11 00:00:00", "2021-01-11 01:00:00"]
    # Python: the same numbers from a DataFrame (the default is the data the model was trained on).
    df = pd.read_csv(exported["csv"])
    fc = model.predict(df)
    assert fc["forecast"].to_numpy() == pytest.approx(np.array([float(r.split(",")[2]) for r in p.stdout.splitlines()[1:]]))
    assert model.predict()["forecast"].tolist() == fc["forecast"].tolist()
    assert model.predict(df.drop(columns=["date"])).columns.tolist() == ["step", "forecast"]  # no time column: no times


def test_bad_input_is_one_line_and_exit_2(exported, tmp_path):
    model = str(exported["out"])
    csv = exported["csv"]
    lines = csv.read_text().splitlines()
    other = tmp_path / "other.csv"
    other.write_text("date,load\n" + "\n".join(line.rsplit(",", 1)[0] for line in lines[1:]) + "\n")
    _one_line_error(run(["predict", "--model", model, "--csv", str(other)]), "['temp'] not in")
    short = tmp_path / "short.csv"
    short.write_text("\n".join(lines[:8]) + "\n")  # 7 rows; the model reads 8
    _one_line_error(run(["predict", "--model", model, "--csv", str(short)]), "7 rows, too few")
    short.write_text("\n".join(lines[:10]) + "\n")  # 9 rows: one forecast, no backtest window (8 + 2)
    assert run(["predict", "--model", model, "--csv", str(short)]).returncode == 0
    _one_line_error(run(["predict", "--model", model, "--csv", str(short), "--backtest"]), "too few for one backtest window")
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([lines[0], *lines[1:20], lines[20].replace(lines[20].split(",")[1], "high"), *lines[21:]]) + "\n")
    _one_line_error(run(["predict", "--model", model, "--csv", str(bad)]), "non-numeric value 'high' at data row 20")
    _one_line_error(run(["predict", "--model", str(tmp_path), "--csv", str(csv)]), "not a seqnas export")
    _one_line_error(run(["predict", "--model", model, "--csv", str(tmp_path / "missing.csv")]), "does not exist")
    # The same mistakes from Python: UserErrors with the same messages.
    m = seqnas.load_model(exported["out"])
    df = pd.read_csv(csv)
    with pytest.raises(TaskError, match=r"\['temp'\] not in the data"):
        m.predict(df.drop(columns=["temp"]))
    with pytest.raises(TaskError, match="non-numeric value 'x' at data row 3"):
        m.predict(df.assign(temp=["x" if i == 2 else str(v) for i, v in enumerate(df["temp"])]))
    with pytest.raises(TaskError, match="too few"):
        m.backtest(df.head(9))
    with pytest.raises(UserError):
        m.predict(42)


def test_show_the_trials_frame_and_the_race_table_carry_the_errors_in_the_data_units(exported):
    r = seqnas.load("demo", str(exported["db"]))
    df = r.trials
    assert {*UNIT_METRICS, "test_mae_per_step"} <= set(df.columns) and df["val_mase"].notna().all()
    assert df["test_mae_per_step"].map(len).eq(2).all()
    p = run(["show", "--study", "demo", "--db", str(exported["db"])])
    assert p.returncode == 0, p.stderr
    assert "errors in the units of load (best trial)" in p.stdout and "test_mase" in p.stdout
    best = dict(r.best_trial.metrics)
    assert f"{best['test_mae']:.4g}" in p.stdout
    # A study stored before these measures existed still shows (without their table).
    for rec in r.records:
        rec.metrics = {k: v for k, v in rec.metrics.items() if not k.startswith(("val_m", "val_r", "val_s", "test_m",
                                                                                  "test_r", "test_s"))
                       or k in ("val_mse", "test_mse")}
    con = Console(record=True, width=200)
    render_study(r, console=con)
    text = con.export_text()
    assert "best trial #" in text and "errors in the units" not in text
    # The race table: the selected architecture's test MAE and MASE per strategy, "-" for a run without them.
    full = seqnas.load("demo", str(exported["db"]))
    runs = [Run("demo", "random", 0, full.records, True)]
    from seqnas.report.data import RaceData

    data = RaceData("x", "x", ["random"], [0], runs, full.settings, "custom")
    table = result_table(summarize(data), [], runs).set_index("Strategy")
    assert table.loc["random", "Test MAE"] == f"{best['test_mae']:.4g} (1 seed)"
    assert table.loc["random", "test_mase_mean"] == pytest.approx(best["test_mase"])
    old = [Run("demo", "random", 0, r.records, True)]
    assert result_table(summarize(RaceData("x", "x", ["random"], [0], old, full.settings, "custom")), [], old)[
        "Test MAE"].tolist() == ["-"]


def test_search_on_an_error_in_the_data_units_and_forecast_a_builtin_task(tmp_path):
    """--objectives val_mae is minimised like val_mse; an export of a built-in task backtests its own series."""
    db = str(tmp_path / "runs.db")
    r = seqnas.search(TINY_MACRO, task="sunspots", strategy="random", trials=3, seed=0, objectives="val_mae",
                      train=TINY_TRAIN, final_repeats=0, db=db, study="mae", progress=False)
    assert r.objectives == ("val_mae",)
    assert r.best_trial.value == min(t.metrics["val_mae"] for t in r.completed) == r.best_trial.metrics["val_mae"]
    with pytest.raises(ConfigError, match="test split"):
        seqnas.search(TINY_MACRO, task="sunspots", objectives="test_mae", trials=1, train=TINY_TRAIN, progress=False)
    from seqnas.export import export_study

    export_study("mae", db, tmp_path / "best", networks_only=True, ensemble="selection")
    model = seqnas.load_model(tmp_path / "best")
    assert model.columns == ["sunspots"] and model.time_column is None
    data = load_task(TaskSpec("sunspots"))
    forecast, _ = split_forecast(model.model, data, "test")
    bt = model.backtest()  # the built-in series itself
    assert list(bt.forecasts.columns) == ["window", "origin", "step", "row", "actual", "forecast", "error"]
    test = bt.forecasts[bt.forecasts["window"] >= data.info["test_start"]]
    assert np.array_equal(test["forecast"].to_numpy().reshape(-1, 3), forecast)
    assert model.predict()["step"].tolist() == [1, 2, 3]


def test_time_steps_are_inferred_and_continued():
    monthly = parse_times(pd.Series(["1990-01-01", "1990-02-01", "1990-03-01", "1990-04-01"]))
    step = infer_time_step(monthly)
    assert step is not None and step["freq"] == "MS"
    assert [str(t.date()) for t in continue_times(monthly.iloc[-1], step, 3)] == ["1990-05-01", "1990-06-01", "1990-07-01"]
    numbers = parse_times(pd.Series(["10", "15", "20", "30", "35"]))  # one gap: the most common step wins
    step = infer_time_step(numbers)
    assert step == {"kind": "number", "step": 5.0, "integer": True}
    assert continue_times(numbers.iloc[-1], step, 2) == [40, 45]
    irregular = parse_times(pd.Series(["2021-01-01 00:00", "2021-01-01 00:30", "2021-01-01 01:00", "2021-01-01 02:00"]))
    step = infer_time_step(irregular)
    assert step is not None and step["freq"] is None and step["seconds"] == 1800.0
    assert continue_times(irregular.iloc[-1], step, 1) == [pd.Timestamp("2021-01-01 02:30")]


def test_an_export_written_before_predict_existed_still_forecasts(exported, tmp_path):
    """An older arch.json (no target, time step or naive MAE): the step comes from the data, MASE is left out;
    an objective-function export has no model to forecast with."""
    import shutil

    old = tmp_path / "old"
    shutil.copytree(exported["out"], old)
    meta = json.loads((old / "arch.json").read_text())
    for key in ("target", "time_column", "time_step", "naive_mae", "scaling"):
        meta.pop(key)
    (old / "arch.json").write_text(json.dumps(meta))
    model = seqnas.load_model(old)
    fc = model.predict(exported["csv"])
    assert fc["date"].tolist() == ["2021-01-11 00:00:00", "2021-01-11 01:00:00"]
    assert fc["forecast"].tolist() == seqnas.load_model(exported["out"]).predict(exported["csv"])["forecast"].tolist()
    assert "mase" not in model.backtest(exported["csv"]).errors.columns
    arch_only = tmp_path / "arch-only"
    arch_only.mkdir()
    (arch_only / "arch.json").write_text(json.dumps({"arch": {"a": 1}, "study": "f"}))
    _one_line_error(run(["predict", "--model", str(arch_only)]), "architecture only")
