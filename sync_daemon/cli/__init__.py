"""The command line: parses, calls the library, prints. No business logic lives here.

One module per command (group); ``base`` holds the click group ``main`` and the helpers they share,
and this package registers every command on it, so ``sync_daemon.cli:main`` is the whole CLI.
"""

from __future__ import annotations

from sync_daemon.cli import (
    connect,
    demo,
    ledger,
    problems,
    prune,
    resync,
    run,
    status,
    test_connection,
    tracktor,
    writeback,
)
from sync_daemon.cli.base import main
from sync_daemon.cli.webhooks import webhooks

for command in (
    run.run,
    run.check_config,
    run.config_example,
    status.status,
    problems.problems,
    resync.resync,
    writeback.writeback,
    prune.prune,
    ledger.ledger,
    test_connection.test_connection,
    connect.connect,
    demo.demo,
    tracktor.tracktor,
    webhooks,
):
    # The whole first paragraph of each command's help in the top-level --help (click cuts it at ~45
    # characters otherwise, often mid-sentence).
    command.short_help = command.short_help or " ".join((command.help or "").split("\n\n")[0].split())
    main.add_command(command)

__all__ = ["main"]
