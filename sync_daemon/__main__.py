"""``python -m sync_daemon`` is the same as the ``sync-daemon`` command."""

from sync_daemon.cli import main

main(prog_name="sync-daemon")
