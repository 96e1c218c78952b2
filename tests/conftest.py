"""Shared fixtures: tiny spaces, tiny training budgets, temporary databases."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
import yaml

from seqnas.space import space_from_dict
from seqnas.testing.driver import TINY_TRAIN as TINY_TRAIN  # re-exported for the tests
from seqnas.testing.spaces import TINY_MACRO

ROOT = Path(__file__).resolve().parents[1]
SEQNAS = [sys.executable, "-m", "seqnas.cli"]

if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    # Started in the background without job control (`nohup ... &`, some CI shells): SIGINT is
    # ignored, and every `seqnas` the tests start would inherit that and never see the Ctrl-C
    # the interrupt tests send. A handler, unlike SIG_IGN, is reset to the default on exec.
    signal.signal(signal.SIGINT, signal.default_int_handler)

# A training budget small enough for tests, still real torch training, and the one tiny rnn-macro-family
# space of the suite (60 architectures, each trains in a fraction of a second): the public kit's.
TINY_TRAIN_ARGS = ["--max-epochs", "3", "--patience", "2", "--batch-size", "64"]
TINY_SPACE_YAML = yaml.safe_dump(TINY_MACRO, sort_keys=False, default_flow_style=None)


def burn_cpu(seconds: float) -> None:
    """Spend this much CPU time in this thread: a planted cost for budget tests."""
    t = time.process_time()
    while time.process_time() - t < seconds:
        pass


@pytest.fixture
def tiny_macro():
    """A small rnn-macro-family space (depth 1-2, narrow layers) that trains in well under a second."""
    return space_from_dict(TINY_MACRO)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "runs.db")


@pytest.fixture
def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    return e


@pytest.fixture
def plant_family():
    """Register a model family for one test: ``plant_family(name, model, lr=0.01)``; removed afterwards."""
    from contextlib import ExitStack

    from seqnas.families import Family, registered_family

    with ExitStack() as stack:
        def plant(name: str, model, lr: float = 0.01) -> None:
            stack.enter_context(registered_family(Family(name, model=model, learning_rate=lambda a: lr)))

        yield plant
