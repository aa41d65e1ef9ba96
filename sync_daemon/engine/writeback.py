"""Statuses back into WooCommerce: what OrderRepo and Tracktor learnt after the order left the shop.

Rules, in the order they are checked for each remote status the ledger holds and has not applied:

1. The same (order, source, remote status) is applied once; the ledger remembers it.
2. Never fight a human: the reference is the status the daemon last wrote, or, before it wrote
   any, the one the order had when the daemon first recorded it. When the current status is not
   the reference and not a step forward from it (put on hold, reopened …), staff decided; the
   daemon adds a note with the remote status and leaves the status.
3. Never move backwards: a ``completed``, ``cancelled``, ``refunded`` or ``failed`` order keeps its
   status, and a status only moves forward (pending < on-hold < processing < completed;
   cancelled from any open status).
4. Otherwise the status map decides (``writeback.*_status_map``); an unmapped remote status only
   adds a note. Tracktor's carrier and tracking number go into order meta.

The daemon's own writes change ``date_modified``; after writing, the order is read once more and
"absorbed" into the ledger, so the next poll does not mistake the write for a merchant's edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from sync_daemon.config import FINAL_WOOCOMMERCE_STATUSES, WOOCOMMERCE_STATUS_RANK
from sync_daemon.core.errors import PermanentError, SyncError
from sync_daemon.engine.sync import order_modified_key

if TYPE_CHECKING:
    from sync_daemon.engine.sync import Engine

log = structlog.get_logger("sync_daemon.writeback")

SHIPMENT_RANK = {"order_ready": 0, "in_transit": 1, "out_for_delivery": 2, "delivered": 3}
SOURCE_LABELS = {"orderrepo": "OrderRepo", "tracktor": "Tracktor"}
INITIAL_ORDERREPO_STATUS = "new"  # every order starts there: not worth a note


@dataclass
class OrderPlan:
    """What write-back will do (or did) to one order."""

    order_id: int
    status_before: str
    status_after: str | None = None
    notes: list[str] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for --json and logs."""
        return {
            "order_id": self.order_id,
            "status_before": self.status_before,
            "status_after": self.status_after,
            "notes": self.notes,
            "meta": self.meta,
            "actions": [f"{e['source']} {e['remote_status']}: {e['action']}" for e in self.entries],
            "error": self.error,
        }


def may_move(current: str, target: str) -> bool:
    """True when moving from ``current`` to ``target`` goes forward (see rule 3)."""
    if current == target or current in FINAL_WOOCOMMERCE_STATUSES:
        return False
    if target in ("cancelled", "failed"):
        return True
    if target not in WOOCOMMERCE_STATUS_RANK or current not in WOOCOMMERCE_STATUS_RANK:
        return False
    return WOOCOMMERCE_STATUS_RANK[target] > WOOCOMMERCE_STATUS_RANK[current]


def aggregate_shipment(statuses: list[str | None]) -> str | None:
    """The order's shipment status: the least advanced of its fulfillments (delivered = all delivered)."""
    known = [status for status in statuses if status]
    if not known:
        return None
    return min(known, key=lambda status: SHIPMENT_RANK.get(status, 1))


def _note(candidate: dict[str, Any]) -> str:
    label = SOURCE_LABELS.get(candidate["source"], candidate["source"])
    status = candidate["remote_status"]
    if status.startswith("exception:"):
        text = f"{label} exception: {status.removeprefix('exception:')}"
    else:
        text = f"{label}: {status}"
    extras = []
    if candidate.get("carrier"):
        extras.append(f"carrier {candidate['carrier']}")
    if candidate.get("tracking_number"):
        extras.append(f"tracking {candidate['tracking_number']}")
    return text + (f" — {', '.join(extras)}" if extras else "")


