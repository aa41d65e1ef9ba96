"""Rich tables for ``status``: the ledger summary and one order's history, secrets masked."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from sync_daemon.cli.base import console
from sync_daemon.core.redaction import redact


def print_summary(data: dict[str, Any]) -> None:
    """Counts per destination and state, the cursor, the last poll, pauses and last errors."""
    # Imported here: the ledger package loads its backends, which --help and the other commands do not need.
    from sync_daemon.ledger import STATES

    table = Table(title="Deliveries")
    table.add_column("destination")
    for state in STATES:
        table.add_column(state, justify="right")
    for destination, counts in sorted(data["counts"].items()):
        table.add_row(destination, *(str(counts.get(state, 0)) for state in STATES))
    console.print(table)
    console.print(f"orders seen: {data['orders_seen']}   cursor: {data['cursor'] or 'not set (first run)'}")
    if data.get("ledger"):
        console.print(f"ledger: {data['ledger']}")
    if "daemons" in data:
        _print_daemons(data["daemons"])
    result = data["last_poll_result"] or "never"
    console.print(f"last poll: {data['last_poll_at'] or 'never'} ({result})")
    if data["last_poll_error"]:
        console.print(redact(f"last WooCommerce error: {data['last_poll_error']}"))
    tracking = data.get("tracking") or {}
    if tracking.get("tracked"):
        console.print(
            f"Tracktor: {tracking['tracked']} tracked, {tracking['delivered']} delivered, "
            f"{tracking['exceptions']} with a shipment exception"
        )
    if data.get("writebacks"):
        console.print(f"changes written back into WooCommerce orders (statuses set, notes added): {data['writebacks']}")
    if data.get("webhooks_reactivated"):
        console.print(
            f"WooCommerce webhooks re-activated after WooCommerce disabled them: {data['webhooks_reactivated']} "
            f"(last at {data['last_webhook_reactivated_at']}; polling covered the gaps)"
        )
    if data.get("pruned_orders"):
        console.print(f"orders pruned by retention: {data['pruned_orders']} (last run {data['last_prune_at']})")
    for name, record in sorted(data["destinations"].items()):
        if record.get("paused"):  # the summary reports only a pause still in force
            until = record["paused_until_at"]
            console.print(redact(f"{name}: PAUSED ({record['pause_kind']}) until {until}: {record['pause_reason']}"))
        if record.get("last_error"):
            console.print(redact(f"{name}: last error at {record['last_error_at']}: {record['last_error']}"))


def _print_daemons(daemons: list[dict[str, Any]]) -> None:
    """The daemons alive on a shared ledger: which leads (polls, writes back), what each has out."""
    if not daemons:
        console.print("daemons: none alive (no heartbeat in the last few beats)")
        return
    table = Table(title="Daemons sharing this ledger")
    for column in ("daemon", "host", "pid", "since", "role", "requests out", "last beat"):
        table.add_column(column)
    for row in daemons:
        role = "leader: polls WooCommerce, writes back" if row["leads"] else "delivers"
        table.add_row(row["daemon_id"], row["host"], str(row["pid"]), row["started_at"], role, str(row["sending"]),
                      f"{row['heartbeat_seconds_ago']} s ago")
    console.print(table)


def print_history(data: dict[str, Any]) -> None:
    """One order: its deliveries, every attempt, its tracking and what was written back."""
    order = data["order"]
    console.print(
        f"order {order['order_id']} (#{order['number']}), status {order['status']}, modified {order['modified']} UTC"
    )
    table = Table(title="Deliveries")
    for column in ("destination", "state", "attempts", "remote id", "remote status", "last error / note"):
        table.add_column(column)
    for row in data["deliveries"]:
        text = " / ".join(part for part in (row["last_error"], row["note"]) if part)
        table.add_row(
            row["destination"],
            row["state"],
            str(row["attempts"]),
            row["remote_id"] or "",
            " since ".join(part for part in (row.get("remote_status"), row.get("remote_status_at")) if part),
            redact(text),
        )
    console.print(table)
    attempts = Table(title="Attempts")
    for column in ("at", "destination", "operation", "outcome", "http", "message"):
        attempts.add_column(column)
    for row in data["attempts"]:
        attempts.add_row(
            row["at"],
            row["destination"],
            row["operation"] or "",
            row["outcome"],
            str(row["http_status"] or ""),
            redact(row["message"] or ""),
        )
    console.print(attempts)
    if data.get("tracking"):
        track = data["tracking"]
        console.print(
            f"Tracktor {track['tracktor_id']}: {track['shipment_status'] or 'no status yet'}"
            + (f", EXCEPTION {track['exception_status']}" if track["exception_status"] else "")
            + (f", carrier {track['carrier']}" if track["carrier"] else "")
            + (f", tracking {track['tracking_number']}" if track["tracking_number"] else "")
        )
    for row in data.get("writebacks") or []:
        text = f"written back {row['applied_at']}: {row['source']} {row['remote_status']}: {row['action']}"
        console.print(redact(text))
