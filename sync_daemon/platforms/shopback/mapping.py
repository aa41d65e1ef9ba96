"""ShopBack's postback query for an order (pure). Contract: ``shared/seeds/002_…``.

Mapping rules:

- An order takes part only when its meta ``transaction_id_meta_key`` (default
  ``_shopback_transaction_id``) holds a click id. Absent or blank → ``NotApplicable`` (the ledger
  counts it as ``skipped``). A click id that is not 1–64 ASCII letters and digits (surrounding
  spaces are trimmed) is rejected locally: ShopBack would only answer ``Invalid Trans. ID``.
- ``adv_sub`` is the customer-facing order number. The contract says "alphanumeric" and its own
  example is ``order_123``: the strict reading, 1–64 ASCII letters, digits and underscores, is
  checked here; any other number (``INV/2024 #1042``, ``WC-1042``) rejects the order locally, with
  the reason, instead of a postback ShopBack answers ``Invalid adv_sub``. ``amount`` is, by ``amount``:
  ``total`` = the order total; ``total_excl_shipping`` = total − shipping − shipping tax;
  ``total_excl_shipping_and_tax`` (default) = total − shipping − all tax (``total_tax`` already
  includes the shipping tax, so this equals total − shipping_gross − total_tax + shipping_tax).
  Fees stay in (a negative "discount" fee lowers it), refunds are not subtracted. Two decimals,
  rounded half-up, no thousands separator; a negative amount rejects the order.
- ``extra_fields`` maps ``adv_sub2…5`` / ``adv_unique1…5`` to order fields (see
  ``parse_field_spec``); an empty value leaves the parameter out. The contract gives them no
  format; a value with a control character or over 255 characters is left out too (noted), as
  it is optional: the conversion must not be lost for it.
- The payload stored in the ledger is the query WITHOUT the security token; ``push`` adds it.
  Every value is percent-encoded (UTF-8, a space as ``%20``).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from sync_daemon.core.errors import (
    NotApplicable,
    UnmappableOrder,
)
from sync_daemon.core.order import Order
from sync_daemon.platforms.base import MappingResult

if TYPE_CHECKING:
    pass

from sync_daemon.platforms.shopback.fields import (
    EXTRA_FIELD_KEYS,
    OPTIONAL_RULE,
    field_text,
    optional_text_allowed,
    parse_field_spec,
)
from sync_daemon.platforms.shopback.settings import ShopBackSettings

CENT = Decimal("0.01")


ZERO = Decimal("0")


TRANSACTION_ID = re.compile(r"[A-Za-z0-9]{1,64}")


TRANSACTION_ID_RULE = "1 to 64 letters and digits"


ADV_SUB = re.compile(r"[A-Za-z0-9_]{1,64}")


ADV_SUB_RULE = "1 to 64 ASCII letters, digits and underscores"



def transaction_id_of(order: Order, meta_key: str) -> str:
    """The order's ShopBack click id; NotApplicable when absent, UnmappableOrder when malformed."""
    raw = order.meta.get(meta_key)
    if raw is None or raw in ([], {}) or (isinstance(raw, str) and not raw.strip()):
        raise NotApplicable(f"no ShopBack transaction_id in meta '{meta_key}'")
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        raise UnmappableOrder(f"the ShopBack transaction_id in meta '{meta_key}' is a {type(raw).__name__}, not text")
    value = raw.strip()
    if not TRANSACTION_ID.fullmatch(value):
        raise UnmappableOrder(
            f"the ShopBack transaction_id {_shown(value)!r} in meta '{meta_key}' is not {TRANSACTION_ID_RULE} "
            "(ShopBack would answer 'Invalid Trans. ID'); check how the storefront stores the click id"
        )
    return value


def _shown(value: str) -> str:
    """A refused value as quoted in a rejection: whole up to 70 characters, else its start."""
    return value if len(value) <= 70 else value[:67] + "..."


def adv_sub_of(order: Order) -> str:
    """The order number as ``adv_sub``; UnmappableOrder when ShopBack's "alphanumeric" refuses it."""
    value = (order.number or str(order.id)).strip()
    if not ADV_SUB.fullmatch(value):
        raise UnmappableOrder(
            f"the order number {_shown(value)!r} cannot be ShopBack's adv_sub: it must be {ADV_SUB_RULE} "
            "(ShopBack would answer 'Invalid adv_sub'); see docs/shopback.md"
        )
    return value


def order_amount(order: Order, basis: str) -> Decimal:
    """The amount to report, before rounding (see the module docstring for each basis)."""
    if basis == "total":
        return order.total
    if basis == "total_excl_shipping":
        return order.total - order.shipping_gross
    if basis == "total_excl_shipping_and_tax":
        # total_tax covers items, fees and shipping, so this removes shipping and all tax once.
        return order.total - order.shipping_total - order.total_tax
    raise ValueError(f"unknown amount basis {basis!r}")



def format_amount(amount: Decimal) -> str:
    """Two decimals, rounded half-up, no thousands separator: "1234.50"."""
    return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP):f}"



def map_order(order: Order, settings: ShopBackSettings) -> MappingResult:
    """ShopBack's query parameters for an order, without the security token (pure, no HTTP)."""
    transaction_id = transaction_id_of(order, settings.transaction_id_meta_key)
    amount = order_amount(order, settings.amount)
    if amount < ZERO:
        raise UnmappableOrder(
            f"the amount to report ({settings.amount}) is negative: {amount} "
            f"(total {order.total}, shipping {order.shipping_total}, tax {order.total_tax})"
        )
    payload: dict[str, str] = {
        "offer_id": settings.offer_id,
        "adv_sub": adv_sub_of(order),
        "transaction_id": transaction_id,
        "amount": format_amount(amount),
    }
    left_out = []
    for key in sorted(settings.extra_fields, key=EXTRA_FIELD_KEYS.index):
        spec = settings.extra_fields[key]
        text = field_text(parse_field_spec(spec)(order))
        if text is None:
            left_out.append(f"{key} ({spec} is not text)")
        elif not optional_text_allowed(text):
            left_out.append(f"{key} ({spec} {OPTIONAL_RULE})")
        elif text:
            payload[key] = text
    note = f"left out: {', '.join(left_out)}" if left_out else None
    return MappingResult(payload=payload, note=note)



def query_string(params: dict[str, Any]) -> str:
    """Every value percent-encoded as UTF-8 (a space is %20, '&' is %26)."""
    return urlencode({key: str(value) for key, value in params.items()}, quote_via=quote, safe="")
