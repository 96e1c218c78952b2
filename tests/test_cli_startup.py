"""A fast CLI: `seqnas --help`, `seqnas show` and `import seqnas` leave torch (and the other heavy
libraries) unimported, while every public name still loads on first use. Checked on `sys.modules`
in a fresh process, never on wall-clock time (bench/cli_startup.py measures that)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import seqnas
from tests.cli_helpers import env, write_series_csv
from tests.conftest import TINY_MACRO

# Never imported by a command that trains nothing. pandas only where the output is a DataFrame
# (a multi-objective study's Pareto front): not for the single-objective study below.
HEAVY = ("torch", "ray", "optuna", "matplotlib", "pandas", "scipy")

PROBE = """
import json, sys
import seqnas.cli
try:
    rc = seqnas.cli.main(sys.argv[1:])
except SystemExit as e:  # --help exits through argparse
    rc = e.code
print(json.dumps({"rc": rc, "heavy": sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))}), file=sys.stderr)
""".replace("HEAVY", repr(HEAVY))


def _probe(args: list[str]) -> tuple[int, list[str], str]:
    """Run the command in a fresh interpreter; (exit code, heavy libraries imported, stdout)."""
    p = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120, env=env())
    last = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
    try:
        found = json.loads(last)
    except json.JSONDecodeError:
        raise AssertionError(f"the probe did not report: {p.stderr[-2000:]}") from None
    return found["rc"], found["heavy"], p.stdout


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A real small CSV-task study, its best architecture retrained once (show prints every part)."""
    d = tmp_path_factory.mktemp("startup")
    csv = write_series_csv(d / "data.csv")
    db = str(d / "runs.db")
    seqnas.search(TINY_MACRO, csv=str(csv), target="load", features=["temp"], time_column="date", window=8, horizon=2,
                  strategy="random", trials=3, seed=0, train={"max_epochs": 1, "patience": 1, "batch_size": 64},
                  study="fast", db=db, workers=1, final_repeats=1, final_top=1, progress=False)
    return db


def test_show_does_not_import_torch(study):
    rc, heavy, out = _probe(["show", "--study", "fast", "--db", study])
    assert rc == 0
    assert "study fast" in out and "best trial #" in out and "retrained" in out and "errors in the units of load" in out
    assert heavy == [], f"`seqnas show` imported {heavy}"


def test_show_errors_stay_one_line_without_torch(study):
    rc, heavy, _ = _probe(["show", "--study", "nope", "--db", study])
    assert rc == 2 and heavy == []


@pytest.mark.parametrize("args", [["--help"], ["search", "--help"], ["show", "--help"], ["compare", "--help"], []])
def test_help_does_not_import_heavy_libraries(args):
    rc, heavy, out = _probe(args)
    assert rc in (0, 2) and "usage: seqnas" in out
    assert heavy == [], f"`seqnas {' '.join(args)}` imported {heavy}"


def test_public_names_load_on_first_use():
    """`import seqnas` is light; every name of __all__ resolves, `from seqnas import X` too, and
    `seqnas.compare` is the race function (of the package seqnas.race), also once that package is imported."""
    code = """
import json, sys, types
import seqnas
light = "torch" not in sys.modules and "seqnas.api" not in sys.modules
from seqnas import load_model, search, SearchSpace
import seqnas.race
from seqnas.race import compare as race
names = {n: callable(getattr(seqnas, n)) for n in seqnas.__all__}
print(json.dumps({"light": light, "names": names, "compare_is_function": seqnas.compare is race,
                  "space_is_module": isinstance(seqnas.space, types.ModuleType),
                  "same": [search is seqnas.search, load_model is seqnas.load_model, SearchSpace is seqnas.SearchSpace]}))
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env())
    assert p.returncode == 0, p.stderr
    found = json.loads(p.stdout)
    assert found["light"]
    assert found["names"] == {n: True for n in seqnas.__all__}
    assert found["compare_is_function"] and found["space_is_module"] and all(found["same"])
