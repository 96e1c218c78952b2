"""The arguments of every command, and the registry of commands (name -> arguments, handler, help, examples).

Shared groups first (task, training, retraining, execution, database), then one function per
command. A flag means one thing in every command that has it: `--workers` is "trials in flight"
(`search`, `resume`; `show`: retrainings in parallel), `--parallel-runs` is a race's "runs at once";
`--option [STRATEGY.]KEY=VALUE` is a strategy option everywhere.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from seqnas.cli import race_cmds, study_cmds
from seqnas.cli.types import nonneg_int_arg, positive_float_arg, positive_int_arg, seeds_arg

Handler = Callable[[argparse.Namespace], int]
Adder = Callable[[argparse.ArgumentParser], None]
COMMANDS: dict[str, tuple[Adder, Handler, str, str]] = {}


def command(name: str, handler: Handler, help: str, examples: str) -> Callable[[Adder], Adder]:
    """Register a subcommand: the decorated function adds its arguments, ``handler`` runs it."""

    def deco(add: Adder) -> Adder:
        COMMANDS[name] = (add, handler, help, examples)
        return add

    return deco


# -- shared argument groups ----------------------------------------------------------------------
def add_task_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("task")
    g.add_argument("--task", help="built-in task: mackey-glass, sunspots (default), co2, elnino; or bench:sunspots, bench:co2, "
                                       "bench:elnino: look trainings up in the tabular benchmark (with --space rnn-macro-272)")
    g.add_argument("--csv", help="your own series: a CSV file with a header row")
    g.add_argument("--target", help="CSV column to forecast")
    g.add_argument("--features", help="comma-separated extra CSV input columns")
    g.add_argument("--time-column", help="CSV timestamp column (checked: parseable, sorted, no duplicates)")
    g.add_argument("--window", metavar="N|N,N,..|auto",
                   help="input length (default: per task, 24 for CSV); several, e.g. 24,48,96,168, are searched; 'auto' "
                        "searches 0.5x, 1x, 2x, 3.5x the series' dominant period (from the training part's autocorrelation)")
    g.add_argument("--horizon", type=positive_int_arg("--horizon"), help="steps to predict (default: per task, 1 for CSV)")
    g.add_argument("--calendar", choices=("off", "on", "search"), default=None,
                   help="hour-of-day, day-of-week and time-of-year inputs (sine, cosine) from --time-column: on, off "
                        "(default), or search (each architecture with or without them)")
    g.add_argument("--level", choices=("off", "on", "search"), default=None,
                   help="level normalisation: read each window relative to its last target value and forecast the change "
                        "from it (follows a trend beyond the training range): on, off (default), or search")
    g.add_argument("--base", metavar="search|off|NAME[,NAME..]", default=None,
                   help="a base forecast the network corrects: none, last, seasonal (one season back), linear (ridge on the "
                        "window); 'search' searches all four (default for a CSV with --time-column), off: none")
    g.add_argument("--highway", choices=("off", "on", "search"), default=None,
                   help="a linear autoregressive path from the window to the forecast beside the network (LSTNet): on, off, "
                        "or search (default for a CSV with --time-column)")


def add_option_arg(p: argparse.ArgumentParser, required_prefix: bool) -> None:
    if required_prefix:
        p.add_argument("--option", action="append", metavar="STRATEGY.KEY=VALUE",
                       help="an option of one of the strategies (repeatable)")
    else:
        p.add_argument("--option", action="append", metavar="[STRATEGY.]KEY=VALUE",
                       help="strategy option (repeatable); a STRATEGY. prefix, if given, must be the search's strategy")


def add_final_args(p: argparse.ArgumentParser, default: int | None) -> None:
    g = p.add_argument_group("retraining of the selected architecture (outside the budget)")
    g.add_argument("--final-repeats", type=nonneg_int_arg("--final-repeats"), default=default, metavar="R",
                   help=f"train the best architecture again R times with fresh seeds (0: no retraining; default {default})")
    g.add_argument("--final-top", type=positive_int_arg("--final-top"), default=None, metavar="M",
                   help="retrain the best M architectures of the search and select the one with the lowest mean "
                        "retrained validation MSE (default 3; 1: the search's best)")


def add_training_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training of each architecture")
    g.add_argument("--max-epochs", type=positive_int_arg("--max-epochs"), default=60)
    g.add_argument("--patience", type=positive_int_arg("--patience"), default=8, help="early-stopping patience (epochs)")
    g.add_argument("--batch-size", type=positive_int_arg("--batch-size"), default=32)


def add_execution_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("execution")
    g.add_argument("--workers", type=positive_int_arg("--workers"), default=None,
                   help="trials in flight (default: the number of cores)")
    g.add_argument("--executor", choices=["inline", "pool", "ray"],
                   help="inline (one trial at a time, in this process), pool (default with >1 worker) or ray")
    g.add_argument("--ray-address", metavar="auto|HOST:PORT",
                   help="run on this Ray cluster (implies --executor ray); without it, ray starts a private local instance")
    g.add_argument("--trial-timeout", type=positive_float_arg("--trial-timeout"), metavar="SECONDS",
                   help="stop an architecture trial after this long and record it FAILED (runs trials in worker "
                        "processes; resume keeps the study's limit unless given)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_db_args(p: argparse.ArgumentParser, study_required: bool = True) -> None:
    p.add_argument("--study", required=study_required,
                   help="study name" if study_required else "study name (default: <strategy>-seed<seed>)")
    p.add_argument("--db", default="seqnas.db", help="SQLite file (default: seqnas.db)")


# -- one study: search, resume, show, export, predict ---------------------------------------------------
@command("search", study_cmds.cmd_search, "search a space on a task with one strategy", """examples:
  seqnas search --task sunspots --space rnn-macro --strategy random --trials 30 --seed 0 --study demo --db runs.db
  seqnas search --task sunspots --strategy random --trials 50 --study demo --db runs.db --load-if-exists   # continue it
  seqnas search --csv data.csv --target load --strategy grid --trials 50 --study mine --db runs.db
  seqnas search --task co2 --strategy random --seconds 600 --workers 2 --study co2 --db runs.db
  seqnas search --space myspace.yaml --task sunspots --objectives val_mse,params --max-params 20000 --study small
  seqnas search --task sunspots --strategy evolution --option evolution.population_size=10 --trials 60
  seqnas search --task sunspots --strategy bohb --cpu-seconds 300 --max-epochs 27 --study mf --db runs.db
  seqnas search --task sunspots --strategy evolution --scheduler asha --min-epochs 1 --eta 3 --cpu-seconds 300""")
def _add_search(p: argparse.ArgumentParser) -> None:
    add_task_args(p)
    p.add_argument("--space", default="rnn-macro", help="built-in space (rnn-macro) or a .yaml/.json space file")
    p.add_argument("--strategy", default="random", help="search strategy: random, grid, evolution, rl, bayesian, local, "
                   "darts, or a multi-fidelity one: hyperband, bohb, asha-evolution")
    add_option_arg(p, required_prefix=False)
    g = p.add_argument_group("multi-fidelity (train to a few epochs first; promote the best 1/eta, continuing their training)")
    g.add_argument("--scheduler", choices=["asha", "hyperband", "sh"], help="put the strategy under this scheduler")
    g.add_argument("--min-epochs", type=positive_int_arg("--min-epochs"), help="epochs of the lowest rung (default 1); "
                   "the highest is --max-epochs")
    g.add_argument("--eta", type=positive_int_arg("--eta"), help="reduction factor: 1/eta of a rung is promoted (default 3)")
    g = p.add_argument_group("budget (the first reached ends the study; default --trials 30, darts: 1)")
    g.add_argument("--trials", type=positive_int_arg("--trials"))
    g.add_argument("--seconds", type=positive_float_arg("--seconds"), help="wall-clock seconds")
    g.add_argument("--cpu-seconds", type=positive_float_arg("--cpu-seconds"), help="CPU-seconds of evaluation")
    p.add_argument("--seed", type=nonneg_int_arg("--seed"), default=0)
    p.add_argument("--objectives", default=None, help="comma-separated, minimised: val_mse (default), params, latency, or "
                   "an error in the data's own units on validation: val_mae, val_rmse, val_smape, val_mape, val_mase")
    p.add_argument("--max-params", type=positive_int_arg("--max-params"), help="larger models fail without training")
    add_final_args(p, default=3)
    add_training_args(p)
    add_execution_args(p)
    add_db_args(p, study_required=False)
    p.add_argument("--load-if-exists", action="store_true",
                   help="continue the study if it exists already (same settings; the budget may grow); without it an "
                        "existing study is an error (`seqnas resume` continues one too)")


@command("resume", study_cmds.cmd_resume, "continue a stored study to its budget", """examples:
  seqnas resume --study demo --db runs.db
  seqnas resume --study demo --db runs.db --workers 2""")
def _add_resume(p: argparse.ArgumentParser) -> None:
    add_db_args(p)
    add_execution_args(p)


@command("show", study_cmds.cmd_show, "best architecture, its metrics, the top trials and the failures", """examples:
  seqnas show --study demo --db runs.db
  seqnas show --study demo --db runs.db --top 20
  seqnas show --study demo --db runs.db --final-repeats 5   # retrain the best 5 times (stored)""")
