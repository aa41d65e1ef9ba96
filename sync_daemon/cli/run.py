"""``sync-daemon run`` (the daemon), ``check-config`` (offline validation) and ``config-example``."""

from __future__ import annotations

import sys

import click

from sync_daemon.cli.base import EXIT_CONFIG, config_option, fail, friendly_errors
from sync_daemon.config import invalid_configuration


@click.command()
@config_option
@friendly_errors
def run(config_file: str | None) -> None:
    """Run the daemon: poll WooCommerce on a schedule and deliver orders until stopped."""
    # Imported here: the daemon's scheduler, engine and platform clients are not needed by --help
    # or by the light commands, which load this module too.
    from sync_daemon.cli.progress import TerminalProgress
    from sync_daemon.service.runner import run as run_daemon

    # In the foreground on a terminal, a long pass shows a bar (the log prints above it).
    bar = TerminalProgress() if sys.stderr.isatty() else None
    sys.exit(run_daemon(config_file, display=bar, log_stream=bar))


@click.command("check-config")
@config_option
@friendly_errors
def check_config(config_file: str | None) -> None:
    """Validate the configuration offline; lists every problem, exit code 2 when invalid.

    The same checks as test-connection's pre-flight (placeholders, pasted bullets, stray spaces,
    a URL into WordPress …), without sending anything.
    """
    # Imported here: the pre-flight pulls in every platform's connection spec.
    from sync_daemon.setup.offline import check_offline

    report = check_offline(config_file)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if report.problems:
        fail(invalid_configuration(report.path, report.lines()), EXIT_CONFIG)
    settings = report.settings
    click.echo(
        f"configuration OK: {report.path or 'environment only'}; destinations: "
        f"{', '.join(settings.enabled_destinations())}; ledger in {settings.resolved_state_dir().absolute()}"
    )


@click.command("config-example")
def config_example() -> None:
    """Print the example configuration (every key, commented): sync-daemon config-example > config.toml."""
    from sync_daemon.setup.example import example_text

    click.echo(example_text(), nl=False)
