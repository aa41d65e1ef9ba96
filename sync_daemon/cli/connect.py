"""``sync-daemon connect NAME``: the command only; prompting, testing and saving live in ``setup.connect``."""

from __future__ import annotations

import sys

import click

from sync_daemon.cli.base import config_option, friendly_errors


@click.command()
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
    # Imported here: connecting pulls in every platform's connection check, which --help and the
    # light commands, loading this module too, do not need.
    from sync_daemon.setup.connect import run_connect

    given = {"endpoint": endpoint, "key": key, "secret": secret, "extra": origin}
    sys.exit(
        run_connect(name, config_file=config_file, given=given, credentials_dir=credentials_dir, test=not no_test)
    )
