"""``sync-daemon run`` (the daemon) and ``sync-daemon check-config`` (offline validation)."""

from __future__ import annotations

import sys

import click

from sync_daemon.cli.base import config_option, friendly_errors
from sync_daemon.config import DEFAULT_CONFIG_PATH, Settings, config_path, load_settings
from sync_daemon.core.errors import ConfigurationError
from sync_daemon.core.files import check_config_permissions


def load_or_name_the_missing_file(config_file: str | None) -> Settings:
    """The settings; when no file was given and the default one is missing, an error that names that file."""
    try:
        return load_settings(config_file)
    except ConfigurationError as error:
        if config_path(config_file) is not None:
            raise
        # Only the environment was read: its problems alone would hide that the file is missing.
        raise ConfigurationError(
            f"no configuration file at {DEFAULT_CONFIG_PATH} — copy config.example.toml there or pass --config"
            f"; the environment alone leaves an {error}"
        ) from None


@click.command()
@config_option
@friendly_errors
def run(config_file: str | None) -> None:
    """Run the daemon: poll WooCommerce on a schedule and deliver orders until stopped."""
    # Imported here: the daemon's scheduler, engine and platform clients are not needed by --help
    # or by the light commands, which load this module too.
    from sync_daemon.cli.progress import TerminalProgress
    from sync_daemon.service.runner import run as run_daemon

    load_or_name_the_missing_file(config_file)
    # In the foreground on a terminal, a long pass shows a bar (the log prints above it).
    bar = TerminalProgress() if sys.stderr.isatty() else None
    sys.exit(run_daemon(config_file, display=bar, log_stream=bar))


@click.command("check-config")
@config_option
@friendly_errors
def check_config(config_file: str | None) -> None:
    """Validate the configuration offline; lists every problem, exit code 2 when invalid."""
    settings = load_or_name_the_missing_file(config_file)
    path = config_path(config_file)
    if path is not None:
        warning = check_config_permissions(path)
        if warning:
            click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"configuration OK: {path or 'environment only'}; destinations: {', '.join(settings.enabled_destinations())}"
        f"; ledger in {settings.resolved_state_dir()}"
    )
