"""Receipts and rejection notes in the WooCommerce order: what the merchant sees in wp-admin.

The ledger queues them in the transaction that records a delivery's outcome (``ledger/receipts.py``);
this job writes them and marks them written:

- a receipt per (order, platform) that took it, in order meta ``sync_daemon_<platform>`` (shown in
  the Custom Fields box: WordPress hides keys that start with "_"), e.g. "GoTrack #305 · 2026-12-07
  15:40 UTC". Up to 100 orders go in one ``POST orders/batch``, so a backfill of 4 000 orders adds
  40 requests. Writing a key again replaces its value (WooCommerce updates the first meta of a key
  given without an id), so a batch sent again after a crash changes nothing. The daemon never reads
  these keys into an order (``core.order.is_own_meta``): under HPOS the write bumps
  ``date_modified`` and the next poll reads the order back, and its payloads hash as before.
- one private note per (order, platform, reason) the platform did not get: why, and what to do.
  A note is not idempotent: one begun before a crash is looked for in the order's notes before it
  is added again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from itertools import groupby
from typing import TYPE_CHECKING, Any

import structlog

from sync_daemon.config import WritebackSettings
from sync_daemon.core.errors import PermanentError, SyncError
from sync_daemon.core.order import OWN_META_PREFIX
from sync_daemon.core.redaction import redact
from sync_daemon.ledger import Ledger, OutboxEntry
from sync_daemon.ledger.receipts import NOTE_KINDS, RECEIPT
from sync_daemon.platforms import REGISTRY
from sync_daemon.source.woocommerce import BATCH_LIMIT, WooCommerceSource

if TYPE_CHECKING:
    from sync_daemon.engine.sync import Engine

log = structlog.get_logger("sync_daemon.receipts")

NOTES_PER_RUN = 200  # notes are rare; a run that meets more leaves the rest for the next one
GONE_CODES = ("woocommerce_rest_shop_order_invalid_id", "woocommerce_rest_order_invalid_id")
FIX_AND_SAVE = "Fix this in the order and save it: the order is sent again by itself."


def receipt_key(platform: str) -> str:
    """The order meta key of one platform's receipt."""
    return f"{OWN_META_PREFIX}{platform}"


def receipt_text(title: str, remote_id: str | None, at: str) -> str:
    """A receipt's meta value: the platform, its id for the order, when (UTC)."""
    when = datetime.fromisoformat(at).strftime("%Y-%m-%d %H:%M UTC")
    return f"{title} #{remote_id} · {when}" if remote_id else f"{title}: accepted · {when}"


def note_text(entry: OutboxEntry, title: str) -> str:
    """A rejection note: which platform, why in its words, and what to do."""
    if entry.kind == "unmappable":
        return f"sync-daemon could not send this order to {title}: {entry.reason}. {FIX_AND_SAVE}"
    if entry.kind == "rejected":
        return f"{title} refused this order: {entry.reason}. {FIX_AND_SAVE}"
    return (
        f"sync-daemon gave up sending this order to {title} ({entry.reason}). Once {title} works again, run"
        f" `sync-daemon resync {entry.order_id}` on the server; an edit of the order that changes what is"
        f" sent to {title} sends it again by itself."
    )


