"""seqnas: Neural Architecture Search for recurrent sequence models."""

from seqnas.api import SearchResult, load, resume, search
from seqnas.errors import UserError
from seqnas.space import Arch, Categorical, Condition, Float, Int, SearchSpace, get_space, space_from_dict

__version__ = "0.1.0"

__all__ = [
    "Arch", "Categorical", "Condition", "Float", "Int", "SearchResult", "SearchSpace", "UserError",
    "get_space", "load", "resume", "search", "space_from_dict",
]
