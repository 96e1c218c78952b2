"""Race report tests on planted results: statistics, key findings, table, plots and HTML, from storage alone."""

from __future__ import annotations

import base64
import json
import math
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from seqnas.errors import StudyError
from seqnas.race.spec import RaceSpec, _store_spec
from seqnas.report import build_report, load_race, summarize, val_mse
from seqnas.report.stats import holm, seeds_for_claim, smallest_p, wilcoxon_less
from seqnas.space import space_from_dict
from seqnas.storage import Storage
from seqnas.study import Budget, StudySettings, open_study
from seqnas.tasks import task_spec
from seqnas.trial import Proposal, Result, TrialState

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _darts_diag(collapsed: bool, epochs: int = 4, edges: int = 3, ops: tuple[str, ...] = ("tanh", "relu", "identity")) -> dict:
    """Diagnostics in the format the one-shot strategy stores in its supernet trial's metrics["darts"]."""
    alphas = []
    for e in range(epochs):
        # Collapse: probability mass drifts to the parameter-free op (identity).
        free = (0.3 + 0.6 * e / (epochs - 1)) if collapsed else 0.2
        rest = (1 - free) / (len(ops) - 1)
        alphas.append([[rest] * (len(ops) - 1) + [free] for _ in range(edges)])
    ent = [float(-sum(p * math.log(p) for p in alphas[e][0])) for e in range(epochs)]
    share = [alphas[e][0][-1] for e in range(epochs)]
    return {"epochs": list(range(1, epochs + 1)), "entropy": ent, "param_free_share": share,
            "supernet_val_loss": [1.0 / (e + 1) for e in range(epochs)], "alphas": alphas, "op_names": list(ops),
            "edge_names": [f"node{i}" for i in range(edges)], "collapsed": collapsed, "remedy": "early-stop on entropy"}


def plant_race(db: str, values: dict[str, list[list[float]]], *, darts: dict[int, dict] | None = None,
               failed: dict[str, int] | None = None, final_repeats: int = 0) -> RaceSpec:
    """A stored race whose trials have the given validation MSEs: values[strategy][seed] = [val_mse per trial].

    ``darts``: seed -> diagnostics of a supernet trial stored first in the "darts" runs;
    ``failed``: strategy -> number of failed trials added to each of its runs.
    """
    space = space_from_dict({"params": {"a": list(range(200))}})
    n = max(len(v) for runs in values.values() for v in runs)
    settings = StudySettings(seed=0, objectives=("val_mse",), budget=Budget(trials=n), task=task_spec("sunspots"))
    seeds = tuple(range(max(len(runs) for runs in values.values())))
    spec = RaceSpec("planted", tuple(values), seeds, space.to_json(), settings, final_repeats=final_repeats)
    storage = Storage(db)
    try:
        _store_spec(storage, spec)
        for strategy, runs in values.items():
            for seed, vals in enumerate(runs):
                row = open_study(storage, spec.study_name(strategy, seed), space, strategy, {}, spec.settings_for(seed))
                told = 0
                if strategy == "darts" and darts and seed in darts:
                    k = storage.add_trial(row, Proposal(job=print, kind="supernet"), told)
                    storage.finish_trial(row, k, Result(TrialState.COMPLETE, {}, {"darts": darts[seed], "cpu_seconds": 10.0}))
                    told += 1
                for i, v in enumerate(vals):
                    k = storage.add_trial(row, Proposal(arch=_arch(space, i)), told)
                    storage.finish_trial(row, k, Result(TrialState.COMPLETE, {"val_mse": v},
                                                        {"val_mse": v, "test_mse": 2 * v, "params": 100 + 10 * i,
                                                         "cpu_seconds": 1.0}))
                    told += 1
                for j in range((failed or {}).get(strategy, 0)):
                    k = storage.add_trial(row, Proposal(arch=_arch(space, 100 + j)), told)
                    storage.finish_trial(row, k, Result.failed("diverged: planted", 0.1, cpu_seconds=0.5))
                    told += 1
                storage.set_state(row, "race_done", {"budget": spec.settings_for(seed).budget.to_json()})
    finally:
        storage.close()
    return spec


def _arch(space, i: int):
    from seqnas.space import Arch

    return space.validate(Arch({"a": i}))


