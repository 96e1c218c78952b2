"""seqnas: Neural Architecture Search for recurrent sequence models.

The public names are loaded on first use (PEP 562), so that `import seqnas` and the commands that
train nothing (`seqnas --help`, `seqnas show`) do not import torch, optuna or pandas:
``seqnas.search``, ``from seqnas import load_model`` and ``seqnas.space`` work as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqnas._lazy import lazy_names

if TYPE_CHECKING:
    from seqnas.api import load, resume, search
    from seqnas.errors import UserError
    from seqnas.forecast import Forecaster, load_model
    from seqnas.race import RaceResult, compare, resume_race
    from seqnas.result import SearchResult
    from seqnas.space import Arch, Categorical, Condition, Float, Int, SearchSpace, get_space, space_from_dict

__version__ = "0.1.0"

__all__ = [
    "Arch", "Categorical", "Condition", "Float", "Forecaster", "Int", "RaceResult", "SearchResult", "SearchSpace", "UserError",
    "compare", "get_space", "load", "load_model", "resume", "resume_race", "search", "space_from_dict",
]

# public name -> the module that defines it
_WHERE = {
    "SearchResult": "result", "load": "api", "resume": "api", "search": "api",
    "RaceResult": "race", "compare": "race", "resume_race": "race",
    "UserError": "errors",
    "Forecaster": "forecast", "load_model": "forecast",
    **{name: "space" for name in ("Arch", "Categorical", "Condition", "Float", "Int", "SearchSpace", "get_space",
                                  "space_from_dict")},
}


__getattr__, __dir__ = lazy_names(__name__, _WHERE, globals(), __all__)
