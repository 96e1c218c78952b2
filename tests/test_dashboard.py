"""`seqnas dashboard`: optuna-dashboard over a read-only view of a seqnas database, checked over HTTP and in headless Chromium."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import seqnas
from seqnas.errors import ConfigError, UserError
from tests.browser import chromium, missing, wait_for
from tests.conftest import ROOT, TINY_MACRO, TINY_TRAIN

HAS_DASHBOARD = importlib.util.find_spec("optuna_dashboard") is not None


def _search(db: str, study: str, strategy: str, trials: int, **kw) -> seqnas.SearchResult:
    return seqnas.search(TINY_MACRO, task="sunspots", strategy=strategy, trials=trials, seed=0, train=TINY_TRAIN, study=study,
                         db=db, final_repeats=0, progress=False, **kw)


@pytest.fixture(scope="module")
def study_db(tmp_path_factory) -> str:
    """hyperband (4 trials, learning curves) and random with a --max-params that fails two of three."""
    db = str(tmp_path_factory.mktemp("dash") / "runs.db")
    _search(db, "hb", "hyperband", 4)
    _search(db, "rnd", "random", 3, max_params=300)
    return db


def _fingerprint(db: str) -> tuple[str, int]:
    return hashlib.sha256(Path(db).read_bytes()).hexdigest(), Path(db).stat().st_mtime_ns


def test_without_optuna_dashboard_the_error_says_how_to_install(monkeypatch, study_db):
    from seqnas import dashboard

    monkeypatch.setitem(sys.modules, "optuna_dashboard", None)  # import fails as if not installed
    with pytest.raises(dashboard.DashboardUnavailable) as e:
        dashboard.serve(study_db, port=0)
    assert isinstance(e.value, UserError) and "\n" not in str(e.value) and "pip install 'seqnas[dashboard]'" in str(e.value)


def test_the_storage_shows_architectures_values_metrics_failures_and_curves_and_never_writes(study_db):
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import TrialState

    from seqnas.dashboard import ReadOnlyError, SeqnasStorage
    from seqnas.storage import Storage

    before = _fingerprint(study_db)
    with_seqnas = Storage(study_db, create=False)
    records = {name: with_seqnas.trials(with_seqnas.get_study(name)) for name in ("hb", "rnd")}
    with_seqnas.close()
    before = _fingerprint(study_db)  # after seqnas's own writer closed (it may checkpoint its WAL)
    storage = SeqnasStorage(study_db)
    studies = {s.study_name: s for s in storage.get_all_studies()}
    assert set(studies) == {"hb", "rnd"} and studies["hb"].user_attrs["trials"] == 4
    for name, recs in records.items():
        trials = storage.get_all_trials(studies[name]._study_id)
        assert [t.number for t in trials] == [r.number for r in recs]
        for t, r in zip(trials, recs):
            assert t.params == dict(r.arch)  # the architecture, parameter by parameter
            for p, dist in t.distributions.items():
                assert isinstance(dist, CategoricalDistribution) and t.params[p] in dist.choices
            assert t.intermediate_values == {i + 1: v for i, v in enumerate(r.curve)}
            assert storage.get_trial(t._trial_id).number == t.number
            if r.state.value == "COMPLETE":
                assert t.state is TrialState.COMPLETE and t.values == [r.values["val_mse"]]
                assert t.user_attrs["val_mse"] == r.metrics["val_mse"] and t.user_attrs["params"] == r.metrics["params"]
            else:
                assert t.state is TrialState.FAIL and t.user_attrs["error"] == r.error and "max-params" in r.error
    assert any(len(t.intermediate_values) == 3 for t in storage.get_all_trials(studies["hb"]._study_id))
    assert sum(t.state is TrialState.FAIL for t in storage.get_all_trials(studies["rnd"]._study_id)) >= 1
    with pytest.raises(ReadOnlyError):
        storage.delete_study(studies["hb"]._study_id)
    with pytest.raises(ReadOnlyError):
        storage.set_trial_user_attr(0, "note", "x")
    storage.close()
    assert _fingerprint(study_db) == before


def test_only_loopback_hosts_are_accepted(study_db):
    pytest.importorskip("optuna_dashboard")
    from seqnas.dashboard import serve

    for host in ("0.0.0.0", "::", "192.168.1.1", "example.org"):
        with pytest.raises(ConfigError, match="loopback"):
            serve(study_db, port=0, host=host)


class Served:
    def __init__(self, proc: subprocess.Popen, url: str) -> None:
        self.proc, self.url = proc, url
        self.base = url.removesuffix("/dashboard")

    def api(self, path: str, method: str = "GET") -> tuple[int, object]:
        req = urllib.request.Request(self.base + path, method=method, data=b"{}" if method != "GET" else None,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, None


@pytest.fixture
def served(study_db) -> Iterator[Served]:
    """`python -m seqnas.dashboard --db ... --port 0` (what `seqnas dashboard` runs) in a subprocess; always ended."""
    if not HAS_DASHBOARD:
        pytest.skip("optuna-dashboard is missing: pip install 'seqnas[dashboard]'")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "seqnas.dashboard", "--db", study_db, "--port", "0"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        m = re.search(r"at (http://127\.0\.0\.1:\d+/dashboard) ", line)
        assert m, f"no address in {line!r}; stderr: {proc.stderr.read() if proc.poll() is not None else ''}"  # type: ignore[union-attr]
        yield Served(proc, m.group(1))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_the_server_listens_on_loopback_only_refuses_writes_and_refreshes_while_a_search_runs(served, study_db):
    ss = shutil.which("ss")
    if ss:
        out = subprocess.run([ss, "-ltnpH"], capture_output=True, text=True, timeout=30).stdout
        mine = [line for line in out.splitlines() if f"pid={served.proc.pid}," in line]
        assert mine, f"no listening socket of pid {served.proc.pid} in:\n{out}"
        for line in mine:
            local = line.split()[3]
            assert local.rsplit(":", 1)[0] == "127.0.0.1", line
    status, body = served.api("/api/studies")
    assert status == 200
    ids = {s["study_name"]: s["study_id"] for s in body["study_summaries"]}  # type: ignore[index]
    assert set(ids) == {"hb", "rnd"}
    before = _fingerprint(study_db)
    assert served.api(f"/api/studies/{ids['hb']}", method="DELETE")[0] >= 400
    assert _fingerprint(study_db) == before

    def n_trials(study: str) -> int:
        status, detail = served.api(f"/api/studies/{ids[study]}")
        assert status == 200
        return len(detail["trials"])  # type: ignore[index]

    assert n_trials("rnd") == 3
    _search(study_db, "rnd", "random", 5, max_params=300, load_if_exists=True)  # the same study, continued to 5 trials: the server is not restarted
    assert wait_for(lambda: n_trials("rnd") == 5, timeout=30, what="the new trials on the dashboard")
    status, detail = served.api(f"/api/studies/{ids['hb']}")
    trials = detail["trials"]  # type: ignore[index]
    assert any(len(t["intermediate_values"]) == 3 for t in trials) and all(t["params"] for t in trials)
    assert served.proc.poll() is None


def test_the_dashboard_in_chromium_lists_the_studies_and_shows_a_study_with_its_trials(served, tmp_path):
    with chromium() as d:
        d.get(served.url)
        body = wait_for(lambda: d.find_element("tag name", "body").text if "hb" in d.find_element("tag name", "body").text
                        else None, what="the study list")
        assert re.search(r"\bhb\b", body) and re.search(r"\brnd\b", body)
        d.get(served.url + "/studies/1")
        page = wait_for(lambda: (t := d.find_element("tag name", "body").text) and "Intermediate values" in t and
                        "trials" in t and t, what="the study page")
        assert re.search(r"\btrials\s+4\b", page), page[:2000]  # its trial count (study user attribute)
        assert "Best Trial" in page and "cell1" in page
        time.sleep(1)  # let the plots settle for the picture
        # SEQNAS_SCREENSHOT=docs/images/dashboard.png renews the README's picture; else it goes to tmp.
        shot = Path(os.environ.get("SEQNAS_SCREENSHOT") or tmp_path / "dashboard.png")
        shot.parent.mkdir(parents=True, exist_ok=True)
        assert d.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


def test_the_race_report_in_chromium_has_a_row_per_strategy_and_every_image_decodes(tmp_path, tiny_macro):
    from seqnas.race import compare

    if missing():
        pytest.skip(missing())
    strategies = ["random", "grid"]
    result = compare(tiny_macro, task="sunspots", strategies=strategies, trials=2, seeds=1, train=TINY_TRAIN,
                     db=str(tmp_path / "race.db"), out=str(tmp_path / "report"), workers=1, final_repeats=0, progress=False)
    html = Path(result.files["html"])
    with chromium() as d:
        d.get(html.as_uri())
        rows = wait_for(lambda: d.execute_script(
            "const t = [...document.querySelectorAll('h2')].find(h => h.textContent.trim() === 'Results')"
            ".nextElementSibling; return [...t.querySelectorAll('tbody tr')].map(r => r.cells[0].textContent.trim());"),
            what="the results table")
        named = [r for r in rows if r in strategies]
        assert sorted(named) == sorted(strategies), rows  # one row per strategy
        images = wait_for(lambda: (imgs := d.execute_script(
            "return [...document.images].map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight]);"))
            and all(c for _, c, _, _ in imgs) and imgs, what="the images to load")
        assert images and all(w > 0 and h > 0 for _, _, w, h in images), images
