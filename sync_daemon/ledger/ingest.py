"""Recording orders read from WooCommerce (a pass, or a manual resync) into delivery rows.

What happens to a row is decided in ``sync_daemon.core.transitions``; this module looks rows up,
asks, and writes the answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import structlog

from sync_daemon.core.outcome import Due, IngestItem, Mapped, Operation
from sync_daemon.core.payload import StoredPayload
from sync_daemon.core.storable import storable
from sync_daemon.core.transitions import IngestCount, IngestDecision, StoredDelivery, decide_ingest, decide_resync
from sync_daemon.ledger.deliveries import log_attempt
from sync_daemon.ledger.encoding import encode_mapped, iso_stamp
from sync_daemon.ledger.receipts import queue_note
from sync_daemon.ledger.store import Connection, Store

_LOOKUP_CHUNK = 500  # ids per IN (...) list, well under SQLite's limit on bound parameters
_COUNTS = ("new", "changed", "rejected", "unchanged", "skipped", "unstorable")
log = structlog.get_logger("sync_daemon.ledger")


class Ingest(Store):
    """Orders and the rows their mapped payloads create or change."""

    def known_modified(self, order_ids: Iterable[int]) -> dict[int, str]:
        """The stored ``date_modified_gmt`` of the given orders, in one query."""
        ids = list(order_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return dict(self._fetch(f"SELECT order_id, modified FROM orders WHERE order_id IN ({marks})", ids))

    def known_orders(self, order_ids: Iterable[int]) -> dict[int, tuple[str, frozenset[str]]]:
        """Stored ``date_modified_gmt`` and the destinations with a row, of the given orders, in one query."""
        ids = list(order_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        found: dict[int, tuple[str, set[str]]] = {}
        for order_id, modified, destination in self._fetch(
            "SELECT o.order_id, o.modified, d.destination FROM orders o"
            f" LEFT JOIN deliveries d ON d.order_id = o.order_id WHERE o.order_id IN ({marks})",
            ids,
        ):
            names = found.setdefault(order_id, (modified, set()))[1]
            if destination is not None:
                names.add(destination)
        return {order_id: (modified, frozenset(names)) for order_id, (modified, names) in found.items()}

    def ingest(self, items: Sequence[IngestItem], *, now: float) -> dict[str, int]:
        """Record a page of orders and their mapped payloads; returns counts of what changed.

        One order the ledger refuses (``refuses_data``: a text it cannot hold, a number out of range)
        must not hold up its page: the page is then written again order by order, the refused order
        recorded as rejected with the ledger's reason, or, when even that is refused, left out
        (counted as ``unstorable`` and logged with its id), so the cursor can pass it.
        """
        try:
            return self._ingest_page(items, now)
        except Exception as error:
            if not self.refuses_data(error):
                raise
        counts = dict.fromkeys(_COUNTS, 0)
        for item in items:
            try:
                one = self._ingest_page([item], now)
            except Exception as error:
                if not self.refuses_data(error):
                    raise
                one = self._ingest_refused(item, error, now)
            for key, value in one.items():
                counts[key] += value
        return counts

    def _ingest_refused(self, item: IngestItem, error: Exception, now: float) -> dict[str, int]:
        """Record an order the ledger refused as rejected, for that reason; else count it ``unstorable``."""
        detail = storable(str(error).splitlines()[0] if str(error) else "")[:200]
        reason = f"the ledger cannot store this order ({type(error).__name__}: {detail}); correct it in WooCommerce"
        refused = IngestItem(
            item.order_id, storable(item.number)[:200], storable(item.modified), storable(item.status)[:100],
            [Mapped(m.destination, None, rejection=reason, supports_update=m.supports_update) for m in item.mapped],
        )
        try:
            return self._ingest_page([refused], now)
        except Exception as again:
            if not self.refuses_data(again):
                raise
            log.error("order cannot be stored in the ledger; left out", order_id=storable(str(item.order_id))[:40],
                      error=f"{type(again).__name__}: {storable(str(again))[:200]}")
            return {**dict.fromkeys(_COUNTS, 0), "unstorable": 1}

    def _ingest_page(self, items: Sequence[IngestItem], now: float) -> dict[str, int]:
        """Record orders in one transaction; returns counts of what changed."""
        counts = dict.fromkeys(_COUNTS, 0)
        stamp = iso_stamp(now)
        with self.transaction() as connection:
            # The page's existing rows in one query, not one query per (order, destination).
            rows = _stored_deliveries(connection, [item.order_id for item in items])
            seen: set[tuple[int, str]] = set()
            for item in items:
                _upsert_order(connection, item, stamp)
                for mapped in item.mapped:
                    key = (item.order_id, mapped.destination)
                    # An order listed twice in one call: the second sees what the first wrote.
                    row = _stored_deliveries(connection, [item.order_id]).get(key) if key in seen else rows.get(key)
                    seen.add(key)
                    counts[self._ingest_one(connection, item, mapped, row, now, stamp)] += 1
                if item.tracking_id:
                    connection.execute(
                        "INSERT INTO tracking (order_id, tracktor_id, first_seen_at) VALUES (?, ?, ?)"
                        " ON CONFLICT (order_id) DO UPDATE SET tracktor_id = excluded.tracktor_id",
                        [item.order_id, item.tracking_id, now],
                    )
        return counts

    @staticmethod
    def _ingest_one(
        connection: Connection,
        item: IngestItem,
        mapped: Mapped,
        row: StoredDelivery | None,
        now: float,
        stamp: str,
    ) -> IngestCount:
        payload_text, new_hash = encode_mapped(mapped)
        decision = decide_ingest(row, mapped, new_hash)
        key = [item.order_id, mapped.destination]
        if decision.action == "insert":
            state = decision.state or "pending"
            _write_delivery(
                connection, item, mapped, payload_text, new_hash, state=state, operation=decision.operation,
                next_attempt_at=now if state == "pending" else None, note=decision.note, now=now, stamp=stamp,
            )
        else:
            _apply_change(connection, item, mapped, decision, payload_text, new_hash, now, stamp)
        if decision.log_rejection:
            log_attempt(connection, *key, "map", "rejected", None, mapped.rejection, None, stamp)
            queue_note(connection, *key, mapped.rejection, stamp)
        return decision.count

    def prepare_resync(self, item: IngestItem, *, now: float) -> list[Due]:
        """Store a freshly mapped order for a manual resync, whatever its state; returns what to send.

        Rows that cannot be mapped are recorded as rejected; the others are marked ``sending``
        with the new payload, exactly like a scheduled send.
        """
        stamp = iso_stamp(now)
        to_send = []
        with self.transaction() as connection:
            _upsert_order(connection, item, stamp)
            for mapped in item.mapped:
                key = [item.order_id, mapped.destination]
                row = connection.execute(
                    "SELECT delivered_hash, remote_id, operation FROM deliveries"
                    " WHERE order_id = ? AND destination = ?",
                    key,
                ).fetchone()
                # (delivered, or a create the platform confirmed: see StoredDelivery.platform_has_it)
                has_it = row is not None and (row[0] is not None or row[2] == "update")
                decision = decide_resync(mapped, delivered_before=has_it)
                payload_text, new_hash = encode_mapped(mapped)
                _write_delivery(
                    connection, item, mapped, payload_text, new_hash, state=decision.state,
                    operation=decision.operation, next_attempt_at=None, note=mapped.note, now=now, stamp=stamp,
                    replace=True,
                )
                if payload_text is None:  # (no payload: a rejection)
                    log_attempt(connection, *key, "resync", decision.state, None, mapped.rejection, None, stamp)
                else:
                    remote_id = row[1] if row else None
                    # Sent as stored, as every delivery is (core/payload.py).
                    payload = StoredPayload(payload_text)
                    to_send.append(
                        Due(item.order_id, mapped.destination, decision.operation, 0, payload, new_hash, remote_id)
                    )
        return to_send


def _upsert_order(connection: Connection, item: IngestItem, stamp: str) -> None:
    connection.execute(
        "INSERT INTO orders (order_id, number, modified, status, first_status, first_seen_at, last_seen_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (order_id) DO UPDATE SET"
        " number = excluded.number, modified = excluded.modified, status = excluded.status,"
        " last_seen_at = excluded.last_seen_at",
        [item.order_id, item.number, item.modified, item.status, item.status, stamp, stamp],
    )


def _stored_deliveries(
    connection: Connection, order_ids: Sequence[int]
) -> dict[tuple[int, str], StoredDelivery]:
    """(order id, destination) → what ingest decides on, of the existing deliveries of these orders."""
    found = {}
    ids = list(dict.fromkeys(order_ids))
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start : start + _LOOKUP_CHUNK]
        marks = ",".join("?" * len(chunk))
        for order_id, destination, state, digest, delivered_hash, operation in connection.execute(
            "SELECT order_id, destination, state, payload_hash, delivered_hash, operation FROM deliveries"
            f" WHERE order_id IN ({marks})",
            chunk,
        ):
            found[(order_id, destination)] = StoredDelivery(state, digest, delivered_hash, operation)
    return found


def _write_delivery(
    connection: Connection,
    item: IngestItem,
    mapped: Mapped,
    payload_text: str | None,
    new_hash: str,
    *,
    state: str,
    operation: Operation,
    next_attempt_at: float | None,
    note: str | None,
    now: float,
    stamp: str,
    replace: bool = False,
) -> None:
    """Insert a delivery row with fresh content (``replace``: over an existing one).

    Ingest and resync share it, so a new row is written one way. A replaced row starts over
    (no attempts counted) but keeps when it was created and first queued.
    """
    sql = (
        "INSERT INTO deliveries (order_id, destination, state, operation, attempts, next_attempt_at, last_error,"
        " payload, payload_hash, note, order_modified, created_at, updated_at, queued_at)"
        " VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    if replace:
        sql += (
            " ON CONFLICT (order_id, destination) DO UPDATE SET state = excluded.state,"
            " operation = excluded.operation, attempts = 0, next_attempt_at = excluded.next_attempt_at,"
            " last_error = excluded.last_error, payload = excluded.payload, payload_hash = excluded.payload_hash,"
            " note = excluded.note, order_modified = excluded.order_modified, updated_at = excluded.updated_at"
        )
    connection.execute(
        sql,
        [item.order_id, mapped.destination, state, operation, next_attempt_at, mapped.rejection, payload_text,
         new_hash, note, item.modified, stamp, stamp, now],
    )


def _apply_change(
    connection: Connection,
    item: IngestItem,
    mapped: Mapped,
    decision: IngestDecision,
    payload_text: str | None,
    new_hash: str,
    now: float,
    stamp: str,
) -> None:
    """Write an ingest decision about an existing row."""
    key = [item.order_id, mapped.destination]
    if decision.action == "keep":
        connection.execute(
            "UPDATE deliveries SET order_modified = ? WHERE order_id = ? AND destination = ?",
            [item.modified, *key],
        )
    elif decision.action == "annotate":
        # The hash moves on, so the same edit is not noted again at the next read.
        connection.execute(
            "UPDATE deliveries SET note = ?, payload_hash = ?, order_modified = ?, updated_at = ?"
            " WHERE order_id = ? AND destination = ?",
            [decision.note, new_hash, item.modified, stamp, *key],
        )
    elif decision.action == "withdraw":
        connection.execute(
            "UPDATE deliveries SET state = ?, last_error = ?, payload = NULL, payload_hash = ?,"
            " next_attempt_at = NULL, note = ?, order_modified = ?, updated_at = ?"
            " WHERE order_id = ? AND destination = ?",
            [decision.state, mapped.rejection, new_hash, decision.note, item.modified, stamp, *key],
        )
    elif decision.action == "queue":
        connection.execute(
            "UPDATE deliveries SET state = ?, operation = ?, attempts = 0, next_attempt_at = ?,"
            " last_error = NULL, payload = ?, payload_hash = ?, note = ?, order_modified = ?, updated_at = ?,"
            " queued_at = ?, leased_by = NULL, leased_until = NULL WHERE order_id = ? AND destination = ?",
            [decision.state, decision.operation, now, payload_text, new_hash, decision.note, item.modified, stamp,
             now, *key],
        )
    else:
        raise ValueError(f"unknown ingest action {decision.action!r}")
