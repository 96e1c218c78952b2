"""Multi-objective studies end to end: the CLI with --objectives val_mse,params for evolution, rl
and bayesian on a tiny rnn-macro space (real training), the Pareto front in `seqnas show` and
in seqnas.load(...).pareto."""

from __future__ import annotations

import io
import re
import subprocess

import numpy as np
import pytest
from rich.console import Console

import seqnas
from seqnas.pareto import dominates
from seqnas.show import render_study
from seqnas.trial import TrialState
from tests.cli_helpers import FAST_TRAIN, SEQNAS, TINY_SPACE_YAML, env


@pytest.mark.parametrize("strategy, options", [
    ("evolution", ["--option", "population_size=4", "--option", "sample_size=2"]),
    ("rl", []),
    ("bayesian", ["--option", "n_startup_trials=4"]),
])
def test_multi_objective_search_on_rnn_macro_lists_the_pareto_front(tmp_path, strategy, options):
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_SPACE_YAML)
    db = str(tmp_path / "mo.db")
    run = subprocess.run(
        [*SEQNAS, "search", "--space", str(space), "--task", "sunspots", "--strategy", strategy, *options,
         "--objectives", "val_mse,params", "--max-params", "300", "--trials", "6", "--seed", "0",
         "--study", "mo", "--db", db, "--workers", "1", "--no-progress", *FAST_TRAIN],
        capture_output=True, text=True, env=env(), timeout=240)
    assert run.returncode == 0, run.stderr

    result = seqnas.load("mo", db)
    arch_records = [r for r in result.records if r.kind == "arch"]
    assert len(arch_records) == 6 and len({r.arch.key for r in arch_records}) == 6
    done = result.completed
    assert done, "no trial completed"
    # Every completed trial has both objectives; the front is exactly its non-dominated ones.
    pts = {r.number: np.array([r.values["val_mse"], r.values["params"]]) for r in done}
    expected = {n for n, p in pts.items() if not any(dominates(q, p) for m, q in pts.items() if m != n)}
    front = result.pareto
    assert set(front["number"]) == expected
    assert list(front["val_mse"]) == sorted(front["val_mse"])
    # Over --max-params: failed by constraint, without training.
    for r in arch_records:
        if r.state is TrialState.FAILED:
            assert r.error.startswith("constraint:") and "epochs" not in r.metrics

    if strategy == "evolution":  # the real command once; the same renderer in-process for the others
        shown = subprocess.run([*SEQNAS, "show", "--study", "mo", "--db", db], capture_output=True, text=True, env=env(), timeout=120)
        assert shown.returncode == 0, shown.stderr
        text = shown.stdout
    else:
        console = Console(width=200, record=True, file=io.StringIO())
        render_study(result, console=console)
        text = console.export_text()
    m = re.search(r"Pareto front \((\d+) trials\)", text)
    assert m and int(m.group(1)) == len(expected)
    table = text[m.end():]
    for n in expected:
        assert re.search(rf"^\s*│?\s*{n}\s*│", table, flags=re.MULTILINE), f"front trial #{n} not listed"


def test_the_pareto_mask_equals_the_first_front_of_the_full_sort_and_scales_to_a_race():
    """pareto_mask scans in lexicographic order against the front so far (O(n) memory): the same rows
    as the all-pairs nondominated_sort, ties and duplicates included, and a 100-seed race's 60k trials
    (whose all-pairs arrays needed 6.5 GiB each and got the report OOM-killed) in memory it can afford."""
    import numpy as np

    from seqnas.pareto import nondominated_sort, pareto_mask

    rng = np.random.default_rng(0)
    for n, d in [(200, 2), (300, 3), (50, 1)]:
        for _ in range(10):
            x = rng.integers(0, 8, size=(n, d)).astype(float)
            first = np.zeros(n, dtype=bool)
            first[nondominated_sort(x)[0]] = True
            assert (pareto_mask(x) == first).all()
            flipped = np.zeros(n, dtype=bool)
            flipped[nondominated_sort(x * np.array([-1.0] + [1.0] * (d - 1)))[0]] = True
            assert (pareto_mask(x, ["maximize"] + ["minimize"] * (d - 1)) == flipped).all()
    big = rng.random((60_000, 2))
    front = big[pareto_mask(big)]
    assert 1 <= len(front) < 50 and not any(np.all(big <= p, axis=1).sum() > 1 for p in front)
