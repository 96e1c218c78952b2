"""Search spaces: parameter types, the SearchSpace operations and the built-in spaces."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from seqnas.errors import SpaceError
from seqnas.families import family_names, get_family, is_registered
from seqnas.space.base import Arch, SearchSpace
from seqnas.space.custom import space_from_dict, space_from_file
from seqnas.space.params import Categorical, Condition, Float, Int, Param
from seqnas.space.rnn_cell import rnn_cell_space
from seqnas.space.rnn_macro import rnn_macro_space

# Named spaces besides the model families' own (``register_space``); a family's built-in space
# (``Family.space`` in ``seqnas.families``) is found under the family's name.
BUILTIN_SPACES: dict[str, Callable[[], SearchSpace]] = {
    # The tabular benchmark's space (seqnas.tabular): every architecture of it is in the shipped table.
    "rnn-macro-272": lambda: space_from_file(Path(__file__).with_name("rnn_macro_272.yaml")),
}


def register_space(name: str, factory: Callable[[], SearchSpace]) -> None:
    BUILTIN_SPACES[name] = factory


def space_names() -> list[str]:
    """Every name ``get_space`` knows: the registered families with a built-in space, and named spaces."""
    return sorted({n for n in family_names() if get_family(n).space is not None} | set(BUILTIN_SPACES))


def get_space(spec: Any) -> SearchSpace:
    """A SearchSpace from a space, a built-in name, a dict, or a path to a YAML/JSON file."""
    if isinstance(spec, SearchSpace):
        return spec
    if isinstance(spec, dict):
        return space_from_dict(spec)
    if isinstance(spec, (str, Path)):
        s = str(spec)
        if s in BUILTIN_SPACES:
            return BUILTIN_SPACES[s]()
        if is_registered(s) and get_family(s).space is not None:
            space: SearchSpace = get_family(s).make_space()
            return space
        if s.lower().endswith((".yaml", ".yml", ".json")) or Path(s).exists():
            return space_from_file(s)
        raise SpaceError(f"unknown space {s!r}; use one of {space_names()} or a .yaml/.json file")
    raise SpaceError(f"cannot make a search space from {type(spec).__name__}")


__all__ = [
    "Arch", "Categorical", "Condition", "Float", "Int", "Param", "SearchSpace", "BUILTIN_SPACES",
    "get_space", "register_space", "space_names", "rnn_cell_space", "rnn_macro_space", "space_from_dict", "space_from_file",
]
