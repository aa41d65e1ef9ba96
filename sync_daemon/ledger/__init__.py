"""The SQLite ledger: cursor, one row per (order, destination), the retry state machine.

This is the only module that writes SQL. Every change is a transaction; a row is marked
``sending`` before its request leaves, so after a crash or ``kill -9`` it is sent again and
the platform's idempotency (or our duplicate check) keeps it to one order.

States of a delivery::

    pending ──send──▶ sending ──201/200──▶ delivered ──order changed (update API)──▶ pending
       ▲                 │ 5xx/timeout/429 ──▶ retrying ──(schedule exhausted)──▶ dead
       │                 │ 400/422/unmappable ──▶ rejected
       └──paused/skipped─┘ (auth, quota, throttle: back to pending, no attempt counted)

A rejected or dead row comes back to ``pending`` when the order changes in WooCommerce or a
human runs ``resync``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

SCHEMA_VERSION = 3
WAL_SWITCH_WAIT_SECONDS = 30  # as long as the connection waits for any other lock
ACTIVE_STATES = ("pending", "retrying")
STATES = ("pending", "sending", "delivered", "retrying", "rejected", "dead", "skipped")
_ATTEMPT_MESSAGE_LIMIT = 2000

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS orders (
    order_id INTEGER PRIMARY KEY,
    number TEXT,
    modified TEXT NOT NULL,
    status TEXT,
    first_seen_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    order_id INTEGER NOT NULL,
    destination TEXT NOT NULL,
    state TEXT NOT NULL,
    operation TEXT NOT NULL DEFAULT 'create',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,
    last_error TEXT,
    remote_id TEXT,
    payload TEXT,
    payload_hash TEXT,
    delivered_hash TEXT,
    note TEXT,
    order_modified TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    queued_at REAL,
    delivered_at TEXT,
    remote_status TEXT,
    remote_status_at TEXT,
    PRIMARY KEY (order_id, destination)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (destination, state, next_attempt_at);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL,
    destination TEXT NOT NULL,
    at TEXT NOT NULL,
    operation TEXT,
    outcome TEXT NOT NULL,
    http_status INTEGER,
    message TEXT,
    duration_ms INTEGER
);
CREATE INDEX IF NOT EXISTS attempts_order ON attempts (order_id, destination);
CREATE TABLE IF NOT EXISTS destinations (
    name TEXT PRIMARY KEY,
    paused_until REAL,
    pause_kind TEXT,
    pause_reason TEXT,
    last_error TEXT,
    last_error_at TEXT,
    last_success_at TEXT,
    fingerprint TEXT
);
"""

# Version 2: shipment tracking read from Tracktor, and what was written back into WooCommerce.
_SCHEMA_V2 = """
CREATE TABLE IF NOT EXISTS tracking (
    order_id INTEGER PRIMARY KEY,
    tracktor_id TEXT NOT NULL,
    first_seen_at REAL NOT NULL,
    checked_at REAL,
    shipment_status TEXT,
    exception_status TEXT,
    carrier TEXT,
    tracking_number TEXT,
    changed_at TEXT,
    done INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tracking_due ON tracking (done, checked_at);
CREATE TABLE IF NOT EXISTS writebacks (
    order_id INTEGER NOT NULL,
    source TEXT NOT NULL,
    remote_status TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT,
    status_before TEXT,
    status_after TEXT,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (order_id, source, remote_status)
);
ALTER TABLE orders ADD COLUMN written_status TEXT;
ALTER TABLE orders ADD COLUMN written_at TEXT
"""

# The status an order had when the daemon first recorded it: write-back's reference for telling a
# human's change until the daemon has written a status itself.
_SCHEMA_V3 = """
ALTER TABLE orders ADD COLUMN first_status TEXT;
UPDATE orders SET first_status = status
"""

# Each entry upgrades the schema from version N-1 to N; append, never edit.
MIGRATIONS: dict[int, str] = {1: _SCHEMA_V1, 2: _SCHEMA_V2, 3: _SCHEMA_V3}


def canonical_json(payload: Any) -> str:
    """The payload as stored and hashed: sorted keys, no spaces (the same bytes for the same payload)."""
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def payload_hash(payload: Any, encoded: str | None = None) -> str:
    """A stable hash of a payload (or a rejection reason): tells a real change from a re-read."""
    encoded = canonical_json(payload) if encoded is None else encoded
    return hashlib.sha256(encoded.encode()).hexdigest()[:32]


