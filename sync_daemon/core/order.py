"""The order as the daemon sees it, parsed once from WooCommerce's wc/v3 JSON.

WooCommerce sends money as strings ("1200.00") except ``line_items[].price``, which is a
post-discount number; every amount here is a ``Decimal`` parsed from its text, never a float.
A field that cannot be parsed makes the whole order invalid with a reason a merchant can act
on, instead of a half-read order going out wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sync_daemon.core.errors import UnmappableOrder

_PLAIN_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_CURRENCY_CODE = re.compile(r"[A-Z]{3}")
MAX_QUANTITY = 100_000  # more of one item in a shop order is a data error, not a sale
# Money texts parsed before (Decimals are immutable, so one can be shared): an order repeats "0.00"
# a dozen times, and a shop its prices. Forgotten all at once when it grows past the limit.
_PARSED_MONEY: dict[str, Decimal] = {}
_PARSED_MONEY_LIMIT = 4096


class InvalidOrder(UnmappableOrder):
    """The WooCommerce JSON itself is not a usable order."""


def parse_money(value: Any, what: str | Callable[[], str]) -> Decimal:
    """A Decimal from WooCommerce's money text; thousands separators and junk are refused.

    ``what`` names the amount in the error (a function giving the name is called only then).
    """
    if type(value) is str:
        known = _PARSED_MONEY.get(value)
        if known is not None:
            return known
    return _parse_money(value, what)


def _parse_money(value: Any, what: str | Callable[[], str]) -> Decimal:
    original = value
    if value is None or value == "":
        return Decimal("0")
    if isinstance(value, bool):
        raise InvalidOrder(f"{_name(what)} is {value!r}, not an amount")
    if isinstance(value, int | float):
        value = repr(value) if isinstance(value, float) else str(value)
    text = str(value).strip()
    if not _PLAIN_NUMBER.match(text):
        raise InvalidOrder(f"{_name(what)} is {text[:40]!r}, which is not a plain number like 1200.00")
    try:
        amount = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex already guards this
        raise InvalidOrder(f"{_name(what)} is {text[:40]!r}, not an amount") from None
    if type(original) is str:
        if len(_PARSED_MONEY) >= _PARSED_MONEY_LIMIT:
            _PARSED_MONEY.clear()
        _PARSED_MONEY[original] = amount
    return amount


def _name(what: str | Callable[[], str]) -> str:
    return what if isinstance(what, str) else what()


# The order meta keys the daemon writes itself (receipts: ``sync_daemon_<platform>``), visible in
# WooCommerce admin's Custom Fields box (WordPress hides keys that start with "_").
OWN_META_PREFIX = "sync_daemon_"


def is_own_meta(key: str) -> bool:
    """True for an order meta key the daemon writes itself (never read into the order model)."""
    return key.startswith(OWN_META_PREFIX)


def parse_gmt(value: Any, what: str) -> datetime:
    """An aware UTC datetime from WooCommerce's ``*_gmt`` text (which carries no zone)."""
    if not value or not isinstance(value, str):
        raise InvalidOrder(f"{what} is missing")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidOrder(f"{what} is {value[:40]!r}, not a date") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


@dataclass(frozen=True)
class Address:
    """A billing or shipping address; every field is a stripped string, possibly empty."""

    first_name: str = ""
    last_name: str = ""
    company: str = ""
    address_1: str = ""
    address_2: str = ""
    city: str = ""
    state: str = ""
    postcode: str = ""
    country: str = ""
    email: str = ""
    phone: str = ""

    @classmethod
    def from_wc(cls, data: Any) -> Address:
        """Parse a wc/v3 address object; missing or null fields become empty strings."""
        if not isinstance(data, dict):
            return cls()
        get = data.get
        return cls(*[value.strip() if isinstance(value := get(name), str) else "" for name in _ADDRESS_FIELDS])

    @property
    def full_name(self) -> str:
        """First and last name joined, or the company when there is no name."""
        return " ".join(part for part in (self.first_name, self.last_name) if part) or self.company

    def one_line(self) -> str:
        """The postal address on one line, empty parts left out."""
        parts = (self.address_1, self.address_2, self.city, self.postcode)
        return ", ".join(part for part in parts if part)


_ADDRESS_FIELDS = tuple(Address.__dataclass_fields__)


@dataclass(frozen=True)
class LineItem:
    """One product line: ``total`` is after coupon discounts and before tax."""

    id: int
    name: str
    product_id: int
    variation_id: int
    quantity: int
    subtotal: Decimal
    total: Decimal
    total_tax: Decimal
    sku: str = ""
    image_url: str = ""

    @property
    def gross_total(self) -> Decimal:
        """What the customer pays for this line: discounted total plus its tax."""
        return self.total + self.total_tax


@dataclass(frozen=True)
class FeeLine:
    """A fee (COD fee, gift wrap, or a negative fee used as a discount)."""

    name: str
    total: Decimal
    total_tax: Decimal

    @property
    def gross_total(self) -> Decimal:
        """The fee including its tax."""
        return self.total + self.total_tax


