"""Tracktor's shipment tracking read into the ledger: one request per tracked order still in transit
(on the schedule), or per order a webhook named (``webhook.py``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import structlog

from sync_daemon.core.errors import SyncError
from sync_daemon.core.order import Order
from sync_daemon.platforms.base import StatusStore
from sync_daemon.platforms.tracktor.client import TracktorClient
from sync_daemon.platforms.tracktor.parse import SHIPMENT_STATUSES, tracktor_order_id
from sync_daemon.platforms.tracktor.settings import NAME, PLATFORM, TracktorSettings

log = structlog.get_logger("sync_daemon.writeback")

# How far a shipment has come; an order with several fulfillments is as far as its slowest one.
SHIPMENT_RANK = {status: rank for rank, status in enumerate(SHIPMENT_STATUSES)}
UNKNOWN_SHIPMENT_RANK = SHIPMENT_RANK["in_transit"]  # a custom status: somewhere on the way
DAY_SECONDS = 86400


def aggregate_shipment(statuses: list[str | None]) -> str | None:
    """The order's shipment status: the least advanced of its fulfillments (delivered = all delivered)."""
    known = [status for status in statuses if status]
    if not known:
        return None
    return min(known, key=lambda status: SHIPMENT_RANK.get(status, UNKNOWN_SHIPMENT_RANK))


class TracktorTracking:
    """Reads the tracking of orders still in transit; kept in the ledger's tracking table."""

    name = NAME
    title = PLATFORM
    kind = "tracking"
    quiet_statuses: frozenset[str] = frozenset()

    def __init__(self, settings: TracktorSettings) -> None:
        self.settings = settings
        self.interval_seconds = (
            settings.webhook_backstop_interval_seconds if settings.webhooks_active else settings.poll_interval_seconds
        )
        self.client = TracktorClient(settings)

    def tracking_id(self, order: Order) -> str | None:
        """The order's Tracktor id, or None when it is not tracked."""
        return tracktor_order_id(order, self.settings)

    def pull(
        self,
        store: StatusStore,
        *,
        now: float,
        stop: threading.Event,
        progress: Callable[[], None],
        only: Sequence[str] | None = None,
    ) -> int:
        """Read tracking of orders still in transit (``only``: those with these Tracktor ids); returns changes."""
        changed = 0
        max_age = self.settings.track_days * DAY_SECONDS
        if only is None:
            due = store.tracking_due(now=now, max_age_seconds=max_age)
        else:
            # A webhook named them: one request per named order we track, none for any other.
            due = store.tracking_named(only, now=now, max_age_seconds=max_age)
            if len(due) < len(set(only)):
                log.debug("a Tracktor webhook named orders not tracked (or no longer)", named=len(set(only)),
                          tracked=len(due))
        for order_id, tracktor_id in due:
            if stop.is_set():
                break
            try:
                tracking = self.client.order_tracking(tracktor_id)
            except SyncError as error:
                log.warning("reading Tracktor failed; next pull tries again", order_id=order_id, error=str(error))
                break
            if tracking is None:
                store.record_tracking(order_id, shipment_status=None, exception_status=None, carrier=None,
                                      tracking_number=None, done=False, now=now)
                continue
            fulfillments = list(tracking.fulfillments)
            shipment = aggregate_shipment([f.shipment_status for f in fulfillments] or list(tracking.statuses))
            exceptions = [f.exception_status for f in fulfillments if f.exception_status]
            exceptions = exceptions or list(tracking.exception_statuses)
            first = fulfillments[0] if fulfillments else None
            if store.record_tracking(
                order_id,
                shipment_status=shipment,
                exception_status=exceptions[0] if exceptions else None,
                carrier=(first.carrier_name or first.carrier_slug) if first else None,
                tracking_number=first.tracking_number if first else None,
                done=shipment == "delivered" and not exceptions,
                now=now,
            ):
                changed += 1
            if exceptions:
                log.warning("Tracktor reports a shipment exception", order_id=order_id, exception=exceptions[0])
            progress()
        return changed

    def fetch_one(self, order_id: int) -> tuple[str, str | None] | None:
        """Tracking is refreshed by the next pull; a resync does not ask for it."""
        return None

    def close(self) -> None:
        """Close pooled connections."""
        self.client.close()
