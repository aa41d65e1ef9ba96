"""How the ledger writes payloads and moments: one canonical text per payload, ISO stamps in UTC."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sync_daemon.core.outcome import Mapped

# One encoder for every payload: json.dumps with these options builds a new one per call (a tenth
# of the encoding's time, twice per order read). An encoder keeps no state between calls.
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def canonical_json(payload: Any) -> str:
    """The payload as stored and hashed: sorted keys, no spaces (the same bytes for the same payload)."""
    return _CANONICAL.encode(payload)


def payload_hash(payload: Any, encoded: str | None = None) -> str:
    """A stable hash of a payload (or a rejection reason): tells a real change from a re-read."""
    encoded = canonical_json(payload) if encoded is None else encoded
    return hashlib.sha256(encoded.encode()).hexdigest()[:32]


def encode_mapped(mapped: Mapped) -> tuple[str | None, str]:
    """(stored payload text, content hash) of a mapped order; a rejection is hashed by its reason."""
    if mapped.payload is None:
        return None, payload_hash({"rejected": mapped.rejection})
    # One encoding serves as the stored payload and as the input of its hash.
    text = canonical_json(mapped.payload)
    return text, payload_hash(mapped.payload, text)


def iso_stamp(moment: float) -> str:
    """Epoch seconds as the ISO text stored in the ledger's ``*_at`` columns."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