def _add_show(p: argparse.ArgumentParser) -> None:
    add_db_args(p)
    p.add_argument("--top", type=positive_int_arg("--top"), default=10)
    add_final_args(p, default=0)
    p.add_argument("--workers", type=positive_int_arg("--workers"), default=1, help="retrainings in parallel (default 1)")


@command("export", study_cmds.cmd_export, "write the study's selection (its retrained networks, averaged) for predict", """examples:
  seqnas export --study demo --db runs.db --out best/
  seqnas export --study demo --db runs.db --out best/ --members 1   # one network instead of the ensemble""")
def _add_export(p: argparse.ArgumentParser) -> None:
    add_db_args(p)
    p.add_argument("--out", required=True, help="directory to write arch.json, model.pt and README.md")
    p.add_argument("--members", type=positive_int_arg("--members"), default=None,
                   help="how many of the selection's retrained networks the forecast averages (default: all of them)")
    p.add_argument("--ensemble", choices=("greedy", "selection"), default="greedy",
                   help="greedy (default): where it is better on validation, a weighted ensemble picked greedily from every "
                        "retrained candidate network and the statistical forecasts; selection: the selection's networks only")
    p.add_argument("--networks-only", action="store_true",
                   help="deploy the networks even where a statistical forecast scored beside the study is better on validation")


