"""Realistic WooCommerce wc/v3 order JSON for a Bangladeshi shop (BDT, cash on delivery).

Money fields are strings with two decimals, as WooCommerce sends them; ``line_items[].price`` is
a JSON number (the post-discount unit price). Dates are "YYYY-MM-DDTHH:MM:SS" without a zone;
the ``*_gmt`` twin is UTC and the plain one is store-local time (UTC + the store offset).

Build orders with :func:`make_order` and the line helpers (:func:`line_item`, :func:`fee_line`,
:func:`shipping_line`, :func:`coupon_line`, :func:`tax_line`); :func:`recalculate_totals` keeps
``total`` = sum(line total + line tax) + shipping + shipping tax + fees + fee taxes.
Content is deterministic for a given id/seed; dates are relative to ``now`` (default: the
current time) so fresh orders fall inside a poller's look-back window.
"""

from __future__ import annotations

import copy
import functools
import gc
import random
import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

STORE_UTC_OFFSET = timedelta(hours=6)
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
SHOP_URL = "https://shop.example.com"
WC_VERSION = "8.9.3"
USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 13; SM-A145F) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Mobile Safari/537.36"
)
DATE_PAIRS = ("date_created", "date_modified", "date_paid", "date_completed")
_MONEY_FIELDS = (
    "discount_total",
    "discount_tax",
    "shipping_total",
    "shipping_tax",
    "cart_tax",
    "total",
    "total_tax",
)
_CENT = Decimal("0.01")


@functools.lru_cache(maxsize=4096)
def _money_cached(value: Any) -> str:
    return str(Decimal(str(value)).quantize(_CENT, rounding=ROUND_HALF_UP))


def money(value: Any) -> str:
    """Format an amount as WooCommerce does: a string with two decimals."""
    # Cached: generated orders repeat the same amounts, and sharing the strings saves memory.
    return _money_cached(value)


