"""What `seqnas search | resume | show | export | predict` do (their arguments: ``seqnas.cli.parsers``).

Each handler imports what it needs when it runs: torch only for the commands that train.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from seqnas.cli.types import csv_list, search_options, task_inputs_of
from seqnas.errors import ConfigError, UserError


def scheduler_options(args: argparse.Namespace) -> dict[str, Any]:
    """--option pairs, plus --scheduler / --min-epochs / --eta (multi-fidelity) where given."""
    from seqnas.strategies import STRATEGIES, MultiFidelity

    out = search_options(args.option, args.strategy)
    for key in ("scheduler", "min_epochs", "eta"):
        if getattr(args, key) is not None:
            out[key] = getattr(args, key)
    scheduled = args.strategy in STRATEGIES and issubclass(STRATEGIES[args.strategy], MultiFidelity)
    if ("min_epochs" in out or "eta" in out) and "scheduler" not in out and not scheduled:
        raise ConfigError("--min-epochs and --eta set a multi-fidelity scheduler: give --scheduler asha|hyperband|sh too")
    return out


def workers(args: argparse.Namespace) -> int | None:
    from seqnas.execution import default_workers

    if args.workers is None and args.ray_address:
        return None  # a Ray cluster: one trial per CPU it has
    return args.workers or default_workers()


def study_name(args: argparse.Namespace) -> str:
    """The study `seqnas search` runs: --study, else the API's default name (``<strategy>-seed<seed>``)."""
    from seqnas.api import default_study_name

    return args.study or default_study_name(args.strategy, args.seed)


def cmd_search(args: argparse.Namespace) -> int:
    from seqnas.api import search
    from seqnas.final import DEFAULT_TOP
    from seqnas.study import StudyExistsError

    try:
        result = search(
            args.space, task=args.task, csv=args.csv, target=args.target, features=csv_list(args.features),
            time_column=args.time_column, horizon=args.horizon, **task_inputs_of(args), strategy=args.strategy,
            strategy_options=scheduler_options(args), trials=args.trials, seconds=args.seconds, cpu_seconds=args.cpu_seconds,
            seed=args.seed, objectives=args.objectives, max_params=args.max_params,
            train={"max_epochs": args.max_epochs, "patience": args.patience, "batch_size": args.batch_size},
            study=study_name(args), db=args.db, load_if_exists=args.load_if_exists, workers=workers(args),
            executor=args.executor, trial_timeout=args.trial_timeout, ray_address=args.ray_address,
            final_repeats=args.final_repeats, final_top=DEFAULT_TOP if args.final_top is None else args.final_top,
            progress=not args.no_progress,
        )
    except StudyExistsError as e:
        raise UserError(f"study {e.name!r} already exists in {e.db!r}; continue it with `seqnas resume --study {e.name} "
                        f"--db {e.db}` (or this search again with --load-if-exists), or give a new --study name") from None
    print_summary(result)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from seqnas.api import resume

    result = resume(args.study, args.db, workers=workers(args), executor=args.executor, trial_timeout=args.trial_timeout,
                    ray_address=args.ray_address, progress=not args.no_progress)
    print_summary(result)
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

    meta = export_study(args.study, args.db, args.out, members=args.members, networks_only=args.networks_only,
                        ensemble=args.ensemble)
    if meta.get("kind") == "ensemble":
        print(f"exported a greedy ensemble of {len(meta['parts'])} forecasters (validation MSE "
              f"{meta['retrained_metrics']['val_mse']:.4g} against {meta['selection']['val_mse']:.4g} for the selection's "
              f"networks) to {args.out} (see {args.out}/README.md)")
    elif meta.get("kind") == "statistical":
        print(f"exported the statistical forecast {meta['model']!r}: on validation it beat the networks' selection "
              f"(trial #{meta['networks']['trial']}), to {args.out} (see {args.out}/README.md; --networks-only deploys the networks)")
    elif "n_features" in meta:
        print(f"exported the selection, trial #{meta['trial']}: the mean of {meta['members']} retrained network(s), to "
              f"{args.out} (see {args.out}/README.md)")
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


def print_summary(result: Any) -> None:
    from seqnas.show import render_study

    render_study(result, top=10)
