"""``sync-daemon run`` (the daemon) and ``sync-daemon check-config`` (offline validation)."""

from __future__ import annotations

import sys

import click

from sync_daemon.cli.base import config_option, friendly_errors
from sync_daemon.config import config_path, load_settings
from sync_daemon.core.files import check_config_permissions


@click.command()
@config_option
@friendly_errors
def run(config_file: str | None) -> None:
    """Run the daemon: poll WooCommerce on a schedule and deliver orders until stopped."""
    # Imported here: the daemon's scheduler, engine and platform clients are not needed by --help
    # or by the light commands, which load this module too.
    from sync_daemon.service.runner import run as run_daemon

    sys.exit(run_daemon(config_file))


@click.command("check-config")
@config_option
@friendly_errors
def check_config(config_file: str | None) -> None:
    """Validate the configuration offline; lists every problem, exit code 2 when invalid."""
    settings = load_settings(config_file)
    path = config_path(config_file)
    if path is not None:
        warning = check_config_permissions(path)
        if warning:
            click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"configuration OK: {path or 'environment only'}; destinations: {', '.join(settings.enabled_destinations())}"
        f"; ledger in {settings.resolved_state_dir()}"
    )
