"""Being told, not only asking: the listener, its hints, the reconcile sweep and the metrics, for the runner.

The runner owns the schedule; this module gives it the pieces. Hints from the listener wake a
one-shot job on the scheduler's single worker thread (the same thread as every pass), so the
ledger keeps exactly one writer and a hint waits behind a running pass rather than beside it.
The job starts ``HINT_GATHER_SECONDS`` after the first hint and takes the waiting ids only once it
holds the engine: a new order's ``order.created`` and ``order.updated`` (about 0.15 s apart) are
then one read, and so is every hint that arrives while the job waits; a hint arriving after the
read has begun queues the next read (the order may have changed since).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from sync_daemon.config import Settings
from sync_daemon.core.errors import SyncError
from sync_daemon.core.redaction import redact
from sync_daemon.engine.reconcile import reread_orders, sweep
from sync_daemon.engine.sync import Engine
from sync_daemon.service.health import Health
from sync_daemon.service.hints import EVERYTHING, HintBox
from sync_daemon.service.listener import Listener, ListenerApp, Routes
from sync_daemon.service.metrics import LedgerView, Metrics
from sync_daemon.source import webhook_admin

log = structlog.get_logger("sync_daemon.intake")
RECONCILE_JOB = "reconcile"
LEDGER_FILE = "ledger.sqlite3"
HINT_GATHER_SECONDS = 0.5  # a new order's two webhooks come ~0.15 s apart: wait for both, read once

Guarded = Callable[[str, Callable[[Engine], Any]], None]
PullTracking = Callable[[Sequence[str] | None], None]


class Intake:
    """Hints, metrics and (when enabled) the listener of one daemon."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ledger_path = settings.resolved_state_dir() / LEDGER_FILE
        # A SQLite ledger is read by path (its own read-only connection); a shared one once attached.
        self._shared_ledger: Any = None
        self.metrics = Metrics(None if settings.ledger.shared else self.ledger_path)
        self.hints: HintBox[int] = HintBox(self._wake)
        self.tracktor_hints: HintBox[str] = HintBox(self._wake_tracking)
        self._add_job: Callable[..., Any] | None = None
        self._guarded: Guarded | None = None
        self._tracking_jobs: PullTracking = lambda only: None
        self.listener: Listener | None = None
        self._polls = 0
        if settings.server.enabled:
            # Bound now, before the ledger is opened: a port in use is a clear error (exit 2) at start.
            self.listener = self._new_listener(settings)

    def _new_listener(self, settings: Settings) -> Listener:
        """A listener bound as ``settings.server`` says (ConfigurationError when it cannot bind)."""
        ledger = self._ledger_problem if settings.ledger.shared else self.ledger_path
        health = Health(ledger, lambda: self.settings.poll_interval_seconds, lambda: self.metrics.last_success_at,
                        last_pass_error=lambda: self.metrics.last_pass_error)
        routes = Routes(lambda: self.settings.server, self.hints, self.metrics, health, self.tracktor_hints)
        return Listener(ListenerApp(routes), settings.server)

    def reload(self, settings: Settings) -> str | None:
        """Take new settings: start, stop or move the listener as ``[server]`` now says; what was done, if anything.

        Secrets and the other values are read per request, so only the switch, the address and the
        server's own limits need a new listener. A new address is bound before the old one closes, so a
        port in use raises ConfigurationError with the old listener still serving; the same address
        (new limits) is closed first, or it could not be bound again.
        """
        old, new = self.settings.server, settings.server
        shape = ("enabled", "listen", "threads", "max_body_bytes")
        if all(getattr(old, key) == getattr(new, key) for key in shape):
            self.settings = settings
            return None
        if self.listener is not None and (not new.enabled or new.listen == old.listen):
            self.listener.stop()
            self.listener = None
        replacement = self._new_listener(settings) if new.enabled else None
        previous, self.listener, self.settings = self.listener, replacement, settings
        if previous is not None:
            previous.stop()
        if replacement is None:
            return "listener stopped" if old.enabled else None
        if self._add_job is not None:  # started: serve at once (else start() will)
            replacement.start()
        host, port = replacement.address
        verb = "started on" if not old.enabled else "restarted on" if old.listen == new.listen else "moved to"
        return f"listener {verb} {host}:{port}"

    def start(self, add_job: Callable[..., Any], guarded: Guarded, pull_tracking: PullTracking) -> None:
        """Start serving; ``add_job`` queues a function on the scheduler, ``guarded`` runs one under the lock.

        ``pull_tracking(only)`` reads the tracking of the orders with these tracking ids now (None: all due).
        """
        self._add_job, self._guarded, self._tracking_jobs = add_job, guarded, pull_tracking
        if self.listener is not None:
            self.listener.start()

    def attach(self, ledger: Any) -> None:
        """The open ledger: a shared one is read by ``/metrics`` and checked by ``/healthz`` through its pool."""
        if ledger.shared:
            self._shared_ledger = ledger
            self.metrics.watch(LedgerView.of_store(ledger))

    def _ledger_problem(self) -> str | None:
        if self._shared_ledger is None:
            return "the ledger is not open yet"
        return self._shared_ledger.write_problem()

    def stop(self) -> None:
        """Stop the listener (hints not read yet are left to the next start's poll and sweep)."""
        if self.listener is not None:
            self.listener.stop()

    # -- hints ---------------------------------------------------------------------------

    def _wake(self) -> None:
        self._queue(self._read_hints, "hints", HINT_GATHER_SECONDS)

    def _wake_tracking(self) -> None:
        self._queue(self._pull_tracking, "tracking-hint")

    def _queue(self, function: Callable[[], None], name: str, delay: float = 0.0) -> None:
        if self._add_job is None:
            return  # not started yet: the first poll comes at once anyway
        try:
            self._add_job(function, name=name, delay=delay)
        except Exception:  # noqa: BLE001 - the scheduler is shutting down; the hint waits for the next start
            log.debug("hint not scheduled: the daemon is stopping")

    def _read_hints(self) -> None:
        taken = False

        def read(engine: Engine) -> None:
            nonlocal taken
            taken = True
            ids = self.hints.take()  # only now: hints that came while this job waited join this read
            if ids:
                self._count(reread_orders(engine, ids, reason="webhook"), "webhook")

        if self._guarded is not None:
            self._guarded("webhook hints", read)
        if not taken:
            self.hints.take()  # stopping, or not leading a shared ledger: the leader's poll and sweep read them

    def _pull_tracking(self) -> None:
        # Each order named since the last take is read once; a hint that named none also has every
        # due order read (the named ones need not be among the due, so they are read first).
        waiting = self.tracktor_hints.take()
        named = [order for order in waiting if order != EVERYTHING]
        if named:
            self._tracking_jobs(named)
        if EVERYTHING in waiting:
            self._tracking_jobs(None)

    # -- the sweep -----------------------------------------------------------------------

    def reconcile(self) -> None:
        """One reconcile sweep (a scheduled job)."""
        if self._guarded is not None:
            self._guarded("reconcile sweep", lambda engine: self._count(sweep(engine), "reconcile"))

    def _count(self, result: Any, reason: str) -> None:
        summary = result.summary
        if summary is None:
            return
        self.metrics.rereads.labels(reason, "changed").inc(summary.changed)
        self.metrics.rereads.labels(reason, "new").inc(summary.new)
        self.metrics.rereads.labels(reason, "unchanged").inc(summary.unchanged)
        if reason == "reconcile" and summary.changed:
            log.warning("reconcile sweep found orders edited without a new date_modified", changed=summary.changed)

    def job(self, settings: Settings) -> tuple[str, Any, float, bool]:
        """The reconcile job as the runner's (id, function, interval, wanted)."""
        interval = settings.woocommerce.reconcile_interval_seconds
        return RECONCILE_JOB, self.reconcile, interval or 3600.0, interval > 0

    # -- our WooCommerce webhooks --------------------------------------------------------

    def _webhooks_in_use(self) -> bool:
        server = self.settings.server
        return server.enabled and bool(server.woocommerce_secret.get_secret_value())

    def _check_webhooks(self) -> None:
        """Re-activate a webhook WooCommerce disabled after failed deliveries (runs between passes)."""
        if self._guarded is not None:
            self._guarded("webhook check", self._reactivate)

    def _reactivate(self, engine: Engine) -> None:
        try:
            revived = webhook_admin.reactivate(engine.source)
        except SyncError as error:
            log.warning("could not check the WooCommerce webhooks", error=redact(str(error)))
            return
        for hook in revived:
            self.metrics.webhooks_reactivated.inc()
            log.warning("WooCommerce had disabled a webhook; re-activated it (polling covered the gap)",
                        webhook=hook.id, topic=hook.topic, failure_count=hook.failure_count)
        if revived:
            # Kept in the ledger too, so `sync-daemon status` (another process) can say it.
            ledger = engine.ledger
            total = int(ledger.get_meta("webhooks_reactivated") or 0) + len(revived)
            stamp = datetime.fromtimestamp(engine.clock(), UTC).isoformat(timespec="seconds")
            ledger.set_meta(webhooks_reactivated=str(total), last_webhook_reactivated_at=stamp)

    # -- polls ---------------------------------------------------------------------------

    def poll_timer(self) -> Callable[[Any], None]:
        """Call at the start of a poll; the returned function records its end with the pass summary."""
        started = time.monotonic()

        def finished(summary: Any) -> None:
            # No summary: the pass raised (logged with its traceback by the runner).
            error = "the pass raised an exception (see the log)" if summary is None else summary.error
            ok = error is None and summary.source_error is None
            unstorable = 0 if summary is None else summary.unstorable
            self.metrics.poll_finished(time.monotonic() - started, ok, error=error, unstorable=unstorable)
            self._polls += 1
            every = self.settings.server.webhook_check_every_polls
            if ok and every and self._polls % every == 0 and self._webhooks_in_use():
                self._check_webhooks()

        return finished


def run_soon(scheduler: Any) -> Callable[..., Any]:
    """A function that queues a one-shot job on the scheduler to run as soon as its worker is free."""

    def add(function: Callable[[], None], name: str, delay: float = 0.0) -> None:
        run_date = datetime.now().astimezone() + timedelta(seconds=delay)
        scheduler.add_job(function, "date", run_date=run_date, name=name, misfire_grace_time=None)

    return add
