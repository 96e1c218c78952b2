"""Level normalisation: the network reads its window's target relative to the window's last value and
forecasts the change from that value.

A series with a trend (co2) leaves the range of its training part: standardised once on the training
part, its test windows lie beyond every value the network was trained on, and recurrent cells,
which saturate, cannot follow. Relative to each window's last value the inputs and targets stay in
the range of changes seen in training (as NLinear's subtraction or RevIN's per-instance shift). It
is the searchable parameter ``level`` (``--level on|off|search``, ``seqnas.tasks.inputs``): on some
series it helps by orders of magnitude, on others it costs accuracy, so the search decides.
"""

from __future__ import annotations

import torch
from torch import nn


class LevelNormalized(nn.Module):
    """``model`` on windows whose target column (0) is shifted by its last value; that value added back to the output."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = x[:, -1:, 0]  # (batch, 1): the last observed target of each window
        shifted = torch.cat([x[:, :, :1] - last.unsqueeze(2), x[:, :, 1:]], dim=2)
        out: torch.Tensor = self.model(shifted) + last
        return out
