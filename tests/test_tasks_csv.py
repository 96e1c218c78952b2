"""The CSV loader: what a good file gives, and the message each kind of bad file gives."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from seqnas.errors import TaskError
from seqnas.tasks import load_task, task_spec
from seqnas.tasks.csv import load_csv


def _write(tmp_path, text: str, name: str = "data.csv") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def _good(n: int = 80) -> str:
    rows = [f"2020-01-{1 + i // 24:02d} {i % 24:02d}:00,{np.sin(i / 4):.5f},{i % 7},{(i * 37) % 11}" for i in range(n)]
    return "time,load,temp,hour\n" + "\n".join(rows) + "\n"


def test_target_first_then_features_as_floats(tmp_path):
    path = _write(tmp_path, _good())
    values, cols = load_csv(path, "load", ("hour", "temp"), "time")
    assert cols == ["load", "hour", "temp"]
    assert values.shape == (80, 3) and values.dtype == np.float64
    assert values[3, 0] == pytest.approx(np.sin(3 / 4), abs=1e-5) and values[3, 1] == 3 * 37 % 11 and values[3, 2] == 3
    # The target listed again as a feature is not duplicated.
    assert load_csv(path, "load", ("load", "temp"))[1] == ["load", "temp"]


def test_a_repeated_feature_is_read_once_in_the_order_given(tmp_path):
    # Like the target listed again as a feature: each column once, where it is first named. It used to be refused as
    # "the time column must not also be the target or a feature" with no time column at all.
    path = _write(tmp_path, _good())
    values, cols = load_csv(path, "load", ("temp", "temp"))
    assert cols == ["load", "temp"] and values.shape == (80, 2)
    assert load_csv(path, "load", ("hour", "load", "temp", "hour"), "time")[1] == ["load", "hour", "temp"]
    with pytest.raises(TaskError, match="time column must not also be the target or a feature"):
        load_csv(path, "load", ("temp", "temp"), "temp")

def test_number_spellings_and_whitespace(tmp_path):
    path = _write(tmp_path, 'a,b\n 1.5 ,"2"\n-3e2,+4\n.5,0x\n'.replace("0x", "7"))
    values, _ = load_csv(path, "a", ("b",))
    np.testing.assert_array_equal(values, [[1.5, 2], [-300, 4], [0.5, 7]])



def test_numbers_load_exactly_as_float_reads_the_cell(tmp_path):
    # pandas' to_numeric read '+0.9053558666731177' as 0.9053558666731176 (and 12-28% of 16-17 digit numbers
    # after a '+' one float off).
    rng = np.random.default_rng(0)
    texts = ["+0.9053558666731177", *(f"+{v!r}" for v in rng.random(200).tolist()),
             *(f"+{v:.17e}" for v in rng.exponential(1e6, 200).tolist())]
    values, _ = load_csv(_write(tmp_path, "y\n" + "\n".join(texts) + "\n"), "y")
    assert values[:, 0].tolist() == [float(t) for t in texts]
    # A NaN however it is signed is a missing value, not an infinite one.
    for nan in ("-nan", "+NaN"):
        with pytest.raises(TaskError, match="1 missing value\\(s\\), first at data row 2"):
            load_csv(_write(tmp_path, f"y\n1\n{nan}\n2\n"), "y")

def test_csv_task_windows_and_features(tmp_path):
    path = _write(tmp_path, _good(120))
    data = load_task(task_spec(csv=path, target="load", features=["temp"], time_column="time", window=8, horizon=2))
    assert data.n_features == 2 and data.window == 8 and data.horizon == 2 and data.columns == ["load", "temp"]
    assert data.info["rows"] == 120


def test_a_changed_file_is_read_again(tmp_path):
    path = _write(tmp_path, "y\n" + "\n".join(str(i % 5) for i in range(60)))
    spec = task_spec(csv=path, target="y", window=4)
    first = load_task(spec)
    time.sleep(0.01)
    _write(tmp_path, "y\n" + "\n".join(str((i * 3) % 7) for i in range(60)))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert not np.array_equal(load_task(spec).X_train, first.X_train)


@pytest.mark.parametrize("text, args, message", [
    ("", ("y",), "is empty"),
    ("y,z\n", ("y",), "header but no data rows"),
    ("y\n1\n2\nabc\n", ("y",), "non-numeric value 'abc' at data row 3"),
    ("y,z\n1,2\n,3\n", ("y",), "missing value"),
    ("y\n1\nnan\n2\n", ("y",), "missing value"),
    ("y\n1\nNA\n2\n", ("y",), "missing value"),
    ("y\n1\ninf\n2\n", ("y",), "infinite value at data row 2"),
    ("y\n1\n2\n", ("load",), "column(s) ['load'] not in"),
    ("y,z\n1\n2\n", ("y", ("w",)), "column(s) ['w'] not in"),
    ("y\n1\n2\n", ("",), "needs --target"),
    ("y,t\n1,2020-01-02\n2,2020-01-01\n", ("y", (), "t"), "not sorted"),
    ("y,t\n1,2020-01-01\n2,2020-01-01\n", ("y", (), "t"), "duplicated timestamps, first at data row 2"),
    ("y,t\n1,2020-01-01\n2,yesterday\n", ("y", (), "t"), "unreadable value"),
    ("y,t\n1,2020-01-01\n2,2020-01-02\n", ("y", (), "y"), "must not also be the target"),
    ("y,t\n1,2021-01-01T00:00+01:00\n2,2021-01-01T00:30+05:00\n", ("y", (), "t"), "not sorted"),  # in UTC it goes back
    ("y,t\n1,10\n2,20\n3,15\n", ("y", (), "t"), "not sorted"),
    ("y,t\n1,10\n2,10\n", ("y", (), "t"), "duplicated timestamps"),
    ('y\n"1\n2\n', ("y",), "cannot be parsed"),
])
def test_bad_csv_content(tmp_path, text, args, message):
    path = _write(tmp_path, text)
    with pytest.raises(TaskError) as e:
        load_csv(path, *args)
    assert message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("text, args, rows", [
    # Blank lines are skipped: the rows around them, in file order.
    ("y\n1\n\n2\n", ("y",), [[1], [2]]),
    ("y,z\n\n1,5\n\n\n2,6\n\n-3.5,7\n\n", ("y", ("z",)), [[1, 5], [2, 6], [-3.5, 7]]),
    # Mixed time zones, increasing in UTC (23:00Z, 00:00Z, 00:00Z next day; the last has no zone: UTC).
    ("y,t\n1,2021-01-01T00:00+01:00\n2,2021-01-01T00:00Z\n3,2021-01-02\n", ("y", (), "t"), [[1], [2], [3]]),
    # Each row's local clock goes back while UTC goes forward (01:00Z, 02:00Z, 03:00Z): time order is UTC's.
    ("t,y,z\n2021-01-01T10:00+09:00,1,9\n2021-01-01T02:00Z,2,8\n2020-12-31T23:00-04:00,3,7\n", ("y", ("z",), "t"),
     [[1, 9], [2, 8], [3, 7]]),
    # A numeric time column (a step index, maybe negative; epoch milliseconds), compared as numbers: as text "9" > "10".
    ("y,t\n1,9\n2,10\n3,30\n", ("y", (), "t"), [[1], [2], [3]]),
    ("t,y\n-5,0.5\n9,1.5\n1000000000000,-2\n", ("y", (), "t"), [[0.5], [1.5], [-2]]),
])
def test_accepted_csv_content_loads_in_file_order(tmp_path, text, args, rows):
    values, cols = load_csv(_write(tmp_path, text), *args)
    assert cols == [args[0], *(args[1] if len(args) > 1 else ())]
    # Exactly the numbers written, row for row in the file's order (which is the time order: the
    # chronological split relies on it), target first.
    np.testing.assert_array_equal(values, np.array(rows, dtype=np.float64))
    if len(args) > 2:
        # The same time stamps out of time order are refused: the file's order was accepted because it is the time order.
        header, *lines = [line for line in text.splitlines() if line]
        with pytest.raises(TaskError, match="not sorted"):
            load_csv(_write(tmp_path, "\n".join([header, *reversed(lines)]) + "\n", "reversed.csv"), *args)


@pytest.mark.parametrize("raw, args, rows", [
    (b"\xef\xbb\xbf\nload\n0.0", ("load",), [[0.0]]),  # was "is empty": the BOM made the blank line look like a header
    (b"\xef\xbb\xbf\r\n\r\nload,temp\r\n1,2\r\n-3,4\r\n", ("temp", ("load",)), [[2, 1], [4, -3]]),
    (b"\xef\xbb\xbfload\n5\n", ("load",), [[5]]),
])
def test_a_byte_order_mark_before_blank_lines_and_the_header(tmp_path, raw, args, rows):
    p = tmp_path / "bom.csv"
    p.write_bytes(raw)
    values, cols = load_csv(str(p), *args)
    assert cols == [args[0], *(args[1] if len(args) > 1 else ())]
    np.testing.assert_array_equal(values, np.array(rows, dtype=np.float64))

def test_missing_file_a_directory_and_binary_garbage(tmp_path):
    with pytest.raises(TaskError, match="does not exist"):
        load_csv(str(tmp_path / "nope.csv"), "y")
    with pytest.raises(TaskError, match="is not a file"):
        load_csv(str(tmp_path), "y")
    p = tmp_path / "bin.csv"
    p.write_bytes(b"\xff\xfe\xfa\x00\x01y\n\x80\x81\n")
    with pytest.raises(TaskError, match="cannot be parsed|not in"):
        load_csv(str(p), "y")


def test_constant_and_too_short_series_through_the_task(tmp_path):
    const = _write(tmp_path, "y,z\n" + "\n".join(f"5,{i}" for i in range(100)), "const.csv")
    with pytest.raises(TaskError, match="constant"):
        load_task(task_spec(csv=const, target="y"))
    short = _write(tmp_path, "y\n" + "\n".join(str(i) for i in range(20)), "short.csv")
    with pytest.raises(TaskError, match="too short for window 24 \\+ horizon 1"):
        load_task(task_spec(csv=short, target="y"))
    load_task(task_spec(csv=short, target="y", window=4))  # a smaller window, as the message says, works


def test_a_huge_file_with_a_mistaken_column_fails_reading_only_the_header(tmp_path):
    p = tmp_path / "huge.csv"
    with open(p, "wb") as f:
        f.write(b"time,load,temp\n")
        f.truncate(2 * 1024**3)  # 2 GiB, sparse: reading it through would take a long time
    with open("/proc/self/io") as f:
        before = int(next(line for line in f if line.startswith("rchar:")).split()[1])
    with pytest.raises(TaskError, match="column\\(s\\) \\['lod'\\] not in"):
        load_csv(str(p), "lod")
    with open("/proc/self/io") as f:
        after = int(next(line for line in f if line.startswith("rchar:")).split()[1])
    assert after - before < 16 * 1024**2  # bytes this process read: the header's chunk, not the file
