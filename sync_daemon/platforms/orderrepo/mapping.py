"""OrderRepo's payload for an order (pure: the product-image lookup comes from the shop context).

Mapping rules:
- ``id`` is the WooCommerce order id with the optional ``id_prefix``; ``currency`` is the order's
  (never OrderRepo's RUB default); ``total`` and every product ``price`` are integers in the
  currency's minor units (ISO 4217 exponent, Decimal, rounded half-up — see currencies.py).
- A product's ``price`` is what the customer pays per unit (line total after coupons plus its tax,
  divided by the quantity); ``count`` must be 1 or more. Free items go out with price 0.
- Every product needs an ``image`` URL: the line item's image, else the product's image (looked up
  once per product in WooCommerce and cached), else ``fallback_image_url``; with none, the order
  is rejected with a message naming the product.
- ``data[]`` carries the configured extras as ``{name, value}`` pairs; the WooCommerce status is
  always among them, so a status change in the shop is an update here.
- ``phone`` is sent as the customer typed it (trimmed): OrderRepo is not Bangladesh-specific.
  An e-mail that is not a valid address is left out (and noted) rather than failing the order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sync_daemon.core.currencies import to_minor_units
from sync_daemon.core.errors import (
    RetryableError,
    UnmappableOrder,
)
from sync_daemon.core.order import MAX_QUANTITY, Order
from sync_daemon.platforms.base import MappingResult

if TYPE_CHECKING:
    pass

from sync_daemon.platforms.orderrepo.settings import OrderRepoSettings

CUSTOMER_NOTE_LIMIT = 1000  # characters of the customer note sent in data[]


# "Valid email format" in OrderRepo's field table: the WHATWG (HTML form) definition, which is as
# strict as the platform's check. A looser test here would let OrderRepo refuse the whole order
# over an address that is better left out (a trailing dot, a space, a missing top-level label).
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


DATA_LABELS = {
    "order_number": "Order number",
    "delivery_address": "Delivery address",
    "payment_method": "Payment method",
    "customer_note": "Customer note",
    "shipping_method": "Shipping method",
}


ImageLookup = Callable[[int], str | None]



def external_id(order_id: int, prefix: str) -> str:
    """OrderRepo's id for a WooCommerce order."""
    return f"{prefix}{order_id}"



def order_id_from_external(value: str, prefix: str) -> int | None:
    """The WooCommerce order id behind an OrderRepo id, or None when it is not one of ours."""
    if not value.startswith(prefix):
        return None
    rest = value[len(prefix) :]
    return int(rest) if rest.isdigit() else None



def _data_pairs(order: Order, fields: list[str]) -> list[dict[str, str]]:
    values = {
        "order_number": order.number,
        "delivery_address": ", ".join(
            part for part in (order.delivery_address.one_line(), order.delivery_address.country) if part
        ),
        "payment_method": order.payment_method_title or order.payment_method,
        "customer_note": order.customer_note[:CUSTOMER_NOTE_LIMIT],
        "shipping_method": ", ".join(method for method in order.shipping_methods if method),
    }
    pairs = [{"name": "WooCommerce status", "value": order.status}]
    pairs += [{"name": DATA_LABELS[field], "value": values[field]} for field in fields if values.get(field)]
    return pairs



def map_order(order: Order, settings: OrderRepoSettings, image_lookup: ImageLookup | None = None) -> MappingResult:
    """OrderRepo's payload for an order; raise UnmappableOrder with the reason when impossible."""
    currency = order.currency
    products = []
    for item in order.line_items:
        if item.quantity < 1:
            raise UnmappableOrder(f"line item {item.name!r} has quantity {item.quantity}; OrderRepo needs 1 or more")
        if item.quantity > MAX_QUANTITY:
            raise UnmappableOrder(f"line item {item.name!r} has quantity {item.quantity}, more than {MAX_QUANTITY}")
        if item.gross_total < 0:
            raise UnmappableOrder(f"line item {item.name!r} has a negative total ({item.gross_total})")
        image = item.image_url
        if not image and item.product_id and image_lookup is not None:
            try:
                image = image_lookup(item.variation_id or item.product_id) or (
                    image_lookup(item.product_id) if item.variation_id else None
                )
            except RetryableError:
                # The shop did not answer the lookup: the fallback will do; without one the order
                # is not refused for it (the page is read again on the next poll).
                if not settings.fallback_image_url:
                    raise
        image = image or settings.fallback_image_url
        if not image:
            raise UnmappableOrder(
                f"product {item.name!r} has no image, and OrderRepo requires one for every product: "
                "give the product an image in WooCommerce or set orderrepo.fallback_image_url"
            )
        products.append(
            {
                "name": item.name,
                "price": to_minor_units(item.gross_total / Decimal(item.quantity), currency),
                "count": item.quantity,
                "image": image,
            }
        )
    total = to_minor_units(order.total, currency)
    if total < 0:
        raise UnmappableOrder(f"the order total is negative ({order.total})")
    payload: dict[str, Any] = {
        "id": external_id(order.id, settings.id_prefix),
        "total": total,
        "currency": currency,
    }
    note = None
    if order.phone:
        payload["phone"] = order.phone
    email = order.billing.email
    if email and _EMAIL.match(email):
        payload["email"] = email
    elif email:
        note = f"e-mail {email[:60]!r} is not a valid address and was left out"
    username = order.billing.full_name or order.customer_name or email
    if username:
        payload["username"] = username
    if products:
        payload["products"] = products
    pairs = _data_pairs(order, list(settings.data_fields))
    if pairs:
        payload["data"] = pairs
    return MappingResult(payload=payload, note=note)
