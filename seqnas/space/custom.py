"""User-declared spaces: from a Python dict, a YAML file or a JSON file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seqnas.errors import SpaceError
from seqnas.families import family_names, is_registered
from seqnas.space.base import SearchSpace


def space_from_dict(data: Any) -> SearchSpace:
    """Build a space from ``{"family": ..., "params": [...]}``; the family, if given, must be registered
    (``seqnas.families``).

    Each parameter is ``{"name", "type": categorical|int|float, "choices" | "low"/"high"/"log",
    "condition": {"parent", "values"}}``. A shorthand is accepted too: ``params`` as a mapping
    of name -> list of choices (categorical) or name -> {type, ...}.
    """
    if not isinstance(data, dict):
        raise SpaceError(f"a space must be a mapping with 'params', got {type(data).__name__}")
    data = dict(data)
    params = data.get("params")
    if isinstance(params, dict):
        expanded = []
        for name, spec in params.items():
            if isinstance(spec, list):
                expanded.append({"name": name, "type": "categorical", "choices": spec})
            elif isinstance(spec, dict):
                expanded.append({"name": name, **spec})
            else:
                raise SpaceError(f"parameter {name!r}: give a list of choices or a mapping, got {spec!r}")
        data["params"] = expanded
    family = data.get("family")
    if family is not None and not is_registered(family):
        raise SpaceError(f"unknown space family {family!r}; use one of the registered families {family_names()} or leave it out")
    return SearchSpace.from_json(data)


def space_from_file(path: str | Path) -> SearchSpace:
    """Read a space from a .yaml/.yml or .json file."""
    import yaml  # here, not at the top: `seqnas show` reads spaces from the database, never from files

    p = Path(path)
    if not p.is_file():
        raise SpaceError(f"space file {str(p)!r} does not exist")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SpaceError(f"cannot read space file {str(p)!r}: {e}") from None
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise SpaceError(f"space file {str(p)!r} is not valid {'JSON' if p.suffix.lower() == '.json' else 'YAML'}: {first}") from None
    return space_from_dict(data)
