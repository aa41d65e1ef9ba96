"""Which recorded orders are still open: what the reconcile sweep reads again by id."""

from __future__ import annotations

from collections.abc import Iterable

from sync_daemon.ledger.encoding import iso_stamp
from sync_daemon.ledger.store import Store

# WooCommerce statuses after which an order is not edited in ways a platform must learn of.
FINAL_STATUSES = ("completed", "cancelled", "refunded", "failed", "trash")


def open_order_ids(store: Store, *, since: float, final: Iterable[str] = FINAL_STATUSES) -> list[int]:
    """Ids of orders with at least one delivery row, not in a final status, first seen at or after ``since``."""
    finals = list(final)
    marks = ",".join("?" * len(finals)) or "''"
    rows = store._fetch(  # noqa: SLF001 - a query of the ledger package on its own store
        "SELECT o.order_id FROM orders o WHERE COALESCE(o.status, '') NOT IN (" + marks + ")"
        " AND o.first_seen_at >= ? AND EXISTS (SELECT 1 FROM deliveries d WHERE d.order_id = o.order_id)"
        " ORDER BY o.order_id",
        [*finals, iso_stamp(since)],
    )
    return [row[0] for row in rows]
