"""The PostgreSQL backend: one database shared by several daemons of a shop, and by many shops.

Connections come from a ``psycopg_pool`` pool (a broken one is replaced, so a restarted server is
reconnected to at the next query); each is bound to the shop by the ``sync_daemon.shop_id`` setting,
which the row-level security of every table checks (``postgres_schema``). The queries' ``?``
placeholders and conflict targets are translated here, once per statement text.

Several daemons at once: rows are leased (``FOR UPDATE SKIP LOCKED`` and ``leased_until``, in
``deliveries``), and one daemon per shop leads, holding a session advisory lock on a connection of
its own: the server drops it when that connection ends, so a daemon killed or cut off loses the lead
and another takes it at its next try.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from secrets import token_hex
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from sync_daemon.core.errors import ConfigurationError, LedgerUnavailable
from sync_daemon.ledger import Ledger
from sync_daemon.ledger.postgres_schema import (
    BASELINE,
    CREATE_VERSION_TABLE,
    MIGRATIONS,
    SHOP_SETTING,
    TABLES,
    VERSION_TABLE,
)
from sync_daemon.ledger.schema import POSTGRES_BASELINE, SCHEMA_VERSION
from sync_daemon.ledger.store import Store

CONNECT_TIMEOUT_SECONDS = 10
HEALTH_TIMEOUT_SECONDS = 2.0
POOL_SIZE = 12  # the pass thread, a committer per platform's workers, the listener, status readers
MIGRATION_LOCK = 0x5D_1ED6E  # one advisory lock key for "a process is migrating this database"
LEADER_LOCK_CLASS = 0x5D_1EADE  # first key of the per-shop leader lock; the second is the shop's hash
# A dead host's leader connection is noticed by the server within about idle + interval × count seconds.
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}
SERVER_KEEPALIVE = "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"
# What translate rewrites, and the quoted text it leaves alone: a string literal ('it''s') or a quoted
# identifier, in which a ? is not a placeholder (a % is doubled everywhere: psycopg reads every one).
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|%|ON CONFLICT \(")
# SQLSTATEs of a server that answered and refused: invalid_password, invalid_authorization_specification
# (no such role, not allowed to log in, no pg_hba.conf entry), invalid_catalog_name (no such database).
LOGIN_REFUSED_SQLSTATES = frozenset({"28P01", "28000", "3D000"})


def _translated(match: re.Match[str]) -> str:
    token = match.group()
    if token == "?":
        return "%s"
    if token.startswith("ON CONFLICT"):
        # Every unique key of a shop's table starts with shop_id (the column the queries never name).
        return "ON CONFLICT (shop_id, "
    return token.replace("%", "%%")


@lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """A query written for both backends, as psycopg takes it: ``%s`` placeholders, shop-wide keys."""
    return _TOKENS.sub(_translated, sql)


def display_url(url: str) -> str:
    """The URL as people may see it: user, host, port and database, never a password."""
    parts = conninfo_to_dict(url)
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"


class _Connection:
    """A pooled psycopg connection that takes the queries as they are written."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        """Run one statement; returns its cursor."""
        return self.raw.execute(translate(sql), parameters)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> psycopg.Cursor[Any]:
        """Run one statement per row; the cursor's rowcount is the rows changed in all."""
        cursor = self.raw.cursor()
        cursor.executemany(translate(sql), rows)
        return cursor


