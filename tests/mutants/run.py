"""Apply each curated critical mutant (tests/mutants/critical.py) to a temporary copy of the project and run its
focused tests there: every mutant must make them fail.

    .venv/bin/python tests/mutants/run.py            # all of them; exit 1 if one survives or is out of step
    .venv/bin/python tests/mutants/run.py --list     # names, files and focused tests
    .venv/bin/python tests/mutants/run.py NAME ...   # only these

The working tree is never written: ``seqnas/``, ``tests/`` and ``pyproject.toml`` are copied once into a
temporary folder, each mutant is written into that copy, its focused tests run there with ``pytest -x -q -p
no:cacheprovider`` (the copy first on PYTHONPATH, and pytest's rootdir), and the file is put back before
the next one. Before any mutant, every original snippet must occur exactly once in its file (else the list is
out of step with the code: exit 1) and each distinct selection of focused tests must pass on the unmutated
copy (else a failure would say nothing about the mutant: exit 1). One line per mutant: killed / SURVIVED,
seconds. A mutant whose tests run past the timeout counts as killed (the tests did not pass), and says so.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from critical import MUTANTS, Mutant  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("seqnas", "tests", "pyproject.toml")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.egg-info")  # tests/fixtures holds databases: copied


def copy_project(root: Path, dest: Path) -> None:
    for name in COPIED:
        src = root / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=IGNORED)
        else:
            shutil.copy2(src, dest / name)


def environment(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(copy) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def pytest(copy: Path, tests: tuple[str, ...], timeout: float) -> tuple[str, float, str]:
    """('passed' | 'failed' | 'timeout', seconds, output tail) of the focused tests in the copy."""
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=copy, env=environment(copy), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return "timeout", time.monotonic() - t0, out[-2000:]
    return ("passed" if p.returncode == 0 else "failed"), time.monotonic() - t0, (p.stdout + p.stderr)[-2000:]


def check_in_step(copy: Path, mutants: list[Mutant]) -> list[str]:
    """A line per mutant whose original snippet is not found exactly once (or that changes nothing)."""
    bad = []
    for m in mutants:
        path = copy / m.file
        if not path.is_file():
            bad.append(f"{m.name}: {m.file} does not exist")
            continue
        n = path.read_text(encoding="utf-8").count(m.original)
        if n != 1:
            bad.append(f"{m.name}: the original snippet occurs {n} times in {m.file} (must be once): {m.original!r}")
        if m.original == m.mutated:
            bad.append(f"{m.name}: the mutated snippet is the original")
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="run only these mutants")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per pytest run (default 300)")
    ap.add_argument("--root", type=Path, default=ROOT, help="the project tree to copy (default: this checkout)")
    args = ap.parse_args(argv)
    known = {m.name for m in MUTANTS}
    if len(known) != len(MUTANTS):
        print("tests/mutants/critical.py: two mutants share a name", file=sys.stderr)
        return 1
    unknown = [n for n in args.names if n not in known]
    if unknown:
        print(f"unknown mutant(s) {unknown}; known: {sorted(known)}", file=sys.stderr)
        return 2
    mutants = [m for m in MUTANTS if not args.names or m.name in args.names]
    if args.list:
        for m in mutants:
            print(f"{m.name:34} {m.file:32} {' '.join(m.tests)}\n{'':34} {m.why}")
        return 0

    t_all = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="seqnas-mutants-") as tmp:
        copy = Path(tmp)
        copy_project(args.root.resolve(), copy)
        where = subprocess.run([sys.executable, "-c", "import seqnas; print(seqnas.__file__)"], cwd=copy,
                               env=environment(copy), capture_output=True, text=True)
        if not where.stdout.strip().startswith(str(copy)):
            print(f"the copy is not what python imports: seqnas comes from {where.stdout.strip() or where.stderr}",
                  file=sys.stderr)
            return 1
        stale = check_in_step(copy, mutants)
        for line in stale:
            print(f"OUT OF STEP  {line}")
        if stale:
            print("tests/mutants/critical.py is out of step with the code: update the snippets", file=sys.stderr)
            return 1
        for tests in dict.fromkeys(m.tests for m in mutants):  # each distinct selection once, in list order
            status, secs, tail = pytest(copy, tests, args.timeout)
            print(f"baseline  {status:8} {secs:6.1f}s  {' '.join(tests)}", flush=True)
            if status != "passed":
                print(tail, file=sys.stderr)
                print("the focused tests fail on the unmutated code: no mutant can be judged", file=sys.stderr)
                return 1
        survived = []
        for m in mutants:
            path = copy / m.file
            original = path.read_text(encoding="utf-8")
            path.write_text(original.replace(m.original, m.mutated, 1), encoding="utf-8")
            try:
                status, secs, tail = pytest(copy, m.tests, args.timeout)
            finally:
                path.write_text(original, encoding="utf-8")
            verdict = {"failed": "killed", "timeout": "killed (timeout)", "passed": "SURVIVED"}[status]
            print(f"{verdict:16} {secs:6.1f}s  {m.name:34} {m.file}  [{' '.join(m.tests)}]", flush=True)
            if status == "passed":
                survived.append(m.name)
    total = time.monotonic() - t_all
    print(f"{len(mutants) - len(survived)}/{len(mutants)} killed in {total:.0f} s"
          + (f"; survived: {', '.join(survived)}" if survived else ""))
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
