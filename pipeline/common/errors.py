"""Errors a user can fix (bad input, a bad config, missing files or weights), told apart from bugs.

The command line prints them as a short message with exit code 2 (tracebacks are for bugs), and
flows never retry them: they fail the same way every time.
"""

from __future__ import annotations

from pydantic import ValidationError

from model.zoo.convert import ReleaseCheckpointError
from storage import InvalidKeyError


class UserInputError(Exception):
    """Marks an error class whose message tells a user what to fix (mixed into the concrete classes)."""


def is_user_error(exc: BaseException) -> bool:
    """Whether `exc` is the user's to fix: one of our input errors, a store key refused, a config
    that does not validate, a file that is not there, or a release checkpoint that cannot be converted."""
    return isinstance(exc, (UserInputError, InvalidKeyError, ValidationError, FileNotFoundError, NotADirectoryError,
                            IsADirectoryError, ReleaseCheckpointError))
