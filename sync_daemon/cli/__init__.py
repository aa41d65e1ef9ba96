"""The command line: parses, calls the library, prints. No business logic lives here.

User errors become one clear line on stderr and an exit code: 2 for configuration problems,
1 for everything else that went wrong, 0 for success.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from sync_daemon.config import load_settings
from sync_daemon.core.errors import ConfigurationError, SyncError
from sync_daemon.core.redaction import redact

EXIT_FAILED = 1
EXIT_CONFIG = 2

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sync-daemon")
def main() -> None:
    """sync-daemon: WooCommerce orders to GoTrack.bd and the other platforms, exactly once."""


@main.command()
@config_option
@friendly_errors
def run(config_file: str | None) -> None:
    """Run the daemon: poll WooCommerce on a schedule and deliver orders until stopped."""
    from sync_daemon.service.runner import run as run_daemon

    sys.exit(run_daemon(config_file))


@main.command("check-config")
@config_option
@friendly_errors
def check_config(config_file: str | None) -> None:
    """Validate the configuration offline; lists every problem, exit code 2 when invalid."""
    from sync_daemon.config import config_path
    from sync_daemon.service.systemd import check_config_permissions

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


@main.command()
@click.argument("order_id", type=click.IntRange(min=1))
@click.option("--destination", "-d", help="Only this destination (default: every enabled one).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@config_option
@friendly_errors
def resync(order_id: int, destination: str | None, as_json: bool, config_file: str | None) -> None:
    """Fetch ORDER_ID from WooCommerce now, re-map it and push it, whatever its ledger state."""
    from sync_daemon.core import logs
    from sync_daemon.service.runner import build_engine, open_ledger

    settings = load_settings(config_file)
    logs.configure(settings.log_level, settings.log_format)
    ledger = open_ledger(settings)
    import threading

    engine = build_engine(settings, ledger, threading.Event())
    try:
        results = engine.resync(order_id, destination)
    finally:
        engine.close()
        ledger.close()
    if as_json:
        print_json([vars(result) | {"landed": result.landed, "ok": result.ok} for result in results])
    else:
        for result in results:
            verdict = "landed" if result.landed else result.outcome
            remote = f" (remote id {result.remote_id})" if result.remote_id else ""
            click.echo(redact(f"{result.destination}: {verdict}{remote} {result.message}".rstrip()))
    if not all(result.ok for result in results):
        sys.exit(EXIT_FAILED)


@main.command()
@click.argument("order_id", type=click.IntRange(min=1), required=False)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON for scripts.")
@config_option
@friendly_errors
def status(order_id: int | None, as_json: bool, config_file: str | None) -> None:
    """Show the ledger: counts per destination and state, or one order's full history."""
    from sync_daemon.service.runner import open_ledger

    settings = load_settings(config_file, check=False)
    ledger = open_ledger(settings)
    try:
        data = ledger.order_history(order_id) if order_id else ledger.summary()
    finally:
        ledger.close()
    if order_id and data is None:
        fail(f"order {order_id} is not in the ledger (not seen yet, or outside the sync window)")
    if as_json:
        print_json(data)
    elif order_id:
        _print_history(data)
    else:
        _print_summary(data)


def _print_summary(data: dict[str, Any]) -> None:
    from sync_daemon.ledger import STATES

    table = Table(title="Deliveries")
    table.add_column("destination")
    for state in STATES:
        table.add_column(state, justify="right")
    for destination, counts in sorted(data["counts"].items()):
        table.add_row(destination, *(str(counts.get(state, 0)) for state in STATES))
    console.print(table)
    console.print(f"orders seen: {data['orders_seen']}   cursor: {data['cursor'] or 'not set (first run)'}")
    result = data["last_poll_result"] or "never"
    console.print(f"last poll: {data['last_poll_at'] or 'never'} ({result})")
    if data["last_poll_error"]:
        console.print(redact(f"last WooCommerce error: {data['last_poll_error']}"))
    tracking = data.get("tracking") or {}
    if tracking.get("tracked"):
        console.print(
            f"Tracktor: {tracking['tracked']} tracked, {tracking['delivered']} delivered, "
            f"{tracking['exceptions']} with a shipment exception"
        )
    if data.get("writebacks"):
        console.print(f"statuses written back into WooCommerce: {data['writebacks']}")
    for name, record in sorted(data["destinations"].items()):
        if record.get("pause_kind"):
            console.print(redact(f"{name}: PAUSED ({record['pause_kind']}): {record['pause_reason']}"))
        if record.get("last_error"):
            console.print(redact(f"{name}: last error at {record['last_error_at']}: {record['last_error']}"))


