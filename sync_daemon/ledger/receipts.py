"""The outbox: receipts and rejection notes still to be written into the WooCommerce orders.

Entries are queued in the transaction that records what they report (``queue_outcomes`` from
``deliveries.record``, ``queue_note`` from ingest for a mapping's rejection), so a crash can lose
none of them; ``written_at`` is set only once the shop confirmed the write. What an entry says in
the order, and whether it is written at all, the engine decides (``engine/receipts.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sync_daemon.core.outcome import Outcome
from sync_daemon.ledger.encoding import iso_stamp
from sync_daemon.ledger.store import Connection, Store

RECEIPT = "receipt"
# A note says why an order did not reach a platform: its mapping could not send it ("unmappable"),
# the platform refused it ("rejected"), or its retries ran out ("dead").
NOTE_KINDS = ("unmappable", "rejected", "dead")
REASON_LIMIT = 500  # characters of a reason kept (it is part of the key: PostgreSQL caps index entries)
_QUEUE = (
    "INSERT INTO outbox (order_id, destination, kind, reason, remote_id, at) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (order_id, destination, kind, reason) DO NOTHING"
)
# A receipt is written again only when the platform's id for the order changed (an update that
# created a new remote record); the same id delivered again is already in the order.
_QUEUE_RECEIPT = (
    "INSERT INTO outbox (order_id, destination, kind, reason, remote_id, at) VALUES (?, ?, 'receipt', '', ?, ?)"
    " ON CONFLICT (order_id, destination, kind, reason) DO UPDATE SET remote_id = excluded.remote_id,"
    " at = excluded.at, written_at = NULL, tries = 0, last_error = NULL"
    " WHERE COALESCE(outbox.remote_id, '') <> COALESCE(excluded.remote_id, '')"
)


@dataclass(frozen=True)
class OutboxEntry:
    """One receipt or note waiting to be written."""

    order_id: int
    destination: str
    kind: str  # RECEIPT or one of NOTE_KINDS
    reason: str  # why (a note); empty for a receipt
    remote_id: str | None
    at: str  # when it happened (ISO, UTC)
    tries: int  # writes begun before (a note begun may already be in the order)

    @property
    def key(self) -> tuple[int, str, str, str]:
        """The entry's primary key."""
        return (self.order_id, self.destination, self.kind, self.reason)


def queue_outcomes(connection: Connection, outcomes: Sequence[Outcome], stamp: str) -> None:
    """Queue a receipt per delivered outcome and a note per rejected or dead one (inside ``record``)."""
    receipts = [
        (outcome.order_id, outcome.destination, outcome.remote_id, stamp)
        for outcome in outcomes
        if outcome.kind == "delivered"
    ]
    if receipts:
        connection.executemany(_QUEUE_RECEIPT, receipts)
    notes = [
        (outcome.order_id, outcome.destination, "rejected", _reason(outcome.message), None, stamp)
        if outcome.kind == "rejected"
        else (outcome.order_id, outcome.destination, "dead", _reason(outcome.last_error), None, stamp)
        for outcome in outcomes
        if outcome.kind == "rejected" or (outcome.kind == "retry" and outcome.dead)
    ]
    if notes:
        connection.executemany(_QUEUE, notes)


def queue_note(connection: Connection, order_id: int, destination: str, reason: str | None, stamp: str) -> None:
    """Queue the note of a rejection decided before sending (a mapping's), inside ingest's transaction."""
    connection.execute(_QUEUE, [order_id, destination, "unmappable", _reason(reason), None, stamp])


def _reason(text: str | None) -> str:
    return (text or "no reason given")[:REASON_LIMIT]


class Outbox(Store):
    """Reading the outbox, and marking what was written."""

    def unwritten(self, kinds: Sequence[str], *, orders: int) -> list[OutboxEntry]:
        """The unwritten entries of these kinds of up to ``orders`` orders, oldest order ids first."""
        marks = ",".join("?" * len(kinds))
        rows = self._fetch(
            "SELECT order_id, destination, kind, reason, remote_id, at, tries FROM outbox"
            f" WHERE written_at IS NULL AND kind IN ({marks}) AND order_id IN (SELECT DISTINCT order_id FROM outbox"
            f"  WHERE written_at IS NULL AND kind IN ({marks}) ORDER BY order_id LIMIT ?)"
            " ORDER BY order_id, destination, kind, reason",
            [*kinds, *kinds, orders],
        )
        return [OutboxEntry(*row) for row in rows]

    def outbox_begun(self, entries: Sequence[OutboxEntry]) -> None:
        """Count a write as begun, before its request leaves (a note found begun is looked for first)."""
        with self.transaction() as connection:
            connection.executemany(
                "UPDATE outbox SET tries = tries + 1"
                " WHERE order_id = ? AND destination = ? AND kind = ? AND reason = ?",
                [entry.key for entry in entries],
            )

    def outbox_written(self, entries: Sequence[OutboxEntry], *, now: float, error: str | None = None) -> None:
        """Mark entries done: written, or given up with ``error`` (never tried again either way)."""
        if not entries:
            return
        with self.transaction() as connection:
            connection.executemany(
                "UPDATE outbox SET written_at = ?, last_error = ?"
                " WHERE order_id = ? AND destination = ? AND kind = ? AND reason = ?",
                [(iso_stamp(now), error, *entry.key) for entry in entries],
            )

    def outbox_failed(self, entries: Sequence[OutboxEntry], error: str) -> None:
        """Remember why entries were not written this time (they stay queued)."""
        with self.transaction() as connection:
            connection.executemany(
                "UPDATE outbox SET last_error = ? WHERE order_id = ? AND destination = ? AND kind = ? AND reason = ?",
                [(error, *entry.key) for entry in entries],
            )

    def outbox_counts(self) -> dict[str, int]:
        """Unwritten entries by kind (what a failed run leaves queued)."""
        return dict(self._fetch("SELECT kind, COUNT(*) FROM outbox WHERE written_at IS NULL GROUP BY kind"))
