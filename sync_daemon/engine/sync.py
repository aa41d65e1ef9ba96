"""One sync pass, one resync: read WooCommerce, record in the ledger, deliver what is due.

The engine holds no state of its own that matters after a crash: the cursor, every delivery
and every pause live in the ledger. A pass reads pages of changed orders, records each page
(and only then advances the cursor), and delivers due rows with a bounded number of requests
in flight per destination, so one slow or paused platform never delays another.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from sync_daemon.config import Settings
from sync_daemon.core.errors import SyncError
from sync_daemon.core.outcome import Due, Outcome
from sync_daemon.core.redaction import redact
from sync_daemon.core.retry import RetryPolicy
from sync_daemon.core.storable import storable
from sync_daemon.core.workers import WorkerPool
from sync_daemon.engine.classify import send_and_classify
from sync_daemon.engine.cursor import PassCursor
from sync_daemon.engine.dispatch import Dispatcher, Lanes
from sync_daemon.engine.mapping import OrderMapper, order_modified_key
from sync_daemon.engine.pauses import Halt, Pauses
from sync_daemon.engine.progress import PassProgress
from sync_daemon.engine.resync import ResyncResult, resync_order
from sync_daemon.ledger import Ledger
from sync_daemon.platforms import Destination, StatusSource
from sync_daemon.source.woocommerce import WooCommerceSource

log = structlog.get_logger("sync_daemon.engine")

SOURCE_BACKOFF_CAP_SECONDS = 900.0
_MAX_ORDER_ID = 2**63 - 1  # a signed 64-bit integer: the ledger's order_id on both backends
# Doublings past this cannot matter (the poll interval is at least 1 s, so 2**20 s is far over the cap);
# without a bound, 2 ** 1024 no longer converts to a float after ~10 days of failures (OverflowError).
_MAX_DOUBLINGS = 20


@dataclass
class PassSummary:
    """What one pass did; logged as one line and shown in ``status``."""

    fetched: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0
    unstorable: int = 0  # orders the ledger refused even as rejections: left out, each logged with its id
    other_status: int = 0
    delivered: int = 0
    retrying: int = 0
    paused: int = 0
    source_error: str | None = None
    error: str | None = None  # the pass itself failed (a bug, the ledger): nothing read was recorded

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain data."""
        return asdict(self)


@dataclass
class _SourceBackoff:
    failures: int = 0
    next_poll_at: float = 0.0
    interval: float = 60.0
    history: list[str] = field(default_factory=list)


