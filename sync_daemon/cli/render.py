"""Rich tables for ``status`` and ``problems``: the ledger summary, one order's history, secrets masked.

Every text that comes from outside (a platform's error, a customer's name, a path) may hold ``[…]``,
which rich would read as markup: an error like ``unknown key [/items/0/sku]`` raised MarkupError, and
``[bold]`` vanished. So lines and cells go to rich as ``Text`` (``say``, ``plain``), never as markup.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from sync_daemon.cli.base import console
from sync_daemon.core.redaction import redact


def plain(value: Any) -> Text:
    """A value shown as plain text (never read as rich markup), secrets masked."""
    return Text(redact("" if value is None else str(value)))


def say(line: str) -> None:
    """Print one line as plain text (never read as rich markup), secrets masked."""
    console.print(plain(line))


def print_summary(data: dict[str, Any]) -> None:
    """Counts per destination and state, the cursor, the last poll, pauses and last errors."""
    # Imported here: the ledger package loads its backends, which --help and the other commands do not need.
    from sync_daemon.ledger import STATES

    table = Table(title="Deliveries")
    table.add_column("destination")
    for state in STATES:
        table.add_column(state, justify="right")
    for destination, counts in sorted(data["counts"].items()):
        table.add_row(plain(destination), *(str(counts.get(state, 0)) for state in STATES))
    console.print(table)
    _print_problem_pointer(data["counts"])
    say(f"orders seen: {data['orders_seen']}   cursor: {data['cursor'] or 'not set (first run)'}")
    if data.get("ledger"):
        say(f"ledger: {data['ledger']}")
    if "daemons" in data:
        _print_daemons(data["daemons"])
    if data.get("pass_progress"):
        say(progress_line(data["pass_progress"]))
    if data["last_poll_at"]:
        say(f"last poll: {data['last_poll_at']} ({data['last_poll_result'] or 'no result'})")
    else:
        say("last poll: never")
    if data["last_poll_error"]:
        # "error": the pass itself failed, not the shop
        source = "" if data["last_poll_result"] == "error" else "WooCommerce "
        say(f"last {source}error: {data['last_poll_error']}")
    tracking = data.get("tracking") or {}
    if tracking.get("tracked"):
        say(
            f"Tracktor: {tracking['tracked']} tracked, {tracking['delivered']} delivered, "
            f"{tracking['exceptions']} with a shipment exception"
        )
    if data.get("writebacks"):
        say(f"changes written back into WooCommerce orders (statuses set, notes added): {data['writebacks']}")
    if data.get("webhooks_reactivated"):
        say(
            f"WooCommerce webhooks re-activated after WooCommerce disabled them: {data['webhooks_reactivated']} "
            f"(last at {data['last_webhook_reactivated_at']}; polling covered the gaps)"
        )
    if data.get("pruned_orders"):
        say(f"orders pruned by retention: {data['pruned_orders']} (last run {data['last_prune_at']})")
    for name, record in sorted(data["destinations"].items()):
        if record.get("paused"):  # the summary reports only a pause still in force
            until = record["paused_until_at"]
            say(f"{name}: PAUSED ({record['pause_kind']}) until {until}: {record['pause_reason']}")
        # A pause stores its reason as the last error too: said once, in the pause line.
        if record.get("last_error") and not (record.get("paused") and record["last_error"] == record["pause_reason"]):
            say(f"{name}: last error at {record['last_error_at']}: {record['last_error']}")


def _print_problem_pointer(counts: dict[str, dict[str, int]]) -> None:
    """``3 rejected, 1 dead: sync-daemon problems`` when any delivery did not land by itself."""
    from sync_daemon.ledger import PROBLEM_STATES

    totals = {state: sum(states.get(state, 0) for states in counts.values()) for state in PROBLEM_STATES}
    named = [f"{count} {state}" for state, count in totals.items() if count]
    if named:
        say(f"{', '.join(named)}: see `sync-daemon problems` for the orders and the reasons")


def progress_line(stored: dict[str, Any]) -> str:
    """``pass in progress: backfill: 1 200 of 4 040 read, 2 100 delivered (as of …)`` from the stored progress."""
    from sync_daemon.engine.progress import PassProgress

    progress = PassProgress(stored["read"], stored.get("total"), stored["delivered"], bool(stored.get("backfill")))
    return (f"pass in progress since {stored.get('started_at', '?')}: {progress.describe()}"
            f" (as of {stored.get('updated_at', '?')})")


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
        table.add_row(plain(row["daemon_id"]), plain(row["host"]), str(row["pid"]), plain(row["started_at"]), role,
                      str(row["sending"]), f"{row['heartbeat_seconds_ago']} s ago")
    console.print(table)


def print_history(data: dict[str, Any]) -> None:
    """One order: its deliveries, every attempt, its tracking and what was written back."""
    order = data["order"]
    say(f"order {order['order_id']} (#{order['number']}), status {order['status']}, modified {order['modified']} UTC")
    table = Table(title="Deliveries")
    for column in ("destination", "state", "attempts", "remote id", "remote status", "last error / note"):
        table.add_column(column)
    for row in data["deliveries"]:
        text = " / ".join(part for part in (row["last_error"], row["note"]) if part)
        table.add_row(
            plain(row["destination"]),
            row["state"],
            str(row["attempts"]),
            plain(row["remote_id"]),
            plain(" since ".join(part for part in (row.get("remote_status"), row.get("remote_status_at")) if part)),
            plain(text),
        )
    console.print(table)
    attempts = Table(title="Attempts")
    for column in ("at", "destination", "operation", "outcome", "http", "message"):
        attempts.add_column(column)
    for row in data["attempts"]:
        attempts.add_row(
            row["at"],
            plain(row["destination"]),
            row["operation"] or "",
            row["outcome"],
            str(row["http_status"] or ""),
            plain(row["message"]),
        )
    console.print(attempts)
    if data.get("tracking"):
        track = data["tracking"]
        say(
            f"Tracktor {track['tracktor_id']}: {track['shipment_status'] or 'no status yet'}"
            + (f", EXCEPTION {track['exception_status']}" if track["exception_status"] else "")
            + (f", carrier {track['carrier']}" if track["carrier"] else "")
            + (f", tracking {track['tracking_number']}" if track["tracking_number"] else "")
        )
    for row in data.get("writebacks") or []:
        say(f"written back {row['applied_at']}: {row['source']} {row['remote_status']}: {row['action']}")
