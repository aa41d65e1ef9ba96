"""What platforms report after delivery, and what was written back into WooCommerce.

The ``tracking`` table holds shipments read from a tracking source; the ``writebacks`` table
remembers each (order, source, remote status) applied, so nothing is written back twice. The
ledger names no platform: callers pass the source labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sync_daemon.core.outcome import IngestItem
from sync_daemon.core.transitions import decide_ingest
from sync_daemon.ledger.encoding import encode_mapped, iso_stamp
from sync_daemon.ledger.ingest import _apply_change, _stored_deliveries
from sync_daemon.ledger.store import Store

_NAMED_CHUNK = 500  # tracking ids per query of ``tracking_named``

# One label as the source of both the rows and the writebacks they are checked against.
_UNWRITTEN_SHIPMENTS = (
    "SELECT t.order_id AS order_id, ? AS source, t.shipment_status AS remote_status, t.carrier AS carrier,"
    " t.tracking_number AS tracking_number, 0 AS is_exception FROM tracking t WHERE t.shipment_status IS NOT NULL"
    " AND NOT EXISTS (SELECT 1 FROM writebacks w WHERE w.order_id = t.order_id AND w.source = ?"
    " AND w.remote_status = t.shipment_status)"
)
_UNWRITTEN_EXCEPTIONS = (
    "SELECT t.order_id AS order_id, ? AS source, 'exception:' || t.exception_status AS remote_status,"
    " t.carrier AS carrier, t.tracking_number AS tracking_number, 1 AS is_exception FROM tracking t"
    " WHERE t.exception_status IS NOT NULL AND NOT EXISTS (SELECT 1 FROM writebacks w"
    " WHERE w.order_id = t.order_id AND w.source = ? AND w.remote_status = 'exception:' || t.exception_status)"
)


def changed_the_order(entry: dict[str, Any]) -> bool:
    """Whether a write-back entry changed the WooCommerce order (a status set, a note added, meta written)."""
    # The writer may say so itself (``changed``: meta written without a note); otherwise an entry
    # changed the order when it set the status (its action reads "status A → B") or carried a note.
    if "changed" in entry:
        return bool(entry["changed"])
    return bool(entry.get("note")) or str(entry.get("action", "")).startswith("status ")


class Tracking(Store):
    """Shipment tracking, write-back candidates and the write-back memory."""

    def tracking_due(self, *, now: float, max_age_seconds: float, limit: int = 1000) -> list[tuple[int, str]]:
        """(order id, Tracktor id) of tracked orders still in transit, least recently checked first."""
        return [
            (order_id, tracktor_id)
            for order_id, tracktor_id in self._fetch(
                "SELECT order_id, tracktor_id FROM tracking WHERE done = 0 AND first_seen_at >= ?"
                " ORDER BY COALESCE(checked_at, 0), order_id LIMIT ?",
                [now - max_age_seconds, limit],
            )
        ]

    def tracking_named(
        self, tracking_ids: Sequence[str], *, now: float, max_age_seconds: float
    ) -> list[tuple[int, str]]:
        """(order id, tracking id) of orders still in transit that carry one of ``tracking_ids``."""
        # The same window as ``tracking_due``: being told makes a read come sooner, it does not bring
        # back an order the schedule has let go. Chunked, to stay far below any backend's parameter limit.
        wanted = list(dict.fromkeys(tracking_ids))
        found: list[tuple[int, str]] = []
        for start in range(0, len(wanted), _NAMED_CHUNK):
            chunk = wanted[start : start + _NAMED_CHUNK]
            found += [
                (order_id, tracktor_id)
                for order_id, tracktor_id in self._fetch(
                    "SELECT order_id, tracktor_id FROM tracking WHERE done = 0 AND first_seen_at >= ?"
                    f" AND tracktor_id IN ({','.join('?' * len(chunk))}) ORDER BY order_id",
                    [now - max_age_seconds, *chunk],
                )
            ]
        return found

    def record_tracking(
        self,
        order_id: int,
        *,
        shipment_status: str | None,
        exception_status: str | None,
        carrier: str | None,
        tracking_number: str | None,
        done: bool,
        now: float,
    ) -> bool:
        """Store an order's tracking; True when its shipment or exception status changed."""
        with self.transaction() as connection:
            before = connection.execute(
                "SELECT shipment_status, exception_status FROM tracking WHERE order_id = ?", [order_id]
            ).fetchone()
            changed = before is not None and tuple(before) != (shipment_status, exception_status)
            connection.execute(
                "UPDATE tracking SET checked_at = ?, shipment_status = ?, exception_status = ?, carrier = ?,"
                " tracking_number = ?, done = ?, changed_at = CASE WHEN ? = 1 THEN ? ELSE changed_at END"
                " WHERE order_id = ?",
                [now, shipment_status, exception_status, carrier, tracking_number, int(done), int(changed),
                 iso_stamp(now), order_id],
            )
            return changed

    def writeback_candidates(
        self, *, delivery_sources: Sequence[str], tracking_sources: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Remote statuses not yet written back: one dict per (order, source, remote status).

        ``delivery_sources`` are destinations whose delivered rows carry a platform status (each
        labelled with its destination name); the tracking table's shipments and exceptions are
        labelled with each of ``tracking_sources``.
        """
        parts: list[str] = []
        params: list[Any] = []
        if delivery_sources:
            marks = ",".join("?" * len(delivery_sources))
            parts.append(
                "SELECT d.order_id AS order_id, d.destination AS source, d.remote_status AS remote_status,"
                " NULL AS carrier, NULL AS tracking_number, 0 AS is_exception FROM deliveries d"
                f" WHERE d.destination IN ({marks}) AND d.state = 'delivered' AND d.remote_status IS NOT NULL"
                " AND NOT EXISTS (SELECT 1 FROM writebacks w WHERE w.order_id = d.order_id"
                " AND w.source = d.destination AND w.remote_status = d.remote_status)"
            )
            params.extend(delivery_sources)
        for label in tracking_sources:
            parts += [_UNWRITTEN_SHIPMENTS, _UNWRITTEN_EXCEPTIONS]
            params += [label, label, label, label]
        if not parts:
            return []
        return self._rows(" UNION ALL ".join(parts) + " ORDER BY 1, 2", params)

    def status_reference(self, order_id: int) -> tuple[str | None, bool]:
        """The status the daemon last knew as its own: (status it wrote, True), else (first seen, False)."""
        rows = self._fetch("SELECT written_status, first_status FROM orders WHERE order_id = ?", [order_id])
        if not rows:
            return None, False
        written, first = rows[0]
        return (written, True) if written is not None else (first, False)

    def record_writeback(
        self, order_id: int, entries: Sequence[dict[str, Any]], *, written_status: str | None, now: float
    ) -> None:
        """Remember what was applied to one order (so it is never applied twice), and whether it changed it."""
        stamp = iso_stamp(now)
        with self.transaction() as connection:
            connection.executemany(
                "INSERT INTO writebacks (order_id, source, remote_status, action, detail, status_before,"
                " status_after, applied_at, changed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (order_id, source, remote_status) DO UPDATE SET action = excluded.action,"
                " detail = excluded.detail, status_before = excluded.status_before,"
                " status_after = excluded.status_after, applied_at = excluded.applied_at,"
                " changed = excluded.changed",
                [(order_id, e["source"], e["remote_status"], e["action"], e.get("detail"), e.get("status_before"),
                  e.get("status_after"), stamp, int(changed_the_order(e))) for e in entries],
            )
            if written_status is not None:
                connection.execute(
                    "UPDATE orders SET written_status = ?, written_at = ? WHERE order_id = ?",
                    [written_status, stamp, order_id],
                )

    def absorb(self, item: IngestItem, *, now: float, status_written: bool = False) -> None:
        """Record the daemon's own write as seen: its new ``date_modified`` must not look like an edit.

        Meta and notes the daemon wrote are its own business: every row takes the new content
        silently. A status it wrote (``status_written``) is a real change of the order: a row of a
        platform with an update API whose payload carries the status is decided as for any edit (one
        update; ``core.transitions``); platforms without one are not told, nor noted as edited.
        """
        stamp = iso_stamp(now)
        with self.transaction() as connection:
            connection.execute(
                "UPDATE orders SET modified = ?, status = ?, last_seen_at = ? WHERE order_id = ?",
                [item.modified, item.status, stamp, item.order_id],
            )
            rows = _stored_deliveries(connection, [item.order_id]) if status_written else {}
            for mapped in item.mapped:
                if mapped.payload is None:
                    continue
                payload_text, new_hash = encode_mapped(mapped)
                row = rows.get((item.order_id, mapped.destination))
                # A row in ``sending`` has a request out (another process): it is left to its answer.
                if row is not None and mapped.supports_update and row.state != "sending":
                    decision = decide_ingest(row, mapped, new_hash)
                    if decision.action == "queue":
                        _apply_change(connection, item, mapped, decision, payload_text, new_hash, now, stamp)
                        continue
                # Only rows with nothing pending: their delivered content now stands for the new stamp.
                connection.execute(
                    "UPDATE deliveries SET payload_hash = ?, delivered_hash = ?, payload = ?, order_modified = ?"
                    " WHERE order_id = ? AND destination = ? AND state = 'delivered'"
                    " AND payload_hash = delivered_hash",
                    [new_hash, new_hash, payload_text, item.modified, item.order_id, mapped.destination],
                )
