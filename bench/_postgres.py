"""What the PostgreSQL benchmarks share: a throw-away cluster, a ledger section for the config, and a
read-only look at one shop's rows from outside the daemons.

The cluster is ``tests/postgres_server.py`` (``initdb`` in a temp dir under /tmp, a free loopback port;
as root it runs as the ``postgres`` user). That one is tuned for tests (``fsync=off``,
``synchronous_commit=off``, ``full_page_writes=off``); ``durable=True`` starts it with PostgreSQL's own
defaults instead, as a production server runs, so every commit waits for its WAL flush.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
import tomlkit

from tests.postgres_server import PostgresServer, start_server

LEDGER_PASSWORD = "bench-ledger-password"
SHOP_SETTING = "sync_daemon.shop_id"
FAST_OPTIONS = "fsync=off, synchronous_commit=off, full_page_writes=off (the test cluster: speed over durability)"
DURABLE_OPTIONS = "fsync=on, synchronous_commit=on, full_page_writes=on (PostgreSQL's defaults: durable commits)"


class _DurableServer(PostgresServer):
    """The test cluster, started with PostgreSQL's durable defaults instead of the test shortcuts."""

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c max_connections=300"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")


class Cluster:
    """A throw-away PostgreSQL cluster for one benchmark run; ``with Cluster() as cluster: …``."""

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        # Under /tmp (mkdtemp), never a private temp dir: as root the server runs as the postgres user.
        self.base = Path(tempfile.mkdtemp(prefix="sync-daemon-bench-pg-"))
        try:
            if durable:
                server: PostgresServer = _DurableServer(self.base)
                server.init()
                server.start()
            else:
                server = start_server(self.base)
        except BaseException:
            shutil.rmtree(self.base, ignore_errors=True)
            raise
        self.server = server

    @property
    def settings(self) -> str:
        """The server settings that matter for write speed, as printed with the figures."""
        return DURABLE_OPTIONS if self.durable else FAST_OPTIONS

    def version(self) -> str:
        """The server's version string (first words)."""
        with self.server.admin() as admin:
            row = admin.execute("SHOW server_version").fetchone()
        return f"PostgreSQL {row[0]}" if row else "PostgreSQL"

    def database(self, prefix: str = "bench") -> str:
        """A fresh database owned by an ordinary role (password ``LEDGER_PASSWORD``); returns its URL."""
        return self.server.create_database(f"{prefix}_{uuid.uuid4().hex[:8]}", LEDGER_PASSWORD)

    def close(self) -> None:
        """Stop the server (immediately: it is thrown away) and remove its files."""
        try:
            self.server.stop("immediate")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def add_ledger_section(
    config: Path,
    url: str,
    *,
    shop_id: str,
    lease_seconds: float | None = None,
    leader_check_seconds: float | None = None,
    password: str = LEDGER_PASSWORD,
) -> Path:
    """Point a config written by ``daemon_config`` at a PostgreSQL ledger (the password in the file, mode 0600)."""
    document = tomlkit.parse(config.read_text())
    section: dict[str, Any] = {"url": url, "password": password, "shop_id": shop_id}
    if lease_seconds is not None:
        section["lease_seconds"] = lease_seconds
    if leader_check_seconds is not None:
        section["leader_check_seconds"] = leader_check_seconds
    document["ledger"] = section
    config.write_text(tomlkit.dumps(document))
    config.chmod(0o600)
    return config


class PostgresLedgerReader:
    """One shop's rows of a PostgreSQL ledger, read as the ledger's own role (row-level security applies).

    The same ``query`` and ``states`` as ``bench._common.LedgerReader``; the queries' ``?`` become ``%s``.
    """

    def __init__(self, url: str, shop_id: str, password: str = LEDGER_PASSWORD) -> None:
        self.url, self.shop_id, self.password = url, shop_id, password
        self._db: psycopg.Connection[Any] | None = None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._db is None or self._db.closed:
            self._db = psycopg.connect(self.url, password=self.password, autocommit=True, connect_timeout=10)
            self._db.execute("SELECT set_config(%s, %s, false)", [SHOP_SETTING, self.shop_id])
        return self._db

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a query; an empty list while the tables do not exist yet. Reconnects once if the server
        went away (a restart)."""
        for attempt in (1, 2):
            try:
                return self._connection().execute(sql.replace("?", "%s"), params).fetchall()
            except psycopg.errors.UndefinedTable:
                return []
            except psycopg.OperationalError:
                self.close()
                if attempt == 2:
                    raise
        return []

    def states(self) -> dict[str, dict[str, int]]:
        """destination → state → rows."""
        counts: dict[str, dict[str, int]] = {}
        for destination, state, count in self.query(
            "SELECT destination, state, COUNT(*) FROM deliveries GROUP BY destination, state"
        ):
            counts.setdefault(destination, {})[state] = count
        return counts

    def delivered(self) -> int:
        """Rows delivered, all destinations together."""
        rows = self.query("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'")
        return int(rows[0][0]) if rows else 0

    def close(self) -> None:
        """Close the connection."""
        if self._db is not None:
            self._db.close()
            self._db = None
