"""Statuses back into WooCommerce: what the platforms learnt after the order left the shop.

Rules, in the order they are checked for each remote status the ledger holds and has not applied:

1. The same (order, source, remote status) is applied once; the ledger remembers it.
2. Never fight a human: the reference is the status the daemon last wrote, or, before it wrote
   any, the one the order had when the daemon first recorded it. When the current status is not
   the reference and not a step forward from it (put on hold, reopened …), staff decided; the
   daemon adds a note with the remote status and leaves the status.
3. Never move backwards: a ``completed``, ``cancelled``, ``refunded`` or ``failed`` order keeps its
   status, and a status only moves forward (pending < on-hold < processing < completed;
   cancelled from any open status).
4. Otherwise the status map decides (``writeback.<platform>_status_map``); an unmapped remote status
   only adds a note. A tracking source's carrier and tracking number go into order meta.

The daemon's own writes change ``date_modified``; after writing, the order is read once more and
"absorbed" into the ledger, so the next poll does not mistake the write for a merchant's edit. A
status it wrote is a real change of the order all the same: the platforms whose payload carries
the status and that take updates get one update (the next pass sends it); meta and notes alone
send nothing, and platforms without an update API are not told.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from sync_daemon.config import WritebackSettings
from sync_daemon.core.errors import PermanentError, SyncError
from sync_daemon.engine.mapping import order_modified_key
from sync_daemon.ledger import IngestItem, Ledger
from sync_daemon.platforms import StatusSource
from sync_daemon.source.woocommerce import WooCommerceSource

log = structlog.get_logger("sync_daemon.writeback")

WOOCOMMERCE_STATUS_RANK = {"pending": 0, "on-hold": 1, "processing": 2, "completed": 3}
FINAL_WOOCOMMERCE_STATUSES = ("completed", "cancelled", "refunded", "failed", "trash")


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


def _note(candidate: dict[str, Any], label: str) -> str:
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
    """Applies the statuses the status sources read into the ledger to the WooCommerce orders."""

    def __init__(
        self,
        rules: WritebackSettings,
        ledger: Ledger,
        shop: WooCommerceSource,
        sources: Sequence[StatusSource],
        *,
        remap: Callable[[dict[str, Any]], IngestItem],
        clock: Callable[[], float],
        stop_event: threading.Event,
        on_progress: Callable[[], None] = lambda: None,
    ) -> None:
        self.rules = rules  # the [writeback] settings
        self.ledger = ledger
        self.shop = shop  # the WooCommerce source: reads, updates and notes orders
        self.sources: Mapping[str, StatusSource] = {source.name: source for source in sources}
        self.remap = remap  # an order as the engine would record it, to absorb our own write
        self.clock = clock
        self.stop_event = stop_event
        self.on_progress = on_progress

    # -- write-back -----------------------------------------------------------------------

    def plan(self, order_id: int, candidates: list[dict[str, Any]], current: str) -> OrderPlan:
        """Decide what to do with one order's unapplied remote statuses (no I/O)."""
        writeback = self.rules
        plan = OrderPlan(order_id, status_before=current)
        reference, written = self.ledger.status_reference(order_id)
        # Staff moving an order on along the usual path (on-hold → processing once paid) is no
        # veto; putting it back on hold, reopening it or any other move is, until they move it again.
        human = reference is not None and reference != current and not may_move(reference, current)
        since = "after the daemon's last write" if written else "after the daemon took the order"
        target = current
        for candidate in candidates:
            source, remote = candidate["source"], candidate["remote_status"]
            known = self.sources.get(source)
            label = known.title if known else source
            wanted = writeback.status_map(source).get(remote)
            if known is not None and remote in known.quiet_statuses:
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
            note = _note(candidate, label) if writeback.add_notes else None
            if note:
                plan.notes.append(note)
            if known is not None and known.kind == "tracking":
                if candidate.get("tracking_number"):
                    plan.meta[writeback.tracking_number_meta_key] = candidate["tracking_number"]
                if candidate.get("carrier"):
                    plan.meta[writeback.carrier_meta_key] = candidate["carrier"]
            plan.entries.append({"source": source, "remote_status": remote, "action": action,
                                 "detail": _note(candidate, label), "status_before": current, "note": note})
        if target != current:
            plan.status_after = target
        for entry in plan.entries:
            entry["status_after"] = plan.status_after or current
        return plan

    def apply(self, *, dry_run: bool = False) -> list[OrderPlan]:
        """Apply every unapplied remote status; with ``dry_run`` only say what would happen."""
        grouped: dict[int, list[dict[str, Any]]] = {}
        kinds = {kind: [s.name for s in self.sources.values() if s.kind == kind] for kind in ("delivery", "tracking")}
        candidates = self.ledger.writeback_candidates(
            delivery_sources=kinds["delivery"], tracking_sources=kinds["tracking"]
        )
        for candidate in candidates:
            grouped.setdefault(candidate["order_id"], []).append(candidate)
        plans = []
        for order_id, candidates in grouped.items():
            if self.stop_event.is_set():
                break
            try:
                raw = self.shop.get_order(order_id)
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
            self.on_progress()
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
            self.shop.update_order(plan.order_id, update)
        quiet = [entry for entry in plan.entries if not entry["note"]]
        self.ledger.record_writeback(plan.order_id, quiet, written_status=plan.status_after, now=self.clock())
        for entry in plan.entries:
            if entry["note"]:
                self.shop.add_note(plan.order_id, entry["note"])
                self.ledger.record_writeback(plan.order_id, [entry], written_status=None, now=self.clock())
        if (update or plan.notes) and absorb:
            # Our writes bumped date_modified: record the order as it is now, so the next poll
            # does not re-push it as if the merchant had edited it. A status we wrote is still news
            # for the platforms that show it (OrderRepo's "WooCommerce status"): one update each.
            try:
                raw = self.shop.get_order(plan.order_id)
                self.ledger.absorb(self.remap(raw), now=self.clock(), status_written=bool(plan.status_after))
            except SyncError as error:
                # Written and recorded; the next poll sees the new date and sends what changed.
                log.warning("could not re-read the order after writing back", order_id=plan.order_id,
                            error=str(error))
