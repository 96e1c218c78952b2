"""Strategy plugins: a third-party package's strategy, found through the entry-point group
``seqnas.strategies``, searched like a built-in and checked with the conformance kit ``seqnas.testing``.

The packages are built in tmp_path: a pyproject.toml and a module, "installed" without a network
or pip by writing what pip would (the module, and a ``<name>-<version>.dist-info`` with METADATA and
the pyproject's entry points) into a directory put on ``sys.path``, where ``importlib.metadata``
finds them. Nothing is installed into the project's venv.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import seqnas
from seqnas.space import space_from_dict
from seqnas.strategies import BUILTIN_STRATEGIES, STRATEGIES, PluginWarning, load_plugins, make_strategy, strategy_names
from seqnas.strategies.random_search import RandomSearch
from seqnas.trial import Proposal, TrialState
from tests.conftest import ROOT, TINY_MACRO, TINY_TRAIN

# A third-party strategy: a seeded random walk (each proposal one mutation away from the last one;
# a fresh sample where the walk is stuck, None once the space is used up).
MYSTRAT = '''
"""mystrat: a seqnas search strategy from another package."""

from seqnas.strategies.base import Strategy


class MyStrategy(Strategy):
    name = "mystrat"

    def __init__(self, space, *, seed=0, objectives=("val_mse",), step_tries=20):
        super().__init__(space, seed=seed, objectives=objectives)
        self.step_tries = int(step_tries)
        self.at = None

    def _propose(self, rng):
        if self.at is not None:
            for _ in range(self.step_tries):
                arch = self.space.mutate(self.at, rng)
                if self.fresh(arch):
                    self.at = arch
                    return arch
        self.at = self.sample_fresh(rng)
        return self.at


def not_a_strategy():
    return None
'''

PACKAGES: dict[str, dict[str, str]] = {
    "mystrat": {"mystrat": "mystrat:MyStrategy"},
    # a plugin whose module raises on import, and one that is no Strategy subclass
    "brokenplug": {"broken": "brokenplug:Whatever", "notastrategy": "mystrat:not_a_strategy"},
    # a plugin named like a built-in
    "impostor": {"random": "mystrat:MyStrategy"},
}
MODULES = {"mystrat": MYSTRAT, "brokenplug": 'raise RuntimeError("brokenplug refuses to import")\n', "impostor": None}


def install(root: Path, package: str) -> None:
    """Write the package's source (pyproject.toml, module), then install it into ``root/"site"`` as pip
    would: its module and a dist-info with METADATA and the pyproject's entry points."""
    src, site = root / "src" / package, root / "site"
    src.mkdir(parents=True)
    site.mkdir(exist_ok=True)
    eps = "\n".join(f'{name} = "{target}"' for name, target in PACKAGES[package].items())
    (src / "pyproject.toml").write_text(textwrap.dedent(f'''\
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{package}"
        version = "0.1"
        dependencies = ["seqnas"]

        [project.entry-points."seqnas.strategies"]
        ''') + eps + "\n")
    if MODULES[package] is not None:
        (src / f"{package}.py").write_text(MODULES[package])
        (site / f"{package}.py").write_text(MODULES[package])
    project = tomllib.loads((src / "pyproject.toml").read_text())["project"]
    info = site / f"{project['name']}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    groups = project["entry-points"]
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps_.items()) + "\n" for group, eps_ in groups.items()))


