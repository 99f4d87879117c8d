"""JSON-lines files written whole or not at all."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from storage.atomic import atomic_file


def write_jsonl(rows: Iterable[Mapping], path: str | os.PathLike) -> Path:
    """Write rows as JSON lines through a temporary file renamed into place (never half-written)."""
    path = Path(path)
    with atomic_file(path, "w") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return path
