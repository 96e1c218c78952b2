"""Every kind of bad input a user can give: one line that says what to fix, exit 2, no traceback,
and any existing database left exactly as it was (its bytes and its rows).

The table runs through ``seqnas.cli.main`` in this process (the same code the command runs, without
a Python start-up per case); a few cases run as real `seqnas` processes too.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import seqnas
import seqnas.storage.sqlite as sqlite_module
from seqnas.cli import main
from tests.cli_helpers import FAST_TRAIN, TINY_SPACE_YAML, rows, run, write_series_csv


@dataclass
class Env:
    """The files a case can point at: good data and space, an existing database with study 'demo'."""

    dir: Path
    csv: Path
    space: Path
    db: Path  # a fresh copy of the existing database, for this case
    files: dict[str, Path] = field(default_factory=dict)

    def file(self, name: str, content: str | bytes) -> str:
        p = self.dir / name
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
        return str(p)


GOOD_ROWS = "\n".join(f"{i},{(i * 7) % 11 + 0.5 * (i % 3)}" for i in range(200))


def _search(e: Env, *extra: str, csv: bool = True) -> list[str]:
    """A search that would work but for ``extra`` (later options win), for a new study in the existing database."""
    task = ["--csv", str(e.csv), "--target", "load", "--window", "8", "--horizon", "2"] if csv else []
    return ["search", *task, "--space", str(e.space), "--trials", "2", *FAST_TRAIN, "--workers", "1", "--no-progress",
            "--study", "new", "--db", str(e.db), *extra]


def _csv(e: Env, name: str, text: str | bytes, *extra: str) -> list[str]:
    return _search(e, "--csv", e.file(name, text), *extra)


def _space(e: Env, name: str, text: str, *extra: str) -> list[str]:
    return _search(e, "--space", e.file(name, text), *extra)


def _huge(e: Env) -> list[str]:
    p = e.dir / "huge.csv"
    with open(p, "wb") as f:
        f.write(b"date,load,temp\n")
        f.truncate(2 * 1024**3)  # sparse 2 GiB: only the header may be read
    return _search(e, "--csv", str(p), "--target", "lod")


MACRO = "family: rnn-macro\nparams:\n"

# (case id, argv builder, what the message must say)
CASES: list[tuple[str, Callable[[Env], list[str]], str]] = [
    # -- CSV files -------------------------------------------------------------------------------
    ("csv-missing", lambda e: _search(e, "--csv", str(e.dir / "nope.csv")), "does not exist"),
    ("csv-is-a-directory", lambda e: _search(e, "--csv", str(e.dir)), "is not a file"),
    ("csv-empty", lambda e: _csv(e, "empty.csv", ""), "is empty"),
    ("csv-blank-lines-only", lambda e: _csv(e, "blank.csv", "\n\n\n"), "is empty"),
    ("csv-header-only", lambda e: _csv(e, "header.csv", "date,load\n"), "header but no data rows"),
    ("csv-non-numeric", lambda e: _csv(e, "text.csv", "load\n1\n2\nhigh\n" + "3\n" * 60), "non-numeric value 'high' at data row 3"),
    ("csv-nan", lambda e: _csv(e, "nan.csv", "load\n1\nnan\n" + "3\n" * 60), "missing value"),
    ("csv-empty-cell", lambda e: _csv(e, "hole.csv", "load,x\n1,2\n,3\n" + "3,4\n" * 60), "missing value"),
    ("csv-infinite", lambda e: _csv(e, "inf.csv", "load\n1\n-inf\n" + "3\n" * 60), "infinite value"),
    ("csv-constant", lambda e: _csv(e, "const.csv", "load\n" + "5\n" * 100), "constant"),
    ("csv-too-short", lambda e: _csv(e, "short.csv", "load\n" + "\n".join(str(i % 4) for i in range(12))), "too short for window 8"),
    ("csv-window-too-long", lambda e: _search(e, "--window", "500"), "too short for window 500"),
    ("csv-unknown-target", lambda e: _search(e, "--target", "lod"), "['lod'] not in"),
    ("csv-unknown-feature", lambda e: _search(e, "--features", "temp,humidity"), "['humidity'] not in"),
    ("csv-unknown-time-column", lambda e: _search(e, "--time-column", "when"), "['when'] not in"),
    ("csv-no-target", lambda e: ["search", "--csv", str(e.csv), "--trials", "2", "--db", str(e.db), "--study", "new"],
     "needs --target"),
    ("csv-duplicated-timestamps",
     lambda e: _csv(e, "dup.csv", "date,load\n" + "\n".join(f"2021-01-{1 + min(i, 5):02d},{i % 7}" for i in range(80)),
                    "--time-column", "date"), "duplicated timestamps"),
    ("csv-unsorted-timestamps",
     lambda e: _csv(e, "unsorted.csv", "date,load\n" + "\n".join(f"2021-{12 - i // 28:02d}-{1 + i % 28:02d},{i % 7}" for i in range(80)),
                    "--time-column", "date"), "not sorted"),
    ("csv-unreadable-timestamps",
     lambda e: _csv(e, "stamps.csv", "date,load\n2021-01-01,1\nsoon,2\n", "--time-column", "date"), "unreadable value"),
    ("csv-huge-mistaken-column", _huge, "['lod'] not in"),
    ("csv-binary-garbage", lambda e: _csv(e, "garbage.csv", bytes(range(256)) * 40), "['load'] not in"),
    ("csv-and-task", lambda e: _search(e, "--task", "co2"), "not both"),
    ("target-without-csv", lambda e: _search(e, "--task", "co2", "--target", "x", csv=False), "for --csv tasks"),
    # -- space files -----------------------------------------------------------------------------
    ("space-missing", lambda e: _search(e, "--space", str(e.dir / "nope.yaml")), "does not exist"),
    ("space-invalid-yaml", lambda e: _space(e, "bad.yaml", "params: [a: 1\n"), "not valid YAML"),
    ("space-invalid-json", lambda e: _space(e, "bad.json", '{"params": [}'), "not valid JSON"),
    ("space-not-a-mapping", lambda e: _space(e, "list.yaml", "- depth\n- lr\n"), "must be a mapping"),
    ("space-unknown-type", lambda e: _space(e, "type.yaml", MACRO + "  - {name: depth, type: integer, low: 1, high: 2}\n"),
     "unknown type 'integer'"),
    ("space-empty-choices", lambda e: _space(e, "empty.yaml", MACRO + "  - {name: cell1, type: categorical, choices: []}\n"),
     "must not be empty"),
    ("space-low-above-high", lambda e: _space(e, "range.yaml", MACRO + "  - {name: hidden1, type: int, low: 64, high: 8}\n"),
     "low (64) is greater than high (8)"),
    ("space-condition-unknown-parent",
     lambda e: _space(e, "cond.yaml", MACRO + "  - {name: cell2, type: categorical, choices: [gru], condition: {parent: layers, values: [2]}}\n"),
     "condition parent 'layers' is not a parameter"),
    ("space-condition-impossible-value",
     lambda e: _space(e, "never.yaml", MACRO + "  - {name: depth, type: categorical, choices: [1]}\n"
                      "  - {name: cell2, type: categorical, choices: [gru], condition: {parent: depth, values: [2]}}\n"),
     "condition value 2 is not a value of 'depth'"),
    ("space-no-parameters", lambda e: _space(e, "none.yaml", MACRO + "  []\n".replace("params:\n  []", "params: []")),
     "at least one parameter"),
    ("space-no-buildable-architecture", lambda e: _space(e, "zero.yaml", MACRO + "  - {name: depth, type: categorical, choices: [0]}\n"),
     "'depth': 0 is not valid for rnn-macro"),
    ("space-misspelled-parameter", lambda e: _space(e, "typo.yaml", MACRO + "  - {name: hiden1, type: categorical, choices: [8]}\n"),
     "'hiden1' is not used by family rnn-macro"),
    ("space-bad-cell", lambda e: _space(e, "cell.yaml", MACRO + "  - {name: cell1, type: categorical, choices: [lstm, transformer]}\n"),
     "'transformer' is not valid"),
    ("space-unknown-family", lambda e: _space(e, "fam.yaml", "family: cnn\nparams:\n  a: [1]\n"), "unknown space family 'cnn'"),
    ("space-without-family", lambda e: _space(e, "nofam.yaml", "params:\n  a: [1, 2]\n"), "no model family"),
    ("space-unknown-name", lambda e: _search(e, "--space", "rnn-mcaro"), "unknown space 'rnn-mcaro'"),
    # -- CLI values ------------------------------------------------------------------------------------
    ("unknown-strategy", lambda e: _search(e, "--strategy", "genetic"), "unknown strategy 'genetic'"),
    ("unknown-task", lambda e: _search(e, "--task", "sunspot", csv=False), "unknown task 'sunspot'"),
    ("trials-zero", lambda e: _search(e, "--trials", "0"), "--trials must be a positive integer"),
    ("trials-negative", lambda e: _search(e, "--trials", "-3"), "--trials must be a positive integer"),
    ("trials-not-a-number", lambda e: _search(e, "--trials", "ten"), "--trials must be a positive integer"),
    ("workers-zero", lambda e: _search(e, "--workers", "0"), "--workers must be a positive integer"),
    ("workers-negative", lambda e: _search(e, "--workers", "-1"), "--workers must be a positive integer"),
    ("seconds-zero", lambda e: _search(e, "--seconds", "0"), "--seconds must be a positive number"),
    ("seed-negative", lambda e: _search(e, "--seed", "-1"), "--seed must be a non-negative integer"),
    ("max-params-zero", lambda e: _search(e, "--max-params", "0"), "--max-params must be a positive integer"),
    ("window-zero", lambda e: _search(e, "--window", "0"), "--window must be a positive integer"),
    ("batch-size-zero", lambda e: _search(e, "--batch-size", "0"), "--batch-size must be a positive integer"),
    ("trial-timeout-zero", lambda e: _search(e, "--trial-timeout", "0"), "--trial-timeout must be a positive number"),
    ("unknown-objective", lambda e: _search(e, "--objectives", "accuracy"), "unknown objective"),
    ("malformed-option", lambda e: _search(e, "--option", "population"), "must look like key=value"),
    ("unknown-strategy-option", lambda e: _search(e, "--option", "population=10"), "bad option for strategy 'random'"),
    ("unknown-executor", lambda e: _search(e, "--executor", "gpu"), "invalid choice: 'gpu'"),
    ("unknown-flag", lambda e: _search(e, "--trails", "3"), "unrecognized arguments: --trails"),
    ("unknown-command", lambda e: ["serach", "--db", str(e.db)], "invalid choice: 'serach'"),
    ("db-directory-missing", lambda e: _search(e, "--db", str(e.dir / "no" / "such" / "runs.db")), "does not exist"),
    ("db-under-a-file", lambda e: _search(e, "--db", str(e.csv) + "/runs.db"), "is a file, not a directory"),
    ("db-is-a-directory", lambda e: _search(e, "--db", str(e.dir)), "is a directory"),
    # /proc: nobody may create files there, root included (as a normal user the access check says so first).
    ("db-not-writable", lambda e: _search(e, "--db", "/proc/seqnas-test.db"), "writable"),
    ("db-not-a-database", lambda e: _search(e, "--db", e.file("notes.db", "my notes\n" * 50)), "not a seqnas database"),
    ("study-exists-with-other-space",
     lambda e: _search(e, "--study", "demo", "--space", e.file("other.yaml", TINY_SPACE_YAML.replace("[4, 8]", "[4, 16]", 1))),
     "study 'demo' already exists"),
    ("study-exists-with-other-strategy", lambda e: _search(e, "--study", "demo", "--strategy", "grid"), "with a different strategy"),
    ("study-exists-with-other-seed", lambda e: _search(e, "--study", "demo", "--seed", "9"), "with a different settings"),
    ("study-exists-with-other-task", lambda e: _search(e, "--study", "demo", "--window", "6"), "with a different settings"),
    ("study-exists", lambda e: _search(e, "--study", "demo"), "study 'demo' already exists"),
    ("study-exists-names-both-ways", lambda e: _search(e, "--study", "demo"),
     "; continue it with `seqnas resume --study demo --db "),
    ("study-exists-names-the-flag", lambda e: _search(e, "--study", "demo"), "(or this search again with --load-if-exists)"),
    ("option-for-another-strategy", lambda e: _search(e, "--option", "grid.shuffle=false"),
     "is for strategy 'grid', but this search runs 'random'"),
    ("compare-workers-and-parallel-runs", lambda e: ["compare", "--resume", "--db", str(e.db), "--workers", "1",
                                                     "--parallel-runs", "2"], "--workers is its deprecated alias"),
    ("show-unknown-study", lambda e: ["show", "--study", "dmeo", "--db", str(e.db)], "no study 'dmeo'"),
    ("resume-unknown-study", lambda e: ["resume", "--study", "dmeo", "--db", str(e.db)], "no study 'dmeo'"),
    ("export-unknown-study", lambda e: ["export", "--study", "dmeo", "--db", str(e.db), "--out", str(e.dir / "x")], "no study 'dmeo'"),
    ("resume-missing-db", lambda e: ["resume", "--study", "demo", "--db", str(e.dir / "gone.db")], "does not exist"),
    ("show-missing-db", lambda e: ["show", "--study", "demo", "--db", str(e.dir / "gone.db")], "does not exist"),
    ("export-out-under-a-file", lambda e: ["export", "--study", "demo", "--db", str(e.db), "--out", str(e.csv) + "/best"],
     "cannot create export directory"),
    ("resume-with-workers-zero", lambda e: ["resume", "--study", "demo", "--db", str(e.db), "--workers", "0"],
     "--workers must be a positive integer"),
]


# The kinds of bad input the issue lists. Each is run below through the product like every case of the
# table (first, so a missing one fails at once with its name): exit 2, one line naming what to fix,
# nothing written, the database untouched.
ISSUE_KINDS = ["csv-missing", "csv-empty", "csv-header-only", "csv-non-numeric", "csv-nan", "csv-constant", "csv-too-short",
               "csv-unknown-target", "csv-unknown-feature", "csv-duplicated-timestamps", "csv-unsorted-timestamps",
               "csv-huge-mistaken-column", "space-invalid-yaml", "space-invalid-json", "space-unknown-type",
               "space-empty-choices", "space-low-above-high", "space-condition-unknown-parent",
               "space-no-buildable-architecture", "unknown-strategy", "unknown-task", "space-unknown-name", "trials-zero",
               "workers-zero", "db-directory-missing", "db-not-writable", "study-exists-with-other-space",
               "show-unknown-study"]
CASE_IDS = ISSUE_KINDS + [c[0] for c in CASES if c[0] not in ISSUE_KINDS]


def _case(case: str) -> tuple[Callable[[Env], list[str]], str]:
    found = [(b, m) for c, b, m in CASES if c == case]
    assert len(found) == 1, f"bad input {case!r} has {len(found)} cases in CASES, not 1: it is not tried"
    return found[0]


@pytest.fixture(scope="module")
def existing(tmp_path_factory):
    """A database holding study 'demo' (2 trials), built once; each case gets a copy."""
    d = tmp_path_factory.mktemp("hostile")
    csv = write_series_csv(d / "data.csv")
    space = d / "tiny.yaml"
    space.write_text(TINY_SPACE_YAML)
    db = d / "existing.db"
    seqnas.search(str(space), csv=str(csv), target="load", window=8, horizon=2, strategy="random", trials=2, seed=0,
                  train={"max_epochs": 2, "patience": 1, "batch_size": 64}, study="demo", db=str(db))
    # No WAL left over (the retrained members' weights sit beside it, in existing.db.checkpoints/).
    assert sorted(p.name for p in d.iterdir() if p.name.startswith("existing") and p.is_file()) == ["existing.db"]
    return d, csv, space, db


def _listing(d: Path) -> list[str]:
    # SQLite's -wal/-shm companions come and go with any reader (this test's own reads included).
    return sorted(p.name for p in d.iterdir() if not p.name.endswith(("-wal", "-shm")))


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own exit
        code = e.code if isinstance(e.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def _assert_one_line_error(code: int, out: str, err: str, message: str) -> None:
    assert code == 2, (code, out, err)
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("seqnas: error: "), err
    assert message in lines[0], (message, lines[0])


@pytest.mark.parametrize("case", CASE_IDS)
def test_bad_input_gives_one_line_exit_2_and_leaves_the_database_alone(case, existing, tmp_path, capsys):
    build, message = _case(case)
    d, csv, space, db = existing
    e = Env(tmp_path, csv, space, tmp_path / "runs.db")
    shutil.copy(db, e.db)
    argv = build(e)
    before_files = _listing(tmp_path)
    before_db, before_rows = _digest(e.db), rows(e.db)
    with open("/proc/self/io") as f:
        read_before = int(next(line for line in f if line.startswith("rchar:")).split()[1])

    code, out, err = _run_main(argv, capsys)

    _assert_one_line_error(code, out, err, message)
    assert _digest(e.db) == before_db and rows(e.db) == before_rows
    # Nothing new appears: no database created for a path that did not exist, no export written.
    assert _listing(tmp_path) == before_files
    if case == "csv-huge-mistaken-column":
        with open("/proc/self/io") as f:
            read_after = int(next(line for line in f if line.startswith("rchar:")).split()[1])
        assert read_after - read_before < 64 * 1024**2  # read the header, not the 2 GiB


def test_an_unwritable_db_directory(existing, tmp_path, capsys, monkeypatch):
    d, csv, space, _ = existing
    locked = tmp_path / "locked"
    locked.mkdir()
    e = Env(tmp_path, csv, space, locked / "runs.db")
    if os.geteuid() != 0:
        locked.chmod(0o555)
    else:
        # root writes anywhere, so the permission bits prove nothing here: have the access check see what a
        # normal user would (the real refusal by the file system is the /proc case of the table).
        real_access = os.access
        monkeypatch.setattr(sqlite_module.os, "access",
                            lambda p, mode, **kw: False if Path(p) == locked and mode & os.W_OK else real_access(p, mode, **kw))
    try:
        code, out, err = _run_main(_search(e), capsys)
    finally:
        locked.chmod(0o755)
    _assert_one_line_error(code, out, err, f"directory '{locked}' is not writable")
    assert list(locked.iterdir()) == []


# A few of the cases again as real `seqnas` processes: exit status 2 and one line from the real program.
@pytest.mark.parametrize("case", ["csv-missing", "study-exists-with-other-space"])
def test_bad_input_in_a_real_process(case, existing, tmp_path):
    d, csv, space, db = existing
    e = Env(tmp_path, csv, space, tmp_path / "runs.db")
    shutil.copy(db, e.db)
    build, message = _case(case)
    argv = build(e)
    before = _digest(e.db)
    p = run(argv)
    _assert_one_line_error(p.returncode, p.stdout, p.stderr, message)
    assert _digest(e.db) == before
