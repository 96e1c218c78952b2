"""Every SearchSpace operation, property-based over random conditional spaces, plus Arch itself."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqnas.errors import SpaceError
from seqnas.space import Arch, Categorical, Condition, Float, Int, SearchSpace, space_from_dict
from tests.spaces_strategies import conditional_spaces

PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _active_names(space: SearchSpace, arch: Arch) -> set[str]:
    """The names that must be in a canonical arch, recomputed independently of SearchSpace._build."""
    out: set[str] = set()
    for p in space.params:
        c = p.condition
        if c is None or (c.parent in out and any(Categorical._key(arch[c.parent]) == Categorical._key(v) for v in c.values)):
            out.add(p.name)
    return out


def _differ(x: object, y: object) -> bool:
    """Values differ as the space sees them (True is not 1, 1 is 1.0)."""
    return Categorical._key(x) != Categorical._key(y)


def _movable(space: SearchSpace, arch: Arch) -> bool:
    for p in space.params:
        if p.name not in arch:
            continue
        if isinstance(p, Categorical) and p.size > 1:
            return True
        if isinstance(p, (Int, Float)) and p.high > p.low:
            return True
    return False


# -- sample / validate / canonical ------------------------------------------------------------------
@PROPS
@given(conditional_spaces(), st.integers(0, 2**32 - 1))
def test_sample_is_canonical_and_validates(space, seed):
    arch = space.sample(_rng(seed))
    assert set(arch) == _active_names(space, arch)
    assert space.validate(arch) == arch
    assert space.validate(arch.to_dict()).key == arch.key
    for name, value in arch.items():
        assert space[name].check(value) == value
    # The same generator state gives the same architecture.
    assert space.sample(_rng(seed)) == arch


@PROPS
@given(conditional_spaces(), st.integers(0, 2**32 - 1))
def test_canonical_drops_inactive_values_and_validate_rejects_them(space, seed):
    rng = _rng(seed)
    arch = space.sample(rng)
    inactive = [p for p in space.params if p.name not in arch]
    if not inactive:
        return
    p = inactive[0]
    spelled = {**arch, p.name: p.sample(rng)}
    assert space.canonical(spelled) == arch  # two spellings of one network are one Arch
    assert space.canonical(spelled).key == arch.key
    with pytest.raises(SpaceError, match="inactive"):
        space.validate(spelled)


def test_validate_rejects_unknown_missing_and_bad_values():
    space = space_from_dict({"params": [
        {"name": "a", "type": "categorical", "choices": [1, 2]},
        {"name": "b", "type": "int", "low": 0, "high": 3, "condition": {"parent": "a", "values": [2]}},
        {"name": "c", "type": "float", "low": 0.0, "high": 1.0},
    ]})
    assert space.validate({"a": 2, "b": 3, "c": 0.5}) == {"a": 2, "b": 3, "c": 0.5}
    for bad, msg in [({"a": 1, "c": 0.5, "z": 1}, "unknown parameter"), ({"a": 2, "c": 0.5}, "missing active parameter 'b'"),
                     ({"a": 3, "c": 0.5}, "not one of"), ({"a": 2, "b": 4, "c": 0.5}, "outside"),
                     ({"a": 2, "b": 1.5, "c": 0.5}, "not an integer"), ({"a": 1, "c": float("nan")}, "finite"),
                     ({"a": True, "c": 0.1}, "not one of"), ([1, 2], "mapping")]:
        with pytest.raises(SpaceError, match=msg):
            space.validate(bad)
    # 1 and 1.0 are one choice, True is not 1.
    assert space.validate({"a": 1.0, "c": 0}) == {"a": 1, "c": 0.0}


# -- mutate ---------------------------------------------------------------------------------------------
@PROPS
@given(conditional_spaces(), st.integers(0, 2**32 - 1))
def test_mutate_changes_exactly_one_active_decision(space, seed):
    rng = _rng(seed)
    arch = space.sample(rng)
    child = space.mutate(arch, rng)
    assert space.validate(child) == child
    common = set(arch) & set(child)
    changed = [k for k in common if _differ(arch[k], child[k])]
    if not _movable(space, arch):
        assert child == arch
        return
    assert len(changed) == 1, (arch, child)
    # Everything else that differs is a parameter that became active or inactive through that change.
    k = changed[0]
    for name in set(arch) ^ set(child):
        assert space[name].condition is not None
    assert all(space[n].condition is None or space.params.index(space[n]) > space.params.index(space[k])
               for n in set(arch) ^ set(child))


# -- crossover ----------------------------------------------------------------------------------------
@PROPS
@given(conditional_spaces(), st.integers(0, 2**32 - 1))
def test_crossover_takes_every_value_from_a_parent(space, seed):
    rng = _rng(seed)
    a, b = space.sample(rng), space.sample(rng)
    child = space.crossover(a, b, rng)
    assert space.validate(child) == child
    for name, value in child.items():
        from_parents = [x[name] for x in (a, b) if name in x]
        if from_parents:
            assert any(not _differ(value, v) for v in from_parents), (name, value, a, b)
    assert space.crossover(a, a, rng) == a


def test_crossover_mixes_parents_over_many_draws():
    space = space_from_dict({"params": {f"x{i}": [0, 1] for i in range(8)}})
    a, b = Arch({f"x{i}": 0 for i in range(8)}), Arch({f"x{i}": 1 for i in range(8)})
    rng = _rng(0)
    ones = np.mean([sum(space.crossover(a, b, rng).values()) for _ in range(200)])
    assert 3.0 < ones < 5.0  # uniform crossover: each decision from either parent with probability 1/2


# -- neighbors ----------------------------------------------------------------------------------------
@PROPS
@given(conditional_spaces(), st.integers(0, 2**32 - 1))
def test_neighbors_are_valid_distinct_and_one_decision_away(space, seed):
    arch = space.sample(_rng(seed))
    ns = list(space.neighbors(arch))
    keys = [n.key for n in ns]
    assert len(keys) == len(set(keys))
    assert arch.key not in keys
    for n in ns:
        assert space.validate(n) == n
        assert sum(1 for k in set(arch) & set(n) if _differ(arch[k], n[k])) == 1


def test_neighbors_of_a_categorical_space_are_all_single_changes():
    space = space_from_dict({"params": {"a": [1, 2, 3], "b": ["x", "y"]}})
    ns = {tuple(sorted(n.items())) for n in space.neighbors(Arch({"a": 1, "b": "x"}))}
    assert ns == {(("a", 2), ("b", "x")), (("a", 3), ("b", "x")), (("a", 1), ("b", "y"))}


# -- encode -------------------------------------------------------------------------------------------
@PROPS
@given(conditional_spaces(), st.integers(0, 2**32 - 1))
def test_encode_has_fixed_length_and_finite_entries(space, seed):
    rng = _rng(seed)
    for _ in range(5):
        v = space.encode(space.sample(rng))
        assert v.shape == (space.encoding_size,)
        assert np.isfinite(v).all()
        assert ((v >= -1e-9) & (v <= 1 + 1e-9)).all()


@PROPS
@given(conditional_spaces(max_params=4, continuous=False, max_choices=3))
def test_encode_tells_every_grid_architecture_apart(space):
    archs = list(space.grid())
    codes = {space.encode(a).tobytes() for a in archs}
    assert len(codes) == len(archs)


# -- grid -------------------------------------------------------------------------------------------------
def _brute_force(space: SearchSpace, resolution: int) -> set[str]:
    """Every canonical architecture of the grid, by expanding all value combinations."""
    import itertools

    values = [p.grid_values(resolution) for p in space.params]
    return {space.canonical(dict(zip(space.names, combo))).key for combo in itertools.product(*values)}


@PROPS
@given(conditional_spaces(max_params=4, max_choices=3), st.integers(1, 4))
def test_grid_enumerates_exactly_grid_size_distinct_archs(space, resolution):
    archs = list(space.grid(resolution))
    assert len(archs) == space.grid_size(resolution)
    keys = [a.key for a in archs]
    assert len(set(keys)) == len(keys)
    assert set(keys) == _brute_force(space, resolution)
    for i, a in enumerate(archs):
        assert space.validate(a) == a
        assert space.grid_at(i, resolution) == a
    with pytest.raises(IndexError):
        space.grid_at(len(archs), resolution)
    with pytest.raises(IndexError):
        space.grid_at(-1, resolution)


@PROPS
@given(conditional_spaces(max_params=4, continuous=False, max_choices=3), st.integers(0, 2**32 - 1))
def test_grid_of_a_discrete_space_holds_every_architecture(space, seed):
    keys = {a.key for a in space.grid(resolution=100)}
    assert space.cardinality == len(keys)
    rng = _rng(seed)
    for _ in range(10):
        assert space.sample(rng).key in keys


def test_grid_resolution_of_numeric_parameters():
    space = SearchSpace([Int("n", 1, 100), Float("x", 0.0, 1.0), Float("lr", 1e-4, 1e-1, log=True)])
    assert space.grid_size(3) == 27
    assert sorted({a["x"] for a in space.grid(3)}) == [0.0, 0.5, 1.0]
    assert sorted({a["n"] for a in space.grid(3)}) == [1, 50, 100]
    lrs = sorted({a["lr"] for a in space.grid(3)})
    assert lrs[0] == pytest.approx(1e-4) and lrs[1] == pytest.approx(10 ** -2.5) and lrs[2] == pytest.approx(1e-1)
    assert space.cardinality is None  # continuous
    assert SearchSpace([Int("n", 3, 5)]).grid_size(100) == 3


def test_grid_sampler_matches_grid_order():
    space = space_from_dict({"params": [
        {"name": "d", "type": "categorical", "choices": [1, 2, 3]},
        {"name": "w2", "type": "int", "low": 1, "high": 3, "condition": {"parent": "d", "values": [2, 3]}},
        {"name": "w3", "type": "categorical", "choices": ["a", "b"], "condition": {"parent": "d", "values": [3]}},
    ]})
    size, at = space.grid_sampler()
    assert size == 1 + 3 + 6
    assert [at(i) for i in range(size)] == list(space.grid())


# -- JSON, pickling, Arch ----------------------------------------------------------------------------
@PROPS
@given(conditional_spaces(), st.integers(0, 2**32 - 1))
def test_json_round_trip_gives_the_same_space_and_architectures(space, seed):
    text = json.dumps(space.to_json())
    again = SearchSpace.from_json(json.loads(text))
    assert again == space
    assert again.to_json() == space.to_json()
    assert space_from_dict(json.loads(text)) == space
    assert again.sample(_rng(seed)).key == space.sample(_rng(seed)).key
    assert pickle.loads(pickle.dumps(space)) == space


def test_arch_is_an_immutable_mapping_with_a_stable_hash():
    a = Arch({"b": 2, "a": "x"})
    b = Arch({"a": "x", "b": 2})
    assert a == b and a.key == b.key and hash(a) == hash(b)
    assert a == {"a": "x", "b": 2}
    assert len(a.key) == 16 and int(a.key, 16) >= 0
    assert Arch({"a": "x", "b": 3}).key != a.key
    with pytest.raises(TypeError):
        a["a"] = "y"  # type: ignore[index]
    assert pickle.loads(pickle.dumps(a)).key == a.key
    assert {a: 1}[b] == 1
    # The key is a content hash: the same in every process and run.
    import hashlib

    assert a.key == hashlib.sha1(b'{"a":"x","b":2}').hexdigest()[:16]


def test_degenerate_parameters_never_block_mutation_of_others():
    space = SearchSpace([Float("fixed", 0.5, 0.5), Int("one", 3, 3), Categorical("only", ["x"]), Categorical("c", [1, 2])])
    rng = _rng(0)
    for _ in range(20):
        a = space.sample(rng)
        assert space.mutate(a, rng)["c"] != a["c"]


def test_condition_on_an_int_parent():
    space = SearchSpace([Int("n", 1, 3), Categorical("deep", ["a", "b"], Condition("n", (3,)))])
    assert space.grid_size() == 4
    assert {tuple(sorted(a)) for a in space.grid()} == {("n",), ("deep", "n")}


# -- one architecture, one value, one key ---------------------------------------------------------------
@st.composite
def _spaces_with_whole_number_bounds(draw) -> SearchSpace:
    """Float parameters with bounds written as ints (low: 0, high: 1; low == high; log scale), next to ints and a
    categorical parent."""
    params: list = [Categorical("c", ["a", "b"])]
    for i in range(draw(st.integers(1, 3))):
        cond = Condition("c", ("b",)) if draw(st.booleans()) else None
        log = draw(st.booleans())
        low = draw(st.integers(1 if log else -3, 3))
        high = low + draw(st.sampled_from([0, 1, 2, 100]))
        params.append(Float(f"x{i}", low, high, log, cond) if draw(st.integers(0, 3)) else Int(f"n{i}", low, high, log, cond))
    return SearchSpace(params)


def _canonical_everywhere(space: SearchSpace, arch: Arch) -> None:
    for p in space.params:
        if isinstance(p, Float) and p.name in arch:
            assert type(arch[p.name]) is float, (p, arch)
    assert space.validate(arch).key == arch.key
    assert space.validate(json.loads(json.dumps(arch.to_dict()))).key == arch.key
    again = SearchSpace.from_json(json.loads(json.dumps(space.to_json())))
    assert again.validate(arch).key == arch.key
    # The same architecture spelled with ints where a float parameter holds a whole number.
    spelled = {k: int(v) if isinstance(space[k], Float) and v.is_integer() else v for k, v in arch.items()}
    assert space.validate(spelled).key == arch.key


@PROPS
@given(_spaces_with_whole_number_bounds(), st.integers(0, 2**32 - 1))
def test_one_architecture_has_one_value_and_one_key_whatever_path_made_it(space, seed):
    # Float(x, 0, 1) sampled, grid-walked and stepped to the int 0 or 1 and Float(x, 2, 2) sampled {'x': 2}, while
    # validate gave {'x': 2.0}: one network under two keys.
    rng = _rng(seed)
    a, b = space.sample(rng), space.sample(rng)
    made = [a, b, space.mutate(a, rng), space.crossover(a, b, rng), *space.neighbors(a, 3)]
    size, at = space.grid_sampler(3)
    made += [at(i) for i in range(size)]
    made += [space.canonical({}, fill=lambda p: p.default)]
    for arch in made:
        _canonical_everywhere(space, arch)
    assert Float("x", 0, 1) == Float("x", 0.0, 1.0) and hash(Float("x", 0, 1)) == hash(Float("x", 0.0, 1.0))


def test_float_bounds_written_as_ints_give_float_values():
    space = SearchSpace([Float("x", 0, 1), Float("y", 2, 2)])
    rng = _rng(0)
    arch = space.sample(rng)
    assert arch["y"] == 2.0 and type(arch["y"]) is float and arch.key == space.validate({"x": arch["x"], "y": 2}).key
    assert [type(a["x"]) for a in space.grid(3)] == [float] * 3
    assert space.to_json()["params"][0] == {"name": "x", "type": "float", "low": 0.0, "high": 1.0, "log": False}


# -- log scales too narrow for their logarithms ------------------------------------------------------------
@pytest.mark.parametrize("param", [
    Float("x", 1.7518528123679272e16, 1.7518528123679302e16, log=True),  # distinct bounds, equal logarithms
    Int("x", 2**52, 2**52 + 3, log=True),
])
def test_a_log_scale_whose_bounds_have_equal_logarithms_still_works(param):
    # encode, mutate and neighbors divided by log(high) - log(low) == 0.
    assert math.log(param.high) == math.log(param.low) and param.high > param.low
    space = SearchSpace([param])
    rng = _rng(0)
    seen = set()
    for _ in range(20):
        arch = space.sample(rng)
        seen.add(arch["x"])
        child = space.mutate(arch, rng)
        assert space.validate(child) == child and child["x"] != arch["x"]
        assert all(space.validate(n) == n for n in space.neighbors(arch))
        code = space.encode(arch)
        assert np.isfinite(code).all() and 0.0 <= code[0] <= 1.0
    assert len(seen) > 1  # sampled across the range, not stuck on one value
    assert [space.validate(a) == a for a in space.grid(3)] == [True] * space.grid_size(3)
    assert space.encode(Arch({"x": param.low}))[0] == 0.0 and space.encode(Arch({"x": param.high}))[0] == 1.0


def test_the_grid_keeps_false_and_zero_apart():
    # False == 0 in Python: the grid's memo once merged them, so grid() repeated an architecture.
    from seqnas.space import space_from_dict

    space = space_from_dict({"params": [
        {"name": "a", "type": "categorical", "choices": [0, False]},
        {"name": "b", "type": "categorical", "choices": [1, 2], "condition": {"parent": "a", "values": [0]}},
    ]})
    archs = list(space.grid())
    assert len(archs) == len({x.key for x in archs}) == space.cardinality == 3
