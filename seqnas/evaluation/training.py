"""Train a model on a task: Adam, mini-batches, early stopping on validation loss."""

from __future__ import annotations

import copy
import io
import math
import random
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from seqnas.evaluation.budget import TrainBudget  # defined apart (torch-free); still importable from here
from seqnas.evaluation.metrics import SPLITS, naive_scale, split_errors
from seqnas.tasks.base import TaskData
from seqnas.threads import one_thread


class Diverged(RuntimeError):
    """Training produced a non-finite loss."""


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; one torch thread, so results repeat on one machine."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    return torch.Generator().manual_seed(seed)


def warm_up_torch() -> None:
    """Pay torch's one-time costs in this process now: the first Adam step imports torch._dynamo
    (about 1 CPU-second) and the first recurrent forward/backward initialises its kernels. A
    worker process calls it before it takes trials, so no trial's CPU-seconds include them."""
    net = nn.LSTM(1, 2, batch_first=True)
    opt = torch.optim.Adam(net.parameters())
    net(torch.zeros(2, 3, 1))[0].sum().backward()
    opt.step()


def mse(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch: int = 512) -> float:
    model.eval()
    total = 0.0
    with torch.no_grad(), one_thread():
        for i in range(0, len(X), batch):
            total += float(((model(X[i : i + batch]) - y[i : i + batch]) ** 2).sum())
    return total / float(y.numel())


