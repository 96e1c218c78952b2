"""A base forecast that the network corrects, and a linear autoregressive highway beside it.

A recurrent network standardised once has no direct path to "the last value" or "the same hour
yesterday", and no way to fall back on them where they forecast better. The strongest neural
forecasters keep that structure explicit (LSTNet's linear highway beside its RNN, N-BEATS' additive
stacks, ES-RNN's exponential-smoothing level and season under its RNN). Two searchable parameters
(``seqnas.tasks.inputs``) give every architecture of every family that floor:

- ``base``: the forecast the network's output is added to, the network reading its window relative
  to the window's last target value (as ``level``):

  - ``none``: the network alone, on the standardised window;
  - ``last``: the last observed value, repeated (level normalisation: ``seqnas.models.level``);
  - ``seasonal``: the value one season back (for step h, ``y[t + h - s * ceil(h / s)]``; the window
    holds at least one season);
  - ``linear``: a ridge regression of the horizon on the window's target values, fitted in closed
    form on the training windows before the network trains (``fit_base``), penalty chosen on the
    validation windows; fixed while the network trains.

- ``highway``: a linear layer from the window's target values to the horizon, added to the output and
  trained with the network (zero at the start: the model starts as its base forecast).

Everything is in standardised units; the season and the ridge coefficients are buffers of the
module, so an exported state dict carries them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

BASES = ("none", "last", "seasonal", "linear")
RIDGE_PENALTIES = tuple(float(a) for a in np.logspace(-3, 3, 13))


def seasonal_index(window: int, horizon: int, season: int) -> np.ndarray:
    """Window positions (0 first) of the value one season back of each horizon step."""
    steps = np.arange(1, horizon + 1)
    return window - 1 + steps - season * np.ceil(steps / season).astype(int)


class BaseForecast(nn.Module):
    """``model`` forecasting the correction to a ``base`` forecast, with an optional linear ``highway``."""

    def __init__(self, model: nn.Module, base: str, highway: bool, window: int, horizon: int, season: int | None = None) -> None:
        super().__init__()
        if base not in BASES:
            raise ValueError(f"base must be one of {BASES}, got {base!r}")
        if base == "seasonal" and (season is None or not 1 <= season <= window):
            raise ValueError(f"base 'seasonal' needs a season of at most the window ({window}), got {season!r}")
        self.model, self.base, self.window, self.horizon = model, base, window, horizon
        self.index: torch.Tensor
        self.coef: torch.Tensor
        self.bias: torch.Tensor
        index = seasonal_index(window, horizon, season) if base == "seasonal" and season else np.zeros(horizon, dtype=int)
        self.register_buffer("index", torch.as_tensor(index, dtype=torch.long))
        self.register_buffer("coef", torch.zeros(window, horizon))
        self.register_buffer("bias", torch.zeros(horizon))
        self.highway = nn.Linear(window, horizon) if highway else None
        if self.highway is not None:
            nn.init.zeros_(self.highway.weight)
            nn.init.zeros_(self.highway.bias)

    def base_forecast(self, y: torch.Tensor) -> torch.Tensor:
        """The base forecast (batch, horizon) of target windows ``y`` (batch, window)."""
        if self.base == "last":
            return y[:, -1:].expand(-1, self.horizon)
        if self.base == "seasonal":
            return y[:, self.index]
        if self.base == "linear":
            return y @ self.coef + self.bias
        return torch.zeros(y.shape[0], self.horizon, dtype=y.dtype, device=y.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x[:, :, 0]
        if self.base == "none":
            out: torch.Tensor = self.model(x)
            rel = y
        else:
            last = y[:, -1:]
            rel = y - last
            out = self.model(torch.cat([rel.unsqueeze(2), x[:, :, 1:]], dim=2)) + self.base_forecast(y)
        if self.highway is not None:
            out = out + self.highway(rel)
        return out


def fit_base(model: nn.Module, X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray, y_val: np.ndarray) -> None:
    """Fit a ``linear`` base's ridge regression (target column of the windows -> horizon) on the training windows,
    its penalty the one with the lowest validation MSE; nothing for other bases or models."""
    if not isinstance(model, BaseForecast) or model.base != "linear":
        return
    A = np.asarray(X_train[:, :, 0], dtype=np.float64)
    B = np.asarray(y_train, dtype=np.float64)
    mean_a, mean_b = A.mean(axis=0), B.mean(axis=0)
    Ac, Bc = A - mean_a, B - mean_b
    gram, cross = Ac.T @ Ac, Ac.T @ Bc
    Av = np.asarray(X_val[:, :, 0], dtype=np.float64)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for penalty in RIDGE_PENALTIES:
        coef = np.linalg.solve(gram + penalty * len(A) * np.eye(A.shape[1]), cross)
        bias = mean_b - mean_a @ coef
        err = float(np.mean((Av @ coef + bias - y_val) ** 2))
        if best is None or err < best[0]:
            best = (err, coef, bias)
    assert best is not None
    with torch.no_grad():
        model.coef.copy_(torch.as_tensor(best[1], dtype=torch.float32))
        model.bias.copy_(torch.as_tensor(best[2], dtype=torch.float32))
