"""Read-only views of the ledger for people and benchmarks: ``status``, an order's history, latencies."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from sync_daemon.ledger.encoding import iso_stamp
from sync_daemon.ledger.schema import STATES
from sync_daemon.ledger.store import Store

# The states ``problems`` lists unless told otherwise: orders that did not land, or not yet by themselves.
PROBLEM_STATES = ("rejected", "dead", "retrying")
# Meta key of the pass in progress (read, total, delivered), written by the daemon during a long pass.
PASS_PROGRESS_KEY = "pass_progress"


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
            "pass_progress": json.loads(self.get_meta(PASS_PROGRESS_KEY) or "null"),
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
            _iso_times(row, ("queued_at", "next_attempt_at", "leased_until"))
        attempts = self._rows(
            "SELECT destination, at, operation, outcome, http_status, message, duration_ms FROM attempts"
            " WHERE order_id = ? ORDER BY id",
            [order_id],
        )
        tracking = self._rows("SELECT * FROM tracking WHERE order_id = ?", [order_id])
        for row in tracking:
            _iso_times(row, ("first_seen_at", "checked_at"))
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

    def problems(
        self,
        states: Sequence[str] = PROBLEM_STATES,
        *,
        destination: str | None = None,
        since: float | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Deliveries in ``states`` (of one destination, changed since), newest first, with reason and attempts."""
        where = [f"d.state IN ({', '.join('?' for _ in states)})"]
        params: list[Any] = list(states)
        if destination:
            where.append("d.destination = ?")
            params.append(destination)
        if since is not None:
            where.append("d.updated_at >= ?")  # ISO stamps of one format: text order is time order
            params.append(iso_stamp(since))
        rows = self._rows(
            "SELECT d.order_id, o.number, d.destination, d.state, d.attempts, d.last_error, d.updated_at,"
            " d.next_attempt_at FROM deliveries d JOIN orders o ON o.order_id = d.order_id"
            f" WHERE {' AND '.join(where)} ORDER BY d.updated_at DESC, d.order_id DESC, d.destination LIMIT ?",
            [*params, limit],
        )
        for row in rows:
            _iso_times(row, ("next_attempt_at",))
        return rows


def _iso_times(row: dict[str, Any], keys: Sequence[str]) -> None:
    """Epoch columns as ISO 8601 UTC text, so every time a report gives has one format."""
    for key in keys:
        if isinstance(row.get(key), int | float):
            row[key] = iso_stamp(row[key])


def _as_of(row: dict[str, Any], now: float) -> dict[str, Any]:
    """A destination's record as it stands at ``now``: a pause whose end has passed is no longer in force."""
    row.pop("fingerprint", None)
    until = row.get("paused_until")
    row["paused"] = bool(until and until > now)
    # Reported in ISO time only (``paused_until_at``), like every other time of a report.
    row.pop("paused_until", None)
    if row["paused"]:
        row["paused_until_at"] = iso_stamp(until)
    else:
        # An ended pause stays in the table until a send succeeds and lifts it, but the daemon is
        # already sending again: it is not reported; what caused it stays as the last error.
        row.update(pause_kind=None, pause_reason=None, paused_until_at=None)
    return row