def test_paired_tests_and_holm_on_planted_samples():
    better, worse = [0.1, 0.11, 0.12, 0.13, 0.14], [1.0, 1.1, 1.2, 1.3, 1.4]
    assert wilcoxon_less(better, worse) == pytest.approx(1 / 32)  # exact: every pair better, 5 pairs
    assert wilcoxon_less(worse, better) == pytest.approx(1.0)
    assert wilcoxon_less(better, better) == 1.0 and math.isnan(wilcoxon_less([], []))
    assert smallest_p(5) == pytest.approx(1 / 32)
    # Holm: sorted p-values times (m - rank), made monotone, capped at 1 (statsmodels does the work).
    assert holm([0.01, 0.04, 0.03, math.nan]) == pytest.approx([0.03, 0.06, 0.06, math.nan], nan_ok=True)
    # 5 comparisons: a one-sided exact Wilcoxon needs 7 seeds before 5 * 2^-n < 0.05.
    assert seeds_for_claim(5) == 7 and seeds_for_claim(1) == 5


def test_a_strategy_better_in_every_seed_gets_a_holm_corrected_claim_at_enough_seeds_and_none_at_3(tmp_path):
    rng = np.random.default_rng(0)

    def race(seeds: int) -> dict:
        db = str(tmp_path / f"race{seeds}.db")
        base = [list(1.0 + 0.1 * rng.random(3)) for _ in range(seeds)]
        plant_race(db, {
            "random": base,
            "good": [list(0.2 + 0.01 * rng.random(3)) for _ in range(seeds)],  # every seed far better
            "same": [[x + 0.001 * (-1) ** i for x in v] for i, v in enumerate(base)],  # indistinguishable
            "bad": [list(3.0 + 0.1 * rng.random(3)) for _ in range(seeds)],
        })
        return {s.strategy: s for s in summarize(load_race(db))}

    by = race(8)
    good, same, bad = by["good"], by["same"], by["bad"]
    assert good.rank == 1 and bad.rank == 4 and good.mean_rank == 1.0 and bad.mean_rank == 4.0
    # Three comparisons, 8 seeds: raw p = 2^-8, Holm multiplies the smallest by 3.
    assert good.p_vs_baseline == pytest.approx(1 / 256) and good.p_holm == pytest.approx(3 / 256)
    assert good.verdict == "better" and "better than random search (Wilcoxon p=0.0039, Holm p=0.012, 8 seeds)" in good.finding
    assert same.verdict == "not distinguishable" and same.p_holm > 0.05
    assert "not distinguishable from random search at 8 seeds" in same.finding
    assert bad.verdict == "worse" and "worse than random search" in bad.finding
    assert by["random"].verdict == "baseline"
    # The search's best per seed is still reported beside the ranked figure.
    stored = [[val_mse(r) for r in run.records] for run in load_race(str(tmp_path / "race8.db")).runs_of("good")]
    assert good.best_vals == pytest.approx([min(v) for v in stored])

    by = race(3)  # the same pattern at 3 seeds: no test can reach Holm p < 0.05, and the finding says so
    assert by["good"].verdict == "not distinguishable" and by["good"].p_holm == pytest.approx(3 / 8)
    assert "a claim needs at least 6 seeds" in by["good"].finding


def test_variability_failures_and_small_samples_are_stated(tmp_path):
    db = str(tmp_path / "race.db")
    plant_race(db, {"random": [[1.0, 0.9], [1.0, 0.95], [1.0, 0.97]], "wild": [[0.2, 0.5], [2.0, 3.0], [0.9, 1.0]]},
               failed={"wild": 2})
    by = {s.strategy: s for s in summarize(load_race(db))}
    assert "consistent across seeds" in by["random"].finding
    assert "varies across seeds" in by["wild"].finding
    assert by["wild"].failed == 6 and "6 failed trials" in by["wild"].finding
    assert by["wild"].trials == 12 and by["random"].trials == 6
    # Failed trials are charged: 2 x 0.5 CPU-s on top of 2 x 1.0 per run.
    assert by["wild"].cpu == pytest.approx([3.0, 3.0, 3.0])
    # With 3 seeds a one-sided exact test cannot reach p < 0.05: the finding says so instead of implying evidence.
    assert "not distinguishable from random search at 3 seeds" in by["wild"].finding
    assert "a claim needs at least 5 seeds" in by["wild"].finding


