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
from seqnas.export import Ensemble, export_study, load_exported
from seqnas.models.rnn_cell import CellRNN
from seqnas.tasks import BUILTIN_TASKS, TaskSpec, load_task
from seqnas.tasks.inputs import task_for
from tests.conftest import SEQNAS, TINY_MACRO, TINY_TRAIN

# A tiny rnn-cell space: 2 nodes, 12 cells, 6 hidden units.
TINY_CELL = {"family": "rnn-cell", "params": {
    "node1_input": [0], "node1_act": ["tanh", "identity"],
    "node2_input": [0, 1], "node2_act": ["tanh", "relu", "identity"],
    "hidden": [6],
}}
DARTS_OPTIONS = {"epochs": 2, "batch_size": 64, "top_k": 4}


def _export_cli(study: str, db: str, out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([*SEQNAS, "export", "--study", study, "--db", db, "--out", str(out), "--networks-only", "--ensemble", "selection"], capture_output=True, text=True,
                       env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    return p


def _check_exported_model(out: Path, study: str, db: str) -> dict:
    """arch.json names the study's retrained selection (not the search's best single training) and its
    architecture; model.pt reloads into the ensemble of the selection's stored retrainings: each member
    reproduces its stored retraining's validation and test MSE (so it is that training's weights, not a new
    one), and the forecast is their mean, computed here member by member."""
    assert {"arch.json", "model.pt", "README.md"} <= {f.name for f in out.iterdir()}
    r = seqnas.load(study, db)
    final = r.final
    assert final is not None and final.members
    on_disk = json.loads((out / "arch.json").read_text())
    assert on_disk["trial"] == final.number and on_disk["arch"] == final.arch and on_disk["study"] == study
    assert on_disk["members"] == len(final.val) == len(final.members)
    model, meta = load_exported(out)
    assert meta == on_disk and not model.training
    assert isinstance(model, Ensemble) and len(model.members) == meta["members"]
    data = load_task(task_for(TaskSpec.from_json(meta["task"]), final.arch))
    assert np.allclose(meta["mean"], data.mean) and np.allclose(meta["std"], data.std)
    assert (meta["n_features"], meta["window"], meta["horizon"]) == (data.n_features, data.window, data.horizon)
    X_val, y_val, X_test, y_test = (torch.from_numpy(a) for a in (data.X_val, data.y_val, data.X_test, data.y_test))
    with torch.no_grad():
        outs = [(m.eval()(X_val), m(X_test)) for m in model.members]
        for (v, t), want_val, want_test in zip(outs, final.val, final.test):
            assert float(((v - y_val) ** 2).mean()) == pytest.approx(want_val, rel=1e-5)
            assert float(((t - y_test) ** 2).mean()) == pytest.approx(want_test, rel=1e-5)
        mean_val = sum(v for v, _ in outs) / len(outs)
        mean_test = sum(t for _, t in outs) / len(outs)
        torch.testing.assert_close(model(X_val), mean_val, rtol=1e-5, atol=1e-6)
    assert float(((mean_val - y_val) ** 2).mean()) == pytest.approx(meta["retrained_metrics"]["val_mse"], rel=1e-5)
    assert float(((mean_test - y_test) ** 2).mean()) == pytest.approx(meta["retrained_metrics"]["test_mse"], rel=1e-5)
    assert sum(p.numel() for p in model.parameters()) == meta["retrained_metrics"]["params"]
    readme = (out / "README.md").read_text()
    assert f"trial #{final.number}" in readme and f"mean of {len(final.val)} network(s)" in readme and "load_exported" in readme
    return meta


def test_export_of_an_rnn_cell_study(tmp_path, env):
    db = str(tmp_path / "runs.db")
    r = seqnas.search(TINY_CELL, task="sunspots", strategy="random", trials=3, seed=4, train=TINY_TRAIN, final_repeats=2,
                      final_top=2, db=db, study="cell", progress=False)
    assert len(r.completed) == 3
    out = tmp_path / "best-cell"
    p = _export_cli("cell", db, out, env)
    assert f"exported the selection, trial #{r.final.number}: the mean of 2 retrained network(s)" in p.stdout
    meta = _check_exported_model(out, "cell", db)
    assert meta["family"] == "rnn-cell" and meta["strategy"] == "random"
    model, _ = load_exported(out)
    assert all(isinstance(m, CellRNN) for m in model.members)
    # The architecture in arch.json is the retrained selection: the lowest mean retrained validation MSE of the candidates.
    assert meta["arch"] == r.final.arch
    assert r.final.val_mse == min(c["val_mse"] for c in r.final.candidates)


def test_export_of_a_darts_study_writes_the_selected_derived_architecture(tmp_path, env):
    db = str(tmp_path / "runs.db")
    r = seqnas.search(TINY_MACRO, task="sunspots", strategy="darts", strategy_options=dict(DARTS_OPTIONS), trials=3, seed=1,
                      train=TINY_TRAIN, final_repeats=0, db=db, study="oneshot", progress=False)
    assert [t.kind for t in r.records] == ["supernet", "arch", "arch", "arch"]
    supernet = r.records[0]
    out = tmp_path / "best-darts"
    p = _export_cli("oneshot", db, out, env)  # never retrained: the export retrains its top 3 first, and says so
    assert "no retrained selection yet" in p.stderr
    meta = _check_exported_model(out, "oneshot", db)
    # The exported trial is a derived architecture trained from scratch, not the supernet trial.
    assert meta["trial"] != supernet.number and meta["family"] == "rnn-macro" and meta["strategy"] == "darts"
    assert meta["arch"] in supernet.metrics["derived"][:3]


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


# -- export = the stored selection, as its members ------------------------------------------------------------------------
def _planted_reversal(db: str) -> tuple[int, int]:
    """A study whose stored retrainings reverse the search's order: the search's best trial is retrained worst.
    Returns (search's best trial, the planted selection)."""
    from seqnas.final import STATE_KEY
    from seqnas.storage import Storage

    r = seqnas.search(TINY_MACRO, task="sunspots", strategy="random", trials=4, seed=3, train=TINY_TRAIN, final_repeats=2,
                      final_top=3, db=db, study="planted", progress=False)
    ranked = [t for t in r.ranked()][:3]
    best, last = ranked[0], ranked[-1]
    storage = Storage(db)
    try:
        row = storage.get_study("planted")
        state = storage.get_state(row, STATE_KEY)
        for key, val in ((best.arch.key, 9.0), (last.arch.key, 0.01)):  # the search's best retrains worst, the third best
            for entry in state["runs"][key].values():
                entry["val_mse"] = val
        storage.set_state(row, STATE_KEY, state)
    finally:
        storage.close()
    return best.number, last.number


def test_export_deploys_the_stored_selection_not_the_searchs_best(tmp_path):
    db = str(tmp_path / "runs.db")
    best, planted = _planted_reversal(db)
    assert best != planted
    meta = export_study("planted", db, tmp_path / "out", networks_only=True, ensemble="selection")
    assert meta["trial"] == planted and meta["members"] == 2
    r = seqnas.load("planted", db)
    assert meta["arch"] == next(t for t in r.records if t.number == planted).arch.to_dict()
    # The members are the stored retrainings' weights, copied, not trained again: their files are what model.pt holds.
    folder = Path(db + ".checkpoints")
    files = sorted(folder.rglob(f"{r.final.members[0]['weights']}"))
    assert len(files) == 1
    stored = torch.load(files[0], weights_only=True)
    model, _ = load_exported(tmp_path / "out")
    for name, value in stored.items():
        torch.testing.assert_close(model.members[0].state_dict()[name], value)


def test_export_members_chooses_how_many_networks_and_refuses_zero(tmp_path, env):
    db = str(tmp_path / "runs.db")
    seqnas.search(TINY_MACRO, task="sunspots", strategy="random", trials=2, seed=0, train=TINY_TRAIN, final_repeats=3,
                  final_top=1, db=db, study="s", progress=False)
    meta = export_study("s", db, tmp_path / "one", members=1, networks_only=True, ensemble="selection")
    model, _ = load_exported(tmp_path / "one")
    assert meta["members"] == 1 and len(model.members) == 1 and meta["member_seeds"] == seqnas.final.final_seeds(0, 1)
    for bad in ("0", "-1", "x"):
        out = tmp_path / f"bad{bad}"
        p = subprocess.run([*SEQNAS, "export", "--study", "s", "--db", db, "--out", str(out), "--members", bad, "--networks-only", "--ensemble", "selection"],
                           capture_output=True, text=True, env=env, timeout=120)
        assert p.returncode == 2 and "--members" in p.stderr and "Traceback" not in p.stderr
        assert not out.exists()  # nothing written
    with pytest.raises(UserError, match="at most that"):
        export_study("s", db, tmp_path / "four", members=4)
    assert not (tmp_path / "four").exists()


def test_an_export_written_before_members_loads_and_predicts(tmp_path):
    """model.pt of one bare network, arch.json without "members": what every export before the ensemble wrote."""
    db = str(tmp_path / "runs.db")
    seqnas.search(TINY_MACRO, task="sunspots", strategy="random", trials=2, seed=0, train=TINY_TRAIN, final_repeats=1,
                  final_top=1, db=db, study="s", progress=False)
    export_study("s", db, tmp_path / "new", networks_only=True, ensemble="selection")
    model, meta = load_exported(tmp_path / "new")
    old = tmp_path / "old"
    old.mkdir()
    for k in ("members", "member_seeds", "members_metrics"):
        meta.pop(k)
    (old / "arch.json").write_text(json.dumps(meta))
    torch.save(model.members[0].state_dict(), old / "model.pt")
    f = seqnas.load_model(old)
    bare, _ = load_exported(old)
    assert not isinstance(bare, Ensemble)
    # By hand: the last window of the series, standardised, through the bare network, back in the data's units.
    series = np.asarray(BUILTIN_TASKS["sunspots"].load(), dtype=np.float64)
    mean, std, w = np.asarray(meta["mean"]), np.asarray(meta["std"]), meta["window"]
    x = torch.from_numpy(((series[-w:] - mean) / std).astype(np.float32)[None])
    with torch.no_grad():
        want = bare(x).numpy()[0].astype(np.float64) * std[0] + mean[0]
    np.testing.assert_allclose(f.predict()["forecast"].to_numpy(), want, rtol=1e-5, atol=1e-6)
    # A one-member ensemble of the same weights forecasts the same.
    np.testing.assert_allclose(seqnas.load_model(tmp_path / "new").predict()["forecast"].to_numpy(), want, rtol=1e-5, atol=1e-6)


def _final_runs(db: str) -> dict:
    """The stored retrainings (arch key -> seed -> entry), read from the file directly (never through the product)."""
    import sqlite3

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as c:
        row = c.execute("SELECT value FROM study_state WHERE key='final'").fetchone()
    return json.loads(row[0])["runs"] if row else {}


def test_a_kill_during_the_retraining_resumes_without_training_a_member_twice(tmp_path, env):
    """SIGKILL once some retrainings are stored: `seqnas resume` trains only the missing ones; the stored ones keep their
    entries and weight files untouched (same bytes, same modification time)."""
    import os
    import signal
    import time

    db = str(tmp_path / "k.db")
    args = [*SEQNAS, "search", "--task", "sunspots", "--strategy", "random", "--trials", "3", "--seed", "0", "--max-epochs",
            "40", "--patience", "40", "--final-repeats", "3", "--final-top", "2", "--db", db, "--study", "k", "--no-progress"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True)
    deadline = time.monotonic() + 240
    before: dict = {}
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            before = _final_runs(db)
        except Exception:  # noqa: BLE001 - the file may not exist yet or be mid-write
            before = {}
        if sum(len(v) for v in before.values()) >= 2:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait(timeout=60)
    done = {(k, s): e for k, per in before.items() for s, e in per.items()}
    assert 2 <= len(done) < 6, f"the kill did not land during the retraining: {len(done)} stored"
    folder = Path(db + ".checkpoints")
    stamps = {e["weights"]: next(folder.rglob(e["weights"])).stat().st_mtime_ns for e in done.values()}
    p = subprocess.run([*SEQNAS, "resume", "--study", "k", "--db", db, "--no-progress"], capture_output=True, text=True,
                       env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    after = {(k, s): e for k, per in _final_runs(db).items() for s, e in per.items()}
    assert len(after) == 6  # 2 candidates x 3 seeds, each once
    for key, entry in done.items():
        assert after[key] == entry  # not trained again
    for name, stamp in stamps.items():
        assert next(folder.rglob(name)).stat().st_mtime_ns == stamp
    assert len(list(folder.rglob("*.pt"))) >= 6 and not list(folder.rglob(".*.tmp"))
