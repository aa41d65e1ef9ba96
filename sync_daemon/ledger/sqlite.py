"""The SQLite backend: one file in the state directory, for one daemon (the embedded default).

Everything about the connection (WAL, locking between threads and processes, file mode, incremental
vacuum) lives here; the queries come from the mixins on ``Store``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Self

from sync_daemon.ledger.schema import MIGRATIONS, SCHEMA_VERSION
from sync_daemon.ledger.store import Store

WAL_SWITCH_WAIT_SECONDS = 30  # as long as the connection waits for any other lock
RETENTION_SCHEMA_VERSION = 4  # the version that brought retention (and incremental vacuum with it)
# An older ledger is rewritten once (VACUUM) to take incremental vacuum when it is upgraded, if it
# is at most this big: about 20 000 orders on three platforms, a second or two of rewriting. A
# bigger one keeps working as it is (freed pages are reused, the file stops growing) until
# `sync-daemon prune --vacuum` is run with the daemon stopped.
VACUUM_AT_UPGRADE_MAX_BYTES = 64 * 1024 * 1024


class SqliteStore(Store):
    """One ledger file; one per process, its connection shared by the threads under a lock."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._closed = False
        if not self.path.exists():
            # Payloads hold customers' names, phones and addresses: owner-only from the first byte
            # (SQLite gives the -wal and -shm files the same mode).
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        # Plain sqlite3 (no wrapper library): the connection runs exactly the ledger's own statements.
        self.db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        if self.path.stat().st_size == 0:
            # Only an empty file can take this without a VACUUM, and only before the switch to WAL
            # writes its first page: pages freed by retention can then be given back to the disk.
            self.db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        self._use_wal()
        # NORMAL is durable against process crashes in WAL mode; only power loss can undo the last
        # commits, and then the platforms' idempotency catches the re-send.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        if self._migrate():
            self._convert_to_incremental_vacuum()

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
                self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:
                pass  # a checkpoint is an optimisation; the WAL is replayed at the next open anyway
            finally:
                self.db.close()

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows as tuples; the connection is shared between threads, so reads hold the lock too."""
        with self._lock:
            return self.db.execute(sql, params).fetchall()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts, under the lock."""
        with self._lock:
            cursor = self.db.execute(sql, params)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor]

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write; everything inside commits together or not at all."""
        with self._lock:
            connection = self.db
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def refuses_data(self, error: Exception) -> bool:
        """Values SQLite will not take (a text or blob over its limit, a constraint), besides the common ones."""
        return super().refuses_data(error) or isinstance(error, sqlite3.DataError | sqlite3.IntegrityError)

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
                for statement in MIGRATIONS[version]:  # one statement each: execute refuses two
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
            self.db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            self.db.execute("VACUUM")
            # VACUUM went through the WAL: a copy of the whole file, which would stay on disk.
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def file_bytes(self) -> int:
        """Bytes the ledger takes on disk: the database file and its write-ahead log."""
        wal = self.path.with_name(self.path.name + "-wal")
        return self.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)

    @property
    def location(self) -> str:
        """The ledger file's path."""
        return str(self.path)

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """The shared connection, held by this thread for a few reads."""
        with self._lock:
            yield self.db

    def reclaim_space(self, *, max_pages: int) -> int:
        """Give up to ``max_pages`` free pages back to the disk (incremental vacuum); returns how many."""
        with self._lock:
            before = int(self.db.execute("PRAGMA freelist_count").fetchone()[0])
            if before == 0 or self.auto_vacuum() != "incremental":
                return 0  # without incremental auto-vacuum the free pages are reused by new rows instead
            self.db.execute(f"PRAGMA incremental_vacuum({int(max_pages)})").fetchall()
            return before - int(self.db.execute("PRAGMA freelist_count").fetchone()[0])

    def free_bytes(self) -> int:
        """Bytes of the file that hold no data (free pages, reused before the file grows)."""
        pages = self._fetch("PRAGMA freelist_count")[0][0]
        return int(pages) * int(self._fetch("PRAGMA page_size")[0][0])