@command("predict", study_cmds.cmd_predict, "forecast with an exported model, or backtest it over a file", """examples:
  seqnas predict --model best/ --csv new.csv                       # the horizon after the last row, as CSV
  seqnas predict --model best/ --csv new.csv --out forecasts.csv
  seqnas predict --model best/ --csv new.csv --backtest --out backtest.csv   # every window beside the truth
  seqnas predict --model best/ --backtest                          # over the data the model was trained on""")
def _add_predict(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="a directory written by `seqnas export --out`")
    p.add_argument("--csv", help="the data: a CSV file with the model's columns (default: the data it was trained on)")
    p.add_argument("--out", help="CSV file to write (default: standard output)")
    p.add_argument("--backtest", action="store_true",
                   help="slide over the file: forecast every window, beside the truth, with MAE, RMSE, sMAPE, MAPE, MASE")


# -- databases and races: dashboard, compare, report -------------------------------------------------------
@command("dashboard", race_cmds.cmd_dashboard, "live optuna-dashboard of every study in a database (read-only, on 127.0.0.1)",
         """examples:
  seqnas dashboard --db runs.db
  seqnas dashboard --db report/race.db --port 8081""")
def _add_dashboard(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", required=True, help="the seqnas SQLite file (read only)")
    p.add_argument("--port", type=nonneg_int_arg("--port"), default=8080, help="port on 127.0.0.1 (default 8080; 0: any free port)")


@command("compare", race_cmds.cmd_compare, "race search strategies on one task: same space, budget and seeds; write the report",
         """examples:
  seqnas compare --task sunspots --space rnn-macro --strategies all --trials 30 --seeds 3 --out report/
  seqnas compare --task sunspots --strategies evolution,rl,darts --cpu-seconds 120 --seeds 5 --out race/
  seqnas compare --csv data.csv --target load --strategies all --trials 20 --out myrace/ --max-epochs 30
  seqnas compare --task co2 --strategies random,evolution --trials 20 --parallel-runs 2 --option evolution.population_size=10
  seqnas compare --resume --db report/race.db
  seqnas compare --resume --db report/race.db --final-repeats 5   # retrain each selection 5 times""")
def _add_compare(p: argparse.ArgumentParser) -> None:
    add_task_args(p)
    p.add_argument("--space", help="built-in space (default rnn-macro) or a .yaml/.json space file")
    p.add_argument("--strategies", help="'all' (default: every registered strategy) or a comma-separated list")
    add_option_arg(p, required_prefix=True)
    g = p.add_argument_group("budget of each run (one strategy, one seed); default --trials 30")
    g.add_argument("--trials", type=positive_int_arg("--trials"), help="finished architecture trials")
    g.add_argument("--cpu-seconds", type=positive_float_arg("--cpu-seconds"), help="CPU-seconds of evaluation")
    p.add_argument("--seeds", type=seeds_arg, help="runs per strategy: N (seeds 0..N-1, default 3), a range A-B or a list "
                   "such as 5,6,7")
    g.add_argument("--no-charge-strategy", action="store_true",
                   help="leave the strategies' own CPU time (ask/tell) out of --cpu-seconds (the report says so)")
    p.add_argument("--max-params", type=positive_int_arg("--max-params"), help="larger models fail without training")
    add_final_args(p, default=None)
    add_training_args(p)
    p.set_defaults(max_epochs=None, patience=None, batch_size=None)  # None: the default, and not given with --resume
    g = p.add_argument_group("execution")
    g.add_argument("--parallel-runs", type=positive_int_arg("--parallel-runs"), metavar="N",
                   help="runs (one strategy, one seed) at once, one worker process each (default: the number of cores); "
                        "each run evaluates its trials one after another")
    g.add_argument("--workers", type=positive_int_arg("--workers"), metavar="N",
                   help="deprecated alias of --parallel-runs (it will be removed in the next release)")
    g.add_argument("--trial-timeout", type=positive_float_arg("--trial-timeout"), metavar="SECONDS",
                   help="stop an architecture trial after this long and record it FAILED")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--out", help="report directory (default: report/)")
    p.add_argument("--db", help="the race's SQLite file (default: <out>/race.db)")
    p.add_argument("--race", help="race name inside the database (default: race)")
    p.add_argument("--resume", action="store_true", help="continue the race stored in --db (finished studies are kept)")


@command("report", race_cmds.cmd_report, "rebuild a race's report (table, plots, Markdown, HTML) from its database", """examples:
  seqnas report --db report/race.db --out report/""")
def _add_report(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", required=True, help="the race's SQLite file")
    p.add_argument("--out", required=True, help="directory to write report.html, report.md, results.csv/json and PNGs")
    p.add_argument("--race", help="race name (needed only when the database holds several)")
