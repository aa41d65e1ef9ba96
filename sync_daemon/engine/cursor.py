"""The cursor of one pass: where it starts reading, and how far committed pages and the shop's clock move it.

The cursor is the newest modification the ledger has recorded; a poll reads from it less
``overlap_seconds``, so an order saved in the same second or committed late is read all the same.
It moves only once a page is committed. On a quiet HPOS shop the newest modifications are the
daemon's own writes (receipts, status write-back), which re-date every order they touch: with the
newest modification as the cursor, every poll would re-read them all. So a pass that read to the
end of the list also moves the cursor to the shop's clock as it was when the pass began, estimated
from the answers to those writes (``source/shop_clock.py``): every order modified before that moment
was listed by the scan, or, committed late, is re-read by the next poll's overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sync_daemon.engine.mapping import order_modified_key
from sync_daemon.ledger import Ledger
from sync_daemon.source.settings import WooCommerceSettings


class PassCursor:
    """The ledger's cursor as one pass reads and moves it."""

    def __init__(self, ledger: Ledger, shop: WooCommerceSettings, now: float, shop_now: datetime | None) -> None:
        self.ledger = ledger
        self.shop_now = shop_now  # estimated before the scan began (None: no recent write answer)
        self.cursor = ledger.get_cursor()
        self.backfill = self.cursor is None
        if self.cursor is None:
            self.start = shop.start_point(datetime.fromtimestamp(now, UTC))
        else:
            self.start = self.cursor - timedelta(seconds=shop.overlap_seconds)

    def committed(self, page: Sequence[Any]) -> None:
        """A page is in the ledger: the cursor may pass its newest modification."""
        marks = [_parse_mark(order_modified_key(raw)) for raw in page if isinstance(raw, dict)]
        marks = [mark for mark in marks if mark is not None]
        if marks:  # (an idle poll re-reads the overlap only)
            self._advance(max(marks))

    def read_to_end(self) -> None:
        """The scan listed every order there was: the cursor may pass the shop's clock as the pass began."""
        if self.shop_now is not None:
            self._advance(self.shop_now)

    def _advance(self, moment: datetime) -> None:
        if self.cursor is None or moment > self.cursor:
            self.cursor = moment
            self.ledger.set_cursor(moment)


def _parse_mark(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None
    except ValueError:
        return None
