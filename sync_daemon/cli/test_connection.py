"""``sync-daemon test-connection [NAME…]``: check WooCommerce and the platforms without creating anything."""

from __future__ import annotations

import sys

import click

from sync_daemon.cli.base import EXIT_CONFIG, EXIT_FAILED, config_option, fail, friendly_errors, print_json
from sync_daemon.config import invalid_configuration


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

    # check-config's offline list first: a connection with a problem there fails in its very words,
    # without a request; the others are still checked.
    report = check_offline(config_file)
    invalid = report.by_section()
    results = check_all(report.settings, list(names), config_file=report.path, invalid=invalid, sources=True)
    if as_json:
        print_json([vars(result) for result in results])
    else:
        for result in results:
            click.echo(format_line(result))
    if not all(result.ok for result in results):
        sys.exit(EXIT_FAILED)
    # The rest of check-config's list (the connections' own problems are on their lines).
    if report.lines({""}):
        fail(invalid_configuration(report.path, report.lines({""})), EXIT_CONFIG)
