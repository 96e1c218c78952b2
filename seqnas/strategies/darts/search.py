"""The one-shot search behind strategy "darts": bilevel supernet training under a remedy's schedule, then derivation.

``search_supernet`` is the whole search; ``SupernetSearch`` holds one run's state (the supernet, its two
optimizers, the data, the diagnostics) and its steps. The remedies are in ``remedies``, the second-order
gradient in ``hypergradient``, DARTS-PT and the parameter limit in ``selection``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seqnas.errors import ConfigError, SpaceError
from seqnas.families import supernet_family
from seqnas.models.supernet import (
    DERIVATIONS,
    build_supernet,
    dirichlet_kl,
    expected_weights,
    mixing_weights,
    normalised_entropy,
    top_architectures,
)
from seqnas.space.base import Arch, SearchSpace
from seqnas.strategies.darts.diagnostics import Diagnostics, EpochBar
from seqnas.strategies.darts.hypergradient import mse, second_order_arch_grads
from seqnas.strategies.darts.remedies import SELECTIONS, DartsConfig, remedy_label
from seqnas.strategies.darts.selection import one_hot, param_limit, perturbation_select
from seqnas.tasks.base import TaskData


def search_supernet(space: SearchSpace, data: TaskData, config: DartsConfig, gen: torch.Generator, *,
                    grad_clip: float = 1.0, default_batch: int = 32, max_params: int | None = None) -> dict[str, Any]:
    """Train the supernet and rank the derived architectures.

    Network weights learn on the task's training split, architecture weights on its validation
    split: the split every strategy's candidates are judged on (a strategy that ranks trained
    architectures by validation MSE uses it the same way); the test split stays unseen. Halving
    the 200-odd training windows of the small tasks to make a search-validation split would
    starve the supernet instead.

    Returns the metrics of the supernet trial: ``derived`` (arch dicts, best first),
    ``derived_logp`` (their derivation scores: log(p / max p) summed over active choices for
    ``derive="argmax"``, the joint log-probability for ``"joint"``), ``darts`` (the
    diagnostics) and a few scalars.
    """
    search = SupernetSearch(space, data, checked_config(config), gen, grad_clip=grad_clip, default_batch=default_batch)
    try:
        ranking = search.train()
        if search.cfg.selection == "pt":
            ranking = search.perturbation_ranking(ranking)
    finally:
        search.bar.close()
    return search.results(ranking, max_params)


def checked_config(config: DartsConfig) -> DartsConfig:
    """The config with the remedy's defaults filled in, its choices checked."""
    cfg = config.resolved()
    if cfg.order not in (1, 2):
        raise ConfigError(f"strategy 'darts': option order must be 1 or 2, got {cfg.order!r}")
    if cfg.derive not in DERIVATIONS:
        raise ConfigError(f"strategy 'darts': option derive must be one of {list(DERIVATIONS)}, got {cfg.derive!r}")
    if cfg.selection not in SELECTIONS:
        raise ConfigError(f"strategy 'darts': option selection must be one of {list(SELECTIONS)}, got {cfg.selection!r}")
    return cfg


