"""One sync pass, one resync: read WooCommerce, record in the ledger, deliver what is due.

The engine holds no state of its own that matters after a crash: the cursor, every delivery
and every pause live in the ledger. A pass reads pages of changed orders, records each page
(and only then advances the cursor), and delivers due rows with a bounded number of requests
in flight per destination, so one slow or paused platform never delays another.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from sync_daemon.config import Settings
from sync_daemon.core.errors import (
    AuthError,
    ConfigurationError,
    NotApplicable,
    PermanentError,
    QuotaError,
    RateLimitedError,
    RetryableError,
    SyncError,
    UnmappableOrder,
)
from sync_daemon.core.order import Order
from sync_daemon.core.redaction import redact
from sync_daemon.core.workers import WorkerPool
from sync_daemon.engine.dispatch import Dispatcher
from sync_daemon.ledger import Due, IngestItem, Ledger, Mapped, Outcome
from sync_daemon.platforms import Destination
from sync_daemon.source.woocommerce import WooCommerceSource

log = structlog.get_logger("sync_daemon.engine")

DEFAULT_THROTTLE_SECONDS = 30.0
SOURCE_BACKOFF_CAP_SECONDS = 900.0
OUTAGE_AFTER_FAILURES = 8  # retryable failures in a row before a destination counts as down
CONFIG_PAUSE_SECONDS = 365 * 86400.0  # "until the settings change": a new fingerprint lifts it


@dataclass
class PassSummary:
    """What one pass did; logged as one line and shown in ``status``."""

    fetched: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0
    other_status: int = 0
    delivered: int = 0
    retrying: int = 0
    paused: int = 0
    source_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain data."""
        return asdict(self)


@dataclass
class ResyncResult:
    """What a manual resync did for one destination."""

    destination: str
    outcome: str
    message: str = ""
    remote_id: str | None = None

    @property
    def landed(self) -> bool:
        """True when the platform has the order now."""
        return self.outcome == "delivered"

    @property
    def ok(self) -> bool:
        """True when nothing is left to do: landed, or the order does not concern this platform."""
        return self.outcome in ("delivered", "skipped")


@dataclass
class _Halt:
    kind: str
    reason: str
    until: float


@dataclass
class _SourceBackoff:
    failures: int = 0
    next_poll_at: float = 0.0
    interval: float = 60.0
    history: list[str] = field(default_factory=list)


def order_modified_key(raw: dict[str, Any]) -> str:
    """The dedupe key of a raw order: its ``date_modified_gmt`` text (or empty when missing)."""
    value = raw.get("date_modified_gmt")
    return value if isinstance(value, str) else ""


