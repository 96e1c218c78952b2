"""What `seqnas compare | report | dashboard` do (their arguments: ``seqnas.cli.parsers``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from seqnas.cli.types import csv_list, race_options, task_inputs_of
from seqnas.errors import ConfigError

WORKERS_DEPRECATED = "seqnas: warning: --workers is deprecated in compare: use --parallel-runs; it will be removed in the next release"


def parallel_runs(args: argparse.Namespace) -> int | None:
    """--parallel-runs, or its deprecated alias --workers (one warning line on stderr)."""
    if args.workers is None:
        return args.parallel_runs
    if args.parallel_runs is not None:
        raise ConfigError("give --parallel-runs only: --workers is its deprecated alias in compare")
    print(WORKERS_DEPRECATED, file=sys.stderr)
    return args.workers


def cmd_compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    runs = parallel_runs(args)
    try:
        result = _run_compare(args, runs)
    except KeyboardInterrupt:
        db = args.db or str(Path(args.out or "report") / "race.db")
        print(f"\nseqnas: interrupted; finished trials are saved. Continue with: seqnas compare --resume --db {db}", file=sys.stderr)
        return 130
    return _print_race(result.table, result.files, result.errors)


def _run_compare(args: argparse.Namespace, runs: int | None) -> Any:
    from seqnas.final import DEFAULT_TOP
    from seqnas.race import compare, resume_race

    if args.resume:
        given = [f"--{k.replace('_', '-')}" for k in ("task", "csv", "target", "features", "time_column", "window", "horizon",
                                                         "calendar", "level", "base", "highway", "space", "strategies", "seeds",
                                                         "option", "max_params", "max_epochs", "patience", "batch_size")
                 if getattr(args, k) is not None]
        if given:
            raise ConfigError(f"--resume continues the race stored in --db with its own settings; drop {', '.join(given)}")
        if not args.db:
            raise ConfigError("--resume needs --db, the race's SQLite file")
        return resume_race(args.db, race=args.race, out=args.out, workers=runs, trials=args.trials,
                           cpu_seconds=args.cpu_seconds, trial_timeout=args.trial_timeout,
                           final_repeats=args.final_repeats, final_top=args.final_top,
                           progress=not args.no_progress)
    options = race_options(args.option)
    train = {k: v for k, v in (("max_epochs", args.max_epochs), ("patience", args.patience), ("batch_size", args.batch_size))
             if v is not None}
    return compare(
        args.space or "rnn-macro", task=args.task, csv=args.csv, target=args.target, features=csv_list(args.features),
        time_column=args.time_column, horizon=args.horizon, **task_inputs_of(args), strategies=args.strategies or "all",
        strategy_options=options, trials=args.trials, cpu_seconds=args.cpu_seconds, seeds=args.seeds or 3,
        max_params=args.max_params, train=train, db=args.db, out=args.out or "report", race=args.race or "race",
        workers=runs, trial_timeout=args.trial_timeout,
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
