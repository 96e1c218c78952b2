"""The `seqnas` command end to end, in real subprocesses: search, resume, show, export (and load the export)."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import torch

import seqnas
from seqnas.cli import COMMANDS, main
from seqnas.export import load_exported
from seqnas.tasks import TaskSpec, load_task
from tests.cli_helpers import SEQNAS, env, integrity, run, search_demo


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """One CLI search of 6 trials on a CSV task, shared by the tests of this module."""
    d = tmp_path_factory.mktemp("cli")
    csv, space, db, p = search_demo(d, 6, 1)
    assert p.returncode == 0, p.stderr
    return {"dir": d, "db": db, "csv": csv, "space": space, "stdout": p.stdout, "stderr": p.stderr}


def test_search_stores_the_study_and_prints_the_summary(study):
    out = study["stdout"]
    assert "study demo" in out and "6 complete, 0 failed" in out and "best trial #" in out and "top 6 trials" in out
    assert "Traceback" not in study["stderr"]
    r = seqnas.load("demo", str(study["db"]))
    assert len(r.records) == 6 and r.trials["state"].eq("COMPLETE").all() and r.trials["arch_hash"].is_unique
    assert r.settings.task is not None and r.settings.task.features == ("temp",) and r.settings.task.window == 8
    assert r.settings.train.max_epochs == 2 and r.settings.seed == 1
    assert integrity(study["db"]) == "ok"


def test_show_prints_best_top_table_and_metrics(study):
    p = run(["show", "--study", "demo", "--db", str(study["db"]), "--top", "3"])
    assert p.returncode == 0, p.stderr
    best = seqnas.load("demo", str(study["db"])).best_trial
    assert f"best trial #{best.number}" in p.stdout and "top 3 trials" in p.stdout
    for col in ("val_mse", "test_mse", "params", "latency_ms", "epochs"):
        assert col in p.stdout


def test_a_reader_that_stops_early_ends_the_output_quietly(study, tmp_path):
    """`seqnas export ... | head -0`: the pipe is closed when the summary line is printed; the
    export is written all the same, no traceback, exit status as SIGPIPE (rich's tables exit 1)."""
    out = tmp_path / "exported"
    proc = subprocess.Popen(SEQNAS + ["export", "--study", "demo", "--db", str(study["db"]), "--out", str(out), "--networks-only", "--ensemble", "selection"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert (out / "arch.json").exists() and (out / "model.pt").exists()


def test_export_writes_a_model_that_reproduces_the_retrained_validation_mse(study):
    out = study["dir"] / "best"
    p = run(["export", "--study", "demo", "--db", str(study["db"]), "--out", str(out), "--networks-only", "--ensemble", "selection"])
    assert p.returncode == 0, p.stderr
    assert {"arch.json", "model.pt", "README.md"} <= {f.name for f in out.iterdir()}
    assert "load_exported" in (out / "README.md").read_text()
    model, meta = load_exported(out)
    final = seqnas.load("demo", str(study["db"])).final  # the search retrained its selection: that is what is deployed
    assert meta["arch"] == final.arch and meta["trial"] == final.number and meta["members"] == len(final.val)
    data = load_task(TaskSpec.from_json(meta["task"]))
    assert np.allclose(meta["mean"], data.mean) and np.allclose(meta["std"], data.std)
    with torch.no_grad():
        pred = model(torch.from_numpy(data.X_val))
        members = [float(((m(torch.from_numpy(data.X_val)) - torch.from_numpy(data.y_val)) ** 2).mean()) for m in model.members]
    val_mse = float(((pred - torch.from_numpy(data.y_val)) ** 2).mean())
    assert val_mse == pytest.approx(meta["retrained_metrics"]["val_mse"], rel=1e-5)
    # Each member is the stored retraining (its weights kept, not trained again): the validation MSE it recorded.
    assert members == pytest.approx(final.val, rel=1e-5)
    assert json.loads((out / "arch.json").read_text())["columns"] == ["load", "temp"]


@pytest.mark.parametrize("command", ["search", "resume", "show", "export"])
def test_every_command_has_help_with_examples(command, capsys):
    assert command in COMMANDS
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"seqnas {command} " in out
