"""User-facing error types: every mistake a user can make raises one of these."""

from __future__ import annotations


class UserError(Exception):
    """An error the user can fix; the message says what to fix, on one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class SpaceError(UserError):
    """An invalid search space or architecture."""


class TaskError(UserError):
    """An invalid task: bad CSV, unknown column, series too short, unknown built-in."""


class StudyError(UserError):
    """An unknown study, a study that conflicts with stored settings, or a locked study."""


class ConfigError(UserError):
    """An invalid option: unknown strategy, bad budget, bad worker count."""