@pytest.fixture
def plugins(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """``plugins("mystrat", ...)``: those packages installed into a directory on sys.path, the registry
    reloaded; afterwards sys.path, the modules and the registry as before."""
    sites: list[str] = []

    def put(*packages: str) -> Path:
        for p in packages:
            install(tmp_path, p)
        site = tmp_path / "site"
        sys.path.insert(0, str(site))
        sites.append(str(site))
        importlib.invalidate_caches()
        return site

    yield put
    for s in sites:
        sys.path.remove(s)
    for m in MODULES:
        sys.modules.pop(m, None)
    importlib.invalidate_caches()
    load_plugins(reload=True)
    assert "mystrat" not in strategy_names()


def test_a_plugin_strategy_is_made_by_name(plugins: Callable[..., Path]) -> None:
    plugins("mystrat")
    assert load_plugins(reload=True) == {"mystrat": "mystrat 0.1"}
    assert "mystrat" in strategy_names() and "mystrat" in STRATEGIES
    assert strategy_names()[:len(BUILTIN_STRATEGIES)] == list(BUILTIN_STRATEGIES)
    space = space_from_dict(TINY_MACRO)
    s = make_strategy("mystrat", space, seed=3, objectives=("val_mse",), options={"step_tries": 5})
    assert type(s).__module__ == "mystrat" and type(s).__name__ == "MyStrategy" and s.step_tries == 5  # type: ignore[attr-defined]
    first = s.ask()
    assert isinstance(first, Proposal) and first.arch is not None
    space.validate(first.arch)


def test_a_plugin_strategy_searches_a_stored_study(plugins: Callable[..., Path], tmp_path: Path) -> None:
    plugins("mystrat")
    load_plugins(reload=True)
    db = tmp_path / "runs.db"
    result = seqnas.search(space_from_dict(TINY_MACRO), task="sunspots", strategy="mystrat", trials=3, seed=1,
                           train=TINY_TRAIN, study="plugin", db=str(db), final_repeats=0, progress=False)
    assert [r.state for r in result.records] == [TrialState.COMPLETE] * 3
    assert len({r.arch.key for r in result.records if r.arch is not None}) == 3
    stored = seqnas.load("plugin", str(db))
    assert stored.strategy == "mystrat" and [r.arch for r in stored.records] == [r.arch for r in result.records]
    with contextlib.closing(sqlite3.connect(db)) as con:  # a real SQLite file
        (strategy, n), = con.execute("SELECT s.strategy, count(t.id) FROM studies s JOIN trials t ON t.study_id = s.id "
                                     "WHERE s.name = 'plugin' GROUP BY s.id").fetchall()
    assert (strategy, n) == ("mystrat", 3)


# The plugin's own tests, as its author writes them: the kit subclassed with nothing but make_strategy;
# and a planted break (a strategy that forgets what it proposed) the kit must catch.
THIRD_PARTY_TESTS = '''
from mystrat import MyStrategy

from seqnas.testing import StrategyConformance


class TestMyStrategy(StrategyConformance):
    def make_strategy(self, space, *, seed, objectives):
        return MyStrategy(space, seed=seed, objectives=objectives)


class Repeater(MyStrategy):
    """Planted break: every architecture counts as new, so the walk proposes some again."""

    def fresh(self, arch):
        return True


class TestRepeater(StrategyConformance):
    def make_strategy(self, space, *, seed, objectives):
        return Repeater(space, seed=seed, objectives=objectives)
'''


@pytest.fixture(scope="module")
def third_party_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """The plugin's test file run by pytest in a subprocess (the kit on MyStrategy, and the planted
    break's no-repeat tests): test id -> {"outcome": passed/failed/skipped/error, "message": ...}."""
    root = tmp_path_factory.mktemp("third_party")
    install(root, "mystrat")
    tests = root / "tests"
    tests.mkdir()
    (tests / "test_mystrat.py").write_text(THIRD_PARTY_TESTS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "site"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    report = root / "report.xml"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                           "-k", "TestMyStrategy or (TestRepeater and never_proposes)", str(tests)],
                          cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert report.exists(), f"pytest did not run:\n{proc.stdout}\n{proc.stderr}"
    out: dict[str, dict[str, str]] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
                message = (child.get("message") or "") + "\n" + (child.text or "")
        out[f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"] = {"outcome": outcome, "message": message}
    assert out, f"no tests ran:\n{proc.stdout}\n{proc.stderr}"
    return out


def test_the_kit_passes_a_plugin_with_only_make_strategy(third_party_run: dict[str, dict[str, str]]) -> None:
    mine = {k: v for k, v in third_party_run.items() if k.startswith("TestMyStrategy::")}
    assert len(mine) == 28, sorted(mine)
    bad = {k: v["message"][-2000:] for k, v in mine.items() if v["outcome"] in ("failed", "error")}
    assert not bad, json.dumps(bad, indent=1)
    skipped = {k: v["message"] for k, v in mine.items() if v["outcome"] == "skipped"}
    # Only the failure contract, which the plugin did not declare (nothing else is beyond a plain strategy).
    assert list(skipped) == ["TestMyStrategy::test_failed_trials_count_as_worst"], skipped
    assert "failure_contract" in skipped["TestMyStrategy::test_failed_trials_count_as_worst"]


def test_the_kit_catches_a_strategy_that_proposes_an_architecture_twice(third_party_run: dict[str, dict[str, str]]) -> None:
    broken = {k: v for k, v in third_party_run.items() if k.startswith("TestRepeater::")}
    assert len(broken) == 4 and all("never_proposes" in k for k in broken), sorted(broken)
    for k, v in broken.items():
        assert v["outcome"] == "failed" and "proposed an architecture twice" in v["message"], (k, v["message"][-2000:])


def test_a_broken_plugin_is_a_warning_and_the_builtins_stay(plugins: Callable[..., Path]) -> None:
    plugins("mystrat", "brokenplug", "impostor")
    with pytest.warns(PluginWarning) as caught:
        loaded = load_plugins(reload=True)
    assert loaded == {"mystrat": "mystrat 0.1"}
    messages = sorted(str(w.message) for w in caught if issubclass(w.category, PluginWarning))
    assert len(messages) == 3, messages
    assert all("\n" not in m for m in messages), messages
    broken, notastrategy, impostor = (next(m for m in messages if f"plugin {n!r}" in m) for n in ("broken", "notastrategy", "random"))
    assert "package brokenplug 0.1" in broken and "RuntimeError: brokenplug refuses to import" in broken
    assert "package brokenplug 0.1" in notastrategy and "not a subclass" in notastrategy
    assert "package impostor 0.1" in impostor and "may not replace" in impostor
    # the built-ins work, "random" is still the built-in one
    assert STRATEGIES["random"] is RandomSearch
    assert isinstance(make_strategy("random", space_from_dict(TINY_MACRO), seed=0), RandomSearch)
    assert "broken" not in strategy_names() and "notastrategy" not in strategy_names()
    assert [n for n in strategy_names() if n not in BUILTIN_STRATEGIES] == ["mystrat"]


def test_plugins_load_at_the_first_lookup_with_one_line_warnings(tmp_path: Path) -> None:
    """In a fresh process: importing seqnas (and seqnas.strategies) loads no plugin and not pytest; the
    first lookup loads them; a broken plugin is one line on stderr naming its package, no traceback."""
    for p in ("mystrat", "brokenplug", "impostor"):
        install(tmp_path, p)
    script = textwrap.dedent('''\
        import json
        import sys
        import seqnas, seqnas.strategies as s
        assert "mystrat" not in sys.modules and "pytest" not in sys.modules and "seqnas.testing" not in sys.modules
        names = s.strategy_names()
        assert "mystrat" in sys.modules and "pytest" not in sys.modules
        print(json.dumps(names))
        ''')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [*BUILTIN_STRATEGIES, "mystrat"]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr
    plugin_lines = [line for line in lines if "PluginWarning" in line]
    assert len(plugin_lines) == 3, proc.stderr
    for i, line in enumerate(lines):  # no source line under a warning: each is one line
        if "PluginWarning" in line and i + 1 < len(lines):
            assert not lines[i + 1].startswith((" ", "\t")), proc.stderr
    assert any("'broken'" in line and "brokenplug 0.1" in line for line in plugin_lines), proc.stderr