class ReceiptWriter:
    """Writes the outbox into the WooCommerce orders (the leader's job, between passes)."""

    def __init__(
        self,
        rules: WritebackSettings,
        ledger: Ledger,
        shop: WooCommerceSource,
        lanes: Mapping[str, tuple[str, str]],
        *,
        clock: Callable[[], float],
        stop_event: threading.Event,
        on_progress: Callable[[], None] = lambda: None,
    ) -> None:
        self.rules = rules  # the [writeback] settings: receipts, rejection_notes
        self.ledger = ledger
        self.shop = shop
        self.lanes = lanes  # destination name → (its platform's name, title)
        self.clock = clock
        self.stop_event = stop_event
        self.on_progress = on_progress

    @classmethod
    def of(cls, engine: Engine) -> ReceiptWriter:
        """The receipt writer of an engine: its settings, ledger, shop and destinations."""
        lanes = {
            name: (destination.section, REGISTRY[destination.section].title)
            for name, destination in engine.destinations.items()
            if destination.section in REGISTRY
        }
        return cls(engine.settings.writeback, engine.ledger, engine.source, lanes, clock=engine.clock,
                   stop_event=engine.stop_event, on_progress=engine.on_progress)

    def run(self) -> dict[str, int]:
        """Write what is queued (notes first: they are rare and say what is wrong); returns counts."""
        counts = {"notes": 0, "receipts": 0}
        try:
            counts["notes"] = self._write_notes()
            counts["receipts"] = self._write_receipts()
        except SyncError as error:  # the shop is down or refuses: everything stays queued
            log.warning("receipts and notes not written into WooCommerce; trying again later",
                        error=redact(str(error))[:300], queued=self.ledger.outbox_counts())
        if any(counts.values()):
            log.info("written into WooCommerce orders", **counts)
        return counts

    # -- notes ----------------------------------------------------------------------------

    def _write_notes(self) -> int:
        written = 0
        for entry in self.ledger.unwritten(NOTE_KINDS, orders=NOTES_PER_RUN):
            if self.stop_event.is_set():
                break
            _, title = self.lanes.get(entry.destination, (entry.destination, entry.destination))
            if entry.tries == 0:
                _log_once(entry)
            if not self.rules.rejection_notes:
                self.ledger.outbox_written([entry], now=self.clock(), error="not written: rejection_notes = false")
                continue
            written += self._write_note(entry, redact(note_text(entry, title)))
            self.on_progress()
        return written

    def _write_note(self, entry: OutboxEntry, text: str) -> int:
        try:
            # Begun before (the daemon died before it learnt the answer): the note may be there already.
            notes = self.shop.order_notes(entry.order_id) if entry.tries else []
            if any(_same_note(note.get("note"), text) for note in notes):
                self.ledger.outbox_written([entry], now=self.clock())
                return 0
            self.ledger.outbox_begun([entry])
            self.shop.add_note(entry.order_id, text)
        except PermanentError as error:  # the order was deleted: nothing to note any more
            self.ledger.outbox_written([entry], now=self.clock(), error=redact(str(error))[:300])
            return 0
        except SyncError as error:
            self.ledger.outbox_failed([entry], redact(str(error))[:300])
            raise
        self.ledger.outbox_written([entry], now=self.clock())
        return 1

    # -- receipts -------------------------------------------------------------------------

    def _write_receipts(self) -> int:
        written = 0
        while not self.stop_event.is_set():
            entries = self.ledger.unwritten((RECEIPT,), orders=BATCH_LIMIT)
            if not entries:
                break
            own = [entry for entry in entries if _is_order_lane(entry, self.lanes)]
            others = [entry for entry in entries if not _is_order_lane(entry, self.lanes)]
            # Event lanes and platforms no longer enabled: nothing to show in the order.
            self.ledger.outbox_written(others, now=self.clock(), error="not written: no receipt for this lane")
            if not self.rules.receipts:
                self.ledger.outbox_written(own, now=self.clock(), error="not written: receipts = false")
                continue
            done, refused = self._write_batch(own)
            written += done
            self.on_progress()
            if refused:  # the refused ones are the oldest queued: asking again at once would meet them again
                break
        return written

    def _write_batch(self, entries: Sequence[OutboxEntry]) -> tuple[int, bool]:
        """One batch request; returns (receipts written, whether the shop refused some)."""
        if not entries:
            return 0, False
        by_order = {order_id: list(group) for order_id, group in groupby(entries, key=lambda entry: entry.order_id)}
        updates = [
            {"id": order_id, "meta_data": [self._meta(entry) for entry in group]}
            for order_id, group in by_order.items()
        ]
        try:
            answers = self.shop.update_orders_batch(updates)
        except SyncError as error:
            self.ledger.outbox_failed(entries, redact(str(error))[:300])
            raise
        done, gone, failed = [], [], []
        for index, update in enumerate(updates):
            answer = answers[index] if index < len(answers) else {}
            group = by_order[update["id"]]
            error = answer.get("error") if isinstance(answer.get("error"), dict) else None
            if error is None and answer.get("id") == update["id"]:
                done += group
            elif error is not None and error.get("code") in GONE_CODES:
                gone += group
            else:
                failed.append((group, _describe(error)))
        now = self.clock()
        self.ledger.outbox_written(done, now=now)
        self.ledger.outbox_written(gone, now=now, error="not written: the order is no longer in WooCommerce")
        for group, reason in failed:  # stays queued: the next run tries again
            self.ledger.outbox_failed(group, reason)
        if failed:
            log.warning("receipts refused for some orders; trying again later",
                        orders=[group[0].order_id for group, _ in failed][:20], reason=failed[0][1])
        return len(done), bool(failed)

    def _meta(self, entry: OutboxEntry) -> dict[str, Any]:
        platform, title = self.lanes[entry.destination]
        return {"key": receipt_key(platform), "value": receipt_text(title, entry.remote_id, entry.at)}


def _log_once(entry: OutboxEntry) -> None:
    """One line per rejection decided before sending, and per delivery given up.

    A platform's own refusal was logged when its answer was recorded ("order rejected", engine/sync.py).
    Called while the note's write has not begun, so a run that fails to write it does not log it again.
    """
    if entry.kind == "unmappable":
        log.warning("order rejected", order_id=entry.order_id, destination=entry.destination, reason=entry.reason,
                    decided="before sending")
    elif entry.kind == "dead":
        log.warning("delivery given up", order_id=entry.order_id, destination=entry.destination, reason=entry.reason)


def _same_note(stored: Any, text: str) -> bool:
    """True when a note read back is ``text`` (WordPress unslashes a comment before storing it)."""
    return isinstance(stored, str) and stored.replace("\\", "").split() == text.replace("\\", "").split()


def _is_order_lane(entry: OutboxEntry, lanes: Mapping[str, tuple[str, str]]) -> bool:
    """True for a platform's order lane (its destination is named as the platform), not an event lane."""
    return entry.destination in lanes and lanes[entry.destination][0] == entry.destination


def _describe(error: Mapping[str, Any] | None) -> str:
    if error is None:
        return "no answer for this order in the batch answer"
    return redact(f"{error.get('code')}: {error.get('message')}")[:300]
