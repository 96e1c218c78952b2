"""Supernets for one-shot search: relaxed choices, mixing weights, and the most probable architectures."""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seqnas.errors import ConfigError
from seqnas.families import supernet_family
from seqnas.space.base import Arch, SearchSpace

MIXINGS = ("softmax", "dirichlet", "gumbel")
DERIVATIONS = ("argmax", "joint")


@dataclass(frozen=True)
class Choice:
    """One relaxed decision: a categorical over ``options``, each setting the space parameters ``params``.

    A choice is active in an architecture when its first parameter is. ``labels`` name the
    options (operation names in the diagnostics); ``param_free`` marks the options that make
    the network cheaper without learning anything (identity activations, skipped layers).
    """

    name: str
    params: tuple[str, ...]
    options: tuple[tuple[Any, ...], ...]
    labels: tuple[str, ...]
    param_free: tuple[bool, ...]

    def assignment(self, k: int) -> dict[str, Any]:
        return dict(zip(self.params, self.options[k]))


class Supernet(nn.Module):
    """A network that holds every architecture of a space at once.

    Each ``Choice`` has one vector of architecture logits in ``self.alphas`` (an
    ``nn.ParameterList``, so they live in the state dict next to the network weights). The
    forward pass takes one mixing-weight vector per choice (softmax, Dirichlet sample or hard
    Gumbel sample of the logits; see ``mixing_weights``).
    """

    def __init__(self, choices: Sequence[Choice]) -> None:
        super().__init__()
        self.choices = list(choices)
        # DARTS-'s auxiliary skip: every node / layer also passes its input through with this weight
        # (set by the search, decayed to 0), so parameter-free and linear options no longer win just
        # because they ease the supernet's optimisation. 0 = the plain supernet.
        self.aux_weight = 0.0
        # Zero logits: every option starts equally likely, and the start does not depend on a seed.
        self.alphas = nn.ParameterList([nn.Parameter(torch.zeros(len(c.options))) for c in self.choices])

    def arch_parameters(self) -> list[nn.Parameter]:
        return list(self.alphas)

    def weight_parameters(self) -> list[nn.Parameter]:
        return [p for name, p in self.named_parameters() if not name.startswith("alphas.")]

    def forward(self, x: torch.Tensor, weights: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        raise NotImplementedError

    # -- diagnostics ------------------------------------------------------------------------------
    def param_free_share(self, probs: Sequence[np.ndarray]) -> float:
        """Expected share of parameter-free options over the choices that have one."""
        shares = [float(np.sum(p[np.asarray(c.param_free, dtype=bool)])) for c, p in zip(self.choices, probs) if any(c.param_free)]
        return float(np.mean(shares)) if shares else 0.0

    def uniform_probs(self) -> list[np.ndarray]:
        return [np.full(len(c.options), 1.0 / len(c.options)) for c in self.choices]

    def edges(self, probs: Sequence[np.ndarray]) -> tuple[list[str], list[str], list[list[float]]]:
        """(edge names, op names, per-edge probabilities over the op names) for plotting.

        By default an edge is a choice and the op names are the union of the option labels
        (an edge gives probability 0 to ops it does not hold).
        """
        ops: list[str] = []
        for c in self.choices:
            ops.extend(lbl for lbl in c.labels if lbl not in ops)
        rows = []
        for c, p in zip(self.choices, probs):
            row = [0.0] * len(ops)
            for lbl, v in zip(c.labels, p):
                row[ops.index(lbl)] += float(v)
            rows.append(row)
        return [c.name for c in self.choices], ops, rows


# -- mixing weights ---------------------------------------------------------------------------------
def check_mixing(mixing: str) -> str:
    if mixing not in MIXINGS:
        raise ConfigError(f"unknown mixing {mixing!r}; use one of {list(MIXINGS)}")
    return mixing


def concentration(alpha: torch.Tensor) -> torch.Tensor:
    """DrNAS's Dirichlet concentration: positive, 1 (uniform) at alpha = 0.

    elu(alpha) + 1 rounds to exactly 0 in float32 below alpha of about -17, which a Dirichlet
    refuses: the floor keeps a far-drifted logit (``kl=0``, long searches) a valid concentration."""
    return (F.elu(alpha) + 1.0).clamp_min(1e-6)


def mixing_weights(alphas: Sequence[torch.Tensor], mixing: str, tau: float = 1.0) -> list[torch.Tensor]:
    """Mixing weights for one forward pass, differentiable in the logits.

    softmax: DARTS. dirichlet: a reparameterised sample of Dirichlet(elu(alpha) + 1) (DrNAS).
    gumbel: a hard one-hot Gumbel-softmax sample with straight-through gradients (GDAS).
    Samples use torch's global generator, which the search seeds.
    """
    if mixing == "softmax":
        return [F.softmax(a, dim=-1) for a in alphas]
    if mixing == "dirichlet":
        return [torch.distributions.Dirichlet(concentration(a)).rsample() for a in alphas]
    if mixing == "gumbel":
        return [F.gumbel_softmax(a, tau=tau, hard=True) for a in alphas]
    raise ConfigError(f"unknown mixing {mixing!r}; use one of {list(MIXINGS)}")


def expected_weights(alphas: Sequence[torch.Tensor], mixing: str) -> list[torch.Tensor]:
    """The architecture distribution's mean: what derivation ranks and validation uses."""
    if mixing == "dirichlet":
        out = []
        for a in alphas:
            c = concentration(a)
            out.append(c / c.sum())
        return out
    return [F.softmax(a, dim=-1) for a in alphas]


def dirichlet_kl(alphas: Sequence[torch.Tensor]) -> torch.Tensor:
    """KL(Dirichlet(elu(alpha) + 1) || Dirichlet(1)): DrNAS's pull back toward the uniform prior."""
    total = torch.zeros(())
    for a in alphas:
        c = concentration(a)
        total = total + torch.distributions.kl_divergence(torch.distributions.Dirichlet(c),
                                                          torch.distributions.Dirichlet(torch.ones_like(c)))
    return total


def normalised_entropy(probs: Sequence[np.ndarray]) -> float:
    """Mean entropy of the choices with more than one option, divided by log(#options): 1 uniform, 0 decided."""
    vals = []
    for p in probs:
        if len(p) > 1:
            q = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1.0)
            vals.append(float(-(q * np.log(q)).sum() / math.log(len(p))))
    return float(np.mean(vals)) if vals else 0.0


