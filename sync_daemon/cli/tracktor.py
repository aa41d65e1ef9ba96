"""``sync-daemon tracktor …``: Tracktor's status options and webhooks from the command line.

Thin wrappers around ``tracktor.TracktorClient``: load the settings (``--config`` like every
command), require an enabled, complete ``[tracktor]`` section (else exit 2 with every problem),
print a table or JSON, and turn errors into one line and an exit code (2 configuration, 1 other).
"""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table
from rich.text import Text

from sync_daemon.cli.base import config_option, console, friendly_errors, print_json
from sync_daemon.config import load_settings
from sync_daemon.core.errors import ConfigurationError
from sync_daemon.core.redaction import redact


@click.group("tracktor")
def tracktor() -> None:
    """Tracktor (ShopPad): status options and webhooks of your shop."""


def _cell(value: Any) -> Any:
    """A table cell shown as plain text (no rich markup), secrets masked."""
    return Text(redact("" if value is None else str(value)))


def _client(config_file: str | None) -> Any:
    """A Tracktor client from an enabled, complete ``[tracktor]`` section, else a ConfigurationError."""
    # Imported here: the client (and its HTTP stack) is needed by these commands only, not by
    # --help and the other commands, which load this module too.
    from sync_daemon.platforms.tracktor import TracktorClient

    settings = load_settings(config_file, check=False).tracktor
    if not settings.enabled:
        raise ConfigurationError("tracktor is not enabled: set enabled = true in the [tracktor] section")
    problems = settings.problems()
    if problems:
        raise ConfigurationError("invalid [tracktor] section:\n  - " + "\n  - ".join(problems))
    return TracktorClient(settings)


@tracktor.command("status-options")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON for scripts.")
@config_option
@friendly_errors
def status_options(as_json: bool, config_file: str | None) -> None:
    """The shipment statuses your Tracktor shop uses (built-in and custom)."""
    with _client(config_file) as client:
        options = client.status_options()
    if as_json:
        print_json(options)
        return
    table = Table(title="Tracktor status options")
    for column in ("slug", "name", "custom"):
        table.add_column(column)
    for option in options:
        table.add_row(_cell(option["slug"]), _cell(option["name"]), "yes" if option.get("is_custom") else "")
    console.print(table)


@tracktor.group("webhooks")
def webhooks() -> None:
    """List, create and delete the shop's Tracktor webhooks."""


@webhooks.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON for scripts.")
@config_option
@friendly_errors
def list_webhooks(as_json: bool, config_file: str | None) -> None:
    """Every webhook Tracktor will call."""
    with _client(config_file) as client:
        rows = client.webhooks()
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no Tracktor webhooks")
        return
    table = Table(title="Tracktor webhooks")
    for column in ("id", "topic", "address", "created"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(row.get(key)) for key in ("id", "topic", "address", "created_at")))
    console.print(table)


@webhooks.command("create")
@click.argument("topic")
@click.argument("url", required=False)
@click.option("--to-listener", is_flag=True,
              help="Point it at this daemon's listener: [server] public_url + /webhooks/tracktor/<tracktor_secret>.")
@click.option("--json", "as_json", is_flag=True, help="Print the created webhook as JSON.")
@config_option
@friendly_errors
def create_webhook(topic: str, url: str | None, to_listener: bool, as_json: bool, config_file: str | None) -> None:
    """Ask Tracktor to call URL (https), or this daemon's listener, on TOPIC (order/all, fulfillment/delivered, …)."""
    if to_listener == (url is not None):
        raise click.UsageError("give either URL or --to-listener")
    if to_listener:
        url = listener_url(load_settings(config_file, check=False).server)
    with _client(config_file) as client:
        created = client.create_webhook(topic, url)
    if as_json:
        print_json(created)
    else:
        shown = f"{created.get('topic', topic)} → {created.get('address', url)}"
        text = f"created webhook {created.get('id', '?')}: {shown}"
        click.echo(redact(text))


def listener_url(server: Any) -> str:
    """The listener's Tracktor address as Tracktor reaches it, the shared token in its path (Tracktor signs nothing)."""
    problems = []
    if not server.public_url:
        problems.append("server.public_url: required (the listener's https address as Tracktor reaches it)")
    if not server.tracktor_secret.get_secret_value():
        problems.append("server.tracktor_secret: required (a long random token; Tracktor signs nothing)")
    if problems:
        raise ConfigurationError("cannot point Tracktor at the listener:\n  - " + "\n  - ".join(problems))
    return f"{server.public_url.rstrip('/')}/webhooks/tracktor/{server.tracktor_secret.get_secret_value()}"


@webhooks.command("delete")
@click.argument("webhook_id")
@config_option
@friendly_errors
def delete_webhook(webhook_id: str, config_file: str | None) -> None:
    """Delete the webhook WEBHOOK_ID (see `webhooks list`)."""
    with _client(config_file) as client:
        client.delete_webhook(webhook_id)
    click.echo(f"deleted webhook {webhook_id}")
