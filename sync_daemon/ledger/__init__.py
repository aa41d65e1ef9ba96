"""The SQLite ledger: cursor, one row per (order, destination), the delivery state machine's memory.

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

Modules: ``schema`` (tables and migrations), ``store`` (the file, transactions, meta and cursor),
``ingest`` (orders into rows, resync), ``deliveries`` (due, sending, outcomes), ``pauses``
(destinations), ``tracking`` (tracking and write-back), ``reports`` (read-only views), ``prune``
(retention: old finished orders removed, space given back).
"""

from __future__ import annotations

from sync_daemon.core.outcome import Due, IngestItem, Mapped, Outcome
from sync_daemon.ledger.deliveries import Deliveries
from sync_daemon.ledger.encoding import canonical_json, payload_hash
from sync_daemon.ledger.ingest import Ingest
from sync_daemon.ledger.pauses import Pauses
from sync_daemon.ledger.prune import PruneResult, Retention
from sync_daemon.ledger.reports import Reports
from sync_daemon.ledger.schema import ACTIVE_STATES, FINAL_STATES, MIGRATIONS, SCHEMA_VERSION, STATES
from sync_daemon.ledger.store import WAL_SWITCH_WAIT_SECONDS
from sync_daemon.ledger.tracking import Tracking


class Ledger(Ingest, Deliveries, Pauses, Tracking, Reports, Retention):
    """The daemon's memory; one per process, used from one thread at a time."""


__all__ = [
    "ACTIVE_STATES",
    "FINAL_STATES",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "STATES",
    "WAL_SWITCH_WAIT_SECONDS",
    "Due",
    "IngestItem",
    "Ledger",
    "Mapped",
    "Outcome",
    "PruneResult",
    "canonical_json",
    "payload_hash",
]