def test_retrained_figures_rank_the_race_and_baselines_are_reference_rows(tmp_path):
    """Planted retrainings reverse the search's order: the table ranks on what a user gets."""
    from seqnas import baselines
    from seqnas.final import STATE_KEY, final_seeds
    from seqnas.race.spec import BASELINES_KEY, LSTM_KEY

    db = str(tmp_path / "race.db")
    spec = plant_race(db, {"random": [[1.0, 0.9]] * 3, "lucky": [[0.5, 0.6]] * 3}, final_repeats=2)
    storage = Storage(db)
    try:
        for strategy, test in (("random", 0.7), ("lucky", 1.4)):
            for k in spec.seeds:
                row = storage.get_study(spec.study_name(strategy, k))
                best = min(storage.trials(row), key=lambda r: r.value)
                storage.set_state(row, STATE_KEY, {"repeats": 2, "top": 1, "runs": {best.arch.key: {
                    str(s): {"val_mse": test + 0.1, "test_mse": test + 0.01 * i, "cpu_seconds": 2.0}
                    for i, s in enumerate(final_seeds(k, 2))}}})
        storage.set_meta(BASELINES_KEY + spec.name, {"persistence": {"val_mse": 3.0, "test_mse": 2.5},
                                                      "linear": {"val_mse": 0.8, "test_mse": 0.625}})
        for k in spec.seeds:
            storage.set_meta(f"{LSTM_KEY}{spec.name}/seed{k}", {"1": {"val_mse": 0.9, "test_mse": 0.8, "cpu_seconds": 4.0}})
    finally:
        storage.close()
    report = build_report(db, str(tmp_path / "out"))
    t = report.table.set_index("Strategy")
    assert list(report.table["Strategy"]) == ["random", "lucky", "baseline: persistence", "baseline: linear",
                                              "baseline: default LSTM"]
    assert t.loc["random", "rank"] == 1 and t.loc["lucky", "rank"] == 2
    assert t.loc["random", "test_mse_mean"] == pytest.approx(0.705)
    assert t.loc["lucky", "Best Validation MSE"].startswith("0.5 ")  # the search's (lucky) best stays visible
    assert "+125% vs baseline: linear" in t.loc["lucky", "Key Finding"]
    assert "retrained validation MSE +200% vs the search's best" in t.loc["lucky", "Key Finding"]
    assert t.loc["baseline: default LSTM", "test_mse_mean"] == pytest.approx(0.8)
    assert t.loc["baseline: linear", "Key Finding"].startswith("reference, not a strategy")
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {r["Strategy"] for r in saved if r["Strategy"].startswith(baselines.PREFIX)} == {
        "baseline: persistence", "baseline: linear", "baseline: default LSTM"}
    assert all("p_holm" in r and "Retrained Test MSE" in r for r in saved)
    assert (tmp_path / "out" / "retrained.png").read_bytes().startswith(PNG_MAGIC)


def test_a_failed_supernet_search_is_a_finding(tmp_path):
    db = str(tmp_path / "race.db")
    spec = plant_race(db, {"random": [[1.0, 0.9]], "darts": [[]]})
    storage = Storage(db)
    try:
        row = storage.get_study(spec.study_name("darts", 0))
        k = storage.add_trial(row, Proposal(job=print, kind="supernet"), 0)
        storage.finish_trial(row, k, Result.failed("AttributeError: no attribute 'aux_weight'", 1.0, cpu_seconds=3.0))
    finally:
        storage.close()
    darts = next(s for s in summarize(load_race(db)) if s.strategy == "darts")
    assert darts.rank is None and darts.cpu == [3.0]
    assert darts.finding.startswith("no completed trial")
    assert "1 failed supernet trial (AttributeError: no attribute 'aux_weight')" in darts.finding


def test_a_remedied_collapse_is_named_not_hidden(tmp_path):
    """darts+ stops where the collapse indicator fires and derives from the epoch before: the derived weights
    are not collapsed, but the finding must say that collapse was detected, when, and what was derived from."""
    db = str(tmp_path / "race.db")
    caught = {**_darts_diag(collapsed=False), "collapse_detected_epoch": 3, "derived_from_epoch": 2,
              "derivation_param_free_share": 0.55, "derived_param_free_share": 0.5, "collapse_threshold": 0.67,
              "remedy": "darts+"}
    clean = {**_darts_diag(collapsed=False), "collapse_detected_epoch": None, "derived_from_epoch": 4,
             "derivation_param_free_share": 0.2, "derived_param_free_share": 0.0, "collapse_threshold": 0.67,
             "remedy": "darts+"}
    plant_race(db, {"random": [[1.0], [1.0]], "darts": [[0.6], [0.7]]}, darts={0: caught, 1: clean})
    darts = next(s for s in summarize(load_race(db)) if s.strategy == "darts")
    assert darts.darts is not None and darts.darts.collapsed == 0 and darts.darts.detected_at == [3]
    assert "supernet collapse detected in 1 of 2 seeds (epoch 3); the remedy derived from the epoch before (2)" in darts.finding
    assert "parameter-free share of the weights derived from 0.38 (collapse at 0.67)" in darts.finding
    assert "no supernet collapse" not in darts.finding


