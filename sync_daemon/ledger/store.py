"""The SQLite file itself: opening it safely, transactions, migrations, meta values and the cursor.

The other ledger modules build on ``SqliteStore`` and only add queries; everything about the
connection (WAL, locking between threads and processes, file mode) lives here.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import sqlite_utils

from sync_daemon.ledger.schema import MIGRATIONS, SCHEMA_VERSION

WAL_SWITCH_WAIT_SECONDS = 30  # as long as the connection waits for any other lock


class SqliteStore:
    """One ledger file; one per process, used from one thread at a time."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
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
        self.db.conn.execute("PRAGMA synchronous=NORMAL")
        self.db.conn.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def _use_wal(self) -> None:
        # Switching to WAL needs an exclusive lock, and SQLite answers "database is locked" at once,
        # without waiting, while another process (a daemon starting beside `status`) writes: look
        # first (a ledger is WAL from its first open on), and wait for the writer when a switch is due.
        deadline = time.monotonic() + WAL_SWITCH_WAIT_SECONDS
        while True:
            try:
                if self.db.conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    self.db.conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @classmethod
    def open(cls, directory: Path) -> Self:
        """Open (creating if needed) ``ledger.sqlite3`` in the state directory."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        return cls(directory / "ledger.sqlite3")

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

    def rewind_cursor(self, moment: datetime) -> bool:
        """Move the cursor back to ``moment`` (it only ever moves forward otherwise); True when it moved."""
        current = self.get_cursor()
        if current is None or moment >= current:
            return False
        self.set_meta(cursor=moment.astimezone(UTC).isoformat())
        return True
