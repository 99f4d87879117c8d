"""Validation of the ids (vids, qids, extractor names) that become store keys."""

from __future__ import annotations

import unicodedata


class InvalidKeyError(ValueError):
    """An id that cannot be a store key; the message names the id, its row and the rule."""


def validate_key(key: object, what: str = "id", row: int | None = None) -> str:
    """Return `key` as a string if it is a safe single path segment, else raise InvalidKeyError.

    Refused: empty ids, path separators (`/`, `\\`), `.` and `..`, control characters, and
    names starting with `__` (reserved by Zarr). Integers (QVHighlights qids) are accepted.

    >>> validate_key(2579)
    '2579'
    >>> validate_key("../x")
    Traceback (most recent call last):
    ...
    storage.keys.InvalidKeyError: id '../x': contains a path separator; ids must be single path segments
    """
    where = f" (row {row})" if row is not None else ""
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise InvalidKeyError(f"{what} {key!r}{where}: expected a string or an integer, got {type(key).__name__}")
    text = str(key)
    reason = None
    if not text:
        reason = "is empty"
    elif "/" in text or "\\" in text:
        reason = "contains a path separator; ids must be single path segments"
    elif text in (".", ".."):
        reason = "is a relative path component"
    elif any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text):
        reason = "contains a control character"
    elif text.startswith("__"):
        reason = "starts with '__', which Zarr reserves"
    elif text != text.strip():
        reason = "has leading or trailing whitespace"
    if reason:
        raise InvalidKeyError(f"{what} {text!r}{where}: {reason}")
    return text
