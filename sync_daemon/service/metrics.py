"""Prometheus metrics of the daemon, served at ``GET /metrics`` by the listener.

Counters the daemon itself moves (polls, webhooks, re-reads, re-activations) live in memory.
What the ledger knows (deliveries by state, attempts, pauses, its size, latency to delivery) is
read at scrape time through a connection of its own (``LedgerView``): a read-only SQLite connection,
which WAL lets read beside the pass thread's writes, or a pooled PostgreSQL one; either way a scrape
never waits for a pass and never blocks one.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from sync_daemon.ledger.encoding import iso_stamp

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, float("inf"))
_LATENCY_WINDOW_SECONDS = 86_400  # deliveries of the last day make the latency histogram


def _seconds(stamp: str | None) -> float | None:
    try:
        return datetime.fromisoformat(stamp).timestamp() if stamp else None
    except ValueError:
        return None


def read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to the ledger that gives up quickly instead of waiting for a writer."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0, check_same_thread=False)


@dataclass(frozen=True)
class LedgerView:
    """How a scrape reads the ledger: a connection for a few queries, and the ledger's size in bytes."""

    reader: Callable[[], AbstractContextManager[Any]]
    size: Callable[[], int]

    @classmethod
    def of_file(cls, path: Path) -> LedgerView:
        """A SQLite ledger, read through its own read-only connection (WAL: beside the writer, never waiting)."""
        path = Path(path)

        @contextmanager
        def reader() -> Iterator[sqlite3.Connection]:
            connection = read_only(path)
            try:
                yield connection
            finally:
                connection.close()

        files = (path, Path(f"{path}-wal"))
        return cls(reader, lambda: sum(p.stat().st_size for p in files if p.exists()))

    @classmethod
    def of_store(cls, ledger: Any) -> LedgerView:
        """A shared (PostgreSQL) ledger: a pooled connection in a read-only snapshot."""
        return cls(ledger.snapshot, ledger.file_bytes)


class LedgerCollector(Collector):
    """Gauges read from the ledger at scrape time."""

    def __init__(self, view: LedgerView, clock=time.time) -> None:  # noqa: ANN001 - a plain callable
        self.view = view
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
        """Deliveries, attempts, pauses, ledger size and delivery latency, from one reading connection."""
        size = GaugeMetricFamily("sync_daemon_ledger_bytes", "Size of the ledger (file and WAL, or tables) in bytes")
        try:
            size.add_metric([], self.view.size())
            with self.view.reader() as connection:
                series = list(self._from_ledger(connection))
        except Exception:  # noqa: BLE001 - a locked, half-migrated or unreachable ledger: no ledger series
            return
        yield size
        yield from series

    def _from_ledger(self, connection: Any) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
        deliveries = GaugeMetricFamily(
            "sync_daemon_deliveries", "Delivery rows by platform and state", labels=["platform", "state"]
        )
        for name, state, count in connection.execute(
            "SELECT destination, state, count(*) FROM deliveries GROUP BY destination, state"
        ):
            deliveries.add_metric([name, state], count)
        yield deliveries
        attempts = GaugeMetricFamily(
            "sync_daemon_attempts", "Attempts recorded in the ledger by platform and outcome",
            labels=["platform", "outcome"],
        )
        for name, outcome, count in connection.execute(
            "SELECT destination, outcome, count(*) FROM attempts GROUP BY destination, outcome"
        ):
            attempts.add_metric([name, outcome], count)
        yield attempts
        pauses = GaugeMetricFamily("sync_daemon_paused", "Platforms paused now, by kind", labels=["platform", "kind"])
        for name, kind in connection.execute(
            "SELECT name, COALESCE(pause_kind, 'unknown') FROM destinations WHERE paused_until > ?", [self.clock()]
        ):
            pauses.add_metric([name, kind], 1)
        yield pauses
        yield self._latency(connection)

    def _latency(self, connection: Any) -> HistogramMetricFamily:
        histogram = HistogramMetricFamily(
            "sync_daemon_order_delivery_latency_seconds",
            "From the order's first read to its delivery, per platform, for deliveries of the last day",
            labels=["platform"],
        )
        since = iso_stamp(self.clock() - _LATENCY_WINDOW_SECONDS)
        rows = connection.execute(
            "SELECT d.destination, o.first_seen_at, d.delivered_at FROM deliveries d JOIN orders o"
            " ON o.order_id = d.order_id WHERE d.delivered_at IS NOT NULL AND d.delivered_at >= ?",
            [since],
        ).fetchall()
        by_platform: dict[str, list[float]] = {}
        for name, first_seen, delivered in rows:
            start, end = _seconds(first_seen), _seconds(delivered)
            if start is not None and end is not None:
                by_platform.setdefault(name, []).append(max(end - start, 0.0))
        for name, values in sorted(by_platform.items()):
            buckets = [(str(bound), sum(1 for v in values if v <= bound)) for bound in LATENCY_BUCKETS]
            histogram.add_metric([name], [(b if b != "inf" else "+Inf", c) for b, c in buckets], sum(values))
        return histogram


class Metrics:
    """The daemon's metrics registry (its own, not the process-global one)."""

    def __init__(self, ledger: Path | LedgerView | None = None) -> None:
        self.registry = CollectorRegistry()
        self._lock = threading.Lock()
        self.last_success_at: float | None = None
        self.webhooks = Counter(
            "sync_daemon_webhooks_received", "Webhook deliveries received, by source and verdict",
            ["source", "verdict"], registry=self.registry,
        )
        self.polls = Counter("sync_daemon_polls", "Polls by result", ["result"], registry=self.registry)
        self.poll_duration = Histogram(
            "sync_daemon_poll_duration_seconds", "Duration of a poll (read, record, deliver)",
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900), registry=self.registry,
        )
        self.last_poll = Gauge(
            "sync_daemon_last_successful_poll_timestamp_seconds", "When the last successful poll ended",
            registry=self.registry,
        )
        self.last_pass_failed = Gauge(
            "sync_daemon_last_pass_failed", "1 when the last pass itself failed (not WooCommerce): see the log",
            registry=self.registry,
        )
        self.last_pass_error: str | None = None
        self.orders_unstorable = Counter(
            "sync_daemon_orders_unstorable", "Orders the ledger could not store even as rejections: left out",
            registry=self.registry,
        )
        self.rereads = Counter(
            "sync_daemon_orders_reread", "Orders re-read on purpose, by reason and what was found",
            ["reason", "found"], registry=self.registry,
        )
        self.webhooks_reactivated = Counter(
            "sync_daemon_webhooks_reactivated", "WooCommerce webhooks found disabled and re-activated",
            registry=self.registry,
        )
        if ledger is not None:
            self.watch(ledger if isinstance(ledger, LedgerView) else LedgerView.of_file(ledger))

    def watch(self, view: LedgerView) -> None:
        """Read the ledger's series through ``view`` at every scrape from now on."""
        self.registry.register(LedgerCollector(view))

    def poll_finished(
        self, seconds: float, ok: bool, *, now: float | None = None, error: str | None = None, unstorable: int = 0
    ) -> None:
        """Record one poll's duration and result; ``error``: the pass itself failed (result ``error``)."""
        self.poll_duration.observe(seconds)
        self.polls.labels("error" if error else "ok" if ok else "failed").inc()
        self.last_pass_error = error
        self.last_pass_failed.set(1 if error else 0)
        if unstorable:
            self.orders_unstorable.inc(unstorable)
        if ok:
            with self._lock:
                self.last_success_at = now if now is not None else time.time()
            self.last_poll.set(self.last_success_at)

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
