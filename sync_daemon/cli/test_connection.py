"""``sync-daemon test-connection [NAME…]``: check WooCommerce and the platforms without creating anything."""

from __future__ import annotations

import sys

import click

from sync_daemon.cli.base import EXIT_CONFIG, EXIT_FAILED, config_option, fail, friendly_errors, print_json
from sync_daemon.config import config_path, invalid_configuration, load_for_checks


@click.command("test-connection")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON for scripts.")
@config_option
@friendly_errors
def test_connection(names: tuple[str, ...], as_json: bool, config_file: str | None) -> None:
    """Check WooCommerce and every enabled platform (or NAMES) without creating anything.

    One line each: OK with what was verified, or FAILED with the cause and what to do.
    Exit code 0 only when every check passes.
    """
    # Imported here: the checks pull in every platform client, which --help and the light
    # commands, loading this module too, do not need.
    from sync_daemon.setup.checks import check_all, format_line
    from sync_daemon.setup.offline import check_offline

    settings, invalid = load_for_checks(config_file)
    results = check_all(settings, list(names), config_file=config_path(config_file), invalid=invalid,
                        sources=True)
    if as_json:
        print_json([vars(result) for result in results])
    else:
        for result in results:
            click.echo(format_line(result))
    if not all(result.ok for result in results):
        sys.exit(EXIT_FAILED)
    # The rest of check-config's list (the connections' own problems are on their lines), in its words.
    report = check_offline(config_file)
    if report.lines({""}):
        fail(invalid_configuration(report.path, report.lines({""})), EXIT_CONFIG)
