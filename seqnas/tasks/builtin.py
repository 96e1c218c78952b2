"""Built-in tasks that work offline: synthetic Mackey-Glass and real series bundled in statsmodels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


def mackey_glass(n: int = 1500, tau: int = 17, beta: float = 0.2, gamma: float = 0.1, power: float = 10.0,
                 dt: float = 0.1, sample_every: float = 1.0, discard: int = 300, x0: float = 1.2) -> np.ndarray:
    """The Mackey-Glass delay equation (chaotic at tau=17), integrated with RK4 at step ``dt``."""
    per_sample = int(round(sample_every / dt))
    lag = int(round(tau / dt))
    steps = (n + discard) * per_sample
    x = np.empty(steps + lag + 1)
    x[: lag + 1] = x0

    def f(xt: float, xlag: float) -> float:
        return beta * xlag / (1.0 + xlag**power) - gamma * xt

    for t in range(lag, steps + lag):
        # The delayed term is held over the step: the usual scheme for this equation.
        xl = x[t - lag]
        k1 = f(x[t], xl)
        k2 = f(x[t] + 0.5 * dt * k1, xl)
        k3 = f(x[t] + 0.5 * dt * k2, xl)
        k4 = f(x[t] + dt * k3, xl)
        x[t + 1] = x[t] + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    series = x[lag + 1 :: per_sample][discard : discard + n]
    return series[:, None]


def _sunspots() -> np.ndarray:
    import statsmodels.api as sm

    return sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(dtype=np.float64)[:, None]


def _co2() -> np.ndarray:
    import statsmodels.api as sm

    weekly = sm.datasets.co2.load_pandas().data["co2"]
    # Weekly with gaps: monthly means, remaining gaps interpolated (the usual preparation).
    monthly = weekly.resample("MS").mean().interpolate()
    return monthly.to_numpy(dtype=np.float64)[:, None]


def _elnino() -> np.ndarray:
    import statsmodels.api as sm

    d = sm.datasets.elnino.load_pandas().data
    return d.drop(columns=["YEAR"]).to_numpy(dtype=np.float64).reshape(-1)[:, None]


@dataclass(frozen=True)
class Builtin:
    load: Callable[[], np.ndarray]
    window: int
    horizon: int
    description: str


BUILTIN_TASKS: dict[str, Builtin] = {
    "mackey-glass": Builtin(lambda: mackey_glass(), 24, 6,
                           "Mackey-Glass chaotic series (tau=17), 1500 steps, predict 6 ahead from 24"),
    "sunspots": Builtin(_sunspots, 24, 3, "yearly sunspot numbers 1700-2008 (309 rows), predict 3 years from 24"),
    "co2": Builtin(_co2, 24, 6, "Mauna Loa CO2, monthly means 1958-2001, predict 6 months from 24"),
    "elnino": Builtin(_elnino, 24, 3, "El Nino sea surface temperatures, monthly 1950-2010, predict 3 months from 24"),
}
