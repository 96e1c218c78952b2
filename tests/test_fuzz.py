"""Property-based fuzzing of the two parsers users feed: any input loads or raises a UserError, nothing else.

The CSV loader (seqnas.tasks.csv.load_csv, then the task built on it) and the space parser
(seqnas.space.space_from_dict / space_from_file), with inputs biased towards almost-valid files.
bench/fuzz.py runs the same properties with many more examples.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqnas.errors import UserError
from seqnas.space import SearchSpace, space_from_dict, space_from_file
from seqnas.tasks import load_task, task_spec
from seqnas.tasks.csv import load_csv

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
_files = itertools.count()
EXAMPLES: dict[str, int] = {"csv": 0, "space": 0, "space_text": 0}

# -- CSV ---------------------------------------------------------------------------------------------------
NAMES = ["load", "temp", "date", "", " load", "Load", "a,b", '"load"', "load.1", "ünïcode", "1"]
cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**6, 10**6).map(str),
    st.sampled_from(["", " ", "nan", "NaN", "inf", "-inf", "NA", "null", "1e309", "0x10", "1,5", "--1", "+", ".", "3.",
                     "2021-01-01", "2021-01-01 10:00", "2021-13-45", "2021-01-01T00:00+05:00", "2021-01-01T00:00Z",
                     "99999-01-01", "1e18", '"7"', '"1\n2"', "'x'", "\t9", "１２"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6),
)


@st.composite
def _random_csv(draw):
    header = draw(st.lists(st.sampled_from(NAMES) | st.text(max_size=5), min_size=1, max_size=4))
    body = []
    for _ in range(draw(st.integers(0, 40))):
        body.append(",".join(draw(cells) for _ in range(draw(st.integers(0, len(header) + 2)))))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join([",".join(header), *body])
    raw = text.encode(draw(st.sampled_from(["utf-8", "latin-1", "utf-16"])), errors="replace")
    if draw(st.booleans()):
        raw = draw(st.binary(max_size=300))
    names = [h for h in header if h] or ["load"]
    target = draw(st.sampled_from([*names, "missing", ""]))
    features = tuple(draw(st.lists(st.sampled_from([*names, "nope"]), max_size=2)))
    time_column = draw(st.none() | st.sampled_from([*names, "when"]))
    return raw, target, features, time_column


@st.composite
def _almost_valid_csv(draw):
    """A real-looking table (numbers, maybe a timestamp column) with a few cells, rows or names broken."""
    numeric = draw(st.lists(st.sampled_from(["load", "temp", "hum", "wind"]), min_size=1, max_size=3, unique=True))
    header = list(numeric)
    with_time = draw(st.booleans())
    if with_time:
        header.insert(draw(st.integers(0, len(header))), "date")
    n_rows = draw(st.integers(0, 90))
    lines = [",".join(header)]
    for i in range(n_rows):
        row = []
        for j, name in enumerate(header):
            if name == "date":
                row.append(f"2021-{1 + i // 672:02d}-{1 + (i // 24) % 28:02d} {i % 24:02d}:00")
            else:
                row.append(repr(round(math.sin(i / (3.0 + j)) * (10 ** j) + 0.1 * j, 6)))
        lines.append(",".join(row))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2, 5]))):  # break a few things
        if len(lines) < 2:
            break
        i = draw(st.integers(1, len(lines) - 1))
        what = draw(st.sampled_from(["cell", "cell", "swap", "dup", "drop", "extra"]))
        cols = lines[i].split(",")
        if what == "cell":
            cols[draw(st.integers(0, len(cols) - 1))] = draw(cells)
            lines[i] = ",".join(cols)
        elif what == "swap" and i > 1:
            lines[i], lines[i - 1] = lines[i - 1], lines[i]
        elif what == "dup":
            lines.insert(i, lines[i])
        elif what == "drop":
            lines[i] = ",".join(cols[:-1])
        else:
            lines[i] = lines[i] + "," + draw(cells)
    text = draw(st.sampled_from(["\n", "\r\n"])).join(lines) + "\n"
    raw = text.encode(draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig"])))
    target = draw(st.sampled_from(numeric) if draw(st.integers(0, 9)) else st.sampled_from(["Load", "missing", "date"]))
    features = tuple(draw(st.lists(st.sampled_from(numeric if draw(st.integers(0, 9)) else [*numeric, "nope"]), max_size=2)))
    time_column = ("date" if with_time and draw(st.booleans()) else None) if draw(st.integers(0, 9)) else draw(st.sampled_from(numeric))
    return raw, target, features, time_column


def csv_files():
    return st.one_of(_almost_valid_csv(), _almost_valid_csv(), _random_csv())


def check_csv(path: Path, case, window: int, horizon: int) -> str:
    """Load one fuzzed CSV as a file and as a task; 'loaded', 'task' or 'user-error' (anything else raises)."""
    raw, target, features, time_column = case
    Path(path).write_bytes(raw)
    try:
        values, cols = load_csv(str(path), target, features, time_column)
    except UserError as e:
        assert "\n" not in str(e)
        return "user-error"
    assert values.dtype == np.float64 and np.isfinite(values).all()
    assert values.shape[1] == len(cols) and cols[0] == target and len(values) >= 1
    try:
        data = load_task(task_spec(csv=str(path), target=target, features=list(features), time_column=time_column,
                                   window=window, horizon=horizon))
    except UserError as e:
        assert "\n" not in str(e)
        return "loaded"
    for X, y in ((data.X_train, data.y_train), (data.X_val, data.y_val), (data.X_test, data.y_test)):
        assert X.shape[1:] == (window, len(cols)) and y.shape[1:] == (horizon,) and len(X) == len(y) > 0
        assert np.isfinite(X).all() and np.isfinite(y).all()
    return "task"


@FUZZ
@given(csv_files(), st.integers(1, 12), st.integers(1, 4))
def test_any_csv_loads_or_raises_a_user_error(tmp_path_factory, case, window, horizon):
    EXAMPLES["csv"] += 1
    # A new name each time: load_task caches by file.
    check_csv(tmp_path_factory.getbasetemp() / f"fuzz{next(_files)}.csv", case, window, horizon)


# -- spaces ------------------------------------------------------------------------------------------------
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 70), st.integers(), st.floats(),
                         st.text(max_size=6), st.sampled_from(["lstm", "gru", "depth", "lr", "categorical", "int", "float"]))
json_values = st.recursive(json_scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
                           max_leaves=10)
param_names = st.sampled_from(["depth", "cell1", "hidden1", "cell2", "lr", "dropout", "a", "b", ""]) | json_scalars


@st.composite
def _random_param(draw):
    p = {}
    if draw(st.integers(0, 9)):
        p["name"] = draw(param_names)
    if draw(st.integers(0, 9)):
        p["type"] = draw(st.sampled_from(["categorical", "int", "float", "bool", "Categorical"]) | json_scalars)
    if draw(st.booleans()):
        p["choices"] = draw(st.lists(json_scalars, max_size=5) | json_values)
    if draw(st.booleans()):
        p["low"] = draw(json_scalars)
    if draw(st.booleans()):
        p["high"] = draw(json_scalars)
    if draw(st.integers(0, 3)) == 0:
        p["log"] = draw(st.booleans() | json_scalars)
    if draw(st.integers(0, 3)) == 0:
        p["condition"] = draw(st.fixed_dictionaries({"parent": param_names, "values": st.lists(json_scalars, max_size=3)}) | json_values)
    if draw(st.integers(0, 9)) == 0:
        p[draw(st.text(max_size=5))] = draw(json_values)
    return p


safe_scalars = st.one_of(st.integers(-100, 100), st.floats(-1e6, 1e6, allow_nan=False), st.booleans(),
                         st.sampled_from(["lstm", "gru", "rnn_tanh", "a", "b", ""]))


@st.composite
def _almost_valid_space(draw):
    """A well-formed space, sometimes with one field broken."""
    out = []
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["categorical", "int", "float"]))
        p: dict = {"name": f"p{i}", "type": kind}
        if kind == "categorical":
            p["choices"] = draw(st.lists(safe_scalars, min_size=1, max_size=4))
        elif kind == "int":
            log = draw(st.booleans())
            p["low"] = draw(st.integers(1 if log else -50, 50))
            p["high"] = p["low"] + draw(st.integers(0, 10**draw(st.integers(0, 12))))
            p["log"] = log
        else:
            log = draw(st.booleans())
            p["low"] = draw(st.floats(1e-6 if log else -1e6, 1e6, allow_nan=False))
            p["high"] = p["low"] + draw(st.floats(0, 1e6, allow_nan=False))
            p["log"] = log
        parents = [q for q in out if q["type"] == "categorical"]
        if parents and draw(st.booleans()):
            q = draw(st.sampled_from(parents))
            p["condition"] = {"parent": q["name"], "values": draw(st.lists(st.sampled_from(q["choices"]), min_size=1, max_size=2))}
        out.append(p)
    if draw(st.booleans()):  # break one thing
        p = draw(st.sampled_from(out))
        key = draw(st.sampled_from(["name", "type", "choices", "low", "high", "log", "condition", "extra"]))
        if draw(st.booleans()) and key in p:
            del p[key]
        else:
            p[key] = draw(json_values)
    d: dict = {"params": out}
    if draw(st.integers(0, 3)) == 0:
        d["family"] = draw(st.sampled_from(["rnn-macro", "rnn-cell", "cnn"]))
    return d


@st.composite
def _random_space(draw):
    d = {}
    shape = draw(st.sampled_from(["list", "mapping", "junk", "missing"]))
    if shape == "list":
        d["params"] = draw(st.lists(_random_param() | json_values, max_size=5))
    elif shape == "mapping":
        d["params"] = draw(st.dictionaries(param_names.filter(lambda k: isinstance(k, str)),
                                           st.lists(json_scalars, max_size=4) | _random_param() | json_values, max_size=4))
    elif shape == "junk":
        d["params"] = draw(json_values)
    if draw(st.booleans()):
        d["family"] = draw(st.sampled_from(["rnn-macro", "rnn-cell", None, "cnn"]) | json_scalars)
    if draw(st.integers(0, 5)) == 0:
        d["name"] = draw(json_values)
    if draw(st.integers(0, 9)) == 0:
        d[draw(st.text(max_size=5))] = draw(json_values)
    return draw(st.sampled_from([d, d, d, d, draw(json_values)]))


def space_dicts():
    return st.one_of(_almost_valid_space(), _almost_valid_space(), _random_space())


def _exercise(space: SearchSpace) -> None:
    """A space that loaded must support every operation without surprises."""
    rng = np.random.default_rng(0)
    a, b = space.sample(rng), space.sample(rng)
    assert space.validate(a) == a
    assert space.validate(space.mutate(a, rng)) is not None
    assert space.validate(space.crossover(a, b, rng)) is not None
    for n in itertools.islice(space.neighbors(a), 5):
        space.validate(n)
    assert space.encode(a).shape == (space.encoding_size,) and np.isfinite(space.encode(a)).all()
    assert SearchSpace.from_json(space.to_json()) == space
    size = space.grid_size(3)
    assert size >= 1
    space.validate(space.grid_at(size - 1, 3))


def _load_checked(load) -> str:
    """A space loads and works, or is refused with a one-line UserError."""
    try:
        space = load()
    except UserError as e:
        assert "\n" not in str(e)
        return "user-error"
    _exercise(space)
    return "loaded"


def check_space_dict(d) -> str:
    return _load_checked(lambda: space_from_dict(d))


def check_space_text(path: Path, text: str) -> str:
    Path(path).write_bytes(text.encode("utf-8", errors="replace"))
    return _load_checked(lambda: space_from_file(path))


def _yaml(d) -> str:
    import yaml

    return yaml.safe_dump(d, allow_unicode=True)


@st.composite
def _damaged_yaml(draw):
    """A valid space file with a few characters deleted, doubled or replaced."""
    text = _yaml(draw(_almost_valid_space()))
    for _ in range(draw(st.integers(0, 3))):
        if not text:
            break
        i = draw(st.integers(0, len(text) - 1))
        text = text[:i] + draw(st.sampled_from(["", text[i] * 2, ":", "-", "[", "'", "\t", "&", "*", "!!"])) + text[i + 1:]
    return text


SPACE_TEXTS = st.one_of(
    _damaged_yaml(),
    _damaged_yaml(),
    st.text(max_size=200),
    st.lists(st.sampled_from(["params:", "  - {name: a, type: int, low: 1, high: 3}", "  a: [1, 2]", "family: rnn-macro",
                              "  - name: b", "    choices: [x, !!binary aGVsbG8=]", "    type: categorical", "  b: 2021-01-01",
                              "  c: !!set {x, y}", "  d: [.inf, .nan]", "\t", "- -", "params: {a: {type: float, low: 1e400}}",
                              "  e: [&x 1, *x]", "  f: {type: int, low: 0, high: 99999999999999999999}"]), max_size=8).map("\n".join),
)


@FUZZ
@given(space_dicts())
def test_any_space_dict_loads_or_raises_a_user_error(d):
    EXAMPLES["space"] += 1
    check_space_dict(d)


@FUZZ
@given(SPACE_TEXTS)
def test_any_space_file_loads_or_raises_a_user_error(tmp_path_factory, text):
    EXAMPLES["space_text"] += 1
    check_space_text(tmp_path_factory.getbasetemp() / f"fuzz{next(_files)}.yaml", text)
