"""Copying a whole ledger into another, empty one (SQLite to PostgreSQL): ``sync-daemon ledger copy``.

Every table but ``daemons`` (who runs on a ledger belongs to that ledger) is read from the source in
key order, a batch at a time, and written into the target in one transaction, then counted on both
sides: a copy that fails at any point leaves the target as it was. Only the store API is used, so
either backend can be source or target; a PostgreSQL target fills ``shop_id`` itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sync_daemon.core.errors import ConfigurationError, LedgerUnavailable, SyncError
from sync_daemon.ledger.store import Connection, Store

BATCH_ROWS = 1000
# Each table with the key it is read in (so a batch resumes after the last row of the one before).
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "meta": ("key",),
    "orders": ("order_id",),
    "deliveries": ("order_id", "destination"),
    "attempts": ("id",),
    "destinations": ("name",),
    "tracking": ("order_id",),
    "writebacks": ("order_id", "source", "remote_status"),
    "outbox": ("order_id", "destination", "kind", "reason"),
}
# Columns never copied: the target's shop, and the attempt log's id, which on PostgreSQL is shared
# by every shop of the database, so the target numbers the rows (in the source's order) itself.
NOT_COPIED = {"shop_id"}
NOT_COPIED_IN = {"attempts": {"id"}}


class TargetNotEmpty(ConfigurationError):
    """The target already holds data of this shop: a copy never merges or overwrites."""


class CopyFailed(SyncError):
    """The copy stopped (a row the target refused, a count that differs); the target was left as it was."""


def copy_ledger(
    source: Store,
    target: Store,
    *,
    batch_rows: int = BATCH_ROWS,
    on_batch: Callable[[str, int], Any] = lambda table, copied: None,
) -> dict[str, int]:
    """Copy every table but ``daemons`` from ``source`` into the empty ``target``; returns rows per table.

    ``on_batch`` is told the table and its rows copied so far after each batch (progress).
    """
    progress = {"table": "the ledger", "copied": 0}
    try:
        with source.snapshot(), target.transaction() as connection:
            _refuse_unless_empty(connection, target)
            counts = {}
            for table in TABLE_KEYS:
                progress.update(table=table, copied=0)
                for copied in _copy_table(source, connection, table, batch_rows):
                    progress["copied"] = copied
                    on_batch(table, copied)
                counts[table] = progress["copied"]
            _verify(source, connection, counts)
            return counts
    except (TargetNotEmpty, CopyFailed):
        raise
    except LedgerUnavailable as error:
        raise LedgerUnavailable(f"{error}; the copy was rolled back, nothing was written") from error
    except Exception as error:  # the target's transaction is rolled back whatever went wrong
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CopyFailed(
            f"copying {progress['table']} failed after {progress['copied']} of its rows: {first_line};"
            f" the copy was rolled back, nothing was written to {target.location}"
        ) from error


def _refuse_unless_empty(connection: Connection, target: Store) -> None:
    found = {table: _count(connection, table) for table in TABLE_KEYS}
    held = ", ".join(f"{table} {count}" for table, count in found.items() if count)
    if held:
        raise TargetNotEmpty(
            f"the ledger {target.location} already holds data of this shop ({held}): a copy never merges"
            " into a ledger nor overwrites one; nothing was changed. Copy into another shop id or database"
        )


def _copy_table(source: Store, connection: Connection, table: str, batch_rows: int) -> Iterator[int]:
    """Copy one table in batches; yields the rows copied so far after each batch."""
    keys = TABLE_KEYS[table]
    skipped = NOT_COPIED | NOT_COPIED_IN.get(table, set())
    target_columns = {column[0] for column in connection.execute(f"SELECT * FROM {table} WHERE 1 = 0").description}
    order = ", ".join(keys)
    after: list[Any] = []
    copied = 0
    while True:
        # Row values compare key by key (both engines): the batch starts after the last row copied.
        where = f" WHERE ({order}) > ({', '.join('?' * len(keys))})" if after else ""
        rows = source._rows(f"SELECT * FROM {table}{where} ORDER BY {order} LIMIT ?", [*after, batch_rows])
        if not rows:
            return
        columns = [name for name in rows[0] if name in target_columns and name not in skipped]
        connection.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [[_value(table, name, row[name]) for name in columns] for row in rows],
        )
        copied += len(rows)
        yield copied
        if len(rows) < batch_rows:
            return
        after = [rows[-1][key] for key in keys]


def _value(table: str, column: str, value: Any) -> Any:
    # A lease names a daemon of the source ledger, which never runs on the target. Without it a row
    # left ``sending`` (a crash) is recovered at the next start and sent again, as on the source.
    if table == "deliveries" and column in ("leased_by", "leased_until"):
        return None
    return value


def _verify(source: Store, connection: Connection, counts: dict[str, int]) -> None:
    for table, copied in counts.items():
        in_source = int(source._fetch(f"SELECT COUNT(*) FROM {table}")[0][0])
        in_target = _count(connection, table)
        if not in_source == copied == in_target:
            raise CopyFailed(
                f"{table}: {in_source} rows in the source, {copied} copied, {in_target} in the target;"
                " the copy was rolled back, nothing was written"
            )


def _count(connection: Connection, table: str) -> int:
    return int(connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
