"""What an order read again (or resynced) does to its delivery row: pure decisions, no storage.

The ledger looks up the row, asks here what to do, and writes it. Keeping the rules out of the
SQL means a second ledger backend applies the same state machine instead of writing it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sync_daemon.core.outcome import Mapped, Operation

IngestCount = Literal["new", "changed", "rejected", "unchanged", "skipped"]
# insert:   a first row for this (order, destination), in ``state``
# keep:     nothing to do but remember the order's new modification stamp
# annotate: a delivered row stays delivered; ``note`` says why the change was not sent
# withdraw: the row leaves the queue (rejected or skipped), with the mapping's reason
# queue:    the row goes back to ``pending`` with ``operation``
IngestAction = Literal["insert", "keep", "annotate", "withdraw", "queue"]

NO_UPDATE_API_NOTE = "changed in WooCommerce after delivery; this platform has no update API, so it was not re-sent"


@dataclass(frozen=True)
class StoredDelivery:
    """The part of an existing delivery row that ingest decides on."""

    state: str
    payload_hash: str | None
    delivered_hash: str | None
    operation: str = "create"  # ``update`` once the platform is known to have the order

    @property
    def platform_has_it(self) -> bool:
        """Delivered, or a create the platform confirmed while its recovery step failed (RetryAsUpdate)."""
        return self.delivered_hash is not None or self.operation == "update"


@dataclass(frozen=True)
class IngestDecision:
    """What ingest writes for one (order, destination), and which count it adds to."""

    action: IngestAction
    count: IngestCount
    state: str | None = None  # the row's new state (insert, withdraw, queue)
    operation: Operation = "create"
    note: str | None = None  # the row's note, when the action writes one
    log_rejection: bool = False  # log a "map" attempt with the rejection reason


@dataclass(frozen=True)
class ResyncDecision:
    """What a manual resync writes for one (order, destination)."""

    state: str  # ``sending`` when there is a payload to push now
    operation: Operation


def decide_ingest(row: StoredDelivery | None, mapped: Mapped, new_hash: str) -> IngestDecision:
    """The transition of one delivery row for a freshly mapped order (``new_hash``: its content hash)."""
    if row is None:
        if mapped.payload is not None:
            return IngestDecision("insert", "new", state="pending", note=mapped.note)
        if mapped.skipped:
            return IngestDecision("insert", "skipped", state="skipped", note=mapped.note)
        return IngestDecision("insert", "rejected", state="rejected", note=mapped.note, log_rejection=True)
    # A row in ``sending`` has a request out and is decided again whatever its hash (the
    # dispatcher's ``settle`` normally keeps ingest from meeting one).
    if new_hash in (row.payload_hash, row.delivered_hash) and row.state != "sending":
        return IngestDecision("keep", "unchanged")
    if mapped.payload is None:
        if row.state == "delivered":
            # Already with the platform; an edit that makes it unmappable is noted, not sent.
            note = f"changed after delivery but cannot be sent: {mapped.rejection}"
            return IngestDecision("annotate", "rejected", note=note)
        if mapped.skipped:
            return IngestDecision("withdraw", "skipped", state="skipped", note=mapped.note)
        return IngestDecision("withdraw", "rejected", state="rejected", note=mapped.note, log_rejection=True)
    if row.delivered_hash is not None and not mapped.supports_update:
        return IngestDecision("annotate", "unchanged", note=NO_UPDATE_API_NOTE)
    # A create the platform already has is never sent again, even when the order changed meanwhile.
    operation: Operation = "update" if row.platform_has_it else "create"
    return IngestDecision("queue", "changed", state="pending", operation=operation, note=mapped.note)


def decide_resync(mapped: Mapped, *, delivered_before: bool) -> ResyncDecision:
    """The transition of one delivery row for a manual resync, whatever its state was."""
    if mapped.payload is None:
        return ResyncDecision("skipped" if mapped.skipped else "rejected", "create")
    # A platform without an update API is sent a create, as for a new order.
    return ResyncDecision("sending", "update" if delivered_before and mapped.supports_update else "create")
