"""Hypothesis strategies shared by the space tests: random conditional search spaces."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from seqnas.space import Categorical, Condition, Float, Int, Param, SearchSpace

_scalars = st.one_of(
    st.integers(-50, 50),
    st.sampled_from(["a", "b", "lstm", "gru", "x y", ""]),
    st.booleans(),
    st.floats(-10, 10, allow_nan=False, allow_infinity=False),
)


@st.composite
def conditional_spaces(draw: Any, max_params: int = 6, continuous: bool = True, max_choices: int = 4) -> SearchSpace:
    """A random space: categoricals, ints (maybe log) and floats (maybe log, maybe degenerate),
    each later parameter possibly conditional on an earlier categorical or int parameter."""
    n = draw(st.integers(1, max_params))
    params: list[Param] = []
    kinds = ["categorical", "int", "float"] if continuous else ["categorical", "int"]
    for i in range(n):
        name = f"p{i}"
        cond = None
        parents = [p for p in params if isinstance(p, Categorical) or (isinstance(p, Int) and p.size <= 6)]
        if parents and draw(st.booleans()):
            parent = draw(st.sampled_from(parents))
            values = parent.choices if isinstance(parent, Categorical) else tuple(range(parent.low, parent.high + 1))
            chosen = draw(st.lists(st.sampled_from(values), min_size=1, max_size=len(values), unique_by=Categorical._key))
            cond = Condition(parent.name, tuple(chosen))
        kind = draw(st.sampled_from(kinds))
        if kind == "categorical":
            choices = draw(st.lists(_scalars, min_size=1, max_size=max_choices, unique_by=Categorical._key))
            params.append(Categorical(name, choices, cond))
        elif kind == "int":
            log = draw(st.booleans())
            low = draw(st.integers(1 if log else -5, 6))
            high = low + draw(st.integers(0, 5 if not continuous else 40))
            params.append(Int(name, low, high, log, cond))
        else:
            log = draw(st.booleans())
            low = draw(st.floats(1e-4 if log else -5.0, 5.0, allow_nan=False))
            high = low + draw(st.sampled_from([0.0, 1e-3, 1.0, 100.0]))
            params.append(Float(name, low, high, log, cond))
    return SearchSpace(params, name="fuzz")
