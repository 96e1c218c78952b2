"""The model-family registry (seqnas.families): one registration makes a family searchable end to end."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import seqnas
import seqnas.models as models
from seqnas.errors import ConfigError, SpaceError
from seqnas.families import Family, family_names, get_family, registered_family, supernet_family_names, unregister_family
from seqnas.models.supernet import build_supernet
from seqnas.space import Categorical, SearchSpace, get_space, space_from_dict
from seqnas.strategies import make_strategy
from seqnas.trial import TrialState
from tests.conftest import ROOT, TINY_TRAIN

# -- the example family: one module's worth (model, space, defaults, check), then one registration ----------
TINY_DEFAULTS = {"hidden": 4, "lr": 0.01}


class TinyNet(nn.Module):
    """One GRU layer of ``hidden`` units and a linear head on the last step."""

    def __init__(self, arch: Mapping[str, Any], n_features: int, horizon: int) -> None:
        super().__init__()
        hidden = int(arch.get("hidden", TINY_DEFAULTS["hidden"]))
        self.rnn = nn.GRU(n_features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1, :])


def tiny_space() -> SearchSpace:
    return SearchSpace([Categorical("hidden", [2, 4, 8]), Categorical("lr", [0.003, 0.01])], name="tiny-example",
                       family="tiny-example")


def check_tiny_space(space: Any) -> None:
    for p in space.params:
        if p.name not in TINY_DEFAULTS:
            raise SpaceError(f"parameter {p.name!r} is not used by family tiny-example; its parameters are hidden and lr")
        if p.name == "hidden" and any(not isinstance(v, int) or v < 1 for v in p.choices):
            raise SpaceError("parameter 'hidden' must be a positive integer")


TINY = Family("tiny-example", model=TinyNet, space=tiny_space, defaults=TINY_DEFAULTS, check_space=check_tiny_space)
TINY_DICT = {"family": "tiny-example", "params": {"hidden": [2, 4], "lr": [0.01]}}


@pytest.fixture
def tiny():
    with registered_family(TINY) as family:
        yield family
    assert "tiny-example" not in family_names()


def test_the_builtin_families_are_registered_with_a_space_a_supernet_and_defaults():
    assert {"rnn-macro", "rnn-cell"} <= set(family_names())
    assert {"rnn-macro", "rnn-cell"} <= set(supernet_family_names())
    assert get_family("rnn-cell").default_values() == {"hidden": 32, "lr": 3e-3, "dropout": 0.0}
    assert get_family("rnn-macro").default_values()["cell1"] == "lstm"
    assert get_space("rnn-macro").family == "rnn-macro" and get_space("rnn-cell").family == "rnn-cell"
    assert models.families() == family_names()


def test_a_registered_family_is_accepted_by_space_from_dict_and_refused_once_unregistered(tiny):
    space = space_from_dict(TINY_DICT)
    assert space.family == "tiny-example" and space.names == ["hidden", "lr"]
    assert get_space("tiny-example").names == ["hidden", "lr"]  # the family's built-in space, by name
    models.check_space(space)
    with pytest.raises(SpaceError, match="not used by family tiny-example"):
        models.check_space(space_from_dict({"family": "tiny-example", "params": {"width": [2]}}))
    arch = space.sample(np.random.default_rng(0))
    assert isinstance(models.build(arch, "tiny-example", 2, 3), TinyNet)
    assert models.learning_rate({"hidden": 4}, "tiny-example") == 0.01  # from the family's defaults
    assert models.learning_rate({"hidden": 4, "lr": 0.003}, "tiny-example") == 0.003
    assert models.defaults("tiny-example") == TINY_DEFAULTS
    unregister_family("tiny-example")
    with pytest.raises(SpaceError, match="unknown space family 'tiny-example'"):
        space_from_dict(TINY_DICT)


def test_the_unknown_family_message_lists_the_registered_families(tiny):
    with pytest.raises(SpaceError) as e:
        space_from_dict({"family": "cnn", "params": {"a": [1]}})
    msg = str(e.value)
    assert "unknown space family 'cnn'" in msg and "\n" not in msg
    assert all(repr(n) in msg for n in ("rnn-cell", "rnn-macro", "tiny-example"))
    with pytest.raises(SpaceError, match=r"unknown model family 'cnn'; registered families: \[.*'tiny-example'"):
        get_family("cnn")
    with pytest.raises(SpaceError, match="no model family 'cnn'"):
        models.build({}, "cnn", 1, 1)


def test_a_real_search_trains_the_registered_family(tiny, db):
    r = seqnas.search(TINY_DICT, task="mackey-glass", window=8, horizon=2, strategy="random", trials=2, seed=0,
                      train=TINY_TRAIN, study="tiny", db=db, final_repeats=0)
    assert [t.state for t in r.records] == [TrialState.COMPLETE, TrialState.COMPLETE]
    for t in r.records:
        assert np.isfinite(t.values["val_mse"])
        expected = models.count_params(TinyNet(t.arch, 1, 2))
        assert t.metrics["params"] == expected  # the trial really built (and trained) the family's model
    assert {t.arch["hidden"] for t in r.records} == {2, 4}


def test_darts_refuses_a_family_without_a_supernet_in_one_line(tiny):
    with pytest.raises(ConfigError) as e:
        make_strategy("darts", space_from_dict(TINY_DICT))
    msg = str(e.value)
    assert "\n" not in msg
    assert "'tiny-example'" in msg and "no supernet" in msg and "['rnn-cell', 'rnn-macro']" in msg
    with pytest.raises(ConfigError, match="tiny-example.*no supernet"):
        build_supernet(space_from_dict(TINY_DICT), 1, 1, {})


def test_builders_may_be_lazy_module_references_and_registration_restores_what_was_there():
    lazy = Family("tiny-example", model="tests.test_families:TinyNet", space="tests.test_families:tiny_space",
                  defaults="tests.test_families:TINY_DEFAULTS")
    with registered_family(lazy):
        assert isinstance(models.build({"hidden": 2}, "tiny-example", 1, 1), TinyNet)
        assert get_space("tiny-example").names == ["hidden", "lr"]
        with registered_family(TINY):
            assert get_family("tiny-example") is TINY
        assert get_family("tiny-example") is lazy
    assert "tiny-example" not in family_names()
    with pytest.raises(ConfigError, match="not a 'module:attribute' reference"):
        Family("bad", model="no_colon_here")


def test_the_public_models_register_family_delegates_to_the_registry():
    try:
        models.register_family("tiny-legacy", TinyNet, lambda a: 0.02)
        assert space_from_dict({"family": "tiny-legacy", "params": {"hidden": [3]}}).family == "tiny-legacy"
        assert models.learning_rate({}, "tiny-legacy") == 0.02
        assert "tiny-legacy" not in supernet_family_names()
    finally:
        unregister_family("tiny-legacy")


def test_the_registry_and_the_spaces_import_no_torch():
    code = "import sys, seqnas.families, seqnas.space; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False", out.stderr
