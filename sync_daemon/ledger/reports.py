"""Read-only views of the ledger for people and benchmarks: ``status``, an order's history, latencies."""

from __future__ import annotations

import time
from typing import Any

from sync_daemon.ledger.encoding import iso_stamp
from sync_daemon.ledger.schema import STATES
from sync_daemon.ledger.store import Store


class Reports(Store):
    """Summaries built from every table; nothing here writes."""

    def summary(self, *, now: float | None = None) -> dict[str, Any]:
        """Counts per destination and state, cursor, last poll, pauses in force and last error per destination."""
        counts: dict[str, dict[str, int]] = {}
        for destination, state, count in self._fetch(
            "SELECT destination, state, COUNT(*) FROM deliveries GROUP BY destination, state"
        ):
            counts.setdefault(destination, dict.fromkeys(STATES, 0))[state] = count
        now = time.time() if now is None else now
        destinations = {row["name"]: _as_of(row, now) for row in self._rows("SELECT * FROM destinations")}
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
            # Entries that changed a WooCommerce order; "nothing to do" is remembered, not counted.
            "writebacks": self._fetch("SELECT COUNT(*) FROM writebacks WHERE changed = 1")[0][0],
            "pruned_orders": int(self.get_meta("pruned_orders") or 0),
            "last_prune_at": self.get_meta("last_prune_at"),
            "webhooks_reactivated": int(self.get_meta("webhooks_reactivated") or 0),
            "last_webhook_reactivated_at": self.get_meta("last_webhook_reactivated_at"),
            "counts": counts,
            "destinations": destinations,
        }

    def order_history(self, order_id: int) -> dict[str, Any] | None:
        """Everything known about one order: its deliveries and every attempt."""
        orders = self._rows("SELECT * FROM orders WHERE order_id = ?", [order_id])
        if not orders:
            return None
        deliveries = self._rows("SELECT * FROM deliveries WHERE order_id = ? ORDER BY destination", [order_id])
        for row in deliveries:
            row.pop("payload", None)
        attempts = self._rows(
            "SELECT destination, at, operation, outcome, http_status, message, duration_ms FROM attempts"
            " WHERE order_id = ? ORDER BY id",
            [order_id],
        )
        tracking = self._rows("SELECT * FROM tracking WHERE order_id = ?", [order_id])
        return {
            "order": orders[0],
            "deliveries": deliveries,
            "attempts": attempts,
            "tracking": tracking[0] if tracking else None,
            "writebacks": self.writeback_history(order_id),
        }

    def writeback_history(self, order_id: int) -> list[dict[str, Any]]:
        """What was written back into WooCommerce for one order."""
        return self._rows("SELECT * FROM writebacks WHERE order_id = ? ORDER BY applied_at", [order_id])


def _as_of(row: dict[str, Any], now: float) -> dict[str, Any]:
    """A destination's record as it stands at ``now``: a pause whose end has passed is no longer in force."""
    row.pop("fingerprint", None)
    until = row.get("paused_until")
    row["paused"] = bool(until and until > now)
    if row["paused"]:
        row["paused_until_at"] = iso_stamp(until)
    else:
        # An ended pause stays in the table until a send succeeds and lifts it, but the daemon is
        # already sending again: it is not reported; what caused it stays as the last error.
        row.update(paused_until=None, pause_kind=None, pause_reason=None, paused_until_at=None)
    return row
