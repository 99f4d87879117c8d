"""Query features: every query text that is missing or stale in the store, encoded by each text encoder."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timezone

from pipeline.extract.encoders import text_entry_spec
from pipeline.extractors import TextEncoder
from storage import FeatureStore, fingerprint_text

log = logging.getLogger(__name__)


def extract_queries(queries: Mapping[str, str], store: FeatureStore, encoders: Mapping[str, TextEncoder],
                    batch_size: int = 64, force: bool = False) -> dict[str, int]:
    """Encode every query (qid -> text) that is missing or stale for each text encoder.

    Returns encoder name -> number of queries written. The query text's hash is the entry's
    source fingerprint, so an edited query is re-encoded. A run claims one encoder's queries at a
    time (`text/<encoder>`); an encoder claimed by another run is waited for after the others, and
    only the queries that run left are encoded.
    """
    written_after = datetime.now(timezone.utc) if force else None
    written: dict[str, int] = {}
    busy = []
    for name, encoder in encoders.items():
        claim = store.try_claim([store.group_path("text", name)])
        if claim is None:
            busy.append(name)
            continue
        with claim:
            written[name] = _encode_queries(queries, store, name, encoder, batch_size, written_after)
    for name in busy:
        log.info("text/%s: claimed by another run; waiting for it", name)
        with store.claim([store.group_path("text", name)]):
            written[name] = _encode_queries(queries, store, name, encoders[name], batch_size, written_after)
    return {name: written[name] for name in encoders}


def _encode_queries(queries: Mapping[str, str], store: FeatureStore, name: str, encoder: TextEncoder,
                    batch_size: int, written_after: datetime | None) -> int:
    """Encode the queries whose `text/<name>` entry is not current; returns how many."""
    spec = text_entry_spec(encoder)
    todo = [qid for qid, text in queries.items()
            if store.status("text", name, qid, spec, fingerprint_text(text), written_after).state != "current"]
    for start in range(0, len(todo), batch_size):
        chunk = todo[start:start + batch_size]
        feats = encoder.encode_text([queries[q] for q in chunk], batch_size=batch_size)
        for qid, f in zip(chunk, feats):
            store.write_text(name, qid, f.tokens, f.pooled, spec, fingerprint_text(queries[qid]))
    log.info("text/%s: %d queries encoded, %d current", name, len(todo), len(queries) - len(todo))
    return len(todo)
