"""The delivery rows' life after ingest: due, sending, and what each send's outcome says.

``record`` writes outcomes as the core classified them; the retry decision (attempt count, delay,
dead or not) arrives stamped on each retry outcome by ``sync_daemon.core.retry.RetryPolicy``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from sync_daemon.core.outcome import Due, Operation, Outcome
from sync_daemon.core.payload import StoredPayload
from sync_daemon.ledger.encoding import iso_stamp
from sync_daemon.ledger.receipts import queue_outcomes
from sync_daemon.ledger.store import Connection, Store

ATTEMPT_MESSAGE_LIMIT = 2000  # characters of an error kept in the attempt log
SUCCESS_NOTE_SECONDS = 1.0  # a destination's "last success" is written at most this often
FAILED_KINDS = ("retry", "rejected", "paused")  # outcomes that set a destination's last error
_INSERT_ATTEMPT = (
    "INSERT INTO attempts (order_id, destination, at, operation, outcome, http_status, message, duration_ms)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


class Deliveries(Store):
    """Due rows, the ``sending`` mark, outcomes and platform statuses of delivered rows."""

    def recover_interrupted(self, *, now: float) -> int:
        """Rows left ``sending`` by a crash go out again now (idempotency makes that safe).

        On a ledger of one daemon that is every such row; on a shared one only rows whose lease has
        ended (their daemon died, or its request outlived the lease): the others are still in flight.
        """
        where = "state = 'sending'"
        parameters: list[Any] = [now]
        if self.shared:
            where += " AND (leased_until IS NULL OR leased_until <= ?)"
            parameters.append(now)
        with self.transaction() as connection:
            cursor = connection.execute(
                "UPDATE deliveries SET state = 'retrying', next_attempt_at = ?, leased_by = NULL, leased_until = NULL,"
                f" last_error = 'interrupted while sending (restart); sending again' WHERE {where}",
                parameters,
            )
            return cursor.rowcount

    def due(self, destination: str, *, now: float, limit: int) -> list[Due]:
        """Up to ``limit`` deliveries of one destination whose time has come, oldest first.

        On a shared ledger the rows are leased to this daemon in the same transaction (rows another
        daemon is choosing at that moment are skipped, not waited for), so no other daemon takes them
        until the lease ends.
        """
        sql = (
            "SELECT order_id, operation, attempts, payload, payload_hash, remote_id FROM deliveries"
            " WHERE destination = ? AND state IN ('pending', 'retrying') AND next_attempt_at <= ?"
        )
        if not self.shared:
            rows = self._fetch(sql + " ORDER BY next_attempt_at, order_id LIMIT ?", [destination, now, limit])
        else:
            with self.transaction() as connection:
                rows = connection.execute(
                    sql + " AND (leased_until IS NULL OR leased_until <= ? OR leased_by = ?)"
                    " ORDER BY next_attempt_at, order_id LIMIT ?" + self.skip_locked,
                    [destination, now, now, self.owner, limit],
                ).fetchall()
                connection.executemany(
                    "UPDATE deliveries SET leased_by = ?, leased_until = ? WHERE order_id = ? AND destination = ?",
                    [(self.owner, now + self.lease_seconds, row[0], destination) for row in rows],
                )
        # The payload stays text until a platform reads a field of it (see core/payload.py).
        return [
            Due(order_id, destination, cast(Operation, operation), attempts, StoredPayload(text), digest, remote_id)
            for order_id, operation, attempts, text, digest, remote_id in rows
        ]

    def next_due_at(self, destination: str) -> float | None:
        """When the earliest waiting delivery of a destination becomes due."""
        rows = self._fetch(
            "SELECT MIN(next_attempt_at) FROM deliveries WHERE destination = ? AND state IN ('pending', 'retrying')",
            [destination],
        )
        return rows[0][0] if rows else None

    def mark_sending(self, batch: Sequence[Due], *, now: float) -> list[Due]:
        """Mark a batch ``sending`` in one transaction, before any of its requests leave; returns the rows lost.

        A row is lost when it is no longer this daemon's to send (its lease ended and another daemon
        took it, or it changed state meanwhile): it must not be sent.
        """
        with self.transaction() as connection:
            return _mark_sending(connection, batch, now, self)

    def record(self, outcomes: Sequence[Outcome], *, now: float, sending: Sequence[Due] = ()) -> list[Due]:
        """Apply send outcomes, and mark the rows about to be sent ``sending``, in one transaction.

        A worker commits the outcome of its last request together with the mark of its next one, so
        it never has more than one request whose outcome the ledger does not know. Delivered rows and
        the attempt log are written with one statement each, and each destination's health record
        once, with what its last outcome says. Returns the rows of ``sending`` that were lost (see
        ``mark_sending``): their requests must not leave.
        """
        stamp = iso_stamp(now)
        health = self._health_to_note(outcomes, now)
        with self.transaction() as connection:
            if outcomes:
                _apply_outcomes(connection, outcomes, now, stamp)
            lost = _mark_sending(connection, sending, now, self) if sending else []
            if health:
                # Last: the few destination rows are the ones every daemon of a shared ledger writes.
                _note_health(connection, health, stamp)
        self._health_noted(health, now)
        return lost

    def _health_to_note(self, outcomes: Sequence[Outcome], now: float) -> list[Outcome]:
        """The outcomes the destinations' health records must hear of.

        A success is written at most once per SUCCESS_NOTE_SECONDS per destination while nothing
        failed there since: during a backfill it would otherwise be one more statement in every
        commit, to move a "last success" time on by a few milliseconds. Failures are always written.
        """
        written = self.__dict__.setdefault("_success_written_at", {})
        return [
            outcome
            for outcome in outcomes
            if outcome.kind != "delivered" or now - written.get(outcome.destination, -1e18) >= SUCCESS_NOTE_SECONDS
        ]

    def _health_noted(self, noted: Sequence[Outcome], now: float) -> None:
        """Remember which destinations' successes were just written (after the commit)."""
        written = self.__dict__.setdefault("_success_written_at", {})
        for outcome in noted:
            if outcome.kind == "delivered":
                written[outcome.destination] = now
            elif outcome.kind in FAILED_KINDS:
                written.pop(outcome.destination, None)  # the next success is news again

    def update_remote_statuses(
        self, destination: str, rows: Sequence[tuple[int, str, str | None]], *, now: float
    ) -> int:
        """Store platform statuses (order id, status, when it changed) of delivered rows; returns changes."""
        if not rows:
            return 0
        with self.transaction() as connection:
            cursor = connection.executemany(
                "UPDATE deliveries SET remote_status = ?, remote_status_at = ? WHERE order_id = ? AND destination = ?"
                " AND state = 'delivered' AND (remote_status IS NULL OR remote_status <> ?)",
                [
                    (status, changed_at or iso_stamp(now), order_id, destination, status)
                    for order_id, status, changed_at in rows
                ],
            )
            return cursor.rowcount

    def delivery(self, order_id: int, destination: str) -> dict[str, Any] | None:
        """One delivery row as a dict (payload decoded), or None."""
        rows = self._rows("SELECT * FROM deliveries WHERE order_id = ? AND destination = ?", [order_id, destination])
        if not rows:
            return None
        row = rows[0]
        row["payload"] = json.loads(row["payload"]) if row["payload"] else None
        return row


