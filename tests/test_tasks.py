"""Tasks: windows and horizons, chronological split, scaling fitted on training data only, built-ins."""

from __future__ import annotations

import socket

import numpy as np
import pytest

import seqnas.tasks as tasks
from seqnas.errors import TaskError
from seqnas.tasks import BUILTIN_TASKS, TaskSpec, load_task, task_spec
from seqnas.tasks.base import make_windows
from seqnas.tasks.builtin import mackey_glass


def _windows(values: np.ndarray, window: int = 5, horizon: int = 2, columns: list[str] | None = None):
    return make_windows(values, 0, window, horizon, 0.15, 0.15, name="t", columns=columns or [f"c{i}" for i in range(values.shape[1])])


def _series(n: int = 200, cols: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(size=(n, cols)), axis=0) + np.arange(n)[:, None] * 0.1


@pytest.mark.parametrize("n, window, horizon, cols", [(200, 5, 2, 1), (120, 24, 1, 3), (61, 10, 6, 2), (500, 1, 1, 1)])
def test_window_and_horizon_shapes(n, window, horizon, cols):
    d = _windows(_series(n, cols), window, horizon)
    count = n - window - horizon + 1
    # The windows whose targets straddle a split boundary are dropped: horizon - 1 at each boundary.
    assert len(d.X_train) + len(d.X_val) + len(d.X_test) == count - 2 * (horizon - 1)
    for X, y in ((d.X_train, d.y_train), (d.X_val, d.y_val), (d.X_test, d.y_test)):
        assert X.shape[1:] == (window, cols) and y.shape[1:] == (horizon,) and len(X) == len(y) >= 4
        assert X.dtype == np.float32 and y.dtype == np.float32
    assert (d.window, d.horizon, d.n_features) == (window, horizon, cols)
    assert d.info["windows"] == count


def test_windows_are_consecutive_and_split_chronologically():
    # Column 0 is the time index itself, so every scaled value maps back to the row it came from.
    n, window, horizon = 150, 6, 3
    values = np.column_stack([np.arange(n, dtype=float), _series(n, 1)[:, 0]])
    d = _windows(values, window, horizon)
    row = lambda z: np.round(z * d.std[0] + d.mean[0]).astype(int)  # noqa: E731
    starts = []
    for X, y in ((d.X_train, d.y_train), (d.X_val, d.y_val), (d.X_test, d.y_test)):
        for x, t in zip(row(X[:, :, 0]), row(y)):
            assert list(x) == list(range(x[0], x[0] + window))  # inputs are consecutive rows
            assert list(t) == list(range(x[0] + window, x[0] + window + horizon))  # targets follow them
            starts.append(x[0])
    assert starts == sorted(starts) and len(set(starts)) == len(starts)  # in time order, each once
    a, b = len(d.X_train), len(d.X_train) + len(d.X_val)
    gap = horizon - 1
    assert starts == [*range(a), *range(a + gap, b + gap), *range(b + 2 * gap, n - window - horizon + 1)]
    # Every training target comes before every validation target, which come before every test target:
    # no target row is in two splits.
    assert row(d.y_train).max() < row(d.y_val).min() and row(d.y_val).max() < row(d.y_test).min()


def test_scaling_uses_only_the_training_part():
    values = _series(300, 2)
    d = _windows(values)
    fit_rows = d.info["scaling_rows"]
    # The scaling statistics are those of the rows the training windows use, and no more.
    used = np.round(d.X_train[:, :, 1] * d.std[1] + d.mean[1], 6)
    assert np.allclose(d.mean, values[:fit_rows].mean(axis=0)) and np.allclose(d.std, values[:fit_rows].std(axis=0))
    last_train_target_row = len(d.X_train) - 1 + d.window + d.horizon - 1
    assert fit_rows == last_train_target_row + 1
    assert used.size > 0


def test_changing_validation_and_test_values_changes_no_scaling_and_no_training_window():
    values = _series(300, 2)
    d = _windows(values)
    fit_rows = d.info["scaling_rows"]
    poisoned = values.copy()
    poisoned[fit_rows:] = poisoned[fit_rows:] * 1000.0 + 1e6  # anything after training: outliers
    e = _windows(poisoned)
    np.testing.assert_array_equal(d.mean, e.mean)
    np.testing.assert_array_equal(d.std, e.std)
    np.testing.assert_array_equal(d.X_train, e.X_train)
    np.testing.assert_array_equal(d.y_train, e.y_train)
    assert not np.array_equal(d.y_test, e.y_test)
    # While a change inside the training part does move the statistics.
    changed = values.copy()
    changed[fit_rows - 1] += 100.0
    assert not np.array_equal(_windows(changed).mean, d.mean)


