"""``sync-daemon prune``: remove finished orders older than ``[ledger] retention_days`` now, or show which."""

from __future__ import annotations

import time
from typing import Any

import click

from sync_daemon.cli.base import EXIT_CONFIG, config_option, fail, friendly_errors, print_json
from sync_daemon.config import load_settings


@click.command()
@click.option("--dry-run", is_flag=True, help="Only show what would be removed.")
@click.option(
    "--vacuum",
    is_flag=True,
    help="Then rewrite the ledger file to its smallest size (needs the daemon stopped and free disk space "
    "as big as the file; also switches an older ledger to incremental vacuum).",
)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON for scripts.")
@config_option
@friendly_errors
def prune(dry_run: bool, vacuum: bool, as_json: bool, config_file: str | None) -> None:
    """Remove delivered, rejected and dead orders older than the retention window (the daemon does it hourly)."""
    # Imported here: the composition root pulls in the engine and every platform client, which
    # --help and the light commands, loading this module too, do not need.
    from sync_daemon.app import App, prune_ledger
    from sync_daemon.core.files import StateDirectoryInUse, lock_state_directory

    settings = load_settings(config_file, check=False)
    lock = None
    if vacuum and not dry_run and not settings.ledger.shared:
        # Pruning is small transactions, safe beside a running daemon; a VACUUM holds the write
        # lock for the whole rewrite, so it takes the daemon's lock and refuses while one runs.
        try:
            lock = lock_state_directory(settings.resolved_state_dir())
        except StateDirectoryInUse as error:
            fail(f"--vacuum needs the daemon stopped: sync-daemon (pid {error.holder}) is running on the ledger in "
                 f"{error.directory}; stop it (systemctl stop sync-daemon) and run this again, or prune without "
                 "--vacuum beside it", EXIT_CONFIG)
    try:
        with App(settings) as app:
            ledger = app.ledger
            before = ledger.file_bytes()
            result = prune_ledger(settings, ledger, now=time.time(), dry_run=dry_run)
            if vacuum and not dry_run:
                ledger.vacuum()
            report: dict[str, Any] = {
                "retention_days": settings.ledger.retention_days,
                "dry_run": dry_run,
                "removed": result.as_dict() if result is not None else None,
                "ledger_bytes_before": before,
                "ledger_bytes_after": ledger.file_bytes(),
                "free_bytes": ledger.free_bytes(),
                "auto_vacuum": ledger.auto_vacuum(),
            }
    finally:
        if lock is not None:
            lock.release()
    if as_json:
        print_json(report)
    else:
        _print(report)


def _print(report: dict[str, Any]) -> None:
    removed = report["removed"]
    if removed is None:
        click.echo("retention is off ([ledger] retention_days = 0): nothing is pruned")
    else:
        states = ", ".join(f"{count} {state}" for state, count in sorted(removed["deliveries"].items())) or "none"
        verb = "would remove" if report["dry_run"] else "removed"
        click.echo(
            f"{verb} {removed['orders']} order{'' if removed['orders'] == 1 else 's'} finished more than"
            f" {report['retention_days']} days ago: "
            f"deliveries {states}; {removed['attempts']} attempts, {removed['tracking']} tracking and "
            f"{removed['writebacks']} write-back rows"
        )
    before, after, free = (report[key] / 1024 / 1024 for key in ("ledger_bytes_before", "ledger_bytes_after",
                                                                  "free_bytes"))
    # A dry run changes nothing: the file's size now, and that pruning frees room inside it, not on disk.
    sizes = (f"{before:.1f} MiB now; pruning frees room inside it, the file shrinks only with --vacuum"
             if report["dry_run"] else f"{before:.1f} MiB before, {after:.1f} MiB after")
    click.echo(
        f"ledger file: {sizes} ({free:.1f} MiB free inside it, reused before the file grows;"
        f" auto-vacuum {report['auto_vacuum']})"
    )