def _mark_sending(connection: Connection, batch: Sequence[Due], now: float, store: Store) -> list[Due]:
    """Mark rows ``sending`` (leased for one request's time); returns those that were not this daemon's."""
    stamp = iso_stamp(now)
    if not store.shared:
        connection.executemany(
            "UPDATE deliveries SET state = 'sending', updated_at = ? WHERE order_id = ? AND destination = ?",
            [(stamp, due.order_id, due.destination) for due in batch],
        )
        return []
    lost = []
    for due in batch:
        # Only a row still waiting, with the payload we hold, and still leased to us (or to no one):
        # never one another daemon took, nor one the order's edit has queued again since we read it.
        cursor = connection.execute(
            "UPDATE deliveries SET state = 'sending', updated_at = ?, leased_by = ?, leased_until = ?"
            " WHERE order_id = ? AND destination = ? AND state IN ('pending', 'retrying') AND payload_hash = ?"
            " AND (leased_by = ? OR leased_by IS NULL OR leased_until <= ?)",
            [stamp, store.owner, now + store.lease_seconds, due.order_id, due.destination, due.payload_hash,
             store.owner, now],
        )
        if cursor.rowcount != 1:
            lost.append(due)
    return lost


def _apply_outcomes(connection: Connection, outcomes: Sequence[Outcome], now: float, stamp: str) -> None:
    """The rows and the attempt log for a set of outcomes (``_note_health`` writes the destinations').

    Called with one or a few outcomes at a time (each as its request comes back): statements with
    nothing to write are skipped rather than run empty.
    """
    delivered = [outcome for outcome in outcomes if outcome.kind == "delivered"]
    if delivered:
        connection.executemany(
            "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, next_attempt_at = NULL,"
            " last_error = NULL, remote_id = COALESCE(?, remote_id), delivered_hash = ?,"
            " delivered_at = ?, updated_at = ?, leased_by = NULL, leased_until = NULL"
            " WHERE order_id = ? AND destination = ?",
            [
                (outcome.remote_id, outcome.payload_hash, stamp, stamp, outcome.order_id, outcome.destination)
                for outcome in delivered
            ],
        )
    if len(delivered) < len(outcomes):
        for outcome in outcomes:
            if outcome.kind != "delivered":
                _record_one(connection, outcome, now, stamp)
    attempts = [
        _attempt_values(
            outcome.order_id,
            outcome.destination,
            outcome.operation,
            outcome.kind,
            outcome.http_status,
            outcome.message,
            outcome.duration_ms,
            stamp,
        )
        for outcome in outcomes
        if outcome.kind != "skipped"
    ]
    if attempts:
        connection.executemany(_INSERT_ATTEMPT, attempts)
    # In the same transaction: a receipt or rejection note is queued exactly when its outcome is recorded.
    queue_outcomes(connection, outcomes, stamp)


