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
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import sqlite_utils

from sync_daemon.ledger.schema import MIGRATIONS, SCHEMA_VERSION

WAL_SWITCH_WAIT_SECONDS = 30  # as long as the connection waits for any other lock
RETENTION_SCHEMA_VERSION = 4  # the version that brought retention (and incremental vacuum with it)
# An older ledger is rewritten once (VACUUM) to take incremental vacuum when it is upgraded, if it
# is at most this big: about 20 000 orders on three platforms, a second or two of rewriting. A
# bigger one keeps working as it is (freed pages are reused, the file stops growing) until
# `sync-daemon prune --vacuum` is run with the daemon stopped.
VACUUM_AT_UPGRADE_MAX_BYTES = 64 * 1024 * 1024


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
        if self.path.stat().st_size == 0:
            # Only an empty file can take this without a VACUUM, and only before the switch to WAL
            # writes its first page: pages freed by retention can then be given back to the disk.
            self.db.conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        self._use_wal()
        # NORMAL is durable against process crashes in WAL mode; only power loss can undo the last
        # commits, and then the platforms' idempotency catches the re-send.
        self.db.conn.execute("PRAGMA synchronous=NORMAL")
        self.db.conn.execute("PRAGMA foreign_keys=ON")
        if self._migrate():
            self._convert_to_incremental_vacuum()

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

    def _migrate(self) -> bool:
        """Apply the missing migrations; True when this call upgraded an existing ledger to retention."""
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise RuntimeError(
                f"ledger {self.path} has schema version {current}, newer than this sync-daemon "
                f"({SCHEMA_VERSION}); upgrade sync-daemon or restore a matching backup"
            )
        upgraded = False
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
                upgraded = upgraded or (version == RETENTION_SCHEMA_VERSION and current > 0)
        return upgraded

    def auto_vacuum(self) -> str:
        """The file's auto-vacuum mode: ``none``, ``full`` or ``incremental``."""
        return ("none", "full", "incremental")[int(self._fetch("PRAGMA auto_vacuum")[0][0])]

    def _convert_to_incremental_vacuum(self) -> None:
        # Once, by the process that upgraded the file. Too big a file, or one another process keeps
        # busy meanwhile, is left as it is for `prune --vacuum`: nothing depends on it.
        if self.auto_vacuum() != "none" or self.path.stat().st_size > VACUUM_AT_UPGRADE_MAX_BYTES:
            return
        with suppress(sqlite3.OperationalError):
            self.vacuum()

    def vacuum(self) -> None:
        """Rewrite the whole file (switching it to incremental auto-vacuum); holds the write lock throughout."""
        with self._lock:
            self.db.conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
            self.db.conn.execute("VACUUM")
            # VACUUM went through the WAL: a copy of the whole file, which would stay on disk.
            self.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def file_bytes(self) -> int:
        """Bytes the ledger takes on disk: the database file and its write-ahead log."""
        wal = self.path.with_name(self.path.name + "-wal")
        return self.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)

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