@dataclass(frozen=True)
class Order:
    """A WooCommerce order, reduced to what the destinations need."""

    id: int
    number: str
    status: str
    currency: str
    date_created_gmt: datetime | None
    date_modified_gmt: datetime
    total: Decimal
    total_tax: Decimal
    shipping_total: Decimal
    shipping_tax: Decimal
    discount_total: Decimal
    prices_include_tax: bool
    billing: Address
    shipping: Address
    payment_method: str
    payment_method_title: str
    customer_note: str
    line_items: tuple[LineItem, ...]
    fee_lines: tuple[FeeLine, ...]
    coupon_codes: tuple[str, ...]
    shipping_methods: tuple[str, ...]
    refunded_total: Decimal
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def modified_key(self) -> str:
        """The order's modification stamp as stored in the ledger (UTC, seconds)."""
        return self.date_modified_gmt.strftime("%Y-%m-%dT%H:%M:%S")

    @property
    def shipping_gross(self) -> Decimal:
        """Shipping charged to the customer, tax included."""
        return self.shipping_total + self.shipping_tax

    @property
    def phone(self) -> str:
        """The billing phone, or the shipping phone when billing has none."""
        return self.billing.phone or self.shipping.phone

    @property
    def delivery_address(self) -> Address:
        """The shipping address when it has a street, otherwise the billing address."""
        return self.shipping if self.shipping.address_1 else self.billing

    @property
    def customer_name(self) -> str:
        """The name on the delivery address, falling back to billing."""
        return self.delivery_address.full_name or self.billing.full_name

    @classmethod
    def from_wc(cls, data: Any) -> Order:
        """Parse a wc/v3 order; raise ``InvalidOrder`` with a merchant-readable reason."""
        if not isinstance(data, dict):
            raise InvalidOrder("the order is not a JSON object")
        order_id = data.get("id")
        if not isinstance(order_id, int) or isinstance(order_id, bool) or order_id <= 0:
            raise InvalidOrder(f"order id {order_id!r} is not a positive integer")
        currency = _text(data.get("currency")).upper()
        if not _CURRENCY_CODE.fullmatch(currency):
            raise InvalidOrder(f"currency {data.get('currency')!r} is not an ISO 4217 code")
        meta = {}
        for entry in data.get("meta_data") or []:
            # The daemon's own receipts are left out: no payload may depend on them, or writing one
            # would change the order's payload and send it to the platforms again.
            if isinstance(entry, dict) and isinstance(entry.get("key"), str) and not is_own_meta(entry["key"]):
                meta[entry["key"]] = entry.get("value")
        created = data.get("date_created_gmt")
        return cls(
            id=order_id,
            number=_text(str(data.get("number") or order_id)),
            status=_text(data.get("status")),
            currency=currency,
            date_created_gmt=parse_gmt(created, "date_created_gmt") if created else None,
            date_modified_gmt=parse_gmt(data.get("date_modified_gmt"), "date_modified_gmt"),
            total=parse_money(data.get("total"), "order total"),
            total_tax=parse_money(data.get("total_tax"), "total tax"),
            shipping_total=parse_money(data.get("shipping_total"), "shipping total"),
            shipping_tax=parse_money(data.get("shipping_tax"), "shipping tax"),
            discount_total=parse_money(data.get("discount_total"), "discount total"),
            prices_include_tax=bool(data.get("prices_include_tax")),
            billing=Address.from_wc(data.get("billing")),
            shipping=Address.from_wc(data.get("shipping")),
            payment_method=_text(data.get("payment_method")),
            payment_method_title=_text(data.get("payment_method_title")),
            customer_note=_text(data.get("customer_note")),
            line_items=tuple(_line_item(item, index) for index, item in enumerate(data.get("line_items") or [])),
            fee_lines=tuple(_fee_line(fee, index) for index, fee in enumerate(data.get("fee_lines") or [])),
            coupon_codes=tuple(_text(c.get("code")) for c in data.get("coupon_lines") or [] if isinstance(c, dict)),
            shipping_methods=tuple(
                _text(s.get("method_title")) for s in data.get("shipping_lines") or [] if isinstance(s, dict)
            ),
            refunded_total=sum(
                (
                    abs(parse_money(r.get("total"), "refund total"))
                    for r in data.get("refunds") or []
                    if isinstance(r, dict)
                ),
                Decimal("0"),
            ),
            meta=meta,
        )


def _line_item(data: Any, index: int) -> LineItem:
    if not isinstance(data, dict):
        raise InvalidOrder(f"line item {index + 1} is not an object")
    get = data.get
    name = _text(get("name")) or f"line item {index + 1}"
    quantity = get("quantity")
    if isinstance(quantity, float) and quantity.is_integer():
        quantity = int(quantity)
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise InvalidOrder(f"line item {name!r} has quantity {quantity!r}, not a whole number")
    image = get("image")
    return LineItem(
        id=item_id if isinstance(item_id := get("id"), int) else 0,
        name=name,
        product_id=product_id if isinstance(product_id := get("product_id"), int) else 0,
        variation_id=variation_id if isinstance(variation_id := get("variation_id"), int) else 0,
        quantity=quantity,
        subtotal=parse_money(get("subtotal"), lambda: f"line item {name!r} subtotal"),
        total=parse_money(get("total"), lambda: f"line item {name!r} total"),
        total_tax=parse_money(get("total_tax"), lambda: f"line item {name!r} tax"),
        sku=_text(get("sku")),
        image_url=_text(image.get("src")) if isinstance(image, dict) else "",
    )


def _fee_line(data: Any, index: int) -> FeeLine:
    if not isinstance(data, dict):
        raise InvalidOrder(f"fee line {index + 1} is not an object")
    name = _text(data.get("name")) or f"fee {index + 1}"
    return FeeLine(
        name=name,
        total=parse_money(data.get("total"), lambda: f"fee {name!r}"),
        total_tax=parse_money(data.get("total_tax"), lambda: f"fee {name!r} tax"),
    )