def _print_history(data: dict[str, Any]) -> None:
    order = data["order"]
    console.print(
        f"order {order['order_id']} (#{order['number']}), status {order['status']}, modified {order['modified']} UTC"
    )
    table = Table(title="Deliveries")
    for column in ("destination", "state", "attempts", "remote id", "remote status", "last error / note"):
        table.add_column(column)
    for row in data["deliveries"]:
        text = " / ".join(part for part in (row["last_error"], row["note"]) if part)
        table.add_row(
            row["destination"],
            row["state"],
            str(row["attempts"]),
            row["remote_id"] or "",
            " since ".join(part for part in (row.get("remote_status"), row.get("remote_status_at")) if part),
            redact(text),
        )
    console.print(table)
    attempts = Table(title="Attempts")
    for column in ("at", "destination", "operation", "outcome", "http", "message"):
        attempts.add_column(column)
    for row in data["attempts"]:
        attempts.add_row(
            row["at"],
            row["destination"],
            row["operation"] or "",
            row["outcome"],
            str(row["http_status"] or ""),
            redact(row["message"] or ""),
        )
    console.print(attempts)
    if data.get("tracking"):
        track = data["tracking"]
        console.print(
            f"Tracktor {track['tracktor_id']}: {track['shipment_status'] or 'no status yet'}"
            + (f", EXCEPTION {track['exception_status']}" if track["exception_status"] else "")
            + (f", carrier {track['carrier']}" if track["carrier"] else "")
            + (f", tracking {track['tracking_number']}" if track["tracking_number"] else "")
        )
    for row in data.get("writebacks") or []:
        text = f"written back {row['applied_at']}: {row['source']} {row['remote_status']}: {row['action']}"
        console.print(redact(text))


@main.command()
@click.option("--dry-run", is_flag=True, help="Only show what would be written.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON for scripts.")
@config_option
@friendly_errors
def writeback(dry_run: bool, as_json: bool, config_file: str | None) -> None:
    """Read platform statuses now and apply them to WooCommerce orders (or show what would change)."""
    import threading

    from sync_daemon.core import logs
    from sync_daemon.service.runner import build_engine, build_status_writer, open_ledger

    settings = load_settings(config_file)
    logs.configure(settings.log_level, settings.log_format)
    ledger = open_ledger(settings)
    engine = build_engine(settings, ledger, threading.Event())
    try:
        engine.pull_statuses()
        writer = build_status_writer(engine)
        writer.pull_tracking()
        plans = writer.apply(dry_run=dry_run)
    finally:
        engine.close()
        ledger.close()
    if as_json:
        print_json([plan.as_dict() for plan in plans])
        return
    if not plans:
        click.echo("nothing to write back")
    for plan in plans:
        change = f"{plan.status_before} → {plan.status_after}" if plan.status_after else f"stays {plan.status_before}"
        prefix = "would write" if dry_run else "wrote"
        click.echo(redact(f"order {plan.order_id}: {prefix}: status {change}; notes: {'; '.join(plan.notes) or '-'}"))
        if plan.error:
            click.echo(redact(f"  error: {plan.error}"))


@main.command("test-connection")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON for scripts.")
@config_option
@friendly_errors
def test_connection(names: tuple[str, ...], as_json: bool, config_file: str | None) -> None:
    """Check WooCommerce and every enabled platform (or NAMES) without creating anything.

    One line each: OK with what was verified, or FAILED with the cause and what to do.
    Exit code 0 only when every check passes.
    """
    from sync_daemon.config import config_path, load_for_checks
    from sync_daemon.setup.checks import check_all, format_line

    settings, invalid = load_for_checks(config_file)
    results = check_all(settings, list(names), config_file=config_path(config_file), invalid=invalid)
    if as_json:
        print_json([vars(result) for result in results])
    else:
        for result in results:
            click.echo(format_line(result))
    if not all(result.ok for result in results):
        sys.exit(EXIT_FAILED)
    if invalid.get(""):
        fail("the connections work, but other settings are invalid: " + "; ".join(invalid[""]), EXIT_CONFIG)


@main.command()
@click.argument("name")
@click.option("--endpoint", help="Endpoint / shop / base URL.")
@click.option("--key", help="Key or id (consumer key, GoTrack API key, ShopBack offer id, Tracktor uuid).")
@click.option(
    "--secret",
    help="Secret: consumer secret, API secret, OrderRepo API key, ShopBack token (visible in the process list: "
    "prefer stdin or the prompt).",
)
@click.option("--origin", help="OrderRepo only: the domain added to the project, sent as Origin.")
@click.option("--no-test", is_flag=True, help="Save without the connection test (a warning is printed).")
@click.option(
    "--credentials-dir",
    type=click.Path(file_okay=False),
    help="Write secrets as systemd credential files DIR/<section>.<key> instead of into the TOML.",
)
@config_option
@friendly_errors
def connect(
    name: str,
    endpoint: str | None,
    key: str | None,
    secret: str | None,
    origin: str | None,
    no_test: bool,
    credentials_dir: str | None,
    config_file: str | None,
) -> None:
    """Save & Test Connection for NAME (woocommerce, gotrack, orderrepo, …).

    Asks for what is not given as an option (secrets without echo); when stdin is not a terminal,
    reads them from it, one per line (endpoint, key, secret; an empty line keeps the current value).
    Values are trimmed and checked, the connection is tested, and only when it passes are they
    written into the config file (comments kept, atomically, mode 0600).
    """
    from sync_daemon.setup.connect import run_connect

    given = {"endpoint": endpoint, "key": key, "secret": secret, "extra": origin}
    sys.exit(
        run_connect(name, config_file=config_file, given=given, credentials_dir=credentials_dir, test=not no_test)
    )


@main.command()
@click.option("--passes", default=3, show_default=True, type=click.IntRange(1, 20), help="How many sync passes.")
@friendly_errors
def demo(passes: int) -> None:
    """Run the real engine against built-in simulators on 127.0.0.1 and print what synced."""
    from sync_daemon.service.demo import run_demo

    run_demo(passes=passes, echo=click.echo)


from sync_daemon.cli.tracktor import tracktor  # noqa: E402 - the group reuses this module's helpers

main.add_command(tracktor)

if __name__ == "__main__":  # pragma: no cover
    main()
