"""seqnas: Neural Architecture Search for recurrent sequence models."""

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
