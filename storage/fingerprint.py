"""Fingerprints of source files: cheap size/mtime first, content hash when those differ."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

_BLOCK = 1 << 20


class SourceFingerprint(BaseModel):
    """Identity of a source file: size (bytes), mtime (ns) and BLAKE2b-128 of its content."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    size: int
    mtime_ns: int
    content_hash: str

    def same_content(self, path: str | os.PathLike) -> bool:
        """True when `path` still holds the bytes this fingerprint was taken of.

        Size and mtime equal -> trusted without reading; size differs -> changed; otherwise
        (a touched or copied file) the content is hashed and compared.
        """
        st = Path(path).stat()
        if st.st_size != self.size:
            return False
        if st.st_mtime_ns == self.mtime_ns:
            return True
        return hash_file(path) == self.content_hash


def hash_file(path: str | os.PathLike) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def fingerprint_file(path: str | os.PathLike) -> SourceFingerprint:
    st = Path(path).stat()
    return SourceFingerprint(size=st.st_size, mtime_ns=st.st_mtime_ns, content_hash=hash_file(path))


def fingerprint_text(text: str) -> SourceFingerprint:
    """Fingerprint of a query string (text entries' source)."""
    data = text.encode("utf-8")
    return SourceFingerprint(size=len(data), mtime_ns=0, content_hash=hashlib.blake2b(data, digest_size=16).hexdigest())
