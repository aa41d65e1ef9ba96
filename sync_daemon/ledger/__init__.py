"""The ledger: cursor, one row per (order, destination), the delivery state machine's memory.

This package is the only place that writes SQL, and it stores what the core decides: what an
order read again does to its rows (``sync_daemon.core.transitions``) and when a failed send is
tried again or given up (``sync_daemon.core.retry``). Every change is a transaction; a row is
marked ``sending`` before its request leaves, so after a crash or ``kill -9`` it is sent again
and the platform's idempotency (or our duplicate check) keeps it to one order.

States of a delivery::

    pending ──send──▶ sending ──201/200──▶ delivered ──order changed (update API)──▶ pending
       ▲                 │ 5xx/timeout/429 ──▶ retrying ──(schedule exhausted)──▶ dead
       │                 │ 400/422/unmappable ──▶ rejected
       └──paused/skipped─┘ (auth, quota, throttle: back to pending, no attempt counted)

A rejected or dead row comes back to ``pending`` when the order changes in WooCommerce or a
human runs ``resync``.

Modules: ``schema`` (tables and migrations), ``store`` (what a backend provides, meta and cursor),
``sqlite`` and ``postgres`` (the two backends; ``postgres_schema`` its tables), ``ingest`` (orders into
rows, resync), ``deliveries`` (due, leases, sending, outcomes), ``pauses`` (destinations), ``tracking``
(tracking and write-back), ``reports`` (read-only views), ``prune`` (retention: old finished orders
removed, space given back), ``receipts`` (the outbox of receipts and rejection notes for the
orders), ``daemons`` (who shares the ledger and who leads), ``copy`` (a whole
ledger into another, empty one) and ``versions`` (the stored schema version, read without migrating).
"""

from __future__ import annotations

from sync_daemon.core.outcome import Due, IngestItem, Mapped, Outcome
from sync_daemon.ledger.daemons import Daemons
from sync_daemon.ledger.deliveries import Deliveries
from sync_daemon.ledger.encoding import canonical_json, payload_hash
from sync_daemon.ledger.ingest import Ingest
from sync_daemon.ledger.pauses import Pauses
from sync_daemon.ledger.prune import PruneResult, Retention
from sync_daemon.ledger.receipts import Outbox, OutboxEntry
from sync_daemon.ledger.reports import PASS_PROGRESS_KEY, PROBLEM_STATES, Reports
from sync_daemon.ledger.schema import ACTIVE_STATES, FINAL_STATES, MIGRATIONS, SCHEMA_VERSION, STATES
from sync_daemon.ledger.sqlite import WAL_SWITCH_WAIT_SECONDS, SqliteStore
from sync_daemon.ledger.tracking import Tracking


class Ledger(Ingest, Deliveries, Pauses, Tracking, Reports, Retention, Daemons, Outbox):
    """The daemon's memory, whatever holds it: every query, on the store of a backend."""


class SqliteLedger(Ledger, SqliteStore):
    """The embedded default: ``ledger.sqlite3`` in the state directory, for one daemon."""


def open_postgres(url: str, *, shop_id: str, password: str | None = None, lease_seconds: float = 120.0) -> Ledger:
    """A shop's ledger in a PostgreSQL database (the optional ``postgres`` extra)."""
    try:
        from sync_daemon.ledger.postgres import PostgresLedger
    except ImportError as error:
        from sync_daemon.core.errors import ConfigurationError

        raise ConfigurationError(
            f"[ledger] url is a PostgreSQL database, but psycopg is not installed ({error.name}):"
            " pip install 'sync-daemon[postgres]'"
        ) from None
    return PostgresLedger(url, shop_id=shop_id, password=password, lease_seconds=lease_seconds)


__all__ = [
    "ACTIVE_STATES",
    "FINAL_STATES",
    "MIGRATIONS",
    "PASS_PROGRESS_KEY",
    "PROBLEM_STATES",
    "SCHEMA_VERSION",
    "STATES",
    "WAL_SWITCH_WAIT_SECONDS",
    "Due",
    "IngestItem",
    "Ledger",
    "SqliteLedger",
    "open_postgres",
    "Mapped",
    "Outcome",
    "OutboxEntry",
    "PruneResult",
    "canonical_json",
    "payload_hash",
]
