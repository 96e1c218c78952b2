"""The options of the one-shot search (``DartsConfig``) and what each anti-collapse remedy turns on."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from seqnas.errors import ConfigError

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


def remedy_label(cfg: DartsConfig) -> str:
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