class PostgresStore(Store):
    """A shop's share of a PostgreSQL ledger; used by many threads, each on a pooled connection."""

    shared = True
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, *, shop_id: str, password: str | None = None, lease_seconds: float = 120.0) -> None:
        self.url = url
        self.shop_id = shop_id
        self.lease_seconds = lease_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{token_hex(3)}"
        extra = {"password": password} if password else {}
        self._conninfo = make_conninfo(
            url, connect_timeout=CONNECT_TIMEOUT_SECONDS, application_name="sync-daemon", **extra
        )
        self._local = threading.local()
        self._closed = False
        self._leader: psycopg.Connection[Any] | None = None
        self._leading = False
        self._leader_lock = threading.Lock()
        first = _connect(self._conninfo, self.location)  # a clear error now, rather than a pool timeout
        try:
            _refuse_unbound_role(first)
        finally:
            first.close()
        self.pool = ConnectionPool(
            self._conninfo,
            min_size=1,
            max_size=POOL_SIZE,
            kwargs={"autocommit": True},
            # No check at each checkout (a round trip per query): a connection the server dropped fails
            # its query, the pool discards it as broken, and the next query gets a new one.
            configure=self._bind_to_shop,
            name="sync-daemon-ledger",
            timeout=CONNECT_TIMEOUT_SECONDS,  # a query waits this long for a connection, then the ledger is down
            open=False,
        )
        self.pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
        try:
            self._migrate()
        except BaseException:
            self.pool.close()
            raise

    @property
    def location(self) -> str:
        """The database (no password) and this shop's name in it."""
        return f"{display_url(self.url)} (shop {self.shop_id})"

    def _bind_to_shop(self, raw: psycopg.Connection[Any]) -> None:
        raw.execute("SELECT set_config(%s, %s, false)", [SHOP_SETTING, self.shop_id])

    @contextmanager
    def _connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection[Any]]:
        """This thread's connection: the one of its open transaction, else one from the pool."""
        current = getattr(self._local, "connection", None)
        if current is not None:
            yield current
            return
        if self._closed:
            raise LedgerUnavailable(f"the ledger {self.location} is closed")
        try:
            with self.pool.connection(timeout=timeout) as raw:
                self._local.connection = raw
                try:
                    yield raw
                finally:
                    self._local.connection = None
        except (psycopg.OperationalError, PoolTimeout) as error:
            raise LedgerUnavailable(f"the ledger {self.location} is unreachable: {_first_line(error)}") from error

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows as tuples."""
        with self._connection() as raw:
            return raw.execute(translate(sql), params).fetchall()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts; the shop, the same in every row, is left out."""
        with self._connection() as raw:
            rows = raw.cursor(row_factory=dict_row).execute(translate(sql), params).fetchall()
        for row in rows:
            row.pop("shop_id", None)
        return rows

    @contextmanager
    def transaction(self) -> Iterator[_Connection]:
        """One atomic write on this thread's connection (nested: a savepoint)."""
        with self._connection() as raw, raw.transaction():
            yield _Connection(raw)

    def refuses_data(self, error: Exception) -> bool:
        """Values PostgreSQL will not take (a NUL in a text, a number out of range, a value over a limit)."""
        # A limit exceeded is an OperationalError, which ``_connection`` reports as the ledger unreachable.
        cause = error.__cause__ if isinstance(error, LedgerUnavailable) else error
        refused = psycopg.DataError | psycopg.IntegrityError | psycopg.errors.ProgramLimitExceeded
        return super().refuses_data(error) or isinstance(cause, refused)

    @contextmanager
    def snapshot(self) -> Iterator[_Connection]:
        """A repeatable-read transaction: several reads that see one moment."""
        with self._connection() as raw:
            raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield _Connection(raw)
            finally:
                raw.execute("ROLLBACK")

    def schema_version(self) -> int:
        """The schema version of the database (0 before the first migration)."""
        rows = self._fetch(f"SELECT version FROM {VERSION_TABLE} WHERE id = 1")
        return int(rows[0][0]) if rows else 0

    def _migrate(self) -> None:
        """Create the tables or apply the missing migrations, one process at a time."""
        with self._connection() as raw, raw.transaction():
            # Daemons starting together: the first migrates, the others wait here, then see it done.
            raw.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
            raw.execute(CREATE_VERSION_TABLE)
            row = raw.execute(f"SELECT version FROM {VERSION_TABLE} WHERE id = 1").fetchone()
            current = int(row[0]) if row else 0
            if current > SCHEMA_VERSION:
                raise ConfigurationError(
                    f"the ledger {display_url(self.url)} has schema version {current}, newer than this"
                    f" sync-daemon ({SCHEMA_VERSION}); upgrade sync-daemon on every host that uses it"
                )
            if current == 0:
                for statement in BASELINE:
                    raw.execute(statement)
                current = POSTGRES_BASELINE
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version]:
                    raw.execute(statement)
                current = version
            raw.execute(
                f"INSERT INTO {VERSION_TABLE} (id, version) VALUES (1, %s)"
                " ON CONFLICT (id) DO UPDATE SET version = excluded.version",
                [current],
            )

    def close(self) -> None:
        """Give up the lead and close every connection (a second call does nothing)."""
        if self._closed:
            return
        self._closed = True
        with self._leader_lock:
            if self._leader is not None:
                self._leader.close()  # the server releases the advisory lock with the session
                self._leader = None
                self._leading = False
        self.pool.close()

    def file_bytes(self) -> int:
        """Bytes the ledger's tables and indexes take in the database (all shops together)."""
        rows = self._fetch(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r'"
            " AND n.nspname = current_schema() AND c.relname = ANY(?)",
            [list(TABLES)],
        )
        return int(rows[0][0])

    def auto_vacuum(self) -> str:
        """PostgreSQL's autovacuum gives dead rows' space to new ones; the server manages the files."""
        return "server (autovacuum)"

    def vacuum(self) -> None:
        """VACUUM (ANALYZE) the ledger's tables now (beside running daemons: it takes no exclusive lock)."""
        with self._connection() as raw:
            for table in TABLES:
                raw.execute(f"VACUUM (ANALYZE) {table}")

    def write_problem(self) -> str | None:
        """What keeps the ledger from taking writes now (unreachable, a read-only standby), or None."""
        try:
            # Quickly: a health probe must answer within its own timeout, even with the server gone.
            with self._connection(timeout=HEALTH_TIMEOUT_SECONDS) as raw:
                read_only = raw.execute("SELECT current_setting('transaction_read_only')").fetchone()[0]
        except (LedgerUnavailable, psycopg.Error) as error:
            return _first_line(error)
        return "the database is read-only (a standby?)" if read_only == "on" else None

    # -- leadership -----------------------------------------------------------------------

    def try_lead(self) -> bool:
        """Take or keep this shop's leader lock on a connection of its own; True while held."""
        with self._leader_lock:
            if self._closed:
                return False
            try:
                if self._leader is None or self._leader.closed:
                    self._leader = psycopg.connect(
                        self._conninfo, autocommit=True, options=SERVER_KEEPALIVE, **KEEPALIVE
                    )
                    self._leading = False
                if self._leading:
                    self._leader.execute("SELECT 1")  # the session, and so its lock, still stands
                    return True
                row = self._leader.execute(
                    "SELECT pg_try_advisory_lock(%s, hashtext(%s))", [LEADER_LOCK_CLASS, self.shop_id]
                ).fetchone()
                self._leading = bool(row and row[0])
                return self._leading
            except psycopg.Error:
                # The session is gone, and its lock with it: someone else may lead by now.
                if self._leader is not None:
                    self._leader.close()
                self._leader, self._leading = None, False
                return False


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _connect(conninfo: str, location: str) -> psycopg.Connection[Any]:
    """One connection, or an error that says what is wrong in one line (never the password)."""
    try:
        return psycopg.connect(conninfo, autocommit=True)
    except psycopg.OperationalError as error:
        message = _first_line(error)
        if _login_refused(error):
            raise ConfigurationError(
                f"the ledger {location} refused the login: {message} (check [ledger] password,"
                " SYNC_DAEMON_LEDGER__PASSWORD or the ledger.password credential, and the role and"
                " database in [ledger] url)"
            ) from None
        raise LedgerUnavailable(f"the ledger {location} is unreachable: {message}") from None