def test_multivariate_inputs_predict_the_target_column():
    values = np.column_stack([np.sin(np.arange(200) / 5.0), np.cos(np.arange(200) / 7.0), np.arange(200) % 13])
    d = make_windows(values, 0, 8, 2, 0.15, 0.15, name="m", columns=["y", "a", "b"])
    assert d.n_features == 3 and d.target == "y" and d.columns == ["y", "a", "b"]
    # The target of one window is what column 0 holds at the next rows.
    np.testing.assert_allclose(d.y_train[0], d.X_train[2, -2:, 0], atol=1e-6)


def test_too_short_and_constant_series_are_user_errors():
    # 3 splits of at least 4 windows, plus horizon - 1 dropped windows at each of the two boundaries.
    with pytest.raises(TaskError, match="too short for window 24 \\+ horizon 3: need at least 42 rows"):
        _windows(_series(41), 24, 3)
    _windows(_series(42), 24, 3)  # exactly enough
    with pytest.raises(TaskError, match="constant"):
        _windows(np.ones((100, 1)))
    with pytest.raises(TaskError, match="window and horizon"):
        _windows(_series(100), 0, 1)


def test_mackey_glass_is_the_tau_17_series():
    x = mackey_glass(n=600)
    assert x.shape == (600, 1) and np.isfinite(x).all()
    assert 0.2 < x.min() < 0.6 and 1.1 < x.max() < 1.5  # the familiar range of the chaotic regime
    np.testing.assert_array_equal(x, mackey_glass(n=600))  # deterministic
    assert not np.allclose(x[:, 0], mackey_glass(n=600, tau=6)[:, 0])  # tau matters


def test_builtin_tasks_load_offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("a built-in task tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    tasks._load.cache_clear()
    assert {"mackey-glass", "sunspots", "co2", "elnino"} <= set(BUILTIN_TASKS)
    for name in ("mackey-glass", "sunspots", "co2", "elnino"):
        d = load_task(TaskSpec(name))
        b = BUILTIN_TASKS[name]
        assert (d.window, d.horizon) == (b.window, b.horizon)
        assert min(len(d.X_train), len(d.X_val), len(d.X_test)) >= 20, name
        assert np.isfinite(d.X_train).all() and np.isfinite(d.y_test).all()
        # Standardised on the training part: mean 0, std 1 there.
        assert abs(float(d.X_train[:, 0, 0].mean())) < 0.3 and 0.6 < float(d.X_train[:, 0, 0].std()) < 1.4
    assert load_task(TaskSpec("sunspots")).info["rows"] == 309


def test_task_window_and_horizon_override_the_defaults():
    d = load_task(TaskSpec("mackey-glass", window=10, horizon=2))
    assert (d.window, d.horizon) == (10, 2)


def test_task_spec_checks_what_the_user_named(tmp_path):
    assert task_spec(None).name == "sunspots"
    assert task_spec("co2", window=12).window == 12
    spec = task_spec(csv=str(tmp_path / "x.csv"), target="y", features=["a"])
    assert spec.name == "csv" and spec.target == "y" and spec.features == ("a",)
    assert TaskSpec.from_json(spec.to_json()) == spec
    for kwargs, msg in [({"task": "sunspot"}, "unknown task 'sunspot'"), ({"task": "co2", "csv": "x.csv"}, "not both"),
                        ({"task": "co2", "target": "y"}, "for --csv tasks"), ({"task": "co2", "window": 0}, "--window must be"),
                        ({"task": "co2", "horizon": -1}, "--horizon must be")]:
        with pytest.raises(TaskError, match=msg):
            task_spec(**kwargs)


def test_values_that_cannot_be_standardised_are_user_errors():
    huge = np.column_stack([np.arange(100.0) * 1e306, np.sin(np.arange(100.0))])
    with pytest.raises(TaskError, match="too large to standardise"):
        _windows(huge)
    glitch = _series(200, 1)
    glitch[190, 0] = 1e15  # a unit mistake in the test part: float32 training would overflow
    with pytest.raises(TaskError, match="at data row 191 is .* standard deviations"):
        _windows(glitch)
