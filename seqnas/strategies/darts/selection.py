"""Deriving architectures from a searched supernet: DARTS-PT perturbation selection, one-hot paths, the parameter limit."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from seqnas.models import build, count_params
from seqnas.models.supernet import Choice, Supernet
from seqnas.space.base import Arch, SearchSpace
from seqnas.tasks.base import TaskData


def perturbation_select(space: SearchSpace, choices: Sequence[Choice], start: Sequence[np.ndarray], fixed: Mapping[str, Any],
                        val_loss: Callable[[list[torch.Tensor]], float],
                        tune: Callable[[list[torch.Tensor], int], None]) -> tuple[list[np.ndarray], list[list[float] | None], list[float]]:
    """Perturbation-based selection (DARTS-PT, Wang et al. 2021): decide by what an option does, not by its weight.

    Choice after choice (in order, skipping choices the decisions so far make inactive), each
    option's mixing weight is set to zero in turn and the supernet's validation loss measured;
    the option whose removal hurts the most is chosen, the choice becomes one-hot, and the
    weights are tuned for a while (``tune``) before the next choice. The architecture weights
    ``start`` only set the mixture the other choices keep until their turn.

    Returns per choice a distribution for ``top_architectures`` (softmax of the loss rises with
    one temperature for all choices, so architectures rank by the sum of their options' rises and
    the first is the selection; an undecided choice keeps ``start``), the loss rises, and the
    validation loss after each decision.
    """
    current = [torch.tensor(np.asarray(p), dtype=torch.float32) for p in start]
    scores: list[list[float] | None] = [None] * len(choices)
    after: list[float] = []
    partial: dict[str, Any] = dict(fixed)
    base: float | None = None  # the loss of ``current`` with the weights as they are now
    for ci, c in enumerate(choices):
        if not space.is_active(space[c.params[0]], partial):
            continue
        if len(c.options) == 1:  # nothing to decide, nothing to tune
            scores[ci] = [0.0]
            partial.update(c.assignment(0))
            continue
        if base is None:
            base = val_loss(current)
        rises = []
        for k in range(len(c.options)):
            probe = list(current)
            probe[ci] = current[ci].clone()
            probe[ci][k] = 0.0
            rise = val_loss(probe) - base
            rises.append(rise if math.isfinite(rise) else math.inf)
        best = int(np.argmax(rises))
        scores[ci] = [float(r) if math.isfinite(r) else 1e30 for r in rises]
        current[ci] = F.one_hot(torch.tensor(best), len(c.options)).to(torch.float32)
        partial.update(c.assignment(best))
        tune(current, ci + 1)
        base = val_loss(current)
        after.append(base)
    finite = [abs(v) for sc in scores if sc for v in sc if abs(v) < 1e30]
    temperature = float(np.mean(finite)) if finite and np.mean(finite) > 0 else 1.0
    ranking = []
    for p, sc in zip(start, scores):
        if sc is None:
            ranking.append(np.asarray(p, dtype=np.float64))
            continue
        z = np.asarray(sc, dtype=np.float64) / temperature
        z = np.exp(z - z.max())
        ranking.append(z / z.sum())
    return ranking, scores, after


def one_hot(net: Supernet, arch: Arch) -> list[np.ndarray]:
    """The architecture as per-choice probabilities (uniform for a choice it does not use)."""
    out = []
    for c in net.choices:
        hit = [i for i in range(len(c.options)) if all(arch.get(p) == v for p, v in c.assignment(i).items())]
        p = np.zeros(len(c.options))
        if hit:
            p[hit[0]] = 1.0
        else:
            p[:] = 1.0 / len(c.options)
        out.append(p)
    return out


def param_limit(family: str | None, data: TaskData, max_params: int | None) -> Callable[[Arch], bool] | None:
    """A filter for derived architectures: at most ``max_params`` trainable parameters (None: no limit)."""
    if max_params is None:
        return None

    def accept(arch: Arch) -> bool:
        return count_params(build(arch, family, data.n_features, data.horizon, window=data.window,
                                  season=data.info.get("season"))) <= max_params

    return accept
