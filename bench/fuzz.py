"""Fuzz the CSV loader and the space parser with many examples; write bench/results/fuzz.json.

The properties are those of tests/test_fuzz.py (any input loads or raises a UserError, and what
loads works); here they run with many more examples, and the outcomes are counted.

    .venv/bin/python bench/fuzz.py [--examples 2000]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_fuzz import SPACE_TEXTS, check_csv, check_space_dict, check_space_text, csv_files, space_dicts  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=2000, help="examples per property")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "fuzz.json"))
    args = ap.parse_args()
    conf = settings(max_examples=args.examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    outcomes: dict[str, Counter[str]] = {"csv": Counter(), "space_dict": Counter(), "space_file": Counter()}
    seconds: dict[str, float] = {}
    names = itertools.count()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)

        @conf
        @given(csv_files(), st.integers(1, 12), st.integers(1, 4))
        def csv_property(case, window, horizon):
            outcomes["csv"][check_csv(d / f"f{next(names)}.csv", case, window, horizon)] += 1

        @conf
        @given(space_dicts())
        def space_property(data):
            outcomes["space_dict"][check_space_dict(data)] += 1

        @conf
        @given(SPACE_TEXTS)
        def space_text_property(text):
            outcomes["space_file"][check_space_text(d / f"s{next(names)}.yaml", text)] += 1

        for name, prop in (("csv", csv_property), ("space_dict", space_property), ("space_file", space_text_property)):
            t = time.perf_counter()
            prop()  # raises (with hypothesis' shrunk example) if any input breaks the property
            seconds[name] = round(time.perf_counter() - t, 1)
            print(f"{name}: {sum(outcomes[name].values())} examples {dict(outcomes[name])} in {seconds[name]} s", flush=True)

    result = {
        "property": "every input loads (and then works) or raises a one-line UserError; "
                    "every example here passed (a failing one stops the bench with hypothesis' shrunk example)",
        "examples_per_property": args.examples,
        "examples_run": {k: sum(v.values()) for k, v in outcomes.items()},
        "total_examples_run": sum(sum(v.values()) for v in outcomes.values()),
        "outcomes": {k: dict(v) for k, v in outcomes.items()},
        "seconds": seconds,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
