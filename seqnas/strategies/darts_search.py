"""The one-shot search behind strategy "darts": bilevel supernet training, anti-collapse remedies, diagnostics."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seqnas.errors import ConfigError, SpaceError
from seqnas.models import build, count_params
from seqnas.models.supernet import (
    DERIVATIONS,
    Choice,
    Supernet,
    build_supernet,
    dirichlet_kl,
    expected_weights,
    mixing_weights,
    normalised_entropy,
    top_architectures,
)
from seqnas.space.base import Arch, SearchSpace
from seqnas.tasks.base import TaskData

# What each remedy turns on. "none" is plain DARTS (Liu et al. 2019): softmax mixing, architecture
# steps from the first batch, run to the last epoch.
REMEDIES: dict[str, dict[str, Any]] = {
    "none": {"mixing": "softmax", "warmup": 0.0, "kl": 0.0, "stop_patience": 0, "stop_on_collapse": False, "aux": 0.0},
    # DARTS+ (Liang et al. 2019) with a weights-only warm-up: softmax mixing as in DARTS, so the
    # architecture gradient keeps its full signal, but (1) the first quarter of the epochs trains
    # only the weights, so no option wins merely by being trained first, (2) the search stops
    # once the derived architecture has not changed for `stop_patience` epochs, and (3) it stops
    # when the collapse indicator fires, deriving from the epoch before it.
    "darts+": {"mixing": "softmax", "warmup": 0.25, "kl": 0.0, "stop_patience": 5, "stop_on_collapse": True, "aux": 0.0},
    # DARTS- (Chu et al. 2021): an auxiliary skip around every node / layer whose weight decays
    # from 1 to 0 over the search, so the options that merely ease the supernet's optimisation
    # (identity, skipped layers) lose that edge; no indicator, no threshold, softmax mixing.
    "darts-": {"mixing": "softmax", "warmup": 0.0, "kl": 0.0, "stop_patience": 0, "stop_on_collapse": False, "aux": 1.0},
    # DrNAS (Chen et al. 2021): mixing weights sampled from Dirichlet(elu(alpha) + 1), a KL pull
    # toward the uniform prior; plus a weights-only warm-up and DARTS+-style early stopping
    # (Liang et al. 2019) once the derived architecture stops changing.
    "drnas": {"mixing": "dirichlet", "warmup": 0.25, "kl": 1e-3, "stop_patience": 5, "stop_on_collapse": False, "aux": 0.0},
    # GDAS (Dong & Yang 2019): one hard Gumbel-softmax path per step (cheapest per step).
    "gdas": {"mixing": "gumbel", "warmup": 0.25, "kl": 0.0, "stop_patience": 5, "stop_on_collapse": False, "aux": 0.0},
}
DEFAULT_REMEDY = "darts+"
SELECTIONS = ("alpha", "pt")


@dataclass(frozen=True)
class DartsConfig:
    """Options of the one-shot search (``--option key=value``); None means "the remedy's / task's default"."""

    epochs: int = 20
    order: int = 1
    remedy: str = DEFAULT_REMEDY
    mixing: str | None = None
    warmup: float | None = None  # < 1: share of the epochs; >= 1: epochs of weights-only training
    kl: float | None = None
    stop_patience: int | None = None
    stop_on_collapse: bool | None = None
    aux: float | None = None  # starting weight of the DARTS- auxiliary skip (decays linearly to 0)
    weight_paths: str = "mixture"  # weight steps on the mixture, or on one sampled architecture ("sampled")
    arch_lr: float = 0.05
    weight_lr: float | None = None
    batch_size: int | None = None
    xi: float | None = None  # second order: DARTS's SGD virtual step w - xi g (default None: the optimizer's own Adam step)
    tau: float = 1.0  # Gumbel temperature
    top_k: int = 50  # length of the ranked list of derived architectures
    selection: str = "alpha"  # derive by architecture weights ("alpha") or by perturbation ("pt", DARTS-PT)
    derive: str = "argmax"  # rank derived architectures by per-decision argmax ("argmax") or joint log-probability ("joint")
    pt_tune: int = 1  # epochs of weights-only tuning after each perturbation decision
    progress: bool | None = None
    fixed: dict[str, Any] = field(default_factory=dict)

    def resolved(self) -> DartsConfig:
        """The config with the remedy's defaults filled in."""
        if self.remedy not in REMEDIES:
            raise ConfigError(f"strategy 'darts': unknown remedy {self.remedy!r}; use one of {sorted(REMEDIES)}")
        r = REMEDIES[self.remedy]
        return replace(self, mixing=self.mixing or r["mixing"], warmup=r["warmup"] if self.warmup is None else self.warmup,
                       kl=r["kl"] if self.kl is None else self.kl,
                       stop_patience=r["stop_patience"] if self.stop_patience is None else self.stop_patience,
                       stop_on_collapse=r["stop_on_collapse"] if self.stop_on_collapse is None else self.stop_on_collapse,
                       aux=r["aux"] if self.aux is None else self.aux)

    def warmup_epochs(self) -> int:
        w = float(self.warmup or 0.0)
        return int(round(w * self.epochs)) if w < 1 else int(w)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Diagnostics:
    """Per-epoch signals of the search, stored under metrics["darts"] of the supernet trial."""

    op_names: list[str]
    edge_names: list[str]
    remedy: str
    mixing: str
    uniform_share: float
    epochs: list[int] = field(default_factory=list)
    entropy: list[float] = field(default_factory=list)
    param_free_share: list[float] = field(default_factory=list)
    supernet_val_loss: list[float] = field(default_factory=list)
    supernet_train_loss: list[float] = field(default_factory=list)
    derived_val_loss: list[float] = field(default_factory=list)  # the argmax architecture's val loss inside the supernet
    alphas: list[list[list[float]]] = field(default_factory=list)
    argmax_changed: list[bool] = field(default_factory=list)
    stopped_early: bool = False
    stop_reason: str | None = None  # "stable" (the derived architecture stopped changing) or "collapse"
    collapse_detected_epoch: int | None = None  # first epoch at which the indicator fired
    derived_from_epoch: int | None = None  # the epoch whose architecture weights were derived from
    derivation_param_free_share: float | None = None  # of the distribution derived from
    derived_param_free_share: float | None = None  # of the top-1 derived architecture itself
    selection: str = "alpha"
    pt_scores: list[list[float] | None] = field(default_factory=list)  # per choice: val-loss rise when each option is removed
    pt_val_loss: list[float] = field(default_factory=list)  # supernet val loss after each decision and its tuning

    @property
    def collapse_threshold(self) -> float:
        # Collapse: the parameter-free share went more than half-way from uniform to everything.
        return self.uniform_share + (1.0 - self.uniform_share) / 2.0

    def is_collapsed(self, share: float) -> bool:
        return share >= self.collapse_threshold - 1e-12

    @property
    def collapsed(self) -> bool:
        """Whether the architecture weights the derived architectures come from are collapsed."""
        share = self.derivation_param_free_share
        if share is None:
            share = self.param_free_share[-1] if self.param_free_share else 0.0
        return self.is_collapsed(share)

    def to_json(self) -> dict[str, Any]:
        return {
            "epochs": self.epochs, "entropy": self.entropy, "param_free_share": self.param_free_share,
            "supernet_val_loss": self.supernet_val_loss, "supernet_train_loss": self.supernet_train_loss,
            "derived_val_loss": self.derived_val_loss,
            "alphas": self.alphas, "op_names": self.op_names, "edge_names": self.edge_names,
            "collapsed": self.collapsed, "collapse_threshold": self.collapse_threshold, "remedy": self.remedy, "mixing": self.mixing,
            "argmax_changed": self.argmax_changed, "stopped_early": self.stopped_early, "stop_reason": self.stop_reason,
            "collapse_detected_epoch": self.collapse_detected_epoch, "derived_from_epoch": self.derived_from_epoch,
            "derivation_param_free_share": self.derivation_param_free_share,
            "derived_param_free_share": self.derived_param_free_share,
            "selection": self.selection, "pt_scores": self.pt_scores, "pt_val_loss": self.pt_val_loss,
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


def _preferred(family: str | None) -> dict[str, Any]:
    if family == "rnn-cell":
        from seqnas.models.rnn_cell import DEFAULTS

        return dict(DEFAULTS)
    from seqnas.models.rnn_macro import DEFAULTS as MACRO

    return dict(MACRO)


class _Bar:
    """A rich progress bar on stderr for the epochs of the search.

    By default it shows only when stderr is a terminal and the search runs in the main
    process, where it nests inside the runner's trial bar (same console); a worker process
    drawing on the terminal would tear the parent's bar apart, so there it shows only when
    asked (``progress=true``).
    """

    def __init__(self, show: bool | None, total: int) -> None:
        import multiprocessing

        self.progress: Any = None
        if show is None:
            show = sys.stderr.isatty() and multiprocessing.parent_process() is None
        if not show:
            return
        try:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            from seqnas.progress import stderr_console

            self.progress = Progress(TextColumn("supernet epoch"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=stderr_console(),
                                     transient=True)
            self.progress.start()
            self.task = self.progress.add_task("supernet", total=total, info="")
        except Exception:  # noqa: BLE001 - a bar is a nicety: go without rather than fail the search
            self.progress = None

    def update(self, epoch: int, info: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=epoch, info=info)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _mse(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((pred - y) ** 2).mean()


def _virtual_step(weights: list[nn.Parameter], grads: Sequence[torch.Tensor | None], w_opt: torch.optim.Adam,
                  xi: float | None, grad_clip: float) -> list[torch.Tensor]:
    """Apply the weight step the search would take with ``grads`` (in place); return its per-element
    step size P: the step is ``-P * g``, and ``P`` is how the step moves with the gradient.

    ``xi`` given: DARTS's plain SGD step ``w - xi g`` (P = xi). ``xi`` None: the step the weight
    optimizer really takes: the same gradient clipping, then one Adam update from its current
    moments, ``m' = b1 m + (1 - b1) g``, ``v' = b2 v + (1 - b2) g^2``, ``w' = w - lr m'_hat /
    (sqrt(v'_hat) + eps)``. Its derivative in g, holding the clipping factor and v' fixed (the
    second-moment term is a preconditioner), is ``lr (1 - b1) / (1 - b1^t) / (sqrt(v'_hat) + eps)``
    times the clipping factor: a per-element P.
    """
    gs = [torch.zeros_like(p) if g is None else g for p, g in zip(weights, grads)]
    if xi is not None:
        with torch.no_grad():
            for p, g in zip(weights, gs):
                p.sub_(xi * g)
        return [torch.full_like(p, xi) for p in weights]
    clip = 1.0
    if grad_clip > 0:
        norm = float(torch.sqrt(torch.stack([(g * g).sum() for g in gs]).sum()))
        clip = min(1.0, grad_clip / (norm + 1e-6))
    group = w_opt.param_groups[0]
    lr, (b1, b2), eps = float(group["lr"]), group["betas"], float(group["eps"])
    sizes = []
    with torch.no_grad():
        for p, g in zip(weights, gs):
            st = w_opt.state.get(p, {})
            t = int(float(st.get("step", 0))) + 1
            m = st.get("exp_avg", torch.zeros_like(p)) * b1 + (1 - b1) * clip * g
            v = st.get("exp_avg_sq", torch.zeros_like(p)) * b2 + (1 - b2) * (clip * g) ** 2
            denom = (v / (1 - b2 ** t)).sqrt() + eps
            p.sub_(lr * (m / (1 - b1 ** t)) / denom)
            sizes.append(lr * (1 - b1) / (1 - b1 ** t) * clip / denom)
    return sizes


def _second_order_arch_grads(net: Supernet, mix: Callable[[], list[torch.Tensor]], xtr: torch.Tensor, ytr: torch.Tensor,
                             xva: torch.Tensor, yva: torch.Tensor, extra: Callable[[], torch.Tensor], *,
                             w_opt: torch.optim.Adam, xi: float | None, grad_clip: float) -> list[torch.Tensor]:
    """DARTS's second-order architecture gradient with a finite-difference Hessian-vector product.

    grad = dL_val(w', a)/da - (dL_train(w+, a)/da - dL_train(w-, a)/da) / (2 eps),
    w' = the virtual weight step (``_virtual_step``: the optimizer's own clipped Adam step by
    default, DARTS's ``w - xi dL_train/dw`` with ``xi``), u = P * dL_val(w', a)/dw' with P that
    step's per-element size, w+- = w +- eps u, eps = 0.01 / |u|. With P = xi this is the DARTS
    paper's formula. One set of mixing weights (one sample, for the sampling remedies) serves
    every pass, or the finite difference would measure sampling noise.
    """
    weights = net.weight_parameters()
    alphas = net.arch_parameters()
    backup = [p.detach().clone() for p in weights]
    mixed = mix()
    g_train = torch.autograd.grad(_mse(net(xtr, mixed), ytr), weights, retain_graph=True, allow_unused=True)
    sizes = _virtual_step(weights, g_train, w_opt, xi, grad_clip)
    val_loss = _mse(net(xva, mixed), yva) + extra()
    grads = torch.autograd.grad(val_loss, alphas + weights, retain_graph=True, allow_unused=True)
    d_alpha = [g if g is not None else torch.zeros_like(a) for g, a in zip(grads[: len(alphas)], alphas)]
    u = [(g if g is not None else torch.zeros_like(p)) * size for g, p, size in zip(grads[len(alphas):], weights, sizes)]
    norm = torch.sqrt(torch.stack([(g * g).sum() for g in u]).sum())
    eps = 0.01 / (float(norm) + 1e-12)

    def train_grad(sign: float) -> list[torch.Tensor]:
        with torch.no_grad():
            for p, b, g in zip(weights, backup, u):
                p.copy_(b + sign * eps * g)
        out = torch.autograd.grad(_mse(net(xtr, mixed), ytr), alphas, retain_graph=True, allow_unused=True)
        return [g if g is not None else torch.zeros_like(a) for g, a in zip(out, alphas)]

    plus, minus = train_grad(1.0), train_grad(-1.0)
    with torch.no_grad():
        for p, b in zip(weights, backup):
            p.copy_(b)
    return [da - (gp - gm) / (2 * eps) for da, gp, gm in zip(d_alpha, plus, minus)]


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
    cfg = config.resolved()
    if cfg.order not in (1, 2):
        raise ConfigError(f"strategy 'darts': option order must be 1 or 2, got {cfg.order!r}")
    if cfg.derive not in DERIVATIONS:
        raise ConfigError(f"strategy 'darts': option derive must be one of {list(DERIVATIONS)}, got {cfg.derive!r}")
    if cfg.selection not in SELECTIONS:
        raise ConfigError(f"strategy 'darts': option selection must be one of {list(SELECTIONS)}, got {cfg.selection!r}")
    fixed_pre = _preferred(space.family)
    probe = build_supernet(space, data.n_features, data.horizon, {**fixed_pre, **cfg.fixed})
    covered = {p for c in probe.choices for p in c.params}
    fixed = fixed_values(space, covered, fixed_pre, cfg.fixed)
    del probe
    net = build_supernet(space, data.n_features, data.horizon, fixed)
    lr = float(cfg.weight_lr if cfg.weight_lr is not None else fixed.get("lr", fixed_pre.get("lr", 3e-3)))
    xi = None if cfg.xi is None else float(cfg.xi)
    batch = int(cfg.batch_size or default_batch)
    w_opt = torch.optim.Adam(net.weight_parameters(), lr=lr)
    a_opt = torch.optim.Adam(net.arch_parameters(), lr=cfg.arch_lr, betas=(0.5, 0.999), weight_decay=1e-3)
    Xtr, ytr = torch.from_numpy(data.X_train), torch.from_numpy(data.y_train)
    Xva, yva = torch.from_numpy(data.X_val), torch.from_numpy(data.y_val)
    mixing, kl = str(cfg.mixing), float(cfg.kl or 0.0)
    warmup = cfg.warmup_epochs()
    alphas = net.arch_parameters()

    def mix() -> list[torch.Tensor]:
        return mixing_weights(alphas, mixing, cfg.tau)

    def extra() -> torch.Tensor:
        return kl * dirichlet_kl(alphas) if kl > 0 and mixing == "dirichlet" else torch.zeros(())

    def probs() -> list[np.ndarray]:
        with torch.no_grad():
            return [p.numpy().astype(np.float64) for p in expected_weights(alphas, mixing)]

    def weight_step(idx: torch.Tensor, weights: list[torch.Tensor], when: str) -> float:
        w_opt.zero_grad()
        loss = _mse(net(Xtr[idx], weights), ytr[idx])
        if not torch.isfinite(loss):
            raise FloatingPointError(f"supernet training loss became {float(loss)} in {when}")
        loss.backward()
        if grad_clip > 0:
            nn.utils.clip_grad_norm_(net.weight_parameters(), grad_clip)
        w_opt.step()
        return float(loss.detach())

    def argmax_arch(ps: list[np.ndarray]) -> Arch | None:
        top = top_architectures(space, net.choices, ps, fixed, 1, derive=cfg.derive)
        return top[0][0] if top else None

    edge_names, op_names, _ = net.edges(net.uniform_probs())
    diag = Diagnostics(op_names=op_names, edge_names=edge_names, remedy=_remedy_label(cfg),
                       mixing=mixing, selection=cfg.selection,
                       uniform_share=net.param_free_share(net.uniform_probs()))
    bar = _Bar(cfg.progress, cfg.epochs)
    steps_per_epoch = math.ceil(len(Xtr) / batch)
    total_steps = cfg.epochs * steps_per_epoch
    aux0 = float(cfg.aux or 0.0)
    prev_ps = probs()
    last_arch, stable = argmax_arch(prev_ps), 0
    final, final_epoch = prev_ps, 0
    try:
        for epoch in range(1, cfg.epochs + 1):
            perm = torch.randperm(len(Xtr), generator=gen)
            train_total, train_n = 0.0, 0
            for k, i in enumerate(range(0, len(Xtr), batch)):
                idx = perm[i: i + batch]
                net.aux_weight = aux0 * (1.0 - ((epoch - 1) * steps_per_epoch + k) / total_steps)
                if epoch > warmup:
                    vidx = torch.randperm(len(Xva), generator=gen)[:batch]
                    a_opt.zero_grad()
                    if cfg.order == 2:
                        for a, g in zip(alphas, _second_order_arch_grads(net, mix, Xtr[idx], ytr[idx], Xva[vidx], yva[vidx], extra,
                                                                         w_opt=w_opt, xi=xi, grad_clip=grad_clip)):
                            a.grad = g
                    else:
                        val_loss = _mse(net(Xva[vidx], mix()), yva[vidx]) + extra()
                        for a, g in zip(alphas, torch.autograd.grad(val_loss, alphas, allow_unused=True)):
                            a.grad = g if g is not None else torch.zeros_like(a)
                    a_opt.step()
                # Detached mixing weights: the weight step must not move (or differentiate) the architecture.
                if cfg.weight_paths == "sampled":
                    # One architecture drawn from the current distribution per weight step (SPOS-like):
                    # the shared weights learn to work in discrete cells, not only in the mixture.
                    with torch.no_grad():
                        step_weights = [F.one_hot(torch.multinomial(p, 1, generator=gen)[0], len(p)).to(p.dtype)
                                        for p in expected_weights(alphas, mixing)]
                else:
                    step_weights = [w.detach() for w in mix()]
                train_total += weight_step(idx, step_weights, f"epoch {epoch}") * len(idx)
                train_n += len(idx)
            ps = probs()
            with torch.no_grad():
                val = float(_mse(net(Xva, expected_weights(alphas, mixing)), yva))
            arch = argmax_arch(ps)
            if arch is not None:  # the discretisation gap: the derived architecture's own loss in the supernet
                with torch.no_grad():
                    hot = [torch.tensor(p, dtype=torch.float32) for p in _one_hot(net, arch)]
                    diag.derived_val_loss.append(float(_mse(net(Xva, hot), yva)))
            changed = arch != last_arch
            stable = 0 if changed else stable + 1
            last_arch = arch
            diag.epochs.append(epoch)
            diag.entropy.append(normalised_entropy(ps))
            diag.param_free_share.append(net.param_free_share(ps))
            diag.supernet_val_loss.append(val)
            diag.supernet_train_loss.append(train_total / max(train_n, 1))
            diag.alphas.append(net.edges(ps)[2])
            diag.argmax_changed.append(bool(changed))
            bar.update(epoch, f"val {val:.4g} entropy {diag.entropy[-1]:.2f} param-free {diag.param_free_share[-1]:.2f}")
            if diag.is_collapsed(diag.param_free_share[-1]) and diag.collapse_detected_epoch is None:
                diag.collapse_detected_epoch = epoch
                if cfg.stop_on_collapse:
                    # DARTS+: stop at the onset and keep the last architecture weights before it.
                    diag.stopped_early, diag.stop_reason = True, "collapse"
                    break
            final, final_epoch = ps, epoch
            if cfg.stop_patience and epoch > warmup and stable >= cfg.stop_patience:
                diag.stopped_early, diag.stop_reason = epoch < cfg.epochs, "stable" if epoch < cfg.epochs else None
                break
        diag.derived_from_epoch = final_epoch
        diag.derivation_param_free_share = net.param_free_share(final)
        ranking = final
        if cfg.selection == "pt":
            net.aux_weight = 0.0

            def supernet_val(weights: list[torch.Tensor]) -> float:
                with torch.no_grad():
                    return float(_mse(net(Xva, weights), yva))

            def tune(weights: list[torch.Tensor], decided: int) -> None:
                for _ in range(cfg.pt_tune):
                    perm = torch.randperm(len(Xtr), generator=gen)
                    for i in range(0, len(Xtr), batch):
                        weight_step(perm[i: i + batch], weights, f"tuning after decision {decided}")
                bar.update(diag.epochs[-1], f"perturbation selection: choice {decided} of {len(net.choices)}")

            ranking, diag.pt_scores, diag.pt_val_loss = perturbation_select(space, net.choices, final, fixed, supernet_val, tune)
    finally:
        bar.close()
    accept = _param_limit(space.family, data, max_params)
    ranked = top_architectures(space, net.choices, ranking, fixed, max(1, cfg.top_k), accept=accept, derive=cfg.derive)
    if ranked:
        diag.derived_param_free_share = net.param_free_share(_one_hot(net, ranked[0][0]))
    return {
        "derived": [a.to_dict() for a, _ in ranked],
        "derived_logp": [float(s) for _, s in ranked],
        "darts": diag.to_json(),
        "supernet_val_mse": diag.supernet_val_loss[-1] if diag.supernet_val_loss else math.nan,
        "search_epochs": diag.epochs[-1] if diag.epochs else 0,
        "supernet_params": int(sum(p.numel() for p in net.weight_parameters())),
        "fixed": fixed,
    }


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


def _remedy_label(cfg: DartsConfig) -> str:
    """The remedy's name, with what was added to it or taken out of it by options."""
    r = REMEDIES[cfg.remedy]
    parts = [cfg.remedy]
    if cfg.mixing != r["mixing"]:
        parts.append(f"mixing={cfg.mixing}")
    for key, label in (("warmup", "warmup"), ("stop_patience", "stop_patience"), ("stop_on_collapse", "stop_on_collapse"),
                       ("aux", "aux"), ("kl", "kl")):
        if getattr(cfg, key) != r[key]:
            parts.append(f"{label}={getattr(cfg, key)}")
    return " ".join(parts)


def _one_hot(net: Supernet, arch: Arch) -> list[np.ndarray]:
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


def _param_limit(family: str | None, data: TaskData, max_params: int | None) -> Callable[[Arch], bool] | None:
    if max_params is None:
        return None

    def accept(arch: Arch) -> bool:
        return count_params(build(arch, family, data.n_features, data.horizon)) <= max_params

    return accept


def elapsed_cpu(start: float) -> float:
    return time.process_time() - start


__all__: Sequence[str] = ("DartsConfig", "REMEDIES", "search_supernet")