class StatusWriter:
    """Pulls Tracktor tracking into the ledger and applies remote statuses to WooCommerce."""

    def __init__(self, engine: Engine, tracktor: Any = None) -> None:
        self.engine = engine
        self.settings = engine.settings
        self.ledger = engine.ledger
        self.source = engine.source
        self.tracktor = tracktor

    # -- Tracktor -------------------------------------------------------------------------

    def pull_tracking(self) -> int:
        """Read tracking of orders still in transit; returns how many changed."""
        if self.tracktor is None:
            return 0
        settings = self.settings.tracktor
        now = self.engine.clock()
        changed = 0
        for order_id, tracktor_id in self.ledger.tracking_due(now=now, max_age_seconds=settings.track_days * 86400):
            if self.engine.stop_event.is_set():
                break
            try:
                tracking = self.tracktor.order_tracking(tracktor_id)
            except SyncError as error:
                log.warning("reading Tracktor failed; next pull tries again", order_id=order_id, error=str(error))
                break
            if tracking is None:
                self.ledger.record_tracking(order_id, shipment_status=None, exception_status=None, carrier=None,
                                            tracking_number=None, done=False, now=now)
                continue
            fulfillments = list(tracking.fulfillments)
            shipment = aggregate_shipment([f.shipment_status for f in fulfillments] or list(tracking.statuses))
            exceptions = [f.exception_status for f in fulfillments if f.exception_status]
            exceptions = exceptions or list(tracking.exception_statuses)
            first = fulfillments[0] if fulfillments else None
            if self.ledger.record_tracking(
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
            self.engine.on_progress()
        return changed

    # -- write-back -----------------------------------------------------------------------

    def plan(self, order_id: int, candidates: list[dict[str, Any]], current: str) -> OrderPlan:
        """Decide what to do with one order's unapplied remote statuses (no I/O)."""
        writeback = self.settings.writeback
        plan = OrderPlan(order_id, status_before=current)
        reference, written = self.ledger.status_reference(order_id)
        # Staff moving an order on along the usual path (on-hold → processing once paid) is no
        # veto; putting it back on hold, reopening it or any other move is, until they move it again.
        human = reference is not None and reference != current and not may_move(reference, current)
        since = "after the daemon's last write" if written else "after the daemon took the order"
        target = current
        for candidate in candidates:
            source, remote = candidate["source"], candidate["remote_status"]
            mapping = writeback.orderrepo_status_map if source == "orderrepo" else writeback.tracktor_status_map
            wanted = mapping.get(remote)
            if source == "orderrepo" and remote == INITIAL_ORDERREPO_STATUS:
                plan.entries.append({"source": source, "remote_status": remote, "action": "nothing to do",
                                     "status_before": current, "note": None})
                continue
            if wanted is None:
                action = "noted"
            elif human:
                action = f"noted; status left alone: staff changed it to {current} {since}"
            elif may_move(target, wanted):
                action = f"status {target} → {wanted}"
                target = wanted
            elif wanted == target:
                action = f"noted; already {target}"
            else:
                action = f"noted; {current} is not moved back to {wanted}"
            note = _note(candidate) if writeback.add_notes else None
            if note:
                plan.notes.append(note)
            if source == "tracktor":
                if candidate.get("tracking_number"):
                    plan.meta[writeback.tracking_number_meta_key] = candidate["tracking_number"]
                if candidate.get("carrier"):
                    plan.meta[writeback.carrier_meta_key] = candidate["carrier"]
            plan.entries.append({"source": source, "remote_status": remote, "action": action,
                                 "detail": _note(candidate), "status_before": current, "note": note})
        if target != current:
            plan.status_after = target
        for entry in plan.entries:
            entry["status_after"] = plan.status_after or current
        return plan

    def apply(self, *, dry_run: bool = False) -> list[OrderPlan]:
        """Apply every unapplied remote status; with ``dry_run`` only say what would happen."""
        grouped: dict[int, list[dict[str, Any]]] = {}
        for candidate in self.ledger.writeback_candidates():
            grouped.setdefault(candidate["order_id"], []).append(candidate)
        plans = []
        for order_id, candidates in grouped.items():
            if self.engine.stop_event.is_set():
                break
            try:
                raw = self.source.get_order(order_id)
            except PermanentError as error:
                plans.append(OrderPlan(order_id, status_before="?", error=f"order cannot be read: {error}"))
                continue
            except SyncError as error:
                log.warning("write-back could not read the order; next run tries again", order_id=order_id,
                            error=str(error))
                break
            plan = self.plan(order_id, candidates, str(raw.get("status", "")))
            plans.append(plan)
            if dry_run:
                continue
            # Absorbing our own write is only safe when nobody edited the order since the last poll;
            # otherwise the next poll must see (and send) that edit.
            unseen_edit = self.ledger.known_modified([order_id]).get(order_id) != order_modified_key(raw)
            try:
                self._write(plan, absorb=not unseen_edit)
            except SyncError as error:
                plan.error = str(error)
                log.error("write-back failed; next run tries what is left", order_id=order_id, error=str(error))
                continue
            log.info("written back", **plan.as_dict())
            self.engine.on_progress()
        return plans

    def _write(self, plan: OrderPlan, *, absorb: bool) -> None:
        """Status and meta, then each note; every step is recorded as soon as it is done, so a
        failure half-way leaves nothing to be written twice by the next run."""
        update: dict[str, Any] = {}
        if plan.status_after:
            update["status"] = plan.status_after
        if plan.meta:
            update["meta_data"] = [{"key": key, "value": value} for key, value in plan.meta.items()]
        if update:
            self.source.update_order(plan.order_id, update)
        quiet = [entry for entry in plan.entries if not entry["note"]]
        self.ledger.record_writeback(plan.order_id, quiet, written_status=plan.status_after, now=self.engine.clock())
        for entry in plan.entries:
            if entry["note"]:
                self.source.add_note(plan.order_id, entry["note"])
                self.ledger.record_writeback(plan.order_id, [entry], written_status=None, now=self.engine.clock())
        if (update or plan.notes) and absorb:
            # Our writes bumped date_modified: record the order as it is now, so the next poll
            # does not re-push it as if the merchant had edited it.
            try:
                raw = self.source.get_order(plan.order_id)
                self.ledger.absorb(self.engine.map_raw(raw), now=self.engine.clock())
            except SyncError as error:
                # Written and recorded; the next poll sees the new date and sends what changed.
                log.warning("could not re-read the order after writing back", order_id=plan.order_id,
                            error=str(error))
