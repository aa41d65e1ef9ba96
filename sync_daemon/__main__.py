"""``python -m sync_daemon`` is the same as the ``sync-daemon`` command."""

from .cli import main

main(prog_name="sync-daemon")
