"""GoTrack.bd: ``POST /api/v1/orders`` with HTTP Basic auth, idempotent by external_order_id.

Mapping rules (GoTrack computes ``total_selling_price`` = Σ quantity × selling_price +
delivery_charge + cod_charge, and requires quantity > 0 and selling_price > 0):

- A line's ``selling_price`` is what the customer pays per unit: the line total after coupon
  discounts plus its tax, divided by the quantity. When that does not come out in whole paisa
  (100 / 3), the line is split in two lines of the same name (2 × 33.33 + 1 × 33.34) so the sum
  stays exact.
- ``delivery_charge`` is shipping plus shipping tax; fees whose name matches ``cod_fee_pattern``
  become ``cod_charge``; other positive fees become a line of their own (quantity 1).
- Zero-priced items (free gifts) cannot be sent (price must be > 0): by default they are left out
  and the ledger notes which; ``zero_price_items = "reject"`` rejects the order instead.
- A negative fee (a discount booked as a fee) cannot be expressed: the order is rejected.
- GoTrack's order has no currency field: it collects cash on delivery in Bangladeshi taka. An
  order in any other currency is rejected rather than sent with its amounts read as taka.
- Finally the total GoTrack will compute is compared with WooCommerce's; any difference rejects
  the order with both figures, rather than sending a wrong total.

GoTrack has no update endpoint: an order edited after delivery is noted in the ledger, not sent.
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sync_daemon.core.errors import UnmappableOrder
from sync_daemon.core.order import MAX_QUANTITY, Order
from sync_daemon.core.phones import normalise_bd_mobile
from sync_daemon.platforms.base import MappingResult
from sync_daemon.platforms.gotrack.settings import GoTrackSettings

CURRENCY = "BDT"


CENT = Decimal("0.01")


ZERO = Decimal("0")



def json_number(amount: Decimal) -> int | float:
    """A JSON number for a money Decimal (floats print their shortest exact repr: 33.33 stays 33.33)."""
    if amount == amount.to_integral_value():
        return int(amount)
    number = float(amount)
    if Decimal(repr(number)) != amount:  # pragma: no cover - only for amounts beyond 15 digits
        raise UnmappableOrder(f"amount {amount} cannot be sent as a JSON number exactly")
    return number



def _split_line(name: str, quantity: int, gross: Decimal) -> list[dict[str, Any]]:
    """One or two lines whose quantity × price adds up to ``gross`` exactly, in paisa."""
    unit = (gross / quantity).quantize(CENT, rounding=ROUND_DOWN)
    if unit * quantity == gross:
        return [{"name": name, "quantity": quantity, "selling_price": json_number(unit)}]
    last = gross - unit * (quantity - 1)
    if unit <= ZERO:
        raise UnmappableOrder(f"line item {name!r}: {gross} over {quantity} units is less than 0.01 each")
    return [
        {"name": name, "quantity": quantity - 1, "selling_price": json_number(unit)},
        {"name": name, "quantity": 1, "selling_price": json_number(last)},
    ]



def map_order(order: Order, settings: GoTrackSettings) -> MappingResult:
    """GoTrack's payload for an order; raise UnmappableOrder with the reason when impossible."""
    if order.currency != CURRENCY:
        raise UnmappableOrder(
            f"the order is in {order.currency}; GoTrack takes amounts in Bangladeshi taka ({CURRENCY}) only"
        )
    phone = normalise_bd_mobile(order.phone, settings.phone_format)
    lines: list[dict[str, Any]] = []
    skipped: list[str] = []
    for item in order.line_items:
        if item.quantity <= 0:
            raise UnmappableOrder(f"line item {item.name!r} has quantity {item.quantity}; GoTrack needs more than 0")
        if item.quantity > MAX_QUANTITY:
            raise UnmappableOrder(f"line item {item.name!r} has quantity {item.quantity}, more than {MAX_QUANTITY}")
        gross = item.gross_total
        if gross < ZERO:
            raise UnmappableOrder(f"line item {item.name!r} has a negative total ({gross})")
        if gross == ZERO:
            if settings.zero_price_items == "reject":
                raise UnmappableOrder(f"line item {item.name!r} is free; GoTrack needs a selling price above 0")
            skipped.append(f"{item.quantity} × {item.name}")
            continue
        lines.extend(_split_line(item.name, item.quantity, gross))
    if not lines:
        raise UnmappableOrder("the order has no product with a price above 0 (GoTrack needs at least one)")
    cod_pattern = re.compile(settings.cod_fee_pattern)
    cod_charge = ZERO
    for fee in order.fee_lines:
        gross = fee.gross_total
        if gross < ZERO:
            raise UnmappableOrder(
                f"fee {fee.name!r} is negative ({gross}); GoTrack has no discount field, so its total would be wrong"
            )
        if gross == ZERO:
            continue
        if cod_pattern.search(fee.name):
            cod_charge += gross
        else:
            lines.append({"name": fee.name, "quantity": 1, "selling_price": json_number(gross)})
    delivery_charge = order.shipping_gross
    if delivery_charge < ZERO:
        raise UnmappableOrder(f"shipping is negative ({delivery_charge})")
    computed = sum((Decimal(repr(line["selling_price"])) * line["quantity"] for line in lines), ZERO)
    computed += delivery_charge + cod_charge
    if computed != order.total:
        raise UnmappableOrder(
            f"GoTrack would compute a total of {computed} but the WooCommerce order total is {order.total}; "
            "not sent, to avoid a wrong cash-on-delivery amount"
        )
    customer: dict[str, Any] = {"phone": phone}
    if order.customer_name:
        customer["name"] = order.customer_name
    address = order.delivery_address.one_line()
    if address:
        customer["address"] = address
    payload = {
        "external_source": settings.external_source,
        "external_order_id": str(order.id),
        "customer": customer,
        "line_items": lines,
        "delivery_charge": json_number(delivery_charge),
        "cod_charge": json_number(cod_charge),
    }
    note = f"left out free item(s): {', '.join(skipped)}" if skipped else None
    return MappingResult(payload=payload, note=note)
