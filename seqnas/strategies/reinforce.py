"""Reinforcement learning (Zoph & Le / ENAS): an LSTM controller trained with REINFORCE, MnasNet-style rewards."""

from __future__ import annotations

import base64
import bisect
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from seqnas.errors import ConfigError
from seqnas.space.base import Arch, SearchSpace
from seqnas.space.params import Categorical, Int, Param
from seqnas.strategies.base import Strategy
from seqnas.strategies.options import choice_option, float_option, int_option
from seqnas.threads import one_thread
from seqnas.trial import Proposal, TrialRecord, TrialState

STATE_VERSION = 1
OFF_POLICY = ("exclude", "importance")


class _Decision:
    """One controller decision: a parameter's values as ``n`` discrete choices.

    Categoricals and small integer ranges are decided value by value; floats and wide integer
    ranges are cut into ``bins`` equal slices of their (log-)unit interval, and the value is
    drawn uniformly inside the chosen slice.
    """

    def __init__(self, param: Param, bins: int) -> None:
        self.param = param
        if isinstance(param, Categorical):
            self.kind, self.n = "categorical", len(param.choices)
        elif isinstance(param, Int) and param.size <= bins:
            self.kind, self.n = "int", param.size
        else:
            self.kind, self.n = "bins", bins

    def index(self, value: Any) -> int:
        p = self.param
        if self.kind == "categorical":
            return p.index(value)  # type: ignore[attr-defined]
        if self.kind == "int":
            return int(value) - p.low  # type: ignore[attr-defined]
        return min(self.n - 1, max(0, int(p.to_unit(float(value)) * self.n)))  # type: ignore[attr-defined]

    def value(self, index: int, rng: np.random.Generator) -> Any:
        p = self.param
        if self.kind == "categorical":
            return p.choices[index]  # type: ignore[attr-defined]
        if self.kind == "int":
            return p.low + index  # type: ignore[attr-defined]
        v = p.from_unit((index + float(rng.random())) / self.n)  # type: ignore[attr-defined]
        return p.check(min(p.high, max(p.low, round(v)))) if isinstance(p, Int) else p.check(v)  # type: ignore[attr-defined]


