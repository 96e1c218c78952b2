"""User-declared spaces: from a Python dict, a YAML file and a JSON file, and their errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

import seqnas
from seqnas.errors import SpaceError, UserError
from seqnas.space import Categorical, Float, Int, get_space, space_from_dict, space_from_file

SPEC = {
    "family": "rnn-macro",
    "name": "mine",
    "params": [
        {"name": "depth", "type": "categorical", "choices": [1, 2]},
        {"name": "cell1", "type": "categorical", "choices": ["lstm", "gru"]},
        {"name": "hidden1", "type": "int", "low": 4, "high": 64, "log": True},
        {"name": "cell2", "type": "categorical", "choices": ["lstm", "gru"], "condition": {"parent": "depth", "values": [2]}},
        {"name": "lr", "type": "float", "low": 1e-4, "high": 1e-2, "log": True},
    ],
}


def test_dict_yaml_and_json_give_the_same_space(tmp_path):
    y, j = tmp_path / "s.yaml", tmp_path / "s.json"
    y.write_text(yaml.safe_dump(SPEC))
    j.write_text(json.dumps(SPEC))
    a, b, c = seqnas.space_from_dict(SPEC), space_from_file(y), space_from_file(j)
    assert a == b == c
    assert get_space(str(y)) == a and get_space(SPEC) == a
    assert a.family == "rnn-macro" and a.name == "mine"
    assert isinstance(a["depth"], Categorical) and isinstance(a["hidden1"], Int) and isinstance(a["lr"], Float)
    assert a["hidden1"].log and a["lr"].log
    assert a["cell2"].condition is not None and a["cell2"].condition.parent == "depth"
    arch = a.sample(np.random.default_rng(3))
    assert a.validate(arch) == arch


def test_shorthand_mapping_of_names_to_choices_or_specs():
    s = space_from_dict({"params": {"a": [1, 2, 3], "b": {"type": "float", "low": 0.0, "high": 1.0},
                                    "c": {"type": "categorical", "choices": ["x"], "condition": {"parent": "a", "values": [3]}}}})
    assert s.names == ["a", "b", "c"]
    assert s.family is None
    assert s.grid_size(2) == 3 * 2


def test_a_yml_file_and_a_file_path_without_suffix(tmp_path):
    p = tmp_path / "space.yml"
    p.write_text("params:\n  a: [1, 2]\n")
    assert space_from_file(p).names == ["a"]
    q = tmp_path / "space"
    q.write_text("params:\n  a: [1, 2]\n")
    assert get_space(str(q)).names == ["a"]  # an existing path is read as YAML


@pytest.mark.parametrize("spec, message", [
    ({"params": []}, "at least one parameter"),
    ({"params": {"a": []}}, "must not be empty"),
    ({"params": {"a": [1, 1.0]}}, "duplicates"),
    ({"params": {"a": [[1], 2]}}, "not a string, number or boolean"),
    ({"params": {"a": {"type": "weird", "choices": [1]}}}, "unknown type 'weird'"),
    ({"params": {"a": {"type": "int", "low": 5, "high": 1}}}, "greater than"),
    ({"params": {"a": {"type": "int", "low": 0.5, "high": 1}}}, "must be an integer"),
    ({"params": {"a": {"type": "int", "low": 0, "high": 2**53 + 1}}}, "high of an int parameter must be within \\+-2\\*\\*53"),
    ({"params": {"a": {"type": "int", "low": -(2**62), "high": 0}}}, "low of an int parameter must be within \\+-2\\*\\*53"),
    ({"params": {"a": {"type": "int", "low": 1, "high": 1e16}}}, "must be within \\+-2\\*\\*53"),
    ({"params": {"a": {"type": "float", "low": 0, "high": 1, "log": True}}}, "needs low > 0"),
    ({"params": {"a": {"type": "float", "low": 0, "high": "1"}}}, "finite number"),
    ({"params": {"a": {"type": "float", "low": 0}}}, "needs 'low' and 'high'"),
    ({"params": {"a": {"type": "categorical"}}}, "needs 'choices'"),
    ({"params": {"a": {"type": "categorical", "choices": [1], "step": 2}}}, "unknown field"),
    ({"params": [{"name": "a", "type": "categorical", "choices": [1], None: 1, "step": 2}]}, "unknown field\\(s\\) \\[None, 'step'\\]"),
    ({"params": {"a": [1], "b": {"type": "categorical", "choices": [1], "condition": {"parent": "zz", "values": [1]}}}},
     "not a parameter of this space"),
    ({"params": [{"name": "b", "type": "categorical", "choices": [1], "condition": {"parent": "a", "values": [1]}},
                 {"name": "a", "type": "categorical", "choices": [1]}]}, "declare parents first"),
    ({"params": {"a": [1, 2], "b": {"type": "categorical", "choices": [1], "condition": {"parent": "a", "values": [3]}}}},
     "not a value of 'a'"),
    ({"params": {"a": [1], "b": {"type": "categorical", "choices": [1], "condition": {"parent": "a"}}}}, "needs 'parent' and 'values'"),
    ({"params": {"a": [1], "b": {"type": "categorical", "choices": [1], "condition": {"parent": "a", "values": []}}}}, "non-empty"),
    ({"params": [{"name": "a", "type": "categorical", "choices": [1]}, {"name": "a", "type": "categorical", "choices": [2]}]},
     "declared twice"),
    ({"params": [{"name": "", "type": "categorical", "choices": [1]}]}, "non-empty string"),
    ({"params": {"a": 5}}, "list of choices or a mapping"),
    ({"family": "transformer", "params": {"a": [1]}}, "unknown space family"),
    ({"params": {"a": [1]}, "extra": 1}, "unknown top-level field"),
    ({"parameters": {"a": [1]}}, "unknown top-level field"),
    ({}, "needs 'params'"),
    ([1, 2], "must be a mapping"),
    ("params", "must be a mapping"),
])
def test_invalid_spaces_raise_a_space_error_that_says_what_to_fix(spec, message):
    with pytest.raises(SpaceError, match=message) as e:
        space_from_dict(spec)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("name, text, message", [
    ("bad.yaml", "params: [a: 1\n", "not valid YAML"),
    ("bad.json", "{\"params\": [", "not valid JSON"),
    ("list.yaml", "- 1\n- 2\n", "must be a mapping"),
    ("empty.yaml", "", "must be a mapping"),
    ("binary.yaml", b"\xff\xfe\x00bad", "cannot read space file"),
])
def test_invalid_space_files(tmp_path, name, text, message):
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    with pytest.raises(SpaceError, match=message) as e:
        space_from_file(p)
    assert "\n" not in str(e.value)


def test_missing_space_file_and_unknown_space_name(tmp_path):
    with pytest.raises(SpaceError, match="does not exist"):
        space_from_file(tmp_path / "nope.yaml")
    with pytest.raises(SpaceError, match="does not exist"):
        get_space(str(tmp_path / "nope.yaml"))
    with pytest.raises(SpaceError, match="unknown space 'rnn-mcaro'"):
        get_space("rnn-mcaro")
    with pytest.raises(UserError):
        get_space(42)


def test_int_bounds_up_to_2_53_hold_their_own_values():
    # Past 2**53 (the constructor took +-2**62) a float can no longer hold every integer, and the space refused its own
    # values: condition values "not a value of", sampled architectures "not an integer". Such bounds are refused now.
    for low, high in [(2**53 - 3, 2**53), (-(2**53), -(2**53) + 3), (1, 2**53)]:
        space = space_from_dict({"params": [
            {"name": "n", "type": "int", "low": low, "high": high},
            {"name": "m", "type": "categorical", "choices": ["a"], "condition": {"parent": "n", "values": [low, high]}},
        ]})
        rng = np.random.default_rng(0)
        for arch in [space.sample(rng) for _ in range(20)] + list(space.grid(3)):
            assert space.validate(arch) == arch and type(arch["n"]) is int and low <= arch["n"] <= high
            assert space.validate(space.mutate(arch, rng)) is not None
        assert space.validate({"n": high, "m": "a"})["n"] == high
