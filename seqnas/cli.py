"""The command line: `seqnas search | resume | show | export | predict` (and the race commands)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from seqnas.errors import ConfigError, UserError

# Only argparse and seqnas.errors at the top: `seqnas --help` and `seqnas show` must start fast,
# so each command imports what it needs (torch only for the commands that train).


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line and exit code 2 (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"seqnas: error: {message} (see `{self.prog} --help`)\n")


def _positive_int(name: str) -> Callable[[str], int]:
    def parse(s: str) -> int:
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a positive integer, got {s!r}") from None
        if v <= 0:
            raise argparse.ArgumentTypeError(f"{name} must be a positive integer, got {s!r}")
        return v

    return parse


def _positive_float(name: str) -> Callable[[str], float]:
    def parse(s: str) -> float:
        try:
            v = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a positive number, got {s!r}") from None
        if not v > 0 or v == float("inf"):
            raise argparse.ArgumentTypeError(f"{name} must be a positive number, got {s!r}")
        return v

    return parse


def _options(pairs: Sequence[str] | None) -> dict[str, Any]:
    """--option key=value (value parsed as JSON when it can be: numbers, true/false, lists)."""
    out: dict[str, Any] = {}
    for pair in pairs or ():
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"strategy option {pair!r} must look like key=value")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _scheduler_options(args: argparse.Namespace) -> dict[str, Any]:
    """--option pairs, plus --scheduler / --min-epochs / --eta (multi-fidelity) where given."""
    from seqnas.strategies import STRATEGIES, MultiFidelity

    out = _options(args.option)
    for key in ("scheduler", "min_epochs", "eta"):
        if getattr(args, key) is not None:
            out[key] = getattr(args, key)
    scheduled = args.strategy in STRATEGIES and issubclass(STRATEGIES[args.strategy], MultiFidelity)
    if ("min_epochs" in out or "eta" in out) and "scheduler" not in out and not scheduled:
        raise ConfigError("--min-epochs and --eta set a multi-fidelity scheduler: give --scheduler asha|hyperband|sh too")
    return out


def _seeds(s: str) -> int | list[int]:
    """--seeds: a count N (seeds 0..N-1), a range A-B (both included) or a comma-separated list."""
    try:
        if "," in s:
            out = [int(x) for x in s.split(",") if x.strip()]
        elif "-" in s.strip()[1:]:
            a, b = (int(x) for x in s.split("-", 1))
            out = list(range(a, b + 1))
        else:
            n = int(s)
            if n < 1:
                raise ValueError
            return n
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds must be a count N, a range A-B or a list 0,1,2, got {s!r}") from None
    if not out or any(k < 0 for k in out) or len(set(out)) != len(out):
        raise argparse.ArgumentTypeError(f"--seeds must name distinct non-negative seeds, got {s!r}")
    return out


def _csv_list(s: str | None) -> list[str]:
    return [x.strip() for x in (s or "").split(",") if x.strip()]


# -- shared argument groups ----------------------------------------------------------------------
def add_task_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("task")
    g.add_argument("--task", help="built-in task: mackey-glass, sunspots (default), co2, elnino")
    g.add_argument("--csv", help="your own series: a CSV file with a header row")
    g.add_argument("--target", help="CSV column to forecast")
    g.add_argument("--features", help="comma-separated extra CSV input columns")
    g.add_argument("--time-column", help="CSV timestamp column (checked: parseable, sorted, no duplicates)")
    g.add_argument("--window", type=_positive_int("--window"), help="input length (default: per task, 24 for CSV)")
    g.add_argument("--horizon", type=_positive_int("--horizon"), help="steps to predict (default: per task, 1 for CSV)")


def _nonneg(name: str) -> Callable[[str], int]:
    def parse(s: str) -> int:
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a non-negative integer, got {s!r}") from None
        if v < 0:
            raise argparse.ArgumentTypeError(f"{name} must be a non-negative integer, got {s!r}")
        return v

    return parse


def add_final_args(p: argparse.ArgumentParser, default: int | None) -> None:
    g = p.add_argument_group("retraining of the selected architecture (outside the budget)")
    g.add_argument("--final-repeats", type=_nonneg("--final-repeats"), default=default, metavar="R",
                   help=f"train the best architecture again R times with fresh seeds (0: no retraining; default {default})")
    g.add_argument("--final-top", type=_positive_int("--final-top"), default=None, metavar="M",
                   help="retrain the best M architectures of the search and select the one with the lowest mean "
                        "retrained validation MSE (default 3; 1: the search's best)")


def add_training_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training of each architecture")
    g.add_argument("--max-epochs", type=_positive_int("--max-epochs"), default=60)
    g.add_argument("--patience", type=_positive_int("--patience"), default=8, help="early-stopping patience (epochs)")
    g.add_argument("--batch-size", type=_positive_int("--batch-size"), default=32)


def add_execution_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("execution")
    g.add_argument("--workers", type=_positive_int("--workers"), default=None,
                   help="trials in flight (default: the number of cores)")
    g.add_argument("--executor", choices=["inline", "pool", "ray"],
                   help="inline (one trial at a time, in this process), pool (default with >1 worker) or ray")
    g.add_argument("--ray-address", metavar="auto|HOST:PORT",
                   help="run on this Ray cluster (implies --executor ray); without it, ray starts a private local instance")
    g.add_argument("--trial-timeout", type=_positive_float("--trial-timeout"), metavar="SECONDS",
                   help="stop an architecture trial after this long and record it FAILED (runs trials in worker "
                        "processes; resume keeps the study's limit unless given)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_db_args(p: argparse.ArgumentParser, study_required: bool = True) -> None:
    p.add_argument("--study", required=study_required, help="study name")
    p.add_argument("--db", default="seqnas.db", help="SQLite file (default: seqnas.db)")


def _workers(args: argparse.Namespace) -> int | None:
    from seqnas.execution import default_workers

    if args.workers is None and args.ray_address:
        return None  # a Ray cluster: one trial per CPU it has
    return args.workers or default_workers()


# -- commands --------------------------------------------------------------------------------------
def cmd_search(args: argparse.Namespace) -> int:
    from seqnas.api import search
    from seqnas.final import DEFAULT_TOP

    trials = args.trials  # None with no budget at all: the strategy's default (api.search)
    result = search(
        args.space, task=args.task, csv=args.csv, target=args.target, features=_csv_list(args.features),
        time_column=args.time_column, window=args.window, horizon=args.horizon, strategy=args.strategy,
        strategy_options=_scheduler_options(args), trials=trials, seconds=args.seconds, cpu_seconds=args.cpu_seconds,
        seed=args.seed, objectives=args.objectives, max_params=args.max_params,
        train={"max_epochs": args.max_epochs, "patience": args.patience, "batch_size": args.batch_size},
        study=args.study or f"{args.strategy}-{args.task or ('csv' if args.csv else 'sunspots')}-seed{args.seed}",
        db=args.db, workers=_workers(args), executor=args.executor, trial_timeout=args.trial_timeout,
        ray_address=args.ray_address, final_repeats=args.final_repeats,
        final_top=DEFAULT_TOP if args.final_top is None else args.final_top,
        progress=not args.no_progress,
    )
    _print_summary(result)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from seqnas.api import resume

    result = resume(args.study, args.db, workers=_workers(args), executor=args.executor, trial_timeout=args.trial_timeout,
                    ray_address=args.ray_address, progress=not args.no_progress)
    _print_summary(result)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from seqnas.api import load, retrain
    from seqnas.final import DEFAULT_TOP
    from seqnas.show import render_study

    if args.final_repeats:
        result = retrain(args.study, args.db, repeats=args.final_repeats,
                         top=DEFAULT_TOP if args.final_top is None else args.final_top, workers=args.workers)
    else:
        result = load(args.study, args.db)
    render_study(result, top=args.top)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from seqnas.export import export_study

    meta = export_study(args.study, args.db, args.out)
    if "n_features" in meta:
        print(f"exported the architecture and retrained weights of trial #{meta['trial']} to {args.out} "
              f"(see {args.out}/README.md)")
    else:  # an objective-function study: there is no model, only the architecture
        print(f"exported the architecture of trial #{meta['trial']} to {args.out}/arch.json")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from seqnas.forecast import load_model

    model = load_model(args.model)
    data = args.csv  # None: the data the model was trained on
    source = args.csv or "the training data"
    to_stdout = args.out is None or args.out == "-"
    if args.backtest:
        bt = model.backtest(data)
        _write_csv(bt.forecasts, args.out)
        note = sys.stderr if to_stdout else sys.stdout
        where = "" if to_stdout else f" written to {args.out}"
        print(f"backtest of {source}: {bt.windows} windows x {model.horizon} step(s) of {model.target!r}{where}", file=note)
        _print_errors(bt.errors, model, note)
        return 0
    fc = model.predict(data)
    _write_csv(fc, args.out)
    if not to_stdout:
        print(f"forecast of the {model.horizon} step(s) of {model.target!r} after the last row of {source}, "
              f"written to {args.out}:")
        print(fc.to_string(index=False))
    return 0


def _write_csv(frame: Any, out: str | None) -> None:
    from pathlib import Path

    if out is None or out == "-":
        frame.to_csv(sys.stdout, index=False)
        return
    p = Path(out)
    if p.is_dir():
        raise ConfigError(f"--out {out!r} is a directory; give a file name such as {str(p / 'forecasts.csv')!r}")
    try:
        frame.to_csv(p, index=False)
    except OSError as e:
        raise UserError(f"cannot write {out!r}: {e.strerror}") from None


def _print_errors(table: Any, model: Any, file: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"errors in the units of {model.target}", title_justify="left")
    for c in table.columns:
        t.add_column(str(c), justify="right")
    for _, row in table.iterrows():
        t.add_row(*[v if isinstance(v, str) else f"{v:.4g}" for v in row.tolist()])
    con = Console(file=file, width=160)
    con.print(t)
    naive = "" if model.naive_mae is None else f" ({model.naive_mae:.4g})"
    con.print(f"sMAPE, MAPE in %; MASE: MAE / the in-sample naive forecast's MAE{naive}, < 1 beats repeating the last value")


def _print_summary(result: Any) -> None:
    from seqnas.show import render_study

    render_study(result, top=10)


COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int], str, str]] = {}


def command(name: str, help: str, examples: str) -> Callable[[Callable[[argparse.ArgumentParser], None]], Callable[[argparse.ArgumentParser], None]]:
    """Register a subcommand: the decorated function adds its arguments; ``run_<name>`` runs it."""

    def deco(add: Callable[[argparse.ArgumentParser], None]) -> Callable[[argparse.ArgumentParser], None]:
        COMMANDS[name] = (add, globals()[f"cmd_{name}"], help, examples)
        return add

    return deco


@command("search", "search a space on a task with one strategy", """examples:
  seqnas search --task sunspots --space rnn-macro --strategy random --trials 30 --seed 0 --study demo --db runs.db
  seqnas search --csv data.csv --target load --strategy grid --trials 50 --study mine --db runs.db
  seqnas search --task co2 --strategy random --seconds 600 --workers 2 --study co2 --db runs.db
  seqnas search --space myspace.yaml --task sunspots --objectives val_mse,params --max-params 20000 --study small
  seqnas search --task sunspots --strategy bohb --cpu-seconds 300 --max-epochs 27 --study mf --db runs.db
  seqnas search --task sunspots --strategy evolution --scheduler asha --min-epochs 1 --eta 3 --cpu-seconds 300""")
def _add_search(p: argparse.ArgumentParser) -> None:
    add_task_args(p)
    p.add_argument("--space", default="rnn-macro", help="built-in space (rnn-macro) or a .yaml/.json space file")
    p.add_argument("--strategy", default="random", help="search strategy: random, grid, evolution, rl, bayesian, local, "
                   "darts, or a multi-fidelity one: hyperband, bohb, asha-evolution")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="strategy option (repeatable)")
    g = p.add_argument_group("multi-fidelity (train to a few epochs first; promote the best 1/eta, continuing their training)")
    g.add_argument("--scheduler", choices=["asha", "hyperband", "sh"], help="put the strategy under this scheduler")
    g.add_argument("--min-epochs", type=_positive_int("--min-epochs"), help="epochs of the lowest rung (default 1); "
                   "the highest is --max-epochs")
    g.add_argument("--eta", type=_positive_int("--eta"), help="reduction factor: 1/eta of a rung is promoted (default 3)")
    g = p.add_argument_group("budget (the first reached ends the study; default --trials 30, darts: 1)")
    g.add_argument("--trials", type=_positive_int("--trials"))
    g.add_argument("--seconds", type=_positive_float("--seconds"), help="wall-clock seconds")
    g.add_argument("--cpu-seconds", type=_positive_float("--cpu-seconds"), help="CPU-seconds of evaluation")
    p.add_argument("--seed", type=_nonneg("--seed"), default=0)
    p.add_argument("--objectives", default=None, help="comma-separated, minimised: val_mse (default), params, latency, or "
                   "an error in the data's own units on validation: val_mae, val_rmse, val_smape, val_mape, val_mase")
    p.add_argument("--max-params", type=_positive_int("--max-params"), help="larger models fail without training")
    add_final_args(p, default=3)
    add_training_args(p)
    add_execution_args(p)
    add_db_args(p, study_required=False)


@command("resume", "continue a stored study to its budget", """examples:
  seqnas resume --study demo --db runs.db
  seqnas resume --study demo --db runs.db --workers 2""")
def _add_resume(p: argparse.ArgumentParser) -> None:
    add_db_args(p)
    add_execution_args(p)


@command("show", "best architecture, its metrics, the top trials and the failures", """examples:
  seqnas show --study demo --db runs.db
  seqnas show --study demo --db runs.db --top 20
  seqnas show --study demo --db runs.db --final-repeats 5   # retrain the best 5 times (stored)""")
