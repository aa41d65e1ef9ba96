"""The schema version a ledger holds, read without opening it (opening applies the migrations).

``sync-daemon ledger migrate`` reads it first, so that it can say which version it upgraded from.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def sqlite_version(path: Path) -> int:
    """``PRAGMA user_version`` of a ledger file; 0 when there is no file yet."""
    if not Path(path).exists():
        return 0
    connection = sqlite3.connect(str(path), timeout=30)
    try:
        return int(connection.execute("PRAGMA user_version").fetchone()[0])
    finally:
        connection.close()


def postgres_version(url: str, *, password: str | None) -> int | None:
    """The version in a PostgreSQL ledger's ``sync_daemon_schema`` (0 before the first migration).

    None when psycopg is not installed: opening the ledger then says what to install.
    """
    try:
        from psycopg.conninfo import make_conninfo

        from sync_daemon.ledger.postgres import CONNECT_TIMEOUT_SECONDS, _connect, display_url
        from sync_daemon.ledger.postgres_schema import VERSION_TABLE
    except ImportError:
        return None
    extra = {"password": password} if password else {}
    conninfo = make_conninfo(url, connect_timeout=CONNECT_TIMEOUT_SECONDS, application_name="sync-daemon", **extra)
    # The same one-line errors as opening the ledger (a refused login, an unknown database).
    with _connect(conninfo, display_url(url)) as raw:
        if raw.execute("SELECT to_regclass(%s)", [VERSION_TABLE]).fetchone()[0] is None:
            return 0
        row = raw.execute(f"SELECT version FROM {VERSION_TABLE} WHERE id = 1").fetchone()
        return int(row[0]) if row else 0
