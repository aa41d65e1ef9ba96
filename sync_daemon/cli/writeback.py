"""``sync-daemon writeback``: read platform statuses now and apply them to WooCommerce orders."""

from __future__ import annotations

import click

from sync_daemon.cli.base import config_option, friendly_errors, print_json
from sync_daemon.core.redaction import redact


@click.command()
@click.option("--dry-run", is_flag=True, help="Only show what would be written.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON for scripts.")
@config_option
@friendly_errors
def writeback(dry_run: bool, as_json: bool, config_file: str | None) -> None:
    """Read platform statuses now and apply them to WooCommerce orders (or show what would change)."""
    # Imported here: the composition root pulls in the engine and every platform client, which
    # --help and the light commands, loading this module too, do not need.
    from sync_daemon.app import App, load_configured

    settings = load_configured(config_file)
    with App(settings, create_ledger=not dry_run) as app:  # a dry run only reads
        app.engine.pull_all_statuses()
        plans = app.status_writer().apply(dry_run=dry_run)
    if as_json:
        print_json([plan.as_dict() for plan in plans])
        return
    if not plans:
        click.echo("nothing to write back")
        return
    prefix = "would write" if dry_run else "wrote"
    # An order where nothing changes gets no line of its own: only the summary counts it.
    shown = [plan for plan in plans if plan.status_after or plan.notes or plan.meta or plan.error]
    for plan in shown:
        change = f"status {plan.status_before} → {plan.status_after}" if plan.status_after else "status unchanged"
        notes = f"; note: {'; '.join(plan.notes)}" if plan.notes else ""
        click.echo(redact(f"order {plan.order_id}: {prefix}: {change}{notes}"))
        if plan.error:
            click.echo(redact(f"  error: {plan.error}"))
    unchanged = len(plans) - len(shown)
    verb = "would change" if dry_run else "changed"
    click.echo(f"{_orders(len(plans))} with news from a platform: {len(shown)} {verb}, {unchanged} need nothing")


def _orders(count: int) -> str:
    """``1 order``, ``3 orders``."""
    return f"{count} order{'' if count == 1 else 's'}"