def _note_health(connection: Connection, outcomes: Sequence[Outcome], stamp: str) -> None:
    """Each destination's health record, once, with what its last outcome says.

    Row by row in name order: on a shared ledger the daemons' transactions all lock these rows, and
    taken in one order they wait for each other instead of deadlocking (a set's order differs from
    one process to the next, and a destination's success and another's failure came in two statements).
    """
    succeeded = {outcome.destination for outcome in outcomes if outcome.kind == "delivered"}
    failed = {
        outcome.destination: outcome.message for outcome in outcomes if outcome.kind in FAILED_KINDS
    }
    for name in sorted(succeeded | failed.keys()):
        if name in succeeded:
            connection.execute(
                "INSERT INTO destinations (name, last_success_at) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET last_success_at = excluded.last_success_at",
                [name, stamp],
            )
        if name in failed:
            connection.execute(
                "INSERT INTO destinations (name, last_error, last_error_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET last_error = excluded.last_error,"
                " last_error_at = excluded.last_error_at",
                [name, failed[name], stamp],
            )


def _record_one(connection: Connection, outcome: Outcome, now: float, stamp: str) -> None:
    """The row update for an outcome other than delivered (``record`` logs the attempt)."""
    key = [outcome.order_id, outcome.destination]
    if outcome.kind == "rejected":
        connection.execute(
            "UPDATE deliveries SET state = 'rejected', attempts = attempts + 1, next_attempt_at = NULL,"
            " last_error = ?, updated_at = ?, leased_by = NULL, leased_until = NULL"
            " WHERE order_id = ? AND destination = ?",
            [outcome.message, stamp, *key],
        )
    elif outcome.kind == "retry":
        if outcome.attempts is None or (outcome.retry_delay is None and not outcome.dead):
            raise ValueError(
                f"retry outcome of order {outcome.order_id} for {outcome.destination} carries no retry decision"
                " (stamp it with RetryPolicy.stamp)"
            )
        next_attempt_at = None if outcome.dead else now + cast(float, outcome.retry_delay)
        # ``requeue_as``: the platform has the order now, the next attempt must not create it again.
        connection.execute(
            "UPDATE deliveries SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ?,"
            " operation = COALESCE(?, operation), remote_id = COALESCE(?, remote_id),"
            " updated_at = ?, leased_by = NULL, leased_until = NULL WHERE order_id = ? AND destination = ?",
            ["dead" if outcome.dead else "retrying", outcome.attempts, next_attempt_at, outcome.last_error,
             outcome.requeue_as, outcome.remote_id, stamp, *key],
        )
    elif outcome.kind in ("paused", "skipped"):
        # The destination (not the order) is the problem: no attempt is counted.
        connection.execute(
            "UPDATE deliveries SET state = 'pending', next_attempt_at = ?, last_error = COALESCE(?, last_error),"
            " operation = COALESCE(?, operation), remote_id = COALESCE(?, remote_id),"
            " updated_at = ?, leased_by = NULL, leased_until = NULL WHERE order_id = ? AND destination = ?",
            [now + (outcome.retry_after or 0), outcome.message, outcome.requeue_as, outcome.remote_id, stamp, *key],
        )
    else:
        raise ValueError(f"unknown outcome kind {outcome.kind!r}")


def _attempt_values(
    order_id: int,
    destination: str,
    operation: str,
    outcome: str,
    http_status: int | None,
    message: str | None,
    duration_ms: int | None,
    stamp: str,
) -> tuple[Any, ...]:
    return (
        order_id,
        destination,
        stamp,
        operation,
        outcome,
        http_status,
        (message or "")[:ATTEMPT_MESSAGE_LIMIT] or None,
        duration_ms,
    )


def log_attempt(
    connection: Connection,
    order_id: int,
    destination: str,
    operation: str,
    outcome: str,
    http_status: int | None,
    message: str | None,
    duration_ms: int | None,
    stamp: str,
) -> None:
    """One line of the attempt log (a send, or a mapping that failed before any send)."""
    connection.execute(
        _INSERT_ATTEMPT,
        _attempt_values(order_id, destination, operation, outcome, http_status, message, duration_ms, stamp),
    )