def _add_show(p: argparse.ArgumentParser) -> None:
    add_db_args(p)
    p.add_argument("--top", type=_positive_int("--top"), default=10)
    add_final_args(p, default=0)
    p.add_argument("--workers", type=_positive_int("--workers"), default=1, help="retrainings in parallel (default 1)")


@command("export", "retrain the best architecture and write it with its weights", """examples:
  seqnas export --study demo --db runs.db --out best/""")
def _add_export(p: argparse.ArgumentParser) -> None:
    add_db_args(p)
    p.add_argument("--out", required=True, help="directory to write arch.json, model.pt and README.md")


@command("predict", "forecast with an exported model, or backtest it over a file", """examples:
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


# -- the strategy race (seqnas/compare.py, seqnas/report/) ------------------------------------------------
def cmd_compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    try:
        result = _run_compare(args)
    except KeyboardInterrupt:
        db = args.db or str(Path(args.out or "report") / "race.db")
        print(f"\nseqnas: interrupted; finished trials are saved. Continue with: seqnas compare --resume --db {db}", file=sys.stderr)
        return 130
    return _print_race(result.table, result.files, result.errors)


def _run_compare(args: argparse.Namespace) -> Any:
    from seqnas.compare import compare, resume_race
    from seqnas.final import DEFAULT_TOP

    if args.resume:
        given = [f"--{k.replace('_', '-')}" for k in ("task", "csv", "space", "strategies", "seeds", "option", "max_params",
                                                         "max_epochs", "patience", "batch_size") if getattr(args, k) is not None]
        if given:
            raise ConfigError(f"--resume continues the race stored in --db with its own settings; drop {', '.join(given)}")
        if not args.db:
            raise ConfigError("--resume needs --db, the race's SQLite file")
        return resume_race(args.db, race=args.race, out=args.out, workers=args.workers, trials=args.trials,
                           cpu_seconds=args.cpu_seconds, trial_timeout=args.trial_timeout,
                           final_repeats=args.final_repeats, final_top=args.final_top,
                           progress=not args.no_progress)
    options: dict[str, dict[str, Any]] = {}
    for key, value in _options(args.option).items():
        strategy, dot, name = key.partition(".")
        if not dot or not name:
            raise ConfigError(f"race option {key!r} must look like STRATEGY.KEY=VALUE, e.g. evolution.population=10")
        options.setdefault(strategy, {})[name] = value
    train = {k: v for k, v in (("max_epochs", args.max_epochs), ("patience", args.patience), ("batch_size", args.batch_size))
             if v is not None}
    return compare(
        args.space or "rnn-macro", task=args.task, csv=args.csv, target=args.target, features=_csv_list(args.features),
        time_column=args.time_column, window=args.window, horizon=args.horizon, strategies=args.strategies or "all",
        strategy_options=options, trials=args.trials, cpu_seconds=args.cpu_seconds, seeds=args.seeds or 3,
        max_params=args.max_params, train=train, db=args.db, out=args.out or "report", race=args.race or "race",
        workers=args.workers, trial_timeout=args.trial_timeout,
        final_repeats=3 if args.final_repeats is None else args.final_repeats,
        final_top=DEFAULT_TOP if args.final_top is None else args.final_top,
        charge_strategy=not args.no_charge_strategy, progress=not args.no_progress)


def cmd_report(args: argparse.Namespace) -> int:
    from seqnas.report import build_report

    report = build_report(args.db, args.out, race=args.race)
    return _print_race(report.table, report.files, {})


def _print_race(table: Any, files: dict[str, str], errors: dict[str, str]) -> int:
    from seqnas.report import print_table

    print_table(table)
    if files.get("html"):
        print(f"report: {files['html']} (self-contained; Markdown: {files['markdown']}, table: {files['csv']})")
    for study, err in errors.items():
        print(f"seqnas: study {study} stopped with an error: {err}", file=sys.stderr)
    if errors:
        print("seqnas: the other studies finished; fix the cause and run `seqnas compare --resume --db ...`", file=sys.stderr)
    return 1 if errors else 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from seqnas.dashboard import run as run_dashboard

    return run_dashboard(args)  # serves until Ctrl-C


@command("dashboard", "live optuna-dashboard of every study in a database (read-only, on 127.0.0.1)", """examples:
  seqnas dashboard --db runs.db
  seqnas dashboard --db report/race.db --port 8081""")
def _add_dashboard(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", required=True, help="the seqnas SQLite file (read only)")
    p.add_argument("--port", type=_nonneg("--port"), default=8080, help="port on 127.0.0.1 (default 8080; 0: any free port)")


@command("compare", "race search strategies on one task: same space, budget and seeds; write the report", """examples:
  seqnas compare --task sunspots --space rnn-macro --strategies all --trials 30 --seeds 3 --out report/
  seqnas compare --task sunspots --strategies evolution,rl,darts --cpu-seconds 120 --seeds 5 --out race/
  seqnas compare --csv data.csv --target load --strategies all --trials 20 --out myrace/ --max-epochs 30
  seqnas compare --resume --db report/race.db
  seqnas compare --resume --db report/race.db --final-repeats 5   # retrain each selection 5 times""")
def _add_compare(p: argparse.ArgumentParser) -> None:
    add_task_args(p)
    p.add_argument("--space", help="built-in space (default rnn-macro) or a .yaml/.json space file")
    p.add_argument("--strategies", help="'all' (default: every registered strategy) or a comma-separated list")
    p.add_argument("--option", action="append", metavar="STRATEGY.KEY=VALUE", help="strategy option (repeatable)")
    g = p.add_argument_group("budget of each run (one strategy, one seed); default --trials 30")
    g.add_argument("--trials", type=_positive_int("--trials"), help="finished architecture trials")
    g.add_argument("--cpu-seconds", type=_positive_float("--cpu-seconds"), help="CPU-seconds of evaluation")
    p.add_argument("--seeds", type=_seeds, help="runs per strategy: N (seeds 0..N-1, default 3), a range A-B or a list "
                   "such as 5,6,7")
    g.add_argument("--no-charge-strategy", action="store_true",
                   help="leave the strategies' own CPU time (ask/tell) out of --cpu-seconds (the report says so)")
    p.add_argument("--max-params", type=_positive_int("--max-params"), help="larger models fail without training")
    add_final_args(p, default=None)
    add_training_args(p)
    p.set_defaults(max_epochs=None, patience=None, batch_size=None)  # None: the default, and not given with --resume
    g = p.add_argument_group("execution")
    g.add_argument("--workers", type=_positive_int("--workers"), help="studies run at once, one worker process each "
                   "(default: the number of cores); each study runs its trials one after another")
    g.add_argument("--trial-timeout", type=_positive_float("--trial-timeout"), metavar="SECONDS",
                   help="stop an architecture trial after this long and record it FAILED")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--out", help="report directory (default: report/)")
    p.add_argument("--db", help="the race's SQLite file (default: <out>/race.db)")
    p.add_argument("--race", help="race name inside the database (default: race)")
    p.add_argument("--resume", action="store_true", help="continue the race stored in --db (finished studies are kept)")


@command("report", "rebuild a race's report (table, plots, Markdown, HTML) from its database", """examples:
  seqnas report --db report/race.db --out report/""")
def _add_report(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", required=True, help="the race's SQLite file")
    p.add_argument("--out", required=True, help="directory to write report.html, report.md, results.csv/json and PNGs")
    p.add_argument("--race", help="race name (needed only when the database holds several)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="seqnas", description="Neural Architecture Search for recurrent sequence models.")
    parser.add_argument("--version", action="version", version="seqnas 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (add, _, help_text, examples) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=examples,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        add(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command][1](args)
    except UserError as e:
        print(f"seqnas: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`seqnas report ... | head`): nothing more to print, nothing lost
        # (results are stored before they are printed). Point stdout at /dev/null so the
        # interpreter's final flush does not raise again, and exit as a SIGPIPE would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        study = getattr(args, "study", None)
        hint = f" --study {study}" if study else ""
        print(f"\nseqnas: interrupted; finished trials are saved. Continue with: seqnas resume{hint} --db {getattr(args, 'db', 'seqnas.db')}",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
