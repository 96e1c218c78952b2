"""Two processes opening one study at the same moment: one runs it, the other is refused clearly; nothing breaks."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

import seqnas
from seqnas.errors import StudyError
from seqnas.storage import Storage
from tests.cli_helpers import FAST_TRAIN, integrity, popen, rows, write_series_csv

# A float learning rate: architectures never run out, so the study runs until it is stopped.
ENDLESS_SPACE = """\
family: rnn-macro
params:
  - {name: cell1, type: categorical, choices: [rnn_tanh, gru]}
  - {name: hidden1, type: categorical, choices: [4]}
  - {name: lr, type: float, low: 0.001, high: 0.01, log: true}
"""


def _finished(db) -> int:
    return sum(1 for r in rows(db) if r[4] != "RUNNING")


@pytest.mark.slow
def test_two_processes_start_the_same_study_at_once(tmp_path):
    csv = write_series_csv(tmp_path / "data.csv")
    space = tmp_path / "endless.yaml"
    space.write_text(ENDLESS_SPACE)
    db = tmp_path / "runs.db"
    args = ["search", "--csv", str(csv), "--target", "load", "--window", "8", "--horizon", "2", "--space", str(space),
            "--trials", "100000", *FAST_TRAIN, "--workers", "1", "--no-progress", "--study", "shared", "--db", str(db)]
    procs = [popen(args), popen(args)]  # started together: both race to create the study and take its lease
    try:
        deadline = time.monotonic() + 240
        while all(p.poll() is None for p in procs) and time.monotonic() < deadline:
            time.sleep(0.05)
        refused = [p for p in procs if p.poll() is not None]
        assert len(refused) == 1, "exactly one of the two must be refused"
        loser = refused[0]
        runner = next(p for p in procs if p is not loser)
        out, err = loser.communicate()
        assert loser.returncode == 2, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert err.startswith("seqnas: error: study 'shared' is being run by process ")
        assert f":{runner.pid}; wait for it to finish or stop it first" in err

        # The runner goes on; meanwhile the study can be read, and a third opener (this process) is refused too.
        while _finished(db) < 3 and runner.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runner.poll() is None
        assert len(seqnas.load("shared", str(db)).records) >= 3
        storage = Storage(db, create=False)
        try:
            with pytest.raises(StudyError, match=f"being run by process {socket.gethostname()}:{runner.pid}"):
                storage.acquire(storage.get_study("shared"))
        finally:
            storage.close()

        os.killpg(runner.pid, signal.SIGINT)  # Ctrl-C: stops cleanly
        out, err = runner.communicate(timeout=120)
        assert runner.returncode == 130, err
        assert "interrupted; finished trials are saved" in err and "Traceback" not in err
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    assert integrity(db) == "ok"
    trials = rows(db)
    hashes = [r[6] for r in trials]
    assert len(hashes) == len(set(hashes))  # no architecture twice
    assert all(r[16] == 1 for r in trials)  # no trial run twice
    assert sum(1 for r in trials if r[4] == "RUNNING") <= 1  # at most the one Ctrl-C interrupted
    storage = Storage(db, create=False)
    assert storage.conn.execute("SELECT owner FROM studies").fetchone()[0] is None  # the lease was released
    storage.close()
