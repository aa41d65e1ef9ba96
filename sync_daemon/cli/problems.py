"""``sync-daemon problems``: the orders that did not land by themselves, newest first, with the reason."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click
from rich.table import Table

from sync_daemon.cli.base import config_option, console, fail, friendly_errors, print_json
from sync_daemon.cli.render import plain, say
from sync_daemon.config import load_settings

# Kept in step with ledger.PROBLEM_STATES (the default) plus pending; not imported, so --help stays light.
STATE_CHOICES = ("rejected", "dead", "retrying", "pending")
DEFAULT_STATES = ("rejected", "dead", "retrying")
LEDGER_FILE = "ledger.sqlite3"


@click.command()
@click.option("--state", "states", multiple=True, type=click.Choice(STATE_CHOICES),
              help="Only orders in this state; repeat for several (default: rejected, dead and retrying).")
@click.option("--destination", "-d", help="Only this platform's deliveries (e.g. gotrack).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              help="Only deliveries changed since this UTC date or time (2026-12-01 or 2026-12-01T08:00:00).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="At most this many rows.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON for scripts.")
@config_option
@friendly_errors
def problems(states: tuple[str, ...], destination: str | None, since: datetime | None, limit: int, as_json: bool,
             config_file: str | None) -> None:
    """List orders a platform rejected, gave up on or still retries: newest first, with the reason."""
    # Imported here: the composition root pulls in the engine and every platform client, which
    # --help and the light commands, loading this module too, do not need.
    from sync_daemon.app import App

    settings = load_settings(config_file, check=False)
    if not settings.ledger.shared:
        path = (settings.resolved_state_dir() / LEDGER_FILE).absolute()
        if not path.exists():  # only reads: never creates an empty ledger where none was
            fail(f"no ledger at {path}: the daemon has not run with this state_dir yet "
                 "(set state_dir in the config to where the service keeps its ledger)")
    moment = since.replace(tzinfo=UTC).timestamp() if since else None
    with App(settings) as app:
        rows = app.ledger.problems(states or DEFAULT_STATES, destination=destination, since=moment, limit=limit)
    if as_json:
        print_json(rows)
    else:
        print_problems(rows)


def print_problems(rows: list[dict[str, Any]]) -> None:
    """The rows as a table, each reason shown as plain text; a line when there are none."""
    if not rows:
        say("no orders in these states: every delivery landed or is on its way")
        return
    table = Table(title="Orders that did not land by themselves (newest first)")
    for column in ("order", "platform", "state", "attempts", "since", "reason / next try"):
        table.add_column(column)
    for row in rows:
        reason = row["last_error"] or ""
        if row["state"] == "retrying" and row["next_attempt_at"]:
            reason = f"{reason} (next try {row['next_attempt_at']})".strip()
        table.add_row(plain(f"{row['order_id']} (#{row['number']})"), plain(row["destination"]), row["state"],
                      str(row["attempts"]), plain(row["updated_at"]), plain(reason))
    console.print(table)
    say("An order fixed and saved in WooCommerce is sent again by itself; `sync-daemon resync ORDER_ID` sends one now.")
