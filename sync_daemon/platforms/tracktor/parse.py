"""Reading Tracktor's answers: tracking, fulfillments, status options (defensive: a missing field is None)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:

    from sync_daemon.core.order import Order
from sync_daemon.platforms.tracktor.settings import TracktorSettings

SHIPMENT_STATUSES = ("order_ready", "in_transit", "out_for_delivery", "delivered")


EXCEPTION_STATUSES = ("not_found", "exception", "undelivered", "pending", "expired")


PLAIN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")



@dataclass(frozen=True)
class Fulfillment:
    """One fulfillment's tracking as Tracktor reports it; any field may be None."""

    fulfillment_id: str
    shipment_status: str | None  # order_ready, in_transit, out_for_delivery, delivered, or custom
    exception_status: str | None  # not_found, exception, undelivered, pending, expired
    carrier_name: str | None
    carrier_slug: str | None
    tracking_number: str | None
    fulfillment_status: str | None



@dataclass(frozen=True)
class OrderTracking:
    """An order's tracking: one status per fulfillment, exceptions, and the fulfillments."""

    order_id: str
    statuses: tuple[str, ...]
    exception_statuses: tuple[str, ...]
    fulfillments: tuple[Fulfillment, ...]



def tracktor_order_id(order: Order, settings: TracktorSettings) -> str | None:
    """The Tracktor order id of a WooCommerce order, or None when the order is not tracked."""
    if settings.order_id_source == "order_id":
        raw: Any = order.id
    else:
        raw = order.meta.get(settings.order_id_meta_key)
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        raw = str(raw)
    if not isinstance(raw, str):
        return None
    value = raw.strip()
    return value if PLAIN_ID.fullmatch(value) else None



def text_of(value: Any) -> str | None:
    """A stripped non-empty string from a str or a number; None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    return value.strip() or None



def unwrap(body: Any, key: str) -> Any:
    """``body[key]`` when the answer uses the envelope, else the body itself."""
    if isinstance(body, dict) and isinstance(body.get(key), dict | list):
        return body[key]
    return body



def parse_fulfillment(data: Any) -> Fulfillment | None:
    """A Fulfillment from Tracktor's fulfillment object (enveloped or bare); None when not an object."""
    data = unwrap(data, "fulfillment")
    if not isinstance(data, dict):
        return None
    carrier = data.get("carrier")
    carrier_name = carrier_slug = None
    if isinstance(carrier, dict):
        carrier_name, carrier_slug = text_of(carrier.get("name")), text_of(carrier.get("slug"))
    elif isinstance(carrier, str):
        carrier_name = text_of(carrier)
    return Fulfillment(
        fulfillment_id=text_of(data.get("fulfillment_id")) or text_of(data.get("id")) or "",
        shipment_status=text_of(data.get("shipment_status")),
        exception_status=text_of(data.get("exception_status")),
        carrier_name=carrier_name or text_of(data.get("shopify_carrier")),
        carrier_slug=carrier_slug,
        tracking_number=text_of(data.get("tracking_number")),
        fulfillment_status=text_of(data.get("fulfillment_status")),
    )



def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(text for text in (text_of(item) for item in value) if text)



def parse_order_tracking(data: Any, requested_id: str = "") -> OrderTracking | None:
    """An OrderTracking from Tracktor's order object (enveloped or bare); None when not an object."""
    data = unwrap(data, "order")
    if not isinstance(data, dict):
        return None
    raw = data.get("fulfillments") if isinstance(data.get("fulfillments"), list) else []
    fulfillments = tuple(parsed for parsed in map(parse_fulfillment, raw) if parsed is not None)
    if isinstance(data.get("statuses"), list):
        statuses = _strings(data["statuses"])
    else:
        statuses = tuple(f.shipment_status for f in fulfillments if f.shipment_status)
    if isinstance(data.get("exception_statuses"), list):
        exceptions = _strings(data["exception_statuses"])
    else:
        exceptions = tuple(f.exception_status for f in fulfillments if f.exception_status)
    return OrderTracking(
        order_id=text_of(data.get("order_id")) or requested_id,
        statuses=statuses,
        exception_statuses=exceptions,
        fulfillments=fulfillments,
    )



def parse_status_options(data: Any) -> list[dict[str, Any]]:
    """Status options as dicts with at least ``slug`` and ``name``; malformed entries dropped."""
    for key in ("status_options", "statuses", "options"):
        if isinstance(data, dict) and isinstance(data.get(key), list):
            data = data[key]
            break
    if not isinstance(data, list):
        return []
    options = []
    for item in data:
        if isinstance(item, str) and item.strip():
            options.append({"slug": item.strip(), "name": item.strip()})
        elif isinstance(item, dict):
            slug = text_of(item.get("slug")) or text_of(item.get("value")) or text_of(item.get("status"))
            name = text_of(item.get("name")) or text_of(item.get("label")) or slug
            if slug:
                options.append({**item, "slug": slug, "name": name})
    return options
