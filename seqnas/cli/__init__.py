"""The command line: `seqnas search | resume | show | export | predict` and the race commands
(`compare`, `report`, `dashboard`); the console script is ``seqnas.cli:main``.

- ``types``: argument types and `--option [STRATEGY.]KEY=VALUE` parsing (one-line errors);
- ``parsers``: every command's arguments and the registry ``COMMANDS``;
- ``study_cmds``, ``race_cmds``: what the commands do.

Only argparse and seqnas.errors load at start: `seqnas --help` and `seqnas show` must start fast,
so each command imports what it needs (torch only for the commands that train).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from seqnas.cli.parsers import COMMANDS
from seqnas.cli.types import Parser
from seqnas.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="seqnas", description="Neural Architecture Search for recurrent sequence models.")
    parser.add_argument("--version", action="version", version="seqnas 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, (add, _, help_text, examples) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=examples,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        add(p)
    return parser


def _continue_hint(args: argparse.Namespace) -> str:
    """How to continue what Ctrl-C stopped."""
    study = getattr(args, "study", None)
    if args.command == "search" and not study:
        from seqnas.cli.study_cmds import study_name

        study = study_name(args)
    hint = f" --study {study}" if study else ""
    return f"seqnas resume{hint} --db {getattr(args, 'db', 'seqnas.db')}"


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
        print(f"\nseqnas: interrupted; finished trials are saved. Continue with: {_continue_hint(args)}", file=sys.stderr)
        return 130


__all__ = ["COMMANDS", "build_parser", "main"]
