"""What the one-shot search reports: per-epoch diagnostics (collapse indicator) and its epoch progress bar."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any


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


class EpochBar:
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