_LIFTED_BY_NEW_SETTINGS = ("auth", "quota", "config")  # pauses that new settings may cure


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Mapped:
    """One destination's view of one order: a payload, or the reason it cannot be sent."""

    destination: str
    payload: dict[str, Any] | None
    rejection: str | None = None
    note: str | None = None
    supports_update: bool = True
    skipped: bool = False  # with ``rejection`` as the reason: the order does not concern this platform


@dataclass(frozen=True)
class IngestItem:
    """An order read from WooCommerce, already mapped for every enabled destination."""

    order_id: int
    number: str
    modified: str
    status: str
    mapped: Sequence[Mapped]
    tracking_id: str | None = None  # the order's Tracktor id, when it is tracked


@dataclass(frozen=True)
class Due:
    """A delivery ready to be sent."""

    order_id: int
    destination: str
    operation: str
    attempts: int
    payload: dict[str, Any]
    payload_hash: str
    remote_id: str | None


@dataclass(frozen=True)
class Outcome:
    """What one send produced; ``kind`` is delivered, retry, rejected, paused or skipped."""

    order_id: int
    destination: str
    kind: str
    operation: str
    payload_hash: str | None = None
    remote_id: str | None = None
    message: str | None = None
    http_status: int | None = None
    retry_after: float | None = None
    duration_ms: int | None = None
    max_attempts: int | None = None