# -- derivation --------------------------------------------------------------------------------------
def top_architectures(space: SearchSpace, choices: Sequence[Choice], probs: Sequence[np.ndarray], fixed: Mapping[str, Any],
                      k: int, accept: Callable[[Arch], bool] | None = None, max_pops: int = 20_000,
                      derive: str = "argmax") -> list[tuple[Arch, float]]:
    """The ``k`` best-scored architectures, best first, with their scores.

    ``derive="joint"``: an architecture's score is its log-probability, the sum over its
    *active* choices of log p(option) (a conditional choice, e.g. the cell of layer 3 when
    depth is 2, does not count). Every extra active choice then costs its own log-probability,
    about ln(#options) nats at uniform weights, so the joint ranking favours architectures with
    fewer active choices (shallow stacks) whatever the weights of the depth choice say.

    ``derive="argmax"`` (DARTS): each active choice takes its most probable option, so the
    top-1 is the per-decision argmax whatever its number of active choices; the runners-up
    are ranked by how far they deviate from it: the score is the sum over active choices of
    log(p(option) / max p), 0 for the argmax architecture. Space
    parameters no choice sets take their value from ``fixed``. Best-first (A*) search over the
    space's parameters in order, with the sum of the best log-probabilities of the remaining
    unconditional choices as the (admissible) bound, so the first complete architecture is
    the best and the next ones follow in order. ``accept`` filters architectures (e.g. a
    parameter limit); rejected ones do not count toward ``k``.
    """
    if derive not in DERIVATIONS:
        raise ConfigError(f"unknown derivation {derive!r}; use one of {list(DERIVATIONS)}")
    first: dict[str, int] = {c.params[0]: i for i, c in enumerate(choices)}
    covered = {p for c in choices for p in c.params}
    logp = [np.log(np.clip(np.asarray(p, dtype=np.float64), 1e-300, None)) for p in probs]
    if derive == "argmax":
        logp = [lp - lp.max() for lp in logp]
    params = list(space.params)
    # Admissible remaining-score bound from position i on: best option of every unconditional choice ahead.
    bound = [0.0] * (len(params) + 1)
    for i in range(len(params) - 1, -1, -1):
        p = params[i]
        extra = float(logp[first[p.name]].max()) if p.name in first and p.condition is None else 0.0
        bound[i] = bound[i + 1] + extra
    out: list[tuple[Arch, float]] = []
    counter = 0
    # Entries: (-(score + bound), -position, counter, position, score, partial). Among equal
    # bounds the deeper partial goes first, so ties (a uniform start) do not turn into a breadth-first flood.
    heap: list[tuple[float, int, int, int, float, tuple[tuple[str, Any], ...]]] = [(-bound[0], 0, counter, 0, 0.0, ())]
    pops = 0
    while heap and len(out) < k and pops < max_pops:
        _, _, _, pos, score, items = heapq.heappop(heap)
        pops += 1
        partial = dict(items)
        # Walk forward over parameters that need no branching: inactive, fixed, or set by an earlier choice.
        while pos < len(params):
            p = params[pos]
            if not space.is_active(p, partial) or p.name in partial:
                pos += 1
                continue
            if p.name in first:
                break
            if p.name in covered:
                pos += 1  # a later parameter of a choice whose first parameter was inactive
                continue
            partial[p.name] = fixed[p.name] if p.name in fixed else p.default
            pos += 1
        if pos == len(params):
            arch = space.canonical(partial)
            if accept is None or accept(arch):
                out.append((arch, score))
            continue
        ci = first[params[pos].name]
        for opt in range(len(choices[ci].options)):
            child = {**partial, **choices[ci].assignment(opt)}
            s = score + float(logp[ci][opt])
            counter += 1
            heapq.heappush(heap, (-(s + bound[pos + 1]), -(pos + 1), counter, pos + 1, s, tuple(child.items())))
    return out


def build_supernet(space: SearchSpace, n_features: int, horizon: int, fixed: Mapping[str, Any]) -> Supernet:
    """The supernet of a space's model family (``Family.supernet`` in the registry, ``seqnas.families``).

    The supernet modules (``cell_supernet``, ``macro_supernet``) import this one for ``Choice`` and
    ``Supernet``; this module names them only through the registry, so the imports run one way."""
    net: Supernet = supernet_family(space.family).make_supernet(space, n_features, horizon, fixed)
    return net
