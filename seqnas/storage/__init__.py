"""Storage of studies and trials."""

from seqnas.storage.sqlite import SCHEMA_VERSION, Storage, StudyRow

__all__ = ["SCHEMA_VERSION", "Storage", "StudyRow"]