class Ledger:
    """The daemon's memory; one per process, used from one thread at a time."""

    def __init__(self, path: Path, *, retry_schedule: Sequence[float] = (5, 300), jitter: float = 0.2):
        self.path = Path(path)
        self.retry_schedule = list(retry_schedule)
        self.jitter = jitter
        self._lock = threading.RLock()
        self._closed = False
        if not self.path.exists():
            # Payloads hold customers' names, phones and addresses: owner-only from the first byte
            # (SQLite gives the -wal and -shm files the same mode).
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        connection = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        self.db = sqlite_utils.Database(connection)
        self._use_wal()
        # NORMAL is durable against process crashes in WAL mode; only power loss can undo the last
        # commits, and then the platforms' idempotency catches the re-send.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def _use_wal(self) -> None:
        # Switching to WAL needs an exclusive lock, and SQLite answers "database is locked" at once,
        # without waiting, while another process (a daemon starting beside `status`) writes: look
        # first (a ledger is WAL from its first open on), and wait for the writer when a switch is due.
        deadline = time.monotonic() + WAL_SWITCH_WAIT_SECONDS
        while True:
            try:
                if self.db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    self.db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @classmethod
    def open(cls, directory: Path, **kwargs: Any) -> Ledger:
        """Open (creating if needed) ``ledger.sqlite3`` in the state directory."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        return cls(directory / "ledger.sqlite3", **kwargs)

    def close(self) -> None:
        """Checkpoint and close the database (a second call does nothing)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self.db.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:
                pass  # a checkpoint is an optimisation; the WAL is replayed at the next open anyway
            finally:
                self.db.conn.close()

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows as tuples; the connection is shared between threads, so reads hold the lock too."""
        with self._lock:
            return self.db.conn.execute(sql, params).fetchall()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts, under the lock."""
        with self._lock:
            return list(self.db.query(sql, params))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write; everything inside commits together or not at all."""
        with self._lock:
            connection = self.db.conn
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    # -- schema ---------------------------------------------------------------------------

    def schema_version(self) -> int:
        """The schema version stored in the file (0 for a new file)."""
        return int(self._fetch("PRAGMA user_version")[0][0])

    def _migrate(self) -> None:
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise RuntimeError(
                f"ledger {self.path} has schema version {current}, newer than this sync-daemon "
                f"({SCHEMA_VERSION}); upgrade sync-daemon or restore a matching backup"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            with self.transaction() as connection:
                # Another process (the daemon and a `status` started together) may have migrated
                # since we looked: re-read under the write lock and skip what is done.
                if int(connection.execute("PRAGMA user_version").fetchone()[0]) >= version:
                    continue
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {version}")

    # -- meta and cursor ------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """A stored value from the meta table."""
        rows = self._fetch("SELECT value FROM meta WHERE key = ?", [key])
        return rows[0][0] if rows else None

    def set_meta(self, **values: str | None) -> None:
        """Store meta values in one transaction."""
        with self.transaction() as connection:
            for key, value in values.items():
                connection.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value])

    def get_cursor(self) -> datetime | None:
        """The high-water mark: every order modified before it (minus the overlap) is recorded."""
        value = self.get_meta("cursor")
        return datetime.fromisoformat(value) if value else None

    def set_cursor(self, moment: datetime) -> None:
        """Advance the cursor; it never moves backwards."""
        current = self.get_cursor()
        if current is None or moment > current:
            self.set_meta(cursor=moment.astimezone(UTC).isoformat())

    # -- ingest ---------------------------------------------------------------------------

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
        rows = self._fetch(
            "SELECT o.order_id, o.modified, group_concat(d.destination, char(31)) FROM orders o"
            f" LEFT JOIN deliveries d ON d.order_id = o.order_id WHERE o.order_id IN ({marks}) GROUP BY o.order_id",
            ids,
        )
        return {
            order_id: (modified, frozenset(names.split("\x1f")) if names else frozenset())
            for order_id, modified, names in rows
        }

    def rewind_cursor(self, moment: datetime) -> bool:
        """Move the cursor back to ``moment`` (it only ever moves forward otherwise); True when it moved."""
        current = self.get_cursor()
        if current is None or moment >= current:
            return False
        self.set_meta(cursor=moment.astimezone(UTC).isoformat())
        return True

    def ingest(self, items: Sequence[IngestItem], *, now: float) -> dict[str, int]:
        """Record a page of orders and their mapped payloads; returns counts of what changed."""
        counts = {"new": 0, "changed": 0, "rejected": 0, "unchanged": 0, "skipped": 0}
        stamp = _iso(now)
        with self.transaction() as connection:
            # The page's existing rows in one query, not one query per (order, destination).
            rows = self._delivery_rows(connection, [item.order_id for item in items])
            seen: set[tuple[int, str]] = set()
            for item in items:
                self._upsert_order(connection, item, stamp)
                for mapped in item.mapped:
                    key = (item.order_id, mapped.destination)
                    # An order listed twice in one call: the second sees what the first wrote.
                    row = self._delivery_rows(connection, [item.order_id]).get(key) if key in seen else rows.get(key)
                    seen.add(key)
                    counts[self._ingest_one(connection, item, mapped, now, stamp, row)] += 1
                if item.tracking_id:
                    connection.execute(
                        "INSERT INTO tracking (order_id, tracktor_id, first_seen_at) VALUES (?, ?, ?)"
                        " ON CONFLICT (order_id) DO UPDATE SET tracktor_id = excluded.tracktor_id",
                        [item.order_id, item.tracking_id, now],
                    )
        return counts

    @staticmethod
    def _upsert_order(connection: sqlite3.Connection, item: IngestItem, stamp: str) -> None:
        connection.execute(
            "INSERT INTO orders (order_id, number, modified, status, first_status, first_seen_at, last_seen_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (order_id) DO UPDATE SET"
            " number = excluded.number, modified = excluded.modified, status = excluded.status,"
            " last_seen_at = excluded.last_seen_at",
            [item.order_id, item.number, item.modified, item.status, item.status, stamp, stamp],
        )

    @staticmethod
    def _delivery_rows(
        connection: sqlite3.Connection, order_ids: Sequence[int]
    ) -> dict[tuple[int, str], tuple[str, str | None, str | None]]:
        """(order id, destination) → (state, payload_hash, delivered_hash) of existing deliveries."""
        found = {}
        ids = list(dict.fromkeys(order_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for order_id, destination, *row in connection.execute(
                "SELECT order_id, destination, state, payload_hash, delivered_hash FROM deliveries"
                f" WHERE order_id IN ({marks})",
                chunk,
            ):
                found[(order_id, destination)] = tuple(row)
        return found

    def _ingest_one(
        self,
        connection: sqlite3.Connection,
        item: IngestItem,
        mapped: Mapped,
        now: float,
        stamp: str,
        row: tuple[str, str | None, str | None] | None,
    ):
        # One encoding serves as the stored payload and as the input of its hash.
        payload_text = canonical_json(mapped.payload) if mapped.payload is not None else None
        new_hash = payload_hash({"rejected": mapped.rejection}) if payload_text is None else payload_hash(
            mapped.payload, payload_text
        )
        key = [item.order_id, mapped.destination]
        if row is None:
            state = "pending" if mapped.payload is not None else ("skipped" if mapped.skipped else "rejected")
            connection.execute(
                "INSERT INTO deliveries (order_id, destination, state, operation, attempts, next_attempt_at,"
                " last_error, payload, payload_hash, note, order_modified, created_at, updated_at, queued_at)"
                " VALUES (?, ?, ?, 'create', 0, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    *key,
                    state,
                    now if state == "pending" else None,
                    mapped.rejection,
                    payload_text,
                    new_hash,
                    mapped.note,
                    item.modified,
                    stamp,
                    stamp,
                    now,
                ],
            )
            if state == "rejected":
                self._log_attempt(connection, *key, "map", "rejected", None, mapped.rejection, None, stamp)
                return "rejected"
            return "skipped" if state == "skipped" else "new"
        state, old_hash, delivered_hash = row
        if new_hash in (old_hash, delivered_hash) and state != "sending":
            connection.execute(
                "UPDATE deliveries SET order_modified = ? WHERE order_id = ? AND destination = ?",
                [item.modified, *key],
            )
            return "unchanged"
        if mapped.payload is None:
            if state == "delivered":
                # Already with the platform; an edit that makes it unmappable is noted, not sent.
                note = f"changed after delivery but cannot be sent: {mapped.rejection}"
                connection.execute(
                    "UPDATE deliveries SET note = ?, payload_hash = ?, order_modified = ?, updated_at = ?"
                    " WHERE order_id = ? AND destination = ?",
                    [note, new_hash, item.modified, stamp, *key],
                )
                return "rejected"
            new_state = "skipped" if mapped.skipped else "rejected"
            connection.execute(
                "UPDATE deliveries SET state = ?, last_error = ?, payload = NULL, payload_hash = ?,"
                " next_attempt_at = NULL, note = ?, order_modified = ?, updated_at = ?"
                " WHERE order_id = ? AND destination = ?",
                [new_state, mapped.rejection, new_hash, mapped.note, item.modified, stamp, *key],
            )
            if mapped.skipped:
                return "skipped"
            self._log_attempt(connection, *key, "map", "rejected", None, mapped.rejection, None, stamp)
            return "rejected"
        if delivered_hash is not None and not mapped.supports_update:
            note = "changed in WooCommerce after delivery; this platform has no update API, so it was not re-sent"
            connection.execute(
                "UPDATE deliveries SET note = ?, payload_hash = ?, order_modified = ?, updated_at = ?"
                " WHERE order_id = ? AND destination = ?",
                [note, new_hash, item.modified, stamp, *key],
            )
            return "unchanged"
        operation = "update" if delivered_hash is not None else "create"
        connection.execute(
            "UPDATE deliveries SET state = 'pending', operation = ?, attempts = 0, next_attempt_at = ?,"
            " last_error = NULL, payload = ?, payload_hash = ?, note = ?, order_modified = ?, updated_at = ?,"
            " queued_at = ? WHERE order_id = ? AND destination = ?",
            [operation, now, payload_text, new_hash, mapped.note, item.modified, stamp, now, *key],
        )
        return "changed"

    # -- delivery -------------------------------------------------------------------------

    def recover_interrupted(self, *, now: float) -> int:
        """Rows left ``sending`` by a crash go out again now (idempotency makes that safe)."""
        with self.transaction() as connection:
            cursor = connection.execute(
                "UPDATE deliveries SET state = 'retrying', next_attempt_at = ?,"
                " last_error = 'interrupted while sending (restart); sending again' WHERE state = 'sending'",
                [now],
            )
            return cursor.rowcount

    def due(self, destination: str, *, now: float, limit: int) -> list[Due]:
        """Up to ``limit`` deliveries of one destination whose time has come, oldest first."""
        rows = self._fetch(
            "SELECT order_id, operation, attempts, payload, payload_hash, remote_id FROM deliveries"
            " WHERE destination = ? AND state IN ('pending', 'retrying') AND next_attempt_at <= ?"
            " ORDER BY next_attempt_at, order_id LIMIT ?",
            [destination, now, limit],
        )
        return [
            Due(order_id, destination, operation, attempts, json.loads(payload), digest, remote_id)
            for order_id, operation, attempts, payload, digest, remote_id in rows
        ]

    def next_due_at(self, destination: str) -> float | None:
        """When the earliest waiting delivery of a destination becomes due."""
        rows = self._fetch(
            "SELECT MIN(next_attempt_at) FROM deliveries WHERE destination = ? AND state IN ('pending', 'retrying')",
            [destination],
        )
        return rows[0][0] if rows else None

    def mark_sending(self, batch: Sequence[Due], *, now: float) -> None:
        """Mark a batch ``sending`` in one transaction, before any of its requests leave."""
        stamp = _iso(now)
        with self.transaction() as connection:
            connection.executemany(
                "UPDATE deliveries SET state = 'sending', updated_at = ? WHERE order_id = ? AND destination = ?",
                [(stamp, due.order_id, due.destination) for due in batch],
            )

    def record(self, outcomes: Sequence[Outcome], *, now: float) -> None:
        """Apply a batch of send outcomes in one transaction.

        Delivered rows and the attempt log are written with one statement each for the whole batch,
        and each destination's health record once, with what its last outcome in the batch says.
        """
        stamp = _iso(now)
        with self.transaction() as connection:
            connection.executemany(
                "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, next_attempt_at = NULL,"
                " last_error = NULL, remote_id = COALESCE(?, remote_id), delivered_hash = ?,"
                " delivered_at = ?, updated_at = ? WHERE order_id = ? AND destination = ?",
                [
                    (outcome.remote_id, outcome.payload_hash, stamp, stamp, outcome.order_id, outcome.destination)
                    for outcome in outcomes
                    if outcome.kind == "delivered"
                ],
            )
            for outcome in outcomes:
                if outcome.kind != "delivered":
                    self._record_one(connection, outcome, now, stamp)
            connection.executemany(
                "INSERT INTO attempts (order_id, destination, at, operation, outcome, http_status, message,"
                " duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        outcome.order_id,
                        outcome.destination,
                        stamp,
                        outcome.operation,
                        outcome.kind,
                        outcome.http_status,
                        (outcome.message or "")[:_ATTEMPT_MESSAGE_LIMIT] or None,
                        outcome.duration_ms,
                    )
                    for outcome in outcomes
                    if outcome.kind != "skipped"
                ],
            )
            succeeded = {outcome.destination for outcome in outcomes if outcome.kind == "delivered"}
            failed = {
                outcome.destination: outcome.message
                for outcome in outcomes
                if outcome.kind in ("retry", "rejected", "paused")
            }
            connection.executemany(
                "INSERT INTO destinations (name, last_success_at) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET last_success_at = excluded.last_success_at",
                [(name, stamp) for name in succeeded],
            )
            connection.executemany(
                "INSERT INTO destinations (name, last_error, last_error_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET last_error = excluded.last_error,"
                " last_error_at = excluded.last_error_at",
                [(name, message, stamp) for name, message in failed.items()],
            )

    def _record_one(self, connection: sqlite3.Connection, outcome: Outcome, now: float, stamp: str) -> None:
        """The row update for an outcome other than delivered (``record`` logs the attempt)."""
        key = [outcome.order_id, outcome.destination]
        if outcome.kind == "rejected":
            connection.execute(
                "UPDATE deliveries SET state = 'rejected', attempts = attempts + 1, next_attempt_at = NULL,"
                " last_error = ?, updated_at = ? WHERE order_id = ? AND destination = ?",
                [outcome.message, stamp, *key],
            )
        elif outcome.kind == "retry":
            attempts = (
                connection.execute(
                    "SELECT attempts FROM deliveries WHERE order_id = ? AND destination = ?", key
                ).fetchone()[0]
                + 1
            )
            delay = self.retry_delay(attempts, outcome.retry_after)
            if outcome.max_attempts is not None and attempts >= outcome.max_attempts:
                delay = None
            state = "dead" if delay is None else "retrying"
            message = outcome.message or ""
            if state == "dead":
                message = f"gave up after {attempts} attempts; last error: {message}"
            connection.execute(
                "UPDATE deliveries SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ?,"
                " updated_at = ? WHERE order_id = ? AND destination = ?",
                [state, attempts, None if delay is None else now + delay, message, stamp, *key],
            )
        elif outcome.kind in ("paused", "skipped"):
            # The destination (not the order) is the problem: no attempt is counted.
            connection.execute(
                "UPDATE deliveries SET state = 'pending', next_attempt_at = ?, last_error = COALESCE(?, last_error),"
                " updated_at = ? WHERE order_id = ? AND destination = ?",
                [now + (outcome.retry_after or 0), outcome.message, stamp, *key],
            )
        else:
            raise ValueError(f"unknown outcome kind {outcome.kind!r}")

    def retry_delay(self, attempts: int, retry_after: float | None = None) -> float | None:
        """Seconds until attempt ``attempts + 1``, with jitter; None once the schedule is spent."""
        if attempts > len(self.retry_schedule):
            return None
        base = self.retry_schedule[attempts - 1]
        delay = base * (1 + random.uniform(-self.jitter, self.jitter))
        return max(delay, retry_after or 0)

    def _log_attempt(self, connection, order_id, destination, operation, outcome, status, message, duration, stamp):
        connection.execute(
            "INSERT INTO attempts (order_id, destination, at, operation, outcome, http_status, message,"
            " duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                order_id,
                destination,
                stamp,
                operation,
                outcome,
                status,
                (message or "")[:_ATTEMPT_MESSAGE_LIMIT] or None,
                duration,
            ],
        )

    # -- resync ---------------------------------------------------------------------------

    def prepare_resync(self, item: IngestItem, *, now: float) -> list[Due]:
        """Store a freshly mapped order for a manual resync, whatever its state; returns what to send.

        Rows that cannot be mapped are recorded as rejected; the others are marked ``sending``
        with the new payload, exactly like a scheduled send.
        """
        stamp = _iso(now)
        to_send = []
        with self.transaction() as connection:
            self._upsert_order(connection, item, stamp)
            for mapped in item.mapped:
                key = [item.order_id, mapped.destination]
                row = connection.execute(
                    "SELECT delivered_hash, remote_id FROM deliveries WHERE order_id = ? AND destination = ?",
                    key,
                ).fetchone()
                delivered_before = row is not None and row[0] is not None
                if mapped.payload is None:
                    state, operation, payload_text = ("skipped" if mapped.skipped else "rejected"), "create", None
                    new_hash = payload_hash({"rejected": mapped.rejection})
                else:
                    state, payload_text = "sending", json.dumps(mapped.payload, ensure_ascii=False)
                    operation = "update" if delivered_before and mapped.supports_update else "create"
                    new_hash = payload_hash(mapped.payload)
                connection.execute(
                    "INSERT INTO deliveries (order_id, destination, state, operation, attempts, last_error,"
                    " payload, payload_hash, note, order_modified, created_at, updated_at, queued_at)"
                    " VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (order_id, destination) DO UPDATE"
                    " SET state = excluded.state, operation = excluded.operation, attempts = 0,"
                    " next_attempt_at = NULL, last_error = excluded.last_error, payload = excluded.payload,"
                    " payload_hash = excluded.payload_hash, note = excluded.note,"
                    " order_modified = excluded.order_modified, updated_at = excluded.updated_at",
                    [
                        *key,
                        state,
                        operation,
                        mapped.rejection,
                        payload_text,
                        new_hash,
                        mapped.note,
                        item.modified,
                        stamp,
                        stamp,
                        now,
                    ],
                )
                if mapped.payload is None:
                    self._log_attempt(connection, *key, "resync", state, None, mapped.rejection, None, stamp)
                else:
                    to_send.append(
                        Due(
                            item.order_id,
                            mapped.destination,
                            operation,
                            0,
                            mapped.payload,
                            new_hash,
                            row[1] if row else None,
                        )
                    )
        return to_send

    def update_remote_statuses(
        self, destination: str, rows: Sequence[tuple[int, str, str | None]], *, now: float
    ) -> int:
        """Store platform statuses (order id, status, when it changed) of delivered rows; returns changes."""
        if not rows:
            return 0
        with self.transaction() as connection:
            before = connection.total_changes
            connection.executemany(
                "UPDATE deliveries SET remote_status = ?, remote_status_at = ? WHERE order_id = ? AND destination = ?"
                " AND state = 'delivered' AND remote_status IS NOT ?",
                [
                    (status, changed_at or _iso(now), order_id, destination, status)
                    for order_id, status, changed_at in rows
                ],
            )
            return connection.total_changes - before

    def delivery(self, order_id: int, destination: str) -> dict[str, Any] | None:
        """One delivery row as a dict (payload decoded), or None."""
        rows = list(
            self._rows("SELECT * FROM deliveries WHERE order_id = ? AND destination = ?", [order_id, destination])
        )
        if not rows:
            return None
        row = rows[0]
        row["payload"] = json.loads(row["payload"]) if row["payload"] else None
        return row

    # -- destinations ---------------------------------------------------------------------

    def pause_destination(self, name: str, *, kind: str, reason: str, until: float, now: float) -> None:
        """Stop sending to a destination until ``until`` (epoch seconds)."""
        with self.transaction() as connection:
            connection.execute(
                "INSERT INTO destinations (name, paused_until, pause_kind, pause_reason, last_error, last_error_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET paused_until = excluded.paused_until,"
                " pause_kind = excluded.pause_kind, pause_reason = excluded.pause_reason,"
                " last_error = excluded.last_error, last_error_at = excluded.last_error_at",
                [name, until, kind, reason, reason, _iso(now)],
            )

    def resume_destination(self, name: str) -> None:
        """Lift a pause (after a successful send, a resync or new credentials)."""
        with self.transaction() as connection:
            connection.execute(
                "UPDATE destinations SET paused_until = NULL, pause_kind = NULL, pause_reason = NULL WHERE name = ?",
                [name],
            )

    def destination(self, name: str) -> dict[str, Any]:
        """A destination's pause and health record (empty fields when never seen)."""
        rows = list(self._rows("SELECT * FROM destinations WHERE name = ?", [name]))
        return rows[0] if rows else {"name": name, "paused_until": None, "pause_kind": None, "fingerprint": None}

    def note_fingerprint(self, name: str, fingerprint: str, *, now: float) -> bool:
        """Store a destination's config fingerprint; True when it changed (pause then lifted).

        Lifting the pause also makes the rows it parked due now: they were set back to
        ``pending`` with the pause's end as their next attempt, and would otherwise wait it out.
        """
        record = self.destination(name)
        previous = record.get("fingerprint")
        if previous == fingerprint:
            return False
        lifted = record.get("pause_kind") in _LIFTED_BY_NEW_SETTINGS
        with self.transaction() as connection:
            connection.execute(
                "INSERT INTO destinations (name, fingerprint) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET"
                " fingerprint = excluded.fingerprint",
                [name, fingerprint],
            )
            if lifted:
                connection.execute(
                    "UPDATE destinations SET paused_until = NULL, pause_kind = NULL WHERE name = ?", [name]
                )
                connection.execute(
                    "UPDATE deliveries SET next_attempt_at = ? WHERE destination = ? AND state = 'pending'"
                    " AND next_attempt_at > ?",
                    [now, name, now],
                )
        return previous is not None

    # -- tracking and write-back ----------------------------------------------------------

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
                " tracking_number = ?, done = ?, changed_at = CASE WHEN ? THEN ? ELSE changed_at END"
                " WHERE order_id = ?",
                [now, shipment_status, exception_status, carrier, tracking_number, int(done), int(changed),
                 _iso(now), order_id],
            )
            return changed

    def writeback_candidates(self, orderrepo_destination: str = "orderrepo") -> list[dict[str, Any]]:
        """Remote statuses not yet written back: one dict per (order, source, remote status)."""
        return self._rows(
            "SELECT d.order_id, 'orderrepo' AS source, d.remote_status AS remote_status, NULL AS carrier,"
            " NULL AS tracking_number, 0 AS is_exception FROM deliveries d"
            " WHERE d.destination = ? AND d.state = 'delivered' AND d.remote_status IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM writebacks w WHERE w.order_id = d.order_id AND w.source = 'orderrepo'"
            " AND w.remote_status = d.remote_status)"
            " UNION ALL SELECT t.order_id, 'tracktor', t.shipment_status, t.carrier, t.tracking_number, 0"
            " FROM tracking t WHERE t.shipment_status IS NOT NULL AND NOT EXISTS (SELECT 1 FROM writebacks w"
            " WHERE w.order_id = t.order_id AND w.source = 'tracktor' AND w.remote_status = t.shipment_status)"
            " UNION ALL SELECT t.order_id, 'tracktor', 'exception:' || t.exception_status, t.carrier,"
            " t.tracking_number, 1 FROM tracking t WHERE t.exception_status IS NOT NULL AND NOT EXISTS"
            " (SELECT 1 FROM writebacks w WHERE w.order_id = t.order_id AND w.source = 'tracktor'"
            " AND w.remote_status = 'exception:' || t.exception_status)"
            " ORDER BY 1, 2",
            [orderrepo_destination],
        )

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
        """Remember what was applied to one order (so it is never applied twice)."""
        stamp = _iso(now)
        with self.transaction() as connection:
            connection.executemany(
                "INSERT OR REPLACE INTO writebacks (order_id, source, remote_status, action, detail, status_before,"
                " status_after, applied_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(order_id, e["source"], e["remote_status"], e["action"], e.get("detail"), e.get("status_before"),
                  e.get("status_after"), stamp) for e in entries],
            )
            if written_status is not None:
                connection.execute(
                    "UPDATE orders SET written_status = ?, written_at = ? WHERE order_id = ?",
                    [written_status, stamp, order_id],
                )

    def absorb(self, item: IngestItem, *, now: float) -> None:
        """Record the daemon's own write as seen: its new ``date_modified`` must not look like an edit."""
        with self.transaction() as connection:
            connection.execute(
                "UPDATE orders SET modified = ?, status = ?, last_seen_at = ? WHERE order_id = ?",
                [item.modified, item.status, _iso(now), item.order_id],
            )
            for mapped in item.mapped:
                if mapped.payload is None:
                    continue
                new_hash = payload_hash(mapped.payload)
                # Only rows with nothing pending: their delivered content now stands for the new stamp.
                connection.execute(
                    "UPDATE deliveries SET payload_hash = ?, delivered_hash = ?, payload = ?, order_modified = ?"
                    " WHERE order_id = ? AND destination = ? AND state = 'delivered'"
                    " AND payload_hash = delivered_hash",
                    [new_hash, new_hash, json.dumps(mapped.payload, ensure_ascii=False), item.modified,
                     item.order_id, mapped.destination],
                )

    def writeback_history(self, order_id: int) -> list[dict[str, Any]]:
        """What was written back into WooCommerce for one order."""
        return self._rows("SELECT * FROM writebacks WHERE order_id = ? ORDER BY applied_at", [order_id])

    # -- reports --------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """Counts per destination and state, cursor, last poll, last error per destination."""
        counts: dict[str, dict[str, int]] = {}
        for destination, state, count in self._fetch(
            "SELECT destination, state, COUNT(*) FROM deliveries GROUP BY destination, state"
        ):
            counts.setdefault(destination, dict.fromkeys(STATES, 0))[state] = count
        destinations = {row["name"]: row for row in self._rows("SELECT * FROM destinations")}
        for row in destinations.values():
            row.pop("fingerprint", None)
        return {
            "schema_version": self.schema_version(),
            "cursor": self.get_meta("cursor"),
            "last_poll_at": self.get_meta("last_poll_at"),
            "last_poll_result": self.get_meta("last_poll_result"),
            "last_poll_error": self.get_meta("last_poll_error"),
            "orders_seen": self._fetch("SELECT COUNT(*) FROM orders")[0][0],
            "tracking": dict(
                zip(
                    ("tracked", "delivered", "exceptions"),
                    self._fetch(
                        "SELECT COUNT(*), COALESCE(SUM(done), 0), COUNT(exception_status) FROM tracking"
                    )[0],
                    strict=True,
                )
            ),
            "writebacks": self._fetch("SELECT COUNT(*) FROM writebacks")[0][0],
            "counts": counts,
            "destinations": destinations,
        }

    def order_history(self, order_id: int) -> dict[str, Any] | None:
        """Everything known about one order: its deliveries and every attempt."""
        orders = list(self._rows("SELECT * FROM orders WHERE order_id = ?", [order_id]))
        if not orders:
            return None
        deliveries = list(self._rows("SELECT * FROM deliveries WHERE order_id = ? ORDER BY destination", [order_id]))
        for row in deliveries:
            row.pop("payload", None)
        attempts = list(
            self._rows(
                "SELECT destination, at, operation, outcome, http_status, message, duration_ms FROM attempts"
                " WHERE order_id = ? ORDER BY id",
                [order_id],
            )
        )
        tracking = self._rows("SELECT * FROM tracking WHERE order_id = ?", [order_id])
        return {
            "order": orders[0],
            "deliveries": deliveries,
            "attempts": attempts,
            "tracking": tracking[0] if tracking else None,
            "writebacks": self.writeback_history(order_id),
        }

    def delivery_latencies(self, destination: str) -> list[float]:
        """Seconds from an order being queued to being delivered (for benchmarks)."""
        rows = self._fetch(
            "SELECT (julianday(delivered_at) - julianday(queued_at, 'unixepoch')) * 86400.0 FROM deliveries"
            " WHERE destination = ? AND state = 'delivered' AND queued_at IS NOT NULL",
            [destination],
        )
        return [row[0] for row in rows]