def forecast(model: nn.Module, X: np.ndarray, batch: int = 512) -> np.ndarray:
    """The model's scaled forecasts (windows, horizon) of scaled input windows (windows, window, features),
    in eval mode, in batches of ``batch`` windows: what ``mse`` computes, and what ``seqnas predict`` runs. On one
    thread: a recurrent forward pass without gradients on two threads of a busy machine measured 21.7 CPU-s against
    0.28 on one (torch 2.13, 512 windows of 336 steps: the threads spin waiting for each step)."""
    model.eval()
    out = []
    with torch.no_grad(), one_thread():
        for i in range(0, len(X), batch):
            out.append(model(torch.from_numpy(np.ascontiguousarray(X[i : i + batch], dtype=np.float32))).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


def unscale(y: np.ndarray, mean: float, std: float) -> np.ndarray:
    """Scaled target values back in the data's own units (float64)."""
    return np.asarray(y, dtype=np.float64) * float(std) + float(mean)


def split_actual(data: TaskData, split: str) -> np.ndarray:
    """The actual target values (windows, horizon) of a split's windows ("val" or "test"), in the target's units:
    the series as read (``data.series``), not the scaled targets unscaled (those only when it is missing)."""
    y = data.y_val if split == "val" else data.y_test
    if data.series is None or f"{split}_start" not in data.info:
        return unscale(y, data.mean[0], data.std[0])
    return np.asarray(data.series, dtype=np.float64)[data.target_rows(split), 0]


def split_forecast(model: nn.Module, data: TaskData, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(forecast, actual) of a split's windows ("val" or "test"), both (windows, horizon) in the target's units."""
    X = data.X_val if split == "val" else data.X_test
    return unscale(forecast(model, X), data.mean[0], data.std[0]), split_actual(data, split)


def naive_scale_of(data: TaskData) -> float | None:
    """The in-sample naive forecast's MAE over the rows the training part covers (MASE's denominator)."""
    if data.series is None or "scaling_rows" not in data.info:
        return None
    return naive_scale(np.asarray(data.series)[: data.info["scaling_rows"], 0])


def unit_errors(model: nn.Module, data: TaskData) -> dict[str, Any]:
    """The error measures in the target's own units on validation and test (``seqnas.evaluation.metrics``):
    ``val_mae``, ``val_mae_per_step``, ..., ``test_mase``."""
    scale = naive_scale_of(data)
    out: dict[str, Any] = {}
    for split in SPLITS:
        out.update(split_errors(split, *split_forecast(model, data, split), scale))
    return out


def train(model: nn.Module, data: TaskData, lr: float, budget: TrainBudget, gen: torch.Generator, *,
          until: int | None = None, resume: bytes | None = None, save: bool = False,
          cpu_deadline: float | None = None) -> dict[str, Any]:
    """Train in place and restore the weights of the best validation epoch.

    Returns val_mse, test_mse (of the restored model), epochs (in all, earlier rungs included),
    best_epoch, train_seconds (this call's) and curve (validation MSE after every epoch so far).
    Raises Diverged on a non-finite training or validation loss.

    Multi-fidelity: ``until`` stops after that many epochs in all (at most ``budget.max_epochs``);
    ``save`` adds ``checkpoint``, the state (weights, Adam's moments, the early-stopping counters,
    the random generators) from which ``resume`` continues exactly: training to 3 epochs, then
    resuming to 9, gives the numbers of training to 9 at once.

    ``cpu_deadline`` (a ``time.process_time()`` value): no epoch starts once it has passed (the
    study's CPU budget is spent); ``cut_by_budget`` then says so.
    """
    Xtr, ytr = torch.from_numpy(data.X_train), torch.from_numpy(data.y_train)
    Xva, yva = torch.from_numpy(data.X_val), torch.from_numpy(data.y_val)
    Xte, yte = torch.from_numpy(data.X_test), torch.from_numpy(data.y_test)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=budget.weight_decay)
    best, best_state, best_epoch, bad, epoch, curve, stopped = math.inf, copy.deepcopy(model.state_dict()), 0, 0, 0, [], False
    if resume is not None:
        ck = torch.load(io.BytesIO(resume), weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        gen.set_state(ck["gen"])
        torch.set_rng_state(ck["torch_rng"])  # dropout draws from the global generator
        best, best_state, best_epoch, bad = ck["best"], ck["best_state"], ck["best_epoch"], ck["bad"]
        epoch, curve, stopped = ck["epoch"], list(ck["curve"]), ck["stopped"]
    last = min(until or budget.max_epochs, budget.max_epochs)
    start = time.perf_counter()
    cut = False
    while not stopped and epoch < last:
        if cpu_deadline is not None and epoch > 0 and time.process_time() >= cpu_deadline:
            cut = True
            break
        epoch += 1
        model.train()
        perm = torch.randperm(len(Xtr), generator=gen)
        for i in range(0, len(Xtr), budget.batch_size):
            idx = perm[i : i + budget.batch_size]
            opt.zero_grad()
            loss = ((model(Xtr[idx]) - ytr[idx]) ** 2).mean()
            if not torch.isfinite(loss):
                raise Diverged(f"training loss became {float(loss.detach())} in epoch {epoch}")
            loss.backward()
            if budget.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), budget.grad_clip)
            opt.step()
        val = mse(model, Xva, yva)
        if not math.isfinite(val):
            raise Diverged(f"validation loss became {val} in epoch {epoch}")
        curve.append(val)
        if val < best - 1e-7:
            best, best_epoch, bad = val, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad += 1
            stopped = bad >= budget.patience
    out: dict[str, Any] = {}
    if save:
        buf = io.BytesIO()
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "gen": gen.get_state(),
                    "torch_rng": torch.get_rng_state(), "best": best, "best_state": best_state, "best_epoch": best_epoch,
                    "bad": bad, "epoch": epoch, "curve": curve, "stopped": stopped}, buf)
        out["checkpoint"] = buf.getvalue()
    model.load_state_dict(best_state)
    out.update({
        "val_mse": best,
        "test_mse": mse(model, Xte, yte),
        "epochs": epoch,
        "best_epoch": best_epoch,
        "train_seconds": time.perf_counter() - start,
        "curve": curve,
        "stopped_early": stopped,
        "cut_by_budget": cut,
    })
    return out


def state_bytes(model: nn.Module) -> bytes:
    """The model's state dict as ``torch.save`` writes it (a final retraining's member, ``seqnas.final``)."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getvalue()


def latency_ms(model: nn.Module, data: TaskData, repeats: int = 20) -> float:
    """Median CPU time of one forward pass on a single window, in milliseconds."""
    model.eval()
    x = torch.from_numpy(data.X_val[:1])
    times = []
    with torch.no_grad():
        for i in range(repeats + 3):
            t = time.perf_counter()
            model(x)
            if i >= 3:
                times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000.0)
