"""``sync-daemon demo``: the real engine against the built-in simulators, no config needed."""

from __future__ import annotations

import click

from sync_daemon.cli.base import friendly_errors


@click.command()
@click.option("--passes", default=3, show_default=True, type=click.IntRange(1, 20), help="How many sync passes.")
@friendly_errors
def demo(passes: int) -> None:
    """Run the real engine against built-in simulators on 127.0.0.1 and print what synced."""
    # Imported here: the simulators and the engine are needed by this command only.
    from sync_daemon.service.demo import run_demo

    run_demo(passes=passes, echo=click.echo)