class Engine:
    """Runs passes and resyncs against one shop and its enabled destinations."""

    def __init__(
        self,
        settings: Settings,
        ledger: Ledger,
        source: WooCommerceSource,
        destinations: dict[str, Destination],
        *,
        stop_event: threading.Event | None = None,
        clock: Callable[[], float] = time.time,
        on_progress: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.source = source
        self.destinations = destinations
        self.stop_event = stop_event or threading.Event()
        self.clock = clock
        # Called after every page and every delivery batch: the systemd watchdog listens to it,
        # so a long backfill is not mistaken for a stuck poll.
        self.on_progress = on_progress
        self.busy = threading.RLock()  # held for a whole pass; re-entrant so the runner can wrap one
        self.last_summary: PassSummary | None = None
        self._halts: dict[str, _Halt] = {}
        self._halt_lock = threading.Lock()
        self._backoff = _SourceBackoff(interval=settings.poll_interval_seconds)
        self._failures: dict[str, int] = {}  # retryable failures in a row, per destination
        self.pools = {
            name: WorkerPool(getattr(settings, destination.section).concurrency, f"send-{name}")
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
        """Stop worker threads and close destination sessions."""
        for pool in self.pools.values():
            pool.shutdown()
        for destination in self.destinations.values():
            destination.close()

    # -- one pass -------------------------------------------------------------------------

    def sync_pass(self) -> PassSummary:
        """Read changed orders, record them, deliver what is due; never raises SyncError."""
        with self.busy:
            summary = PassSummary()
            now = self.clock()
            dispatcher = Dispatcher(self, summary)
            if now >= self._backoff.next_poll_at:
                self._read_source(summary, dispatcher)
            else:
                summary.source_error = f"WooCommerce backoff: next poll in {self._backoff.next_poll_at - now:.0f} s"
            dispatcher.drain()
            self.last_summary = summary
            log.info("pass finished", **summary.as_dict())
            return summary

    def _read_source(self, summary: PassSummary, dispatcher: Dispatcher) -> None:
        now = self.clock()
        cursor = self.ledger.get_cursor()
        if cursor is None:
            start = self.settings.woocommerce.start_point(datetime.fromtimestamp(now, UTC))
        else:
            start = cursor - timedelta(seconds=self.settings.woocommerce.overlap_seconds)
        try:
            for page in self.source.iter_pages(start):
                self._ingest_page(page, summary, dispatcher)
                self.on_progress()
                marks = [_parse_mark(order_modified_key(raw)) for raw in page if isinstance(raw, dict)]
                marks = [mark for mark in marks if mark is not None]
                if marks:
                    # Only now that the page is committed may the cursor pass it.
                    self.ledger.set_cursor(max(marks))
                if self.stop_event.is_set():
                    break
                dispatcher.pump()  # deliveries go out while the next page is read
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
        delay = min(backoff.interval * (2 ** (backoff.failures - 1)), SOURCE_BACKOFF_CAP_SECONDS)
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

    def _ingest_page(self, page: Sequence[Any], summary: PassSummary, dispatcher: Dispatcher) -> None:
        raws = [raw for raw in page if isinstance(raw, dict) and isinstance(raw.get("id"), int)]
        summary.fetched += len(page)
        known = self.ledger.known_orders(raw["id"] for raw in raws)
        synced = self.settings.woocommerce.statuses
        items = []
        for raw in raws:
            modified = order_modified_key(raw)
            seen = known.get(raw["id"])
            if seen is None:
                if raw.get("status") not in synced:
                    # Never taken part and not in a status that is synced: a pending payment, say.
                    summary.other_status += 1
                    continue
                items.append(self.map_raw(raw))
                continue
            # A known order is followed whatever its status now: its cancellation or completion
            # is an update (and an event) for the platforms that have it.
            stored_modified, has_row = seen
            missing = [name for name in self.destinations if name not in has_row]
            if modified and stored_modified == modified:
                if not missing:
                    summary.unchanged += 1
                    continue
                items.append(self.map_raw(raw, missing))  # a platform enabled since it was recorded
                continue
            items.append(self.map_raw(raw))
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

    def map_raw(self, raw: dict[str, Any], names: Sequence[str] | None = None) -> IngestItem:
        """Parse a raw order once and map it for each destination; failures become rejections."""
        names = list(names or self.destinations)
        modified = order_modified_key(raw)
        try:
            order = Order.from_wc(raw)
        except UnmappableOrder as error:
            reason = f"unusable WooCommerce data: {error}"
            mapped = [self._rejection(name, reason) for name in names]
            return IngestItem(raw["id"], str(raw.get("number") or raw["id"]), modified, str(raw.get("status")), mapped)
        mapped = []
        for name in names:
            destination = self.destinations[name]
            try:
                result = destination.map_order(order)
            except UnmappableOrder as error:
                mapped.append(self._rejection(name, str(error)))
                continue
            except NotApplicable as error:
                mapped.append(Mapped(name, None, rejection=str(error), skipped=True))
                continue
            mapped.append(Mapped(name, result.payload, note=result.note, supports_update=destination.supports_update))
        return IngestItem(order.id, order.number, modified, order.status, mapped, tracking_id=self._tracking_id(order))

    def _tracking_id(self, order: Order) -> str | None:
        if not self.settings.tracktor.enabled:
            return None
        from sync_daemon.platforms.tracktor import tracktor_order_id

        return tracktor_order_id(order, self.settings.tracktor)

    def _rejection(self, name: str, reason: str) -> Mapped:
        return Mapped(name, None, rejection=reason, supports_update=self.destinations[name].supports_update)

    # -- delivery -------------------------------------------------------------------------

    def paused(self, name: str) -> _Halt | None:
        """The pause in force for a destination, from memory or the ledger."""
        now = self.clock()
        with self._halt_lock:
            halt = self._halts.get(name)
            if halt and halt.until > now:
                return halt
            self._halts.pop(name, None)
        record = self.ledger.destination(name)
        if record.get("paused_until") and record["paused_until"] > now:
            return _Halt(record["pause_kind"], record["pause_reason"] or "", record["paused_until"])
        return None

    def deliver_due(self, summary: PassSummary | None = None) -> PassSummary:
        """Send every due delivery, batch by batch, with bounded concurrency per destination."""
        summary = summary or PassSummary()
        Dispatcher(self, summary).drain()
        return summary

    def record_outcomes(self, outcomes: Sequence[Outcome], summary: PassSummary, names: Sequence[str]) -> None:
        """Write a set of finished sends to the ledger in one transaction, count them, persist new pauses."""
        if not outcomes:
            return
        now = self.clock()
        self.ledger.record(outcomes, now=now)
        self.on_progress()
        for outcome in outcomes:
            if outcome.kind == "delivered":
                summary.delivered += 1
            elif outcome.kind == "retry":
                summary.retrying += 1
            elif outcome.kind == "rejected":
                summary.rejected += 1
                log.warning(
                    "order rejected", order_id=outcome.order_id, destination=outcome.destination, reason=outcome.message
                )
            elif outcome.kind == "paused":
                summary.paused += 1
        with self._halt_lock:
            halts = dict(self._halts)
        for name, halt in halts.items():
            if name in names and (self.ledger.destination(name).get("paused_until") or 0) < halt.until:
                self.ledger.pause_destination(name, kind=halt.kind, reason=halt.reason, until=halt.until, now=now)
                log.error(
                    "destination paused",
                    destination=name,
                    kind=halt.kind,
                    reason=halt.reason,
                    seconds=round(halt.until - now),
                )

    def _halt(self, name: str, kind: str, reason: str, seconds: float) -> None:
        with self._halt_lock:
            self._halts[name] = _Halt(kind, reason, self.clock() + seconds)

    def send(self, due: Due, ignore_pause: bool) -> Outcome:
        """Push one delivery and classify what happened (runs on a worker thread)."""
        result = self._push(due, ignore_pause)
        self._count_failures(due.destination, result)
        return result

    def _count_failures(self, name: str, outcome: Outcome) -> None:
        """A run of retryable failures means the platform is down: pause it briefly, so that a
        batch of timeouts does not hold the pass for batch size × timeout / concurrency."""
        if outcome.kind == "skipped" or outcome.http_status == 429:
            return
        with self._halt_lock:
            failures = self._failures.get(name, 0) + 1 if outcome.kind == "retry" else 0
            self._failures[name] = 0 if failures >= OUTAGE_AFTER_FAILURES else failures
        if failures >= OUTAGE_AFTER_FAILURES:
            seconds = self.settings.delivery.outage_pause_seconds
            reason = f"{failures} requests in a row failed (last: {outcome.message}); trying again in {seconds:.0f} s"
            self._halt(name, "outage", reason, seconds)

    def _push(self, due: Due, ignore_pause: bool) -> Outcome:
        name = due.destination

        def outcome(kind: str, **fields: Any) -> Outcome:
            return Outcome(due.order_id, name, kind, due.operation, payload_hash=due.payload_hash, **fields)

        if not ignore_pause:
            # deliver_due checked the ledger's pauses when it took the batch; a pause that starts
            # during the batch is set in memory first (_halt), so memory is all there is to check
            # here, without a ledger query (and its lock) per request.
            with self._halt_lock:
                halt = self._halts.get(name)
            if self.stop_event.is_set() or (halt is not None and halt.until > self.clock()):
                return outcome("skipped")
        started = time.monotonic()
        elapsed = lambda: int((time.monotonic() - started) * 1000)  # noqa: E731
        delivery = self.settings.delivery
        try:
            result = self.destinations[name].push(due.payload, operation=due.operation, remote_id=due.remote_id)
        except RateLimitedError as error:
            wait_for = error.retry_after if error.retry_after is not None else DEFAULT_THROTTLE_SECONDS
            self._halt(name, "throttled", f"rate limited (429); waiting {wait_for:.0f} s", wait_for)
            return outcome("retry", message=str(error), http_status=429, retry_after=wait_for, duration_ms=elapsed())
        except RetryableError as error:
            return outcome(
                "retry",
                message=str(error),
                http_status=error.http_status,
                duration_ms=elapsed(),
                max_attempts=error.max_attempts,
            )
        except AuthError as error:
            self._halt(name, "auth", str(error), delivery.auth_pause_seconds)
            return outcome(
                "paused",
                message=str(error),
                http_status=error.http_status,
                retry_after=delivery.auth_pause_seconds,
                duration_ms=elapsed(),
            )
        except ConfigurationError as error:
            # Only a change of settings can fix it: paused until then (a reload or restart lifts it).
            self._halt(name, "config", str(error), CONFIG_PAUSE_SECONDS)
            return outcome(
                "paused",
                message=str(error),
                http_status=error.http_status,
                retry_after=CONFIG_PAUSE_SECONDS,
                duration_ms=elapsed(),
            )
        except QuotaError as error:
            self._halt(name, "quota", str(error), delivery.quota_pause_seconds)
            return outcome(
                "paused",
                message=str(error),
                http_status=error.http_status,
                retry_after=delivery.quota_pause_seconds,
                duration_ms=elapsed(),
            )
        except PermanentError as error:
            return outcome("rejected", message=str(error), http_status=error.http_status, duration_ms=elapsed())
        except Exception as error:  # noqa: BLE001 - a bug in one send must not stop the pass
            log.exception("unexpected error while sending", destination=name, order_id=due.order_id)
            return outcome(
                "retry", message=redact(f"internal error: {type(error).__name__}: {error}"), duration_ms=elapsed()
            )
        return outcome("delivered", remote_id=result.remote_id, message=result.detail, duration_ms=elapsed())

    # -- remote statuses ------------------------------------------------------------------

    def pull_statuses(self) -> int:
        """Read platform statuses of delivered orders into the ledger; returns how many changed."""
        changed = 0
        with self.busy:
            for name, destination in self.destinations.items():
                fetch = getattr(destination, "fetch_statuses", None)
                if fetch is None or self.paused(name):
                    continue
                batch: list[tuple[int, str, str | None]] = []
                try:
                    for row in fetch():
                        batch.append(row)
                        if len(batch) >= 500:
                            changed += self.ledger.update_remote_statuses(name, batch, now=self.clock())
                            batch = []
                    changed += self.ledger.update_remote_statuses(name, batch, now=self.clock())
                except SyncError as error:
                    changed += self.ledger.update_remote_statuses(name, batch, now=self.clock())
                    log.warning("status pull failed; next pull tries again", destination=name, error=str(error))
                self.on_progress()
        if changed:
            log.info("remote statuses changed", count=changed)
        return changed

    # -- manual resync --------------------------------------------------------------------

    def resync(self, order_id: int, destination: str | None = None) -> list[ResyncResult]:
        """Fetch one order now, re-map and push it whatever its ledger state."""
        names = [destination] if destination else list(self.destinations)
        for name in names:
            if name not in self.destinations:
                raise ConfigurationError(
                    f"destination {name!r} is not enabled (enabled: {', '.join(self.destinations) or 'none'})"
                )
        with self.busy:
            raw = self.source.get_order(order_id)
            item = self.map_raw(raw, names)
            to_send = self.ledger.prepare_resync(item, now=self.clock())
            results = [
                ResyncResult(m.destination, "skipped" if m.skipped else "rejected", m.rejection or "")
                for m in item.mapped
                if m.payload is None
            ]
            for due in to_send:
                outcome = self.send(due, True)
                self.ledger.record([outcome], now=self.clock())
                if outcome.kind == "delivered":
                    self.ledger.resume_destination(due.destination)
                    with self._halt_lock:
                        self._halts.pop(due.destination, None)
                    self._refresh_status(due.destination, order_id)
                results.append(ResyncResult(due.destination, outcome.kind, outcome.message or "", outcome.remote_id))
            return sorted(results, key=lambda result: result.destination)

    def _refresh_status(self, name: str, order_id: int) -> None:
        fetch_status = getattr(self.destinations[name], "fetch_status", None)
        if fetch_status is None:
            return
        try:
            found = fetch_status(order_id)
        except SyncError as error:
            log.warning("could not read the remote status after resync", destination=name, error=str(error))
            return
        if found is not None:
            self.ledger.update_remote_statuses(name, [(order_id, *found)], now=self.clock())


def _parse_mark(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None
    except ValueError:
        return None
