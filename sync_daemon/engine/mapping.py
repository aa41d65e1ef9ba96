"""An order read from WooCommerce, parsed once and mapped for every destination: what ingest records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import structlog

from sync_daemon.core.errors import NotApplicable, UnmappableOrder
from sync_daemon.core.order import Order
from sync_daemon.core.outcome import IngestItem, Mapped
from sync_daemon.core.redaction import redact
from sync_daemon.core.storable import storable, text_problem
from sync_daemon.platforms import Destination, StatusSource

log = structlog.get_logger("sync_daemon.engine")


def order_modified_key(raw: dict[str, Any]) -> str:
    """The dedupe key of a raw order: its ``date_modified_gmt`` text (or empty when missing)."""
    value = raw.get("date_modified_gmt")
    return value if isinstance(value, str) else ""


class OrderMapper:
    """Maps raw orders for the destinations; a mapping that fails becomes a rejection, never an exception."""

    def __init__(self, destinations: Mapping[str, Destination], status_sources: Iterable[StatusSource]) -> None:
        self.destinations = destinations
        # A tracking source names the id an order is tracked by, taken at ingest.
        self.status_sources = [source for source in status_sources if source.kind == "tracking"]

    def map_raw(self, raw: dict[str, Any], names: Sequence[str] | None = None, *, plain: bool = False) -> IngestItem:
        """Parse a raw order once and map it for each destination; failures become rejections.

        ``plain``: the answer the order came in is known to hold no unstorable text (not looked for again).
        """
        names = list(names or self.destinations)
        # A text no ledger can store would fail the whole page's write: the order is refused instead.
        problem = None if plain else text_problem(raw)
        if problem:
            return self.rejected(raw, f"unusable WooCommerce data: {problem}; correct it in WooCommerce", names)
        try:
            order = Order.from_wc(raw)
        except UnmappableOrder as error:
            return self.rejected(raw, f"unusable WooCommerce data: {error}", names)
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
        modified = order_modified_key(raw)
        return IngestItem(order.id, order.number, modified, order.status, mapped, tracking_id=self._tracking_id(order))

    def map_guarded(
        self, raw: dict[str, Any], names: Sequence[str] | None = None, *, plain: bool = False
    ) -> IngestItem:
        """``map_raw``; a bug that one order's data trips becomes that order's rejection, not its page's failure."""
        try:
            return self.map_raw(raw, names, plain=plain)
        except Exception as error:  # noqa: BLE001 - logged with the traceback; the order is refused, the page goes on
            log.exception("mapping an order failed; it is recorded as rejected", order_id=raw["id"])
            return self.rejected(raw, redact(f"internal error while mapping: {type(error).__name__}: {error}"), names)

    def rejected(self, raw: dict[str, Any], reason: str, names: Sequence[str] | None = None) -> IngestItem:
        """The order as refused by every destination (or ``names``) for ``reason``, its texts made storable."""
        mapped = [self._rejection(name, storable(reason)) for name in names or self.destinations]
        number, status = storable(str(raw.get("number") or raw["id"])), storable(str(raw.get("status")))
        return IngestItem(raw["id"], number, storable(order_modified_key(raw)), status, mapped)

    def _tracking_id(self, order: Order) -> str | None:
        for source in self.status_sources:
            found = source.tracking_id(order)
            if found:
                return found
        return None

    def _rejection(self, name: str, reason: str) -> Mapped:
        return Mapped(name, None, rejection=reason, supports_update=self.destinations[name].supports_update)
