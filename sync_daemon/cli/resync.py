"""``sync-daemon resync ORDER_ID``: fetch, re-map and push one order now, whatever its ledger state."""

from __future__ import annotations

import sys

import click

from sync_daemon.cli.base import EXIT_FAILED, config_option, friendly_errors, print_json
from sync_daemon.core.redaction import redact


@click.command()
@click.argument("order_id", type=click.IntRange(min=1))
@click.option("--destination", "-d", help="Only this destination (default: every enabled one).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@config_option
@friendly_errors
def resync(order_id: int, destination: str | None, as_json: bool, config_file: str | None) -> None:
    """Fetch ORDER_ID from WooCommerce now, re-map it and push it, whatever its ledger state."""
    # Imported here: the composition root pulls in the engine and every platform client, which
    # --help and the light commands, loading this module too, do not need.
    from sync_daemon.app import App, load_configured

    settings = load_configured(config_file)
    with App(settings, create_ledger=True) as app:  # a send is recorded, even before the daemon's first run
        results = app.engine.resync(order_id, destination)
    if as_json:
        print_json([vars(result) | {"landed": result.landed, "ok": result.ok} for result in results])
    else:
        for result in results:
            verdict = "landed" if result.landed else result.outcome
            remote = f" (remote id {result.remote_id})" if result.remote_id else ""
            reason = f" — {result.message}" if result.message else ""
            click.echo(redact(f"{result.destination}: {verdict}{remote}{reason}"))
    if not all(result.ok for result in results):
        sys.exit(EXIT_FAILED)
