"""An order read from WooCommerce, parsed once and mapped for every destination: what ingest records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sync_daemon.core.errors import NotApplicable, UnmappableOrder
from sync_daemon.core.order import Order
from sync_daemon.core.outcome import IngestItem, Mapped
from sync_daemon.platforms import Destination, StatusSource


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
        for source in self.status_sources:
            found = source.tracking_id(order)
            if found:
                return found
        return None

    def _rejection(self, name: str, reason: str) -> Mapped:
        return Mapped(name, None, rejection=reason, supports_update=self.destinations[name].supports_update)
