"""``sync-daemon status [ORDER_ID]``: the ledger's counts, or one order's full history."""

from __future__ import annotations

import os
import time

import click

from sync_daemon.cli.base import config_option, fail, friendly_errors, print_json
from sync_daemon.cli.render import print_history, print_summary
from sync_daemon.config import load_settings


@click.command()
@click.argument("order_id", type=click.IntRange(min=1), required=False)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON for scripts.")
@config_option
@friendly_errors
def status(order_id: int | None, as_json: bool, config_file: str | None) -> None:
    """Show the ledger: counts per destination and state, or one order's full history."""
    # Imported here: the composition root pulls in the engine and every platform client, which
    # --help and the light commands, loading this module too, do not need.
    from sync_daemon.app import App

    settings = load_settings(config_file, check=False)
    with App(settings) as app:  # only reads the ledger: no engine is built
        data = app.ledger.order_history(order_id) if order_id else app.ledger.summary()
        if data is not None and not order_id:
            # An absolute path: the one to compare with the service's, whatever the shell's directory.
            location = app.ledger.location
            data["ledger"] = location if settings.ledger.shared else os.path.abspath(location)
            if app.ledger.shared:  # the daemons sharing it, and which one leads
                data["daemons"] = app.ledger.daemons(now=time.time(), interval=settings.ledger.leader_check_seconds)
    if order_id and data is None:
        fail(f"order {order_id} is not in the ledger (not seen yet, or outside the sync window)")
    if as_json:
        print_json(data)
    elif order_id:
        print_history(data)
    else:
        print_summary(data)