def _login_refused(error: psycopg.OperationalError) -> bool:
    """The server answered and refused this login (a wrong setting: restarting will not help).

    Told by codes, never by the message, which the server may give in another language: the
    SQLSTATE when psycopg has one; for a failed connection it has none (libpq keeps the server's
    code to itself), and then libpq's record of the exchange: the server asked for a password
    (none was given, or it was used and the login still failed: wrong, or the role or database
    does not exist). A server that is down, unreachable or starting up never got that far.
    """
    if error.sqlstate is not None:
        return error.sqlstate in LOGIN_REFUSED_SQLSTATES
    connection = error.pgconn
    return connection is not None and bool(connection.needs_password or connection.used_password)


def _refuse_unbound_role(raw: psycopg.Connection[Any]) -> None:
    """Row-level security keeps the shops apart, and it does not bind superusers: refuse to run as one."""
    row = raw.execute("SELECT rolsuper OR rolbypassrls, rolname FROM pg_roles WHERE rolname = current_user").fetchone()
    if row and row[0]:
        raise ConfigurationError(
            f"the ledger's role {row[1]!r} is a superuser or bypasses row-level security, which keeps"
            " the shops of one database apart: connect as an ordinary role that owns the database"
            " (docs/postgresql.md)"
        )


class PostgresLedger(Ledger, PostgresStore):
    """A shop's share of a PostgreSQL ledger, which several daemons may use at once."""
