"""Retention: whole orders whose every row is final and old are removed, a small batch at a time.

An order goes only as a whole (its order row, every delivery row, their attempts, its tracking and
write-back rows) and only when nothing about it can still happen:

- every delivery row is final (delivered, rejected, dead or skipped; never pending, sending or
  retrying), and none changed since the cutoff;
- the order is closed in WooCommerce: its last seen status is not one of ``open_statuses`` (the
  caller passes the statuses that would make the order take part again if it were read as new,
  so a closed order read again after pruning is ignored, never sent twice), nor unknown;
- it was not read from WooCommerce, written back to or asked about by a tracking source since
  the cutoff.

Half an order is never pruned: a known order without a row for a platform means "that platform
was enabled since", which would send it. The cursor, the meta values and the destinations (pauses,
fingerprints) are never touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sync_daemon.ledger.encoding import iso_stamp
from sync_daemon.ledger.schema import FINAL_STATES
from sync_daemon.ledger.store import Connection, Store

# What an order needs to be pruned; the parameters are the cutoff as a stamp four times (the
# ``*_at`` text columns), as epoch seconds once (tracking), then the open statuses.
_FINAL = ",".join(f"'{state}'" for state in FINAL_STATES)
_PRUNABLE = (
    "SELECT o.order_id FROM orders o"
    " WHERE o.last_seen_at < ? AND (o.written_at IS NULL OR o.written_at < ?)"
    " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.order_id = o.order_id"
    f"  AND (d.state NOT IN ({_FINAL}) OR d.updated_at >= ?))"
    " AND NOT EXISTS (SELECT 1 FROM writebacks w WHERE w.order_id = o.order_id AND w.applied_at >= ?)"
    " AND NOT EXISTS (SELECT 1 FROM tracking t WHERE t.order_id = o.order_id"
    "  AND COALESCE(t.checked_at, t.first_seen_at) >= ?)"
    " AND o.status IS NOT NULL AND o.status NOT IN ({open_marks})"
)
PREVIEW_CHUNK = 500  # ids counted per statement by a preview
_TABLES = ("attempts", "deliveries", "tracking", "writebacks", "outbox")  # each keyed by order_id; orders last


@dataclass
class PruneResult:
    """What one prune removed (or, for a preview, would remove)."""

    orders: int = 0
    deliveries: dict[str, int] = field(default_factory=dict)  # per state
    attempts: int = 0
    tracking: int = 0
    writebacks: int = 0
    more_left: bool = False  # a run stopped at its budget (or a stop) with prunable orders left

    def add(self, other: PruneResult) -> None:
        """Add another batch's counts to these."""
        self.orders += other.orders
        for state, count in other.deliveries.items():
            self.deliveries[state] = self.deliveries.get(state, 0) + count
        self.attempts += other.attempts
        self.tracking += other.tracking
        self.writebacks += other.writebacks

    def as_dict(self) -> dict[str, Any]:
        """Plain data for --json and logs."""
        return asdict(self)


def _prunable_sql(open_statuses: Sequence[str]) -> str:
    return _PRUNABLE.format(open_marks=",".join("?" * len(open_statuses)) or "NULL")


def _parameters(older_than: float, open_statuses: Sequence[str]) -> list[Any]:
    stamp = iso_stamp(older_than)
    return [stamp, stamp, stamp, stamp, older_than, *open_statuses]


def _in_list(ids: Sequence[int]) -> str:
    """``IN (...)`` marks for a batch's ids (a batch is a few hundred: within every backend's limit)."""
    return "(" + ",".join("?" * len(ids)) + ")"


def _count(connection: Connection, ids: Sequence[int]) -> PruneResult:
    """Rows of these orders, per table."""
    marks = _in_list(ids)

    def count(table: str) -> int:
        return int(connection.execute(f"SELECT COUNT(*) FROM {table} WHERE order_id IN {marks}", ids).fetchone()[0])

    states = connection.execute(
        f"SELECT state, COUNT(*) FROM deliveries WHERE order_id IN {marks} GROUP BY state", ids
    ).fetchall()
    return PruneResult(
        orders=len(ids),
        deliveries={state: number for state, number in states},
        attempts=count("attempts"),
        tracking=count("tracking"),
        writebacks=count("writebacks"),
    )


class Retention(Store):
    """Pruning old, finished orders and giving the freed space back to the disk."""

    def prune_preview(self, *, older_than: float, open_statuses: Sequence[str]) -> PruneResult:
        """What ``prune_batch`` calls would remove, all batches together; removes nothing."""
        with self.snapshot() as connection:
            parameters = _parameters(older_than, open_statuses)
            ids = [row[0] for row in connection.execute(_prunable_sql(open_statuses), parameters)]
            total = PruneResult()
            for start in range(0, len(ids), PREVIEW_CHUNK):
                total.add(_count(connection, ids[start : start + PREVIEW_CHUNK]))
            return total

    def prune_batch(self, *, older_than: float, open_statuses: Sequence[str], limit: int) -> PruneResult:
        """Remove up to ``limit`` prunable orders with all their rows, in one transaction."""
        parameters = _parameters(older_than, open_statuses)
        with self.transaction() as connection:
            # Chosen under the write lock: nothing can change an order between the check and the delete.
            ids = [
                order_id
                for (order_id,) in connection.execute(
                    _prunable_sql(open_statuses) + " ORDER BY o.last_seen_at LIMIT ?", [*parameters, limit]
                )
            ]
            if not ids:
                return PruneResult()
            result = _count(connection, ids)
            for table in (*_TABLES, "orders"):
                connection.execute(f"DELETE FROM {table} WHERE order_id IN {_in_list(ids)}", ids)
            connection.execute(
                "INSERT INTO meta (key, value) VALUES ('pruned_orders', ?) ON CONFLICT (key) DO UPDATE SET"
                " value = CAST(CAST(meta.value AS INTEGER) + CAST(excluded.value AS INTEGER) AS TEXT)",
                [str(len(ids))],
            )
            return result
