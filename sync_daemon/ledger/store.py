"""What every ledger backend provides: connections, transactions, meta values and the cursor.

The query modules (``ingest``, ``deliveries``, …) build on ``Store`` and write one SQL for both
backends: ``?`` placeholders, ``INSERT … ON CONFLICT`` upserts, no engine-only functions. A backend
(``sqlite.SqliteStore``, ``postgres.PostgresStore``) supplies the connection, the schema and what
only it can do (file size and vacuum, leases taken with ``FOR UPDATE SKIP LOCKED``, leadership).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol


class Cursor(Protocol):
    """The part of a DB-API cursor the queries use."""

    rowcount: int
    description: Any  # (name, …) per column of the last query's result

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """The part of a DB-API connection the queries use (``?`` placeholders on every backend)."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], /) -> Cursor: ...


class Store:
    """A ledger's storage; the query modules are mixins on it, a backend implements the rest."""

    # True when several daemons may share this ledger: rows are leased before they are sent and
    # only the leader polls. A SQLite ledger belongs to one daemon (the state directory's lock).
    shared = False
    # Who leases rows: this process, unique among the daemons of one ledger.
    owner = "local"
    # Seconds a leased row stays reserved to this process; after that another daemon may take it.
    lease_seconds = 120.0
    # Appended to the ``due`` query: row locks that other daemons skip (empty where one daemon writes).
    skip_locked = ""

    @property
    def location(self) -> str:
        """Where the ledger lives, for people (no password)."""
        raise NotImplementedError

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows as tuples."""
        raise NotImplementedError

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column name."""
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[Connection]:
        """One atomic write; everything inside commits together or not at all."""
        raise NotImplementedError

    def snapshot(self) -> AbstractContextManager[Connection]:
        """A connection for several reads that must agree (no write lock taken)."""
        raise NotImplementedError

    def schema_version(self) -> int:
        """The schema version stored in the ledger (0 for a new one)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the ledger (a second call does nothing)."""
        raise NotImplementedError

    def file_bytes(self) -> int:
        """Bytes the ledger takes on disk."""
        raise NotImplementedError

    def free_bytes(self) -> int:
        """Bytes held but holding no data (reused before the ledger grows)."""
        return 0

    def reclaim_space(self, *, max_pages: int) -> int:
        """Give free space back to the disk, a step at a time; returns the pages given back."""
        return 0

    def auto_vacuum(self) -> str:
        """How freed space goes back to the disk (SQLite: its auto-vacuum mode)."""
        return "none"

    def vacuum(self) -> None:
        """Compact the ledger now."""

    def refuses_data(self, error: Exception) -> bool:
        """True when ``error`` is the backend refusing the values written (not the ledger failing).

        Texts it cannot encode and numbers out of range, here; each backend adds its own data errors.
        """
        return isinstance(error, UnicodeError | OverflowError)

    def try_lead(self) -> bool:
        """Become (or stay) the one daemon that polls and writes back; True while it is."""
        return True

    # -- meta and cursor ------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """A stored value from the meta table."""
        rows = self._fetch("SELECT value FROM meta WHERE key = ?", [key])
        return rows[0][0] if rows else None

    def set_meta(self, **values: str | None) -> None:
        """Store meta values in one transaction."""
        with self.transaction() as connection:
            connection.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                list(values.items()),
            )

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
