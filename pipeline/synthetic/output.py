"""The synthesize stage's output: rows appended per video to a jsonl, completion recorded beside it, resumable.

Two files:

* `<out>.jsonl`: the rows, QVHighlights format, nothing else (the annotation reader refuses
  unknown fields);
* `<out>.jsonl.progress.jsonl`: line 1 the manifest (the settings that decide the rows, and
  the captioner's and scorer's identity), then one record per finished video.

A video's rows are appended and fsynced, then its record. On opening, a half-written last line
of either file (a kill mid-write) is cut off, and rows of videos without a record (a kill
between the two writes) are removed, so a rerun redoes exactly the unfinished videos and no row
is duplicated. A lock file keeps a second run off the same output.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from pipeline.common.errors import UserInputError

log = logging.getLogger(__name__)


class OutputMismatchError(UserInputError, ValueError):
    """An existing output was written with other settings (or by something else)."""


class OutputLockedError(RuntimeError):
    """Another run holds the output's lock."""


def progress_path(out_jsonl: str | os.PathLike) -> Path:
    out = Path(out_jsonl)
    return out.with_name(out.name + ".progress.jsonl")


def _complete_lines(path: Path) -> tuple[list[str], bool]:
    """The newline-terminated lines of `path` and whether an unterminated tail (a cut write) followed them."""
    if not path.exists():
        return [], False
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    return data[:end].decode("utf-8").splitlines(), end < len(data)


def _parse(lines: Sequence[str], path: Path) -> list[dict[str, Any]]:
    out = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise OutputMismatchError(f"{path}, line {i}: not valid JSON ({err.msg}); this file was edited or not "
                                      "written by synthesize: move it away or pass overwrite=True") from None
        out.append(obj)
    return out


def _write_atomic(path: Path, lines: Sequence[str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class SynthesisOutput:
    """Appends rows per video, records finished videos, and repairs what a killed run left.

    Use as a context manager: `with SynthesisOutput(path, manifest) as out: ...`.

    Attributes:
        path: the rows jsonl.
        done: vid -> record of every finished video (from earlier runs and this one).
        repaired: what opening fixed ("cut a half-written line", "dropped 4 rows of 1 unfinished video").
    """

    def __init__(self, path: str | os.PathLike, manifest: Mapping[str, Any], overwrite: bool = False):
        self.path = Path(path)
        self.progress = progress_path(self.path)
        self.manifest = json.loads(json.dumps(dict(manifest)))  # as it reads back from JSON
        self.overwrite = overwrite
        self.done: dict[str, dict[str, Any]] = {}
        self.repaired: list[str] = []
        self._lock: IO[str] | None = None
        self._rows: IO[str] | None = None
        self._records: IO[str] | None = None

    def __enter__(self) -> SynthesisOutput:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.path.with_name(self.path.name + ".lock"), "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise OutputLockedError(f"{self.path}: another synthesize run is writing this output; "
                               "wait for it or choose another output file") from None
        try:
            if self.overwrite:
                self.path.unlink(missing_ok=True)
                self.progress.unlink(missing_ok=True)
            self._recover()
            self._rows = open(self.path, "a", encoding="utf-8")
            self._records = open(self.progress, "a", encoding="utf-8")
            if not self.done and self.progress.stat().st_size == 0:
                self._append(self._records, [{"manifest": self.manifest}])
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for handle in (self._rows, self._records, self._lock):
            if handle is not None:
                handle.close()
        self._rows = self._records = self._lock = None

    def _recover(self) -> None:
        record_lines, cut_records = _complete_lines(self.progress)
        row_lines, cut_rows = _complete_lines(self.path)
        if not record_lines and row_lines:
            raise OutputMismatchError(f"{self.path} holds {len(row_lines)} rows but there is no progress file "
                                      f"{self.progress.name} beside it, so it was not written by synthesize (or the "
                                      "progress file was removed): move it away or pass overwrite=True")
        records = _parse(record_lines, self.progress)
        if records:
            self._check_manifest(records[0])
            self.done = {r["vid"]: r for r in records[1:]}
        rows = _parse(row_lines, self.path)
        keep = [line for line, row in zip([x for x in row_lines if x.strip()], rows) if row.get("vid") in self.done]
        dropped = {row.get("vid") for row in rows if row.get("vid") not in self.done}
        if cut_rows or cut_records:
            self.repaired.append("cut a half-written last line")
        if dropped:
            self.repaired.append(f"dropped {len(rows) - len(keep)} rows of {len(dropped)} unfinished video(s)")
        if cut_records:
            _write_atomic(self.progress, record_lines)
        if cut_rows or dropped:
            _write_atomic(self.path, keep)
        for note in self.repaired:
            log.warning("%s: %s", self.path, note)

    def _check_manifest(self, first: Mapping[str, Any]) -> None:
        before = first.get("manifest")
        if not isinstance(before, dict):
            raise OutputMismatchError(f"{self.progress}: line 1 is not a synthesize manifest; move the output away "
                                      "or pass overwrite=True")
        changed = [k for k in sorted(set(before) | set(self.manifest)) if before.get(k) != self.manifest.get(k)]
        if changed:
            k = changed[0]
            raise OutputMismatchError(
                f"{self.path} was written with other settings ({k}: {before.get(k)!r} -> {self.manifest.get(k)!r}"
                f"{f', and {len(changed) - 1} more' if len(changed) > 1 else ''}); resuming would mix rows: "
                "write to another output, or pass overwrite=True to start it again"
            )

    @staticmethod
    def _append(handle: IO[str], objs: Sequence[Mapping[str, Any]]) -> None:
        handle.write("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs))
        handle.flush()
        os.fsync(handle.fileno())

    def append_video(self, vid: str, rows: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> None:
        """Append a finished video's rows, then its record (both fsynced: the record is the commit)."""
        if self._rows is None or self._records is None:
            raise RuntimeError("SynthesisOutput is not open; use it as a context manager")
        if rows:
            self._append(self._rows, rows)
        entry = {"vid": vid, **record}
        self._append(self._records, [entry])
        self.done[vid] = entry