def test_report_files_from_storage_alone(tmp_path):
    db, out = str(tmp_path / "race.db"), tmp_path / "report"
    plant_race(db, {"random": [[1.0, 0.8, 0.9], [1.1, 0.7, 0.95]], "darts": [[0.6, 0.65], [0.9, 0.5]]},
               darts={0: _darts_diag(collapsed=True), 1: _darts_diag(collapsed=False)})
    report = build_report(db, str(out))
    names = {p.name for p in out.iterdir()}
    assert {"report.md", "report.html", "results.csv", "results.json", "runs.csv", "best_vs_trials.png", "best_vs_cpu.png",
            "pareto.png", "alphas_darts_seed0.png", "alphas_darts_seed1.png"} <= names
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == PNG_MAGIC
    darts = next(s for s in report.summaries if s.strategy == "darts")
    assert darts.darts is not None and darts.darts.collapsed == 1 and darts.darts.runs == 2
    assert "supernet collapsed in 1/2 seeds" in darts.finding and "early-stop on entropy" in darts.finding
    # The supernet trial is charged to the run's CPU-seconds but is not an architecture trial.
    assert darts.cpu == [12.0, 12.0] and darts.trials == 4
    rows = json.loads((out / "results.json").read_text())
    assert [r["Strategy"] for r in rows] == ["darts", "random"]  # best first
    assert rows[0]["best_val_per_seed"] == [0.6, 0.5]
    md = (out / "report.md").read_text()
    assert "| Strategy | Retrained Test MSE | Retrained Val MSE | Best Validation MSE | Key Finding |" in md and "![pareto](pareto.png)" in md


class _Imgs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []
        self.cells: list[str] = []
        self._in_td = False

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.srcs.append(dict(attrs)["src"])
        self._in_td = tag == "td"

    def handle_data(self, data):
        if self._in_td:
            self.cells.append(data)


def test_html_report_is_self_contained(tmp_path):
    db, out = str(tmp_path / "race.db"), tmp_path / "r"
    plant_race(db, {"random": [[1.0, 0.8], [1.1, 0.7]], "grid": [[0.9, 0.85], [0.6, 1.2]]})
    build_report(db, str(out))
    text = (out / "report.html").read_text()
    parser = _Imgs()
    parser.feed(text)
    assert len(parser.srcs) == 3  # best vs trials, vs CPU, Pareto (nothing retrained here)
    for src in parser.srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG_MAGIC
    assert "src=\"http" not in text and "<link" not in text and "<script" not in text
    assert "grid" in parser.cells and "random" in parser.cells


def test_report_of_a_database_without_a_race_groups_studies_by_strategy(tmp_path):
    import seqnas

    db = str(tmp_path / "runs.db")
    obj = {"params": {"a": [0, 1, 2, 3], "b": [0, 1, 2]}}
    for strategy in ("random", "grid"):
        for seed in (0, 1):
            seqnas.search(obj, objective=_toy, strategy=strategy, trials=4, seed=seed, study=f"{strategy}{seed}", db=db)
    data = load_race(db)
    assert data.strategies == ["random", "grid"] and data.seeds == [0, 1]
    report = build_report(db, str(tmp_path / "out"))
    assert set(report.table["Strategy"]) == {"random", "grid"} and list(report.table["Trials"]) == [8, 8]


def _toy(arch) -> float:
    return float((arch["a"] - 2) ** 2 + arch["b"] + 0.5)


def test_unknown_race_and_missing_database_are_user_errors(tmp_path):
    db = str(tmp_path / "race.db")
    plant_race(db, {"random": [[1.0]]})
    with pytest.raises(StudyError, match="no race 'nope'.*races here: planted"):
        load_race(db, "nope")
    with pytest.raises(StudyError, match="does not exist"):
        load_race(str(tmp_path / "missing.db"))
    assert Path(db).exists()