class Engine:
    """Runs passes and resyncs against one shop and its enabled destinations."""

    def __init__(
        self,
        settings: Settings,
        ledger: Ledger,
        source: WooCommerceSource,
        destinations: dict[str, Destination],
        *,
        status_sources: Sequence[StatusSource] = (),
        stop_event: threading.Event | None = None,
        clock: Callable[[], float] = time.time,
        on_progress: Callable[[], None] = lambda: None,
        report_progress: Callable[[PassProgress], None] = lambda progress: None,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.source = source
        self.destinations = destinations
        # Statuses read back (OrderRepo's, Tracktor's tracking); a tracking source also names, at ingest,
        # the id an order is tracked by.
        self.status_sources = {source.name: source for source in status_sources}
        self.mapper = OrderMapper(destinations, self.status_sources.values())
        self.map_raw = self.mapper.map_raw  # write-back absorbs the daemon's own writes with it
        self.stop_event = stop_event or threading.Event()
        self.clock = clock
        # Decides when a failed send is tried again or given up; the ledger stores the decision.
        self.retry_policy = RetryPolicy(settings.delivery.retry_schedule_seconds, settings.delivery.retry_jitter)
        # Called after every page and every delivery batch: the systemd watchdog listens to it,
        # so a long backfill is not mistaken for a stuck poll.
        self.on_progress = on_progress
        # Told how far a pass is after every page and every batch of outcomes (a bar, systemd's
        # status line, the log, ``status``): the runner decides how often to show it.
        self.report_progress = report_progress
        self._pass_total: int | None = None
        self._backfill = False
        self._reading = False  # only a pass that reads WooCommerce is reported (not a webhook's, nor a follower's)
        self.busy = threading.RLock()  # held for a whole pass; re-entrant so the runner can wrap one
        self.last_summary: PassSummary | None = None
        self.pauses = Pauses(ledger, outage_pause_seconds=settings.delivery.outage_pause_seconds, clock=clock)
        self._backoff = _SourceBackoff(interval=settings.poll_interval_seconds)
        self.pools = {
            name: WorkerPool(destination.concurrency, f"send-{name}")
            for name, destination in destinations.items()
        }

    # -- lifecycle ------------------------------------------------------------------------

    def startup(self) -> None:
        """Recover rows interrupted by a crash, lift pauses whose configuration changed, and let
        a platform enabled on an existing ledger catch up."""
        recovered = self.ledger.recover_interrupted(now=self.clock())
        if recovered:
            log.warning("recovered interrupted deliveries", count=recovered)
        newcomers = []
        for name, destination in self.destinations.items():
            if self.ledger.destination(name).get("fingerprint") is None:
                newcomers.append(name)
            if self.ledger.note_fingerprint(name, self.settings.fingerprint(destination.section), now=self.clock()):
                log.info("destination settings changed; any credentials pause is lifted", destination=name)
        if newcomers:
            # As if it had been enabled from the start: the window is read again (orders already
            # recorded cost nothing) and the newcomer gets the orders of its start point.
            start = self.settings.woocommerce.start_point(datetime.fromtimestamp(self.clock(), UTC))
            if self.ledger.rewind_cursor(start):
                log.info("new platform enabled: reading orders again from the start point", destinations=newcomers,
                         start=start.isoformat(timespec="seconds"))

    def close(self) -> None:
        """Stop worker threads and close the shop's, the destinations' and the status sources' sessions."""
        self.pauses.close()  # no longer listening for other daemons' waits
        for pool in self.pools.values():
            pool.shutdown()
        for destination in self.destinations.values():
            destination.close()
        for source in self.status_sources.values():
            source.close()
        self.source.close()

    # -- one pass -------------------------------------------------------------------------

    def sync_pass(self, *, read_source: bool = True) -> PassSummary:
        """Read changed orders, record them, deliver what is due; never raises SyncError.

        ``read_source=False``: deliver only (a daemon that shares its ledger and does not lead; the
        leader reads WooCommerce for all of them).
        """
        with self.busy:
            summary = PassSummary()
            self._pass_total, self._backfill, self._reading = None, False, read_source
            now = self.clock()
            # Delivering only, a pass is short: the daemon may take the lead meanwhile, and then polls.
            budget = None if read_source else self.settings.ledger.leader_check_seconds
            dispatcher = self._dispatcher(summary, budget)
            if not read_source:
                pass
            elif now >= self._backoff.next_poll_at:
                try:
                    self._read_source(summary, dispatcher)
                except Exception as error:  # noqa: BLE001 - shown in status, /healthz, /metrics; the next pass retries
                    log.exception("the pass failed; the cursor stays where it was")
                    _pass_failed(self.ledger, self.clock(), summary, error)
            else:
                summary.source_error = f"WooCommerce backoff: next poll in {self._backoff.next_poll_at - now:.0f} s"
            try:
                dispatcher.drain()
            except Exception as error:
                _pass_failed(self.ledger, self.clock(), summary, error)
                raise
            finally:
                self._reading = False
            self.last_summary = summary
            if read_source or summary.delivered or summary.retrying or summary.rejected:
                log.info("pass finished", **summary.as_dict())
            return summary

    def _read_source(self, summary: PassSummary, dispatcher: Dispatcher) -> None:
        now = self.clock()
        # The shop's clock is estimated before the scan: every order modified before it is listed (engine/cursor.py).
        cursor = PassCursor(self.ledger, self.settings.woocommerce, now, self.source.shop_clock.estimate())
        self._backfill = cursor.backfill
        try:
            for page in self.source.iter_pages(cursor.start):
                if self._pass_total is None:  # the first page's X-WP-Total counts the whole window
                    self._pass_total = self.source.listed_total
                self._ingest_page(page, summary, dispatcher, plain=self.source.last_answer_plain)
                self.on_progress()
                self._report(summary)
                cursor.committed(page)  # only now that the page is committed may the cursor pass it
                if self.stop_event.is_set():
                    break
                dispatcher.pump()  # deliveries go out while the next page is read
            else:  # read to the end: a quiet shop's cursor moves past the orders the daemon's own writes re-dated
                cursor.read_to_end()
        except SyncError as error:
            self._source_failed(summary, error)
            return
        self._backoff = _SourceBackoff(interval=self.settings.poll_interval_seconds)
        self.ledger.set_meta(
            last_poll_at=datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
            last_poll_result="ok",
            last_poll_error=None,
        )

    def _source_failed(self, summary: PassSummary, error: SyncError) -> None:
        backoff = self._backoff
        backoff.failures += 1
        delay = source_backoff_delay(backoff.interval, backoff.failures)
        backoff.next_poll_at = self.clock() + delay - backoff.interval
        message = redact(str(error))
        summary.source_error = message
        now = datetime.fromtimestamp(self.clock(), UTC).isoformat(timespec="seconds")
        self.ledger.set_meta(last_poll_at=now, last_poll_result="failed", last_poll_error=message)
        log.error(
            "reading WooCommerce failed; the cursor stays where it was",
            error=message,
            failures=backoff.failures,
            next_try_in_seconds=round(delay),
        )

    def _ingest_page(
        self, page: Sequence[Any], summary: PassSummary, dispatcher: Dispatcher, *, reread: bool = False,
        plain: bool = False,
    ) -> None:
        # reread: the orders were read on purpose (a webhook hint, the reconcile sweep), so an
        # unchanged date_modified proves nothing; the ledger compares the payload hashes instead.
        # plain: the page's answer held no escape of an unstorable text (source.last_answer_plain).
        raws = _storable_orders(page, summary)
        summary.fetched += len(page)
        known = self.ledger.known_orders(raw["id"] for raw in raws)
        items = _items_to_ingest(raws, known, self, summary, reread=reread, plain=plain)
        if items:
            # A known order that changed may still have a request out (edited mid-scan): its rows
            # are recorded again only once that request is back. New orders have none out.
            dispatcher.settle(item.order_id for item in items if item.order_id in known)
            counts = self.ledger.ingest(items, now=self.clock())
            summary.new += counts["new"]
            summary.changed += counts["changed"]
            summary.rejected += counts["rejected"]
            summary.unchanged += counts["unchanged"]
            summary.skipped += counts["skipped"]
            summary.unstorable += counts["unstorable"]

    # -- delivery -------------------------------------------------------------------------

    def paused(self, name: str) -> Halt | None:
        """The pause in force for a destination, from memory or the ledger."""
        return self.pauses.current(name)

    def _dispatcher(self, summary: PassSummary, budget_seconds: float | None = None) -> Dispatcher:
        return Dispatcher(
            Lanes(
                names=list(self.destinations),
                concurrency={name: destination.concurrency for name, destination in self.destinations.items()},
                due=lambda name, limit: self.ledger.due(name, now=self.clock(), limit=limit),
                record=self.record_outcomes,
                send=lambda due: self.send(due, False),
                submit=lambda name, run: self.pools[name].submit(run),
                paused=self.paused,
                halted=self.pauses.halted,
                tally=lambda counts: self._tally(summary, counts),
                stop_event=self.stop_event,
                batch_size=self.settings.delivery.batch_size,
                on_progress=self.on_progress,
                budget_seconds=budget_seconds,
            )
        )

    def _tally(self, summary: PassSummary, counts: Mapping[str, int]) -> None:
        """Outcomes into the summary, then the progress told (on the pass thread)."""
        _add_counts(summary, counts)
        if counts.get("delivered"):
            self._report(summary)

    def _report(self, summary: PassSummary) -> None:
        if not self._reading:
            return
        total = self._pass_total
        # Overlapping windows read an order twice now and then: never more read than announced.
        read = summary.fetched if total is None else min(summary.fetched, total)
        self.report_progress(PassProgress(read, total, summary.delivered, self._backfill))

    def record_outcomes(self, outcomes: Sequence[Outcome], sending: Sequence[Due] = ()) -> list[Due]:
        """Write finished sends, and the rows about to be sent as ``sending``, in one transaction; then
        persist the pauses those sends caused (runs on whichever worker thread commits the group).

        Returns the rows of ``sending`` that are not this daemon's to send (a shared ledger).
        """
        if not outcomes and not sending:
            return []
        now = self.clock()
        lost = self.ledger.record(outcomes, now=now, sending=sending)
        troubled = set()
        for outcome in outcomes:
            if outcome.kind == "delivered":
                continue
            troubled.add(outcome.destination)
            if outcome.kind == "rejected":
                log.warning(
                    "order rejected", order_id=outcome.order_id, destination=outcome.destination, reason=outcome.message
                )
        if troubled:  # only a send that did not deliver can have set a pause
            self.pauses.persist(sorted(troubled), now=now)
        if lost:
            log.info("rows taken by another daemon meanwhile; not sent here", count=len(lost))
        return lost

    def send(self, due: Due, ignore_pause: bool) -> Outcome:
        """Push one delivery, classify what happened and decide any retry (runs on a worker thread)."""
        delivery = self.settings.delivery
        outcome = send_and_classify(
            self.destinations[due.destination],
            due,
            pauses=self.pauses,
            stop_event=self.stop_event,
            auth_pause_seconds=delivery.auth_pause_seconds,
            quota_pause_seconds=delivery.quota_pause_seconds,
            ignore_pause=ignore_pause,
        )
        outcome = self.retry_policy.stamp(outcome, attempts_before=due.attempts)
        self.pauses.count(due.destination, outcome)
        return outcome

    # -- remote statuses ------------------------------------------------------------------

    def pull_all_statuses(self) -> int:
        """Read every status source now, in registry order; returns how many statuses changed."""
        return sum(self.pull_statuses(name) for name in self.status_sources)

    def pull_statuses(self, name: str, only: Sequence[str] | None = None) -> int:
        """Read one status source into the ledger (skipped while its destination is paused); returns changes.

        ``only``: just the orders with these tracking ids (a webhook named them), else all that are due.
        """
        source = self.status_sources.get(name)
        if source is None:  # a job queued before a reload took the source away
            return 0
        with self.busy:
            if source.kind == "delivery" and self.paused(name):
                return 0
            changed = source.pull(self.ledger, now=self.clock(), stop=self.stop_event, progress=self.on_progress,
                                  only=only)
        if changed:
            log.info("remote statuses changed", source=name, count=changed)
        return changed

    # -- manual resync --------------------------------------------------------------------

    def resync(self, order_id: int, destination: str | None = None) -> list[ResyncResult]:
        """Fetch one order now, re-map and push it whatever its ledger state."""
        return resync_order(self, order_id, destination)


def source_backoff_delay(interval: float, failures: int) -> float:
    """Seconds until WooCommerce is read again after ``failures`` failed polls in a row: doubling, capped."""
    doublings = min(max(failures - 1, 0), _MAX_DOUBLINGS)
    return min(interval * 2.0**doublings, SOURCE_BACKOFF_CAP_SECONDS)


def _pass_failed(ledger: Ledger, now: float, summary: PassSummary, error: Exception) -> None:
    """Note a pass that failed (not WooCommerce) in its summary and, for ``status``, in the ledger."""
    summary.error = redact(f"{type(error).__name__}: {storable(str(error))}")[:500]
    stamp = datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")
    with contextlib.suppress(Exception):  # the ledger itself may be what failed
        ledger.set_meta(last_poll_at=stamp, last_poll_result="error",
                        last_poll_error=f"the pass failed: {summary.error}")


def _items_to_ingest(
    raws: Sequence[dict[str, Any]],
    known: Mapping[int, tuple[str, frozenset[str]]],
    engine: Engine,
    summary: PassSummary,
    *,
    reread: bool,
    plain: bool,
) -> list[Any]:
    """The orders of a page mapped for the ledger: new ones in a synced status, known ones that changed.

    An order already seen with the same ``date_modified`` is only counted (unless ``reread``), or
    mapped for the platforms enabled since it was recorded.
    """
    synced = engine.settings.woocommerce.statuses
    items = []
    for raw in raws:
        modified = order_modified_key(raw)
        seen = known.get(raw["id"])
        if seen is None:
            if raw.get("status") not in synced:
                # Never taken part and not in a status that is synced: a pending payment, say.
                summary.other_status += 1
                continue
            items.append(engine.mapper.map_guarded(raw, plain=plain))
            continue
        # A known order is followed whatever its status now: its cancellation or completion
        # is an update (and an event) for the platforms that have it.
        stored_modified, has_row = seen
        missing = [name for name in engine.destinations if name not in has_row]
        if modified and stored_modified == modified and not reread:
            if not missing:
                summary.unchanged += 1
                continue
            items.append(engine.mapper.map_guarded(raw, missing, plain=plain))  # a platform enabled since
            continue
        items.append(engine.mapper.map_guarded(raw, plain=plain))
    return items


def _storable_orders(page: Sequence[Any], summary: PassSummary) -> list[dict[str, Any]]:
    """The page's orders with an id every ledger can hold; one beyond that is logged, counted and left out."""
    orders = [raw for raw in page if isinstance(raw, dict) and isinstance(raw.get("id"), int)]
    beyond = [raw["id"] for raw in orders if not 0 < raw["id"] <= _MAX_ORDER_ID]
    if not beyond:
        return orders
    log.error("orders with an id no ledger can store are left out", order_ids=beyond[:10], count=len(beyond))
    summary.unstorable += len(beyond)
    return [raw for raw in orders if 0 < raw["id"] <= _MAX_ORDER_ID]


def _add_counts(summary: PassSummary, counts: Mapping[str, int]) -> None:
    """Outcomes by kind into the pass summary (on the pass thread, which alone writes the summary)."""
    summary.delivered += counts.get("delivered", 0)
    summary.retrying += counts.get("retry", 0)
    summary.rejected += counts.get("rejected", 0)
    summary.paused += counts.get("paused", 0)

