"""`seqnas export` of an rnn-cell study, of a darts study and of an objective-only study: what is written, and that
an exported model reloads and reproduces the retrained validation MSE."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import seqnas
from seqnas.cli import main
from seqnas.errors import UserError
from seqnas.export import export_study, load_exported
from seqnas.models.rnn_cell import CellRNN
from seqnas.tasks import TaskSpec, load_task
from seqnas.trial import TrialState
from tests.conftest import SEQNAS, TINY_MACRO, TINY_TRAIN

# A tiny rnn-cell space: 2 nodes, 12 cells, 6 hidden units.
TINY_CELL = {"family": "rnn-cell", "params": {
    "node1_input": [0], "node1_act": ["tanh", "identity"],
    "node2_input": [0, 1], "node2_act": ["tanh", "relu", "identity"],
    "hidden": [6],
}}
DARTS_OPTIONS = {"epochs": 2, "batch_size": 64, "top_k": 4}


def _export_cli(study: str, db: str, out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([*SEQNAS, "export", "--study", study, "--db", db, "--out", str(out)], capture_output=True, text=True,
                       env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    return p


def _check_exported_model(out: Path, study: str, db: str) -> dict:
    """arch.json names the best trial and its architecture; model.pt reloads into a model that gives the retrained
    validation and test MSE on the task's own windows; retraining with the study's seed gave the searched value."""
    assert {"arch.json", "model.pt", "README.md"} <= {f.name for f in out.iterdir()}
    best = seqnas.load(study, db).best_trial
    assert best is not None and best.kind == "arch" and best.state is TrialState.COMPLETE
    on_disk = json.loads((out / "arch.json").read_text())
    assert on_disk["arch"] == best.arch.to_dict() and on_disk["trial"] == best.number and on_disk["study"] == study
    model, meta = load_exported(out)
    assert meta == on_disk and not model.training
    data = load_task(TaskSpec.from_json(meta["task"]))
    assert np.allclose(meta["mean"], data.mean) and np.allclose(meta["std"], data.std)
    assert (meta["n_features"], meta["window"], meta["horizon"]) == (data.n_features, data.window, data.horizon)
    with torch.no_grad():
        val = float(((model(torch.from_numpy(data.X_val)) - torch.from_numpy(data.y_val)) ** 2).mean())
        test = float(((model(torch.from_numpy(data.X_test)) - torch.from_numpy(data.y_test)) ** 2).mean())
    assert val == pytest.approx(meta["retrained_metrics"]["val_mse"], rel=1e-5)
    assert test == pytest.approx(meta["retrained_metrics"]["test_mse"], rel=1e-5)
    assert meta["retrained_metrics"]["val_mse"] == pytest.approx(best.value, rel=1e-6)
    assert sum(p.numel() for p in model.parameters()) == meta["retrained_metrics"]["params"] == best.metrics["params"]
    readme = (out / "README.md").read_text()
    assert f"best trial #{best.number}" in readme and "load_exported" in readme
    return meta


def test_export_of_an_rnn_cell_study(tmp_path, env):
    db = str(tmp_path / "runs.db")
    r = seqnas.search(TINY_CELL, task="sunspots", strategy="random", trials=3, seed=4, train=TINY_TRAIN, final_repeats=0,
                      db=db, study="cell", progress=False)
    assert len(r.completed) == 3
    out = tmp_path / "best-cell"
    p = _export_cli("cell", db, out, env)
    assert f"exported the architecture and retrained weights of trial #{r.best_trial.number}" in p.stdout
    meta = _check_exported_model(out, "cell", db)
    assert meta["family"] == "rnn-cell" and meta["strategy"] == "random"
    model, _ = load_exported(out)
    assert isinstance(model, CellRNN)
    # The architecture in arch.json is the best of the three, by validation MSE.
    assert meta["arch"] == min(r.completed, key=lambda t: t.value).arch.to_dict()


def test_export_of_a_darts_study_writes_the_best_derived_architecture(tmp_path, env):
    db = str(tmp_path / "runs.db")
    r = seqnas.search(TINY_MACRO, task="sunspots", strategy="darts", strategy_options=dict(DARTS_OPTIONS), trials=3, seed=1,
                      train=TINY_TRAIN, final_repeats=0, db=db, study="oneshot", progress=False)
    assert [t.kind for t in r.records] == ["supernet", "arch", "arch", "arch"]
    supernet = r.records[0]
    out = tmp_path / "best-darts"
    _export_cli("oneshot", db, out, env)
    meta = _check_exported_model(out, "oneshot", db)
    # The exported trial is a derived architecture trained from scratch, not the supernet trial.
    assert meta["trial"] != supernet.number and meta["family"] == "rnn-macro" and meta["strategy"] == "darts"
    assert meta["arch"] in supernet.metrics["derived"][:3]
    assert meta["arch"] == r.best_arch.to_dict()


def _objective(arch) -> float:
    return (arch["a"] - 2) ** 2 + arch["b"]


def test_export_of_an_objective_only_study_writes_the_architecture_alone(tmp_path, capsys):
    db = str(tmp_path / "runs.db")
    space = {"params": {"a": [1, 2, 3], "b": {"type": "float", "low": 0.0, "high": 1.0}}}
    r = seqnas.search(space, objective=_objective, strategy="random", trials=12, seed=0, db=db, study="obj", progress=False)
    best = r.best_trial
    assert best is not None and best.value == min(t.value for t in r.completed)
    out = tmp_path / "best-obj"
    meta = export_study("obj", db, out)
    assert {f.name for f in out.iterdir()} == {"arch.json"}  # no model to retrain or load
    on_disk = json.loads((out / "arch.json").read_text())
    assert on_disk == meta
    assert meta["arch"] == best.arch.to_dict() and meta["trial"] == best.number and meta["study"] == "obj"
    assert _objective(meta["arch"]) == pytest.approx(best.value)
    assert meta["searched_metrics"]["value"] == pytest.approx(best.value)
    assert "n_features" not in meta and "task" not in meta
    with pytest.raises(UserError, match="architecture only"):
        load_exported(out)
    # The command says what it wrote (an architecture, no weights).
    again = tmp_path / "again"
    assert main(["export", "--study", "obj", "--db", db, "--out", str(again)]) == 0
    assert f"exported the architecture of trial #{best.number}" in capsys.readouterr().out
    assert json.loads((again / "arch.json").read_text()) == on_disk


def test_the_export_message_of_an_objective_only_study_names_no_missing_file(tmp_path, capsys):
    db = str(tmp_path / "runs.db")
    seqnas.search({"params": {"a": [1, 2, 3]}}, objective=lambda a: float(a["a"]), strategy="random", trials=3, db=db,
                  study="obj", progress=False)
    out = tmp_path / "best"
    assert main(["export", "--study", "obj", "--db", db, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for word in printed.replace("(", " ").replace(")", " ").split():
        if word.startswith(str(out)):
            assert Path(word).exists(), f"the message points to {word}, which does not exist: {printed!r}"