class SupernetSearch:
    """One run of the bilevel search (DARTS, with the remedies of ``cfg``).

    Per mini-batch of the training split: after the warm-up, an architecture step on a batch of
    the validation split (first order, or ``order=2``'s hypergradient), then a weight step with
    detached mixing weights (the mixture, or one sampled architecture). After each epoch the
    diagnostics are recorded and the stop rules (collapse indicator, stable derivation) checked.
    Every random draw comes from ``gen`` or torch's global generator, in a fixed order.
    """

    def __init__(self, space: SearchSpace, data: TaskData, cfg: DartsConfig, gen: torch.Generator, *,
                 grad_clip: float, default_batch: int) -> None:
        self.space, self.data, self.cfg, self.gen, self.grad_clip = space, data, cfg, gen, grad_clip
        preferred = supernet_family(space.family, "strategy 'darts'").default_values()
        # A probe supernet finds the parameters the choices cover; the others take fixed values.
        probe = build_supernet(space, data.n_features, data.horizon, {**preferred, **cfg.fixed})
        covered = {p for c in probe.choices for p in c.params}
        self.fixed = fixed_values(space, covered, preferred, cfg.fixed)
        del probe
        self.net = net = build_supernet(space, data.n_features, data.horizon, self.fixed)
        lr = float(cfg.weight_lr if cfg.weight_lr is not None else self.fixed.get("lr", preferred.get("lr", 3e-3)))
        self.xi = None if cfg.xi is None else float(cfg.xi)
        self.batch = int(cfg.batch_size or default_batch)
        self.w_opt = torch.optim.Adam(net.weight_parameters(), lr=lr)
        self.a_opt = torch.optim.Adam(net.arch_parameters(), lr=cfg.arch_lr, betas=(0.5, 0.999), weight_decay=1e-3)
        self.x_train, self.y_train = torch.from_numpy(data.X_train), torch.from_numpy(data.y_train)
        self.x_val, self.y_val = torch.from_numpy(data.X_val), torch.from_numpy(data.y_val)
        self.mixing, self.kl = str(cfg.mixing), float(cfg.kl or 0.0)
        self.warmup = cfg.warmup_epochs()
        self.alphas = net.arch_parameters()
        edge_names, op_names, _ = net.edges(net.uniform_probs())
        self.diag = Diagnostics(op_names=op_names, edge_names=edge_names, remedy=remedy_label(cfg), mixing=self.mixing,
                                selection=cfg.selection, uniform_share=net.param_free_share(net.uniform_probs()))
        self.bar = EpochBar(cfg.progress, cfg.epochs)
        self.steps_per_epoch = math.ceil(len(self.x_train) / self.batch)
        self.total_steps = cfg.epochs * self.steps_per_epoch
        self.aux0 = float(cfg.aux or 0.0)

    # -- the architecture distribution ------------------------------------------------------------------
    def mix(self) -> list[torch.Tensor]:
        """Mixing weights for one forward pass (a fresh sample for the sampling remedies)."""
        return mixing_weights(self.alphas, self.mixing, self.cfg.tau)

    def extra(self) -> torch.Tensor:
        """DrNAS's KL pull toward the uniform prior (0 for the other remedies)."""
        return self.kl * dirichlet_kl(self.alphas) if self.kl > 0 and self.mixing == "dirichlet" else torch.zeros(())

    def probs(self) -> list[np.ndarray]:
        with torch.no_grad():
            return [p.numpy().astype(np.float64) for p in expected_weights(self.alphas, self.mixing)]

    def argmax_arch(self, ps: list[np.ndarray]) -> Arch | None:
        top = top_architectures(self.space, self.net.choices, ps, self.fixed, 1, derive=self.cfg.derive)
        return top[0][0] if top else None

    def val_loss(self, weights: list[torch.Tensor]) -> float:
        """The supernet's loss on the whole validation split with these mixing weights."""
        with torch.no_grad():
            return float(mse(self.net(self.x_val, weights), self.y_val))

    # -- steps ------------------------------------------------------------------------------------------
    def weight_step(self, idx: torch.Tensor, weights: list[torch.Tensor], when: str) -> float:
        self.w_opt.zero_grad()
        loss = mse(self.net(self.x_train[idx], weights), self.y_train[idx])
        if not torch.isfinite(loss):
            raise FloatingPointError(f"supernet training loss became {float(loss)} in {when}")
        loss.backward()
        if self.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.net.weight_parameters(), self.grad_clip)
        self.w_opt.step()
        return float(loss.detach())

    def arch_step(self, idx: torch.Tensor) -> None:
        """One step of the architecture weights on a random validation batch (``idx``: the training batch)."""
        alphas = self.alphas
        vidx = torch.randperm(len(self.x_val), generator=self.gen)[: self.batch]
        self.a_opt.zero_grad()
        if self.cfg.order == 2:
            grads = second_order_arch_grads(self.net, self.mix, self.x_train[idx], self.y_train[idx], self.x_val[vidx],
                                            self.y_val[vidx], self.extra, w_opt=self.w_opt, xi=self.xi, grad_clip=self.grad_clip)
            for a, g in zip(alphas, grads):
                a.grad = g
        else:
            val_loss = mse(self.net(self.x_val[vidx], self.mix()), self.y_val[vidx]) + self.extra()
            for a, g in zip(alphas, torch.autograd.grad(val_loss, alphas, allow_unused=True)):
                a.grad = g if g is not None else torch.zeros_like(a)
        self.a_opt.step()

    def step_weights(self) -> list[torch.Tensor]:
        """Detached mixing weights for a weight step: the weight step must not move (or differentiate) the architecture."""
        if self.cfg.weight_paths == "sampled":
            # One architecture drawn from the current distribution per weight step (SPOS-like):
            # the shared weights learn to work in discrete cells, not only in the mixture.
            with torch.no_grad():
                return [F.one_hot(torch.multinomial(p, 1, generator=self.gen)[0], len(p)).to(p.dtype)
                        for p in expected_weights(self.alphas, self.mixing)]
        return [w.detach() for w in self.mix()]

    def train_epoch(self, epoch: int) -> float:
        """One epoch of alternating steps; returns the mean training loss of its weight steps."""
        perm = torch.randperm(len(self.x_train), generator=self.gen)
        total, n = 0.0, 0
        for k, i in enumerate(range(0, len(self.x_train), self.batch)):
            idx = perm[i: i + self.batch]
            self.net.aux_weight = self.aux0 * (1.0 - ((epoch - 1) * self.steps_per_epoch + k) / self.total_steps)
            if epoch > self.warmup:
                self.arch_step(idx)
            total += self.weight_step(idx, self.step_weights(), f"epoch {epoch}") * len(idx)
            n += len(idx)
        return total / max(n, 1)

    # -- the search -------------------------------------------------------------------------------------
    def train(self) -> list[np.ndarray]:
        """The epochs, up to a stop rule; returns the architecture distribution to derive from."""
        cfg, diag = self.cfg, self.diag
        final, final_epoch = self.probs(), 0
        last_arch, stable = self.argmax_arch(final), 0
        for epoch in range(1, cfg.epochs + 1):
            train_loss = self.train_epoch(epoch)
            ps = self.probs()
            arch = self.record(epoch, ps, train_loss, last_arch)
            stable = 0 if arch != last_arch else stable + 1
            last_arch = arch
            if diag.is_collapsed(diag.param_free_share[-1]) and diag.collapse_detected_epoch is None:
                diag.collapse_detected_epoch = epoch
                if cfg.stop_on_collapse:
                    # DARTS+: stop at the onset and keep the last architecture weights before it.
                    diag.stopped_early, diag.stop_reason = True, "collapse"
                    break
            final, final_epoch = ps, epoch
            if cfg.stop_patience and epoch > self.warmup and stable >= cfg.stop_patience:
                diag.stopped_early, diag.stop_reason = epoch < cfg.epochs, "stable" if epoch < cfg.epochs else None
                break
        diag.derived_from_epoch = final_epoch
        diag.derivation_param_free_share = self.net.param_free_share(final)
        return final

    def record(self, epoch: int, ps: list[np.ndarray], train_loss: float, last_arch: Arch | None) -> Arch | None:
        """The epoch's diagnostics and progress; returns the epoch's derived (top-1) architecture."""
        diag, net = self.diag, self.net
        with torch.no_grad():
            val = float(mse(net(self.x_val, expected_weights(self.alphas, self.mixing)), self.y_val))
        arch = self.argmax_arch(ps)
        if arch is not None:  # the discretisation gap: the derived architecture's own loss in the supernet
            diag.derived_val_loss.append(self.val_loss([torch.tensor(p, dtype=torch.float32) for p in one_hot(net, arch)]))
        diag.epochs.append(epoch)
        diag.entropy.append(normalised_entropy(ps))
        diag.param_free_share.append(net.param_free_share(ps))
        diag.supernet_val_loss.append(val)
        diag.supernet_train_loss.append(train_loss)
        diag.alphas.append(net.edges(ps)[2])
        diag.argmax_changed.append(bool(arch != last_arch))
        self.bar.update(epoch, f"val {val:.4g} entropy {diag.entropy[-1]:.2f} param-free {diag.param_free_share[-1]:.2f}")
        return arch

    def perturbation_ranking(self, start: list[np.ndarray]) -> list[np.ndarray]:
        """DARTS-PT selection from the searched weights (without the auxiliary skip)."""
        self.net.aux_weight = 0.0
        ranking, self.diag.pt_scores, self.diag.pt_val_loss = perturbation_select(self.space, self.net.choices, start, self.fixed,
                                                                                  self.val_loss, self.tune)
        return ranking

    def tune(self, weights: list[torch.Tensor], decided: int) -> None:
        """``pt_tune`` epochs of weight steps with the mixture fixed after a perturbation decision."""
        for _ in range(self.cfg.pt_tune):
            perm = torch.randperm(len(self.x_train), generator=self.gen)
            for i in range(0, len(self.x_train), self.batch):
                self.weight_step(perm[i: i + self.batch], weights, f"tuning after decision {decided}")
        self.bar.update(self.diag.epochs[-1], f"perturbation selection: choice {decided} of {len(self.net.choices)}")

    def results(self, ranking: list[np.ndarray], max_params: int | None) -> dict[str, Any]:
        """The supernet trial's metrics: the ranked derived architectures and the diagnostics."""
        cfg, diag, net = self.cfg, self.diag, self.net
        accept = param_limit(self.space.family, self.data, max_params)
        ranked = top_architectures(self.space, net.choices, ranking, self.fixed, max(1, cfg.top_k), accept=accept,
                                   derive=cfg.derive)
        if ranked:
            diag.derived_param_free_share = net.param_free_share(one_hot(net, ranked[0][0]))
        return {
            "derived": [a.to_dict() for a, _ in ranked],
            "derived_logp": [float(s) for _, s in ranked],
            "darts": diag.to_json(),
            "supernet_val_mse": diag.supernet_val_loss[-1] if diag.supernet_val_loss else math.nan,
            "search_epochs": diag.epochs[-1] if diag.epochs else 0,
            "supernet_params": int(sum(p.numel() for p in net.weight_parameters())),
            "fixed": self.fixed,
        }


def fixed_values(space: SearchSpace, covered: set[str], preferred: Mapping[str, Any], user: Mapping[str, Any]) -> dict[str, Any]:
    """Values of the parameters the supernet does not relax (learning rate, dropout, ...).

    A user's ``fixed`` option first, else the model family's default when the space allows it,
    else the parameter's own default.
    """
    out: dict[str, Any] = {}
    unknown = sorted(set(user) - set(space.names))
    if unknown:
        raise ConfigError(f"strategy 'darts': option fixed names unknown parameter(s) {unknown}; this space has {space.names}")
    for p in space.params:
        if p.name in covered:
            continue
        if p.name in user:
            try:
                out[p.name] = p.check(user[p.name])
            except SpaceError as e:
                raise ConfigError(f"strategy 'darts': option fixed: {e}") from None
            continue
        try:
            out[p.name] = p.check(preferred[p.name]) if p.name in preferred else p.default
        except SpaceError:
            out[p.name] = p.default  # the family default is not a value of this space
    return out
