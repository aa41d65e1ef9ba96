"""``sync-daemon ledger migrate|copy``: upgrade the ledger's schema now, or copy it into PostgreSQL."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import click
from pydantic import ValidationError

from sync_daemon.cli.base import config_option, friendly_errors
from sync_daemon.config import LedgerSettings, Settings, load_settings
from sync_daemon.core import redaction
from sync_daemon.core.errors import ConfigurationError

if TYPE_CHECKING:
    from sync_daemon.core.files import DaemonLock
    from sync_daemon.ledger import Ledger

PROGRESS_EVERY_ROWS = 10_000  # a line on stderr per this many rows of one table, for big ledgers
PASSWORD_PLACES = "[ledger] password, SYNC_DAEMON_LEDGER__PASSWORD or the ledger.password credential"


@click.group()
def ledger() -> None:
    """The ledger itself: its schema version, and moving it to PostgreSQL."""


@ledger.command()
@config_option
@friendly_errors
def migrate(config_file: str | None) -> None:
    """Upgrade the ledger's schema now (the daemon does it at start)."""
    # Imported here: the composition root pulls in the engine and every platform client.
    from sync_daemon.app import open_ledger

    settings = load_settings(config_file, check=False)
    before = _stored_version(settings)
    opened = open_ledger(settings, create=False)  # applies what is missing; refuses a newer ledger
    try:
        after, location = opened.schema_version(), opened.location
    finally:
        opened.close()
    note = " (already current)" if before == after else " (new ledger)" if before == 0 else ""
    click.echo(f"ledger {location}: schema version {'?' if before is None else before} → {after}{note}")


@ledger.command()
@click.option("--to", "url", required=True, metavar="URL", help="The PostgreSQL ledger: postgresql://user@host/db.")
@click.option("--shop-id", help="The shop's name in it (default: [ledger] shop_id, else the WooCommerce address).")
@click.option("--password-env", metavar="VAR", help=f"Environment variable holding its password (default: "
              f"{PASSWORD_PLACES}).")
@config_option
@friendly_errors
def copy(url: str, shop_id: str | None, password_env: str | None, config_file: str | None) -> None:
    """Copy the ledger (daemon stopped) into an empty PostgreSQL ledger."""
    from sync_daemon.app import open_ledger
    from sync_daemon.app import shop_id as default_shop_id
    from sync_daemon.ledger import open_postgres
    from sync_daemon.ledger.copy import copy_ledger

    settings = load_settings(config_file, check=False)
    target = _target(url, shop_id or default_shop_id(settings))
    password = _password(settings, password_env)
    lock = _lock_source(settings)
    try:
        source = open_ledger(settings)
        try:
            _refuse_running_daemons(settings, source)
            destination = open_postgres(target.url, shop_id=target.shop_id, password=password)
            try:
                click.echo(f"copying {source.location} into {destination.location}")
                counts = copy_ledger(source, destination, on_batch=_progress)
                where = destination.location
            finally:
                destination.close()
        finally:
            source.close()
    finally:
        if lock is not None:
            lock.release()
    width = max(len(table) for table in counts)
    for table, count in counts.items():
        click.echo(f"  {table:<{width}}  {count:>9}")
    click.echo(f"copied {sum(counts.values())} rows into {where}; every table's count matches the source")
    shop_line = f' and shop_id = "{target.shop_id}"' if shop_id else ""
    click.echo(
        f'next: set [ledger] url = "{target.url}"{shop_line} in the config (the password in {PASSWORD_PLACES})'
        " and restart sync-daemon"
    )


def _stored_version(settings: Settings) -> int | None:
    """The configured ledger's schema version before it is opened (0: none yet; None: unknown)."""
    from sync_daemon.ledger.versions import postgres_version, sqlite_version

    section = settings.ledger
    if section.shared:
        password = section.password.get_secret_value() if section.password else None
        return postgres_version(section.url, password=password)
    return sqlite_version(settings.resolved_state_dir() / "ledger.sqlite3")


def _target(url: str, shop_id: str) -> LedgerSettings:
    """The target, checked as ``[ledger] url`` and ``shop_id`` are (never echoing a password)."""
    if "password" in {key.lower() for key in parse_qs(urlsplit(url).query)}:
        raise ConfigurationError(f"--to: the URL holds a password: use --password-env VAR or {PASSWORD_PLACES}")
    try:
        return LedgerSettings(url=url, shop_id=shop_id)
    except ValidationError as error:
        # The messages only: pydantic's full text repeats the value as given, a password and all.
        raise ConfigurationError(
            "; ".join(f"{'--to' if e['loc'][0] == 'url' else '--shop-id'}: {e['msg']}" for e in error.errors())
        ) from None


def _password(settings: Settings, variable: str | None) -> str | None:
    """The target's password: from ``--password-env VAR``, else the configured ``[ledger] password``."""
    if variable:
        value = os.environ.get(variable)
        if not value:
            raise ConfigurationError(f"--password-env {variable}: that environment variable is not set or is empty")
    else:
        secret = settings.ledger.password
        value = secret.get_secret_value() if secret else None
    redaction.register(value)  # masked in every error line from now on
    return value


def _lock_source(settings: Settings) -> DaemonLock | None:
    """The SQLite source's lock, as a daemon takes it: no daemon may deliver from it during the copy."""
    from sync_daemon.core.files import StateDirectoryInUse, lock_state_directory

    if settings.ledger.shared:
        return None
    directory = settings.resolved_state_dir()
    try:
        lock = lock_state_directory(directory)
    except StateDirectoryInUse as error:
        raise ConfigurationError(
            f"copy needs the daemon stopped: sync-daemon (pid {error.holder}) is running on the ledger in"
            f" {error.directory}; stop it (systemctl stop sync-daemon) and run this again"
        ) from None
    if not (directory / "ledger.sqlite3").exists():
        lock.release()
        raise ConfigurationError(f"there is no ledger in {directory} (state_dir) to copy")
    return lock


def _refuse_running_daemons(settings: Settings, source: Ledger) -> None:
    """A shared source has no lock to take: refuse while any daemon still beats on it."""
    if not source.shared:
        return
    running = source.daemons(now=time.time(), interval=settings.ledger.leader_check_seconds)
    if running:
        raise ConfigurationError(
            f"copy needs every daemon of {source.location} stopped: {len(running)} still running"
            " (sync-daemon status lists them)"
        )


def _progress(table: str, copied: int) -> None:
    if copied % PROGRESS_EVERY_ROWS == 0:
        click.echo(f"  {table}: {copied} rows…", err=True)
