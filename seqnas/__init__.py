"""seqnas: Neural Architecture Search for recurrent sequence models.

The public names are loaded on first use (PEP 562), so that `import seqnas` and the commands that
train nothing (`seqnas --help`, `seqnas show`) do not import torch, optuna or pandas:
``seqnas.search``, ``from seqnas import load_model`` and ``seqnas.space`` work as before.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from seqnas._lazy import lazy_names

if TYPE_CHECKING:
    from seqnas.api import SearchResult, load, resume, search
    from seqnas.compare import RaceResult, compare, resume_race  # the function shadows the module name on purpose
    from seqnas.errors import UserError
    from seqnas.forecast import Forecaster, load_model
    from seqnas.space import Arch, Categorical, Condition, Float, Int, SearchSpace, get_space, space_from_dict

__version__ = "0.1.0"

__all__ = [
    "Arch", "Categorical", "Condition", "Float", "Forecaster", "Int", "RaceResult", "SearchResult", "SearchSpace", "UserError",
    "compare", "get_space", "load", "load_model", "resume", "resume_race", "search", "space_from_dict",
]

# public name -> the module that defines it
_WHERE = {
    "SearchResult": "api", "load": "api", "resume": "api", "search": "api",
    "RaceResult": "compare", "compare": "compare", "resume_race": "compare",
    "UserError": "errors",
    "Forecaster": "forecast", "load_model": "forecast",
    **{name: "space" for name in ("Arch", "Categorical", "Condition", "Float", "Int", "SearchSpace", "get_space",
                                  "space_from_dict")},
}


__getattr__, __dir__ = lazy_names(__name__, _WHERE, globals(), __all__)


class _Package(types.ModuleType):
    """`seqnas.compare` is the race function, never the module of the same name: importing the
    module ``seqnas.compare`` (the import system then sets the attribute on this package) binds
    the function it defines instead, as the eager ``from seqnas.compare import compare`` did."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "compare" and isinstance(value, types.ModuleType):
            value = value.compare
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
