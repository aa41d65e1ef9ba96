"""A payload as the ledger holds it: its canonical JSON text, read as a mapping only when needed.

Most sends need only the text, which is the request body as it is (``core.http.send`` sends it
byte for byte). Decoding every payload taken from the ledger, only for requests to encode it again
for the body, cost 36 µs of CPU per request on one core in a backfill (``bench/backfill.py``): the
text is decoded on the first field a platform reads (OrderRepo its ``id``, ShopBack its parameters).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any


class StoredPayload(Mapping[str, Any]):
    """A JSON object kept as its text; decoded once, on the first field read."""

    __slots__ = ("_fields", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._fields: dict[str, Any] | None = None

    def _decoded(self) -> dict[str, Any]:
        # Two threads decoding at once would each get an equal dict: no lock needed.
        if self._fields is None:
            fields = json.loads(self.text)
            if not isinstance(fields, dict):
                raise TypeError(f"a stored payload is a JSON object, not {type(fields).__name__}")
            self._fields = fields
        return self._fields

    def __getitem__(self, key: str) -> Any:
        return self._decoded()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())

    def __repr__(self) -> str:
        return f"StoredPayload({self.text!r})"
