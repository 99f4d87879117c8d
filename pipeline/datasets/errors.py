"""Errors of the dataset layer: bad annotation rows and feature-store entries that are missing."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.common.errors import UserInputError

#: How many problems one message lists before it only counts the rest.
MAX_LISTED = 20


class AnnotationError(UserInputError, ValueError):
    """Annotation rows that cannot be used.

    The message names the file, the line (1-based) and, when known, the qid of every bad
    row, with what was found and what was expected. `problems` holds one line per bad row.
    """

    def __init__(self, source: str, problems: Sequence[str]):
        self.source = source
        self.problems = list(problems)
        listed = "\n  ".join(self.problems[:MAX_LISTED])
        more = len(self.problems) - MAX_LISTED
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(f"{source}: {len(self.problems)} bad row(s)\n  {listed}{tail}")


class MissingFeaturesError(UserInputError, LookupError):
    """Feature-store entries a dataset needs but the store lacks (or holds incomplete).

    Attributes:
        store_url: the store that was searched.
        missing: (kind, extractor, key) triples, kind "video" or "text".
        hint: the command that creates them.
    """

    def __init__(self, store_url: str, missing: Sequence[tuple[str, str, str]], hint: str):
        self.store_url = store_url
        self.missing = list(missing)
        self.hint = hint
        groups: dict[tuple[str, str], list[str]] = {}
        for kind, extractor, key in self.missing:
            groups.setdefault((kind, extractor), []).append(key)
        lines = []
        for (kind, extractor), keys in groups.items():
            shown = ", ".join(keys[:MAX_LISTED])
            more = f", ... ({len(keys) - MAX_LISTED} more)" if len(keys) > MAX_LISTED else ""
            lines.append(f"  {kind}/{extractor}: {len(keys)} missing: {shown}{more}")
        super().__init__(
            f"{store_url}: {len(self.missing)} feature entries needed by the dataset are missing "
            f"or incomplete (kind/extractor: keys)\n" + "\n".join(lines) + f"\ncreate them with: {hint}"
        )
