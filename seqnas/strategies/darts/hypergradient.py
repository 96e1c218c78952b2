"""DARTS's second-order architecture gradient: the virtual weight step and a finite-difference Hessian-vector product."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from seqnas.models.supernet import Supernet


def mse(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((pred - y) ** 2).mean()


def virtual_step(weights: list[nn.Parameter], grads: Sequence[torch.Tensor | None], w_opt: torch.optim.Adam,
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


def second_order_arch_grads(net: Supernet, mix: Callable[[], list[torch.Tensor]], xtr: torch.Tensor, ytr: torch.Tensor,
                            xva: torch.Tensor, yva: torch.Tensor, extra: Callable[[], torch.Tensor], *,
                            w_opt: torch.optim.Adam, xi: float | None, grad_clip: float) -> list[torch.Tensor]:
    """DARTS's second-order architecture gradient with a finite-difference Hessian-vector product.

    grad = dL_val(w', a)/da - (dL_train(w+, a)/da - dL_train(w-, a)/da) / (2 eps),
    w' = the virtual weight step (``virtual_step``: the optimizer's own clipped Adam step by
    default, DARTS's ``w - xi dL_train/dw`` with ``xi``), u = P * dL_val(w', a)/dw' with P that
    step's per-element size, w+- = w +- eps u, eps = 0.01 / |u|. With P = xi this is the DARTS
    paper's formula. One set of mixing weights (one sample, for the sampling remedies) serves
    every pass, or the finite difference would measure sampling noise.
    """
    weights = net.weight_parameters()
    alphas = net.arch_parameters()
    backup = [p.detach().clone() for p in weights]
    mixed = mix()
    g_train = torch.autograd.grad(mse(net(xtr, mixed), ytr), weights, retain_graph=True, allow_unused=True)
    sizes = virtual_step(weights, g_train, w_opt, xi, grad_clip)
    val_loss = mse(net(xva, mixed), yva) + extra()
    grads = torch.autograd.grad(val_loss, alphas + weights, retain_graph=True, allow_unused=True)
    d_alpha = [g if g is not None else torch.zeros_like(a) for g, a in zip(grads[: len(alphas)], alphas)]
    u = [(g if g is not None else torch.zeros_like(p)) * size for g, p, size in zip(grads[len(alphas):], weights, sizes)]
    norm = torch.sqrt(torch.stack([(g * g).sum() for g in u]).sum())
    eps = 0.01 / (float(norm) + 1e-12)

    def train_grad(sign: float) -> list[torch.Tensor]:
        with torch.no_grad():
            for p, b, g in zip(weights, backup, u):
                p.copy_(b + sign * eps * g)
        out = torch.autograd.grad(mse(net(xtr, mixed), ytr), alphas, retain_graph=True, allow_unused=True)
        return [g if g is not None else torch.zeros_like(a) for g, a in zip(out, alphas)]

    plus, minus = train_grad(1.0), train_grad(-1.0)
    with torch.no_grad():
        for p, b in zip(weights, backup):
            p.copy_(b)
    return [da - (gp - gm) / (2 * eps) for da, gp, gm in zip(d_alpha, plus, minus)]
