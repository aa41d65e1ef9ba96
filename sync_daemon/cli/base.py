"""What every command shares: the click group, the ``--config`` option, output helpers and exit codes.

User errors become one clear line on stderr and an exit code: 2 for configuration problems,
1 for everything else that went wrong, 0 for success.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from sync_daemon.core.credentials import DEFAULT_CREDENTIALS_DIRECTORY, use_credentials_directory
from sync_daemon.core.errors import ConfigurationError, LedgerUnavailable, SyncError
from sync_daemon.core.redaction import redact

EXIT_FAILED = 1
EXIT_CONFIG = 2
# The ledger's database is down or out of reach: EX_TEMPFAIL, which systemd restarts (2 it does not).
EXIT_TEMPORARY = 75

# Piped output (grep, logs) is not wrapped at 80 columns; a terminal gets its own width.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 250)


def fail(message: str, code: int = EXIT_FAILED) -> None:
    """Print one line to stderr and exit."""
    click.echo(f"sync-daemon: {redact(message)}", err=True)
    sys.exit(code)


def friendly_errors(function: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the daemon's errors into one line and an exit code instead of a traceback."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except ConfigurationError as error:
            fail(str(error), EXIT_CONFIG)
        except LedgerUnavailable as error:
            fail(str(error), EXIT_TEMPORARY)
        except SyncError as error:
            fail(str(error), EXIT_FAILED)
        except RuntimeError as error:
            fail(str(error), EXIT_FAILED)
        except sqlite3.Error as error:
            fail(f"the ledger could not be used: {error} (is another program holding it?)", EXIT_FAILED)

    return wrapper


def print_json(data: Any) -> None:
    """JSON on stdout, secrets masked."""
    click.echo(redact(json.dumps(data, indent=2, ensure_ascii=False, default=str)))


config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    envvar="SYNC_DAEMON_CONFIG",
    help="TOML config file (default: $SYNC_DAEMON_CONFIG, then /etc/sync-daemon/config.toml).",
)


# Without a command the help is printed and the exit code is 0: 2 means a configuration problem.
@click.group(context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
@click.version_option(package_name="sync-daemon")
@click.option(
    "--credentials-dir",
    type=click.Path(file_okay=False),
    help="Read secrets from the credential files DIR/<section>.<key>, as the service does (as root: "
    "--credentials-dir /etc/sync-daemon/credentials). Default: $CREDENTIALS_DIRECTORY.",
)
@click.pass_context
def main(context: click.Context, credentials_dir: str | None) -> None:
    """sync-daemon: WooCommerce orders to GoTrack.bd and the other platforms, exactly once."""
    if credentials_dir:
        if not Path(credentials_dir).is_dir():
            fail(f"--credentials-dir {credentials_dir}: no such folder (the unit's is {DEFAULT_CREDENTIALS_DIRECTORY})",
                 EXIT_CONFIG)
        use_credentials_directory(credentials_dir)
    if context.invoked_subcommand is None:
        click.echo(context.get_help())
