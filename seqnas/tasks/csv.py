"""The user's own series from a CSV file, checked so that a bad file gives a clear message."""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import numpy as np
import pandas as pd

from seqnas.errors import TaskError

_MAX_HEADER_BYTES = 1 << 20


def _header_line(p: Path, path: str) -> bytes:
    """The first non-blank line, read on its own, so that a mistaken column name in a huge file
    fails at once instead of after reading the file (b"" when there is none)."""
    read = 0
    try:
        with open(p, "rb") as f:
            if f.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:  # a BOM is not a character of the first line
                f.seek(0)
            while read < _MAX_HEADER_BYTES:
                line = f.readline(_MAX_HEADER_BYTES - read)
                if not line:
                    return b""
                read += len(line)
                if line.strip():
                    if not line.endswith(b"\n") and read >= _MAX_HEADER_BYTES:
                        break
                    return line
    except OSError as e:
        raise TaskError(f"cannot read CSV file {path!r}: {e.strerror}") from None
    raise TaskError(f"CSV file {path!r} has no header line in its first MiB; is it a CSV file?")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _time_values(column: pd.Series) -> pd.Series:
    """A time column as comparable values (NaN/NaT where unreadable): plain numbers (a step index,
    epoch seconds) as numbers, anything else as timestamps, time zones converted to UTC."""
    text = column.str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    if len(text) and numbers.notna().all():
        return numbers
    try:
        return pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    except (ValueError, TypeError, OverflowError):
        return pd.Series([pd.NaT] * len(text), index=text.index)


def load_csv(path: str, target: str | None, features: tuple[str, ...] = (), time_column: str | None = None) -> tuple[np.ndarray, list[str]]:
    """Read ``target`` (plus ``features``) as a float array (time, columns), target first."""
    p = Path(path)
    if not p.exists():
        raise TaskError(f"CSV file {path!r} does not exist")
    if not p.is_file():
        raise TaskError(f"CSV path {path!r} is not a file")
    if not target:
        raise TaskError("a CSV task needs --target COLUMN")
    first = _header_line(p, path)
    try:
        if not first:
            raise pd.errors.EmptyDataError
        header = pd.read_csv(io.BytesIO(first), nrows=0)
    except pd.errors.EmptyDataError:
        raise TaskError(f"CSV file {path!r} is empty; it needs a header row and data rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise TaskError(f"CSV file {path!r} cannot be parsed: {str(e).splitlines()[0]}") from None
    cols = [str(c) for c in header.columns]
    wanted = list(dict.fromkeys([target, *features]))  # each column once, where first named: the target first
    if time_column:
        wanted_all = [*wanted, time_column]
    else:
        wanted_all = wanted
    missing = [c for c in wanted_all if c not in cols]
    if missing:
        raise TaskError(f"column(s) {missing} not in {path!r}; its columns are {cols[:20]}{' ...' if len(cols) > 20 else ''}")
    if len(set(wanted_all)) != len(wanted_all):
        raise TaskError("the time column must not also be the target or a feature")
    try:
        df = pd.read_csv(p, usecols=wanted_all, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise TaskError(f"CSV file {path!r} cannot be parsed: {str(e).splitlines()[0]}") from None
    if len(df) == 0:
        raise TaskError(f"CSV file {path!r} has a header but no data rows")
    if time_column:
        stamps = _time_values(df[time_column])
        bad = np.flatnonzero(stamps.isna().to_numpy())
        if len(bad):
            raise TaskError(f"time column {time_column!r} has {len(bad)} unreadable value(s), first at data row {bad[0] + 1}: {df[time_column].iloc[bad[0]]!r}")
        if stamps.duplicated().any():
            i = int(np.flatnonzero(stamps.duplicated().to_numpy())[0])
            raise TaskError(f"time column {time_column!r} has duplicated timestamps, first at data row {i + 1} ({df[time_column].iloc[i]}); remove or aggregate them")
        if not stamps.is_monotonic_increasing:
            raise TaskError(f"time column {time_column!r} is not sorted; sort the file by time")
    out = np.empty((len(df), len(wanted)), dtype=np.float64)
    for j, c in enumerate(wanted):
        raw = df[c].str.strip()
        empty = (raw == "") | raw.str.lower().isin(["nan", "+nan", "-nan", "na", "n/a", "null", "none"])
        if empty.any():
            i = int(np.flatnonzero(empty.to_numpy())[0])
            raise TaskError(f"column {c!r} has {int(empty.sum())} missing value(s), first at data row {i + 1}; fill or drop them")
        try:
            # float() of each cell: exact, where pandas' to_numeric reads some numbers after a '+' one float off.
            vals = raw.to_numpy(dtype=object).astype(np.float64)
        except ValueError:
            i = next(i for i, text in enumerate(raw) if not _is_number(text))
            raise TaskError(f"column {c!r} has non-numeric value {raw.iloc[i]!r} at data row {i + 1}; it must hold numbers only") from None
        if not np.isfinite(vals).all():
            i = int(np.flatnonzero(~np.isfinite(vals))[0])
            raise TaskError(f"column {c!r} has an infinite value at data row {i + 1}")
        out[:, j] = vals
    return out, wanted


def load_calendar(path: str, time_column: str | None) -> tuple[np.ndarray, list[str]]:
    """The calendar inputs (``seqnas.tasks.calendar``) of a CSV file's time column (checked by ``load_csv`` first)."""
    from seqnas.tasks.calendar import calendar_of, wall_clock
    from seqnas.timeaxis import infer_time_step

    if not time_column:
        raise TaskError("calendar inputs are computed from the time column: give --time-column COLUMN, or drop --calendar")
    times = wall_clock(pd.read_csv(path, usecols=[time_column], dtype=str, keep_default_na=False)[time_column])
    return calendar_of(times, infer_time_step(times), f"time column {time_column!r}")
