"""Simple forecasters every race shows beside the strategies: did the search pay off at all?

- ``persistence``: the last observed value of the target, repeated over the horizon.
- ``linear``: ridge regression on the flattened input window (with an intercept), its penalty
  chosen on the validation split from a log grid; fitted on the training split only, like the
  networks.
- ``default LSTM``: the network a practitioner would write without a search: 2 LSTM layers of
  64 units, no dropout, Adam at 3e-3 (the middle of rnn-macro's learning rates; at Adam's usual
  1e-3 it underfits in the race's 30 epochs: sunspots test MSE 0.69 against 0.50, 3 seeds),
  trained exactly like every searched architecture, with the race's retraining seeds (so it
  pairs with the strategies seed by seed).

All on the same windows, splits and scaled units as the race.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seqnas.space.base import Arch
from seqnas.tasks.base import TaskData

PREFIX = "baseline: "
PERSISTENCE, LINEAR, DEFAULT_LSTM = "persistence", "linear", "default LSTM"
NAMES = (PERSISTENCE, LINEAR, DEFAULT_LSTM)
RIDGE_PENALTIES = tuple(float(a) for a in np.logspace(-4, 4, 17))
DEFAULT_LSTM_ARCH = {"depth": 2, "cell1": "lstm", "hidden1": 64, "cell2": "lstm", "hidden2": 64, "dropout": 0.0,
                     "residual": False, "lr": 3e-3}


def label(name: str) -> str:
    """How a baseline is named in a race table (a reference row, not a strategy)."""
    return PREFIX + name


def default_lstm_arch() -> Arch:
    """The default LSTM as an rnn-macro architecture (built and trained by the rnn-macro family)."""
    from seqnas.space.rnn_macro import rnn_macro_space

    space = rnn_macro_space()
    arch = Arch(DEFAULT_LSTM_ARCH)
    space.validate(arch)
    return arch


def _mse(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((pred - y) ** 2))


def persistence(data: TaskData) -> dict[str, Any]:
    t = data.columns.index(data.target)

    def predict(X: np.ndarray) -> np.ndarray:
        return np.repeat(X[:, -1, t][:, None], data.horizon, axis=1)

    return {"val_mse": _mse(predict(data.X_val), data.y_val), "test_mse": _mse(predict(data.X_test), data.y_test)}


def ridge(data: TaskData, penalties: tuple[float, ...] = RIDGE_PENALTIES) -> dict[str, Any]:
    """Closed-form ridge (intercept not penalised) for each penalty; the best on validation wins."""

    def design(X: np.ndarray) -> np.ndarray:
        flat = X.reshape(len(X), -1).astype(np.float64)
        return np.hstack([flat, np.ones((len(X), 1))])

    A, y = design(data.X_train), data.y_train.astype(np.float64)
    Av, At = design(data.X_val), design(data.X_test)
    eye = np.eye(A.shape[1])
    eye[-1, -1] = 0.0
    best: dict[str, Any] | None = None
    for lam in penalties:
        W = np.linalg.solve(A.T @ A + lam * eye, A.T @ y)
        val = _mse(Av @ W, data.y_val)
        if best is None or val < best["val_mse"]:
            best = {"val_mse": val, "test_mse": _mse(At @ W, data.y_test), "penalty": lam}
    assert best is not None
    return best