def _dec(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def format_date(moment: datetime) -> str:
    """A datetime as WooCommerce's "YYYY-MM-DDTHH:MM:SS" (seconds precision, no zone)."""
    return moment.strftime(DATE_FORMAT)


def wc_date_pair(moment_utc: datetime | None, offset: timedelta = STORE_UTC_OFFSET) -> tuple[Any, Any]:
    """(local, gmt) strings for a UTC moment, or (None, None)."""
    if moment_utc is None:
        return None, None
    if moment_utc.tzinfo is not None:
        moment_utc = moment_utc.astimezone(UTC).replace(tzinfo=None)
    moment_utc = moment_utc.replace(microsecond=0)
    return format_date(moment_utc + offset), format_date(moment_utc)


def sync_date_pairs(
    order: dict[str, Any], offset: timedelta = STORE_UTC_OFFSET, prefer_gmt: bool = True
) -> None:
    """Fill a missing half of each date/date_gmt pair from the other (truncating to seconds)."""
    for name in DATE_PAIRS:
        local, gmt = order.get(name), order.get(f"{name}_gmt")
        if gmt and (prefer_gmt or not local):
            order[name], order[f"{name}_gmt"] = wc_date_pair(parse_wc_date(gmt), offset)
        elif local:
            order[name], order[f"{name}_gmt"] = wc_date_pair(parse_wc_date(local) - offset, offset)
        else:
            order[name], order[f"{name}_gmt"] = None, None


def parse_wc_date(value: str) -> datetime:
    """Parse a WooCommerce date string (zone ignored if present) to a naive datetime."""
    value = re.sub(r"(Z|z|[+-]\d{2}:?\d{2})$", "", value.strip()).replace(" ", "T")
    return datetime.fromisoformat(value).replace(microsecond=0)


def line_item(
    item_id: int,
    name: str,
    price: Any,
    quantity: int = 1,
    *,
    product_id: int = 0,
    variation_id: int = 0,
    sku: str = "",
    tax: Any = 0,
    discount: Any = 0,
    image_src: str | None = None,
    parent_name: str | None = None,
    meta_data: list[dict[str, Any]] | None = None,
    tax_rate_id: int = 1,
) -> dict[str, Any]:
    """A wc/v3 line item; ``price`` is the unit price before discount, ``tax`` the line's tax."""
    subtotal = _dec(price) * quantity
    total = subtotal - _dec(discount)
    tax_d = _dec(tax)
    taxes = [{"id": tax_rate_id, "total": str(tax_d), "subtotal": str(tax_d)}] if tax_d else []
    src = image_src if image_src is not None else f"{SHOP_URL}/wp-content/uploads/2024/05/{_slug(name)}.jpg"
    return {
        "id": item_id,
        "name": name,
        "product_id": product_id or _stable_id(name),
        "variation_id": variation_id,
        "quantity": quantity,
        "tax_class": "",
        "subtotal": money(subtotal),
        "subtotal_tax": money(tax_d),
        "total": money(total),
        "total_tax": money(tax_d),
        "taxes": taxes,
        "meta_data": list(meta_data or []),
        "sku": sku or f"SKU-{_stable_id(name)}",
        # WooCommerce computes price as total / quantity, a float in the JSON.
        "price": _number(total / quantity) if quantity else 0,
        "image": {"id": _stable_id(src) if src else "", "src": src},
        "parent_name": parent_name,
    }


def fee_line(fee_id: int, name: str, amount: Any, *, tax: Any = 0) -> dict[str, Any]:
    """A wc/v3 fee line (e.g. "Cash on delivery fee")."""
    return {
        "id": fee_id,
        "name": name,
        "tax_class": "",
        "tax_status": "taxable" if _dec(tax) else "none",
        "amount": money(amount),
        "total": money(amount),
        "total_tax": money(tax),
        "taxes": [],
        "meta_data": [],
    }


def shipping_line(
    line_id: int,
    total: Any = 60,
    *,
    method_title: str = "Inside Dhaka",
    method_id: str = "flat_rate",
    instance_id: str = "1",
    tax: Any = 0,
) -> dict[str, Any]:
    """A wc/v3 shipping line."""
    return {
        "id": line_id,
        "method_title": method_title,
        "method_id": method_id,
        "instance_id": instance_id,
        "total": money(total),
        "total_tax": money(tax),
        "taxes": [],
        "meta_data": [],
    }


def coupon_line(line_id: int, code: str, discount: Any, discount_tax: Any = 0) -> dict[str, Any]:
    """A wc/v3 coupon line; the discount itself lives in the line items' totals."""
    return {
        "id": line_id,
        "code": code,
        "discount": money(discount),
        "discount_tax": money(discount_tax),
        "meta_data": [],
    }


def tax_line(
    line_id: int,
    tax_total: Any,
    *,
    rate_id: int = 1,
    label: str = "VAT",
    rate_percent: float = 5,
    shipping_tax_total: Any = 0,
) -> dict[str, Any]:
    """A wc/v3 tax summary line."""
    return {
        "id": line_id,
        "rate_code": f"BD-{label.upper()}-1",
        "rate_id": rate_id,
        "label": label,
        "compound": False,
        "tax_total": money(tax_total),
        "shipping_tax_total": money(shipping_tax_total),
        "rate_percent": rate_percent,
        "meta_data": [],
    }


def recalculate_totals(order: dict[str, Any]) -> dict[str, Any]:
    """Recompute the order's money fields from its lines (in place); returns the order."""
    items, fees = order.get("line_items") or [], order.get("fee_lines") or []
    ships = order.get("shipping_lines") or []
    item_total = sum((_dec(i["total"]) for i in items), Decimal(0))
    item_tax = sum((_dec(i["total_tax"]) for i in items), Decimal(0))
    fee_total = sum((_dec(f["total"]) for f in fees), Decimal(0))
    fee_tax = sum((_dec(f["total_tax"]) for f in fees), Decimal(0))
    ship_total = sum((_dec(s["total"]) for s in ships), Decimal(0))
    ship_tax = sum((_dec(s["total_tax"]) for s in ships), Decimal(0))
    order["discount_total"] = money(sum((_dec(i["subtotal"]) - _dec(i["total"]) for i in items), Decimal(0)))
    order["discount_tax"] = money(
        sum((_dec(i["subtotal_tax"]) - _dec(i["total_tax"]) for i in items), Decimal(0))
    )
    order["shipping_total"], order["shipping_tax"] = money(ship_total), money(ship_tax)
    order["cart_tax"] = money(item_tax + fee_tax)
    order["total_tax"] = money(item_tax + fee_tax + ship_tax)
    order["total"] = money(item_total + item_tax + fee_total + fee_tax + ship_total + ship_tax)
    return order


@functools.lru_cache(maxsize=4096)
def _stable_id(text: str) -> int:
    # A deterministic small id (hash() is salted per process).
    return 100 + sum((i + 1) * ord(c) for i, c in enumerate(text)) % 9000


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "item"


def _address(
    first: str, last: str, address_1: str, city: str, state: str, postcode: str, phone: str, email: str | None
) -> dict[str, str]:
    out = {
        "first_name": first,
        "last_name": last,
        "company": "",
        "address_1": address_1,
        "address_2": "",
        "city": city,
        "state": state,
        "postcode": postcode,
        "country": "BD",
    }
    if email is not None:
        out["email"] = email
    out["phone"] = phone
    return out


def make_order(
    order_id: int,
    *,
    created: datetime | None = None,
    modified: datetime | None = None,
    offset: timedelta = STORE_UTC_OFFSET,
    **overrides: Any,
) -> dict[str, Any]:
    """A full, consistent wc/v3 order; ``overrides`` replace top-level fields.

    ``billing``/``shipping`` overrides are merged into the defaults; when no money field is
    overridden the totals are recomputed from the (possibly overridden) lines. ``created`` and
    ``modified`` are UTC datetimes (default: now) setting both halves of the date pairs.
    """
    return _build_order(order_id, created, modified, offset, copy.deepcopy(overrides))


def _default_billing(email: bool) -> dict[str, str]:
    return _address(
        "Rahim", "Khan", "House 5, Road 2, Dhanmondi", "Dhaka", "BD-13", "1209", "01710000000",
        "rahim.khan@example.com" if email else None,
    )  # fmt: skip


def _build_order(
    order_id: int, created: datetime | None, modified: datetime | None, offset: timedelta, overrides: dict
) -> dict[str, Any]:
    created = created or datetime.now(UTC)
    local_c, gmt_c = wc_date_pair(created, offset)
    local_m, gmt_m = wc_date_pair(modified or created, offset)
    rng = random.Random(order_id)
    key = "wc_order_" + "".join(
        rng.choices("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=13)
    )
    ip = f"103.{rng.randint(1, 254)}.{rng.randint(1, 254)}.{rng.randint(1, 254)}"
    order: dict[str, Any] = {
        "id": order_id, "parent_id": 0, "status": "processing", "currency": "BDT", "version": WC_VERSION,
        "prices_include_tax": False, "date_created": local_c, "date_modified": local_m,
        "discount_total": "0.00", "discount_tax": "0.00", "shipping_total": "0.00", "shipping_tax": "0.00",
        "cart_tax": "0.00", "total": "0.00", "total_tax": "0.00", "customer_id": 0, "order_key": key,
        "billing": None, "shipping": None,
        "payment_method": "cod", "payment_method_title": "Cash on delivery", "transaction_id": "",
        "customer_ip_address": ip, "customer_user_agent": USER_AGENT, "created_via": "checkout",
        "customer_note": "", "date_completed": None, "date_paid": None,
        "cart_hash": "".join(rng.choices("0123456789abcdef", k=32)), "number": str(order_id),
        "meta_data": [{"id": order_id * 100 + 1, "key": "is_vat_exempt", "value": "no"}],
        "line_items": None, "tax_lines": [], "shipping_lines": None, "fee_lines": [], "coupon_lines": [],
        "refunds": [],
        "payment_url": f"{SHOP_URL}/checkout/order-pay/{order_id}/?pay_for_order=true&key={key}",
        "is_editable": False, "needs_payment": False, "needs_processing": True,
        "date_created_gmt": gmt_c, "date_modified_gmt": gmt_m, "date_completed_gmt": None,
        "date_paid_gmt": None, "currency_symbol": "৳",
    }  # fmt: skip
    # Defaults are built only when not overridden: generating 40 000 orders must stay fast.
    for name, email in (("billing", True), ("shipping", False)):
        given = overrides.pop(name, None)
        if isinstance(given, dict) and {*given} >= {*_default_billing(email)}:
            order[name] = given
        else:
            order[name] = (
                {**_default_billing(email), **given} if isinstance(given, dict) else _default_billing(email)
            )
    if "line_items" not in overrides:
        order["line_items"] = [line_item(order_id * 100 + 10, "Red T-Shirt", 499, 2, sku="TS-RED-M")]
    if "shipping_lines" not in overrides:
        order["shipping_lines"] = [shipping_line(order_id * 100 + 20, 60)]
    order.update(overrides)
    if not any(name in overrides for name in _MONEY_FIELDS):
        recalculate_totals(order)
    touched = {n for n in overrides if n.startswith("date_")}
    if touched:
        sync_date_pairs(order, offset, prefer_gmt=not any(n in touched for n in DATE_PAIRS))
    return order


# -- generated orders ------------------------------------------------------------------------

FIRST_NAMES = [
    "Rahim", "Karim", "Fatema", "Ayesha", "Nusrat", "Tanvir", "Sabbir", "Mehedi", "Farhana", "Sadia",
    "Arif", "Shakil", "Jannatul", "Rafiq", "Sumaiya", "Imran", "Tasnim", "Mahmud", "Nafisa", "Habib",
]  # fmt: skip
LAST_NAMES = [
    "Khan", "Hossain", "Rahman", "Ahmed", "Islam", "Chowdhury", "Akter", "Uddin", "Sarkar", "Begum",
    "Sikder", "Talukder", "Mia", "Bhuiyan", "Das",
]  # fmt: skip
AREAS = (  # (area, city, state, postcode, inside Dhaka)
    ("Dhanmondi", "Dhaka", "BD-13", "1209", True),
    ("Mirpur 10", "Dhaka", "BD-13", "1216", True),
    ("Uttara Sector 7", "Dhaka", "BD-13", "1230", True),
    ("Gulshan 1", "Dhaka", "BD-13", "1212", True),
    ("Mohammadpur", "Dhaka", "BD-13", "1207", True),
    ("Banani", "Dhaka", "BD-13", "1213", True),
    ("Bashundhara R/A", "Dhaka", "BD-13", "1229", True),
    ("Agrabad", "Chattogram", "BD-10", "4100", False),
    ("Panchlaish", "Chattogram", "BD-10", "4203", False),
    ("Halishahar", "Chattogram", "BD-10", "4216", False),
    ("Khulshi", "Chattogram", "BD-10", "4225", False),
)
CATALOG = (  # (name, unit price BDT, sku)
    ("Red T-Shirt", 499, "TS-RED"),
    ("Cotton Panjabi", 1450, "PJ-COT"),
    ("Jamdani Saree", 2800, "SR-JAM"),
    ("Three-Piece Lawn Set", 1950, "TP-LAWN"),
    ("Checked Lungi", 650, "LG-CHK"),
    ("Georgette Hijab", 350, "HJ-GEO"),
    ("Printed Kurti", 890, "KR-PRT"),
    ("Leather Sandal", 1750, "SD-LTH"),
    ("Denim Jeans", 1290, "JN-DNM"),
    ("Baby Romper", 420, "BB-ROM"),
    ("Polo Shirt", 750, "PL-NVY"),
    ("Silk Scarf", 560, "SC-SLK"),
)
OPERATORS = ("013", "014", "015", "016", "017", "018", "019")


def random_phone(rng: random.Random) -> str:
    """A Bangladeshi mobile number in one of the formats shoppers really type."""
    op, rest = rng.choice(OPERATORS), "".join(rng.choices("0123456789", k=8))
    style = rng.randrange(5)
    if style == 0:
        return op + rest
    if style == 1:
        return f"+88{op}{rest}"
    if style == 2:
        return f"88{op}{rest}"
    if style == 3:
        return f"{op}{rest[:2]}-{rest[2:]}"
    return f"{op} {rest[:4]} {rest[4:]}"


def generate_orders(
    n: int,
    seed: int = 0,
    start_id: int = 1,
    *,
    now: datetime | None = None,
    span: timedelta = timedelta(days=14),
    statuses: tuple[str, ...] = ("processing",),
    offset: timedelta = STORE_UTC_OFFSET,
) -> list[dict[str, Any]]:
    """``n`` varied, valid orders (ids from start_id), created over ``span`` before ``now``."""
    rng = random.Random(seed)
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    step = span / max(n, 1)
    orders = []
    # Millions of fresh containers trigger the cyclic GC over and over; none of them are cycles.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(n):
            created = now - span + step * (i + 1) - timedelta(seconds=rng.randint(0, 59))
            modified = min(now, created + timedelta(seconds=rng.choice((0, 0, 5, 90, 3600))))
            orders.append(_random_order(rng, start_id + i, created, modified, rng.choice(statuses), offset))
    finally:
        if gc_was_enabled:
            gc.enable()
    return orders


def _random_order(
    rng: random.Random, order_id: int, created: datetime, modified: datetime, status: str, offset: timedelta
) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    area, city, state, postcode, inside = rng.choice(AREAS)
    street = f"House {rng.randint(1, 120)}, Road {rng.randint(1, 30)}, {area}"
    phone = random_phone(rng)
    email = f"{first.lower()}.{last.lower()}{rng.randint(1, 999)}@gmail.com" if rng.random() < 0.7 else ""
    base = order_id * 100
    items = []
    for k, (name, price, sku) in enumerate(rng.sample(CATALOG, rng.randint(1, 4))):
        items.append(line_item(base + 10 + k, name, price, rng.choice((1, 1, 1, 2, 3)), sku=f"{sku}-{k}"))
    ship = shipping_line(
        base + 20, 60 if inside else 120, method_title="Inside Dhaka" if inside else "Outside Dhaka"
    )
    fees = [fee_line(base + 30, "Cash on delivery fee", rng.choice((10, 20)))] if rng.random() < 0.25 else []
    shipping_phone = phone if rng.random() < 0.6 else ""
    note = rng.choice(("", "", "", "Please call before delivery", "অফিস টাইমে ডেলিভারি দিবেন"))
    fields = {
        "status": status, "customer_note": note, "line_items": items, "shipping_lines": [ship],
        "fee_lines": fees,
        "billing": _address(first, last, street, city, state, postcode, phone, email),
        "shipping": _address(first, last, street, city, state, postcode, shipping_phone, None),
    }  # fmt: skip
    return _build_order(order_id, created, modified, offset, fields)


def demo_orders(
    start_id: int = 1001, *, now: datetime | None = None, offset: timedelta = STORE_UTC_OFFSET
) -> list[dict[str, Any]]:
    """Exactly twelve hand-written orders, including one without a phone and one with a free gift."""
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    ids = list(range(start_id, start_id + 12))
    specs = _demo_specs(ids)
    out = []
    for k, (oid, spec) in enumerate(zip(ids, specs, strict=True)):
        created = now - timedelta(minutes=5 * (12 - k))
        out.append(
            make_order(oid, created=created, modified=created + timedelta(seconds=30), offset=offset, **spec)
        )
    return out


def _person(
    first: str,
    last: str,
    phone: str,
    email: str = "",
    area: tuple[Any, ...] = AREAS[0],
    street: str = "House 12, Road 7",
) -> dict[str, Any]:
    name, city, state, postcode, _ = area
    return {
        "billing": _address(first, last, f"{street}, {name}", city, state, postcode, phone, email),
        "shipping": _address(first, last, f"{street}, {name}", city, state, postcode, phone, None),
    }


def _demo_specs(ids: list[int]) -> list[dict[str, Any]]:
    b = [oid * 100 for oid in ids]
    ctg = AREAS[7]
    vat = [
        line_item(b[6] + 10, "Cotton Panjabi", 1450, 1, tax="72.50"),
        line_item(b[6] + 11, "Silk Scarf", 560, 1, tax="28.00"),
    ]
    gift_to = _person("Nusrat", "Jahan", "01911223344", "nusrat@example.com", AREAS[2])
    gift_to["shipping"] = _address(
        "Ayesha",
        "Siddiqua",
        "Flat 4C, House 9, Road 11, Banani",
        "Dhaka",
        "BD-13",
        "1213",
        "01855667788",
        None,
    )
    no_phone = _person("Karim", "Uddin", "", "karim.uddin@example.com", AREAS[4])
    return [
        {**_person("Rahim", "Khan", "01710000000", "rahim.khan@example.com")},
        {
            **_person("Fatema", "Akter", "+8801812345678", "fatema@example.com", AREAS[1]),
            "line_items": [
                line_item(b[1] + 10, "Printed Kurti", 890, 1),
                line_item(b[1] + 11, "Georgette Hijab", 350, 2),
                line_item(b[1] + 12, "Baby Romper", 420, 1),
            ],
        },
        {
            **_person("Tanvir", "Hossain", "8801912345678", area=AREAS[5]),
            "line_items": [line_item(b[2] + 10, "Denim Jeans", 1290, 1)],
            "fee_lines": [fee_line(b[2] + 30, "Cash on delivery fee", 20)],
        },
        {
            **_person("রহিম", "খান", "01512-345678", area=AREAS[3], street="বাড়ি ১২, রোড ৫"),
            "line_items": [line_item(b[3] + 10, "Jamdani Saree", 2800, 1)],
        },
        {
            **_person("Zoë", "Ångström", "016 1234 5678", "zoe@example.se", ctg),
            "line_items": [line_item(b[4] + 10, "Leather Sandal", 1750, 1)],
            "shipping_lines": [shipping_line(b[4] + 20, 120, method_title="Outside Dhaka")],
        },
        {
            **_person("Sadia", "Islam", "01678901234", "sadia@example.com", AREAS[6]),
            "line_items": [
                line_item(b[5] + 10, "Three-Piece Lawn Set", 1950, 1, discount=195),
                line_item(b[5] + 11, "Polo Shirt", 750, 1, discount=75),
            ],
            "coupon_lines": [coupon_line(b[5] + 40, "eid10", 270)],
        },
        {
            **_person("Arif", "Chowdhury", "01311122233", "arif@example.com"),
            "line_items": vat,
            "tax_lines": [tax_line(b[6] + 50, "100.50")],
        },
        {
            **_person("Mehedi", "Hasan", "01755443322", area=AREAS[1]),
            "line_items": [
                line_item(
                    b[7] + 10,
                    "Cotton Panjabi - L",
                    1450,
                    3,
                    variation_id=4471,
                    parent_name="Cotton Panjabi",
                    meta_data=[
                        {
                            "id": b[7] + 60,
                            "key": "pa_size",
                            "value": "L",
                            "display_key": "Size",
                            "display_value": "L",
                        }
                    ],
                )
            ],
        },
        {
            **gift_to,
            "line_items": [line_item(b[8] + 10, "Silk Scarf", 560, 2)],
            "customer_note": "Gift - please do not include the invoice",
        },
        {
            **_person("Imran", "Sarkar", "+88 01987-654321", "imran@example.com", ctg),
            "line_items": [
                line_item(b[9] + 10, "Cotton Panjabi", 1450, 2),
                line_item(b[9] + 11, "Checked Lungi", 650, 2),
                line_item(b[9] + 12, "Polo Shirt", 750, 1),
                line_item(b[9] + 13, "Red T-Shirt", 499, 3),
            ],
            "shipping_lines": [shipping_line(b[9] + 20, 120, method_title="Outside Dhaka")],
            "fee_lines": [fee_line(b[9] + 30, "Cash on delivery fee", 20)],
            "customer_note": "Please call before delivery",
        },
        {**no_phone, "line_items": [line_item(b[10] + 10, "Georgette Hijab", 350, 1)]},
        {
            **_person("Sumaiya", "Begum", "01822334455", "sumaiya@example.com", AREAS[2]),
            "line_items": [
                line_item(b[11] + 10, "Printed Kurti", 890, 2),
                line_item(b[11] + 11, "Free gift: Tote bag", 0, 1, sku="GIFT-TOTE"),
            ],
        },
    ]
