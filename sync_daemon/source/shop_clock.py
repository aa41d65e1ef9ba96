"""The shop's clock, read from the daemon's own writes: how far a quiet shop's cursor may move.

Under HPOS every save stamps ``date_modified_gmt`` with the shop's PHP clock, so the answer to a
write (``PUT orders/ID``, ``POST orders/batch``) says what time it was in the shop at that save.
The save happened before the answer came back, so ``stamp + (monotonic now − monotonic when the
answer was back)`` is at most the shop's clock now; less a margin for drift and rounding it is a
safe lower bound, measured on the shop's own clock alone: never the local wall clock, never a
proxy's ``Date`` header, so a skewed clock on either side cannot make it run ahead.

Anchoring on the answer's arrival (not on the request's departure) makes a slow answer harmless:
it only makes the estimate lower. A stamp a save did not set (posts storage leaves it alone for a
meta-only write) is older still. An order dated in the future would carry its future date here, but
a poll lists that order and takes its date as the cursor anyway, so no new risk comes from it.
The engine moves the cursor to the estimate only after a scan that read to the end of the list
(engine/cursor.py), and the poll's overlap still re-reads ``overlap_seconds`` before it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

MARGIN = timedelta(seconds=2)  # PHP stamps whole seconds; drift and a stepped shop clock
MAX_AGE_SECONDS = 3600.0  # an older reading is not used: rate drift between the clocks stays far under the margin


class ShopClock:
    """The newest reading of the shop's clock from a write answer, and the estimate of it now."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.monotonic = monotonic  # the local clock that measures time since a reading (tests move it)
        self._lock = threading.Lock()  # writes are answered on the pass, write-back and receipts threads
        self._reading: tuple[datetime, float] | None = None

    def note(self, orders: Iterable[Any]) -> None:
        """Take the newest ``date_modified_gmt`` of the orders a write answer carries, just arrived."""
        arrived = self.monotonic()
        stamps = [stamp for stamp in map(_stamp, orders) if stamp is not None]
        if not stamps:
            return
        with self._lock:
            self._reading = (max(stamps), arrived)

    def estimate(self) -> datetime | None:
        """A moment the shop's clock has certainly passed (less the margin), or None without a recent reading."""
        with self._lock:
            reading = self._reading
        if reading is None:
            return None
        stamp, arrived = reading
        elapsed = self.monotonic() - arrived
        if not 0 <= elapsed <= MAX_AGE_SECONDS:
            return None
        return stamp + timedelta(seconds=int(elapsed)) - MARGIN


def _stamp(order: Any) -> datetime | None:
    """An answer's ``date_modified_gmt`` (naive UTC), rounded down to the second."""
    value = order.get("date_modified_gmt") if isinstance(order, dict) else None
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return parsed.replace(microsecond=0)