class Controller(nn.Module):
    """An LSTM that emits one decision per active parameter, fed the embedding of the previous one."""

    def __init__(self, sizes: Sequence[int], hidden: int, tanh_constant: float | None) -> None:
        super().__init__()
        self.hidden = hidden
        self.tanh_constant = tanh_constant
        self.start = nn.Parameter(torch.zeros(1, hidden))
        self.embed = nn.ModuleList([nn.Embedding(n, hidden) for n in sizes])
        self.cell = nn.LSTMCell(hidden, hidden)
        self.heads = nn.ModuleList([nn.Linear(hidden, n) for n in sizes])

    def logits(self, i: int, h: torch.Tensor) -> torch.Tensor:
        z = self.heads[i](h)[0]
        # ENAS bounds the logits so the policy cannot collapse onto one choice too early.
        return z if self.tanh_constant is None else self.tanh_constant * torch.tanh(z / self.tanh_constant)

    def step(self, x: torch.Tensor, hc: tuple[torch.Tensor, torch.Tensor] | None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cell(x, hc)


class ReinforceSearch(Strategy):
    """REINFORCE on an LSTM controller that writes the architecture one active decision at a time.

    The controller walks the space's parameters in order; a parameter whose condition is not
    met is skipped (not sampled, no LSTM step), so every proposal respects the space.

    Reward. The trial's objective is first scalarised MnasNet-style: with cost targets (e.g.
    ``target_params=20000``, ``target_latency_ms=5``, or ``targets={"name": T}``) the primary
    objective is multiplied by ``(cost / T) ** w`` for each target, where ``w`` is
    ``reward_weight`` above the target and 0 below it (``reward_mode="hard"``, the default with
    targets: "the most accurate model under T") or ``reward_weight`` on both sides
    (``"soft"``: a smooth trade-off). With several objectives and no targets, every secondary
    objective is traded softly with MnasNet's weight 0.07. The reward is then the scalar's
    quantile among all results so far (1 = best yet, 0 = worst), which makes the learning rate
    independent of the objective's scale; failed trials get 0. The advantage is the reward
    minus an exponential moving average of past rewards; every ``batch_size`` results the
    controller takes one Adam step on the REINFORCE loss with an entropy bonus.

    Off-policy proposals. Once the policy is sharp it often repeats an architecture already
    run; the strategy then samples again at raised temperatures and finally draws a uniformly
    random new architecture. Those architectures were not drawn by the policy, so a plain
    REINFORCE step on them is biased. ``off_policy="importance"`` (default) weights every
    sample's gradient by the truncated importance ratio min(``is_clip``, pi(arch) / q(arch)), q
    the distribution it was drawn from (the tempered policy, or uniform over the controller's
    decisions for the random fallback), which also corrects samples drawn by an older policy
    while several trials were in flight. ``off_policy="exclude"`` keeps off-policy proposals out
    of the policy gradient; their rewards still count for the baseline and the reward
    quantiles. The two measured alike on bench/efficiency.py (20 seeds: regret ratio
    exclude / importance 0.98-1.13 at 100 and 300 trials, no paired Wilcoxon p below 0.14). Each
    proposal stores its temperature and q's log-probability (``TrialRecord.info``), so a
    resumed study updates the same way.

    Results update the controller whenever they arrive (several trials may be in flight); the
    log-probability is recomputed for the architecture actually run. The controller's weights,
    its optimizer and its baseline are the strategy's state (``state_dict``), stored with every
    result so that a resumed study continues learning where it stopped.
    """

    name = "rl"
    multi_objective = True

    def __init__(self, space: SearchSpace, *, seed: int = 0, objectives: Sequence[str] = ("val_mse",),
                 lr: float = 0.02, batch_size: int = 1, entropy_weight: float = 0.02, baseline_decay: float = 0.8,
                 hidden_size: int = 32, tanh_constant: float | None = 2.5, bins: int = 8,
                 target_params: float | None = None, target_latency_ms: float | None = None,
                 targets: Mapping[str, float] | None = None, reward_weight: float | None = None,
                 reward_mode: str | None = None, off_policy: str = "importance", is_clip: float = 1.0) -> None:
        super().__init__(space, seed=seed, objectives=objectives)
        n = self.name
        self.off_policy = choice_option(n, "off_policy", off_policy, OFF_POLICY)
        self.is_clip = float_option(n, "is_clip", is_clip, 0.0, low_open=True)
        self.lr = float_option(n, "lr", lr, 0.0, 10.0, low_open=True)
        self.batch_size = int_option(n, "batch_size", batch_size, low=1)
        self.entropy_weight = float_option(n, "entropy_weight", entropy_weight, 0.0)
        self.baseline_decay = float_option(n, "baseline_decay", baseline_decay, 0.0, 1.0)
        self.hidden_size = int_option(n, "hidden_size", hidden_size, low=1)
        if tanh_constant is not None:
            tanh_constant = float_option(n, "tanh_constant", tanh_constant, 0.0, low_open=True)
        self.bins = int_option(n, "bins", bins, low=2)

        self.targets: dict[str, float] = {}
        if targets is not None:
            if not isinstance(targets, Mapping):
                raise ConfigError(f"strategy 'rl': option targets must be a mapping name -> target, got {targets!r}")
            for k, v in targets.items():
                self.targets[str(k)] = float_option(n, f"targets[{k}]", v, 0.0, low_open=True)
        for key, label, given in (("params", "target_params", target_params), ("latency_ms", "target_latency_ms", target_latency_ms)):
            if given is not None:
                self.targets[key] = float_option(n, label, given, 0.0, low_open=True)
        if self.targets:
            self.costs = dict(self.targets)
            default_mode, default_weight = "hard", 1.0
        else:
            self.costs = {o: 1.0 for o in self.objectives[1:]}  # soft: the target only scales the reward
            default_mode, default_weight = "soft", 0.07
        self.reward_mode = choice_option(n, "reward_mode", default_mode if reward_mode is None else reward_mode, ("soft", "hard"))
        self.reward_weight = float_option(n, "reward_weight", default_weight if reward_weight is None else reward_weight, 0.0)
        if self.reward_mode == "hard" and not self.targets and self.costs:
            raise ConfigError("strategy 'rl': reward_mode=hard needs a target: target_params, target_latency_ms or targets")

        self.decisions = [_Decision(p, self.bins) for p in space.params]
        gen = torch.Generator().manual_seed(int(np.random.default_rng([self.seed, 0xC0]).integers(2**62)))
        with torch.random.fork_rng(devices=[]):  # the modules' default init must not move torch's global generator
            self.controller = Controller([d.n for d in self.decisions], self.hidden_size, tanh_constant)
        with torch.no_grad():
            for w in self.controller.parameters():  # ENAS: uniform(-0.1, 0.1), a near-uniform first policy
                w.copy_(torch.rand(w.shape, generator=gen) * 0.2 - 0.1)
        self.optimizer = torch.optim.Adam(self.controller.parameters(), lr=self.lr)
        self.baseline: float | None = None
        # (arch, advantage, log-probability under the distribution that drew it or None) awaiting the next update
        self.pending: list[tuple[dict[str, Any], float, float | None]] = []
        self.n_updates = 0
        self._scalars: list[float] = []  # sorted scalarised results of completed trials
        self._warned_missing: set[str] = set()

    # -- the policy ---------------------------------------------------------------------------------
    def _sample(self, rng: np.random.Generator, temperature: float) -> tuple[Arch, float]:
        """An architecture drawn from the policy at ``temperature``, and its log-probability under that draw."""
        out: dict[str, Any] = {}
        logq = 0.0
        hc = None
        x = self.controller.start
        with torch.no_grad(), one_thread():
            for i, d in enumerate(self.decisions):
                if not self.space.is_active(d.param, out):
                    continue
                hc = self.controller.step(x, hc)
                z = self.controller.logits(i, hc[0]).double().numpy() / temperature
                p = np.exp(z - z.max())
                p /= p.sum()
                k = int(rng.choice(d.n, p=p))
                logq += math.log(p[k])
                out[d.param.name] = d.value(k, rng)
                x = self.controller.embed[i](torch.tensor([k]))
        return self.space.canonical(out), logq

    def _uniform_logq(self, arch: Mapping[str, Any]) -> float:
        """Log-probability of ``arch`` under uniform decisions (the random fallback, in the controller's view)."""
        return -sum(math.log(d.n) for d in self.decisions if d.param.name in arch)

    def _log_prob_entropy(self, arch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        logp = torch.zeros(())
        ent = torch.zeros(())
        hc = None
        x = self.controller.start
        for i, d in enumerate(self.decisions):
            if d.param.name not in arch:
                continue
            hc = self.controller.step(x, hc)
            lp = torch.log_softmax(self.controller.logits(i, hc[0]), dim=-1)
            k = d.index(arch[d.param.name])
            logp = logp + lp[k]
            ent = ent - (lp.exp() * lp).sum()
            x = self.controller.embed[i](torch.tensor([k]))
        return logp, ent

    def _update(self) -> None:
        batch, self.pending = self.pending, []
        with one_thread():
            self.optimizer.zero_grad()
            loss = torch.zeros(())
            for arch, adv, logq in batch:
                logp, ent = self._log_prob_entropy(arch)
                weight = 1.0
                if logq is not None:  # truncated importance sampling: pi / q, capped
                    weight = min(self.is_clip, math.exp(min(50.0, float(logp.detach()) - logq)))
                loss = loss - weight * adv * logp - self.entropy_weight * ent
            (loss / len(batch)).backward()
            self.optimizer.step()
        self.n_updates += 1

    # -- the reward -----------------------------------------------------------------------------------
    def scalarize(self, record: TrialRecord) -> float:
        """The MnasNet-style single number to minimise (inf for a failed trial)."""
        if record.state is not TrialState.COMPLETE:
            return math.inf
        v = self.score(record)
        factor = 1.0
        for name, target in self.costs.items():
            c = record.values.get(name, record.metrics.get(name))
            if c is None:
                if name not in self._warned_missing:
                    self._warned_missing.add(name)
                    warnings.warn(f"rl: results have no {name!r} to compare with its target; that target is ignored",
                                  stacklevel=2)
                continue
            ratio = max(float(c), 1e-12) / target
            if self.reward_mode == "soft" or ratio > 1.0:
                factor *= ratio ** self.reward_weight
        return v * factor if v >= 0 else v / factor

    def _reward(self, scalar: float) -> float:
        if not math.isfinite(scalar):
            return 0.0
        lo = bisect.bisect_left(self._scalars, scalar)
        hi = bisect.bisect_right(self._scalars, scalar)
        others = len(self._scalars)
        bisect.insort(self._scalars, scalar)
        if others == 0:
            return 0.5
        return ((others - hi) + 0.5 * (hi - lo)) / others

    # -- the Strategy interface ----------------------------------------------------------------------
    def _propose(self, rng: np.random.Generator) -> Proposal | None:
        # Once the policy is sharp it often repeats itself; sample again, warmer, before
        # falling back to a random new architecture. What drew the proposal goes with it.
        for attempt in range(20):
            temperature = 1.0 if attempt < 10 else 1.0 + 0.5 * (attempt - 9)
            arch, logq = self._sample(rng, temperature)
            if self.fresh(arch):
                return Proposal(arch=arch, info={"temperature": temperature, "logq": logq})
        fallback = self.sample_fresh(rng)
        if fallback is None:
            return None
        return Proposal(arch=fallback, info={"temperature": None, "logq": self._uniform_logq(fallback)})

    def _observe(self, record: TrialRecord) -> None:
        if record.arch is None:
            return
        r = self._reward(self.scalarize(record))
        if self.baseline is None:
            self.baseline = r
        adv = r - self.baseline
        self.baseline = self.baseline_decay * self.baseline + (1.0 - self.baseline_decay) * r
        info = record.info or {}
        logq = info.get("logq")
        if self.off_policy == "exclude":
            if info.get("temperature", 1.0) != 1.0:
                return  # not drawn by the policy: no gradient from it (its reward has counted above)
            logq = None
        self.pending.append((record.arch.to_dict(), adv, None if logq is None else float(logq)))
        if len(self.pending) >= self.batch_size:
            self._update()

    def state_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "controller": _to_json(self.controller.state_dict()),
            "optimizer": _to_json(self.optimizer.state_dict()),
            "baseline": self.baseline,
            "pending": [[a, adv, logq] for a, adv, logq in self.pending],
            "n_updates": self.n_updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
            return  # not ours (or an older format): replay has already rebuilt the controller
        self.controller.load_state_dict(_from_json(state["controller"]))
        opt = state["optimizer"]
        opt = {"state": {int(k): v for k, v in opt["state"].items()}, "param_groups": opt["param_groups"]}
        self.optimizer.load_state_dict(_from_json(opt))
        self.baseline = state["baseline"]
        self.pending = [(dict(p[0]), float(p[1]), None if len(p) < 3 or p[2] is None else float(p[2])) for p in state["pending"]]
        self.n_updates = int(state["n_updates"])


def _to_json(obj: Any) -> Any:
    """Tensors as JSON: {"tensor": base64 of the raw bytes, "dtype", "shape"} (exact, and fast to store)."""
    if isinstance(obj, torch.Tensor):
        arr = obj.detach().cpu().contiguous().numpy()
        return {"tensor": base64.b64encode(arr.tobytes()).decode("ascii"), "dtype": str(arr.dtype), "shape": list(arr.shape)}
    if isinstance(obj, Mapping):
        return {str(k): _to_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_json(v) for v in obj]
    return obj


def _from_json(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        if set(obj) == {"tensor", "dtype", "shape"}:
            arr = np.frombuffer(base64.b64decode(obj["tensor"]), dtype=np.dtype(obj["dtype"])).reshape(obj["shape"])
            return torch.from_numpy(arr.copy())
        return {k: _from_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_json(v) for v in obj]
    return obj
